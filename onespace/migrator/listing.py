"""Source and destination listings walked side by side, in name order.

The rule that keeps this safe: an entry is reported as *missing from the
source* only when the source listing has been read past its name, or to
its proven end.  Pages are fetched lazily, one side at a time, so page
boundaries of the two sides never have to line up (1space compared whole
pages and deleted what one page did not show).  The end of a listing is
proven by an empty page, never inferred from a short or "not truncated"
page.  A page that goes backwards (a server that sorts differently, a
marker it misread) stops the walk with :class:`ListingOrderError` before
anything after it is reported.

Names compare as Python strings: code point order is UTF-8 byte order,
which is how Swift and S3 sort keys.
"""


class ListingOrderError(Exception):
    """A listing was not in strictly increasing name order (or escaped its prefix)."""

    def __init__(self, message, side=None):
        super().__init__(message)
        self.side = side


def paged(list_page, prefix="", marker="", max_pages=None, side=None):
    """Every entry of a listing, page by page.

    ``list_page(marker)`` returns one page (entries with ``.name``) of names
    after ``marker``.  Yields entries in order; stops at the first empty
    page.  ``max_pages`` bounds the requests (None: unbounded).
    """
    pages = 0
    while max_pages is None or pages < max_pages:
        page = list_page(marker)
        pages += 1
        if not page:
            return
        for entry in page:
            name = entry.name
            if name <= marker:
                raise ListingOrderError(
                    "listing went backwards: %r after %r" % (name, marker), side)
            if prefix and not name.startswith(prefix):
                raise ListingOrderError(
                    "listing entry %r outside the prefix %r" % (name, prefix), side)
            marker = name
            yield entry
    raise ListingOrderError("listing longer than %d pages; stopped at %r"
                            % (max_pages, marker), side)


_END = object()


def merge(source, destination):
    """``(name, source entry or None, destination entry or None)`` in name order.

    ``source`` and ``destination`` are iterables in strictly increasing
    name order (e.g. :func:`paged`).  A pair with no source entry is only
    produced once the source iterator has moved past that name or ended.
    """
    src, dst = iter(source), iter(destination)
    s, d = next(src, _END), next(dst, _END)
    last = None
    while s is not _END or d is not _END:
        if d is _END or (s is not _END and s.name < d.name):
            name, pair, s = s.name, (s, None), next(src, _END)
        elif s is _END or d.name < s.name:
            name, pair, d = d.name, (None, d), next(dst, _END)
        else:
            name, pair = s.name, (s, d)
            s, d = next(src, _END), next(dst, _END)
        if last is not None and name <= last:  # an iterator not checked by paged()
            raise ListingOrderError("merge went backwards: %r after %r" % (name, last))
        last = name
        yield (name,) + pair


def batches(iterable, size):
    """Lists of up to ``size`` items (the last one may be shorter)."""
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def sorted_listing(list_page, prefix="", max_entries=2000000):
    """A listing read whole in the server's own order, then sorted by name:
    for sources that do not list in byte order (SeaweedFS lists "a/b"
    before "a-b", as a directory tree).  Each page continues after the last
    name of the previous one, which is what such a server expects; a page
    that brings nothing new ends the walk with an error.
    """
    seen = {}
    marker = ""
    while True:
        page = list_page(marker)
        if not page:
            break
        fresh = [e for e in page if e.name not in seen]
        if not fresh:
            # the page's greatest name in byte order may come before its
            # last one in the server's order (the provider sorts each page):
            # try the greatest in directory-tree order, then give up
            tree_last = max((e.name for e in page), key=lambda n: n.split("/"))
            if tree_last == marker:
                raise ListingOrderError("listing repeats itself after %r" % marker, "source")
            marker = tree_last
            continue
        for entry in fresh:
            if prefix and not entry.name.startswith(prefix):
                raise ListingOrderError("listing entry %r outside the prefix %r"
                                        % (entry.name, prefix), "source")
            seen[entry.name] = entry
        if len(seen) > max_entries:
            raise ListingOrderError("unordered listing longer than %d entries" % max_entries,
                                    "source")
        marker = page[-1].name
    return [seen[n] for n in sorted(seen)]
