"""The migrator's status file and its onespace-status view."""

import json
import os

from onespace import report
from onespace.config import Migration
from onespace.migrator.progress import MigratorProgress, new_stats, read


def migration(index=0, bucket="b"):
    return Migration({"account": "AUTH_a", "aws_bucket": bucket, "aws_identity": "id",
                      "aws_secret": "s3cret", "protocol": "s3"}, index)


def test_round_trip_and_forgetting(tmp_path):
    path = str(tmp_path / "status")
    p = MigratorProgress(path)
    m, other = migration(), migration(1, "other")
    c = p.container(m, "b", "b")
    c["marker"] = "x \u00e9"
    p.container(other, "other", "other")
    p.save()
    again = MigratorProgress(path)
    assert again.container(m, "b", "b")["marker"] == "x \u00e9"
    again.forget_other_migrations([m.identity])
    assert list(again.doc["migrations"]) == [m.identity[:16]]
    assert "s3cret" not in open(path).read()


def test_corrupt_file_is_moved_aside(tmp_path):
    path = str(tmp_path / "status")
    with open(path, "w") as f:
        f.write('{"migrations": {"half')
    p = MigratorProgress(path)
    assert p.doc == {"migrations": {}}
    assert os.path.exists(path + ".corrupt") and not os.path.exists(path)
    with open(path, "w") as f:
        json.dump(["not", "a", "status"], f)
    assert MigratorProgress(path).doc == {"migrations": {}}
    assert read(str(tmp_path / "missing")) is None


class FakeConfig:
    def __init__(self, path, migrations):
        self.migrator_settings = {"status_file": path}
        self.migrations = migrations


def test_status_report(tmp_path):
    path = str(tmp_path / "status")
    m, idle = migration(), migration(1, "never")
    p = MigratorProgress(path)
    c = p.container(m, "b", "b")
    c["last_scan"] = dict(new_stats(), scanned=10, copied=4, bytes=3 * 1048576,
                          started=100.0, finished=160.0)
    p.save()
    rows = report.collect_migrations(FakeConfig(path, [m, idle]), now=220.0)
    assert [(r["container"], r["state"]) for r in rows] == [("b", "idle"),
                                                           ("never", "not scanned yet")]
    assert rows[0]["last_scan_age"] == 60.0
    text = report.render_migrations(rows)
    assert "AUTH_a/b" in text and "3.0" in text and "not scanned yet" in text
    assert "s3cret" not in text + json.dumps(rows)
