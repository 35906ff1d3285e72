"""Pure migrator decisions: (source entry, local state, migration) -> action.

No I/O here.  The daemon reads the listings, HEADs what a decision needs
and acts.  Time stamps are ``swift.common.utils.Timestamp`` values (five
decimals), so a source time and the X-Timestamp written locally compare
exactly.

What the migrator writes carries three sysmeta fields (a client PUT or
copy replaces them, a client cannot set them through the proxy):

* ``X-Object-Sysmeta-Onespace-Migrated-Ts``: the X-Timestamp the migrator
  gave the object (the source's time);
* ``X-Object-Sysmeta-Onespace-Migrated-Etag``: the source's ETag;
* ``X-Object-Sysmeta-Onespace-Migration``: which source it came from
  (:func:`source_mark`: protocol, source account, source container; not
  the endpoint or the credentials, so it survives a change of either).

An SLO the migrator cut into segments itself (an object over the local
max_file_size, an S3 multipart upload) also carries
``X-Object-Sysmeta-Onespace-Migrated-Segments``: its segments are the
migrator's and go with it.  A Swift source's own SLO or DLO arrives as a
manifest over copies of the source's segments; those are objects in their
own right and stay when the manifest goes, as in Swift.

A local object is *the migrated, unmodified one* only when those fields
are there and its X-Timestamp still equals the recorded one: a local
overwrite drops the sysmeta, a local POST moves the X-Timestamp.  Only
such an object is ever deleted.
"""

import enum
import time
from dataclasses import dataclass
import hashlib
from urllib.parse import quote, unquote

from swift.common.constraints import check_metadata
from swift.common.swob import Request
from swift.common.utils import Timestamp, config_true_value

from onespace.headers import cluster_own_metadata
from onespace.selection import excluded, matches_criteria
from onespace.sync.large import dlo_prefix

SYSMETA_TS = "x-object-sysmeta-onespace-migrated-ts"
SYSMETA_ETAG = "x-object-sysmeta-onespace-migrated-etag"
SYSMETA_MIGRATION = "x-object-sysmeta-onespace-migration"
SYSMETA_SEGMENTS = "x-object-sysmeta-onespace-migrated-segments"
# set by the migrator's own metadata POSTs; any other POST replaces it
TRANSIENT_TS = "x-object-transient-sysmeta-onespace-migrated-ts"


class Action(enum.Enum):
    NOTHING = "nothing"      # local already holds the source's version
    COPY = "copy"            # missing locally, or the source is newer
    POST = "post"            # the source's metadata is newer, its data the same
    DELETE_LOCAL = "delete"  # gone at the source; local is the migrated, unmodified copy
    KEEP_LOCAL = "keep"      # local changed after the source: local wins
    SKIP = "skip"            # not this migration's business (prefix, older_than, selection)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""


def ts(value):
    """A Timestamp from epoch seconds / a Timestamp string, or None."""
    if value is None or value == "":
        return None
    try:
        return Timestamp(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class Source:
    """A source listing entry."""
    name: str
    etag: str
    size: int
    timestamp: Timestamp

    @classmethod
    def from_remote(cls, entry):
        return cls(entry.name, (entry.etag or "").lower(), entry.size, ts(entry.last_modified))


@dataclass(frozen=True)
class LocalState:
    """A local object from a HEAD (``headers`` with lowercase names)."""
    etag: str
    timestamp: Timestamp          # X-Timestamp: the newest of data and POST
    migrated_ts: Timestamp = None  # sysmeta: what the migrator wrote
    migrated_etag: str = None
    migration: str = None
    own_segments: bool = False     # an SLO whose segments the migrator cut
    posted_ts: Timestamp = None    # transient sysmeta: the migrator's last metadata POST

    @classmethod
    def from_headers(cls, headers):
        h = {k.lower(): v for k, v in headers.items()}
        # X-Timestamp drops the offset (a copy's next-offset time, see
        # copy_time); the object server's X-Backend-Timestamp keeps it
        when = h.get("x-backend-timestamp") or h.get("x-timestamp")
        return cls((h.get("etag") or "").strip('"').lower(), ts(when),
                   ts(h.get(SYSMETA_TS)), h.get(SYSMETA_ETAG), h.get(SYSMETA_MIGRATION),
                   h.get(SYSMETA_SEGMENTS) == "1",
                   ts(h.get(TRANSIENT_TS)))

    @property
    def migrated_unmodified(self):
        """Written by the migrator and not overwritten or POSTed since."""
        return (self.migrated_ts is not None and self.timestamp is not None
                and self.timestamp in (self.migrated_ts, self.posted_ts))


def migrated_headers(source_ts, source_etag, migration_id):
    """The sysmeta a migrated object is written with."""
    return {SYSMETA_TS: Timestamp(source_ts).internal, SYSMETA_ETAG: source_etag or "",
            SYSMETA_MIGRATION: migration_id}


def in_scope(migration, name, source_ts, now=None):
    """Decision.SKIP for a source entry this migration leaves alone, else None.

    ``prefix`` is applied by the listing itself; checked again here so a
    listing that ignores it cannot widen the migration.
    """
    prefix = migration.get("prefix") or ""
    if not name.startswith(prefix):
        return Decision(Action.SKIP, "outside prefix")
    if excluded(migration.get("exclude_pattern"), name):
        return Decision(Action.SKIP, "excluded by exclude_pattern")
    older_than = migration.get("older_than")
    if older_than:
        now = time.time() if now is None else now
        if source_ts is None or float(source_ts) > now - older_than:
            return Decision(Action.SKIP, "newer than older_than")
    return None


def selected(migration, headers):
    """``selection_criteria`` against the source object's headers."""
    return matches_criteria(migration.get("selection_criteria"), headers)


def listing_hash(value):
    """A local container listing's ``hash`` as (etag, is_slo).  Read through
    the internal client (no slo or symlink middleware) it keeps its
    parameters: ``<manifest md5>; slo_etag=<...>`` for an SLO,
    ``<md5>; symlink_target=<...>`` for a symlink."""
    etag, _, params = (value or "").partition(";")
    return etag.strip().strip('"').lower(), "slo_etag=" in params


def listing_in_sync(source, local_ts, local_hash):
    """The steady-state shortcut: from the two listings alone, is there
    nothing to do?  True when the local data is at least as new as the
    source (then every branch of :func:`decide` says NOTHING or KEEP),
    unless, at the same time, the source has a plain MD5 and the local
    listing shows a different one, or an SLO's (the MD5 of its manifest,
    which says nothing of the data: a HEAD and :func:`decide` tell)."""
    if source.timestamp is None or local_ts is None:
        return False
    if local_ts > source.timestamp:
        return True
    if local_ts < source.timestamp:
        return False
    local_etag, is_slo = listing_hash(local_hash)
    if _plain_md5(source.etag):
        return not is_slo and source.etag == local_etag
    return True


def _plain_md5(etag):
    return bool(etag) and len(etag) == 32 and all(c in "0123456789abcdef" for c in etag)


def decide(source, local, tombstone=None):
    """What to do with a source entry that is in scope.

    ``local`` is a :class:`LocalState` or None (no local object);
    ``tombstone`` the time of the local delete when there is none (a 404's
    X-Backend-Timestamp).
    """
    if local is None:
        if (tombstone is not None and source.timestamp is not None
                and tombstone > source.timestamp):
            # deleted here after this version: its copy would lose to the
            # tombstone anyway, after a download on every pass
            return Decision(Action.KEEP_LOCAL, "deleted locally after the source version")
        return Decision(Action.COPY, "missing locally")
    if source.timestamp is None:
        return Decision(Action.KEEP_LOCAL, "source time unknown; local kept")
    if local.migrated_unmodified:
        if source.timestamp > local.timestamp:
            if source.etag and source.etag == local.migrated_etag:
                return Decision(Action.POST, "source metadata changed since it was migrated")
            return Decision(Action.COPY, "source changed since it was migrated")
        if (local.migrated_ts is not None
                and source.timestamp.normal == local.migrated_ts.normal
                and local.migrated_etag is not None
                and _plain_md5(source.etag) and source.etag != local.migrated_etag):
            return Decision(Action.COPY, "source rewritten within the same time stamp")
        return Decision(Action.NOTHING, "migrated")
    if local.timestamp is None or source.timestamp > local.timestamp:
        return Decision(Action.COPY, "source newer than the local object")
    return Decision(Action.KEEP_LOCAL, "local object newer than the source")


def copy_time(source_time, local):
    """The X-Timestamp a copy is written with: the source's, unless the
    local object already has that very time (a source rewritten within its
    time stamp's resolution): then the same time with the next offset, or
    the object servers would refuse the copy as not newer, pass after pass."""
    if (local is not None and local.timestamp is not None
            and source_time.normal == local.timestamp.normal
            and source_time <= local.timestamp):
        return Timestamp(source_time, offset=local.timestamp.offset + 1)
    return source_time


def decide_gone(local, source_exists, marks):
    """A local object whose name the source no longer lists.

    ``source_exists`` is the answer of a HEAD on the source (the listing is
    never trusted alone for a delete).  Only the unmodified copy that came
    from *this* source (its mark in ``marks``, see :func:`job_marks`) goes:
    two migrations may fill one container, and each one's source lacks the
    other's objects.
    """
    if local is None:
        return Decision(Action.NOTHING, "already gone")
    if source_exists:
        return Decision(Action.NOTHING, "the source still has it (listing lagged)")
    if not local.migrated_unmodified:
        return Decision(Action.KEEP_LOCAL, "not the migrated, unmodified object")
    if local.migration not in marks:
        return Decision(Action.KEEP_LOCAL, "migrated by another migration")
    return Decision(Action.DELETE_LOCAL, "deleted at the source")


def still_decided(decided, current):
    """Is the local object (``current``, a HEAD just before the DELETE) still
    the version a delete was decided on?  The DELETE's time stamp only makes
    the object servers refuse it over newer *data*: they do not compare it
    with a POST's, so a user's metadata change is caught here."""
    return (current is not None and current.timestamp == decided.timestamp
            and current.etag == decided.etag and current.migrated_unmodified)


def delete_timestamp(local):
    """X-Timestamp of the local DELETE: just after the migrated version, so
    the object servers refuse it (409) if anything newer landed meanwhile."""
    t = local.timestamp  # the migrated version or the migrator's own later POST
    return Timestamp(t, offset=t.offset + 1).internal


def source_mark(protocol, source_account, bucket):
    """What a copy's ``X-Object-Sysmeta-Onespace-Migration`` says: where it
    came from.  Not the endpoint nor the credentials: a new endpoint or key
    for the same source must still recognise (and delete) its copies.  A
    Swift source's account is part of it (other credentials may read another
    account's container of the same name); an S3 bucket name is the
    service's own."""
    key = "\n".join((protocol or "", source_account or "", bucket or ""))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def job_marks(mark, legacy_mark, deletes_allowed):
    """The marks whose copies a job may delete: its source's, and the one
    copies made before source marks existed carry (the migration's whole
    config identity, so only while that is unchanged); none when the
    migration shares its mark with another (:func:`shared_targets`)."""
    return frozenset((mark, legacy_mark)) if deletes_allowed else frozenset()


@dataclass(frozen=True)
class Target:
    """A local container a migration writes into, and from what source
    (one per bucket of a ``/*`` migration, resolved at run time)."""
    index: int        # the migration's place in the config
    account: str      # local account and container
    container: str
    protocol: str
    bucket: str
    endpoint: str
    who: str = None   # S3: the identity; Swift: the source account (None: unknown)


def shared_targets(targets):
    """{(migration index, local account, local container)} where a
    migration's copies cannot be told apart from another migration's: their
    marks may be equal (same protocol and bucket; for Swift, accounts not
    known to differ) and the sources are not surely the same (same
    endpoint and same identity / source account).  An S3 mark has no
    account, yet s3api (and other per-account stores) let two users have a
    bucket of the same name.  There, neither migration deletes anything."""
    def may_share_mark(a, b):
        return ((a.account, a.container, a.protocol, a.bucket)
                == (b.account, b.container, b.protocol, b.bucket)
                and not (a.protocol == "swift" and a.who and b.who and a.who != b.who))

    def same_source(a, b):
        return a.endpoint == b.endpoint and a.who is not None and a.who == b.who

    return {(a.index, a.account, a.container) for a in targets for b in targets
            if a.index != b.index and may_share_mark(a, b) and not same_source(a, b)}


def container_objects_to_delete(locals_, marks):
    """A source container is gone (confirmed twice): which local objects go
    (``locals_``: [(name, LocalState or None)]).  The unmodified copies from
    this source, as if each source object had been deleted; everything else
    (a user's object, a local change, another migration's copy) stays, and
    with it the container."""
    return [(name, state) for name, state in locals_
            if decide_gone(state, False, marks).action == Action.DELETE_LOCAL]


# ---- failures ---------------------------------------------------------------

#: Answers of the local cluster that refuse this version of an object for
#: good (metadata or name over its limits, too large): retried only when
#: the source object changes.
REFUSED_STATUSES = (400, 413)


def source_version(source):
    """What identifies one version of a source object in a failure record."""
    return "%s %s" % (source.etag or "", source.timestamp.internal if source.timestamp else "")


def still_refused(record, source):
    """Was this very source version refused by the local cluster already?"""
    return bool(record) and record.get("refused") == source_version(source)


def metadata_refusal(headers):
    """Why the local cluster would refuse an object PUT or POST with these
    headers (its metadata limits, from swift.conf), or None.  Checked before
    any data is read, so a refused object costs no download."""
    refused = check_metadata(Request.blank("/v1/a/c/o", headers=headers), "object")
    if refused is None:
        return None
    return refused.body.decode("utf-8", "replace").strip()


def owner(name, replicas):
    """Replica index that migrates ``name`` first (same hash as the sync crawler)."""
    from onespace.naming import owner_index
    return owner_index(name, replicas)


def verification_due(previous_scan_start, slack, now):
    """May this node copy objects another replica owns?  Only once one of
    its own scans has completed and ``slack`` seconds have passed since it
    began: what the owners had that long to copy and still is missing."""
    return previous_scan_start is not None and now - previous_scan_start >= slack


def others_entry_due(source, previous_scan_start):
    """An entry owned by another node is verified only if it existed when
    this node's previous complete scan began."""
    return (source.timestamp is not None and previous_scan_start is not None
            and float(source.timestamp) < previous_scan_start)


def segment_plan(size, segment_size):
    """``[(index, length)]`` of the segments of a ``size``-byte object copied
    as an SLO (every segment ``segment_size`` bytes but the last)."""
    if size <= 0 or segment_size <= 0:
        raise ValueError("size and segment size must be positive")
    count = -(-size // segment_size)
    return [(i, min(segment_size, size - i * segment_size)) for i in range(count)]


def segments_container(container):
    """Where the segments of an object migrated as an SLO go (swiftclient's convention)."""
    return container + "_segments"


def own_segments_headers():
    """The mark of an SLO whose segments the migrator cut (they go with it)."""
    return {SYSMETA_SEGMENTS: "1"}


def segment_prefix(name, migrated_ts):
    """Segments of one migrated version: ``<object>/<X-Timestamp>/``, so an
    older version's segments can be found and removed after a new copy."""
    return "%s/%s/" % (name, Timestamp(migrated_ts).internal)


#: Container headers that follow a Swift source (metadata and ACLs).
CONTAINER_HEADER_PREFIXES = ("x-container-meta-",)
CONTAINER_ACL_HEADERS = ("x-container-read", "x-container-write")
#: Versioning follows too: the versions containers migrate like any other
#: (as their own migration or with "/*"), and the migrator's own writes never
#: make versions (its internal client has no versioned_writes).
CONTAINER_VERSION_HEADERS = ("x-versions-location", "x-history-location")


def container_headers(source_headers):
    """The source container's metadata and ACLs to mirror ({lowercase name: value})."""
    out = {}
    for name, value in source_headers.items():
        name = name.lower()
        if (name.startswith(CONTAINER_HEADER_PREFIXES) or name in CONTAINER_ACL_HEADERS
                or name in CONTAINER_VERSION_HEADERS):
            if not cluster_own_metadata(name):
                out[name] = value
    return out


def container_header_changes(wanted, applied):
    """Headers to POST so the local container shows ``wanted``: changed or new
    values, and an empty value for each one applied earlier and now gone."""
    changes = {k: v for k, v in wanted.items() if applied.get(k) != v}
    changes.update((k, "") for k in applied if k not in wanted)
    return changes


def multipart_parts(etag):
    """The part count of an S3 multipart ETag ("<md5>-<parts>"), else None."""
    if not etag or "-" not in etag:
        return None
    digest, _, parts = etag.rpartition("-")
    if _plain_md5(digest) and parts.isdigit():
        return int(parts)
    return None


def multipart_etag(part_md5s):
    """The S3 ETag of a multipart upload made of parts with these MD5s."""
    import hashlib
    joined = b"".join(bytes.fromhex(m) for m in part_md5s)
    return "%s-%d" % (hashlib.md5(joined).hexdigest(), len(part_md5s))


def multipart_plan(size, part_size, parts, max_segment):
    """Segments on an S3 multipart object's part boundaries, assuming every
    part but the last is ``part_size`` bytes; None when that cannot be (or a
    part would exceed the local ``max_segment``)."""
    if parts < 2 or part_size <= 0 or part_size > max_segment:
        return None
    last = size - (parts - 1) * part_size
    if last <= 0 or last > part_size:
        return None
    return [(i, part_size) for i in range(parts - 1)] + [(parts - 1, last)]


def account_headers(source_headers):
    """A Swift source account's metadata to mirror (``propagate_account_metadata``),
    but for what stays with its cluster (``headers.cluster_own_metadata``)."""
    out = {}
    for name, value in source_headers.items():
        name = name.lower()
        if name.startswith("x-account-meta-") and not cluster_own_metadata(name):
            out[name] = value
    return out


# ---- a Swift source's own large objects ------------------------------------

def is_manifest(headers):
    """Is a Swift source object (``multipart-manifest=get`` headers, lowercase
    names) an SLO or a DLO manifest?"""
    return (config_true_value(headers.get("x-static-large-object"))
            or "x-object-manifest" in headers)


def is_symlink(headers):
    """Is a Swift source object (``symlink=get`` headers, lowercase names) a symlink?"""
    return "x-symlink-target" in headers


def local_symlink_headers(headers, source_account, source_bucket, container):
    """The symlink headers of the local copy of a Swift source symlink: the
    same target, its container mapped as :func:`local_container` maps it
    when the target is in the source account; a target in another account
    keeps its account and container.  A static link keeps its target's
    ETag and size."""
    target = unquote(headers["x-symlink-target"])
    target_container, _, target_object = target.partition("/")
    account = unquote(headers.get("x-symlink-target-account") or "")
    out = {}
    if account and account != source_account:
        out["X-Symlink-Target-Account"] = quote(account)
    else:
        target_container = local_container(target_container, source_bucket, container)
    out["X-Symlink-Target"] = quote("%s/%s" % (target_container, target_object))
    for name in ("x-symlink-target-etag", "x-symlink-target-bytes"):
        if headers.get(name):
            out[name.title()] = headers[name]
    return out


def local_container(source_container, source_bucket, container):
    """Where a segment of ``source_container`` goes: the migration's own
    container when the segment lives beside its manifest (so a renamed
    container keeps its segments inside), else the same name."""
    return container if source_container == source_bucket else source_container


def local_dlo_header(header, source_bucket, container):
    """The X-Object-Manifest of the local copy: the segments' container
    mapped as :func:`local_container` maps it, the prefix as it was."""
    source_container, prefix = dlo_prefix(header)
    mapped = local_container(source_container, source_bucket, container)
    if mapped == source_container:
        return header
    return "%s/%s" % (quote(mapped), quote(prefix))


def dlo_segments(listing, manifest_container, manifest_name, segment_container):
    """The source listing entries (of the DLO's prefix) that are its segments:
    all but the manifest itself, which a DLO whose prefix matches its own
    name lists too (following it would loop)."""
    return [e for e in listing
            if not (segment_container == manifest_container and e.name == manifest_name)]
