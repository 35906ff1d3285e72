"""Remote objects shown as Swift objects (pure, no I/O).

A remote object (:class:`onespace.providers.RemoteObject`) becomes the
headers Swift would have sent for the local object: ETag, Content-Type,
Last-Modified, X-Timestamp, ``X-Object-Meta-*`` (S3 metadata decoded from
RFC 2047 by the provider), the content headers kept beside the data, and
``X-Static-Large-Object`` for an archived SLO.
"""

from __future__ import annotations

import hashlib
import json
import time

from swift.common.utils import Timestamp, config_true_value

from onespace import headers as hdrs
from onespace.sync import large
from onespace.sync.decide import ARCHIVE_OFFSET

#: Request headers that make a GET conditional (answered after a HEAD of the remote).
CONDITIONAL_HEADERS = ("HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE",
                       "HTTP_IF_UNMODIFIED_SINCE", "HTTP_RANGE")


def delete_at(obj):
    """When the local object the remote copy stands for expires (int), or
    None: a Swift remote's own X-Delete-At, or an S3 copy's record of it."""
    value = obj.internal.get(hdrs.DELETE_AT_KEY) or obj.headers.get("x-delete-at")
    try:
        return int(value) if value else None
    except ValueError:
        return None


def expired(obj, now=None):
    """Has the local object the remote copy stands for expired?"""
    expires = delete_at(obj)
    return expires is not None and expires <= (time.time() if now is None else now)


def deleted_here(backend_timestamp):
    """Does a local 404 mean the object was deleted (or expired) here, so the
    remote copy must not be served or restored?  Swift's 404 names its
    tombstone's time in X-Backend-Timestamp; a name never written has none.
    The sync daemon's own archive delete carries ARCHIVE_OFFSET: that object
    lives on remotely."""
    if not backend_timestamp:
        return False
    try:
        return Timestamp(backend_timestamp).offset != ARCHIVE_OFFSET
    except ValueError:
        return False  # not a time stamp: no tombstone to go by


def is_slo(obj):
    """Whether a remote object is an archived SLO (S3: ``swift-slo-etag`` or
    the URL-quoted ``x-static-large-object`` field; Swift: its header)."""
    if hdrs.SLO_ETAG_KEY in obj.internal:
        return True
    flag = obj.internal.get(hdrs.SLO_HEADER_KEY) or obj.headers.get(hdrs.SLO_HEADER_KEY)
    return config_true_value(flag)


def manifest_entries(body):
    """The parsed stored manifest, or None when it cannot be used."""
    try:
        return large.parse_slo_manifest(body)
    except large.LargeObjectError:
        return None


def swift_etag(obj, manifest=None):
    """The ETag Swift showed for the object before it was archived.

    * SLO: computed from its stored manifest, as Swift's SLO middleware
      does; without the manifest, ``swift-slo-etag`` as stored.
    * plain object uploaded to S3 in parts: ``swift-source-etag``.
    * a Swift remote's SLO: its own ETag (made of the same segments).
    * otherwise the remote ETag (S3's MD5 of a single-part object, or
      Swift's own ETag).
    """
    if manifest is not None:
        try:
            return large.slo_etag(manifest)
        except large.LargeObjectError:
            pass
    if str(obj.headers.get(hdrs.SLO_HEADER_KEY)).lower() == "true":
        return obj.etag  # a Swift remote's SLO: the same segments, the same ETag
    return stored_etag(obj) or obj.etag


def stored_etag(obj):
    """The Swift ETag an S3 copy recorded beside its own, or None: an SLO's
    manifest ETag (``swift-slo-etag``, what Swift lists as its ``hash``), a
    plain object uploaded in parts (``swift-source-etag``)."""
    for key in (hdrs.SLO_ETAG_KEY, hdrs.SOURCE_ETAG_KEY):
        if obj.internal.get(key):
            return obj.internal[key].strip('"').lower()
    return None


def swift_headers(obj, etag, location=None):
    """Swift response headers (native str values) for a remote object."""
    out = {"Content-Type": obj.content_type or "application/octet-stream",
           "Accept-Ranges": "bytes"}
    if etag:
        out["Etag"] = etag
    if obj.size is not None:
        out["Content-Length"] = str(obj.size)
    if obj.last_modified is not None:
        out["X-Timestamp"] = "%.5f" % obj.last_modified
    out.update(_described_by(obj))
    if is_slo(obj):
        # as Swift's SLO middleware answers: the SLO ETag quoted, the
        # manifest's own MD5 beside it
        out["X-Static-Large-Object"] = "True"
        if etag:
            out["Etag"] = '"%s"' % etag
        if obj.internal.get(hdrs.SLO_ETAG_KEY):
            out["X-Manifest-Etag"] = obj.internal[hdrs.SLO_ETAG_KEY].strip('"').lower()
    if location:
        out["Content-Location"] = location
    return out


def restore_headers(obj, etag=None):
    """Headers of the local PUT that restores a plain remote object."""
    out = {"Content-Type": obj.content_type or "application/octet-stream"}
    if etag:
        out["Etag"] = etag
    out.update(_described_by(obj))  # X-Delete-At too: the restored copy expires
    return out


def _described_by(obj):
    """The Swift headers that describe the object a remote copy stands for:
    its content headers, X-Delete-At and user metadata."""
    out = {name.title(): value for name, value in hdrs.content_headers(obj.headers).items()}
    expires = delete_at(obj)
    if expires is not None:
        out["X-Delete-At"] = str(expires)
    out.update(hdrs.to_swift_headers(dict(sorted(obj.metadata.items()))))
    return out


def slo_put_manifest(entries):
    """The ``multipart-manifest=put`` body rebuilding a stored SLO manifest,
    or None when it holds what a simple restore cannot replay (inline data,
    nested SLOs)."""
    out = []
    for entry in entries:
        if "data" in entry or entry.get("sub_slo") or "name" not in entry:
            return None
        segment = {"path": entry["name"], "etag": entry.get("hash"),
                   "size_bytes": entry.get("bytes")}
        if entry.get("range"):
            segment["range"] = entry["range"]
        out.append(segment)
    return json.dumps(out).encode("utf-8")


def hashlib_md5(data):
    """Hex MD5 of ``data`` (the ETag Swift gives a manifest it returns)."""
    return hashlib.md5(data).hexdigest()
