"""Swift <-> S3 object metadata, translated the way 1space did.

1space (s3_sync/utils.py ``convert_to_s3_headers``, ``sanitize_s3_header``,
``decode_s3_header``) stored ``X-Object-Meta-Foo: v`` as S3 user metadata
``foo`` (``x-amz-meta-foo`` on the wire).  Values made only of
``string.printable`` characters went as they were; anything else went
RFC 2047 encoded by Python 2's ``email.header.Header(value, 'UTF-8')``,
with the first encoded word's ``=?utf-8?q?``/``=?utf-8?b?`` upper-cased.
Keys were only lower-cased, never encoded.
"""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Mapping
from datetime import datetime, timezone
from email.errors import HeaderParseError
from email.header import decode_header
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

SWIFT_META_PREFIX = "x-object-meta-"
S3_META_PREFIX = "x-amz-meta-"

SLO_ETAG_KEY = "swift-slo-etag"           # SLO's own ETag (GCS, combined segments)
DLO_ETAG_KEY = "swift-source-dlo-etag"    # md5 of the DLO segment ETags
COMBINED_ETAG_KEY = "combined-etag"       # segment built from several small ones
DLO_MANIFEST_KEY = "x-object-manifest"    # DLO manifest header, URL-quoted
SLO_HEADER_KEY = "x-static-large-object"  # SLO flag, URL-quoted
# onespace's own: the Swift ETag of a plain object uploaded to S3 in parts
# (its S3 ETag is then "<md5>-<parts>", not the object's MD5)
SOURCE_ETAG_KEY = "swift-source-etag"
# The local object's X-Delete-At, on S3 copies (which have no expiry of their
# own): the shunt stops serving the copy then, and a restore keeps it.
DELETE_AT_KEY = "swift-delete-at"
INTERNAL_KEYS = frozenset({SLO_ETAG_KEY, DLO_ETAG_KEY, COMBINED_ETAG_KEY,
                           DLO_MANIFEST_KEY, SLO_HEADER_KEY, SOURCE_ETAG_KEY,
                           DELETE_AT_KEY})

#: Object headers that describe the content, kept beside the data by Swift
#: and S3 alike: they travel with every copy (sync, archive, restore, migration).
CONTENT_HEADERS = ("content-encoding", "content-disposition", "content-language",
                   "cache-control", "expires")


def content_headers(headers, absent=False, s3=False):
    """The CONTENT_HEADERS that ``headers`` (lowercase names) sets.

    With ``absent`` the ones it lacks come too, as None: a metadata update
    of a remote copy then removes them (a Swift POST removed them locally).
    With ``s3``, Expires as S3 servers take it (:func:`s3_expires`).
    """
    out = {name: headers.get(name) or None for name in CONTENT_HEADERS}
    if s3 and out["expires"]:
        out["expires"] = s3_expires(out["expires"])
    return out if absent else {name: value for name, value in out.items() if value}


def content_headers_equal(remote, local, s3=False):
    """Does a remote copy carry the local object's CONTENT_HEADERS (in the
    form sent to an S3 remote, with ``s3``)?"""
    return content_headers(remote) == content_headers(local, s3=s3)


_EPOCH_DATE = "Thu, 01 Jan 1970 00:00:00 GMT"


def s3_expires(value):
    """An Expires value as an HTTP-date, the only form S3 servers accept
    (SeaweedFS refuses even a one-digit day).  Swift keeps any string, and
    HTTP reads one that is no date ("0", "-1") as already expired: that
    becomes the epoch.  An ISO 8601 date is taken as meant."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return _EPOCH_DATE
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        return format_datetime(when.astimezone(timezone.utc), usegmt=True)
    except (OverflowError, ValueError):
        return _EPOCH_DATE


# Container and account metadata that configures the cluster holding it
# (quotas, temp URL keys: secrets) or how it serves (CORS, static web): the
# operator of each cluster's own, never copied between clusters, nor removed
# because the other side lacks it.  A remote quota would refuse archived data.
_CLUSTER_OWN_META = ("quota", "temp-url-key", "access-control-", "web-")


def cluster_own_metadata(name):
    """Is ``X-Container-Meta-*`` / ``X-Account-Meta-*`` header ``name`` one
    that stays with its cluster?"""
    name = name.lower()
    for prefix in ("x-container-meta-", "x-account-meta-"):
        if name.startswith(prefix):
            return name[len(prefix):].startswith(_CLUSTER_OWN_META)
    return False


_PRINTABLE = frozenset(string.printable)
# Python 2 Header('UTF-8') kept every encoded word within a 75-column line:
# 12 columns of "=?utf-8?x?...?=" leave 63 for the payload.
_MAX_WORD_PAYLOAD = 63
_QP_SAFE = frozenset(b"-!*+/" + string.ascii_letters.encode() + string.digits.encode())
# Python 2's email.header only saw an encoded word when whitespace or the end
# of the value followed it; Python 3's decoder is looser.
_ENCODED_WORD = re.compile(r"=\?[^?]*?\?[qb]\?.*?\?=(?=[ \t]|$)", re.I | re.M)


def _qp_len(data: bytes) -> int:
    return sum(1 if b in _QP_SAFE or b == 0x20 else 3 for b in data)


def _b64_len(data: bytes) -> int:
    return (len(data) + 2) // 3 * 4


def _encode_word(data: bytes) -> str:
    # Python 2 took base64 only when strictly shorter than quoted-printable.
    if _b64_len(data) < _qp_len(data):
        return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="
    text = "".join("_" if b == 0x20 else chr(b) if b in _QP_SAFE else "=%02X" % b
                   for b in data)
    return "=?utf-8?q?" + text + "?="


def mime_encode(value: str) -> str:
    """Encode a metadata value for S3 as 1space did (RFC 2047 when needed).

    Long values are split into encoded words at the same character
    boundaries as Python 2; the words are joined by a space where Python 2
    folded with "\\n " (a line fold that HTTP/1.1 servers may reject).
    """
    if all(c in _PRINTABLE for c in value) and not _ENCODED_WORD.search(value):
        return value
    # (a printable value that reads as an encoded word is encoded too: sent
    # as it is, every reader -- 1space, the shunt -- would decode it)
    words, chunk = [], ""
    for char in value:
        data = (chunk + char).encode("utf-8")
        if chunk and min(_b64_len(data), _qp_len(data)) > _MAX_WORD_PAYLOAD:
            words.append(_encode_word(chunk.encode("utf-8")))
            chunk = char
        else:
            chunk += char
    words.append(_encode_word(chunk.encode("utf-8")))
    first = words[0]
    words[0] = "=?UTF-8?" + first[8].upper() + first[9:]
    return " ".join(words)


def mime_decode(value: str) -> str:
    """Inverse of :func:`mime_encode`; like 1space, anything that does not
    start with a UTF-8 encoded word is returned unchanged."""
    if not _ENCODED_WORD.search(value):
        return value
    try:
        data, charset = decode_header(value)[0]
    except (HeaderParseError, ValueError):
        return value
    if charset is None or charset.lower() not in ("utf-8", "utf8"):
        return value
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _py2_quote(value: str) -> str:
    # Python 2's urllib.quote escaped '~'; Python 3.7+ leaves it alone.
    return quote(value, safe="/").replace("~", "%7E")


def user_metadata(swift_headers: Mapping[str, str]) -> dict[str, str]:
    """``X-Object-Meta-*`` of a Swift object as ``{lowercased suffix: value}``,
    leaving out the fields 1space reserved for itself."""
    meta = {}
    for name, value in swift_headers.items():
        lname = name.lower()
        if lname.startswith(SWIFT_META_PREFIX):
            key = lname[len(SWIFT_META_PREFIX):]
            if key not in INTERNAL_KEYS:
                meta[key] = value
    return meta


def large_object_fields(swift_headers: Mapping[str, str]) -> dict[str, str]:
    """The S3 metadata 1space derived from a Swift large object's headers
    (``x-object-manifest``, ``x-static-large-object``, URL-quoted)."""
    fields = {}
    for name, value in swift_headers.items():
        lname = name.lower()
        if lname in (DLO_MANIFEST_KEY, SLO_HEADER_KEY):
            fields[lname] = _py2_quote(value)
    return fields


def to_s3_metadata(user_meta: Mapping[str, str],
                   extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """boto3 ``Metadata=`` for user metadata; ``extra`` (internal fields such
    as :data:`SLO_ETAG_KEY`) is added verbatim, but for None values."""
    meta = {key.lower(): mime_encode(value) for key, value in user_meta.items()}
    meta.update({key: value for key, value in (extra or {}).items() if value is not None})
    return meta


def from_s3_metadata(meta: Mapping[str, str]) -> dict[str, str]:
    """Swift headers (``X-Object-Meta-<key>``) for the user metadata of an S3
    object; accepts boto3 ``Metadata`` or raw ``x-amz-meta-*`` headers."""
    headers = {}
    for key, value in meta.items():
        key = key.lower()
        if key.startswith(S3_META_PREFIX):
            key = key[len(S3_META_PREFIX):]
        if key not in INTERNAL_KEYS:
            headers["X-Object-Meta-" + key] = mime_decode(value)
    return headers


def to_swift_headers(user_meta: Mapping[str, str]) -> dict[str, str]:
    """Headers that set ``user_meta`` on a remote Swift object."""
    return {"X-Object-Meta-" + key: value for key, value in user_meta.items()}


def _normalized(meta: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key, value in meta.items():
        key = key.lower()
        for prefix in (SWIFT_META_PREFIX, S3_META_PREFIX):
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        if key not in INTERNAL_KEYS:
            out[key] = value
    return out


def metadata_equal(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    """Whether two sets of user metadata agree, so that no metadata-only
    update is needed.  Keys compare case-insensitively with or without their
    ``X-Object-Meta-``/``x-amz-meta-`` prefix; values compare exactly (S3
    values decoded first: :func:`from_s3_metadata`); internal fields are
    ignored."""
    return _normalized(a) == _normalized(b)
