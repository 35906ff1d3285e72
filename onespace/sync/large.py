"""Large objects (SLO, DLO) and multipart uploads: the pure half.

No I/O here: ``sync.large_io`` reads manifests and listings, calls these
functions, and moves the bytes.  What is kept compatible with 1space
(s3_sync/sync_s3.py, sync_swift.py, utils.py):

* An SLO goes to S3 as one multipart upload; its manifest, exactly as the
  local cluster stores it, goes to ``naming.s3_manifest_key`` so the object
  can be restored.  The S3 object carries ``swift-slo-etag``: the ETag of
  the local manifest object as Swift's internal client sees it (the MD5 of
  the stored manifest, what 1space recorded).  So the manifest key's own
  S3 ETag equals the object's ``swift-slo-etag``: anyone can check that the
  two belong together.  1space also stored ``x-static-large-object`` (and
  ``x-object-manifest`` for DLOs), URL-quoted: ``headers.large_object_fields``.
* A DLO's identity is ``swift-source-dlo-etag``: the MD5 of its segments'
  ETags (hex strings) concatenated in listing order.
* To a Swift remote, segments keep their names and go to
  ``naming.swift_segments_container``; a segment already there with the
  same ETag is not copied again.  Segments combined into one (``convert_dlo``
  with ``min_segment_size``) are named ``<object>/<x-timestamp>/<NNNNNN>`` and
  carry ``combined-etag`` (MD5 of the ETags of what they hold).

S3's limits: parts of 5 MiB at least (except the last), 5 GiB at most, at
most 10,000 of them.  :func:`plan_parts` cuts the object's bytes into parts
that respect them, keeping one part per segment where it can (a part that
is exactly one segment is sent with that segment's ETag as Content-MD5).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass

from swift.common.utils import config_true_value

from onespace import headers as hdrs
from onespace.sync.decide import Action, Decision, decide_same_data
from onespace.sync.expiry import already_expired

KiB, MiB, GiB = 1024, 1024 ** 2, 1024 ** 3
S3_MIN_PART = 5 * MiB
S3_MAX_PART = 5 * GiB   # also the largest object one CopyObject may copy
S3_MAX_PARTS = 10000
SLO_MAX_DEPTH = 10       # Swift's own limit on nested SLOs
EMPTY_MD5 = hashlib.md5(b"").hexdigest()


class LargeObjectError(Exception):
    """The local large object cannot be synced as it is (a broken or
    unsupported manifest, a missing segment, too big for S3): retrying
    without a local change will not help."""
    retriable = False


class SourceChanged(LargeObjectError):
    """The local object (or a segment) changed while it was read: the next
    attempt reads the new version."""
    retriable = True


# ---------------------------------------------------------------- pieces

@dataclass(frozen=True)
class Piece:
    """A run of the large object's bytes, in order: ``length`` bytes from
    ``offset`` of one segment object, or inline ``data`` (SLO data segments).

    ``sub_slo`` marks a nested SLO not expanded yet (its manifest must be
    read; see :func:`slice_pieces`)."""
    container: str | None
    name: str | None
    offset: int
    length: int
    etag: str | None = None          # ETag of the whole segment object
    segment_size: int | None = None  # size of the whole segment object
    data: bytes | None = None
    sub_slo: bool = False

    @property
    def whole(self):
        """The piece is a whole segment object (its ETag describes it)."""
        return self.data is None and self.offset == 0 and self.length == self.segment_size

    @property
    def range_spec(self):
        """Swift manifest ``range`` ("first-last") when not the whole segment."""
        return None if self.whole else "%d-%d" % (self.offset, self.offset + self.length - 1)

    @property
    def identity(self):
        """What stands for the piece's bytes in combined ETags (Swift's SLO style)."""
        if self.data is not None:
            return hashlib.md5(self.data).hexdigest()
        if self.whole:
            return self.etag
        return "%s:%s;" % (self.etag, self.range_spec)


def parse_slo_manifest(body):
    """The entries of a stored SLO manifest (Swift's internal format:
    ``name``, ``bytes``, ``hash``, optional ``range``, ``sub_slo``, ``data``)."""
    try:
        entries = json.loads(body)
    except ValueError as e:
        raise LargeObjectError("SLO manifest is not valid JSON (%s)" % e) from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise LargeObjectError("SLO manifest is not a list of segments")
    return entries


def split_segment_path(path):
    container, _, obj = path.lstrip("/").partition("/")
    if not path.startswith("/") or not container or not obj:
        raise LargeObjectError("segment path %r is not /container/object" % path)
    return container, obj


def _swift_bytes(content_type):
    """``swift_bytes=N`` of a sub-SLO entry's content type, or None."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key == "swift_bytes" and value.isdigit():
            return int(value)
    return None


def slo_pieces(entries):
    """The pieces of an SLO manifest, nested SLOs left as ``sub_slo`` pieces."""
    pieces = []
    for index, entry in enumerate(entries):
        if "data" in entry:
            try:
                data = base64.b64decode(entry["data"], validate=True)
            except (ValueError, TypeError):
                raise LargeObjectError("segment %d: invalid inline data" % index) from None
            if data:
                pieces.append(Piece(None, None, 0, len(data), data=data))
            continue
        try:
            container, obj = split_segment_path(entry["name"])
            size = int(entry["bytes"])
            etag = entry["hash"]
        except (KeyError, TypeError, ValueError):
            raise LargeObjectError("segment %d: needs name, bytes and hash" % index) from None
        sub = str(entry.get("sub_slo", "")).lower() in ("1", "true", "yes")
        if sub:
            size = _swift_bytes(entry.get("content_type")) or size
        first, length = 0, size
        if entry.get("range"):
            try:
                a, _, b = str(entry["range"]).partition("-")
                first, last = int(a), int(b)
            except ValueError:
                raise LargeObjectError("segment %d: invalid range %r"
                                       % (index, entry["range"])) from None
            length = last - first + 1
            if first < 0 or length < 0 or last >= size:
                raise LargeObjectError("segment %d: range %r outside the segment"
                                       % (index, entry["range"]))
        if length:
            pieces.append(Piece(container, obj, first, length, etag, size, sub_slo=sub))
    return pieces


def slice_pieces(pieces, offset, length):
    """The pieces covering bytes ``offset`` .. ``offset + length - 1`` of the
    object made of ``pieces`` (how a range of a nested SLO is resolved)."""
    out, pos, end = [], 0, offset + length
    for p in pieces:
        p_end = pos + p.length
        lo, hi = max(pos, offset), min(p_end, end)
        if lo < hi:
            cut = lo - pos
            if p.data is not None:
                out.append(Piece(None, None, 0, hi - lo, data=p.data[cut:cut + hi - lo]))
            else:
                out.append(Piece(p.container, p.name, p.offset + cut, hi - lo, p.etag,
                                 p.segment_size, sub_slo=p.sub_slo))
        pos = p_end
    if pos < end:
        raise LargeObjectError("nested SLO is shorter than its parent manifest says")
    return out


def dlo_prefix(manifest_header):
    """(container, prefix) of a DLO's ``X-Object-Manifest`` (URL-quoted, as Swift reads it)."""
    from urllib.parse import unquote
    container, sep, prefix = unquote(manifest_header).partition("/")
    if not container or not sep:
        raise LargeObjectError("X-Object-Manifest %r is not <container>/<prefix>"
                               % manifest_header)
    return container, prefix


def listing_etag(value):
    """A container listing's ``hash`` without parameters (``; slo_etag=...``)."""
    return (value or "").split(";")[0].strip().strip('"').lower()


def dlo_pieces(container, listing):
    """The pieces of a DLO from the listing of its segments (name, bytes, hash)."""
    return [Piece(container, e["name"], 0, int(e["bytes"]), listing_etag(e["hash"]),
                  int(e["bytes"])) for e in listing if int(e["bytes"]) > 0]


def dlo_etag(listing):
    """``swift-source-dlo-etag``: MD5 of the segments' ETags, as 1space (and Swift) did."""
    digest = hashlib.md5()
    for entry in listing:
        digest.update(listing_etag(entry["hash"]).encode("ascii"))
    return digest.hexdigest()


def converted_manifest(container, listing):
    """The SLO manifest (Swift's stored format) a DLO becomes with ``convert_dlo``.

    Empty segments are left out (an SLO segment has at least one byte)."""
    entries = []
    for e in listing:
        if int(e["bytes"]) <= 0:
            continue
        entry = {"name": "/%s/%s" % (container, e["name"]), "bytes": int(e["bytes"]),
                 "hash": listing_etag(e["hash"])}
        for field in ("content_type", "last_modified"):
            if e.get(field):
                entry[field] = e[field]
        entries.append(entry)
    return json.dumps(entries).encode("utf-8")


def slo_etag(entries):
    """The ETag Swift shows clients for an SLO (MD5 over the segments' ETags,
    ranges and inline data).  1space's check for a Swift remote without
    ``swift-slo-etag``."""
    digest = hashlib.md5()
    for p in slo_pieces(entries):
        digest.update(p.identity.encode("ascii"))
    return digest.hexdigest()


def mpu_etag(part_md5s):
    """S3's ETag of a completed multipart upload."""
    digest = hashlib.md5(b"".join(bytes.fromhex(m) for m in part_md5s))
    return "%s-%d" % (digest.hexdigest(), len(part_md5s))


def combined_etag(pieces):
    """``combined-etag`` of a Swift segment made of several pieces."""
    return hashlib.md5("".join(p.identity for p in pieces).encode("ascii")).hexdigest()


# ---------------------------------------------------------------- parts

@dataclass(frozen=True)
class Span:
    """``length`` bytes from ``offset`` of piece ``piece`` (an index)."""
    piece: int
    offset: int
    length: int


@dataclass(frozen=True)
class Part:
    number: int
    spans: tuple

    @property
    def size(self):
        return sum(s.length for s in self.spans)


def _greedy(sizes, target, max_part):
    parts, spans, cur = [], [], 0

    def close():
        nonlocal spans, cur
        parts.append(Part(len(parts) + 1, tuple(spans)))
        spans, cur = [], 0

    for index, size in enumerate(sizes):
        offset = 0
        while offset < size:
            n = min(size - offset, max_part - cur)
            spans.append(Span(index, offset, n))
            cur += n
            offset += n
            if cur == max_part:
                close()
        if cur >= target:
            close()
    if spans:
        close()
    return parts


def plan_parts(sizes, min_part=S3_MIN_PART, max_part=S3_MAX_PART, max_parts=S3_MAX_PARTS):
    """Cut consecutive pieces of ``sizes`` bytes into multipart parts.

    Consecutive small pieces are combined until a part reaches ``min_part``;
    a piece larger than ``max_part`` is split; every part but the last is
    at least ``min_part`` (or ``max_part`` if smaller) and none is larger
    than ``max_part``.  When that would take more than ``max_parts`` parts,
    parts grow until it does not.  Empty pieces take no part; an empty
    object is one empty part.  Raises LargeObjectError when even
    ``max_parts`` parts of ``max_part`` bytes cannot hold the object.
    """
    if min_part < 1 or max_part < 1 or max_parts < 1:
        raise ValueError("part sizes and count must be positive")
    if any(s < 0 for s in sizes):
        raise ValueError("negative size")
    total = sum(sizes)
    if total > max_part * max_parts:
        raise LargeObjectError("%d bytes do not fit in %d parts of at most %d bytes"
                               % (total, max_parts, max_part))
    if total == 0:
        return (Part(1, ()),)
    target = min(min_part, max_part)
    parts = _greedy(sizes, target, max_part)
    if len(parts) > max_parts:
        # every part but the last holds >= target bytes, so
        # parts <= total // target + 1 <= max_parts with this target
        target = max_part if max_parts == 1 else min(max_part, -(-total // (max_parts - 1)))
        parts = _greedy(sizes, target, max_part)
    assert len(parts) <= max_parts
    return tuple(parts)


def plan_object_parts(size, part_size=S3_MIN_PART, max_part=S3_MAX_PART,
                      max_parts=S3_MAX_PARTS):
    """Parts for one plain object of ``size`` bytes: ``part_size`` each,
    larger if that would take more than ``max_parts``."""
    size_each = max(part_size, -(-size // max_parts))
    if size_each > max_part:
        raise LargeObjectError("%d bytes do not fit in %d parts of at most %d bytes"
                               % (size, max_parts, max_part))
    return plan_parts([size], size_each, size_each, max_parts)


def part_md5(part, pieces):
    """The Content-MD5 (hex) known before reading a part: the segment's own
    ETag when the part is exactly one whole segment, else None."""
    if len(part.spans) != 1:
        return None
    span = part.spans[0]
    piece = pieces[span.piece]
    if piece.data is not None:
        return hashlib.md5(piece.data).hexdigest()
    if piece.whole and span.offset == 0 and span.length == piece.length and piece.etag:
        return piece.etag
    return None


def part_ranges(parts):
    """(first, last) byte of the object each part covers, for UploadPartCopy."""
    out, pos = [], 0
    for part in parts:
        out.append((pos, pos + part.size - 1))
        pos += part.size
    return out


def span_pieces(part, pieces):
    """The pieces a part (or a combined Swift segment) is made of, cut to its spans."""
    out = []
    for s in part.spans:
        p = pieces[s.piece]
        if p.data is not None:
            out.append(Piece(None, None, 0, s.length, data=p.data[s.offset:s.offset + s.length]))
        else:
            out.append(Piece(p.container, p.name, p.offset + s.offset, s.length, p.etag,
                             p.segment_size))
    return out


# ---------------------------------------------------------------- the source

@dataclass(frozen=True)
class LargeSource:
    """What a local large object is made of, as read by ``large_io``."""
    kind: str                    # "slo" or "dlo"
    etag: str                    # swift-slo-etag (SLO) / swift-source-dlo-etag (DLO)
    pieces: tuple                # Piece, in order (nested SLOs expanded)
    manifest: bytes | None = None    # SLO: the stored manifest; DLO: None
    entries: tuple = ()          # SLO: the parsed manifest entries (top level)
    segments: tuple = ()         # (container, name, etag) of every object it uses
    dlo_container: str | None = None
    dlo_prefix: str | None = None
    listing: tuple = ()          # DLO: the listing entries of its segments

    @property
    def size(self):
        return sum(p.length for p in self.pieces)


def converts(source, convert_dlo):
    """Does this DLO become an SLO remotely?  (An empty one cannot.)"""
    return source.kind == "dlo" and bool(convert_dlo and source.pieces)


def s3_manifest_body(source, convert_dlo):
    """What goes to the ``.manifests`` key (None: nothing)."""
    if source.kind == "slo":
        return source.manifest
    if converts(source, convert_dlo):
        return converted_manifest(source.dlo_container, source.listing)
    return None


def s3_internal_fields(local_headers, source, convert_dlo):
    """The S3 metadata onespace (and 1space) keeps beside the user metadata."""
    fields = hdrs.large_object_fields(local_headers)
    if local_headers.get("x-delete-at"):  # the shunt's expiry of an archived copy
        fields[hdrs.DELETE_AT_KEY] = local_headers["x-delete-at"]
    if source.kind == "slo":
        fields[hdrs.SLO_ETAG_KEY] = source.etag
    else:
        fields[hdrs.DLO_ETAG_KEY] = source.etag
        if converts(source, convert_dlo):
            fields.pop(hdrs.DLO_MANIFEST_KEY, None)
            fields[hdrs.SLO_HEADER_KEY] = "True"
    return fields


def swift_manifest(pieces, remote_path):
    """A ``multipart-manifest=put`` body for a Swift remote.

    ``remote_path(piece)`` names the remote copy of a piece's segment
    ("/container/object"); ranges and inline data are kept."""
    out = []
    for p in pieces:
        if p.data is not None:
            out.append({"data": base64.b64encode(p.data).decode("ascii")})
            continue
        entry = {"path": remote_path(p), "etag": p.etag, "size_bytes": p.segment_size}
        if p.range_spec:
            entry["range"] = p.range_spec
        out.append(entry)
    return out


# ---------------------------------------------------------------- decisions

def stored_as_large(remote):
    """Was this S3 object stored as an SLO (so a manifest may sit beside it)?
    ``swift-slo-etag`` says so; objects 1space wrote may only carry
    ``x-static-large-object`` or a multipart ETag."""
    return (hdrs.SLO_ETAG_KEY in remote.internal
            or config_true_value(remote.internal.get(hdrs.SLO_HEADER_KEY))
            or "-" in (remote.etag or ""))


def remote_matches(source, remote, protocol, convert_dlo=False):
    """Does ``remote`` hold the data of ``source`` (metadata aside)?"""
    if remote.size is not None and remote.size != source.size:
        return False
    if protocol == "swift":
        as_slo = source.kind == "slo" or converts(source, convert_dlo)
        remote_slo = config_true_value(remote.headers.get("x-static-large-object"))
        # a DLO goes as an SLO when the remote holds stale segments under its prefix
        if as_slo != remote_slo and not (source.kind == "dlo" and remote_slo):
            return False
    if source.kind == "dlo":
        return remote.internal.get(hdrs.DLO_ETAG_KEY) == source.etag
    stored = remote.internal.get(hdrs.SLO_ETAG_KEY)
    if stored is not None:
        return stored == source.etag
    # uploaded by 1space, which did not always record swift-slo-etag
    if protocol == "swift":
        return remote.etag == slo_etag(source.entries)
    if source.pieces and all(p.whole for p in source.pieces):
        return remote.etag == mpu_etag([p.etag for p in source.pieces])
    return False


def decide_large(local, source, remote, mapping, delete_at=None):
    """What to do with a live SLO/DLO, once its source and the remote
    (with its metadata) are known; ``delete_at`` as for ``decide_object``."""
    if already_expired(delete_at, time.time()):
        return Decision(Action.SKIP, "remote expiry %d has passed" % delete_at)
    if remote is None:
        return Decision(Action.UPLOAD, "remote missing")
    if not remote_matches(source, remote, mapping["protocol"], mapping.get("convert_dlo")):
        return Decision(Action.UPLOAD, "remote differs")
    return decide_same_data(local, remote, mapping, delete_at)
