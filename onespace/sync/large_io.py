"""Large objects and multipart uploads: the I/O half of ``sync.large``.

``ContainerSyncer`` hands an SLO or DLO manifest row here (and, on S3, a
plain object above ``multipart_threshold``).  This module reads what the
object is made of from the local cluster (the SLO manifest with
``multipart-manifest=get``, nested SLOs too; the DLO's segment listing),
asks ``sync.large`` what to do, and moves the bytes:

* S3: one multipart upload.  Parts are streamed from local GETs of the
  segments (ranged when a part holds part of a segment), never held in
  memory; each part's MD5 is computed on the way and compared with the ETag
  S3 returns (a part that is exactly one segment is also sent with that
  segment's ETag as Content-MD5).  A failed upload is aborted; an abort
  that cannot reach the remote is redone before the next upload of the key.
  The SLO manifest goes to its ``.manifests`` key *before* the upload
  completes, so an object with a given ``swift-slo-etag`` always has its
  manifest.
* Swift: segments are copied under their own names into the remote
  segments container unless already there with the same ETag, then the
  manifest is PUT (``multipart-manifest=put`` for SLOs, ``X-Object-Manifest``
  for DLOs).

Up to ``PART_WORKERS`` parts of an object are sent at once (each its own
local read and remote request); Swift segments go one after the other.
"""

import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import quote

import eventlet
from swift.common.utils import close_if_possible

from onespace import headers as hdrs
from onespace import naming
from onespace.cluster import LocalObject
from onespace.faults import checkpoint
from onespace.providers.base import IntegrityError, NotFound, ProviderError, updated_internal
from onespace.sync import large
from onespace.sync.decide import Action, archive_timestamp, archived_by_onespace
from onespace.sync.expiry import expiry_differs
from onespace.sync.large import LargeObjectError, Piece, SourceChanged
from onespace.sync.worker import DONE, FAILED, RETRY, BodyReader, Outcome

LOG = logging.getLogger("onespace.sync")

MAX_MANIFEST_BYTES = 64 * 1024 * 1024  # Swift's own limit is 8 MiB by default
PART_WORKERS = 4  # parts of one object sent at once
SWIFT_SEGMENT_MAX = large.S3_MAX_PART  # Swift's max_file_size, by default
NO_PART_LIMIT = 10 ** 9


@dataclass
class Job:
    """One object's sync: what was read locally, and the remote requests made."""
    row: object
    key: str
    local: LocalObject
    source: large.LargeSource
    requests: int = 0


class SpanReader:
    """``read(n)`` over the spans of one part (or combined segment): each
    span is a local GET, opened when reached, ranged unless it is a whole
    segment.  Keeps the MD5 of what was read, and checks each whole segment
    read against its ETag.  An error of ours met while the remote client
    reads is kept in ``error``: the client library would otherwise report it
    as a network failure."""

    def __init__(self, owner, spans, pieces, on_bytes=None, changed=SourceChanged):
        self._owner = owner
        self._changed = changed
        self._spans = list(spans)
        self._pieces = pieces
        self._on_bytes = on_bytes
        self._index = -1
        self._cur = None
        self._left = 0
        self._span_md5 = None
        self.md5 = hashlib.md5()
        self.total = 0
        self.error = None

    def _open_next(self):
        self.close()
        self._index += 1
        if self._index >= len(self._spans):
            return False
        span = self._spans[self._index]
        piece = self._pieces[span.piece]
        whole = piece.whole and span.offset == 0 and span.length == piece.length
        self._span_md5 = hashlib.md5() if whole else None
        if piece.data is not None:
            self._cur = _BytesReader(piece.data[span.offset:span.offset + span.length])
        else:
            self._cur = self._owner.open_segment(piece, span, self._on_bytes, self._changed)
        self._left = span.length
        return True

    def read(self, n=-1):
        try:
            return self._read(n)
        except LargeObjectError as e:
            self.error = e
            raise

    def _read(self, n):
        want = n if n is not None and n >= 0 else float("inf")
        out = []
        while want > 0:
            if self._left == 0 and not self._open_next():
                break
            data = self._cur.read(int(min(want, self._left, 1 << 20)))
            if not data:
                piece = self._pieces[self._spans[self._index].piece]
                raise SourceChanged("segment %s/%s ended early" % (piece.container, piece.name))
            self._left -= len(data)
            want -= len(data)
            self.total += len(data)
            self.md5.update(data)
            if self._span_md5 is not None:
                self._span_md5.update(data)
                if not self._left:
                    self._check_whole()
            out.append(data)
        return b"".join(out)

    def _check_whole(self):
        piece = self._pieces[self._spans[self._index].piece]
        if self._span_md5.hexdigest() != piece.etag:
            raise LargeObjectError("segment %s/%s: its data does not match its ETag %s"
                                   % (piece.container, piece.name, piece.etag))

    @property
    def hexdigest(self):
        return self.md5.hexdigest()

    def close(self):
        if self._cur is not None:
            self._cur.close()
            self._cur = None


class _BytesReader:
    def __init__(self, data):
        self._data, self._pos = data, 0

    def read(self, n):
        chunk = self._data[self._pos:self._pos + n]
        self._pos += len(chunk)
        return chunk

    def close(self):
        pass


class LargeObjects:
    """Large-object sync for one ``ContainerSyncer`` (shared by its workers:
    per-object state lives in a :class:`Job`)."""

    def __init__(self, syncer):
        self.syncer = syncer
        self.mapping = m = syncer.mapping
        self.cluster = syncer.cluster
        self.provider = syncer.provider
        self.account = syncer.account
        self.container = syncer.container
        self.is_s3 = syncer.is_s3
        self.tick = syncer.tick
        self.min_part = m.get("min_segment_size") or large.S3_MIN_PART
        self.max_part = m.get("max_part_size") or large.S3_MAX_PART
        self.convert_dlo = bool(m.get("convert_dlo"))
        self._segment_providers = {}

    def _name(self, name, container=None):
        return "%s/%s/%s" % (self.account, container or self.container, name)

    # ---- local reads ---------------------------------------------------
    def get_manifest(self, container, name):
        """(LocalObject, stored manifest bytes), or (None, None) when gone."""
        client = self.cluster.client
        resp = client.make_request("GET", client.make_path(self.account, container, name),
                                   {}, (2, 404), params={"multipart-manifest": "get"})
        try:
            if resp.status_int == 404:
                return None, None
            local = LocalObject(resp.headers)
            if not local.is_slo:
                raise SourceChanged("%s is no longer an SLO" % self._name(name, container))
            if local.size > MAX_MANIFEST_BYTES:
                raise LargeObjectError("SLO manifest of %s is %d bytes"
                                       % (self._name(name, container), local.size))
            body = b"".join(resp.app_iter)
        finally:
            close_if_possible(resp.app_iter)
        return local, body

    def list_segments(self, container, prefix):
        return list(self.cluster.client.iter_objects(self.account, container, prefix=prefix))

    def open_segment(self, piece, span, on_bytes=None, changed=SourceChanged):
        """A reader of one span of a segment (a local GET, ranged unless whole).

        A segment whose ETag is not the expected one raises ``changed``:
        SourceChanged (try again) when the expectation came from a listing or
        a HEAD, LargeObjectError when from an SLO manifest (broken for good)."""
        first = piece.offset + span.offset
        whole = first == 0 and span.length == piece.segment_size
        headers = {} if whole else {"Range": "bytes=%d-%d" % (first, first + span.length - 1)}
        local, body = self.cluster.get_object(self.account, piece.container, piece.name,
                                              headers=headers)
        if local is None:
            archived = self._archived_copy(piece.container, piece.name, piece.etag,
                                           (first, first + span.length - 1))
            if archived is None:
                raise changed("segment %s is missing" % self._name(piece.name, piece.container))
            return BodyReader(archived[1], on_bytes=on_bytes)
        if piece.etag and local.etag != piece.etag:
            close_if_possible(body)
            raise changed("segment %s changed (ETag %s, expected %s)"
                          % (self._name(piece.name, piece.container), local.etag, piece.etag))
        return BodyReader(body, on_bytes=on_bytes)

    def _archived_copy(self, container, name, etag, byte_range=None):
        """(RemoteObject, body) of the remote copy of a segment that onespace
        archived from this very container (segments beside their manifest,
        archived as objects of their own before it), or None.  Only a copy
        of the expected ETag counts; its local tombstone must be onespace's."""
        if container != self.container or not archived_by_onespace(
                self.cluster.tombstone_time(self.account, container, name)):
            return None
        try:
            remote, body = self.provider.get(self.syncer.remote_key(name), byte_range=byte_range)
        except NotFound:
            return None
        if etag and etag != remote.source_etag:
            body.close()
            return None
        return remote, body

    def read_source(self, name, local):
        """(LocalObject, LargeSource) of a large object, or (None, None) when gone."""
        if local.is_slo:
            local, body = self.get_manifest(self.container, name)
            if local is None:
                return None, None
            entries = large.parse_slo_manifest(body)
            pieces, segments = self._expand(large.slo_pieces(entries), 0)
            return local, large.LargeSource(
                "slo", local.etag, tuple(pieces), manifest=body, entries=tuple(entries),
                segments=tuple(dict.fromkeys(segments)))
        container, prefix = large.dlo_prefix(local.headers["x-object-manifest"])
        listing = self.dlo_listing(container, prefix)
        segments = [(container, e["name"], large.listing_etag(e["hash"])) for e in listing
                    if not (container == self.container and e["name"] == name)]
        return local, large.LargeSource(
            "dlo", large.dlo_etag(listing), tuple(large.dlo_pieces(container, listing)),
            segments=tuple(segments), dlo_container=container, dlo_prefix=prefix,
            listing=tuple(listing))

    def dlo_listing(self, container, prefix):
        """The segments a DLO reads (listing entries), wherever they are now."""
        listing = self.list_segments(container, prefix)
        if container == self.container:
            listing = self._with_archived_segments(listing, prefix)
        return listing

    def _with_archived_segments(self, listing, prefix):
        """A DLO's local listing of segments beside it, plus the ones onespace
        archived already (listed remotely, their local tombstone ours): the
        local listing alone would leave their data out of the copy."""
        names = {e["name"] for e in listing}
        base = self.syncer.listing_prefix()
        added = []
        for entry in self.provider.iter_list(prefix=self.syncer.remote_key(prefix)):
            name = entry.name[len(base):]
            if entry.is_prefix or name in names or not archived_by_onespace(
                    self.cluster.tombstone_time(self.account, self.container, name)):
                continue
            etag = entry.etag
            if "-" in (etag or ""):  # uploaded in parts: the Swift ETag is kept beside
                etag = self.provider.head(entry.name).internal.get(hdrs.SOURCE_ETAG_KEY)
            added.append({"name": name, "bytes": entry.size, "hash": etag or ""})
        return sorted(list(listing) + added, key=lambda e: e["name"]) if added else listing

    def _expand(self, pieces, depth):
        """Nested SLOs replaced by (the needed range of) their own pieces."""
        out, segments = [], []
        for p in pieces:
            if p.data is not None:
                out.append(p)
                continue
            segments.append((p.container, p.name, p.etag))
            if not p.sub_slo:
                out.append(p)
                continue
            if depth + 1 >= large.SLO_MAX_DEPTH:
                raise LargeObjectError("SLOs nested more than %d deep" % large.SLO_MAX_DEPTH)
            sub_local, body = self.get_manifest(p.container, p.name)
            if sub_local is None:
                raise LargeObjectError("nested SLO %s is missing" % self._name(p.name, p.container))
            sub_pieces, sub_segments = self._expand(
                large.slo_pieces(large.parse_slo_manifest(body)), depth + 1)
            out.extend(large.slice_pieces(sub_pieces, p.offset, p.length))
            segments.extend(sub_segments)
        return out, segments

    # ---- the row ---------------------------------------------------------
    def handle(self, row, key, local, remote, has_meta, requests):
        """Sync one SLO/DLO manifest row; an Outcome (errors other than ours raise)."""
        try:
            local, source = self.read_source(row.name, local)
            if local is None:
                return Outcome(DONE, Action.NOTHING, "gone locally", remote_requests=requests)
            if remote is not None and not has_meta:  # a listing entry: metadata needed
                remote = self.provider.head(key)
                requests += 1
            decision = large.decide_large(local, source, remote, self.mapping,
                                          self.syncer.delete_at(row, local))
            return self._act(decision, Job(row, key, local, source, requests))
        except LargeObjectError as e:
            return self.failed(row.name, e, requests)

    def failed(self, name, error, requests=0):
        if error.retriable:
            LOG.warning("object %s: %s; trying again later", self._name(name), error)
            return Outcome(RETRY, reason=str(error), error=error, remote_requests=requests)
        LOG.error("object %s: %s", self._name(name), error)
        return Outcome(FAILED, Action.FAIL, str(error), error=error, remote_requests=requests)

    def _act(self, decision, job):
        action = decision.action
        if action is Action.UPLOAD:
            nbytes = self._upload(job)
        elif action is Action.POST_METADATA:
            nbytes = 0
            self._post(job)
            LOG.info("updated metadata of %s (%s)", self._name(job.row.name), decision.reason)
        elif action is Action.ARCHIVE:
            return self._archive(job, action, 0)
        else:
            return Outcome(DONE, action, decision.reason, remote_requests=job.requests)
        if not self.mapping["retain_local"]:
            return self._verify_and_archive(job, action, nbytes)
        return Outcome(DONE, action, decision.reason, bytes=nbytes, remote_requests=job.requests)

    # ---- archive mode ----------------------------------------------------
    def _verify_and_archive(self, job, action, nbytes):
        checkpoint("archive-uploaded")
        remote = self.provider.head(job.key)
        job.requests += 1
        decision = large.decide_large(job.local, job.source, remote, self.mapping,
                                      self.syncer.delete_at(job.row, job.local))
        if decision.action is not Action.ARCHIVE:
            return Outcome(RETRY, action, "remote copy not verified: %s" % decision.reason,
                           bytes=nbytes, remote_requests=job.requests)
        checkpoint("archive-verified")
        return self._archive(job, action, nbytes)

    def _archive(self, job, action, nbytes):
        """Remove the local manifest (conditionally, as for plain objects), then,
        with ``retain_local_segments: false``, its segments."""
        if self.is_s3:
            self._check_s3_manifest(job)
        if job.source.kind == "dlo":
            # a DLO is whatever its prefix lists now: a segment added or
            # changed since the copy would be lost with the local manifest
            listing = self.dlo_listing(job.source.dlo_container, job.source.dlo_prefix)
            if large.dlo_etag(listing) != job.source.etag:
                raise SourceChanged("DLO %s: its segments changed since they were copied"
                                    % self._name(job.row.name))
        outcome = self.syncer._archive(job.row, job.local, action, nbytes, job.requests)
        if outcome.archived and not self.mapping.get("retain_local_segments", True):
            self._delete_segments(job)
        return outcome

    def _check_s3_manifest(self, job):
        """The object may only leave if its manifest is where restores look for it."""
        body = large.s3_manifest_body(job.source, self.convert_dlo)
        if body is None:
            return
        mkey = self.manifest_key(job.row.name)
        stored = self.provider.head(mkey)
        job.requests += 1
        if stored is None or stored.etag != hashlib.md5(body).hexdigest():
            self._put_s3_manifest(job, body)

    def _delete_segments(self, job):
        """Delete the segments the archived object used, each only if it is
        still the version that was copied (its ETag), and with the archive
        timestamp so that a write racing the delete survives it."""
        removed = kept = 0
        for container, name, etag in job.source.segments:
            if container == self.container and name == job.row.name:
                continue
            if not name.startswith(job.row.name + "/"):
                # Swift's clients name an SLO's or DLO's own segments after it
                # (<object>/...); others may be read by other large objects too
                # (two DLOs over one prefix, an SLO over another's segments)
                kept += 1
                LOG.info("keeping segment %s: not named after %s, it may serve other "
                         "objects", self._name(name, container), self._name(job.row.name))
                continue
            try:
                seg = self.cluster.head_object(self.account, container, name)
                if seg is None:
                    continue
                current = seg.headers.get("x-object-sysmeta-slo-etag") if seg.is_slo \
                    else seg.etag
                if current != etag:
                    kept += 1
                    LOG.info("keeping segment %s: changed since it was copied",
                             self._name(name, container))
                    continue
                if self.cluster.delete_object(
                        self.account, container, name,
                        headers={"X-Timestamp": archive_timestamp(seg.timestamp)}):
                    removed += 1
                else:
                    kept += 1
            except Exception as e:  # noqa: BLE001 - the object is archived; report and go on
                kept += 1
                LOG.warning("could not remove segment %s: %s", self._name(name, container), e)
        LOG.info("removed %d local segments of %s (%d kept)", removed,
                 self._name(job.row.name), kept)

    # ---- uploads -----------------------------------------------------------
    def _upload(self, job):
        if self.is_s3:
            nbytes, how = self._upload_s3(job)
        else:
            nbytes, how = self._upload_swift(job)
        LOG.info("uploaded %s -> %s (%d bytes, %s)", self._name(job.row.name), job.key,
                 job.source.size, how)
        return nbytes

    def manifest_key(self, name):
        return naming.s3_manifest_key(self.account, self.container, name,
                                      self.mapping.get("custom_prefix"))

    def _put_s3_manifest(self, job, body):
        self.provider.put(self.manifest_key(job.row.name), body, len(body),
                          hashlib.md5(body).hexdigest(), content_type="application/json")
        job.requests += 1

    def _upload_s3(self, job):
        source, local = job.source, job.local
        body = large.s3_manifest_body(source, self.convert_dlo)
        internal = large.s3_internal_fields(local.headers, source, self.convert_dlo)
        if body is not None:
            self._put_s3_manifest(job, body)
        if source.size == 0:
            self.provider.put(job.key, b"", 0, large.EMPTY_MD5, content_type=local.content_type,
                              metadata=local.user_metadata, internal=internal,
                              headers=self.syncer.object_headers(job.row, local))
            job.requests += 1
            return 0, "empty"
        plan = large.plan_parts([p.length for p in source.pieces], self.min_part, self.max_part)
        self.multipart_upload(job, plan, source.pieces, local.content_type,
                              local.user_metadata, internal)
        return source.size, "%d parts" % len(plan)

    def multipart_upload(self, job, plan, pieces, content_type, metadata, internal):
        """Upload ``pieces`` as the parts of ``plan``; aborted unless completed."""
        key = job.key
        self._abort_stale(job)
        upload_id = self.provider.create_multipart(
            key, content_type, metadata, internal,
            headers=self.syncer.object_headers(job.row, job.local))
        job.requests += 1
        changed = self._changed(job)
        etags, errors = {}, []

        def send(part):
            if errors:
                return  # another part failed: the upload is abandoned
            try:
                etags[part.number] = self._send_part(job, upload_id, part, pieces, changed)
                checkpoint("large-part")  # tests: a remote failing mid-object
            except Exception as e:  # noqa: BLE001 - the first error is raised below
                errors.append(e)

        completed = False
        try:
            pool = eventlet.GreenPool(PART_WORKERS)
            for part in plan:
                if errors:
                    break
                pool.spawn_n(send, part)
            pool.waitall()
            if errors:
                raise errors[0]
            if len(etags) != len(plan):
                raise RuntimeError("%s: %d of %d parts sent" % (key, len(etags), len(plan)))
            done = sorted(etags.items())
            final = self.provider.complete_multipart(key, upload_id, done)
            job.requests += 1
            completed = True
        finally:
            if not completed:
                self._abort(job, upload_id)
        expected = large.mpu_etag([etag for _, etag in done])
        if final and final != expected:
            LOG.warning("%s: multipart ETag %s, expected %s (every part was verified)",
                        key, final, expected)

    def _send_part(self, job, upload_id, part, pieces, changed):
        """Stream one part from the local segments; its verified ETag."""
        reader = SpanReader(self, part.spans, pieces, self.tick, changed)
        try:
            etag = self.provider.upload_part(job.key, upload_id, part.number, reader,
                                             part.size, large.part_md5(part, pieces))
        except ProviderError:
            if reader.error is not None:
                raise reader.error from None  # ours, not the remote's
            raise
        finally:
            reader.close()
        job.requests += 1
        if reader.total != part.size or etag != reader.hexdigest:
            raise self.provider.error(
                IntegrityError, "upload part %d of" % part.number, job.key,
                reason="stored ETag %s for %d bytes, sent MD5 %s of %d bytes"
                % (etag, part.size, reader.hexdigest, reader.total))
        return etag

    @staticmethod
    def _changed(job):
        """What a segment that is not what the source said means: an SLO's
        manifest names its segments' ETags (broken for good); a DLO's listing
        or a plain object's HEAD was just out of date (try again)."""
        slo = job.source is not None and job.source.kind == "slo"
        return LargeObjectError if slo else SourceChanged

    def _abort(self, job, upload_id):
        try:
            self.provider.abort_multipart(job.key, upload_id)
            job.requests += 1
        except ProviderError as e:
            LOG.warning("could not abort the multipart upload of %s (%s); it is aborted "
                        "before the next upload of that key", job.key, e)

    def _abort_stale(self, job):
        """Abort uploads of this key left by an attempt whose abort failed
        (the remote was down, or the process was killed)."""
        try:
            uploads = self.provider.list_multipart_uploads(prefix=job.key)
        except ProviderError as e:
            if e.retriable:
                raise
            LOG.warning("cannot list unfinished multipart uploads of %s: %s", job.key, e)
            return
        job.requests += 1
        for key, upload_id, _ in uploads:
            if key == job.key and self.provider.abort_multipart(key, upload_id):
                LOG.info("aborted an unfinished multipart upload of %s", key)

    # ---- plain objects in parts (S3) --------------------------------------
    def upload_plain(self, row, key, local):
        """A plain object above ``multipart_threshold``: (LocalObject, bytes)."""
        size = local.size
        pieces = (Piece(self.container, row.name, 0, size, local.etag, size),)
        plan = large.plan_object_parts(size, self.min_part, self.max_part)
        job = Job(row, key, local, None)
        self.multipart_upload(job, plan, pieces, local.content_type, local.user_metadata,
                              updated_internal({hdrs.SOURCE_ETAG_KEY: local.etag},
                                               self.syncer.s3_internal(local)))
        LOG.info("uploaded %s -> %s (%d bytes, %d parts)", self._name(row.name), key, size,
                 len(plan))
        return local, size

    def post_plain(self, row, key, local):
        """Metadata of a plain object too big for one server-side copy."""
        plan = large.plan_object_parts(local.size, self.min_part, self.max_part)
        self._copy_in_parts(Job(row, key, local, None), plan)

    # ---- metadata only -----------------------------------------------------
    def _post(self, job):
        local = job.local
        if self.is_s3 and job.source.size > self.max_part:
            plan = large.plan_parts([p.length for p in job.source.pieces], self.min_part,
                                    self.max_part)
            self._copy_in_parts(job, plan)
        else:
            self.provider.post_metadata(job.key, local.content_type, local.user_metadata,
                                        internal=self.syncer.s3_internal(local),
                                        headers=self.syncer.object_headers(job.row, local))
            job.requests += 2

    def _copy_in_parts(self, job, plan):
        """S3 copies at most ``max_part_size`` (5 GiB) in one request: bigger
        objects get their new metadata from a multipart copy onto themselves."""
        current = self.provider.head(job.key)
        job.requests += 1
        if current is None:
            raise SourceChanged("%s vanished from the remote" % job.key)
        upload_id = self.provider.create_multipart(
            job.key, job.local.content_type, job.local.user_metadata,
            updated_internal(current.internal, self.syncer.s3_internal(job.local)),
            headers=self.syncer.object_headers(job.row, job.local))
        job.requests += 1
        completed = False
        try:
            done = []
            for part, (first, last) in zip(plan, large.part_ranges(plan)):
                done.append((part.number, self.provider.upload_part_copy(
                    job.key, upload_id, part.number, job.key, first, last)))
                job.requests += 1
                self.tick()
            self.provider.complete_multipart(job.key, upload_id, done)
            job.requests += 1
            completed = True
        finally:
            if not completed:
                self._abort(job, upload_id)

    # ---- Swift remotes -----------------------------------------------------
    def _remote_segments_container(self, container):
        return naming.swift_segments_container(self.mapping["aws_bucket"], container,
                                               self.mapping.get("container") == "/*")

    def _segment_provider(self, container, job):
        remote = self._remote_segments_container(container)
        prov = self._segment_providers.get(remote)
        if prov is None:
            prov = self.provider.with_bucket(remote)
            prov.check_access(create=True)
            job.requests += 1
            self._segment_providers[remote] = prov
        return prov

    def _copy_segment(self, job, container, name, etag, size):
        """Copy one local segment to the remote segments container unless an
        identical one is there; the bytes sent."""
        prov = self._segment_provider(container, job)
        remote = prov.head(name)
        job.requests += 1
        wanted = self.syncer.expiry_headers(job.row, job.local, segment=True)
        if remote is not None and remote.etag == etag and remote.size == size:
            if wanted and expiry_differs(remote.headers, wanted["X-Delete-At"]):
                # reused by a newer manifest: it must live as long as that one
                # (and, archived, not expire on an earlier config's say)
                prov.post_metadata(name, remote.content_type, remote.metadata, headers=wanted)
                job.requests += 2
            return 0
        if remote is not None:
            # segment names keep the local ones, without their container: an
            # object of that name may be another archived SLO's segment, and
            # overwriting it would break that SLO (whose local copy is gone)
            raise LargeObjectError(
                "remote segment %s/%s already holds other data (ETag %s); not overwritten"
                % (prov.bucket, name, remote.etag))
        local, body = self.cluster.get_object(self.account, container, name)
        if local is None:
            archived = self._archived_copy(container, name, etag)
            if archived is None:
                raise self._changed(job)("segment %s is missing" % self._name(name, container))
            local, body = _as_local(*archived)
        reader = BodyReader(body, on_bytes=self.tick)
        try:
            if etag and local.etag != etag:
                raise self._changed(job)("segment %s changed (ETag %s, expected %s)"
                                    % (self._name(name, container), local.etag, etag))
            prov.put(name, reader, local.size, local.etag, content_type=local.content_type,
                     metadata=local.user_metadata, headers=wanted)
        finally:
            reader.close()
        job.requests += 1
        checkpoint("large-part")
        return local.size

    def _copy_combined(self, job, part, pieces, container, index):
        """Several pieces as one remote segment ``<object>/<x-timestamp>/<NNNNNN>``:
        (its remote path, ETag, bytes sent)."""
        prov = self._segment_provider(container, job)
        name = "%s/%s/%06d" % (job.row.name, job.local.timestamp, index)
        held = large.span_pieces(part, pieces)
        combined = large.combined_etag(held)
        remote = prov.head(name)
        job.requests += 1
        path = "/%s/%s" % (prov.bucket, name)
        if remote is not None and remote.size == part.size and \
                remote.internal.get(hdrs.COMBINED_ETAG_KEY) == combined:
            return path, remote.etag, 0
        reader = SpanReader(self, part.spans, pieces, self.tick, self._changed(job))
        try:
            etag = prov.put(name, reader, part.size, None,
                            internal={hdrs.COMBINED_ETAG_KEY: combined},
                            headers=self.syncer.expiry_headers(job.row, job.local,
                                                               segment=True))
        except ProviderError:
            if reader.error is not None:
                raise reader.error from None
            raise
        finally:
            reader.close()
        job.requests += 1
        if reader.total != part.size or etag != reader.hexdigest:
            prov.delete(name)
            raise prov.error(IntegrityError, "put", name,
                             reason="stored ETag %s, sent MD5 %s" % (etag, reader.hexdigest))
        return path, etag, part.size

    def _upload_swift(self, job):
        source, local = job.source, job.local
        if source.kind == "dlo" and not large.converts(source, self.convert_dlo):
            stale = self._stale_remote_segments(job)
            if not stale:
                return self._upload_swift_dlo(job)
            # a remote DLO would serve them too; an SLO names exactly the local ones
            LOG.warning("%s: sent as an SLO: the remote %s holds %d segment(s) under its "
                        "prefix that it lacks locally (e.g. %r)", self._name(job.row.name),
                        self._remote_segments_container(source.dlo_container), len(stale),
                        stale[0])
        pieces, sent, segments = source.pieces, 0, []
        if self.convert_dlo:
            plan = large.plan_parts([p.length for p in pieces], self.min_part,
                                    SWIFT_SEGMENT_MAX, NO_PART_LIMIT)
        else:
            plan = [large.Part(i + 1, (large.Span(i, 0, p.length),))
                    for i, p in enumerate(pieces)]
        copied = set()
        for part in plan:
            held = large.span_pieces(part, pieces)
            if len(held) == 1 and (held[0].data is not None or not self.convert_dlo
                                   or held[0].whole):
                p = held[0]
                if p.data is None and (p.container, p.name) not in copied:
                    copied.add((p.container, p.name))
                    sent += self._copy_segment(job, p.container, p.name, p.etag,
                                               p.segment_size)
                segments += large.swift_manifest([p], self._remote_path)
                continue
            container = next((p.container for p in held if p.container), self.container)
            path, etag, n = self._copy_combined(job, part, pieces, container, part.number)
            sent += n
            segments.append({"path": path, "etag": etag, "size_bytes": part.size})
        internal = {hdrs.SLO_ETAG_KEY: source.etag} if source.kind == "slo" \
            else {hdrs.DLO_ETAG_KEY: source.etag}
        self.provider.put_slo_manifest(job.key, segments, content_type=local.content_type,
                                       metadata=local.user_metadata, internal=internal,
                                       headers=self.syncer.object_headers(job.row, local))
        job.requests += 1
        return sent, "%d segments" % len(segments)

    def _remote_path(self, piece):
        return "/%s/%s" % (self._remote_segments_container(piece.container), piece.name)

    def _stale_remote_segments(self, job):
        """Remote segments under a DLO's prefix that the local DLO lacks (a
        local segment was removed since they were copied): names, sorted."""
        source = job.source
        prov = self._segment_provider(source.dlo_container, job)
        local = {e["name"] for e in source.listing}
        job.requests += 1
        return sorted(e.name for e in prov.iter_list(prefix=source.dlo_prefix)
                      if not e.is_prefix and e.name not in local)

    def _upload_swift_dlo(self, job):
        source, sent = job.source, 0
        for e in source.listing:
            name, size = e["name"], int(e["bytes"])
            if source.dlo_container == self.container and name == job.row.name:
                continue  # the manifest itself (its prefix matches its own name)
            sent += self._copy_segment(job, source.dlo_container, name,
                                       large.listing_etag(e["hash"]), size)
        remote_segments = self._remote_segments_container(source.dlo_container)
        if not source.listing:  # nothing copied: the container may still be missing
            self._segment_provider(source.dlo_container, job)
        local, body = self.cluster.get_object(self.account, self.container, job.row.name)
        if local is None:
            raise SourceChanged("%s vanished" % self._name(job.row.name))
        reader = BodyReader(body, on_bytes=self.tick)
        try:
            if local.headers.get("x-object-manifest") != job.local.headers["x-object-manifest"]:
                raise SourceChanged("%s changed while it was copied" % self._name(job.row.name))
            self.provider.put(
                job.key, reader, local.size, local.etag, content_type=local.content_type,
                metadata=local.user_metadata, internal={hdrs.DLO_ETAG_KEY: source.etag},
                headers=dict(self.syncer.object_headers(job.row, local), **{
                    "X-Object-Manifest": quote("%s/%s" % (remote_segments, source.dlo_prefix),
                                               safe="/")}))
        finally:
            reader.close()
        job.requests += 1
        return sent, "%d segments" % len(source.listing)


def _as_local(remote, body):
    """A remote copy read in place of a local object: (LocalObject, body)."""
    headers = {"ETag": remote.source_etag,
               "Content-Length": str(remote.size), "Content-Type": remote.content_type or ""}
    headers.update(hdrs.to_swift_headers(remote.metadata))
    return LocalObject(headers), body

