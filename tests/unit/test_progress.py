"""Progress store and crawler bookkeeping (pure parts)."""

import json
import os

from onespace.crawler import Backoff, Crawler
from onespace.status import ProgressStore, write_json_atomic
from onespace.sync.decide import Action, Row
from onespace.sync.worker import DONE, FAILED, RETRY, Outcome

ID = "a" * 64


def rows(*ids):
    return [Row(i, "o%d" % i, "e", 1, False, 1.0, 1.0) for i in ids]


def test_atomic_write_leaves_no_temp_files(tmp_path):
    p = tmp_path / "d" / "x.json"
    write_json_atomic(str(p), {"a": 1})
    write_json_atomic(str(p), {"a": 2})
    assert json.loads(p.read_text()) == {"a": 2}
    assert os.listdir(p.parent) == ["x.json"]


def test_progress_resets_on_new_mapping_or_db(tmp_path):
    store = ProgressStore(str(tmp_path))
    doc = store.load(ID, "AUTH_a", "c \U0001F600" * 60, "db1")
    doc["last_row"] = 42
    store.save(doc)
    assert store.load(ID, "AUTH_a", "c \U0001F600" * 60, "db1")["last_row"] == 42
    assert store.load(ID, "AUTH_a", "c \U0001F600" * 60, "db2")["last_row"] == 0
    assert store.load("b" * 64, "AUTH_a", "c \U0001F600" * 60, "db1")["last_row"] == 0


def test_corrupt_progress_is_moved_aside(tmp_path):
    store = ProgressStore(str(tmp_path))
    path = store.path(ID, "AUTH_a", "c", "db")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write("{not json")
    assert store.load(ID, "AUTH_a", "c", "db")["last_row"] == 0
    assert os.path.exists(path + ".corrupt")


def _saved(store, *identities):
    for ident in identities:
        store.save(store.load(ident, "AUTH_a", "c", "db"))


def _mappings(store):
    return sorted(d["mapping"] for d in store.all())


def test_a_config_forgets_only_mappings_it_dropped(tmp_path):
    store = ProgressStore(str(tmp_path))
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    (tmp_path / "not-ours").mkdir()
    store.forget_dropped_mappings(str(tmp_path / "main.json"), [a, b])
    _saved(store, a, b)
    # a one-off run with a subset of the mappings (or a second daemon) forgets nothing
    store.forget_dropped_mappings(str(tmp_path / "subset.json"), [a])
    assert _mappings(store) == [a, b]
    # the main config drops b and adds c: b's progress goes
    store.forget_dropped_mappings(str(tmp_path / "main.json"), [a, c])
    assert _mappings(store) == [a]
    assert (tmp_path / "not-ours").is_dir()
    # a mapping another config still lists is kept when this one drops it
    store.forget_dropped_mappings(str(tmp_path / "main.json"), [c])
    assert _mappings(store) == [a]  # the subset config still lists a


def test_first_run_of_a_config_forgets_nothing(tmp_path):
    store = ProgressStore(str(tmp_path))
    _saved(store, ID, "b" * 64)
    store.forget_dropped_mappings(str(tmp_path / "new.json"), [ID])
    assert _mappings(store) == sorted([ID, "b" * 64])


def test_containers_and_pruning_a_whole_container(tmp_path):
    store = ProgressStore(str(tmp_path))
    for container in ("c1", "c2 \U0001F600"):
        store.save(store.load(ID, "AUTH_a", container, "db"))
    store.save(store.load("b" * 64, "AUTH_a", "other", "db"))
    assert store.containers(ID) == {"c1", "c2 \U0001F600"}
    store.prune(ID, "AUTH_a", "c1", [])
    assert store.containers(ID) == {"c2 \U0001F600"}
    assert not os.path.exists(store.container_dir(ID, "AUTH_a", "c1"))


def test_prune_forgets_retired_databases(tmp_path):
    store = ProgressStore(str(tmp_path))
    for db in ("retiring", "fresh", "shard-1"):
        store.save(store.load(ID, "AUTH_a", "c", db))
    store.prune(ID, "AUTH_a", "c", ["fresh", "shard-1"])
    assert sorted(d["db_id"] for d in store.all()) == ["fresh", "shard-1"]


def test_advance_stops_before_first_retry():
    progress = {"last_row": 0, "failed": {}}
    outcomes = {1: Outcome(DONE), 3: Outcome(RETRY), 4: Outcome(DONE)}
    assert Crawler._advance(rows(1, 2, 3, 4), outcomes, progress) == (2, False)


def test_advance_records_and_clears_failures():
    progress = {"last_row": 0, "failed": {"o2": {"row": 2, "reason": "old"}}}
    outcomes = {1: Outcome(FAILED, Action.FAIL, "too long"), 2: Outcome(DONE)}
    assert Crawler._advance(rows(1, 2, 3), outcomes, progress) == (3, True)
    assert progress["failed"] == {"o1": {"row": 1, "reason": "too long"}}


def test_advance_first_row_retry_keeps_position():
    progress = {"last_row": 10, "failed": {}}
    assert Crawler._advance(rows(11, 12), {11: Outcome(RETRY)}, progress) == (10, False)


def test_backoff_doubles_and_caps():
    now = [0.0]
    b = Backoff(max_delay=4, clock=lambda: now[0])
    assert [b.failed("m") for _ in range(4)] == [1.0, 2.0, 4, 4]
    assert b.waiting("m")
    now[0] = 10
    assert not b.waiting("m")
    assert b.succeeded("m") and not b.succeeded("m")


def test_body_reader_reads_across_chunks():
    from onespace.sync.worker import BodyReader
    seen = []
    r = BodyReader(iter([b"abc", b"", b"defgh", b"i"]), on_bytes=seen.append)
    assert r.read(2) == b"ab"
    assert r.read(5) == b"c"  # short reads are fine for file-likes
    assert r.read(3) == b"def"
    assert r.read() == b"ghi"
    assert r.read(1) == b""
    assert r.total == 9 and sum(seen) == 9


def test_rows_not_attempted_because_stopping_are_not_passed():
    """SIGTERM mid-chunk: rows never attempted must be handled after the restart."""
    import eventlet
    from types import SimpleNamespace

    class Syncer:
        def handle(self, row, hint, confirm=True):
            crawler.stopping = True  # the first row triggers the stop
            return Outcome(DONE, Action.UPLOAD)

    crawler = Crawler.__new__(Crawler)
    crawler.stopping, crawler.stats_sink, crawler._progress_ticks = False, None, 0
    crawler.pool = eventlet.GreenPool(1)
    stats = SimpleNamespace(add=lambda o: None)
    work = [(r, None) for r in rows(1, 2, 3)]
    outcomes = crawler._run(Syncer(), work, stats)
    assert outcomes[1].status == DONE and outcomes[2].status == RETRY
    assert Crawler._advance(rows(1, 2, 3), outcomes, {"last_row": 0, "failed": {}}) == (1, False)
