"""The shunt's listing splice: pure merging, parameters and remote names."""

import itertools
import random

import pytest

from onespace.providers.base import RemoteObject
from onespace.shunt.listing import (
    MAX_LIMIT,
    PageFill,
    RemoteNames,
    chunk_sizes,
    entry_name,
    listing_params,
    multipart_etag,
    remote_entry,
    remote_range,
    source_containers,
    splice,
    swift_time,
)


def objs(*names):
    return [{"subdir": n} if n.endswith("/") else {"name": n} for n in names]


def names(entries):
    return [entry_name(e) for e in entries]


def test_splice_interleaves_and_local_wins():
    local = [{"name": "a", "src": "local"}, {"name": "c", "src": "local"}]
    remote = [{"name": "b"}, {"name": "c", "src": "remote"}, {"name": "d"}]
    out = splice(local, remote, 10)
    assert names(out) == ["a", "b", "c", "d"]
    assert out[2]["src"] == "local"


def test_splice_cuts_at_limit_and_handles_empty_sides():
    assert names(splice(objs("a", "c"), objs("b", "d"), 3)) == ["a", "b", "c"]
    assert names(splice([], objs("b", "d"), 1)) == ["b"]
    assert names(splice(objs("a"), [], 5)) == ["a"]
    assert splice(objs("a"), objs("b"), 0) == []


def test_splice_merges_subdirs_once():
    out = splice(objs("a/", "b"), objs("a/", "a0", "c/"), 10)
    assert names(out) == ["a/", "a0", "b", "c/"]


def test_splice_reverse_order():
    out = splice(objs("d", "b"), objs("c", "b", "a"), 10, reverse=True)
    assert names(out) == ["d", "c", "b", "a"]


def test_splice_orders_by_code_point_like_utf8_bytes():
    local, remote = objs("a", "\U0001F600"), objs("z", "\uffff")
    out = names(splice(local, remote, 10))
    assert out == sorted(out, key=lambda n: n.encode("utf-8"))


def page(local, remote, limit, marker, reverse=False):
    """What the middleware does for one page: each side's first ``limit``."""
    def side(names_):
        ordered = sorted(names_, reverse=reverse)
        kept = [n for n in ordered if not marker or (n < marker if reverse else n > marker)]
        return objs(*kept[:limit])
    return names(splice(side(local), side(remote), limit, reverse))


@pytest.mark.parametrize("limit, reverse", list(itertools.product((1, 2, 3, 7, 100), (False, True))))
def test_paging_lists_every_name_exactly_once(limit, reverse):
    rnd = random.Random(limit)
    universe = ["n%03d" % i for i in range(60)]
    local = set(rnd.sample(universe, 30))
    remote = set(rnd.sample(universe, 30))
    seen, marker = [], ""
    for _ in range(200):
        got = page(local, remote, limit, marker, reverse)
        if not got:
            break
        seen += got
        marker = got[-1]
    assert seen == sorted(local | remote, reverse=reverse)


def test_listing_params_defaults_and_values():
    assert listing_params({}) == (MAX_LIMIT, "", "", "", "", False)
    assert listing_params({"limit": "5", "marker": "m", "end_marker": "z", "prefix": "p",
                           "delimiter": "/", "reverse": "on"}) == (5, "m", "z", "p", "/", True)
    assert listing_params({"reverse": "false"})[5] is False


@pytest.mark.parametrize("limit", ["-1", "10001", "x"])
def test_listing_params_refuses_what_swift_refuses(limit):
    with pytest.raises(ValueError):
        listing_params({"limit": limit})


def test_remote_names_map_keys_and_hide_manifests():
    names_ = RemoteNames("abc/AUTH_a/c/")
    assert names_.key("x y") == "abc/AUTH_a/c/x y"
    assert names_.name("abc/AUTH_a/c/x y") == "x y"
    assert names_.name("other/x") is None
    assert names_.name("abc/AUTH_a/c/") is None
    custom = RemoteNames("", hidden=".manifests/")
    assert custom.name(".manifests/0a.swift_slo_manifest") is None
    assert custom.name(".manifests/") is None
    assert custom.name("photo") == "photo"


def test_remote_entry_shape():
    obj = RemoteObject(name="k", etag="abc", size=3, last_modified=1700000000.5)
    assert remote_entry(obj, "n", "http://s3/b") == {
        "name": "n", "hash": "abc", "bytes": 3, "content_type": "application/octet-stream",
        "last_modified": "2023-11-14T22:13:20.500000", "content_location": "http://s3/b"}
    assert remote_entry(RemoteObject(name="p/", is_prefix=True), "d/", "x") == {"subdir": "d/"}
    assert swift_time(None) is None


def test_remote_range_stops_at_a_full_local_page():
    local = objs("b", "d", "f")
    assert remote_range("", "", False, local, 3) == ("", "f")
    assert remote_range("a", "e", False, local, 3) == ("a", "e")
    assert remote_range("", "", False, local, 4) == ("", "")  # not full: open
    down = objs("f", "d", "b")
    assert remote_range("z", "", True, down, 3) == ("b", "z")
    assert remote_range("z", "c", True, down, 3) == ("c", "z")


def test_chunk_sizes():
    full = chunk_sizes(1000, True)
    assert [next(full) for _ in range(3)] == [500, 250, 250]
    assert [next(chunk_sizes(1000, False)) for _ in range(2)] == [1000, 1000]
    assert next(chunk_sizes(3, False)) == 3
    assert next(chunk_sizes(10, True)) == 100


@pytest.mark.parametrize("limit, reverse", list(itertools.product((1, 3, 8), (False, True))))
def test_paging_with_bounded_remote_side_lists_every_name_once(limit, reverse):
    rnd = random.Random(limit + reverse)
    universe = ["n%03d" % i for i in range(50)]
    local, remote = sorted(rnd.sample(universe, 25)), sorted(rnd.sample(universe, 25))
    seen, marker = [], ""
    for _ in range(200):
        lside = [n for n in sorted(local, reverse=reverse)
                 if not marker or (n < marker if reverse else n > marker)][:limit]
        low, high = remote_range(marker, "", reverse, objs(*lside), limit)
        rside = [n for n in sorted(remote, reverse=reverse)
                 if (not low or n > low) and (not high or n < high)][:limit]
        got = names(splice(objs(*lside), objs(*rside), limit, reverse))
        if not got:
            break
        seen += got
        marker = got[-1]
    assert seen == sorted(set(local) | set(remote), reverse=reverse)


def test_page_fill_stops_when_limit_distinct_names_are_known():
    fill = PageFill(objs("a", "c", "e", "g"), 4)
    assert not fill.add("b")        # a, b
    assert not fill.add("c")        # a, b, c (c on both sides counts once)
    assert fill.add("d")            # a, b, c, d
    only_remote = PageFill([], 2)
    assert not only_remote.add("x") and only_remote.add("y")


@pytest.mark.parametrize("limit", [1, 2, 5, 9])
def test_page_fill_never_stops_before_the_page_is_known(limit):
    rnd = random.Random(limit)
    universe = ["n%02d" % i for i in range(30)]
    local = sorted(rnd.sample(universe, 12))
    remote = sorted(rnd.sample(universe, 12))
    fill, used = PageFill(objs(*local[:limit]), limit), []
    for name in remote:
        used.append(name)
        if fill.add(name):
            break
    page = names(splice(objs(*local[:limit]), objs(*used), limit))
    assert page == sorted(set(local) | set(remote))[:limit]


def test_remote_names_of_a_migration_prefix():
    names_ = RemoteNames("", only="keep/")
    assert names_.name("keep/1") == "keep/1"
    assert names_.name("kee") is None            # an object above the prefix
    assert names_.name("kee", is_dir=True) == "kee"  # a directory leading into it
    assert names_.name("other/1") is None
    assert names_.name("other/", is_dir=True) is None


SOURCE = ["a", "b-1", "b-2", "c", "d"]
LOC = "http://s3.example"


def listed(entries):
    return [e.get("name", e.get("subdir")) for e in entries]


@pytest.mark.parametrize("kwargs, expected", [
    ({}, SOURCE),
    ({"limit": 2}, ["a", "b-1"]),
    ({"marker": "b-1"}, ["b-2", "c", "d"]),
    ({"end_marker": "c"}, ["a", "b-1", "b-2"]),
    ({"prefix": "b"}, ["b-1", "b-2"]),
    ({"delimiter": "-"}, ["a", "b-", "c", "d"]),
    ({"reverse": True}, SOURCE[::-1]),
    ({"reverse": True, "marker": "c", "end_marker": "a"}, ["b-2", "b-1"]),
    ({"reverse": True, "limit": 2}, ["d", "c"]),
])
def test_source_containers(kwargs, expected):
    args = dict({"limit": 10000, "marker": "", "end_marker": "", "prefix": "",
                 "delimiter": "", "reverse": False}, **kwargs)
    out = source_containers(SOURCE, endpoint=LOC, **args)
    assert listed(out) == expected
    for e in out:
        if "name" in e:
            assert e["count"] == 0 and e["content_location"] == "http://s3.example/" + e["name"]


def test_path_listings_are_left_to_swift():
    with pytest.raises(ValueError):
        listing_params({"path": "d"})


def test_multipart_etag_only_for_remote_entries():
    remote = {"name": "a", "hash": "abc-2", "content_location": "http://s3/b"}
    assert multipart_etag(remote)
    assert not multipart_etag(dict(remote, hash="abc"))
    assert not multipart_etag({"name": "a", "hash": "abc-2"})  # a local entry
    assert not multipart_etag({"subdir": "d/", "content_location": "http://s3/b"})
