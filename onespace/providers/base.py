"""The remote store as onespace sees it: one interface, two backends.

Sync, migrator and shunt only talk to a :class:`Provider`; whether the
remote is S3 (boto3) or Swift (swiftclient) is decided once, by
:func:`onespace.providers.make_provider`.  Every failure leaves a provider as
a :class:`ProviderError` whose one-line message names the mapping (its
label), the operation, the key and the reason, and whose ``retriable`` flag
tells the caller whether trying again later can help.  Messages never carry
the secret.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from onespace.headers import INTERNAL_KEYS, SOURCE_ETAG_KEY

#: Size of the chunks a streamed GET yields.
CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Seconds to connect and to wait for each read, and attempts in all."""
    connect: float
    read: float
    attempts: int


#: The daemons: a slow remote is waited for; the row is retried anyway.
DAEMON_TIMEOUTS = Timeouts(connect=10, read=60, attempts=2)
#: The shunt answers a client who waits: a remote that hangs fails fast.
INTERACTIVE_TIMEOUTS = Timeouts(connect=3, read=10, attempts=1)


@dataclass
class RemoteObject:
    """One remote object (or, with ``is_prefix``, one "directory" of a
    delimiter listing), the same shape for S3 and Swift."""

    name: str
    etag: str | None = None          # unquoted, lowercase
    size: int | None = None          # whole object, also for a ranged GET
    last_modified: float | None = None  # epoch seconds
    content_type: str | None = None
    metadata: dict = field(default_factory=dict)   # user metadata {lowercase name: str}
    internal: dict = field(default_factory=dict)   # onespace/1space fields, e.g. swift-slo-etag
    headers: dict = field(default_factory=dict)    # raw response headers, lowercase names
    is_prefix: bool = False

    @property
    def source_etag(self):
        """The MD5 of the plain object this is a copy of: one uploaded to S3
        in parts keeps it in ``swift-source-etag`` (its own ETag is then
        ``<md5>-<parts>``)."""
        return self.internal.get(SOURCE_ETAG_KEY) or self.etag


class Listing(list):
    """One page of a listing.  ``truncated`` says whether more entries may
    follow (S3 says so explicitly; Swift by returning a full page)."""

    def __init__(self, entries=(), truncated=False):
        super().__init__(entries)
        self.truncated = truncated


# ---------------------------------------------------------------- errors

def is_retriable_status(status):
    """Whether an HTTP error status is worth retrying (5xx, timeouts, slow down)."""
    return status is not None and (status >= 500 or status in (408, 429, 498))


class ProviderError(Exception):
    """A remote operation failed; the message is one line and secret-free."""

    headline = None  # subclasses: fixed wording instead of "<op> <key> failed"

    def __init__(self, label, op, key=None, status=None, reason="", endpoint=None,
                 retriable=None):
        self.label = label
        self.op = op
        self.key = key
        self.status = status
        self.reason = reason
        self.endpoint = endpoint
        self.retriable = is_retriable_status(status) if retriable is None else retriable
        super().__init__(self._message())

    def _message(self):
        what = "%s %r" % (self.op, self.key) if self.key is not None else self.op
        detail = " ".join(str(p) for p in (self.status, self.reason) if p)
        text = "%s: %s" % (self.label, self.headline or what + " failed")
        if detail:
            text += " (%s)" % detail
        if self.endpoint:
            text += " at %s" % self.endpoint
        if self.headline:
            text += ", during %s" % what
        return " ".join(text.split())  # one line, whatever the server said


class NotFound(ProviderError):
    """The object, bucket or container does not exist (404)."""


class RemoteUnavailable(ProviderError):
    """No usable answer: connection refused or reset, timeout, 5xx, slow down."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("retriable", True)
        super().__init__(*args, **kwargs)


class AuthFailed(ProviderError):
    """The credentials were refused (401/403); retrying will not help."""

    headline = "authentication failed"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("retriable", False)
        super().__init__(*args, **kwargs)


class IntegrityError(ProviderError):
    """The remote did not store what we sent (checksum mismatch); the next
    attempt reads the data again, so it is worth retrying."""

    headline = "integrity check failed"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("retriable", True)
        super().__init__(*args, **kwargs)


def error_class(status):
    """The ProviderError subclass for an HTTP error status."""
    if status in (401, 403):
        return AuthFailed
    if status == 404:
        return NotFound
    if is_retriable_status(status):
        return RemoteUnavailable
    return ProviderError


# ---------------------------------------------------------------- helpers

def header_text(value):
    """A response header's text: http.client reads header bytes as latin-1,
    so UTF-8 sent by the server (a Content-Type parameter 'café') comes back
    as 'cafÃ©'; this undoes that, and leaves anything else as it is."""
    if not value:
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def unquote_etag(etag):
    """ETags arrive quoted or not depending on server and call; compare them bare."""
    return etag.strip().strip('"').lower() if etag else None


def headers_after_post(current, kept, given):
    """The raw headers a metadata update sends besides metadata and type:
    the ``kept`` ones the object has (a POST, or an S3 REPLACE copy, would
    drop them), replaced by those ``given``; a given None removes one."""
    out = {name: current[name] for name in kept if name in current}
    out.update({name.lower(): value for name, value in (given or {}).items()})
    return {name: value for name, value in out.items() if value is not None}


def updated_internal(current, changes):
    """Internal fields ``current`` with ``changes`` applied (None removes a field)."""
    merged = dict(current)
    merged.update(changes or {})
    return {name: value for name, value in merged.items() if value is not None}


def split_internal(meta):
    """``{name: value}`` -> (user metadata, internal fields), names lowercased."""
    user, internal = {}, {}
    for name, value in meta.items():
        name = name.lower()
        (internal if name in INTERNAL_KEYS else user)[name] = value
    return user, internal


def total_size(headers):
    """Whole-object size from Content-Range (ranged GET) or Content-Length."""
    content_range = headers.get("content-range")
    if content_range and "/" in content_range:
        total = content_range.rsplit("/", 1)[1]
        if total.isdigit():
            return int(total)
    length = headers.get("content-length")
    return int(length) if length is not None else None


class Body:
    """A streamed object body: iterate for bytes chunks, always ``close()``.

    ``release`` runs once, on close or when the stream ends or fails, so
    the connection behind it goes back to its pool in every case.
    """

    def __init__(self, chunks, release):
        self._chunks = iter(chunks)
        self._release = release

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self._chunks)
        except BaseException:  # the end, or a failure: the stream is done either way
            self.close()
            raise

    def close(self):
        release, self._release = self._release, None
        if release:
            release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- interface

class Provider(ABC):
    """A bucket (S3) or container (Swift) of one remote store.

    ``label`` names the mapping in every error.  Keys are str.  Instances
    share their connection pool with the providers made by
    :meth:`with_bucket`, so they may be used from many green threads.
    """

    protocol = None

    def __init__(self, label, bucket, endpoint, secret=None):
        self.label = label
        self.bucket = bucket
        self.endpoint = endpoint
        self._secret = secret

    def with_bucket(self, name):
        """The same remote and connection pool, another bucket/container."""
        other = copy.copy(self)
        other.bucket = name
        return other

    def error(self, cls, op, key=None, reason="", **kwargs):
        """An exception of class ``cls`` about ``op`` on this provider's
        bucket.  Server and library texts are scrubbed of the secret, in
        case one ever echoes it."""
        where = self.bucket if key is None else "%s/%s" % (self.bucket, key)
        if self._secret:
            reason = str(reason).replace(self._secret, "***")
        return cls(self.label, op, where, reason=reason, endpoint=self.endpoint, **kwargs)

    @abstractmethod
    def check_access(self, create=False):
        """Check credentials and that the bucket/container exists; with
        ``create`` make a missing one.  Raises AuthFailed / ProviderError."""

    @abstractmethod
    def head(self, key):
        """The object's RemoteObject, or None if it does not exist."""

    @abstractmethod
    def get(self, key, byte_range=None, chunk_size=CHUNK_SIZE):
        """``(RemoteObject, Body)``, streamed in chunks of up to ``chunk_size``
        bytes; ``byte_range=(first, last)`` (inclusive) reads part of it.
        Raises NotFound if absent."""

    @abstractmethod
    def put(self, key, body, size, md5_hex, content_type=None, metadata=None,
            internal=None, headers=None):
        """Upload ``size`` bytes from ``body`` (bytes, or anything with
        ``read(n)``; it is streamed, never rewound) and return the ETag.
        The server checks the data against ``md5_hex``; a mismatch raises
        IntegrityError and leaves no new object behind.  ``metadata`` is
        user metadata ``{name: str}``, ``internal`` onespace's own fields
        (e.g. ``swift-slo-etag``), ``headers`` extra raw HTTP headers (e.g.
        X-Delete-At for Swift); None values in either are left out (a new
        object has nothing to remove), so callers may pass what a POST takes."""

    @abstractmethod
    def post_metadata(self, key, content_type, metadata, internal=None, headers=None):
        """Replace user metadata and content type without sending the data
        again; everything else about the object stays as it was.  Internal
        fields are kept but for those ``internal`` names (None removes one);
        so are content headers and X-Delete-At but for those ``headers``
        names (None removes one)."""

    @abstractmethod
    def delete(self, key):
        """Delete the object; False if it was already absent."""

    @abstractmethod
    def list(self, prefix="", marker="", delimiter=None, limit=1000, end_marker=None):
        """One page (a :class:`Listing`) of entries with marker < name <
        end_marker, in key order; "directories" have ``is_prefix``."""

    def iter_list(self, prefix="", marker="", delimiter=None, limit=1000, end_marker=None):
        """Every entry of the listing, page by page."""
        while True:
            page = self.list(prefix=prefix, marker=marker, delimiter=delimiter,
                             limit=limit, end_marker=end_marker)
            yield from page
            if not page or not page.truncated:
                return
            marker = page[-1].name

    @abstractmethod
    def close(self):
        """Drop idle connections (they are made again if the provider is reused)."""
