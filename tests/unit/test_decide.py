"""The sync decision table: row + local + remote + mapping -> action."""

import pytest

from onespace.cluster import LocalObject
from onespace.providers.base import RemoteObject
from onespace.sync.decide import (Action, Row, archive_timestamp, decide_object, decide_row,
                                  listing_says_in_sync, ready)

ETAG = "5d41402abc4b2a76b9719d911017c592"
OTHER = "900150983cd24fb0d6963f7d28e17f72"


def mapping(**kw):
    m = {"propagate_delete": True, "exclude_pattern": None, "selection_criteria": None,
         "copy_after": 0, "retain_local": True}
    m.update(kw)
    return m


def row(name="obj", deleted=False, etag=ETAG, size=5, data=100.0, change=None):
    return Row(1, name, etag, size, deleted, data, change if change is not None else data)


def local(etag=ETAG, size=5, ctype="text/plain", meta=None, extra=None):
    h = {"ETag": etag, "Content-Length": str(size), "Content-Type": ctype}
    for k, v in (meta or {}).items():
        h["X-Object-Meta-" + k] = v
    h.update(extra or {})
    return LocalObject(h)


def remote(etag=ETAG, size=5, ctype="text/plain", meta=None, internal=None):
    return RemoteObject(name="k", etag=etag, size=size, last_modified=1.0,
                        content_type=ctype, metadata=meta or {}, internal=internal or {})


@pytest.mark.parametrize("r, m, expected", [
    (row(deleted=True), mapping(), Action.DELETE_REMOTE),
    (row(deleted=True), mapping(propagate_delete=False), Action.NOTHING),
    (row(name="tmp/x"), mapping(exclude_pattern="^tmp/"), Action.SKIP),
    (row(name="keep/x"), mapping(exclude_pattern="^tmp/"), None),
    (row(), mapping(), None),
])
def test_decide_row(r, m, expected):
    d = decide_row(r, m)
    assert (d.action if d else None) == expected


@pytest.mark.parametrize("loc, rem, has_meta, m, expected", [
    (None, remote(), True, mapping(), Action.NOTHING),                    # delete row follows
    (local(), None, True, mapping(), Action.UPLOAD),                      # new object
    (local(), remote(etag=OTHER), True, mapping(), Action.UPLOAD),        # overwrite
    (local(), remote(size=6), True, mapping(), Action.UPLOAD),            # size differs
    (local(), remote(), True, mapping(), Action.NOTHING),                 # in sync
    (local(meta={"Color": "blue"}), remote(meta={"color": "red"}), True, mapping(),
     Action.POST_METADATA),                                               # POST
    (local(meta={"Color": "blue"}), remote(meta={"color": "blue"}), True, mapping(),
     Action.NOTHING),                                                     # case-insensitive keys
    (local(ctype="image/png"), remote(), True, mapping(), Action.POST_METADATA),
    (local(), remote(), False, mapping(), Action.HEAD_REMOTE),            # listing only
    # a listed multipart ETag: only the metadata (swift-source-etag) can tell
    (local(), remote(etag="0" * 32 + "-3"), False, mapping(), Action.HEAD_REMOTE),
    (local(), remote(etag="0" * 32 + "-3", size=4), False, mapping(), Action.UPLOAD),
    (local(), remote(etag="0" * 32 + "-3"), True, mapping(), Action.UPLOAD),
    (local(), remote(etag="0" * 32 + "-3", internal={"swift-source-etag": ETAG}), True,
     mapping(), Action.NOTHING),
    (local(), None, False, mapping(), Action.UPLOAD),
    (local(meta={"Class": "gold"}), None, True,
     mapping(selection_criteria={"x-object-meta-class": "silver"}), Action.SKIP),
    (local(meta={"Class": "gold"}), None, True,
     mapping(selection_criteria={"X-Object-Meta-CLASS": "gold"}), Action.UPLOAD),
    (local(meta={"Class": "gold"}), None, True,
     mapping(selection_criteria={"NOT": {"x-object-meta-class": "gold"}}), Action.SKIP),
    # large objects are decided by sync.large once their segments are known
    (local(extra={"X-Static-Large-Object": "True"}), None, True, mapping(), Action.LARGE),
    (local(extra={"X-Object-Manifest": "segs/obj"}), remote(), False, mapping(), Action.LARGE),
    (local(extra={"X-Static-Large-Object": "True"}), None, True,
     mapping(selection_criteria={"x-object-meta-class": "gold"}), Action.SKIP),
    # a plain object uploaded in parts: its S3 ETag is not its MD5
    (local(), remote(etag=OTHER + "-3", internal={"swift-source-etag": ETAG}), True,
     mapping(), Action.NOTHING),
    (local(), remote(etag=OTHER + "-3", internal={"swift-source-etag": OTHER}), True,
     mapping(), Action.UPLOAD),
    (local(), remote(etag=OTHER + "-3"), True, mapping(), Action.UPLOAD),
    # archive mode: only a verified remote copy lets the local one go
    (local(), remote(), True, mapping(retain_local=False), Action.ARCHIVE),
    (local(), remote(), False, mapping(retain_local=False), Action.HEAD_REMOTE),
    (local(), None, True, mapping(retain_local=False), Action.UPLOAD),
    (local(), remote(etag=OTHER), True, mapping(retain_local=False), Action.UPLOAD),
    (local(), remote(size=4), True, mapping(retain_local=False), Action.UPLOAD),
    (local(meta={"A": "1"}), remote(), True, mapping(retain_local=False), Action.POST_METADATA),
    (None, remote(), True, mapping(retain_local=False), Action.NOTHING),
])
def test_decide_object(loc, rem, has_meta, m, expected):
    assert decide_object(loc, rem, m, has_meta).action == expected


def test_ready_honours_copy_after():
    r = row(data=1000.0, change=1010.0)
    assert not ready(r, 60, now=1060.0)  # 50s since the last change (a POST)
    assert ready(r, 60, now=1070.0)
    assert ready(r, 0, now=1010.0)


def test_listing_shortcut():
    m = mapping()
    assert listing_says_in_sync(row(), remote(), m)
    assert not listing_says_in_sync(row(), None, m)
    assert not listing_says_in_sync(row(etag=OTHER), remote(), m)
    assert not listing_says_in_sync(row(change=200.0), remote(), m)  # POSTed: metadata unknown
    assert not listing_says_in_sync(row(deleted=True), remote(), m)
    assert not listing_says_in_sync(row(), remote(), mapping(retain_local=False))


def test_archive_tombstone_is_never_propagated():
    from swift.common.utils import Timestamp
    ts = archive_timestamp("1000.00000")
    assert Timestamp(ts) > Timestamp("1000.00000")
    assert Timestamp(ts) < Timestamp("1000.00001")  # any later write wins (409 for us)
    item = {"ROWID": 9, "name": "o", "etag": ETAG, "size": 0, "deleted": 1, "created_at": ts}
    r = Row.from_broker(item)
    assert r.archive_tombstone
    assert decide_row(r, mapping()).action is Action.NOTHING
    user_delete = Row.from_broker(dict(item, created_at="1001.00000"))
    assert not user_delete.archive_tombstone
    assert decide_row(user_delete, mapping()).action is Action.DELETE_REMOTE


def test_row_from_broker_decodes_post_timestamps():
    from swift.common.utils import Timestamp, encode_timestamps
    t_data, t_meta = Timestamp(1000.0), Timestamp(1005.5)
    item = {"ROWID": 7, "name": "o", "etag": ETAG, "size": 5, "deleted": 0,
            "created_at": encode_timestamps(t_data, t_data, t_meta)}
    r = Row.from_broker(item)
    assert (r.row_id, r.data_time, r.change_time) == (7, 1000.0, 1005.5)
    assert r.metadata_changed


def test_non_ascii_metadata_key_fails_for_good():
    odd = local(extra={"X-Object-Meta-Caf\u00c3\u00a9": "v"})  # as swob hands it out
    d = decide_object(odd, None, mapping())
    assert d.action is Action.FAIL and "not ASCII" in d.reason


@pytest.mark.parametrize("local_extra, remote_headers, expected", [
    ({"Content-Encoding": "gzip"}, {"content-encoding": "gzip"}, Action.NOTHING),
    ({"Content-Encoding": "gzip"}, {}, Action.POST_METADATA),
    ({}, {"content-language": "fr"}, Action.POST_METADATA),  # removed by a local POST
    ({"Cache-Control": "no-cache"}, {"cache-control": "max-age=1"}, Action.POST_METADATA),
    ({}, {"content-length": "5", "etag": ETAG}, Action.NOTHING),  # not content headers
])
def test_content_headers_are_compared(local_extra, remote_headers, expected):
    rem = remote()
    rem.headers = remote_headers
    got = decide_object(local(extra=local_extra), rem, mapping())
    assert got.action is expected, got


@pytest.mark.parametrize("local_at, recorded, protocol, expected", [
    ("1900000000", {"swift-delete-at": "1900000000"}, "s3", Action.NOTHING),
    ("1900000001", {"swift-delete-at": "1900000000"}, "s3", Action.POST_METADATA),
    (None, {"swift-delete-at": "1900000000"}, "s3", Action.POST_METADATA),
    ("1900000000", {}, "s3", Action.POST_METADATA),
    ("1900000000", {}, "swift", Action.NOTHING),  # Swift copies: their own X-Delete-At
])
def test_s3_copies_record_the_local_expiry(local_at, recorded, protocol, expected):
    extra = {"X-Delete-At": local_at} if local_at else {}
    got = decide_object(local(extra=extra), remote(internal=recorded),
                        mapping(protocol=protocol), now=0)
    assert got.action is expected, got


def test_archived_by_onespace_reads_the_tombstone_offset():
    from onespace.sync.decide import archived_by_onespace
    assert archived_by_onespace(archive_timestamp("1700000000.12345"))
    assert not archived_by_onespace("1700000000.12345")            # a client's delete
    assert not archived_by_onespace("1700000000.12345_0000000000000001")
    assert not archived_by_onespace(None) and not archived_by_onespace("garbage")
