"""Container listings: splicing local and remote entries (pure, no I/O).

Both sides arrive as Swift JSON listing entries (``{"name": ...}`` objects
or ``{"subdir": ...}`` directories), each already in the order the request
asked for (ascending, or descending with ``reverse``).  A page of the
spliced listing is the first ``limit`` distinct names of the two merged;
since each side gave its own first ``limit`` names after the marker, that
page is exact, and the client's next marker (the page's last name) makes
the next one: every name is listed exactly once over the pages.
"""

from __future__ import annotations

import bisect
import datetime

#: Swift's largest (and default) listing page.
MAX_LIMIT = 10000


def entry_name(entry):
    """The name an entry sorts by: an object's name or a directory's."""
    name = entry.get("name")
    return entry.get("subdir") if name is None else name


def splice(local, remote, limit, reverse=False):
    """The first ``limit`` entries of ``local`` and ``remote`` merged in
    order, one per name; a name on both sides keeps the local entry."""
    out = []
    i = j = 0
    while len(out) < limit and (i < len(local) or j < len(remote)):
        if j >= len(remote):
            out.append(local[i])
            i += 1
            continue
        if i >= len(local):
            out.append(remote[j])
            j += 1
            continue
        a, b = entry_name(local[i]), entry_name(remote[j])
        if a == b:
            out.append(local[i])
            i += 1
            j += 1
        elif (a < b) != reverse:
            out.append(local[i])
            i += 1
        else:
            out.append(remote[j])
            j += 1
    return out


def swift_time(epoch):
    """A listing's ``last_modified`` (UTC, microseconds, no zone), as Swift writes it."""
    if epoch is None:
        return None
    when = datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    return when.replace(tzinfo=None).isoformat(timespec="microseconds")


def remote_entry(obj, name, location):
    """The Swift listing entry for a remote object (``RemoteObject``) known
    locally as ``name``; ``location`` says where it lives."""
    if obj.is_prefix:
        return {"subdir": name}
    return {"name": name, "hash": obj.etag or "", "bytes": obj.size or 0,
            "content_type": obj.content_type or "application/octet-stream",
            "last_modified": swift_time(obj.last_modified),
            "content_location": location}


def multipart_etag(entry):
    """Does a remote listing entry show an S3 multipart ETag ("<md5>-<parts>"),
    which is not the Swift ETag of the object?"""
    return "content_location" in entry and "-" in entry.get("hash", "")


def source_containers(names, limit, marker, end_marker, prefix, delimiter, reverse,
                      endpoint):
    """Account listing entries for a source's container ``names`` (sorted),
    living at ``endpoint``: the request's range, prefix and delimiter
    applied, in its order, at most ``limit``.  They are not local yet: no
    objects, no bytes."""
    low, high = remote_range(marker, end_marker, reverse, (), limit)
    out, seen_dirs = [], set()
    for name in names:
        if not name.startswith(prefix) or (low and name <= low) or (high and name >= high):
            continue
        cut = name.find(delimiter, len(prefix)) if delimiter else -1
        if cut >= 0:
            subdir = name[:cut + len(delimiter)]
            if subdir not in seen_dirs:
                seen_dirs.add(subdir)
                out.append({"subdir": subdir})
            continue
        out.append({"name": name, "count": 0, "bytes": 0, "last_modified": None,
                    "content_location": "%s/%s" % (endpoint, name)})
    if reverse:
        out.reverse()
    return out[:limit]


def listing_params(params):
    """(limit, marker, end_marker, prefix, delimiter, reverse) of a request's
    query parameters (a dict of str), with Swift's defaults.  Raises
    ValueError for a limit Swift itself refuses, and for the legacy ``path``
    query, whose meaning a splice does not keep (the caller lets Swift answer)."""
    if "path" in params:
        raise ValueError("path listings are Swift's own")
    raw = params.get("limit")
    limit = MAX_LIMIT if raw in (None, "") else int(raw)
    if limit < 0 or limit > MAX_LIMIT:
        raise ValueError("limit out of range")
    reverse = str(params.get("reverse", "")).lower() in ("1", "true", "t", "yes", "y", "on")
    return (limit, params.get("marker") or "", params.get("end_marker") or "",
            params.get("prefix") or "", params.get("delimiter") or "", reverse)


class RemoteNames:
    """How a container's local names map to remote keys and back.

    ``key_prefix`` is prepended to every name (S3 default naming: the
    hash/account/container prefix; Swift: nothing); names under ``hidden``
    (the SLO manifests kept beside the objects with a custom prefix) are
    never listed; with ``only``, names outside it are not ours (a
    migration's ``prefix``).
    """

    def __init__(self, key_prefix="", hidden=None, only=""):
        self.key_prefix = key_prefix
        self.hidden = hidden
        self.only = only

    def key(self, name):
        return self.key_prefix + name

    def name(self, key, is_dir=False):
        """The local name of a remote key (or of a directory, ``is_dir``), or
        None if it is not one of ours."""
        if not key.startswith(self.key_prefix):
            return None
        name = key[len(self.key_prefix):]
        if not name or (self.hidden and name.startswith(self.hidden)):
            return None
        if not name.startswith(self.only) and not (is_dir and self.only.startswith(name)):
            return None  # (a directory above ``only`` still leads into it)
        return name



def remote_range(marker, end_marker, reverse, local, limit):
    """Exclusive bounds ``(low, high)`` (ascending; "" = open) of the remote
    names one page can use.

    When Swift filled the page (``limit`` local entries), the page ends at
    the last local name X at the latest, and a remote X would lose to the
    local one: only remote names strictly before X (after X with
    ``reverse``) can appear.  Listing remote stores costs per key listed
    (SeaweedFS: ~0.2 ms a key), so the shunt never reads past that bound.
    """
    low, high = (end_marker, marker) if reverse else (marker, end_marker)
    if limit and len(local) >= limit:
        last = entry_name(local[limit - 1])
        if reverse:
            low = max(low, last)
        else:
            high = min(high, last) if high else last
    return low, high


def chunk_sizes(limit, local_full, page_max=1000):
    """Sizes of the successive remote listing requests for a page.

    Without a full local page the remote may have to supply all ``limit``
    entries: full requests.  With one, the remote's share is bounded (see
    :func:`remote_range`) and usually about half the page when local and
    remote names interleave: half a page first, then quarters, so the keys
    listed stay close to the keys used.
    """
    if not local_full:
        size = min(limit, page_max)
        while True:
            yield size
    yield min(page_max, max(100, limit // 2))
    while True:
        yield min(page_max, max(100, limit // 4))


class PageFill:
    """Tells when a forward page is complete while remote names arrive in
    order: once ``limit`` distinct names up to the last remote one are known
    (the local names counted by bisection, a name on both sides once), no
    later remote name can make the page."""

    def __init__(self, local, limit):
        self.local_names = [entry_name(e) for e in local]
        self.local_set = set(self.local_names)
        self.limit = limit
        self.remote = 0
        self.remote_only = 0

    def add(self, name):
        """Count one remote name; True when the page is complete."""
        self.remote += 1
        self.remote_only += name not in self.local_set
        return self.remote >= self.limit or \
            self.remote_only + bisect.bisect_right(self.local_names, name) >= self.limit
