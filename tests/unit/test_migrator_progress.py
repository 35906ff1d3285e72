"""The migrator's status file and its onespace-status view."""

import json
import os

import pytest

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


def test_status_file_that_is_a_directory_is_never_moved(tmp_path):
    path = tmp_path / "status_dir"
    (path / "7349c7906ae7c754").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="status_file %s cannot be read" % path):
        MigratorProgress(str(path))
    assert (path / "7349c7906ae7c754").is_dir() and not (tmp_path / "status_dir.corrupt").exists()


ODD = {"list-migrations": {"migrations": []},
       "null-containers": {"migrations": {"m": {"containers": None}}},
       "no-finished": {"migrations": {"m": {"containers": {"b\nb": {
           "bucket": "b", "container": "b", "account": "AUTH_a", "marker": "",
           "scan_started": None, "previous_scan_start": None, "current": new_stats(),
           "last_scan": new_stats()}}}}}}


@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_shapes_are_corrupt(tmp_path, case):
    path = str(tmp_path / "status")
    with open(path, "w") as f:
        json.dump(ODD[case], f)
    m = migration()
    rows = report.collect_migrations(FakeConfig(path, [m]))
    assert rows[0]["state"] == "error", rows
    assert rows[0]["error"] == "status file unreadable: not a migrator status document"
    assert "status file unreadable" in report.render_migrations(rows)
    assert MigratorProgress(path).doc == {"migrations": {}}
    assert os.path.exists(path + ".corrupt")


def test_unreadable_status_file_is_not_not_scanned_yet(tmp_path):
    path = str(tmp_path / "status")
    os.mkdir(path)
    rows = report.collect_migrations(FakeConfig(path, [migration()]))
    assert rows[0]["error"] == "status file unreadable: Is a directory"
    assert os.path.isdir(path)
