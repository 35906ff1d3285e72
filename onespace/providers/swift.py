"""Swift remotes through python-swiftclient (tempauth v1, keystone v2/v3).

A ``swiftclient.Connection`` holds one HTTP connection and is not safe for
concurrent use, so a provider keeps a pool of them, made lazily, that share
one token: the first connection authenticates, the others start from its
storage URL and token, and whichever meets a 401 re-authenticates and
publishes the new token.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import queue
import re
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests
import swiftclient
from swiftclient import ClientException
from swiftclient import client as swiftclient_module

from onespace.headers import CONTENT_HEADERS, SWIFT_META_PREFIX
from onespace.naming import has_dot_segment
from onespace.providers.base import (
    CHUNK_SIZE, DAEMON_TIMEOUTS, AuthFailed, Body, IntegrityError, Listing, NotFound, Provider,
    ProviderError, RemoteObject, RemoteUnavailable, error_class, split_internal,
    header_text, headers_after_post, total_size, unquote_etag, updated_internal)

# swiftclient's own retries (it still re-authenticates on a 401): none, so
# that every error is the server's own; onespace retries rows, with backoff.
# Its retries could not help streamed uploads anyway: they cannot be rewound.
RETRIES = 0

# Object headers a Swift POST replaces with whatever the POST carries, so a
# metadata update must send them again or they are lost (X-Delete-At!).
KEPT_ON_POST = ("x-delete-at", "x-object-manifest") + CONTENT_HEADERS

# swiftclient logs up to 16 characters of X-Auth-Key and tokens at DEBUG
# level; a log line must never hold any part of a secret.
swiftclient_module.logger_settings["reveal_sensitive_prefix"] = 0


def connection_kwargs(settings, timeouts=DAEMON_TIMEOUTS):
    """``swiftclient.Connection`` arguments for a 1space mapping.

    tempauth (v1) when ``auth_type`` is absent; keystone v2 takes
    ``tenant_name``; keystone v3 takes the project and domain names, with
    ``domain_name`` as the default for both the user's and the project's
    domain (swiftclient only scopes tokens to projects).
    """
    kwargs = {"authurl": settings["aws_endpoint"], "user": settings["aws_identity"],
              "key": settings["aws_secret"], "retries": RETRIES, "os_options": {},
              "timeout": (timeouts.connect, timeouts.read)}
    auth_type = settings.get("auth_type")
    if auth_type == "keystone_v2":
        kwargs["auth_version"] = "2"
        kwargs["tenant_name"] = settings.get("tenant_name")
    elif auth_type == "keystone_v3":
        kwargs["auth_version"] = "3"
        domain = settings.get("domain_name")
        options = {"project_name": settings.get("project_name"),
                   "project_domain_name": settings.get("project_domain_name") or domain,
                   "user_domain_name": settings.get("user_domain_name") or domain}
        kwargs["os_options"] = {k: v for k, v in options.items() if v}
    if auth_type:
        kwargs["timeout"] = timeouts.read  # keystoneclient takes a number, not a pair
    return kwargs


def account_url(storage_url, account):
    """The storage URL of another account on the same cluster (a reseller
    admin acting on ``account``): only the last path segment changes."""
    parts = urlsplit(storage_url)
    base = parts.path.rstrip("/").rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, base + "/" + quote(account), "", ""))


def swift_error(exc):
    """(exception class, status, reason) for what swiftclient raised."""
    if isinstance(exc, ClientException):
        status = exc.http_status
        if status is None:  # raised before any response, e.g. by keystone
            if exc.msg.startswith(("Unauthorized", "Authorization Failure")):
                return AuthFailed, None, exc.msg
            return ProviderError, None, exc.msg
        body = exc.http_response_content or b""
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        body = " ".join(re.sub(r"<[^>]*>", " ", body).split())[:200]  # Swift's are HTML
        reason = exc.http_reason or ""
        if body.startswith(reason):  # the body often repeats the reason
            reason = body or reason
        else:
            reason = (reason + " " + body).strip()
        cls = IntegrityError if status == 422 else error_class(status)
        return cls, status, reason
    return RemoteUnavailable, None, "%s: %s" % (type(exc).__name__, exc)


def _raw_headers(conn):
    """The last response's headers, lowercased, values as sent.  swiftclient
    URL-unquotes the headers it returns ('a%41' comes back 'aA'), which
    would make metadata look changed on every comparison."""
    return {k.lower(): v for k, v in conn.http_conn[1].resp.getheaders()}


def _timestamp(headers):
    if headers.get("x-timestamp"):
        return float(headers["x-timestamp"])
    if headers.get("last-modified"):
        parsed = datetime.datetime.strptime(headers["last-modified"],
                                            "%a, %d %b %Y %H:%M:%S GMT")
        return parsed.replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


def _listing_time(value):
    return datetime.datetime.fromisoformat(value).replace(
        tzinfo=datetime.timezone.utc).timestamp()


class ConnectionPool:
    """Up to ``size`` swiftclient Connections, made on demand, one token."""

    def __init__(self, kwargs, size, remote_account=None):
        self._kwargs = kwargs
        self._remote_account = remote_account
        self._auth = None  # (storage URL, token) shared by every connection
        self._idle = queue.LifoQueue()  # reuse warm connections before making more
        for _ in range(size):
            self._idle.put(None)  # a slot; its connection is made when first needed

    def _new_connection(self):
        if self._auth:
            url, token = self._auth
            return swiftclient.Connection(preauthurl=url, preauthtoken=token, **self._kwargs)
        conn = swiftclient.Connection(**self._kwargs)
        url, token = conn.get_auth()
        if self._remote_account:
            url = account_url(url, self._remote_account)
        # kept in os_options, the URL survives swiftclient's re-auth on 401
        conn.url = conn.os_options["object_storage_url"] = url
        self._auth = (url, token)
        return conn

    def acquire(self):
        conn = self._idle.get()
        try:
            if conn is None:
                conn = self._new_connection()
            conn.url, conn.token = self._auth
        except BaseException:
            self._idle.put(conn)
            raise
        conn.issued_token = conn.token
        return conn

    def release(self, conn):
        if conn.token and conn.token != conn.issued_token:
            self._auth = (conn.url, conn.token)  # it re-authenticated: share the news
        self._idle.put(conn)

    @property
    def account(self):
        """The account read: the storage URL's last part (authenticates if needed)."""
        if self._auth is None:
            self.release(self.acquire())
        return unquote(self._auth[0].rstrip("/").rsplit("/", 1)[-1])

    def close(self):
        """Close the idle connections' sockets (reopened when used again)."""
        held = []
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                break
            if conn is not None:
                conn.close()
            held.append(conn)
        for conn in held:
            self._idle.put(conn)


class SwiftProvider(Provider):
    protocol = "swift"

    def __init__(self, settings, bucket, pool_size=10, label="swift", timeouts=DAEMON_TIMEOUTS):
        super().__init__(label, bucket, settings.get("aws_endpoint"),
                         secret=settings.get("aws_secret"))
        self.storage_policy = settings.get("storage_policy")
        self._pool = ConnectionPool(connection_kwargs(settings, timeouts), pool_size,
                                    settings.get("remote_account"))

    # ---- plumbing ------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, op, key=None):
        """Turn whatever swiftclient/requests raise into a ProviderError."""
        try:
            yield
        except (ClientException, requests.RequestException, OSError) as e:
            cls, status, reason = swift_error(e)
            raise self.error(cls, op, key, status=status, reason=reason) from e

    def _no_dot_segments(self, op, key):
        """An object key with a '.' or '..' part would reach another object
        (the HTTP libraries resolve them): no such key was ever stored."""
        if key is not None and has_dot_segment(key):
            if op in ("head", "get", "delete"):
                raise self.error(NotFound, op, key)
            raise self.error(ProviderError, op, key, reason="'.' or '..' path part",
                             retriable=False)

    @contextlib.contextmanager
    def _connection(self, op, key=None):
        if not op.startswith("list"):
            self._no_dot_segments(op, key)
        with self._errors(op, key):
            conn = self._pool.acquire()
            try:
                yield conn
            finally:
                self._pool.release(conn)

    def _object(self, key, headers):
        user, internal = split_internal({
            name[len(SWIFT_META_PREFIX):]: value for name, value in headers.items()
            if name.startswith(SWIFT_META_PREFIX)})
        return RemoteObject(
            name=key, etag=unquote_etag(headers.get("etag")), size=total_size(headers),
            last_modified=_timestamp(headers),
            content_type=header_text(headers.get("content-type")),
            metadata=user, internal=internal, headers=headers)

    @staticmethod
    def _meta_headers(metadata, internal):
        """User metadata and internal fields both as X-Object-Meta-*, as
        1space did (e.g. X-Object-Meta-Swift-Slo-Etag)."""
        fields = dict(metadata or {})
        fields.update(internal or {})
        return {"X-Object-Meta-" + name: value for name, value in fields.items()
                if value is not None}

    # ---- the interface -------------------------------------------------
    def check_access(self, create=False):
        try:
            with self._connection("check_access") as conn:
                conn.head_container(self.bucket)
        except NotFound:
            if not create:
                raise
            self._create_container()

    def _create_container(self):
        """Make the container, in ``storage_policy`` when the mapping names one.

        A policy the remote does not know is a configuration error (Swift
        answers 400 "Invalid X-Storage-Policy"): say which setting is wrong;
        retrying cannot help until the operator fixes it.
        """
        headers = {"X-Storage-Policy": self.storage_policy} if self.storage_policy else {}
        try:
            with self._connection("create container") as conn:
                conn.put_container(self.bucket, headers=headers)
        except ProviderError as e:
            if e.status != 400 or not self.storage_policy:
                raise
            raise self.error(ProviderError, "create container", status=400, retriable=False,
                             reason="storage_policy %r refused by the remote: %s"
                             % (self.storage_policy, e.reason)) from e

    def head_account(self):
        """The account's HEAD headers (lowercase names, values as sent)."""
        with self._connection("head account") as conn:
            conn.head_account()
            return _raw_headers(conn)

    def head_container(self):
        """The container's HEAD headers (lowercase names, values as sent)."""
        with self._connection("head container") as conn:
            conn.head_container(self.bucket)
            return _raw_headers(conn)

    def post_container(self, headers):
        """POST container headers (an empty value removes metadata or an ACL)."""
        with self._connection("post container") as conn:
            conn.post_container(self.bucket, headers)

    def head(self, key):
        try:
            with self._connection("head", key) as conn:
                conn.head_object(self.bucket, key)
                return self._object(key, _raw_headers(conn))
        except NotFound:
            return None

    def get(self, key, byte_range=None, chunk_size=CHUNK_SIZE, manifest=False):
        """Streams with ``resp_chunk_size``; the connection stays out of the
        pool until the body is closed or read to the end.  With ``manifest``
        the object comes as stored: an SLO or DLO as its manifest
        (``multipart-manifest=get``), not assembled, a symlink as itself
        (``symlink=get``), not its target; other objects as they are."""
        headers = {"Range": "bytes=%d-%d" % tuple(byte_range)} if byte_range else {}
        query = "multipart-manifest=get&symlink=get" if manifest else None
        self._no_dot_segments("get", key)
        with self._errors("get", key):
            conn = self._pool.acquire()
            try:
                _, body = conn.get_object(self.bucket, key, resp_chunk_size=chunk_size,
                                          headers=headers, query_string=query)
            except BaseException:
                self._pool.release(conn)
                raise
        obj = self._object(key, _raw_headers(conn))

        def release():
            body.close()
            self._pool.release(conn)
        return obj, Body(self._chunks(body, key), release)

    def _chunks(self, body, key):
        with self._errors("get", key):
            yield from body

    def put(self, key, body, size, md5_hex, content_type=None, metadata=None,
            internal=None, headers=None):
        """As :meth:`Provider.put`; ``md5_hex`` may be None here (a segment
        combined from several): the caller then checks the returned ETag."""
        send = self._meta_headers(metadata, internal)
        send.update({k: v for k, v in (headers or {}).items() if v is not None})
        with self._connection("put", key) as conn:
            etag = unquote_etag(conn.put_object(
                self.bucket, key, body, content_length=size, etag=md5_hex,
                content_type=content_type, headers=send))
        if md5_hex is not None and etag != md5_hex.lower():
            with contextlib.suppress(ProviderError):
                self.delete(key)
            raise self.error(IntegrityError, "put", key,
                             reason="stored ETag %s, sent MD5 %s" % (etag, md5_hex))
        return etag

    def put_slo_manifest(self, key, segments, content_type=None, metadata=None,
                         internal=None, headers=None):
        """Store an SLO manifest (``multipart-manifest=put``; ``segments`` in
        Swift's PUT format: path, etag, size_bytes, range / data); the SLO's ETag."""
        send = self._meta_headers(metadata, internal)
        send.update({k: v for k, v in (headers or {}).items() if v is not None})
        body = json.dumps(segments).encode("utf-8")
        with self._connection("put manifest", key) as conn:
            return unquote_etag(conn.put_object(
                self.bucket, key, body, content_length=len(body),
                content_type=content_type, headers=send,
                query_string="multipart-manifest=put"))

    def get_slo_manifest(self, key):
        """The stored manifest of an SLO (``multipart-manifest=get``: JSON
        entries naming ``/container/segment``), as bytes."""
        with self._connection("get manifest", key) as conn:
            _, body = conn.get_object(self.bucket, key,
                                      query_string="multipart-manifest=get")
        return body

    def post_metadata(self, key, content_type, metadata, internal=None, headers=None):
        """A POST replaces every POST-able header: one HEAD first carries
        over X-Delete-At, X-Object-Manifest, Content-Encoding, ... (and the
        internal fields unless given)."""
        current = self.head(key)
        if current is None:
            raise self.error(NotFound, "post_metadata", key, status=404, reason="Not Found")
        # a header given here replaces the carried-over one; given as None,
        # it is dropped (e.g. an X-Delete-At onespace no longer wants)
        send = headers_after_post(current.headers, KEPT_ON_POST, headers)
        send.update(self._meta_headers(metadata, updated_internal(current.internal, internal)))
        if content_type:
            send["Content-Type"] = content_type
        with self._connection("post_metadata", key) as conn:
            conn.post_object(self.bucket, key, headers=send)

    def delete(self, key):
        try:
            with self._connection("delete", key) as conn:
                conn.delete_object(self.bucket, key)
        except NotFound:
            return False
        return True

    def list(self, prefix="", marker="", delimiter=None, limit=1000, end_marker=None):
        with self._connection("list", prefix or None) as conn:
            _, rows = conn.get_container(self.bucket, marker=marker or None, limit=limit,
                                         prefix=prefix or None, delimiter=delimiter,
                                         end_marker=end_marker)
        entries = [RemoteObject(name=row["subdir"], is_prefix=True) if "subdir" in row
                   else RemoteObject(name=row["name"], etag=unquote_etag(row.get("hash")),
                                     size=row.get("bytes"),
                                     last_modified=_listing_time(row["last_modified"]),
                                     content_type=row.get("content_type"))
                   for row in rows]
        return Listing(entries, truncated=len(rows) >= limit)

    @property
    def account(self):
        """The source account read (see ConnectionPool.account)."""
        with self._errors("auth"):
            return self._pool.account

    def list_containers(self, marker="", limit=1000):
        """One page of the account's container names after ``marker``."""
        with self._connection("list containers") as conn:
            _, rows = conn.get_account(marker=marker or None, limit=limit)
        return Listing([RemoteObject(name=r["name"]) for r in rows], len(rows) >= limit)

    def close(self):
        self._pool.close()
