"""restore_object: write a remote object back into local Swift while it streams.

A :class:`LocalWriter` is a local PUT (through the rest of the proxy
pipeline, pre-authorized: the reader was already authorized by Swift) that
runs in its own green thread and reads its body from a small bounded queue
the client's stream feeds.  The client never waits for more than the queue
holds.  If the stream stops early (client gone, remote failed), the PUT's
input raises ChunkReadError: the proxy answers 499, the object servers never
see a complete body, and no partial object is left behind.

:class:`SegmentedWriter` restores an archived SLO: the stream is cut at the
segment boundaries its stored manifest gives, each segment missing locally
is written by its own LocalWriter, and the manifest is PUT last
(``multipart-manifest=put``, so Swift's SLO middleware checks every segment).

Every restore PUT (plain object, segment, manifest) is :func:`guarded`: it
never replaces or resurrects what was written or deleted here after the GET
that found the object missing.  A refused restore only means the client's
data came from the remote alone.
"""

from __future__ import annotations

import eventlet
from eventlet.queue import Queue
from swift.common.exceptions import ChunkReadError
from swift.common.swob import Request, str_to_wsgi
from swift.common.utils import close_if_possible
from swift.common.wsgi import make_pre_authed_env

QUEUE_CHUNKS = 4          # chunks buffered between the client stream and the PUT
PUT_TIMEOUT = 60          # seconds a finished stream waits for the PUT's answer
STORED = 201              # not 202: the proxy's answer when object servers hold newer (409)
_EOF, _ABORT = object(), object()


def _pre_authed(env, method, path, query_string=""):
    """A pre-authorized subrequest of ``env`` (none of its client's headers)."""
    sub_env = make_pre_authed_env(env, method, path, agent="%(orig)s onespace-shunt",
                                  query_string=query_string, swift_source="SHUNT")
    return Request(sub_env)  # not Request.blank: it would unquote the path again


def guarded(headers, began):
    """Headers of a restore PUT begun at ``began`` (a Timestamp taken before
    Swift was asked for the object).  Stamped with that time, the PUT is
    older than any write or tombstone made here since, so object servers
    refuse it (409); If-None-Match: * refuses it over any existing object
    (412).  The sync daemon's archive tombstone carries the archived object's
    own, older time: it does not stand in the way."""
    return dict(headers, **{"X-Timestamp": began.internal, "If-None-Match": "*"})


def refused(status):
    """Log text for a restore PUT's status: 412 / 202 (409) are the guard's."""
    return " (written or deleted here since the restore began)" if status in (202, 412) else ""


def subrequest(app, env, method, path, headers, body=None, query_string=None):
    """A pre-authorized subrequest through ``app``; its (status, body bytes)."""
    req = _pre_authed(env, method, path, query_string or "")
    if body is not None:
        req.body = body
    for name, value in headers.items():
        req.headers[name] = str_to_wsgi(value)
    resp = req.get_response(app)
    return resp.status_int, resp.body


def local_head(app, env, path):
    """A pre-authorized, unconditional HEAD of a local object: (status,
    headers); a 404 names the time of the object's tombstone, if any, in
    X-Backend-Timestamp."""
    resp = _pre_authed(env, "HEAD", path).get_response(app)
    close_if_possible(resp.app_iter)
    return resp.status_int, resp.headers


class LocalWriter:
    """One local object PUT fed by :meth:`write` from another green thread,
    :func:`guarded` by the time the restore ``began``."""

    def __init__(self, app, env, path, headers, size, began, logger):
        self.path = path
        self.logger = logger
        self.status = None
        self._queue = Queue(QUEUE_CHUNKS)
        self._buffer = b""
        self._done = False
        sub_env = make_pre_authed_env(env, "PUT", path, agent="%(orig)s onespace-shunt",
                                      query_string="", swift_source="SHUNT")
        sub_env["wsgi.input"] = self
        sub_env["CONTENT_LENGTH"] = str(size)
        req = Request(sub_env)
        for name, value in guarded(headers, began).items():
            req.headers[name] = str_to_wsgi(value)
        self._thread = eventlet.spawn(self._run, app, req)

    def _run(self, app, req):
        resp = req.get_response(app)
        for _ in resp.app_iter or ():
            pass
        return resp.status_int

    # ---- the PUT's side --------------------------------------------------
    def read(self, size=-1):
        while not self._buffer and not self._done:
            item = self._queue.get()
            if item is _ABORT:
                self._done = True
                raise ChunkReadError("restore stream stopped before the end")
            if item is _EOF:
                self._done = True
            else:
                self._buffer = item
        if size is None or size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    # ---- the client stream's side ----------------------------------------
    @property
    def failed(self):
        """The PUT already ended (it refused the object): stop feeding it."""
        return self._thread.dead

    def write(self, chunk):
        if chunk and not self.failed:
            self._queue.put(chunk)

    def finish(self):
        """End of data: wait for the PUT; True if the object was stored."""
        if not self.failed:
            self._queue.put(_EOF)
        try:
            with eventlet.Timeout(PUT_TIMEOUT):
                self.status = self._thread.wait()
        except eventlet.Timeout:
            self._thread.kill()
            self.status = None
        except Exception as e:  # noqa: BLE001 - the client's stream is unaffected
            self.logger.error("cloud-shunt: restore PUT of %s failed: %s", self.path, e)
            self.status = None
        return self.status == STORED

    def abort(self):
        """The stream stopped early: make the PUT fail, leave nothing behind."""
        if self._thread.dead:
            return
        while not self._queue.empty():  # make room without blocking the client side
            self._queue.get_nowait()
        self._queue.put(_ABORT)
        try:
            with eventlet.Timeout(PUT_TIMEOUT):
                self.status = self._thread.wait()
        except (eventlet.Timeout, Exception):  # noqa: BLE001
            self._thread.kill()


class PlainRestore:
    """Restore one plain object: every chunk of the stream goes to one PUT."""

    def __init__(self, app, env, path, headers, size, began, logger):
        self.path = path
        self.logger = logger
        self.writer = LocalWriter(app, env, path, headers, size, began, logger)

    def write(self, chunk):
        self.writer.write(chunk)

    def finish(self):
        ok = self.writer.finish()
        if ok:
            self.logger.info("cloud-shunt: restored %s", self.path)
        else:
            self.logger.warning("cloud-shunt: restore of %s failed (status %s)%s",
                                self.path, self.writer.status, refused(self.writer.status))
        return ok

    def abort(self):
        self.writer.abort()


class SegmentedWriter:
    """Restore an archived SLO: missing segments from the stream, then the manifest.

    ``segments`` is ``[(path, size, etag, present)]`` in manifest order
    (whole segments only); ``manifest`` the ``multipart-manifest=put`` body.
    Once a segment is not stored, no further one is written.
    """

    def __init__(self, app, env, path, headers, segments, manifest, began, logger):
        self.app, self.env, self.path = app, env, path
        self.headers, self.manifest, self.logger = headers, manifest, logger
        self.began = began
        self.segments = list(segments)
        self._index = -1
        self._left = 0
        self._writer = None
        self._ok = True
        self._next_segment()

    def _next_segment(self):
        while True:
            if self._writer is not None:
                self._ok = self._writer.finish() and self._ok
                self._writer = None
            self._index += 1
            if self._index >= len(self.segments):
                return
            seg_path, size, etag, present = self.segments[self._index]
            self._left = size
            if not present and self._ok:
                self._writer = LocalWriter(self.app, self.env, seg_path,
                                           {"Etag": etag} if etag else {}, size,
                                           self.began, self.logger)
            if size:
                return

    def write(self, chunk):
        while chunk and self._index < len(self.segments):
            part, chunk = chunk[:self._left], chunk[self._left:]
            if self._writer is not None:
                self._writer.write(part)
            self._left -= len(part)
            if self._left == 0:
                self._next_segment()

    def finish(self):
        if self._index < len(self.segments):
            self.abort()
            return False
        if not self._ok:
            self.logger.warning("cloud-shunt: restore of SLO %s failed: a segment was "
                                "not stored", self.path)
            return False
        status, body = subrequest(self.app, self.env, "PUT", self.path,
                                  guarded(self.headers, self.began), body=self.manifest,
                                  query_string="multipart-manifest=put")
        if status == STORED:
            self.logger.info("cloud-shunt: restored SLO %s (%d segments)", self.path,
                             len(self.segments))
            return True
        self.logger.warning("cloud-shunt: restore of SLO %s failed: manifest PUT %d%s %s",
                            self.path, status, refused(status), body[:200])
        return False

    def abort(self):
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        self._index = len(self.segments) + 1
