"""ProgressStore: documents of the wrong shape, read-only reads, foreign files."""

import json
import os

import pytest

from onespace.status import ProgressStore, ProgressUnreadable

ID = "a" * 64


def stored(tmp_path, text):
    store = ProgressStore(str(tmp_path))
    store.save(store.load(ID, "AUTH_a", "c", "db"))
    path = store.path(ID, "AUTH_a", "c", "db")
    good = json.load(open(path))
    if callable(text):
        text = text(good)
    with open(path, "w") as f:
        f.write(text)
    return store, path


BAD = {
    "list": "[1, 2]",
    "empty": "{}",
    "no-last_row": lambda d: json.dumps({k: v for k, v in d.items() if k != "last_row"}),
    "null-failed": lambda d: json.dumps(dict(d, failed=None)),
    "string-row": lambda d: json.dumps(dict(d, last_row="6")),
    "null-updated": lambda d: json.dumps(dict(d, updated=None)),
    "truncated": '{"mapping": "aaa',
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_daemon_treats_a_bad_shape_as_corrupt(tmp_path, case):
    store, path = stored(tmp_path, BAD[case])
    doc = store.load(ID, "AUTH_a", "c", "db")
    assert doc["last_row"] == 0 and doc["failed"] == {}
    assert os.path.exists(path + ".corrupt") and not os.path.exists(path)
    store.save(doc)  # and heals
    assert store.load(ID, "AUTH_a", "c", "db")["mapping"] == ID


@pytest.mark.parametrize("case", sorted(BAD))
def test_read_reports_and_changes_nothing(tmp_path, case):
    store, path = stored(tmp_path, BAD[case])
    before = open(path).read()
    with pytest.raises(ProgressUnreadable):
        store.read(ID, "AUTH_a", "c", "db")
    assert open(path).read() == before and not os.path.exists(path + ".corrupt")


def test_read_of_unreachable_path_is_one_error(tmp_path):
    store = ProgressStore(str(tmp_path))
    os.makedirs(str(tmp_path / ID[:16]))
    # a file where the container's directory should be: NotADirectoryError
    open(os.path.dirname(store.path(ID, "AUTH_a", "c", "db")), "w").close()
    with pytest.raises(ProgressUnreadable, match="Not a directory"):
        store.read(ID, "AUTH_a", "c", "db")
    with pytest.raises(ProgressUnreadable, match="Not a directory"):
        store.load(ID, "AUTH_a", "c", "db")


def test_load_never_moves_a_directory_aside(tmp_path):
    store = ProgressStore(str(tmp_path))
    path = store.path(ID, "AUTH_a", "c", "db")
    os.makedirs(path)
    with pytest.raises(ProgressUnreadable, match=path):
        store.load(ID, "AUTH_a", "c", "db")
    assert os.path.isdir(path) and not os.path.exists(path + ".corrupt")


def test_all_reads_only_progress_files(tmp_path):
    store = ProgressStore(str(tmp_path))
    store.save(store.load(ID, "AUTH_a", "c", "db"))
    container_dir = store.container_dir(ID, "AUTH_a", "c")
    for path, doc in ((tmp_path / "migrator-status.json", {"migrations": {}}),
                      (tmp_path / ("b" * 16) / "x.json", {"a": 1}),
                      (os.path.join(container_dir, "notes.json"), [1]),
                      (os.path.join(container_dir, "c" * 32 + ".json"), {"mapping": ID})):
        os.makedirs(os.path.dirname(str(path)), exist_ok=True)
        with open(str(path), "w") as f:
            json.dump(doc, f)
    assert [(d["mapping"], d["container"]) for d in store.all()] == [(ID, "c")]
