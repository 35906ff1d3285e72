"""Large objects, pure half: part planning, manifests, DLO listings, decisions."""

import base64
import hashlib
import json

import pytest

from onespace.cluster import LocalObject
from onespace.providers.base import RemoteObject
from onespace.sync import large
from onespace.sync.decide import Action
from onespace.sync.large import (GiB, MiB, LargeObjectError, Part, Piece, Span, plan_object_parts,
                                 plan_parts)


def md5(data):
    return hashlib.md5(data).hexdigest()


def sizes_of(parts):
    return [p.size for p in parts]


def check_plan(parts, sizes, min_part, max_part, max_parts):
    """The invariants every plan keeps, whatever the input."""
    assert 1 <= len(parts) <= max_parts
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert all(p.size <= max_part for p in parts)
    assert all(p.size >= min(min_part, max_part) for p in parts[:-1])
    # the spans walk every byte of every piece exactly once, in order
    walked = [(s.piece, s.offset, s.length) for p in parts for s in p.spans]
    expected_pos = {}
    for piece, offset, length in walked:
        assert length > 0
        assert offset == expected_pos.get(piece, 0)
        expected_pos[piece] = offset + length
    assert [i for i, s in enumerate(sizes) if s] == sorted(expected_pos)
    assert all(expected_pos[i] == sizes[i] for i in expected_pos)


# (name, segment sizes, min part, max part, max parts, expected part sizes)
PLANS = [
    ("segments already parts", [5 * MiB, 5 * MiB, 1 * MiB], 5 * MiB, 5 * GiB, 10000,
     [5 * MiB, 5 * MiB, 1 * MiB]),
    ("1 MiB segments combined into 5 MiB parts", [MiB] * 12, 5 * MiB, 5 * GiB, 10000,
     [5 * MiB, 5 * MiB, 2 * MiB]),
    ("combined run closes once past the minimum", [3 * MiB, 3 * MiB, 3 * MiB], 5 * MiB,
     5 * GiB, 10000, [6 * MiB, 3 * MiB]),
    ("small last segment stays alone", [6 * MiB, 1], 5 * MiB, 5 * GiB, 10000, [6 * MiB, 1]),
    ("a big segment after small ones joins them", [MiB, 20 * MiB], 5 * MiB, 5 * GiB, 10000,
     [21 * MiB]),
    ("segment above the part limit is split", [13 * MiB], 5 * MiB, 6 * MiB, 10000,
     [6 * MiB, 6 * MiB, 1 * MiB]),
    ("split remainder combines with the next", [13 * MiB, 4 * MiB, 2 * MiB], 5 * MiB, 6 * MiB,
     10000, [6 * MiB, 6 * MiB, 5 * MiB, 2 * MiB]),
    ("6 GiB segment, real limits", [6 * GiB], 5 * MiB, 5 * GiB, 10000, [5 * GiB, 1 * GiB]),
    ("empty segments take no part", [0, 5 * MiB, 0, 0, 1], 5 * MiB, 5 * GiB, 10000,
     [5 * MiB, 1]),
    ("empty object is one empty part", [0, 0], 5 * MiB, 5 * GiB, 10000, [0]),
    ("one byte", [1], 5 * MiB, 5 * GiB, 10000, [1]),
    ("too many parts: parts grow", [5 * MiB] * 12, 5 * MiB, 5 * GiB, 4,
     [20 * MiB, 20 * MiB, 20 * MiB]),
    ("too many parts, uneven segments", [7 * MiB, 1 * MiB, 9 * MiB, 2 * MiB, 6 * MiB], 5 * MiB,
     5 * GiB, 2, [25 * MiB]),
    ("growth capped at the part limit", [10] * 10, 1, 30, 4, [30, 30, 30, 10]),
    ("minimum above the maximum", [10] * 4, 100, 25, 10, [25, 15]),
    ("10,000 small segments", [MiB] * 10000, 5 * MiB, 5 * GiB, 10000, [5 * MiB] * 2000),
]


@pytest.mark.parametrize("name, sizes, min_part, max_part, max_parts, expected", PLANS,
                         ids=[p[0] for p in PLANS])
def test_plan_parts(name, sizes, min_part, max_part, max_parts, expected):
    parts = plan_parts(sizes, min_part, max_part, max_parts)
    assert sizes_of(parts) == expected
    if sum(sizes):
        check_plan(parts, sizes, min_part, max_part, max_parts)


def test_plan_keeps_one_part_per_segment_when_it_can():
    parts = plan_parts([5 * MiB, 8 * MiB, 1 * MiB])
    assert [p.spans for p in parts] == [(Span(0, 0, 5 * MiB),), (Span(1, 0, 8 * MiB),),
                                        (Span(2, 0, MiB),)]


def test_plan_split_spans():
    parts = plan_parts([13 * MiB, 4 * MiB, 2 * MiB], 5 * MiB, 6 * MiB)
    assert parts[2].spans == (Span(0, 12 * MiB, MiB), Span(1, 0, 4 * MiB))
    assert parts[3].spans == (Span(2, 0, 2 * MiB),)


def test_plan_too_large():
    with pytest.raises(LargeObjectError, match="do not fit"):
        plan_parts([5 * GiB] * 3, 5 * MiB, 5 * GiB, 2)
    # exactly at the limit is fine
    assert len(plan_parts([5 * GiB] * 2, 5 * MiB, 5 * GiB, 2)) == 2


@pytest.mark.parametrize("bad", [dict(min_part=0), dict(max_part=0), dict(max_parts=0)])
def test_plan_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        plan_parts([1], **bad)
    with pytest.raises(ValueError):
        plan_parts([-1])


def test_plan_random_inputs_keep_invariants():
    import random
    rnd = random.Random(42)
    for _ in range(300):
        sizes = [rnd.choice([0, 1, rnd.randint(1, 40), rnd.randint(40, 200)])
                 for _ in range(rnd.randint(1, 30))]
        min_part, max_part = rnd.randint(1, 60), rnd.randint(20, 120)
        max_parts = rnd.randint(1, 40)
        try:
            parts = plan_parts(sizes, min_part, max_part, max_parts)
        except LargeObjectError:
            assert sum(sizes) > max_part * max_parts
            continue
        if sum(sizes):
            check_plan(parts, sizes, min_part, max_part, max_parts)


@pytest.mark.parametrize("size, part, max_part, max_parts, expected", [
    (12 * MiB, 5 * MiB, 5 * GiB, 10000, [5 * MiB, 5 * MiB, 2 * MiB]),
    (10 * MiB, 5 * MiB, 5 * GiB, 10000, [5 * MiB, 5 * MiB]),
    (1, 5 * MiB, 5 * GiB, 10000, [1]),
    (100, 10, 1000, 4, [25, 25, 25, 25]),       # parts grow to fit the count
    (101, 10, 1000, 4, [26, 26, 26, 23]),
])
def test_plan_object_parts(size, part, max_part, max_parts, expected):
    assert sizes_of(plan_object_parts(size, part, max_part, max_parts)) == expected


def test_plan_object_parts_too_large():
    with pytest.raises(LargeObjectError):
        plan_object_parts(101, 10, 20, 5)


# ---------------------------------------------------------------- manifests

def entry(name, data, **extra):
    e = {"name": name, "bytes": len(data), "hash": md5(data),
         "content_type": "application/octet-stream", "last_modified": "2026-01-01T00:00:00.000000"}
    e.update(extra)
    return e


def test_slo_pieces_plain_ranges_data_and_nested():
    a, b = b"a" * 10, b"b" * 20
    entries = [entry("/segs/a", a), entry("/segs/b", b, range="5-14"),
               {"data": base64.b64encode(b"inline").decode()},
               {"name": "/segs/sub", "bytes": 30, "hash": "f" * 32, "sub_slo": True,
                "content_type": "application/octet-stream;swift_bytes=40"},
               entry("/segs/d\u00e9j\u00e0 vu/x", b"")]
    pieces = large.slo_pieces(entries)
    assert pieces[0] == Piece("segs", "a", 0, 10, md5(a), 10)
    assert pieces[0].whole and pieces[0].range_spec is None
    assert pieces[1] == Piece("segs", "b", 5, 10, md5(b), 20)
    assert not pieces[1].whole and pieces[1].range_spec == "5-14"
    assert pieces[2].data == b"inline" and pieces[2].length == 6
    assert pieces[3].sub_slo and pieces[3].length == 40  # swift_bytes wins
    assert len(pieces) == 4  # the empty segment holds no bytes


@pytest.mark.parametrize("body, message", [
    (b"not json", "not valid JSON"),
    (b'{"name": "x"}', "not a list"),
    (json.dumps([{"name": "noslash", "bytes": 1, "hash": "x"}]).encode(), "container/object"),
]+[(json.dumps([{"name": bad, "bytes": 1, "hash": "x"}]).encode(), "container/object")
   for bad in ("src/o", "/src", "/src/", "//o")]+[
    (json.dumps([{"name": "/c/o", "hash": "x"}]).encode(), "needs name, bytes and hash"),
    (json.dumps([{"name": "/c/o", "bytes": 5, "hash": "x", "range": "3-9"}]).encode(),
     "outside the segment"),
    (json.dumps([{"data": "!!!"}]).encode(), "invalid inline data"),
])
def test_broken_manifests(body, message):
    with pytest.raises(LargeObjectError, match=message):
        large.slo_pieces(large.parse_slo_manifest(body))


def test_slice_pieces_resolves_nested_ranges():
    pieces = [Piece("c", "x", 0, 10, "e1", 10), Piece(None, None, 0, 4, data=b"DATA"),
              Piece("c", "y", 2, 6, "e2", 20)]
    assert large.slice_pieces(pieces, 0, 20) == pieces
    assert large.slice_pieces(pieces, 8, 8) == [
        Piece("c", "x", 8, 2, "e1", 10), Piece(None, None, 0, 4, data=b"DATA"),
        Piece("c", "y", 2, 2, "e2", 20)]
    assert large.slice_pieces(pieces, 11, 2) == [Piece(None, None, 0, 2, data=b"AT")]
    with pytest.raises(LargeObjectError, match="shorter"):
        large.slice_pieces(pieces, 15, 10)


def test_slo_etag_is_swifts():
    a, b = b"a" * 10, b"b" * 20
    entries = [entry("/s/a", a), entry("/s/b", b, range="1-2"),
               {"data": base64.b64encode(b"xy").decode()}]
    expected = md5((md5(a) + "%s:1-2;" % md5(b) + md5(b"xy")).encode())
    assert large.slo_etag(entries) == expected


def test_mpu_etag():
    parts = [md5(b"one"), md5(b"two")]
    digest = hashlib.md5(bytes.fromhex(parts[0]) + bytes.fromhex(parts[1])).hexdigest()
    assert large.mpu_etag(parts) == digest + "-2"


# ---------------------------------------------------------------- DLOs

def test_dlo_prefix_is_unquoted_like_swift():
    assert large.dlo_prefix("segs/pre%20fix/") == ("segs", "pre fix/")
    assert large.dlo_prefix("segs/") == ("segs", "")
    assert large.dlo_prefix("c%20x/seg%2F1/") == ("c x", "seg/1/")
    for bad in ("nocontainer", "/prefix"):
        with pytest.raises(LargeObjectError):
            large.dlo_prefix(bad)


def test_dlo_etag_and_pieces():
    listing = [{"name": "p/1", "bytes": 3, "hash": md5(b"abc")},
               {"name": "p/2", "bytes": 0, "hash": md5(b"")},
               {"name": "p/3", "bytes": 2, "hash": md5(b"de") + "; slo_etag=zz"}]
    # 1space: md5 of the hex ETags, empty segments included
    assert large.dlo_etag(listing) == md5((md5(b"abc") + md5(b"") + md5(b"de")).encode())
    pieces = large.dlo_pieces("segs", listing)
    assert [(p.name, p.length, p.etag) for p in pieces] == [("p/1", 3, md5(b"abc")),
                                                             ("p/3", 2, md5(b"de"))]
    manifest = json.loads(large.converted_manifest("segs", listing))
    assert [(e["name"], e["bytes"]) for e in manifest] == [("/segs/p/1", 3), ("/segs/p/3", 2)]


# ---------------------------------------------------------------- parts and fields

def test_part_md5_known_only_for_one_whole_segment():
    pieces = [Piece("c", "a", 0, 10, "e1", 10), Piece("c", "b", 0, 10, "e2", 10),
              Piece("c", "r", 5, 5, "e3", 10), Piece(None, None, 0, 2, data=b"hi")]
    assert large.part_md5(Part(1, (Span(0, 0, 10),)), pieces) == "e1"
    assert large.part_md5(Part(1, (Span(0, 0, 10), Span(1, 0, 10))), pieces) is None
    assert large.part_md5(Part(1, (Span(0, 0, 5),)), pieces) is None      # split segment
    assert large.part_md5(Part(1, (Span(2, 0, 5),)), pieces) is None      # ranged piece
    assert large.part_md5(Part(1, (Span(3, 0, 2),)), pieces) == md5(b"hi")


def test_part_ranges():
    parts = plan_parts([MiB] * 12)
    assert large.part_ranges(parts) == [(0, 5 * MiB - 1), (5 * MiB, 10 * MiB - 1),
                                        (10 * MiB, 12 * MiB - 1)]


def test_swift_manifest_keeps_ranges_and_data():
    pieces = [Piece("segs", "a", 0, 10, "e1", 10), Piece("segs", "b", 2, 3, "e2", 10),
              Piece(None, None, 0, 2, data=b"hi")]
    assert large.swift_manifest(pieces, lambda p: "/remote_segments/" + p.name) == [
        {"path": "/remote_segments/a", "etag": "e1", "size_bytes": 10},
        {"path": "/remote_segments/b", "etag": "e2", "size_bytes": 10, "range": "2-4"},
        {"data": base64.b64encode(b"hi").decode()}]


def slo_source(etag="m" * 32, sizes=(5, 5)):
    pieces = tuple(Piece("segs", "s%d" % i, 0, n, md5(b"%d" % i), n) for i, n in enumerate(sizes))
    entries = tuple({"name": "/segs/s%d" % i, "bytes": n, "hash": md5(b"%d" % i)}
                    for i, n in enumerate(sizes))
    return large.LargeSource("slo", etag, pieces, manifest=b"[]", entries=entries)


def dlo_source(etag="d" * 32, sizes=(5, 5)):
    listing = tuple({"name": "p%d" % i, "bytes": n, "hash": md5(b"%d" % i)}
                    for i, n in enumerate(sizes))
    return large.LargeSource("dlo", etag, tuple(large.dlo_pieces("segs", listing)),
                             dlo_container="segs", dlo_prefix="p", listing=listing)


def test_s3_internal_fields():
    slo_headers = {"x-static-large-object": "True", "etag": "m" * 32}
    assert large.s3_internal_fields(slo_headers, slo_source(), False) == {
        "x-static-large-object": "True", "swift-slo-etag": "m" * 32}
    dlo_headers = {"x-object-manifest": "segs/p re"}
    assert large.s3_internal_fields(dlo_headers, dlo_source(), False) == {
        "x-object-manifest": "segs/p%20re", "swift-source-dlo-etag": "d" * 32}
    assert large.s3_internal_fields(dlo_headers, dlo_source(), True) == {
        "x-static-large-object": "True", "swift-source-dlo-etag": "d" * 32}
    assert large.s3_manifest_body(slo_source(), False) == b"[]"
    assert large.s3_manifest_body(dlo_source(), False) is None
    assert json.loads(large.s3_manifest_body(dlo_source(), True))[0]["name"] == "/segs/p0"
    empty = dlo_source(sizes=())  # an empty DLO cannot become an SLO
    assert large.s3_manifest_body(empty, True) is None
    assert large.s3_internal_fields(dlo_headers, empty, True)["x-object-manifest"]


# ---------------------------------------------------------------- decisions

def mapping(**kw):
    m = {"protocol": "s3", "retain_local": True, "convert_dlo": False}
    m.update(kw)
    return m


def local(ctype="text/plain", meta=None, slo=True):
    h = {"ETag": "m" * 32, "Content-Type": ctype, "Content-Length": "300",
         "X-Timestamp": "1000.00000"}
    h.update({"X-Static-Large-Object": "True"} if slo else {"X-Object-Manifest": "segs/p"})
    for k, v in (meta or {}).items():
        h["X-Object-Meta-" + k] = v
    return LocalObject(h)


def remote(etag="x" * 32 + "-2", size=10, internal=None, ctype="text/plain", meta=None,
           headers=None):
    return RemoteObject("k", etag=etag, size=size, content_type=ctype, metadata=meta or {},
                        internal=internal or {}, headers=headers or {})


SLO_REMOTE = {"swift-slo-etag": "m" * 32, "x-static-large-object": "True"}
SWIFT_SLO = {"x-static-large-object": "True"}
ONESPACE_1_ETAG = large.mpu_etag([md5(b"0"), md5(b"1")])


@pytest.mark.parametrize("loc, source, rem, m, expected", [
    (local(), slo_source(), None, mapping(), Action.UPLOAD),
    (local(), slo_source(), remote(internal=SLO_REMOTE), mapping(), Action.NOTHING),
    (local(), slo_source(etag="n" * 32), remote(internal=SLO_REMOTE), mapping(), Action.UPLOAD),
    (local(), slo_source(sizes=(5, 6)), remote(internal=SLO_REMOTE), mapping(), Action.UPLOAD),
    (local(meta={"K": "v"}), slo_source(), remote(internal=SLO_REMOTE), mapping(),
     Action.POST_METADATA),
    (local(ctype="text/x"), slo_source(), remote(internal=SLO_REMOTE), mapping(),
     Action.POST_METADATA),
    (local(), slo_source(), remote(internal=SLO_REMOTE), mapping(retain_local=False),
     Action.ARCHIVE),
    (local(meta={"K": "v"}), slo_source(), remote(internal=SLO_REMOTE),
     mapping(retain_local=False), Action.POST_METADATA),
    # uploaded by 1space: no swift-slo-etag, the multipart ETag of the segments
    (local(), slo_source(), remote(etag=ONESPACE_1_ETAG), mapping(), Action.NOTHING),
    (local(), slo_source(), remote(etag="y" * 32 + "-2"), mapping(), Action.UPLOAD),
    # Swift remotes: an SLO must arrive as an SLO
    (local(), slo_source(), remote(internal=SLO_REMOTE, headers=SWIFT_SLO),
     mapping(protocol="swift"), Action.NOTHING),
    (local(), slo_source(), remote(internal=SLO_REMOTE), mapping(protocol="swift"),
     Action.UPLOAD),
    (local(), slo_source(), remote(etag=large.slo_etag(slo_source().entries), headers=SWIFT_SLO),
     mapping(protocol="swift"), Action.NOTHING),                       # 1space, Swift remote
    # DLOs are known by swift-source-dlo-etag
    (local(slo=False), dlo_source(), remote(internal={"swift-source-dlo-etag": "d" * 32}),
     mapping(), Action.NOTHING),
    (local(slo=False), dlo_source(), remote(internal={"swift-source-dlo-etag": "e" * 32}),
     mapping(), Action.UPLOAD),
    (local(slo=False), dlo_source(), remote(), mapping(), Action.UPLOAD),
    (local(slo=False), dlo_source(), remote(internal={"swift-source-dlo-etag": "d" * 32}),
     mapping(protocol="swift"), Action.NOTHING),
    (local(slo=False), dlo_source(), remote(internal={"swift-source-dlo-etag": "d" * 32}),
     mapping(protocol="swift", convert_dlo=True), Action.UPLOAD),     # not converted yet
    (local(slo=False), dlo_source(), remote(internal={"swift-source-dlo-etag": "d" * 32},
                                            headers=SWIFT_SLO),
     mapping(protocol="swift", convert_dlo=True), Action.NOTHING),
    (local(slo=False), dlo_source(), remote(internal={"swift-source-dlo-etag": "d" * 32},
                                            headers=SWIFT_SLO),
     mapping(protocol="swift"), Action.NOTHING),  # convert_dlo off, or stale remote segments:
    # the same data as an SLO is a good copy (a DLO would serve other segments too)
    (local(slo=False), dlo_source(), remote(internal={"swift-source-dlo-etag": "e" * 32},
                                            headers=SWIFT_SLO),
     mapping(protocol="swift"), Action.UPLOAD),
])
def test_decide_large(loc, source, rem, m, expected):
    assert large.decide_large(loc, source, rem, m).action == expected


@pytest.mark.parametrize("remote, expected", [
    (RemoteObject("k", etag="abc", internal={"swift-slo-etag": "def"}), True),
    (RemoteObject("k", etag="abc", internal={"x-static-large-object": "True"}), True),
    (RemoteObject("k", etag="0123456789abcdef0123456789abcdef-3"), True),  # 1space multipart
    (RemoteObject("k", etag="0123456789abcdef0123456789abcdef"), False),
    (RemoteObject("k", etag=None), False),
])
def test_stored_as_large(remote, expected):
    assert large.stored_as_large(remote) is expected
