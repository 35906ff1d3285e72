"""The migrator's listing walk: in-order merge of source and destination
listings, page by page, that never reports a name as gone from the source
before the source listing has moved past it."""

import random

import pytest

from onespace.migrator.listing import (ListingOrderError, batches, merge, paged,
                                       sorted_listing)


class E:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "E(%r)" % self.name


class FakeLister:
    """A server: sorted names, pages of ``limit`` (or whatever ``sizes`` says)."""

    def __init__(self, names, limit=1000, sizes=None):
        self.names = sorted(names)
        self.limit = limit
        self.sizes = list(sizes or [])
        self.calls = []

    def __call__(self, marker):
        self.calls.append(marker)
        n = self.sizes.pop(0) if self.sizes else self.limit
        after = [x for x in self.names if x > marker]
        return [E(x) for x in after[:n]]


def walk(src_names, dst_names, src_limit=3, dst_limit=5, src_sizes=None, dst_sizes=None,
         prefix=""):
    src = FakeLister(src_names, src_limit, src_sizes)
    dst = FakeLister(dst_names, dst_limit, dst_sizes)
    out = [(n, s is not None, t is not None)
           for n, s, t in merge(paged(src, prefix), paged(dst, prefix))]
    return out, src, dst


def only_local(result):
    return [n for n, s, t in result if not s and t]


ODD = ["a", "a b", "a  b", "a%20b", "a%", "a/b", "a-b", "a\u00e9", "a\U0001F600",
       "\u00e9t\u00e9", "\U0001F600", "z" * 300, "\u4e2d\u6587", "0", "A", "a\tb"]


def test_misaligned_pages_report_nothing_missing():
    names = ["obj%04d" % i for i in range(100)]
    result, _, _ = walk(names, names, src_limit=7, dst_limit=13)
    assert only_local(result) == []
    assert [n for n, _, _ in result] == names


@pytest.mark.parametrize("src_limit, dst_limit", [(1, 1000), (1000, 1), (2, 3), (7, 7), (3, 2)])
def test_odd_names_in_both_listings_are_paired(src_limit, dst_limit):
    result, _, _ = walk(ODD, ODD, src_limit, dst_limit)
    assert all(s and t for _, s, t in result)
    assert [n for n, _, _ in result] == sorted(ODD)


def test_only_what_the_source_lacks_is_reported_missing():
    src = [n for i, n in enumerate(sorted(ODD)) if i % 3]
    result, _, _ = walk(src, ODD, 2, 5)
    assert only_local(result) == [n for i, n in enumerate(sorted(ODD)) if not i % 3]
    assert [n for n, s, t in result if s and not t] == []


def test_names_after_the_last_source_page_are_missing_only_at_the_proven_end():
    src = FakeLister(["a", "b"], limit=2)
    dst = FakeLister(["a", "b", "c", "d"], limit=10)
    it = merge(paged(src), paged(dst))
    assert next(it)[0] == "a"
    assert next(it)[0] == "b"
    # "c" only once the source has answered an empty page after "b"
    name, s, t = next(it)
    assert (name, s) == ("c", None)
    assert src.calls == ["", "b"]


def test_short_page_is_not_taken_as_the_end():
    """A server that returns a short page mid-listing (sharded Swift
    containers can) must not make the rest look deleted."""
    names = ["n%03d" % i for i in range(30)]
    result, src, _ = walk(names, names, src_limit=10, src_sizes=[10, 2, 10, 1, 10, 10, 10])
    assert only_local(result) == []
    assert src.calls[-1] == names[-1]


def test_random_misalignment_never_reports_a_present_name_missing():
    rng = random.Random(1234)
    alphabet = ["a", "b", " ", "%", "/", "\u00e9", "\U0001F600", "z", "0"]
    for _ in range(200):
        universe = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))
                           for _ in range(rng.randint(0, 40))})
        src = [n for n in universe if rng.random() < 0.7]
        dst = [n for n in universe if rng.random() < 0.7]
        result, _, _ = walk(src, dst, rng.randint(1, 6), rng.randint(1, 6),
                            src_sizes=[rng.randint(1, 6) for _ in range(50)],
                            dst_sizes=[rng.randint(1, 6) for _ in range(50)])
        assert only_local(result) == sorted(set(dst) - set(src))
        assert [n for n, s, t in result if s and not t] == sorted(set(src) - set(dst))
        assert [n for n, _, _ in result] == sorted(set(src) | set(dst))


def test_more_than_ten_thousand_containers():
    names = ["container-%06d" % i for i in range(12345)] + ["\u00e9t\u00e9 %d" % i
                                                             for i in range(50)]
    dst = names + ["local-only"]
    result, src, _ = walk(names, dst, src_limit=1000, dst_limit=10000)
    assert only_local(result) == ["local-only"]
    assert len(result) == len(dst)
    assert len(src.calls) == 14  # 13 pages, then the empty one that proves the end


def test_listing_going_backwards_stops_before_anything_after_it():
    """A server sorting '/' before '-' (tree-shaped stores do): the walk
    stops at the first entry out of order, before it could call "a-b" gone."""
    pages = {"": [E("a/x"), E("a-b")]}
    src = paged(lambda m: pages.get(m, []))
    dst = paged(FakeLister(["a-b", "a/x"], 10))
    it = merge(src, dst)
    first = next(it)
    assert first[0] == "a-b" and first[1] is None  # reported as source-absent ...
    # ... which is why the daemon confirms every delete with a HEAD at the
    # source; and the walk itself refuses to go on
    with pytest.raises(ListingOrderError):
        list(it)


def test_page_repeating_the_marker_is_refused():
    src = paged(lambda m: [E("b"), E("c")] if m in ("", "c") else [])
    with pytest.raises(ListingOrderError):
        list(src)


def test_entry_outside_the_prefix_is_refused():
    src = paged(lambda m: [E("p/1"), E("q")] if not m else [], prefix="p/")
    with pytest.raises(ListingOrderError):
        list(src)


def test_resume_from_a_marker_with_spaces_and_unicode():
    names = sorted(ODD)
    marker = "a \u00e9"
    lister = FakeLister(names, 2)
    got = [e.name for e in paged(lister, marker=marker)]
    assert got == [n for n in names if n > marker]
    assert lister.calls[0] == marker


def test_max_pages_bounds_the_walk():
    with pytest.raises(ListingOrderError):
        list(paged(FakeLister(["a", "b", "c"], 1), max_pages=2))


def test_merge_refuses_unsorted_iterables():
    with pytest.raises(ListingOrderError):
        list(merge([E("b"), E("a")], []))


def test_batches():
    assert list(batches(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batches([], 3)) == []


def tree_order(names):
    """How SeaweedFS lists: path components compared one by one."""
    return sorted(names, key=lambda n: n.split("/"))


def test_sorted_listing_of_a_tree_ordered_source():
    names = ["dir", "dir/a", "dir/b/c", "dir-x", "dir.x", "dir0", "\u00e9/x", "\u00e9-y"]
    server = tree_order(names)
    assert server != sorted(names)

    def page(marker, limit=2):
        # the server answers in tree order; the provider sorts each page
        after = [n for n in server if n.split("/") > marker.split("/")] if marker else server
        return [E(n) for n in sorted(after[:limit])]
    with pytest.raises(ListingOrderError) as e:
        list(paged(page, side="source"))
    assert e.value.side == "source"
    for limit in (1, 2, 3, 5, 100):
        got = sorted_listing(lambda m, limit=limit: page(m, limit))
        assert [x.name for x in got] == sorted(names), limit
    # and merged with a byte-ordered destination nothing present is "missing"
    result = list(merge(got, paged(FakeLister(names, 3))))
    assert all(s and t for _, s, t in result)


def test_sorted_listing_refuses_a_listing_that_repeats():
    with pytest.raises(ListingOrderError):
        sorted_listing(lambda m: [E("a"), E("b")])
