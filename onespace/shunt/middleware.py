"""The cloud-shunt WSGI filter: archived objects stay readable through Swift.

For containers whose mapping has ``merge_namespaces: true`` (in the same
JSON config the sync daemon reads):

* object GET/HEAD go to Swift first; only a 404 from Swift (so after Swift's
  own auth allowed the request: a 401/403 is returned as it is) makes the
  shunt ask the remote store.  The answer has Swift's semantics (ETag,
  Content-Length, Content-Type, Last-Modified, ``X-Object-Meta-*``, Range
  with 206 / multipart byteranges / 416, conditional requests) and streams.
  An unreachable remote is a 503 with a short reason, never a 404.
* with ``restore_object: true`` a full GET also writes the object (plain, or
  an SLO from an S3 remote with its stored manifest) back into Swift.
* container GET: Swift's listing and the remote's are spliced (see
  :mod:`onespace.shunt.listing`).  If the remote cannot be listed, the local
  entries are served alone and the response carries
  ``X-Onespace-Remote-Listing: unavailable`` (and the proxy logs why).
* object DELETE of an object that is only remote: deleted remotely only for
  Swift remotes with ``propagate_delete``; otherwise Swift's 404 stands.
* container POST: copied to a Swift remote when ``sync_container_metadata``
  (and ``sync_container_acl`` for the ACLs) is set.
* every other request, and every request for a container without a merged
  mapping, goes to Swift untouched: no remote call, one dict lookup.
"""

from __future__ import annotations

import email.utils
import json
import math

import eventlet
from swift.common.swob import (
    HTTPNotFound,
    HTTPPreconditionFailed,
    HTTPServiceUnavailable,
    Request,
    Response,
    multi_range_iterator,
    str_to_wsgi,
    wsgi_to_str,
)
from swift.common.header_key_dict import HeaderKeyDict
from swift.common.http import is_success
from swift.common.utils import Timestamp, close_if_possible, get_logger, split_path
from swift.proxy.controllers.base import clear_info_cache, get_container_info

from onespace.migrator.listing import ListingOrderError, paged
from onespace.providers import NotFound, ProviderError
from onespace.providers.base import Listing
from onespace.shunt import objects
from onespace.shunt.listing import (
    PageFill,
    chunk_sizes,
    listing_params,
    multipart_etag,
    remote_entry,
    remote_range,
    source_containers,
    splice,
)
from onespace.shunt.restore import (
    PlainRestore,
    SegmentedWriter,
    local_head,
    subrequest,
)
from onespace.shunt.routes import ConfigWatcher

DEFAULT_CONF_FILE = "/etc/onespace/onespace.json"
REMOTE_PAGE = 1000            # keys per remote listing request
MAX_FORWARD_PAGES = 50        # remote pages one spliced page may read (hidden keys)
MAX_REVERSE_PAGES = 100       # reverse listings read the remote range forward
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
LISTING_WARNING = "X-Onespace-Remote-Listing"
STREAM_CHUNK = 1024 * 1024    # remote bytes per chunk handed to the client
CHECKS = 20                   # remote HEADs one listing page runs at a time


class RemoteIter:
    """The body of a remote object as a swob app_iter: full, one range, or
    several (multipart/byteranges); the remote is read lazily and streamed."""

    def __init__(self, shunt, route, key, body=None, restore=None):
        """``restore``: a callable making the restorer when a full body starts."""
        self.shunt, self.route, self.key = shunt, route, key
        self._body = body
        self.restore = restore
        self._stream = None

    def __iter__(self):
        self._stream = self._full()
        return self._stream

    def _full(self):
        body, self._body = self._body, None
        make_restore, self.restore = self.restore, None
        restore, complete = None, False
        try:
            if body is None:
                _, body = self.route.provider.get(self.key, chunk_size=STREAM_CHUNK)
            if make_restore is not None:
                restore = make_restore()
            for chunk in body:
                if restore is not None:
                    restore.write(chunk)
                yield chunk
            complete = True
        except ProviderError as e:
            self.shunt.logger.error("cloud-shunt: %s (stream cut)", e)
            raise
        finally:
            if body is not None:
                body.close()
            if restore is not None:
                if complete:
                    restore.finish()
                else:
                    restore.abort()

    def app_iter_range(self, start, stop):
        self.close()
        if stop <= start:
            return iter([b""])
        return self._range(start, stop)

    def _range(self, start, stop):
        _, body = self.route.provider.get(self.key, (start, stop - 1), chunk_size=STREAM_CHUNK)
        try:
            yield from body
        finally:
            body.close()

    def app_iter_ranges(self, ranges, content_type, boundary, size):
        self.close()
        return multi_range_iterator(ranges, content_type, boundary, size, self._range)

    def close(self):
        """WSGI close (also on a client disconnect): ends a running stream,
        which aborts its restore."""
        body, self._body = self._body, None
        if body is not None:
            body.close()
        self.restore = None
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()


class Listed:
    """Swift's own listing entries of a request, the headers of its answer
    to keep, and whether the container was missing."""

    def __init__(self, entries, headers, missing=False):
        self.entries, self.headers, self.missing = entries, headers, missing

    def respond(self, start_response, entries):
        out = json.dumps(entries).encode("ascii")
        start_response("200 OK", self.headers + [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(out)))])
        return [out]


def source_container_headers(provider):
    """What a HEAD of a source container tells: a Swift source's counts and
    metadata; an S3 bucket only exists (listing it raises NotFound if not)."""
    if provider.protocol != "swift":
        provider.list(limit=1)
        return {}
    wanted = ("x-container-object-count", "x-container-bytes-used", "x-timestamp",
              "last-modified")
    return {k.title(): v for k, v in provider.head_container().items()
            if k in wanted or k.startswith("x-container-meta-")}


class CloudShunt:
    def __init__(self, app, conf, logger=None):
        self.app = app
        self.logger = logger or get_logger(conf, log_route="cloud-shunt")
        self.watcher = ConfigWatcher(conf.get("conf_file", DEFAULT_CONF_FILE),
                                     float(conf.get("reload_interval", 10)), self.logger)
        self.watcher.check()

    # ---- dispatch --------------------------------------------------------
    def __call__(self, env, start_response):
        table = self.watcher.current()
        method = env["REQUEST_METHOD"]
        if not table or method not in ("GET", "HEAD", "DELETE", "POST", "PUT"):
            return self.app(env, start_response)
        try:
            version, account, container, obj = split_path(env["PATH_INFO"], 2, 4, True)
        except ValueError:
            return self.app(env, start_response)
        if version != "v1" or obj == "" or container == "":
            return self.app(env, start_response)
        account = wsgi_to_str(account)
        if container is None:
            source = table.account_source(account) if method == "GET" else None
            if source is None:
                return self.app(env, start_response)
            return self.account_listing(env, start_response, *source)
        route = table.route(account, wsgi_to_str(container))
        if route is None:
            return self.app(env, start_response)
        if obj is None:
            if method == "GET":
                return self.container_listing(env, start_response, route)
            if method == "HEAD" and route.is_migration:
                return self.container_head(env, start_response, route)
            if method == "POST" and not route.is_migration:
                return self.container_post(env, start_response, route)
            return self.app(env, start_response)
        if method == "PUT":
            if route.is_migration:
                self.create_migrated_container(env, route)
            if_none_match = Request(env).if_none_match
            if if_none_match is not None and "*" in if_none_match:
                return self.put_if_absent(env, start_response, route, wsgi_to_str(obj))
            return self.app(env, start_response)
        if method == "POST":
            return self.app(env, start_response)
        return self.object_request(env, start_response, route, wsgi_to_str(obj))

    # ---- objects ---------------------------------------------------------
    def object_request(self, env, start_response, route, name):
        req = Request(env)
        ask = req
        star = req.method in ("GET", "HEAD") and req.if_match is not None and \
            "*" in req.if_match
        if star:
            # Swift answers If-Match: * with a 412 when it has no local
            # object, so the shunt would never look remotely; every existing
            # object matches *, so Swift is asked without it
            ask = Request(dict(env))
            del ask.headers["If-Match"]
        # a restore is stamped with this time, taken before Swift is asked:
        # what is written or deleted here after Swift's 404 is newer and wins
        began = Timestamp.now()
        status, headers, app_iter = ask.call_application(self.app)

        def swift_answer():
            if star and status.startswith("404"):
                close_if_possible(app_iter)
                return self.app(env, start_response)  # Swift's own 412: no object
            start_response(status, headers)
            return app_iter

        if not status.startswith("404") or not route.serves(name):
            return swift_answer()
        if req.method == "DELETE":
            # a migration's source is only read; an archive's is written
            # back only where the operator asked for deletes to propagate
            if route.is_migration or route.protocol != "swift" or \
                    not route.mapping.get("propagate_delete"):
                return swift_answer()
            close_if_possible(app_iter)
            return self.remote_delete(req, route, name)(env, start_response)
        if objects.deleted_here(HeaderKeyDict(headers).get("X-Backend-Timestamp")):
            return swift_answer()  # deleted or expired here: not to be served
        close_if_possible(app_iter)
        return self.remote_object(req, route, name, began)(env, start_response)

    def put_if_absent(self, env, start_response, route, name):
        """PUT with If-None-Match: *.  Swift refuses it (412) for a local
        object; the shunt for one a GET would serve from the remote (not
        deleted here, not expired), once Swift's auth allows the PUT (only
        a writer learns that the object exists, as from Swift)."""
        req = Request(env)
        if not route.serves(name) or not self._may_write(req):
            return self.app(env, start_response)
        status, headers = local_head(self.app, env, env["PATH_INFO"])
        if status != 404 or objects.deleted_here(headers.get("X-Backend-Timestamp")):
            return self.app(env, start_response)  # Swift decides
        try:
            remote = route.provider.head(route.key(name))
        except NotFound:
            remote = None
        except ProviderError as e:  # cannot tell: refusing beats overwriting
            return self._unavailable(req, route, e)(env, start_response)
        if remote is None or objects.expired(remote):
            return self.app(env, start_response)
        return HTTPPreconditionFailed(request=req)(env, start_response)

    def _may_write(self, req):
        """Would Swift's auth let ``req`` write into its container?  Asked as
        the proxy asks: the container's write ACL handed to swift.authorize."""
        authorize = req.environ.get("swift.authorize")
        if authorize is None:
            return True
        info = get_container_info(req.environ, self.app, swift_source="SHUNT")
        if not is_success(info.get("status") or 0):
            return False  # Swift answers (no container)
        check = Request(dict(req.environ))
        check.acl = info.get("write_acl")
        return authorize(check) is None

    def _unavailable(self, req, route, error):
        self.logger.error("cloud-shunt: %s", error)
        reason = "status %s" % error.status if error.status else "no answer"
        return HTTPServiceUnavailable(
            request=req, content_type="text/plain",
            body=("The remote store holding this object is unavailable (%s).\n"
                  % reason).encode("ascii"))

    @staticmethod
    def _not_found(req):
        """Swift's 404 for an object, conditional as the object server's is
        (If-Match: * makes it a 412)."""
        return HTTPNotFound(request=req, conditional_response=True)

    def remote_delete(self, req, route, name):
        try:
            deleted = route.provider.delete(route.key(name))
        except ProviderError as e:
            return self._unavailable(req, route, e)
        if not deleted:
            return HTTPNotFound(request=req)
        self.logger.info("cloud-shunt: deleted remote copy of %s/%s/%s",
                         route.account, route.container, name)
        return Response(request=req, status=204)

    def _manifest(self, route, name):
        """Entries of an archived SLO's manifest naming its local segments
        (S3: the stored ``.manifests`` copy; Swift: the remote manifest's,
        mapped back to local containers), or None."""
        if route.is_migration:
            return None
        if route.protocol == "swift":
            return self._swift_manifest(route, name)
        try:
            _, body = route.provider.get(route.manifest_key(name))
        except NotFound:
            self.logger.warning("cloud-shunt: no stored manifest for SLO %s/%s/%s; serving "
                                "its data without it", route.account, route.container, name)
            return None
        except ProviderError as e:
            self.logger.warning("cloud-shunt: %s; serving the SLO's data without it", e)
            return None
        data, size = [], 0
        try:
            for chunk in body:
                data.append(chunk)
                size += len(chunk)
                if size > MAX_MANIFEST_BYTES:
                    return None
        except ProviderError as e:
            self.logger.warning("cloud-shunt: %s; serving the SLO's data without it", e)
            return None
        finally:
            body.close()
        return objects.manifest_entries(b"".join(data))

    def _swift_manifest(self, route, name):
        try:
            entries = objects.manifest_entries(route.provider.get_slo_manifest(route.key(name)))
        except ProviderError as e:
            self.logger.warning("cloud-shunt: %s; serving the SLO's data without it", e)
            return None
        if entries is None:
            return None
        local = []
        for entry in entries:
            remote_container, _, segment = entry.get("name", "").lstrip("/").partition("/")
            container = route.local_segments_container(remote_container)
            if container is None or not segment:
                return None
            local.append(dict(entry, name="/%s/%s" % (container, segment)))
        return local

    def remote_object(self, req, route, name, began):
        key = route.key(name)
        provider = route.provider
        head_first = req.method == "HEAD" or any(h in req.environ
                                                 for h in objects.CONDITIONAL_HEADERS)
        body = None
        try:
            if head_first:
                remote = provider.head(key)
                if remote is None:
                    return self._not_found(req)
            else:
                remote, body = provider.get(key, chunk_size=STREAM_CHUNK)
        except NotFound:
            return self._not_found(req)
        except ProviderError as e:
            return self._unavailable(req, route, e)
        if objects.expired(remote):
            if body is not None:
                body.close()
            return self._not_found(req)  # as Swift answers for an expired object
        manifest = self._manifest(route, name) if objects.is_slo(remote) else None
        if manifest is not None and req.params.get("multipart-manifest") == "get":
            if body is not None:
                body.close()
            return self.manifest_response(req, remote, manifest)
        etag = objects.swift_etag(remote, manifest)
        headers = {k: str_to_wsgi(v) for k, v in
                   objects.swift_headers(remote, etag, route.object_location(name)).items()}
        restore = None
        if route.restore and req.method == "GET" and "HTTP_RANGE" not in req.environ:
            def restore():
                return self._restorer(req, route, name, remote, etag, manifest, began)
        if req.method == "HEAD":
            app_iter = None  # swob would drain an app_iter: that is a remote GET
        else:
            app_iter = RemoteIter(self, route, key, body, restore)
        resp = Response(request=req, status=200, headers=headers, conditional_response=True,
                        app_iter=app_iter)
        if remote.size is not None:
            resp.content_length = remote.size
        if remote.last_modified is not None:
            resp.headers["Last-Modified"] = email.utils.formatdate(
                math.ceil(remote.last_modified), usegmt=True)
        return resp

    @staticmethod
    def manifest_response(req, remote, manifest):
        """``?multipart-manifest=get`` of an archived SLO: its stored manifest,
        as Swift answers it for a local one."""
        data = json.dumps(manifest).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Static-Large-Object": "True"}
        headers.update({k: str_to_wsgi(v) for k, v in objects.swift_headers(remote, None).items()
                        if k.startswith("X-Object-Meta-")})
        resp = Response(request=req, status=200, headers=headers, body=data,
                        conditional_response=True)
        resp.etag = objects.hashlib_md5(data)
        return resp

    def _restorer(self, req, route, name, remote, etag, manifest, began):
        path = "/v1/%s/%s/%s" % (route.account, route.container, name)
        path = str_to_wsgi(path)
        if remote.size is None:
            return None
        if not objects.is_slo(remote):
            md5 = etag if etag and "-" not in etag else None
            return PlainRestore(self.app, req.environ, path, objects.restore_headers(remote, md5),
                                remote.size, began, self.logger)
        if manifest is None:
            self.logger.warning("cloud-shunt: SLO %s not restored: no stored manifest", path)
            return None
        put_body = objects.slo_put_manifest(manifest)
        if put_body is None or any(e.get("range") for e in manifest) or \
                sum(int(e.get("bytes") or 0) for e in manifest) != remote.size:
            self.logger.warning("cloud-shunt: SLO %s not restored: its manifest has ranges, "
                                "inline data or nested SLOs", path)
            return None
        segments, written = [], set()
        for entry in manifest:
            seg_path = str_to_wsgi("/v1/%s%s" % (route.account, entry["name"]))
            seg_etag = (entry.get("hash") or "").lower() or None
            status, headers = local_head(self.app, req.environ, seg_path)
            present = is_success(status)
            if present and seg_etag and \
                    (headers.get("Etag") or "").strip('"').lower() != seg_etag:
                # another object took the segment's name here: it is not ours
                # to overwrite (another SLO may use it)
                self.logger.warning("cloud-shunt: SLO %s not restored: its segment %s "
                                    "exists here with another ETag", path, seg_path)
                return None
            segments.append((seg_path, int(entry["bytes"]), seg_etag,
                             present or seg_path in written))
            written.add(seg_path)  # named twice: one PUT (a second, as old, gets 409)
        return SegmentedWriter(self.app, req.environ, path,
                               objects.restore_headers(remote), segments, put_body,
                               began, self.logger)

    # ---- containers ------------------------------------------------------
    def container_listing(self, env, start_response, route):
        req = Request(env)
        params = req.params  # WSGI strings (latin-1 of the UTF-8 bytes)
        try:
            limit, marker, end_marker, prefix, delimiter, reverse = listing_params(
                {k: wsgi_to_str(v) for k, v in params.items()})
        except ValueError:
            return self.app(env, start_response)
        self._json_format(req)
        prefetch = None
        if limit and not reverse and self._authenticated(env):
            # the remote's first request runs while Swift lists (and decides
            # auth); its answer is dropped unless Swift says 200
            low, high = remote_range(marker, end_marker, False, (), limit)
            prefetch = eventlet.spawn(self._prefetched_page, route, prefix, delimiter, low,
                                      high, next(chunk_sizes(limit, True, REMOTE_PAGE)))
        spliced = False
        try:
            # a container a migration has not created yet: the source's alone
            local = self._local_listing(req, start_response, route.is_migration)
            if not isinstance(local, Listed):
                return local
            spliced = True
        finally:
            if prefetch is not None and not spliced:
                prefetch.kill()
        try:
            remote = self.remote_listing(route, limit, marker, end_marker, prefix,
                                         delimiter, reverse, local.entries, prefetch)
        except NotFound:
            if local.missing:
                return HTTPNotFound(request=req)(env, start_response)
            remote = []  # a migration whose source container is gone
        except ProviderError as e:
            if local.missing:
                return self._unavailable(req, route, e)(env, start_response)
            self.logger.warning("cloud-shunt: listing local entries only: %s", e)
            remote = []
            local.headers.append((LISTING_WARNING, "unavailable"))
        page = splice(local.entries, remote, limit, reverse)
        self._swift_etags(route, page)
        return local.respond(start_response, page)

    def _swift_etags(self, route, page):
        """Archived objects uploaded to S3 in parts list an S3 ETag
        ("<md5>-<parts>"), not their Swift one.  Only those entries of the
        page being served are looked at (one remote HEAD each, at most
        CHECKS at a time): large objects, so few per page, and the Swift
        ETag each S3 copy recorded (``swift-source-etag``, an SLO's
        ``swift-slo-etag``) replaces the S3 one.  A migration's source has
        no such record: left as listed."""
        todo = [e for e in page if multipart_etag(e)] if not route.is_migration else []

        def head(entry):
            try:
                return route.provider.head(route.key(entry["name"]))
            except ProviderError as e:
                self.logger.warning("cloud-shunt: listing the S3 ETag of %s: %s",
                                    entry["name"], e)
                return None
        for entry, remote in zip(todo, eventlet.GreenPool(CHECKS).imap(head, todo)):
            if remote is not None:
                entry["hash"] = objects.stored_etag(remote) or entry["hash"]

    def _local_listing(self, req, start_response, missing_ok=False):
        """Swift's own JSON listing of the request as a :class:`Listed`, or
        (when it is not one: an error, a body that is no listing) Swift's
        answer, already started.  ``missing_ok``: a 404 is an empty listing."""
        status, headers, app_iter = req.call_application(self.app)
        if missing_ok and status.startswith("404"):
            close_if_possible(app_iter)
            return Listed([], [], missing=True)
        if not status.startswith(("200", "204")):
            start_response(status, headers)
            return app_iter
        try:
            body = b"".join(app_iter)
        finally:
            close_if_possible(app_iter)
        try:
            local = json.loads(body) if body.strip() else []
            if not isinstance(local, list):
                raise ValueError("not a list")
        except ValueError:
            start_response(status, headers)
            return [body]
        return Listed(local, [(k, v) for k, v in headers
                              if k.lower() not in ("content-length", "etag", "content-type")])

    def account_listing(self, env, start_response, provider, endpoint):
        """An account listing with the containers of its ``/*`` migration's
        source that are not local yet (as empty containers, with
        ``content_location``)."""
        req = Request(env)
        try:
            limit, marker, end_marker, prefix, delimiter, reverse = listing_params(
                {k: wsgi_to_str(v) for k, v in req.params.items()})
        except ValueError:
            return self.app(env, start_response)
        self._json_format(req)
        local = self._local_listing(req, start_response)
        if not isinstance(local, Listed):
            return local
        try:
            names = [e.name for e in paged(
                lambda m: provider.list_containers(marker=m, limit=REMOTE_PAGE),
                max_pages=MAX_REVERSE_PAGES, side="source")]
            remote = source_containers(names, limit, marker, end_marker, prefix, delimiter,
                                       reverse, endpoint)
        except (ProviderError, ListingOrderError) as e:
            self.logger.warning("cloud-shunt: listing local containers only: %s", e)
            remote = []
            local.headers.append((LISTING_WARNING, "unavailable"))
        return local.respond(start_response, splice(local.entries, remote, limit, reverse))

    @staticmethod
    def _json_format(req):
        """Ask Swift for JSON (``listing_formats``, left of us, converts back)."""
        params = req.params
        if params.get("format", "json").lower() != "json":
            params["format"] = "json"
            req.params = params

    def container_head(self, env, start_response, route):
        """HEAD of a container a migration has not created yet: the source's."""
        req = Request(env)
        status, headers, app_iter = req.call_application(self.app)
        if not status.startswith("404"):
            start_response(status, headers)
            return app_iter
        close_if_possible(app_iter)
        try:
            found = source_container_headers(route.provider)
        except NotFound:
            return HTTPNotFound(request=req)(env, start_response)
        except ProviderError as e:
            return self._unavailable(req, route, e)(env, start_response)
        found["Content-Location"] = route.location
        return Response(request=req, status=204, headers={
            k: str_to_wsgi(v) for k, v in found.items()})(env, start_response)

    def create_migrated_container(self, env, route):
        """Before an object PUT into a container its migration has not
        created yet (Swift would answer 404): create it, as the migrator
        will, when the source has it and Swift's auth allows the PUT."""
        info = get_container_info(env, self.app, swift_source="SHUNT")
        if info.get("status") != 404:
            return
        authorize = env.get("swift.authorize")
        if authorize is not None and authorize(Request(env)) is not None:
            return  # Swift answers the PUT itself (401/403)
        try:
            source_container_headers(route.provider)
        except ProviderError as e:  # no source container (or no answer): Swift's 404
            self.logger.info("cloud-shunt: not creating %s/%s: %s", route.account,
                             route.container, e)
            return
        headers = {}
        if route.mapping.get("storage_policy"):
            headers["X-Storage-Policy"] = route.mapping["storage_policy"]
        path = str_to_wsgi("/v1/%s/%s" % (route.account, route.container))
        status, body = subrequest(self.app, env, "PUT", path, headers)
        clear_info_cache(env, str_to_wsgi(route.account), str_to_wsgi(route.container))
        if status // 100 != 2:
            self.logger.error("cloud-shunt: creating %s/%s for %s failed: %d %s",
                              route.account, route.container, route.mapping.label, status,
                              body[:200].decode("utf-8", "replace"))
        else:
            self.logger.info("cloud-shunt: created %s/%s for %s", route.account,
                             route.container, route.mapping.label)

    @staticmethod
    def _authenticated(env):
        """Whether an auth middleware vouched for the request's user (tempauth
        sets REMOTE_USER, keystone X-Identity-Status): only then may the
        remote be listed before Swift decides on authorization."""
        return bool(env.get("REMOTE_USER")) or \
            env.get("HTTP_X_IDENTITY_STATUS") == "Confirmed"

    @staticmethod
    def _prefetched_page(route, prefix, delimiter, low, high, size):
        """The first remote page, or the ProviderError that stopped it: handed
        to the waiter as a value, since a green thread that raises has its
        whole traceback printed to the proxy's log on every listing."""
        names = route.names
        try:
            return route.provider.list(prefix=names.key(prefix), delimiter=delimiter or None,
                                       marker=names.key(low) if low else "",
                                       end_marker=names.key(high) if high else None,
                                       limit=size)
        except ProviderError as e:
            return e

    def remote_listing(self, route, limit, marker, end_marker, prefix, delimiter, reverse,
                       local=(), prefetch=None):
        """The remote's first ``limit`` entries of the request's range, as
        Swift listing entries in the request's order (only as far as the
        page of ``local`` entries can use them).  ``prefetch``: a green
        thread already listing the first remote page of the range."""
        if limit == 0:
            if prefetch is not None:
                prefetch.kill()
            return []
        names = route.names
        low, high = remote_range(marker, end_marker, reverse, local, limit)
        if reverse:
            sizes = iter(lambda: REMOTE_PAGE, None)  # the whole range, read forward
        else:
            sizes = chunk_sizes(limit, len(local) >= limit, REMOTE_PAGE)
            if prefetch is not None and len(local) >= limit:
                next(sizes)  # the prefetch was that first half page
        kwargs = {"prefix": names.key(prefix), "delimiter": delimiter or None,
                  "end_marker": names.key(high) if high else None}
        key_marker = names.key(low) if low else ""
        out, last = [], low
        fill = PageFill(local, limit)
        pages = MAX_REVERSE_PAGES if reverse else MAX_FORWARD_PAGES
        for _ in range(pages):
            if prefetch is not None:
                page, prefetch = prefetch.wait(), None
                if isinstance(page, ProviderError):
                    raise page
                if high:  # the bound found since: cut the page there
                    kept = [e for e in page if e.name < kwargs["end_marker"]]
                    page = Listing(kept, page.truncated and len(kept) == len(page))
            else:
                page = route.provider.list(marker=key_marker, limit=next(sizes), **kwargs)
            for entry in page:
                name = names.name(entry.name, entry.is_prefix)
                if name is None or (last and name <= last):
                    continue
                out.append(remote_entry(entry, name, route.location))
                last = name
                if not reverse and fill.add(name):
                    return out
            if not page or not page.truncated:
                break
            key_marker = page[-1].name
        else:
            self.logger.warning("cloud-shunt: remote listing of %s/%s cut after %d pages",
                                route.account, route.container, pages)
        if reverse:
            return out[::-1][:limit]
        return out

    def container_post(self, env, start_response, route):
        req = Request(env)
        status, headers, app_iter = req.call_application(self.app)
        mapping = route.mapping
        if status.startswith("2") and route.protocol == "swift" and \
                (mapping.get("sync_container_metadata") or mapping.get("sync_container_acl")):
            send = {}
            for name, value in req.headers.items():
                lname = name.lower()
                if (lname.startswith(("x-container-meta-", "x-remove-container-meta-"))
                        and mapping.get("sync_container_metadata")) or \
                        (lname in ("x-container-read", "x-container-write")
                         and mapping.get("sync_container_acl")):
                    send[name] = wsgi_to_str(value)
            if send:
                try:
                    route.provider.post_container(send)
                except ProviderError as e:  # the sync daemon catches up on its next pass
                    self.logger.warning("cloud-shunt: container POST not copied: %s", e)
        start_response(status, headers)
        return app_iter
