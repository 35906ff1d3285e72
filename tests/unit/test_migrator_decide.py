"""The migrator decision table: source entry + local state -> action."""

import base64
import json

import pytest
from swift.common.utils import Timestamp

from onespace.migrator import decide as d
from onespace.migrator.decide import Action, LocalState, Source
from onespace.sync import large

E1 = "5d41402abc4b2a76b9719d911017c592"
E2 = "900150983cd24fb0d6963f7d28e17f72"
T = Timestamp(1700000000.12345)
LATER = Timestamp(1700000100)
EARLIER = Timestamp(1690000000)


def src(etag=E1, t=T, name="o"):
    return Source(name, etag, 5, t)


def migrated(t=T, etag=E1, x_ts=None, local_etag=E1, posted=None):
    headers = {"ETag": local_etag, "X-Timestamp": (x_ts or posted or t).normal}
    headers.update(d.migrated_headers(t, etag, "mid"))
    if posted:
        headers[d.TRANSIENT_TS] = posted.internal
    return LocalState.from_headers(headers)


def user_object(x_ts, etag=E1):
    return LocalState.from_headers({"ETag": etag, "X-Timestamp": x_ts.normal})


@pytest.mark.parametrize("source, local, expected", [
    (src(), None, Action.COPY),
    (src(), migrated(), Action.NOTHING),
    (src(t=LATER), migrated(), Action.POST),                 # source metadata changed
    (src(t=LATER, etag=E2), migrated(), Action.COPY),        # source data changed
    (src(t=LATER, etag="abc-2"), migrated(etag="abc-2"), Action.POST),  # multipart, same
    (src(t=LATER), migrated(posted=LATER), Action.NOTHING),  # already POSTed by the migrator
    (src(t=Timestamp(1700000200)), migrated(posted=LATER), Action.POST),
    (src(t=Timestamp(1700000200), etag=E2), migrated(posted=LATER), Action.COPY),
    (src(t=EARLIER), migrated(), Action.NOTHING),            # never go back in time
    (src(etag=E2), migrated(), Action.COPY),                 # rewritten in the same second
    (src(etag="abc-3"), migrated(etag="abc-2"), Action.NOTHING),  # multipart etags: time decides
    (src(t=LATER), migrated(x_ts=LATER), Action.KEEP_LOCAL),  # POSTed locally at the source time
    (src(), migrated(x_ts=LATER), Action.KEEP_LOCAL),        # POSTed locally after migration
    (src(t=Timestamp(1700000200)), migrated(x_ts=LATER), Action.COPY),  # source newer still
    (src(), user_object(LATER), Action.KEEP_LOCAL),          # written locally after the source
    (src(t=LATER), user_object(T), Action.COPY),             # source newer than a local write
    (src(), user_object(T), Action.KEEP_LOCAL),              # same time: local kept
    (src(t=None), user_object(T), Action.KEEP_LOCAL),
])
def test_decide(source, local, expected):
    assert d.decide(source, local).action == expected


@pytest.mark.parametrize("local, source_exists, expected", [
    (None, False, Action.NOTHING),
    (migrated(posted=LATER), False, Action.DELETE_LOCAL),  # the migrator's own POST
    (LocalState.from_headers(dict({"ETag": E1, "X-Timestamp": T.normal},
                                  **d.migrated_headers(T, E1, "other"))),
     False, Action.KEEP_LOCAL),                              # another migration's object
    (migrated(), True, Action.NOTHING),                     # listing lagged: HEAD found it
    (migrated(), False, Action.DELETE_LOCAL),
    (migrated(x_ts=LATER), False, Action.KEEP_LOCAL),       # POSTed locally
    (user_object(T), False, Action.KEEP_LOCAL),             # overwritten locally (no sysmeta)
    (user_object(LATER), False, Action.KEEP_LOCAL),
])
def test_decide_gone(local, source_exists, expected):
    assert d.decide_gone(local, source_exists, {"mid"}).action == expected


def test_decide_gone_accepts_every_mark_of_the_job_and_none_when_shared():
    assert d.decide_gone(migrated(), False, d.job_marks("new", "mid", True)).action \
        == Action.DELETE_LOCAL  # a copy made before source marks existed
    assert d.decide_gone(migrated(), False, d.job_marks("mid", "x", False)).action \
        == Action.KEEP_LOCAL    # the migration shares its mark: deletes nothing


def test_source_mark_ignores_endpoint_and_credentials():
    """The mark names the source (protocol, source account, bucket), so a new
    endpoint or key for the same bucket still recognises its copies."""
    mark = d.source_mark("s3", "", "photos")
    assert mark == d.source_mark("s3", "", "photos") and len(mark) == 16
    assert mark != d.source_mark("s3", "", "photos2")
    assert mark != d.source_mark("swift", "", "photos")
    assert d.source_mark("swift", "AUTH_a", "c") != d.source_mark("swift", "AUTH_b", "c")


def test_shared_targets_are_containers_filled_from_sources_of_equal_marks():
    a = d.Target(0, "AUTH_x", "c", "s3", "b", "http://one", "k1")
    same_source = d.Target(1, "AUTH_x", "c", "s3", "b", "http://one", "k1")  # e.g. other prefix
    other_user = d.Target(2, "AUTH_x", "c", "s3", "b", "http://one", "k2")  # s3api: other account
    other_service = d.Target(3, "AUTH_x", "c", "s3", "b", "http://two", "k1")
    other_container = dict(a.__dict__, index=4, container="c2")
    assert d.shared_targets([a, same_source, d.Target(**other_container)]) == set()
    assert d.shared_targets([a, other_user]) == {(0, "AUTH_x", "c"), (2, "AUTH_x", "c")}
    assert d.shared_targets([a, other_service, d.Target(**other_container)]) == {
        (0, "AUTH_x", "c"), (3, "AUTH_x", "c")}
    # one migration's own buckets never clash with each other
    assert d.shared_targets([a, dict_target(a, bucket="b2")]) == set()


def test_shared_targets_of_swift_sources_compare_source_accounts():
    a = d.Target(0, "AUTH_x", "c", "swift", "b", "http://one", "AUTH_s")
    assert d.shared_targets([a, dict_target(a, index=1, who="AUTH_t")]) == set()
    assert d.shared_targets([a, dict_target(a, index=1)]) == set()  # the same source
    assert d.shared_targets([a, dict_target(a, index=1, endpoint="http://two")]) == {
        (0, "AUTH_x", "c"), (1, "AUTH_x", "c")}
    # a source account not known (auth failed): counted as possibly equal
    assert d.shared_targets([a, dict_target(a, index=1, who=None)]) == {
        (0, "AUTH_x", "c"), (1, "AUTH_x", "c")}


def dict_target(t, **changes):
    return d.Target(**dict(t.__dict__, **changes))


def test_container_objects_to_delete_are_this_sources_unmodified_copies():
    other = LocalState.from_headers(dict({"ETag": E1, "X-Timestamp": T.normal},
                                         **d.migrated_headers(T, E1, "other")))
    states = [("a", migrated()), ("b", None), ("mine", user_object(T)),
              ("posted", migrated(x_ts=LATER)), ("theirs", other),
              ("posted by us", migrated(posted=LATER))]
    assert [n for n, _ in d.container_objects_to_delete(states, {"mid"})] == [
        "a", "posted by us"]
    assert d.container_objects_to_delete(states, frozenset()) == []


def test_migrated_unmodified_needs_the_exact_time_stamp():
    assert migrated().migrated_unmodified
    assert migrated(posted=LATER).migrated_unmodified  # the migrator's own POST
    # a client POST after the migrator's drops the transient sysmeta
    assert not LocalState.from_headers(dict(
        {"ETag": E1, "X-Timestamp": Timestamp(1700000200).normal},
        **d.migrated_headers(T, E1, "mid"))).migrated_unmodified
    assert not migrated(x_ts=Timestamp(float(T) + 0.00001)).migrated_unmodified
    assert not user_object(T).migrated_unmodified
    assert not LocalState.from_headers({"ETag": E1}).migrated_unmodified


def test_delete_timestamp_is_just_after_the_migrated_version():
    local = migrated()
    t = Timestamp(d.delete_timestamp(local))
    assert t > T
    assert t < Timestamp(float(T) + 0.00001)
    # after the migrator's own POST: just after that POST
    t = Timestamp(d.delete_timestamp(migrated(posted=LATER)))
    assert LATER < t < Timestamp(float(LATER) + 0.00001)


@pytest.mark.parametrize("source, local_ts, local_etag, in_sync", [
    (src(), T, E1, True),
    (src(), LATER, E2, True),     # local newer: decide() would keep it anyway
    (src(t=LATER), T, E1, False),
    (src(etag=E2), T, E1, False),  # same time, different data
    (src(etag="abc-2"), T, "def", True),  # not comparable: time decides
    (src(t=None), T, E1, False),
    (src(), None, E1, False),
    # an SLO's listing hash is its manifest's MD5 (with "; slo_etag=..." read
    # through the internal client): at the same time only a HEAD can tell
    (src(etag=E2), T, E1 + '; slo_etag="%s"' % E2, False),
    (src(), T, E1 + "; slo_etag=" + E2, False),
    (src(etag="abc-2"), T, E1 + "; slo_etag=" + E2, True),  # not comparable: time decides
    (src(etag=E2), LATER, E1 + "; slo_etag=" + E2, True),
    # a symlink's listing hash carries its target: the MD5 before it counts
    (src(), T, E1 + "; symlink_target=c/o", True),
    (src(etag=E2), T, E1 + "; symlink_target=c/o", False),
])
def test_listing_in_sync(source, local_ts, local_etag, in_sync):
    assert d.listing_in_sync(source, local_ts, local_etag) is in_sync


def test_listing_shortcut_agrees_with_decide():
    """Wherever the listing says "in sync", a HEAD would not have led to a copy."""
    for source in (src(), src(t=LATER), src(t=EARLIER), src(etag=E2)):
        for local in (migrated(), migrated(x_ts=LATER), user_object(T), user_object(LATER),
                      user_object(EARLIER), migrated(t=EARLIER)):
            data_ts = local.migrated_ts or local.timestamp
            if d.listing_in_sync(source, data_ts, local.etag):
                assert d.decide(source, local).action in (Action.NOTHING, Action.KEEP_LOCAL), \
                    (source, local)
    # an object cut into an SLO here: its listing hash is the manifest's MD5
    slo = migrated(local_etag=E2)
    for source in (src(), src(etag=E2), src(etag="ffff" + E2[4:])):
        if d.listing_in_sync(source, slo.migrated_ts, "%s; slo_etag=%s" % (E2, E1)):
            assert d.decide(source, slo).action == Action.NOTHING, source


def test_refused_versions_are_tried_again_only_when_the_source_changes():
    record = {"reason": "x", "refused": d.source_version(src())}
    assert d.still_refused(record, src())
    assert not d.still_refused(record, src(etag=E2))
    assert not d.still_refused(record, src(t=LATER))
    assert not d.still_refused({"reason": "a passing failure"}, src())
    assert not d.still_refused(None, src())


def test_metadata_refusal_names_the_limit():
    assert d.metadata_refusal({"X-Object-Meta-Color": "blue", "Content-Type": "a/b"}) is None
    reason = d.metadata_refusal({"X-Object-Meta-Long": "v" * 300})
    assert "Metadata value longer than 256" in reason and "long" in reason.lower()
    many = {"X-Object-Meta-K%d" % i: "v" for i in range(91)}
    assert "Too many metadata items" in d.metadata_refusal(many)


@pytest.mark.parametrize("headers, expected", [
    ({"x-symlink-target": "src/t%20a"}, {"X-Symlink-Target": "dst/t%20a"}),
    ({"x-symlink-target": "other/t"}, {"X-Symlink-Target": "other/t"}),
    ({"x-symlink-target": "src/t", "x-symlink-target-account": "AUTH_src"},
     {"X-Symlink-Target": "dst/t"}),  # its own account, named: the local one
    ({"x-symlink-target": "src/t", "x-symlink-target-account": "AUTH_other"},
     {"X-Symlink-Target": "src/t", "X-Symlink-Target-Account": "AUTH_other"}),
    ({"x-symlink-target": "src/t", "x-symlink-target-etag": E1,
      "x-symlink-target-bytes": "5"},
     {"X-Symlink-Target": "dst/t", "X-Symlink-Target-Etag": E1,
      "X-Symlink-Target-Bytes": "5"}),
])
def test_local_symlink_headers_map_the_migrated_container(headers, expected):
    assert d.is_symlink(headers)
    assert d.local_symlink_headers(headers, "AUTH_src", "src", "dst") == expected


@pytest.mark.parametrize("migration, name, t, skipped", [
    ({}, "a", 100.0, False),
    ({"prefix": "p/"}, "a", 100.0, True),
    ({"prefix": "p/"}, "p/a", 100.0, False),
    ({"exclude_pattern": r".*\.tmp$"}, "x.tmp", 100.0, True),
    ({"older_than": 60}, "a", 1000.0 - 30, True),
    ({"older_than": 60}, "a", 1000.0 - 90, False),
    ({"older_than": 60}, "a", None, True),
])
def test_in_scope(migration, name, t, skipped):
    assert (d.in_scope(migration, name, Timestamp(t) if t else None, now=1000.0)
            is not None) is skipped


def test_selection_uses_source_headers():
    m = {"selection_criteria": {"AND": [{"x-object-meta-class": "gold"},
                                        {"NOT": {"content-type": "text/plain"}}]}}
    assert d.selected(m, {"x-object-meta-class": "Gold", "content-type": "image/png"})
    assert not d.selected(m, {"x-object-meta-class": "gold", "content-type": "text/plain"})
    assert d.selected({}, {})


def test_verification_timing():
    assert not d.verification_due(None, 0, 100.0)
    assert d.verification_due(50.0, 0, 100.0)
    assert not d.verification_due(50.0, 3600, 100.0)
    assert d.others_entry_due(src(t=Timestamp(10)), 50.0)
    assert not d.others_entry_due(src(t=Timestamp(60)), 50.0)
    assert not d.others_entry_due(src(t=Timestamp(10)), None)


def test_owner_spreads_names_over_replicas():
    owners = {d.owner("obj-%d" % i, 3) for i in range(50)}
    assert owners == {0, 1, 2}
    assert d.owner("\U0001F600 x", 3) == d.owner("\U0001F600 x", 3)


@pytest.mark.parametrize("size, seg, plan", [
    (10, 4, [(0, 4), (1, 4), (2, 2)]),
    (8, 4, [(0, 4), (1, 4)]),
    (3, 4, [(0, 3)]),
])
def test_segment_plan(size, seg, plan):
    assert d.segment_plan(size, seg) == plan


def test_segment_names():
    assert d.segments_container("c \u00e9") == "c \u00e9_segments"
    assert d.segment_prefix("a/b", Timestamp(1.5)) == "a/b/0000000001.50000/"
    with pytest.raises(ValueError):
        d.segment_plan(0, 4)


def test_container_headers_follow_metadata_and_acls_only():
    src = {"X-Container-Meta-Color": "red", "x-container-read": ".r:*",
           "X-Container-Write": "AUTH_x", "x-container-object-count": "3",
           "x-container-meta-quota-bytes": "10", "X-Container-Meta-Temp-URL-Key": "k",
           "x-storage-policy": "gold"}
    assert d.container_headers(src) == {"x-container-meta-color": "red",
                                        "x-container-read": ".r:*",
                                        "x-container-write": "AUTH_x"}


def test_container_header_changes():
    applied = {"x-container-meta-a": "1", "x-container-read": ".r:*"}
    wanted = {"x-container-meta-a": "2", "x-container-meta-b": "new"}
    assert d.container_header_changes(wanted, applied) == {
        "x-container-meta-a": "2", "x-container-meta-b": "new", "x-container-read": ""}
    assert d.container_header_changes(wanted, wanted) == {}


def test_multipart_helpers():
    import hashlib
    parts = [b"a" * 10, b"b" * 10, b"c" * 3]
    md5s = [hashlib.md5(p).hexdigest() for p in parts]
    etag = d.multipart_etag(md5s)
    assert d.multipart_parts(etag) == 3
    assert d.multipart_parts(E1) is None and d.multipart_parts("x-2") is None
    assert d.multipart_plan(23, 10, 3, 100) == [(0, 10), (1, 10), (2, 3)]
    assert d.multipart_plan(30, 10, 3, 100) == [(0, 10), (1, 10), (2, 10)]
    assert d.multipart_plan(31, 10, 3, 100) is None   # last part larger than the first
    assert d.multipart_plan(20, 10, 3, 100) is None   # no room for a last part
    assert d.multipart_plan(23, 10, 3, 5) is None     # parts above the local limit
    assert d.multipart_plan(23, 10, 1, 100) is None


# ---- a Swift source's own SLOs and DLOs ------------------------------------

def test_is_manifest_tells_slo_and_dlo_from_plain_objects():
    assert d.is_manifest({"x-static-large-object": "True"})
    assert d.is_manifest({"x-object-manifest": "c/p"})
    assert not d.is_manifest({"x-static-large-object": "false", "etag": "x"})
    assert not d.is_manifest({})


def test_segments_beside_the_manifest_follow_the_renamed_container():
    assert d.local_container("src", "src", "dst") == "dst"
    assert d.local_container("src_segments", "src", "dst") == "src_segments"


def test_dlo_header_is_mapped_like_its_segments():
    # kept as written when the container keeps its name
    assert d.local_dlo_header("other%20c/p", "src", "dst") == "other%20c/p"
    assert d.local_dlo_header("src/p q", "src", "dst") == "dst/p%20q"
    assert large.dlo_prefix(d.local_dlo_header("src/p q", "src", "d st")) == ("d st", "p q")


def test_slo_manifest_rewritten_for_the_local_containers():
    """What the migrator PUTs for a source SLO: the sync daemon's parser and
    writer, segments beside the manifest moved into the renamed container."""
    stored = json.dumps([
        {"name": "/src/a b/\u00e9%", "hash": "abc", "bytes": 7, "range": "1-2",
         "content_type": "x/y", "last_modified": "2026-01-01T00:00:00"},
        {"name": "/other/s", "hash": "def", "bytes": 3},
        {"data": base64.b64encode(b"inline").decode()}]).encode()
    pieces = large.slo_pieces(large.parse_slo_manifest(stored))
    put = large.swift_manifest(pieces, lambda p: "/%s/%s" % (
        d.local_container(p.container, "src", "dst"), p.name))
    assert put == [{"path": "/dst/a b/\u00e9%", "etag": "abc", "size_bytes": 7, "range": "1-2"},
                   {"path": "/other/s", "etag": "def", "size_bytes": 3},
                   {"data": base64.b64encode(b"inline").decode()}]


def test_a_dlo_listing_itself_skips_the_manifest():
    class E:
        def __init__(self, name):
            self.name = name
    listing = [E("self"), E("self/1"), E("self/2")]
    assert [e.name for e in d.dlo_segments(listing, "c", "self", "c")] == ["self/1", "self/2"]
    # the same name in another container is a real segment
    assert len(d.dlo_segments(listing, "c", "self", "other")) == 3


def test_only_slos_the_migrator_cut_own_their_segments():
    headers = {"x-timestamp": "1.00000", d.SYSMETA_TS: "1.00000",
               "x-static-large-object": "True"}
    assert not d.LocalState.from_headers(headers).own_segments
    headers.update(d.own_segments_headers())
    assert d.LocalState.from_headers(headers).own_segments


def test_rewrite_within_the_same_time_stamp_gets_the_next_offset():
    """A source rewritten within its time stamp's resolution (S3: a second)
    is copied with the same time and the next offset: the object servers
    would refuse the same time as not newer, pass after pass."""
    local = migrated()
    assert d.decide(src(etag=E2), local).action is Action.COPY
    first = d.copy_time(T, local)
    assert first == Timestamp(T, offset=1) and first > local.timestamp
    # written so, it is in sync; a second same-second rewrite gets offset 2
    headers = {"ETag": E2, "X-Timestamp": first.internal}
    headers.update(d.migrated_headers(first, E2, "mid"))
    again = LocalState.from_headers(headers)
    assert d.decide(src(etag=E2), again).action is Action.NOTHING
    assert d.decide(src(etag=E1), again).action is Action.COPY
    assert d.copy_time(T, again) == Timestamp(T, offset=2)
    # a newer source, or no local copy: the source's own time
    assert d.copy_time(LATER, local) == LATER and d.copy_time(T, None) == T


def test_still_decided_catches_a_post_or_write_after_the_decision():
    decided = migrated()
    assert d.still_decided(decided, migrated())
    assert not d.still_decided(decided, None)                    # gone meanwhile
    assert not d.still_decided(decided, migrated(x_ts=LATER))    # a user's POST
    assert not d.still_decided(decided, user_object(LATER))      # a user's PUT
    assert not d.still_decided(decided, migrated(local_etag=E2))


@pytest.mark.parametrize("source, tombstone, expected", [
    (src(), None, Action.COPY),                         # never here
    (src(), LATER, Action.KEEP_LOCAL),                  # deleted here after this version
    (src(t=LATER), T, Action.COPY),                     # the source changed since
    (src(), Timestamp(T, offset=1), Action.KEEP_LOCAL),  # the migrator's own delete
    (src(t=None), LATER, Action.COPY),                  # source time unknown
])
def test_decide_missing_locally_compares_the_tombstone(source, tombstone, expected):
    assert d.decide(source, None, tombstone).action == expected
