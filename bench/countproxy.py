"""A counting HTTP reverse proxy: every request a client sends to the S3
server passes here first and is counted by kind (``PUT object``,
``HEAD object``, ``GET list``, ...), then forwarded unchanged.

Headers are passed through as they are, ``Host`` included, so SigV4
signatures made for the proxy's address stay valid at the server.  Bodies
are streamed both ways (64 MiB objects never sit in memory here).  Used only
for the request-count runs: a Python proxy would cap the throughput runs.

    with CountingProxy("127.0.0.1", 38002) as proxy:
        ...  # point clients at proxy.endpoint
        proxy.counts()  # {"PUT object": 5000, "HEAD object": 5000, ...}
"""

import collections
import http.client
import http.server
import threading
import urllib.parse

CHUNK = 1 << 16
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
              "te", "trailer", "upgrade", "expect"}


def request_kind(method, target):
    """``"GET list"``, ``"PUT object"``, ``"POST multipart"``, ``"HEAD bucket"``, ..."""
    url = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    parts = [p for p in url.path.split("/") if p]
    if "uploads" in query or "uploadId" in query:
        return method + " multipart"
    if len(parts) <= 1:
        if method == "GET" and ("list-type" in query or "prefix" in query
                                or "marker" in query or len(parts) == 1):
            return "GET list"
        return method + (" bucket" if parts else " service")
    return method + " object"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and "100 Continue" for Expect

    def log_message(self, *args):  # quiet
        pass

    def _upstream(self):
        conn = getattr(self, "_conn", None)
        if conn is None:
            conn = self._conn = http.client.HTTPConnection(
                self.server.upstream_host, self.server.upstream_port, timeout=300)
        return conn

    def _body_chunks(self):
        """The request body as chunks, whether sized or chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                chunk = self.rfile.read(min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

    def _forward(self):
        self.server.count(request_kind(self.command, self.path))
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        conn = self._upstream()
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP:
                conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for chunk in self._body_chunks():
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        for name, value in resp.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        no_body = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        if length is None and not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if no_body:
            resp.read()
        else:
            while True:
                chunk = resp.read(CHUNK)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if length is None
                                 else chunk)
            if length is None:
                self.wfile.write(b"0\r\n\r\n")
        if resp.will_close:
            conn.close()
            self._conn = None

    def _handle(self):
        try:
            self._forward()
        except (OSError, http.client.HTTPException) as e:
            # the client sees a broken connection and retries; count it
            self.server.count("proxy error: %s" % type(e).__name__)
            self.close_connection = True
            if getattr(self, "_conn", None):
                self._conn.close()
                self._conn = None

    def finish(self):
        super().finish()
        if getattr(self, "_conn", None):
            self._conn.close()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle


class CountingProxy:
    def __init__(self, upstream_host, upstream_port, listen_port=0):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), _Handler)
        self.server.daemon_threads = True
        self.server.upstream_host = upstream_host
        self.server.upstream_port = upstream_port
        self._counts = collections.Counter()
        self._lock = threading.Lock()
        self.server.count = self._count
        self._thread = None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def _count(self, kind):
        with self._lock:
            self._counts[kind] += 1

    def counts(self):
        with self._lock:
            return dict(self._counts)

    def reset(self):
        with self._lock:
            self._counts.clear()

    def start(self):
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
