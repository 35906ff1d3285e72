"""Pure sync decisions: (row, local state, remote state, mapping) -> action.

No I/O here, so the whole matrix of cases is a table of unit tests.  The
caller (``sync.worker``) fetches what a decision needs and acts on it.
"""

import enum
import time
from dataclasses import dataclass

from swift.common.utils import Timestamp, decode_timestamps

from onespace import headers as hdrs
from onespace.selection import excluded, matches_criteria
from onespace.sync.expiry import (already_expired, expiry_differs, manages_expiry,
                                  s3_expiry_differs)


# The offset onespace gives the tombstones it writes when archiving: such a
# delete row is the archive itself, never a delete to propagate.
ARCHIVE_OFFSET = 0x05AC


class Action(enum.Enum):
    NOTHING = "nothing"  # remote already matches (or nothing to propagate)
    UPLOAD = "upload"  # remote missing or its data differs
    POST_METADATA = "post"  # same data, metadata/content-type differ
    DELETE_REMOTE = "delete"
    ARCHIVE = "archive"  # remote verified: remove the local copy (retain_local: false)
    HEAD_REMOTE = "head"  # the listing said "same data": look at the metadata too
    SKIP = "skip"  # not this mapping's business (excluded / not selected)
    FAIL = "fail"  # cannot ever succeed as things are: record and move on
    LARGE = "large"  # an SLO/DLO manifest: sync.large decides, once its parts are known


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str = ""


@dataclass(frozen=True)
class Row:
    """A container database row, as ``ContainerBroker.get_items_since`` gives it."""
    row_id: int
    name: str
    etag: str
    size: int
    deleted: bool
    data_time: float  # when the data was written
    change_time: float  # the newest of data, content-type and metadata changes
    archive_tombstone: bool = False  # the delete onespace wrote when it archived

    @classmethod
    def from_broker(cls, item):
        data_ts, ctype_ts, meta_ts = decode_timestamps(item["created_at"])
        return cls(item["ROWID"], item["name"], item["etag"], item["size"],
                   bool(item["deleted"]), float(data_ts),
                   float(max(data_ts, ctype_ts, meta_ts)),
                   bool(item["deleted"]) and data_ts.offset == ARCHIVE_OFFSET)

    @property
    def metadata_changed(self):
        """True when a POST came after the data (the row's meta time is newer)."""
        return self.change_time > self.data_time


def ready(row, copy_after, now=None):
    """May this row be acted on yet (``copy_after`` seconds since its last change)?"""
    return (now if now is not None else time.time()) - row.change_time >= copy_after


def decide_row(row, mapping):
    """Decisions that need neither the local object nor the remote."""
    if excluded(mapping.get("exclude_pattern"), row.name):
        return Decision(Action.SKIP, "excluded by exclude_pattern")
    if row.deleted:
        if row.archive_tombstone:
            return Decision(Action.NOTHING, "archived by onespace")
        if mapping["propagate_delete"]:
            return Decision(Action.DELETE_REMOTE, "deleted locally")
        return Decision(Action.NOTHING, "propagate_delete is off")
    return None


def decide_object(local, remote, mapping, remote_has_metadata=True, delete_at=None,
                  now=None):
    """What to do with one live object.

    ``local`` is a ``cluster.LocalObject`` (None when the object is already
    gone: the row that deletes it will follow); ``remote`` a
    ``providers.RemoteObject`` or None.  ``remote_has_metadata`` is False
    when ``remote`` comes from a listing, which carries no metadata.
    ``delete_at`` is the X-Delete-At the remote copy should carry
    (``expiry.remote_delete_at``), None for none.
    """
    if local is None:
        return Decision(Action.NOTHING, "gone locally; its delete row follows")
    if not matches_criteria(mapping.get("selection_criteria"), local.headers):
        return Decision(Action.SKIP, "not selected by selection_criteria")
    odd = sorted(k for k in local.user_metadata if not k.isascii())
    if odd:  # Swift kept the raw bytes; http.client sends ASCII header names only
        return Decision(Action.FAIL, "metadata key %r is not ASCII: no remote header can "
                        "carry it" % odd[0])
    if local.is_slo or local.is_dlo:
        return Decision(Action.LARGE, "large object")
    if already_expired(delete_at, time.time() if now is None else now):
        return Decision(Action.SKIP, "remote expiry %d has passed" % delete_at)
    if remote is None:
        return Decision(Action.UPLOAD, "remote missing")
    if not same_data(local, remote):
        if not remote_has_metadata and remote.size == local.size and "-" in (remote.etag or ""):
            # a multipart upload's ETag: the MD5 it stands for is in the
            # metadata (swift-source-etag), which a listing does not show
            return Decision(Action.HEAD_REMOTE, "multipart ETag; source ETag unknown")
        return Decision(Action.UPLOAD, "remote differs")
    if not remote_has_metadata:
        return Decision(Action.HEAD_REMOTE, "same data; metadata unknown")
    return decide_same_data(local, remote, mapping, delete_at)


def decide_same_data(local, remote, mapping, delete_at):
    """The remote holds the local data (plain or large): metadata, expiry, archive."""
    if remote.content_type != local.content_type or not hdrs.metadata_equal(
            remote.metadata, local.user_metadata):
        return Decision(Action.POST_METADATA, "metadata differs")
    if not hdrs.content_headers_equal(remote.headers, local.headers,
                                      s3=mapping.get("protocol") == "s3"):
        return Decision(Action.POST_METADATA, "content headers differ")
    if mapping.get("protocol") == "s3" and s3_expiry_differs(remote.internal, local.headers):
        return Decision(Action.POST_METADATA, "recorded local expiry differs")
    if manages_expiry(mapping) and expiry_differs(remote.headers, delete_at):
        return Decision(Action.POST_METADATA, "remote expiry differs")
    if not mapping["retain_local"]:
        return Decision(Action.ARCHIVE, "remote copy verified")
    return Decision(Action.NOTHING, "in sync")


def same_data(local, remote):
    """Does the remote hold the local plain object's bytes?  A multipart
    upload's S3 ETag is not the MD5 of the data: onespace then keeps the
    Swift ETag in ``swift-source-etag``."""
    if remote.size != local.size:
        return False
    return local.etag in (remote.etag, remote.internal.get(hdrs.SOURCE_ETAG_KEY))


def archived_by_onespace(backend_timestamp):
    """Does a local 404's X-Backend-Timestamp name onespace's archive delete
    (so a verified remote copy stands in for the object)?"""
    try:
        return bool(backend_timestamp) and Timestamp(backend_timestamp).offset == ARCHIVE_OFFSET
    except ValueError:
        return False


def archive_timestamp(local_timestamp):
    """The X-Timestamp of an archiving DELETE.

    Just after the version that was copied, so the object servers refuse it
    (409) when a newer write landed meanwhile, and marked with
    ``ARCHIVE_OFFSET`` so the tombstone row is recognised as ours.
    """
    return Timestamp(local_timestamp, offset=ARCHIVE_OFFSET).internal


def listing_says_in_sync(row, remote, mapping):
    """The verification shortcut: a listing entry with the row's data, no later POST.

    Never in archive mode: a live row there means the local copy still waits
    to be removed.
    """
    return (mapping["retain_local"] and remote is not None and not row.deleted
            and not row.metadata_changed
            and remote.etag == row.etag and remote.size == row.size)
