"""onespace-status's sync report: rows, waiting vs behind, escaping, errors."""

import json

from swift.common.utils import ShardRange, Timestamp
from swift.container.backend import ContainerBroker

from onespace import report
from onespace.cluster import LocalDB
from onespace.config import Mapping
from onespace.status import ProgressStore

NOW = 1_700_000_000.0


def broker(tmp_path, objects):
    """A real container database holding ``{name: written at}``."""
    b = ContainerBroker(str(tmp_path / "c.db"), account="AUTH_a", container="c")
    b.initialize(Timestamp(NOW - 10000).internal, 0)
    for name, when in objects.items():
        b.put_object(name, Timestamp(when).internal, 1, "text/plain", "etag")
    return b


def mapping(**extra):
    return Mapping(dict({"account": "AUTH_a", "container": "c", "protocol": "s3",
                         "aws_bucket": "b", "aws_identity": "id", "aws_secret": "s3cret",
                         "copy_after": 0}, **extra), 0)


def entry():
    return {"rows": 0, "rows_behind": 0, "rows_waiting": 0, "rows_unverified": 0,
            "failed": 0, "failed_names": [], "oldest_unsynced_age": 0, "updated_age": None}


def progress(**extra):
    return dict({"last_row": 0, "verified_row": 0, "failed": {}, "updated": 0}, **extra)


def test_rows_not_due_are_waiting_and_lag_counts_from_due(tmp_path):
    db = LocalDB(broker(tmp_path, {"old": NOW - 4000, "young": NOW - 4}), (), "id", "AUTH_a/c")
    e = entry()
    report._add_database(e, progress(), db, 3600, NOW)
    assert (e["rows_behind"], e["rows_waiting"]) == (1, 1)
    assert e["oldest_unsynced_age"] == 400.0  # due 400 s ago, written 4000 s ago


def test_posted_rows_count_from_the_post_and_archive_tombstones_not_at_all(tmp_path):
    from swift.common.utils import encode_timestamps
    from onespace.sync.decide import archive_timestamp
    b = broker(tmp_path, {"plain": NOW - 4000})
    # written long ago, POSTed 4 s ago: waiting again (copy_after counts from the change)
    b.put_object("posted", encode_timestamps(Timestamp(NOW - 5000), Timestamp(NOW - 5000),
                                             Timestamp(NOW - 4)), 1, "text/plain", "etag")
    b.delete_object("archived", archive_timestamp(NOW - 4000))  # onespace's own: no work
    b.delete_object("deleted", Timestamp(NOW - 4000).internal)  # a client's: to propagate
    e = entry()
    report._add_database(e, progress(), LocalDB(b, (), "id", "AUTH_a/c"), 3600, NOW)
    assert (e["rows_behind"], e["rows_waiting"]) == (2, 1)


def test_sharding_root_counts_only_rows_it_handles(tmp_path):
    b = broker(tmp_path, {"a%d" % i: NOW - 100 for i in range(6)})
    b.delete_object("a0", Timestamp(NOW - 50).internal)
    handed = ShardRange(".shards_AUTH_a/c-1", NOW, "", "a2", state=ShardRange.ACTIVE)
    e = entry()
    report._add_database(e, progress(), LocalDB(b, (), "id", "AUTH_a/c", handed_over=(handed,)),
                         0, NOW)
    assert e["rows"] == 3  # a3, a4, a5: a0 is deleted, a1 and a2 are the shard's


def test_render_escapes_control_characters():
    e = dict(entry(), mapping="containers[0] (AUTH_a/c -> b)", account="AUTH_a",
             container="c\x1b[2J", state="failed rows", failed=1,
             failed_names=["evil\nok  AUTH_a/forged", "ansi\x1b[31mRED \U0001F600"])
    text = report.render([e])
    assert len(text.splitlines()) == 4  # header, the row, two failed names
    assert "\x1b" not in text and "evil\\nok" in text and "\\x1b[31m" in text
    assert "\U0001F600" in text
    assert json.loads(report.main_json([e]))[0]["failed_names"][0].startswith("evil\n")


class FakeConfig:
    def __init__(self, tmp_path, mappings):
        self.settings = {"swift_dir": str(tmp_path / "no-swift"), "devices": str(tmp_path),
                         "status_dir": str(tmp_path / "status")}
        self.mappings = mappings


def test_no_mappings_builds_no_cluster(tmp_path, monkeypatch):
    def boom(*a, **kw):
        raise AssertionError("LocalCluster built")
    monkeypatch.setattr(report, "LocalCluster", boom)
    assert report.collect(FakeConfig(tmp_path, [])) == []
    assert not (tmp_path / "status").exists()


def test_cluster_setup_error_is_one_row_per_mapping(tmp_path):
    rows = report.collect(FakeConfig(tmp_path, [mapping()]))
    assert [r["state"] for r in rows] == ["error"] and "no-swift" in rows[0]["error"]
    assert "s3cret" not in report.render(rows) + report.main_json(rows)


class FakeCluster:
    def __init__(self, dbs):
        self.dbs = dbs

    def local_databases(self, account, container, ask_servers=True):
        assert not ask_servers  # onespace-status stays off the network
        if container == "broken":
            raise RuntimeError("disk on fire")
        return self.dbs


def test_one_broken_container_does_not_hide_the_others(tmp_path, monkeypatch):
    db = LocalDB(broker(tmp_path, {"x": NOW - 100}), (), "id", "AUTH_a/c")
    monkeypatch.setattr(report, "LocalCluster", lambda *a, **kw: FakeCluster([db]))
    config = FakeConfig(tmp_path, [mapping(container="broken"), mapping()])
    rows = report.collect(config, now=NOW)
    assert [r["state"] for r in rows] == ["error", "behind"]
    assert rows[0]["error"] == "RuntimeError: disk on fire"
    # an unreadable progress file is that container's row, and stays as it is
    store = ProgressStore(config.settings["status_dir"])
    path = store.path(config.mappings[1].identity, "AUTH_a", "c", "id")
    store.save(store.load(config.mappings[1].identity, "AUTH_a", "c", "id"))
    with open(path, "w") as f:
        f.write("[1, 2]")
    rows = report.collect(config, now=NOW)
    assert rows[1]["error"] == "progress file unreadable: not a progress document"
    assert "progress file unreadable" in report.render(rows)
    assert open(path).read() == "[1, 2]"


def test_migration_failure_lines_quote_the_name():
    """A name holding ': ' (or a quote) cannot pass for a name plus a reason."""
    rows = [{"migration": "migrations[0]", "account": "AUTH_a", "container": "c",
             "state": "failures", "last_scan": None,
             "current": {"scanned": 1, "copied": 0, "bytes": 0, "deleted": 0, "failed": 2},
             "failed_names": [{"name": 'a: fake reason', "reason": "real"},
                              {"name": 'q"\\n', "reason": "r"}]}]
    text = report.render_migrations(rows)
    assert 'failed: "a: fake reason": real' in text
    assert 'failed: "q\\"\\\\n": r' in text
