"""Act on sync decisions: the I/O half of a row's handling.

``ContainerSyncer`` binds one mapping to one local container and its remote
bucket/container.  ``handle(row, remote_hint)`` fetches what the pure
decisions in ``sync.decide`` need, acts, and says how it went as an
``Outcome``: the crawler uses that to advance progress or to retry later.
"""

import logging
from dataclasses import dataclass

from onespace import naming
from onespace.cluster import CannotDecrypt
from onespace import headers as hdrs
from onespace.config import error_line
from onespace.providers.base import ProviderError
from onespace.faults import checkpoint
from onespace.sync.decide import Action, archive_timestamp, decide_object, decide_row
from onespace.sync.expiry import delete_at_headers, remote_delete_at
from onespace.sync.large import S3_MAX_PART, LargeObjectError, SourceChanged, stored_as_large

LOG = logging.getLogger("onespace.sync")

DONE, SKIPPED, FAILED, RETRY = "done", "skipped", "failed", "retry"
# Objects up to this size are read whole before the PUT: sent in one write,
# resendable on a retry, and boto3 skips the Expect: 100-continue round trip
# it makes for every streamed body.  Bounds memory at workers x this.
IN_MEMORY_MAX = 1024 * 1024
UNKNOWN = object()  # "no listing entry was looked at": HEAD the remote


@dataclass
class Outcome:
    status: str  # DONE / SKIPPED / FAILED (permanent, recorded) / RETRY (stop advancing)
    action: Action = Action.NOTHING
    reason: str = ""
    bytes: int = 0
    remote_requests: int = 0
    error: Exception = None
    archived: bool = False  # the local copy was removed (retain_local: false)


class BodyReader:
    """A file-like ``read(n)`` over a Swift response body iterator.

    Keeps one pending chunk and an offset into it, so each byte is copied
    once however small the reads are.  ``on_bytes`` is told about progress.
    """

    def __init__(self, app_iter, on_bytes=None):
        self._iter = iter(app_iter)
        self._source = app_iter
        self._chunk = b""
        self._pos = 0
        self._on_bytes = on_bytes
        self.total = 0

    def _fill(self):
        for chunk in self._iter:
            if chunk:
                self._chunk, self._pos = chunk, 0
                self.total += len(chunk)
                if self._on_bytes:
                    self._on_bytes(len(chunk))
                return True
        return False

    def read(self, n=-1):
        if n is None or n < 0:
            parts = [self._chunk[self._pos:]]
            while self._fill():
                parts.append(self._chunk)
            self._chunk, self._pos = b"", 0
            return b"".join(parts)
        if self._pos >= len(self._chunk) and not self._fill():
            return b""
        data = self._chunk[self._pos:self._pos + n]
        self._pos += len(data)
        return data

    def close(self):
        close = getattr(self._source, "close", None)
        if close:
            close()


class ContainerSyncer:
    """Sync rows of one local container (``account/container``) for one mapping."""

    def __init__(self, mapping, account, container, cluster, provider, progress_tick=None):
        self.mapping = mapping
        self.account = account
        self.container = container
        self.cluster = cluster
        self.provider = provider
        self.tick = progress_tick or (lambda n=1: None)
        self.is_s3 = mapping["protocol"] == "s3"
        self._large = None

    @property
    def large(self):
        """The large-object (SLO/DLO, multipart) half: ``sync.large_io``."""
        if self._large is None:
            from onespace.sync.large_io import LargeObjects
            self._large = LargeObjects(self)
        return self._large

    def remote_key(self, name):
        if self.is_s3:
            return naming.s3_key(self.account, self.container, name,
                                 self.mapping.get("custom_prefix"))
        return name

    def listing_prefix(self):
        if self.is_s3:
            return naming.s3_listing_prefix(self.account, self.container,
                                            self.mapping.get("custom_prefix"))
        return ""

    def handle(self, row, remote_hint=UNKNOWN, confirm=True):
        """Bring the remote in line with ``row``; never raises.

        ``remote_hint`` is the row's entry in a remote listing (None: not
        listed), or UNKNOWN to HEAD the remote.  With ``confirm`` a listing
        is only trusted to skip work, never to send data: verifiers look
        again first, since the row's owner may have uploaded since.  The
        owner itself (``confirm=False``) uploads what its listing lacks.
        """
        label = "%s/%s/%s" % (self.account, self.container, row.name)
        try:
            return self._handle(row, remote_hint, confirm)
        except LargeObjectError as e:
            return self.large.failed(row.name, e)
        except CannotDecrypt as e:  # names the object; retried on restart and reload
            LOG.error("%s", e)
            return Outcome(FAILED, Action.FAIL, str(e), error=e)
        except ProviderError as e:
            if e.retriable or getattr(e, "status", None) in (401, 403):
                return Outcome(RETRY, reason=str(e), error=e)
            LOG.error("object %s: %s", label, e)
            return Outcome(FAILED, reason=str(e), error=e)
        except Exception as e:  # noqa: BLE001 - one bad object must not stop the rest
            LOG.exception("object %s: unexpected error", label)
            return Outcome(RETRY, reason=error_line(e), error=e)

    def _handle(self, row, remote_hint, confirm):
        key = self.remote_key(row.name)
        problem = naming.check_remote_key(key, self.mapping["protocol"]) or \
            self._key_shape_problem(key)
        if problem and row.deleted:  # such a key was never stored remotely
            return Outcome(DONE, Action.NOTHING, "no remote copy: " + problem)
        if problem:
            LOG.error("object %s/%s/%s: %s", self.account, self.container, row.name, problem)
            return Outcome(FAILED, Action.FAIL, problem)
        first = decide_row(row, self.mapping)
        requests = 0
        if first is not None:
            if first.action is Action.DELETE_REMOTE:
                if remote_hint is None:  # a listing showed it absent already
                    return Outcome(DONE, Action.NOTHING, "already absent")
                deleted = self.provider.delete(key)
                self.tick()
                if self.is_s3 and deleted and stored_as_large(deleted):
                    # the SLO manifest kept beside it is onespace's own: it goes too
                    self.provider.delete(self.large.manifest_key(row.name))
                return Outcome(DONE, Action.DELETE_REMOTE, first.reason, remote_requests=1)
            return Outcome(SKIPPED if first.action is Action.SKIP else DONE,
                           first.action, first.reason)

        has_meta = remote_hint is UNKNOWN or (confirm and remote_hint is None)
        if has_meta:
            remote = self.provider.head(key)
            requests += 1
        else:
            remote = remote_hint
        body = None
        if remote is None:
            # most likely a new object: its GET tells what a HEAD would, and
            # the body is streamed on if it is uploaded (one local request)
            local, body = self.cluster.get_object(self.account, self.container, row.name)
        else:
            local = self.cluster.head_object(self.account, self.container, row.name)
        try:
            decision = self._decide(row, local, remote, has_meta)
            if decision.action is Action.LARGE:
                _close(body)
                return self.large.handle(row, key, local, remote, has_meta, requests)
            if not has_meta and (decision.action is Action.HEAD_REMOTE or
                                 (confirm and decision.action is Action.UPLOAD)):
                # metadata unknown, or a verifier about to send: look at the remote
                remote = self.provider.head(key)
                requests += 1
                decision = self._decide(row, local, remote, True)
            return self._act(decision, key, row, local, requests, body)
        finally:
            _close(body)

    def _key_shape_problem(self, key):
        """Why an S3 remote would store ``key`` under another name, or None.
        Such a key is never written nor deleted: it would be another object's."""
        shapes = naming.key_shapes(key) if self.is_s3 else []
        if not shapes:
            return None
        refused = [s for s in shapes if s in self.provider.unsupported_key_shapes()]
        if refused:
            return ("the remote stores keys with a %s under another name (probed): it "
                    "would not be this object's copy" % " or ".join(refused))
        return None

    def delete_at(self, row, local, segment=False):
        """The X-Delete-At the remote copy of ``row`` should carry (Swift), or None."""
        return remote_delete_at(self.mapping, row.data_time,
                                local.headers.get("x-delete-at") if local else None, segment)

    def expiry_headers(self, row, local, segment=False):
        """X-Delete-At for a Swift PUT/POST of ``row`` ({} unless onespace manages it)."""
        return delete_at_headers(self.mapping, self.delete_at(row, local, segment))

    def object_headers(self, row, local):
        """Headers a PUT or POST of ``row`` carries besides type and metadata:
        Content-Encoding and the other content headers, and X-Delete-At.
        None drops a header the remote copy has (a POST carries it over otherwise)."""
        return dict(hdrs.content_headers(local.headers, absent=True, s3=self.is_s3),
                    **self.expiry_headers(row, local))

    def s3_internal(self, local):
        """onespace's fields on an S3 copy of ``local``: its X-Delete-At
        (``swift-delete-at``, None for none; S3 has no expiry of its own).
        None for a Swift remote, whose copy has an X-Delete-At of its own."""
        if not self.is_s3:
            return None
        return {hdrs.DELETE_AT_KEY: local.headers.get("x-delete-at") or None}

    def _decide(self, row, local, remote, has_meta):
        return decide_object(local, remote, self.mapping, has_meta,
                             delete_at=self.delete_at(row, local))

    def _act(self, decision, key, row, local, requests, body=None):
        action = decision.action
        if action in (Action.UPLOAD, Action.POST_METADATA):
            if action is Action.UPLOAD:
                sent = self._upload(key, row, local, body)
                if sent is None:
                    return Outcome(DONE, Action.NOTHING, "gone locally", remote_requests=requests)
                local, nbytes = sent
            elif self.is_s3 and local.size > self.mapping.get("max_part_size", S3_MAX_PART):
                self.large.post_plain(row, key, local)  # too big for one server-side copy
                nbytes = 0
            else:
                self.provider.post_metadata(key, local.content_type, local.user_metadata,
                                            internal=self.s3_internal(local),
                                            headers=self.object_headers(row, local))
                self.tick()
                nbytes = 0
            if action is Action.POST_METADATA:
                LOG.info("updated metadata of %s/%s/%s (%s)", self.account, self.container,
                         row.name, decision.reason)
            requests += 1
            if not self.mapping["retain_local"]:
                return self._verify_and_archive(key, row, local, action, nbytes, requests)
            return Outcome(DONE, action, decision.reason, bytes=nbytes, remote_requests=requests)
        if action is Action.ARCHIVE:
            return self._archive(row, local, Action.ARCHIVE, 0, requests)
        if action is Action.FAIL:
            LOG.error("object %s/%s/%s: %s", self.account, self.container, row.name,
                      decision.reason)
            return Outcome(FAILED, action, decision.reason, remote_requests=requests)
        status = SKIPPED if action is Action.SKIP else DONE
        return Outcome(status, action, decision.reason, remote_requests=requests)

    def _verify_and_archive(self, key, row, local, action, nbytes, requests):
        """Archive mode, after an upload/POST: look at the remote copy, then archive."""
        checkpoint("archive-uploaded")
        remote = self.provider.head(key)
        decision = self._decide(row, local, remote, True)
        if decision.action is not Action.ARCHIVE:
            # the remote does not show what we sent: keep the local copy, try again
            return Outcome(RETRY, action, "remote copy not verified: %s" % decision.reason,
                           bytes=nbytes, remote_requests=requests + 1)
        checkpoint("archive-verified")
        return self._archive(row, local, action, nbytes, requests + 1)

    def _archive(self, row, local, action, nbytes, requests):
        """Delete the local copy that was verified remotely, and only that version.

        The DELETE's timestamp makes the object servers refuse (409) to
        remove a newer *write*; they compare it with the data's timestamp
        only, so a newer *POST* would be lost with the object.  The local
        metadata timestamp is therefore checked just before (a POST in the
        milliseconds between that HEAD and the DELETE is the window left).
        """
        current = self.cluster.head_object(self.account, self.container, row.name)
        if current is None or current.timestamp != local.timestamp:
            LOG.info("not archiving %s/%s/%s: changed locally since it was copied",
                     self.account, self.container, row.name)
            return Outcome(DONE, action, "changed locally", bytes=nbytes,
                           remote_requests=requests)
        deleted = self.cluster.delete_object(
            self.account, self.container, row.name,
            headers={"X-Timestamp": archive_timestamp(local.timestamp)})
        checkpoint("archive-deleted")
        if not deleted:
            # 409: a newer write landed after the copy; its own row archives it
            LOG.info("not archiving %s/%s/%s: changed locally since it was copied",
                     self.account, self.container, row.name)
            return Outcome(DONE, action, "changed locally", bytes=nbytes,
                           remote_requests=requests)
        LOG.info("archived %s/%s/%s (local copy removed after verification)",
                 self.account, self.container, row.name)
        return Outcome(DONE, action, "archived", bytes=nbytes, remote_requests=requests,
                       archived=True)

    def _upload(self, key, row, local=None, body=None):
        """Stream the local object to the remote: (what was sent, bytes) or None if gone.

        ``body`` is the open GET whose headers ``local`` holds, when the
        caller already has one.
        """
        if self.is_s3 and local is not None and \
                local.size > self.mapping.get("multipart_threshold", S3_MAX_PART):
            _close(body)
            return self.large.upload_plain(row, key, local)
        if body is None:
            local, body = self.cluster.get_object(self.account, self.container, row.name)
        if local is None:
            return None
        reader = BodyReader(body, on_bytes=self.tick)
        try:
            # the local object may have changed since the HEAD: what we send is
            # described by the GET's own headers, and checked against its ETag
            payload = reader
            if local.size <= IN_MEMORY_MAX:
                payload = reader.read()
                if len(payload) != local.size:  # the object server's read broke off
                    raise SourceChanged("read %d of %d bytes of %s/%s/%s" % (
                        len(payload), local.size, self.account, self.container, row.name))
            self.provider.put(key, payload, local.size, local.etag,
                              content_type=local.content_type,
                              metadata=local.user_metadata, internal=self.s3_internal(local),
                              headers=self.object_headers(row, local))
        finally:
            reader.close()
        LOG.info("uploaded %s/%s/%s -> %s (%d bytes)", self.account, self.container,
                 row.name, key, local.size)
        return local, local.size


def _close(body):
    """Release a local GET that will not be read (further)."""
    close = getattr(body, "close", None)
    if close:
        close()
