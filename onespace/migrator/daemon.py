"""The onespace-migrator worker: what ``service.Service`` runs on each pass.

One pass walks every migration's source containers in name order next to
the local destination (``listing.merge``), decides per name
(``decide``) and acts through Swift's internal client: copies keep the
source's time stamp as X-Timestamp (the internal client has no gatekeeper,
so a trusted X-Timestamp and sysmeta reach the object servers), deletes are
conditional on the migrated version.

Work split: on a container node, a destination container is migrated by
the nodes holding its replicas (container ring ``ring_name``); each name
is copied first by the replica its hash picks, and the others copy it only
on a later scan, once it has had ``verification_slack`` to arrive.  With
``processes`` > 1 containers are split by hash between processes instead;
elsewhere (no local ring device) one process migrates everything.
"""

import hashlib
import json
import logging
import time
from urllib.parse import quote

import eventlet
from swift.common import constraints
from swift.common.internal_client import InternalClient, UnexpectedResponse
from swift.common.ring import Ring
from swift.common.swob import str_to_wsgi, wsgi_to_str
from swift.common.utils import Timestamp, close_if_possible, config_true_value

from onespace import naming
from onespace.headers import content_headers
from onespace.cluster import LocalCluster
from onespace.config import error_line
from onespace.migrator import decide as d
from onespace.migrator.listing import (ListingOrderError, batches, merge, paged,
                                       sorted_listing)
from onespace.migrator.progress import MigratorProgress, new_stats
from onespace.providers import ProviderCache
from onespace.providers.base import NotFound, ProviderError
from onespace.service import Service
from onespace.sync import large

LOG = logging.getLogger("onespace.migrator")



SLO_CLIENT_CONF = """\
[DEFAULT]
swift_dir = %(swift_dir)s

[pipeline:main]
pipeline = catch_errors proxy-logging owner slo symlink proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:owner]
use = call:onespace.migrator.daemon:owner_filter_factory

[filter:slo]
use = egg:swift#slo

[filter:symlink]
use = egg:swift#symlink

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:catch_errors]
use = egg:swift#catch_errors
"""


def owner_filter_factory(global_conf, **local_conf):
    """Marks the migrator's own in-process requests as the account owner's,
    so the proxy keeps the container ACLs they set (it drops X-Container-
    Read/-Write from anyone else), and lets a static symlink be written as
    the source had it (its target's ETag and size as given: the target may
    arrive later in the pass).  Only in the migrator's private internal
    client pipeline, never in a proxy that serves clients."""
    def make(app):
        def owner(env, start_response):
            env["swift_owner"] = True
            env["swift.symlink_override"] = True
            return app(env, start_response)
        return owner
    return make


#: Container and account POSTs: as the owner (ACLs), with versioned_writes so
#: X-Versions-Location / X-History-Location are stored as Swift expects.
CONTAINER_CLIENT_CONF = SLO_CLIENT_CONF.replace(
    "owner slo symlink proxy-server", "owner versioned_writes proxy-server").replace(
    "[filter:slo]\nuse = egg:swift#slo\n",
    "[filter:versioned_writes]\nuse = egg:swift#versioned_writes\n"
    "allow_versioned_writes = true\n")


class MigrationError(Exception):
    """A migration cannot go on as configured (e.g. an invalid storage policy)."""


class LocalEntry:
    """A destination listing entry (``hash`` as listed: see decide.listing_hash)."""
    __slots__ = ("name", "hash", "timestamp")

    def __init__(self, row):
        self.name = row["name"]
        self.hash = row.get("hash") or ""
        self.timestamp = _iso_ts(row.get("last_modified"))


def _text(value):
    """A header value as text: swiftclient hands some out as latin-1 views of
    UTF-8 bytes (WSGI strings), others already decoded."""
    try:
        return value.encode("latin-1").decode("utf-8")  # strict: no surrogate escapes
    except UnicodeError:
        return value


def _iso_ts(value):
    if not value:
        return None
    import datetime
    parsed = datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.timezone.utc)
    return Timestamp(parsed.timestamp())


class _Reader:
    """A file-like ``read(n)`` over a provider Body (what swob's wsgi.input wants).

    Counts the bytes and hashes nothing (hashing a 64 MiB object here cost
    a fifth of its copy's CPU, for a digest nobody read): a plain copy sends
    the source's MD5 as ETag when it has one, which the object servers check,
    and each SLO segment is hashed by its ``_Limited``.  A chunk that fits a
    read is passed on without a copy."""

    def __init__(self, body, tick):
        self._it = iter(body)
        self._buf = b""
        self.count = 0
        self._tick = tick

    def read(self, n=-1):
        if n is None or n < 0:
            parts = [self._buf]
            for chunk in self._it:
                parts.append(chunk)
                self._tick()
            self._buf = b"".join(parts)
            n = len(self._buf)
        while len(self._buf) < n:
            chunk = next(self._it, None)
            if chunk is None:
                break
            self._buf = self._buf + chunk if self._buf else chunk
            self._tick()
        if len(self._buf) <= n:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        self.count += len(out)
        return out


class _Limited:
    """The next ``length`` bytes of a _Reader, with their own MD5."""

    def __init__(self, reader, length):
        self._reader = reader
        self._left = length
        self.count = 0
        self.md5 = hashlib.md5()

    def read(self, n=-1):
        if self._left <= 0:
            return b""
        n = self._left if n is None or n < 0 else min(n, self._left)
        data = self._reader.read(n)
        self._left -= len(data)
        self.count += len(data)
        self.md5.update(data)
        return data


class _BytesReader:
    def __init__(self, data):
        import io
        self._f = io.BytesIO(data)

    def read(self, n=-1):
        return self._f.read(n)


class _SegmentCopies:
    """What copying one source SLO/DLO's segments has done so far."""

    def __init__(self):
        self.written = []     # (local container, name) written outside the job's container
        self.bytes = 0
        self._ensured = set()

    def ensure(self, daemon, job, source_container):
        """The local container for ``source_container``'s segments, made if missing."""
        local = d.local_container(source_container, job.bucket, job.container)
        if local != job.container and local not in self._ensured:
            daemon._ensure_container(job, local)
            self._ensured.add(local)
        return local


class Job:
    """One (migration, source bucket, local container) scan."""

    def __init__(self, migration, bucket, container, provider, mine, replicas,
                 deletes_allowed=True):
        self.migration = migration
        self.bucket = bucket
        self.container = container
        self.account = migration["account"]
        self.provider = provider
        self.mine = mine
        self.replicas = replicas
        self.mid = migration.identity[:16]  # the progress key
        self.deletes_allowed = deletes_allowed
        self.failures = {}  # name -> failure record, filled by MigratorDaemon._fail
        self._mark = None

    @property
    def mark(self):
        """This source's mark on its copies (``decide.source_mark``); a Swift
        source's account is known once it has authenticated."""
        if self._mark is None:
            account = self.provider.account if self.provider.protocol == "swift" else ""
            self._mark = d.source_mark(self.provider.protocol, account, self.bucket)
        return self._mark

    @property
    def marks(self):
        """The marks of the copies this job may delete."""
        return d.job_marks(self.mark, self.mid, self.deletes_allowed)

    def owns(self, name):
        return d.owner(name, self.replicas) in self.mine


class MigratorDaemon:
    """Service worker for onespace-migrator."""

    def __init__(self, config):
        self.config = config
        self.settings = config.settings
        self.ms = config.migrator_settings
        status_dir = self.ms["status_file"] + ".d"
        self.cluster = LocalCluster(self.settings["swift_dir"], self.settings["devices"],
                                    self.settings.get("internal_client_conf_path"),
                                    scratch_dir=status_dir)
        self.cluster.ring = Ring(self.settings["swift_dir"], ring_name=self.ms["ring_name"])
        # one try for writes: a streamed body cannot be sent twice
        self.writer = InternalClient(self.cluster._ic_conf, "onespace-migrator", 1)
        # SLO manifests need the slo middleware, which internal clients lack;
        # container ACLs need the requests to count as the owner's
        self.slo_writer = InternalClient(
            self._private_conf(status_dir, "internal-client-slo.conf", SLO_CLIENT_CONF),
            "onespace-migrator", 1)
        self.container_writer = InternalClient(
            self._private_conf(status_dir, "internal-client-container.conf",
                               CONTAINER_CLIENT_CONF), "onespace-migrator", 3)
        self.progress = MigratorProgress(self.ms["status_file"])
        self.progress.forget_other_migrations([m.identity for m in config.migrations])
        self.pool = eventlet.GreenPool(self.ms["workers"])
        self.chunk = self.ms["items_chunk"]
        self.slack = self.settings["verification_slack"] * 60
        self.container_node = self._is_container_node()
        self._providers = ProviderCache(self.ms["workers"])
        self._ticks = 0
        self.statsd = _statsd_client(self.settings)
        self.stopping = False
        self.clock = time.time
        self.scope = "%d migrations" % len(config.migrations)
        self.shared = set()  # (migration index, account, container): see _find_shared
        self._warned_shared = set()

    def _private_conf(self, directory, name, template):
        import os
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(template % {"swift_dir": self.settings["swift_dir"]})
        return path

    # ---- service worker interface ----------------------------------------
    @property
    def progress_ticks(self):
        return self._ticks

    def tick(self):
        self._ticks += 1

    def summary(self, stats, seconds):
        if self.statsd:
            for key, n in stats.items():
                if n:
                    self.statsd.incr(key, n)
            self.statsd.timing("pass", seconds * 1000)
        return ("%d migrations; last pass %.1fs: %d scanned, %d copied (%.1f MiB), "
                "%d updated, %d deleted, %d kept local, %d left to other nodes, %d failed"
                % (len(self.config.migrations), seconds, stats["scanned"], stats["copied"],
                   stats["bytes"] / 1048576.0, stats["updated"], stats["deleted"],
                   stats["kept_local"], stats["left_to_others"], stats["failed"]))

    @staticmethod
    def pass_busy(stats):
        return bool(stats["copied"] or stats["updated"] or stats["deleted"] or stats["failed"]
                    or stats["containers_removed"])

    @staticmethod
    def pass_ok(stats):
        return stats["failed"] == 0

    def close(self):
        self._providers.close()

    # ---- placement --------------------------------------------------------
    def _is_container_node(self):
        import os
        for dev in self.cluster.ring.devs:
            if dev and self.cluster._is_local(dev) and os.path.isdir(
                    os.path.join(self.settings["devices"], dev["device"])):
                return True
        return False

    def placement(self, account, container):
        """(replica indexes of this node, replica count) or None: not ours."""
        processes, process = self.ms["processes"], self.ms["process"]
        if processes > 1:
            owner = naming.owner_index("%s/%s" % (account, container), processes)
            return ({0}, 1) if owner == process else None
        if not self.container_node:
            return ({0}, 1)
        replicas = self.cluster.local_replicas(account, container)
        if not replicas:
            return None
        return ({r.index for r in replicas}, replicas[0].replicas)

    # ---- the pass ---------------------------------------------------------
    def run_pass(self):
        stats = new_stats()
        pairs = {m.index: self._pairs(m) for m in self.config.migrations}
        self._find_shared(pairs)
        for migration in self.config.migrations:
            if self.stopping:
                break
            try:
                self._migrate(migration, stats, pairs[migration.index])
            except (ProviderError, MigrationError, ListingOrderError) as e:
                stats["failed"] += 1
                LOG.error("%s", e if migration.label in str(e) else
                          "%s: %s" % (migration.label, e))
            except Exception:  # noqa: BLE001 - keep the other migrations going
                stats["failed"] += 1
                LOG.exception("%s: pass failed", migration.label)
        return stats

    def _provider(self, migration, bucket):
        return self._providers.get(migration, bucket)

    def _pairs(self, migration):
        """[(source bucket, local container)] of a migration this pass, or the
        error listing a ``/*`` migration's buckets raised."""
        if not migration.is_all_buckets:
            return [(migration["aws_bucket"], migration["container"])]
        try:
            return [(b, b) for b in self._source_buckets(migration)]
        except Exception as e:  # noqa: BLE001 - raised again by _migrate
            return e

    def _find_shared(self, pairs):
        """Which (migration, container) pairs share their copies' mark with
        another migration (``decide.shared_targets``): those delete nothing.
        A ``/*`` migration whose buckets could not be listed counts with the
        containers it migrated before (its status)."""
        targets = []
        for m in self.config.migrations:
            found = pairs[m.index]
            if isinstance(found, Exception):
                known = self.progress.doc["migrations"].get(m.identity[:16], {})
                found = [(c["bucket"], c["bucket"])
                         for c in known.get("containers", {}).values()]
            for bucket, container in found:
                targets.append(d.Target(m.index, m["account"], container, m["protocol"],
                                        bucket, m.get("aws_endpoint"),
                                        self._source_who(m, bucket)))
        self.shared = d.shared_targets(targets)
        places = {}
        for index, account, container in self.shared:
            places.setdefault((account, container), set()).add(index)
        for (account, container), indexes in sorted(places.items()):
            if (account, container) not in self._warned_shared:  # once per container
                self._warned_shared.add((account, container))
                LOG.warning("%s fill %s/%s from sources of the same name; their copies "
                            "cannot be told apart, so none of them deletes anything there",
                            " and ".join(self.config.migrations[i].label
                                         for i in sorted(indexes)), account, container)

    def _source_who(self, migration, bucket):
        """Who reads the source: the S3 identity, or the Swift source account
        (None if it cannot be learnt now)."""
        if migration["protocol"] != "swift":
            return migration.get("aws_identity")
        try:
            return self._provider(migration, bucket).account
        except Exception:  # noqa: BLE001 - unknown: counted as possibly the same
            return None

    def _migrate(self, migration, stats, pairs):
        if migration.get("propagate_account_metadata") and migration["protocol"] == "swift":
            self._follow_account_metadata(migration)
        entry = self.progress.migration(migration)
        if isinstance(pairs, Exception):
            # shown by onespace-status until a pass lists the buckets again
            self._record_error(entry, pairs)
            raise pairs
        if entry.pop("error", None) is not None:
            self.progress.save()
        for bucket, container in pairs:
            if self.stopping:
                return
            where = self.placement(migration["account"], container)
            if where is None:
                continue
            job = Job(migration, bucket, container, self._provider(migration, bucket), *where,
                      deletes_allowed=(migration.index, migration["account"],
                                       container) not in self.shared)
            try:
                try:
                    self._scan(job, stats)
                except ListingOrderError as e:
                    state = self.progress.container(job.migration, job.bucket, job.container)
                    if e.side == "source" and not state.get("source_unordered"):
                        # every action so far was idempotent and each delete was
                        # confirmed at the source: scan again, from a sorted copy
                        LOG.warning("%s: %s does not list in byte order (%s); reading its "
                                    "listings whole and sorting them from now on",
                                    migration.label, bucket, e)
                        state["source_unordered"] = True
                        state["marker"], state["scan_started"] = "", None
                        self._scan(job, stats)
                    else:
                        raise
            except Exception as e:
                # the whole container failed: shown by onespace-status until
                # a scan of it starts well again
                self._record_error(
                    self.progress.container(job.migration, job.bucket, job.container), e)
                raise

    def _record_error(self, entry, error):
        """Keep why a migration or container failed as a whole, secrets masked."""
        entry["error"] = error_line(error, self.config.secrets())
        self.progress.save()

    def _source_buckets(self, migration):
        """Every container of the source account (``aws_bucket: "/*"``), and the
        ones migrated before that may since have gone (their removal is
        checked container by container)."""
        provider = self._provider(migration, migration["aws_bucket"])
        names = [e.name for e in paged(
            lambda m: provider.list_containers(marker=m, limit=self.chunk))]
        self.tick()
        known = self.progress.doc["migrations"].get(migration.identity[:16], {})
        names += [c["bucket"] for c in known.get("containers", {}).values()]
        return sorted(set(names))

    # ---- one container ----------------------------------------------------
    def _scan(self, job, stats):
        state = self.progress.container(job.migration, job.bucket, job.container)
        now = self.clock()
        if not state["marker"] or not state["scan_started"]:
            state["scan_started"] = now
            state["current"] = new_stats()
            state["marker"] = ""
        prefix = job.migration.get("prefix") or ""
        start = "" if state.get("source_unordered") else state["marker"]
        try:  # the first page also tells whether the source container exists
            first = self._list_source(job.provider, prefix, start)
        except NotFound:
            self._source_container_gone(job, state, stats)
            return
        state.pop("error", None)  # it answers again (saved with the progress)
        self._ensure_container(job)
        self._follow_container_headers(job, state)
        verify = d.verification_due(state["previous_scan_start"], self.slack, now)

        def list_source(marker):
            return first if marker == start and first is not None else \
                self._list_source(job.provider, prefix, marker)
        if state.get("source_unordered"):
            source = [e for e in sorted_listing(list_source, prefix)
                      if e.name > state["marker"]]
        else:
            source = paged(list_source, prefix, state["marker"], side="source")
        local = paged(lambda m: self._list_local(job.account, job.container, prefix, m),
                      prefix, state["marker"], side="local")
        failed = state.setdefault("failed", {})
        for batch in batches(merge(source, local), self.chunk):
            if self.stopping:
                break
            work = []
            counts = new_stats()
            # each name's failure record is made again by what happens to it now
            records = {name: failed.pop(name) for name, _, _ in batch if name in failed}
            for name, src, dst in batch:
                item = self._triage(job, counts, state, name, src, dst, verify,
                                    records.get(name))
                if item is not None:
                    work.append(item)
            self._count(counts, state["current"], stats)
            for item, outcome in zip(work, self.pool.imap(lambda w: self._act(job, *w), work)):
                name = (item[1] or item[2]).name
                if outcome is None and name in records:  # not attempted (stopping)
                    job.failures.setdefault(name, records[name])
                self._count(outcome or {}, state["current"], stats)
            for record in job.failures.values():
                record["scan"] = state["scan_started"]
            failed.update(job.failures)
            job.failures.clear()
            if self.stopping and work:
                # not every item may have been attempted: keep the marker
                self.progress.save()
                break
            state["marker"] = batch[-1][0]
            self.progress.save()
            self.tick()
        else:
            # names not met in this scan (gone from both sides) fail no more
            state["failed"] = {n: r for n, r in failed.items()
                               if r.get("scan") == state["scan_started"]}
            state["last_scan"] = dict(state["current"], started=state["scan_started"],
                                      finished=self.clock())
            state["previous_scan_start"] = state["scan_started"]
            state["marker"] = ""
            state["scan_started"] = None
            self.progress.save()

    def _count(self, outcome, *counters):
        for c in counters:
            for key, n in outcome.items():
                c[key] = c.get(key, 0) + n

    def _list_source(self, provider, prefix, marker):
        page = provider.list(prefix=prefix, marker=marker, limit=self.chunk)
        self.tick()
        return [e for e in page if not e.is_prefix]

    def _list_local(self, account, container, prefix, marker):
        path = self.cluster.client.make_path(account, container)
        query = "?format=json&limit=%d&marker=%s&prefix=%s" % (
            self.chunk, quote(marker.encode("utf-8"), safe=""),
            quote(prefix.encode("utf-8"), safe=""))
        resp = self.cluster.client.make_request("GET", path + query, {}, (2, 404))
        body = b"".join(resp.app_iter)
        self.tick()
        if resp.status_int == 404 or resp.status_int == 204 or not body:
            return []
        return [LocalEntry(row) for row in json.loads(body)]

    def _triage(self, job, cur, state, name, src, dst, verify, record=None):
        """(action kind, source, local entry) needing I/O, or None; counts the
        rest.  ``record``: the name's failure record from an earlier pass."""
        if src is not None:
            cur["scanned"] += 1
            source = d.Source.from_remote(src)
            skip = d.in_scope(job.migration, name, source.timestamp, self.clock())
            if skip is not None:
                cur["skipped"] += 1
                return None
            if dst is not None and d.listing_in_sync(source, dst.timestamp, dst.hash):
                return None
            if not job.owns(name) and not (verify and d.others_entry_due(
                    source, state["previous_scan_start"])):
                cur["left_to_others"] += 1
                return None
            if d.still_refused(record, source):
                # refused for good by the local cluster: not downloaded again
                # (nor logged again) until the source object changes
                job.failures[name] = record
                cur["failed"] += 1
                return None
            return ("source", source, dst)
        # only local: a delete candidate
        if not job.owns(name) and not verify:
            cur["left_to_others"] += 1
            return None
        return ("gone", None, dst)

    # ---- actions ----------------------------------------------------------
    def _act(self, job, kind, source, dst):
        """Do what one name needs; returns counter increments (None: not
        attempted).  Whatever goes wrong fails this name only: it is recorded
        (``_fail``), the scan goes on, and the next pass tries it again."""
        if self.stopping:
            return None
        name = (source or dst).name
        try:
            if kind == "source":
                # HEADed even when not listed: a 404 names a local delete's time
                local, tombstone = self._local_or_tombstone(job, source.name)
                decision = d.decide(source, local, tombstone)
                if decision.action == d.Action.POST:
                    return self._post(job, source)
                if decision.action == d.Action.COPY:
                    result = self._copy(job, source, local)
                    if (result.get("copied") and local is not None and local.own_segments
                            and local.migrated_unmodified):
                        self._delete_segments(job, source.name, local.migrated_ts)
                    return result
                if decision.action == d.Action.KEEP_LOCAL:
                    return {"kept_local": 1}
                return {}
            local = self._head_local(job, dst.name)
            exists = None
            if local is not None and local.migrated_unmodified and local.migration in job.marks:
                exists = job.provider.head(dst.name) is not None
            decision = d.decide_gone(local, exists, job.marks)
            if decision.action == d.Action.DELETE_LOCAL:
                return self._delete_local(job, dst.name, local)
            if decision.action == d.Action.KEEP_LOCAL:
                return {"kept_local": 1}
            return {}
        except Exception as e:  # noqa: BLE001 - one name's failure, recorded
            what = "copy" if kind == "source" else "delete"
            if not isinstance(e, (ProviderError, UnexpectedResponse, OSError, MigrationError)):
                LOG.exception("%s: %s/%s: unexpected error", job.migration.label,
                              job.container, name)
            status = getattr(getattr(e, "resp", None), "status_int", None)
            if kind == "source" and status in d.REFUSED_STATUSES:
                return self._refused(job, source, e)
            return self._fail(job, name, "%s failed: %s" % (what, e))
        finally:
            self.tick()

    def _head_local(self, job, name, container=None):
        return self._local_or_tombstone(job, name, container)[0]

    def _local_or_tombstone(self, job, name, container=None):
        """(LocalState, None), or (None, the tombstone's time or None) when gone."""
        path = self.cluster.client.make_path(job.account, container or job.container, name)
        resp = self.cluster.client.make_request("HEAD", path, {}, (2, 404))
        close_if_possible(resp.app_iter)
        if resp.status_int == 404:
            return None, d.ts(resp.headers.get("X-Backend-Timestamp"))
        return d.LocalState.from_headers(
            {k: wsgi_to_str(v) for k, v in resp.headers.items()}), None

    def _selected(self, job, obj):
        headers = {"content-type": obj.content_type or ""}
        headers.update(("x-object-meta-" + k, v)
                       for k, v in self._user_metadata(job.provider, obj).items())
        return d.selected(job.migration, headers)

    def _copy(self, job, source, local=None):
        if job.migration.get("selection_criteria"):
            # a HEAD first: objects left out cost no data transfer
            head = job.provider.head(source.name)
            if head is None:
                return {}
            if not self._selected(job, head):
                return {"skipped": 1}
        swift_source = job.provider.protocol == "swift"
        # a Swift source's SLO/DLO comes as its manifest, to be rebuilt here
        obj, body = job.provider.get(source.name, manifest=True) if swift_source \
            else job.provider.get(source.name)
        try:
            if swift_source and d.is_symlink(obj.headers):
                return self._copy_symlink(job, source, obj, local)
            if swift_source and d.is_manifest(obj.headers):
                return self._copy_manifest(job, job.bucket, source.name, obj, body,
                                           source.etag or obj.etag, refusal_of=source)
            prepared = self._prepare_copy(job, source, obj, local)
            if isinstance(prepared, dict):
                return prepared  # not selected, or refused
            when, headers = prepared
            plan = self._multipart_plan(job, source, obj)
            if plan is not None:
                result = self._copy_as_slo(job, source.name, obj.size, body, dict(headers),
                                           when, plan, source.etag)
                if result is not None:
                    return result
                # the parts were not of the sizes assumed: read it again below
                body.close()
                obj, body = job.provider.get(source.name)
            if obj.size is not None and obj.size > constraints.MAX_FILE_SIZE:
                return self._copy_as_slo(job, source.name, obj.size, body, headers, when,
                                         d.segment_plan(obj.size, constraints.MAX_FILE_SIZE))
            return self._put_object(job, job.container, source.name, obj, body, headers)
        finally:
            body.close()

    def _copy_headers(self, job, obj, when, source_etag):
        """What a copy of source ``obj`` is written with: its Content-Type,
        kept headers and metadata, the source's time and the migrated marks."""
        headers = self._object_headers(job, obj)
        headers["X-Timestamp"] = when.internal
        headers.update(d.migrated_headers(when, source_etag, job.mark))
        return headers

    def _prepare_copy(self, job, source, obj, local):
        """(time, headers) of a copy of the listed ``obj``, or the item's
        result instead: not selected, or metadata the local cluster refuses."""
        if not self._selected(job, obj):
            return {"skipped": 1}
        when = d.copy_time(self._source_time(job.provider, obj, source), local)
        headers = self._copy_headers(job, obj, when, source.etag or obj.etag)
        refusal = d.metadata_refusal(headers)
        if refusal:
            return self._refused(job, source, refusal)
        return when, headers

    def _copy_symlink(self, job, source, obj, local):
        """A Swift source's symlink (``symlink=get``) as a local symlink to
        the same target (``decide.local_symlink_headers``), written through
        the private pipeline's symlink middleware."""
        prepared = self._prepare_copy(job, source, obj, local)
        if isinstance(prepared, dict):
            return prepared
        _, headers = prepared
        headers.update(d.local_symlink_headers(obj.headers, job.provider.account, job.bucket,
                                               job.container))
        headers["Content-Length"] = "0"
        path = self.slo_writer.make_path(job.account, job.container, source.name)
        resp = self.slo_writer.make_request("PUT", path, headers, (2,),
                                            body_file=_BytesReader(b""))
        close_if_possible(resp.app_iter)
        if resp.status_int == 202:  # as new or newer is there
            return {"kept_local": 1}
        return {"copied": 1, "bytes": 0}

    def _put_object(self, job, container, name, obj, body, headers):
        """One PUT streaming ``body``; the source's MD5, when it has a plain
        one, goes along as ETag for the object servers to check."""
        headers = dict(headers, **{"Content-Length": str(obj.size)})
        if d._plain_md5(obj.etag or ""):
            headers["ETag"] = obj.etag
        reader = _Reader(body, self.tick)
        path = self.writer.make_path(job.account, container, name)
        resp = self.writer.make_request("PUT", path, headers, (2, 409), body_file=reader)
        close_if_possible(resp.app_iter)
        if resp.status_int in (202, 409):
            # as new or newer is there (a local delete, or the same copy made
            # by a racing worker: the proxy turns the object servers' 409 into 202)
            return {"kept_local": 1}
        if reader.count != obj.size:
            raise MigrationError("%s: short read: %d of %d bytes" % (name, reader.count, obj.size))
        return {"copied": 1, "bytes": reader.count}

    # ---- a Swift source's SLOs and DLOs -----------------------------------
    def _copy_manifest(self, job, container, name, raw, body, source_etag, depth=0,
                       copy=None, refusal_of=None):
        """A Swift source's SLO or DLO (``raw``/``body``: its
        ``multipart-manifest=get``) as a manifest of the same kind over copies
        of its segments, each with the migrated marks.  Segments beside the
        manifest go into the migration's container with their source time;
        others into containers of their own name; identical ones already here
        are not copied again.  A failure removes the segments this copy wrote outside
        the migration's container (those inside are objects its scan copies
        anyway).  Nested SLOs recurse (``depth``), as deep as Swift allows
        them, sharing the outermost copy's record (``copy``)."""
        data = b"".join(body)  # a manifest: at most Swift's max_manifest_size
        local_name = d.local_container(container, job.bucket, job.container)
        is_slo = not raw.headers.get("x-object-manifest")
        # a manifest GET carries the SLO's metadata but not its Content-Type
        obj = self._source(job, container).head(name) if is_slo else raw
        if obj is None:
            if depth:
                raise MigrationError("%s/%s is gone at the source" % (container, name))
            return {}
        if not depth and not self._selected(job, obj):
            return {"skipped": 1}
        headers = self._copy_headers(job, obj, self._piece_time(job, local_name, obj),
                                     source_etag)
        refusal = d.metadata_refusal(headers)
        if refusal:
            if refusal_of is not None:  # the listed object itself
                return self._refused(job, refusal_of, refusal)
            raise MigrationError("%s/%s: %s" % (container, name, refusal))
        copy = copy or _SegmentCopies()
        try:
            if is_slo:  # parsed and rewritten as the sync daemon does for Swift remotes
                pieces = large.slo_pieces(large.parse_slo_manifest(data))
                for piece in pieces:
                    self._copy_piece(job, piece, copy, depth)
                data = json.dumps(large.swift_manifest(pieces, lambda p: "/%s/%s" % (
                    d.local_container(p.container, job.bucket, job.container), p.name)
                )).encode("utf-8")
            else:
                seg_container, prefix = large.dlo_prefix(raw.headers["x-object-manifest"])
                source = self._source(job, seg_container)
                listing = paged(lambda m: self._list_source(source, prefix, m), prefix,
                                max_pages=100000)
                for entry in d.dlo_segments(listing, container, name, seg_container):
                    self._copy_segment(job, seg_container, entry.name, entry.etag, copy)
                headers["X-Object-Manifest"] = d.local_dlo_header(
                    raw.headers["x-object-manifest"], job.bucket, job.container)
            written = self._put_manifest(job, local_name, name, headers, data, slo=is_slo)
            if written and depth and local_name != job.container:
                copy.written.append((local_name, name))
        except BaseException as e:
            if depth:
                raise  # the outermost copy cleans up
            self._remove_unused(job, copy.written, local_name, name)
            if not isinstance(e, (MigrationError, UnexpectedResponse, ProviderError,
                                  large.LargeObjectError)):
                raise
            return self._fail(job, name, "large object copy failed: %s" % e)
        if not written:
            if depth:  # the outer manifest's PUT checks that what is there is the same
                return {"kept_local": 1}
            self._remove_unused(job, copy.written, local_name, name)
            return {"kept_local": 1}
        return {"copied": 1, "bytes": copy.bytes + len(data)}

    def _copy_piece(self, job, piece, copy, depth):
        """Copy what one SLO piece reads (a segment, or a nested SLO), unless
        an identical copy is here; inline data needs nothing."""
        if piece.data is not None:
            return
        if not piece.sub_slo:
            self._copy_segment(job, piece.container, piece.name, piece.etag, copy)
            return
        if self._identical_here(job, copy.ensure(self, job, piece.container), piece.name,
                                piece.etag):
            return
        if depth >= 10:
            raise MigrationError("SLOs nested deeper than 10 at %s/%s"
                                 % (piece.container, piece.name))
        raw, body = self._source(job, piece.container).get(piece.name, manifest=True)
        try:
            self._copy_manifest(job, piece.container, piece.name, raw, body, piece.etag,
                                depth + 1, copy)
        finally:
            body.close()

    def _identical_here(self, job, container, name, etag):
        local = self._head_local(job, name, container)
        return local is not None and bool(etag) and local.etag == etag.lower()

    def _copy_segment(self, job, container, name, etag, copy):
        """One segment of a source manifest, unless an identical copy is here."""
        local_name = copy.ensure(self, job, container)
        if self._identical_here(job, local_name, name, etag):
            return
        obj, body = self._source(job, container).get(name)
        try:
            headers = self._copy_headers(job, obj, self._piece_time(job, local_name, obj),
                                         obj.etag)
            result = self._put_object(job, local_name, name, obj, body, headers)
        finally:
            body.close()
        if result.get("failed"):
            raise MigrationError("segment %s/%s not copied" % (container, name))
        if result.get("copied"):
            copy.bytes += result["bytes"]
            if local_name != job.container:
                copy.written.append((local_name, name))

    def _piece_time(self, job, local_container, obj):
        """X-Timestamp of a large object's manifest or segment: its source time
        in the migration's container (so its own listing entry is in sync);
        elsewhere the present, so a later copy is never older than the
        removal of an earlier failed one."""
        if local_container == job.container:
            return self._source_time(job.provider, obj, None)
        return Timestamp.now()

    def _source(self, job, container):
        """The source provider of ``container`` (the job's own, or a sibling)."""
        return job.provider if container == job.bucket else job.provider.with_bucket(container)

    def _multipart_plan(self, job, source, obj):
        """Segments matching an S3 multipart object's parts, or None.

        One HEAD of part 1 gives its size and the part count; every part but
        the last is assumed that size (what every uploader does).  The
        segments' MD5s then must rebuild the source's multipart ETag, so a
        wrong guess is caught (and the object read again, plainly)."""
        count = d.multipart_parts(source.etag)
        if job.provider.protocol != "s3" or not count or count < 2 or not obj.size:
            return None
        try:
            part_size, parts = job.provider.head_part(source.name, 1)
        except ProviderError as e:
            LOG.info("%s: part sizes of %r unknown (%s); copied whole", job.migration.label,
                     source.name, e)
            return None
        return d.multipart_plan(obj.size, part_size, parts or count, constraints.MAX_FILE_SIZE)

    def _copy_as_slo(self, job, name, size, body, headers, when, plan, multipart_etag=None):
        """An SLO: segments (``plan``: [(index, length)]) in
        ``<container>_segments``, then a manifest carrying the source's time,
        metadata and the migrated marks.  Any failure removes the segments
        already written.  With ``multipart_etag`` the segments must rebuild
        that S3 ETag; if not, they are removed and None is returned."""
        seg_container = d.segments_container(job.container)
        self._ensure_container(job, seg_container)
        prefix = d.segment_prefix(name, when)
        headers.update(d.own_segments_headers())
        reader = _Reader(body, self.tick)
        done = []
        try:
            manifest = []
            for index, length in plan:
                seg_name = prefix + "%08d" % index
                part = _Limited(reader, length)
                path = self.writer.make_path(job.account, seg_container, seg_name)
                resp = self.writer.make_request("PUT", path, {"Content-Length": str(length)},
                                                (2,), body_file=part)
                close_if_possible(resp.app_iter)
                done.append((seg_container, seg_name))
                etag = resp.headers.get("Etag", "").strip('"')
                if resp.status_int == 202 and part.count == length:
                    # as new or newer is there: a racing copy of the same
                    # segment (same name and time); fine if it holds these bytes
                    etag = self._identical_here(job, seg_container, seg_name,
                                                part.md5.hexdigest()) and part.md5.hexdigest()
                if part.count != length or etag != part.md5.hexdigest():
                    raise MigrationError("segment %d of %r: short read or checksum mismatch"
                                         % (index, name))
                manifest.append({"path": "/%s/%s" % (seg_container, seg_name),
                                 "etag": etag, "size_bytes": length})
            if multipart_etag and d.multipart_etag(
                    [m["etag"] for m in manifest]) != multipart_etag:
                LOG.info("%s: %r: parts of unequal sizes; copied again whole",
                         job.migration.label, name)
                self._remove_objects(job.account, done)
                return None
            if not self._put_manifest(job, job.container, name, headers,
                                      json.dumps(manifest).encode("utf-8"), slo=True):
                self._remove_unused(job, done, job.container, name)
                return {"kept_local": 1}
        except BaseException as e:
            self._remove_unused(job, done, job.container, name)
            if isinstance(e, (MigrationError, UnexpectedResponse)):
                return self._fail(job, name, "large object copy failed: %s" % e)
            raise
        return {"copied": 1, "bytes": reader.count}

    def _put_manifest(self, job, container, name, headers, data, slo):
        """PUT an SLO manifest (``multipart-manifest=put``, through the slo
        middleware) or a DLO manifest object: True if written, False if as new
        or newer is there (the object servers' 409, which the proxy answers
        with 202)."""
        writer = self.slo_writer if slo else self.writer
        path = writer.make_path(job.account, container, name)
        if slo:
            path += "?multipart-manifest=put"
        headers = dict(headers, **{"Content-Length": str(len(data))})
        resp = writer.make_request("PUT", path, headers, (2, 409), body_file=_BytesReader(data))
        b"".join(resp.app_iter)  # the slo middleware reports errors in the body
        return resp.status_int not in (202, 409)

    def _remove_unused(self, job, written, container, name):
        """Remove what a copy of ``container/name`` wrote, except what the
        local object there reads now: a racing copy of the same object (the
        owner's and a verifier's, two processes) may have written the same
        segment names and won the manifest PUT.  If that cannot be read,
        nothing is removed (orphans over a broken object)."""
        try:
            used, prefixes = self._in_use(job.account, container, name)
        except Exception as e:  # noqa: BLE001 - leave them; logged
            LOG.warning("%s: segments of %r left in place (%s)", job.migration.label, name, e)
            return
        self._remove_objects(job.account, [
            (c, o) for c, o in written
            if (c, o) not in used and not any(c == pc and o.startswith(pp)
                                              for pc, pp in prefixes)])

    def _in_use(self, account, container, name, depth=0):
        """({(container, object)}, [(container, prefix)]) the local object
        ``container/name`` reads now: an SLO's segments and nested manifests
        (and theirs), a DLO's segment prefix; nothing if it is gone."""
        used, prefixes = set(), []
        path = self.writer.make_path(account, container, name)
        resp = self.writer.make_request("GET", path + "?multipart-manifest=get", {}, (2, 404))
        try:
            if resp.status_int == 404:
                return used, prefixes
            headers = {k.lower(): wsgi_to_str(v) for k, v in resp.headers.items()}
            if "x-object-manifest" in headers:
                prefixes.append(large.dlo_prefix(headers["x-object-manifest"]))
            elif config_true_value(headers.get("x-static-large-object")) and depth <= 10:
                for entry in large.parse_slo_manifest(b"".join(resp.app_iter)):
                    seg = large.split_segment_path(entry["name"])
                    used.add(seg)
                    if entry.get("sub_slo"):
                        more, more_prefixes = self._in_use(account, *seg, depth=depth + 1)
                        used |= more
                        prefixes += more_prefixes
        finally:
            close_if_possible(resp.app_iter)
        return used, prefixes

    def _remove_objects(self, account, names):
        """Best effort: DELETE each (container, object) of ``names``."""
        for container, obj in names:
            try:
                path = self.writer.make_path(account, container, obj)
                resp = self.writer.make_request("DELETE", path, {}, (2, 404))
                close_if_possible(resp.app_iter)
            except Exception:  # noqa: BLE001 - best effort; logged
                LOG.warning("could not remove segment %s/%s", container, obj)

    def _delete_segments(self, job, name, migrated_ts):
        """Remove the segments of a migrated SLO version (after it was replaced or deleted)."""
        seg_container = d.segments_container(job.container)
        prefix = d.segment_prefix(name, migrated_ts)
        names = [e.name for e in paged(
            lambda m: self._list_local(job.account, seg_container, prefix, m), prefix,
            max_pages=10000)]
        self._remove_objects(job.account, [(seg_container, n) for n in names])

    def _object_headers(self, job, obj):
        """Content-Type, kept headers and user metadata of a source object, for Swift."""
        headers = {}
        if obj.content_type:
            headers["Content-Type"] = str_to_wsgi(obj.content_type)
        for name, value in content_headers(obj.headers).items():
            headers[name.title()] = value
        for k, v in self._user_metadata(job.provider, obj).items():
            headers[str_to_wsgi("X-Object-Meta-" + k)] = str_to_wsgi(v)
        return headers

    def _post(self, job, source):
        """Newer metadata, same data: a POST time-stamped with the source's
        time, marked with transient sysmeta (which any other POST drops)."""
        obj = job.provider.head(source.name)
        if obj is None:
            return {}
        if not self._selected(job, obj):
            return {"skipped": 1}
        when = self._source_time(job.provider, obj, source)
        headers = self._object_headers(job, obj)
        refusal = d.metadata_refusal(headers)
        if refusal:
            return self._refused(job, source, refusal)
        headers["X-Timestamp"] = when.internal
        headers[d.TRANSIENT_TS] = when.internal
        path = self.writer.make_path(job.account, job.container, source.name)
        resp = self.writer.make_request("POST", path, headers, (2, 404, 409))
        close_if_possible(resp.app_iter)
        if resp.status_int == 409:
            return {"kept_local": 1}
        return {"updated": 1} if resp.status_int // 100 == 2 else {}

    def _fail(self, job, name, reason, refused=None):
        """One name failed: logged and recorded (shown by onespace-status).
        With ``refused`` (the source entry) the local cluster refused that
        version for good: it is not tried again until the source changes."""
        LOG.error("%s: %s/%s: %s", job.migration.label, job.container, name, reason)
        record = {"reason": reason}
        if refused is not None:
            record["refused"] = d.source_version(refused)
        job.failures[name] = record
        return {"failed": 1}

    def _refused(self, job, source, reason):
        return self._fail(job, source.name, "refused by the local cluster: %s" % reason, source)

    @staticmethod
    def _user_metadata(provider, obj):
        """User metadata as real text: S3 values come RFC 2047-decoded already;
        Swift header values arrive as latin-1 views of UTF-8 bytes."""
        if provider.protocol == "s3":
            return dict(obj.metadata)
        return {_text(k): _text(v)
                for k, v in list(obj.metadata.items()) + list(obj.internal.items())}

    @staticmethod
    def _source_time(provider, obj, source):
        """X-Timestamp of the copy: a Swift source's own X-Timestamp; for S3 the
        listing's Last-Modified, or the GET's if the object changed since."""
        if provider.protocol == "swift":
            t = d.ts(obj.headers.get("x-timestamp"))
            if t is not None:
                return t
        candidates = [t for t in (source and source.timestamp, d.ts(obj.last_modified))
                      if t is not None]
        return max(candidates) if candidates else Timestamp.now()

    def _delete_local(self, job, name, local):
        # HEADed again right before: a POST since the decision (a user's
        # metadata) would not stop the DELETE at the object servers
        if not d.still_decided(local, self._head_local(job, name)):
            return {"kept_local": 1}
        path = self.cluster.client.make_path(job.account, job.container, name)
        resp = self.cluster.client.make_request(
            "DELETE", path, {"X-Timestamp": d.delete_timestamp(local)}, (2, 404, 409))
        close_if_possible(resp.app_iter)
        if resp.status_int == 409:
            return {"kept_local": 1}
        if resp.status_int // 100 != 2:
            return {}
        if local.own_segments:
            self._delete_segments(job, name, local.migrated_ts)
        return {"deleted": 1}

    # ---- containers -------------------------------------------------------
    def _ensure_container(self, job, container=None):
        container = container or job.container
        path = self.cluster.client.make_path(job.account, container)
        resp = self.cluster.client.make_request("HEAD", path, {}, (2, 404))
        close_if_possible(resp.app_iter)
        if resp.status_int != 404:
            return
        headers = {}
        policy = job.migration.get("storage_policy")
        if policy:
            headers["X-Storage-Policy"] = policy
        resp = self.cluster.client.make_request("PUT", path, headers, (2, 400))
        body = b"".join(resp.app_iter)
        if resp.status_int == 400:
            raise MigrationError("%s: cannot create %s/%s: storage_policy %r refused by the "
                                 "local cluster (%s)" % (
                                     job.migration.label, job.account, container, policy,
                                     body.decode("utf-8", "replace").strip()[:200]))

    def _follow_container_headers(self, job, state):
        """A Swift source's container metadata and ACLs, POSTed when they change
        (what was applied is remembered, so a removal is applied too)."""
        if job.provider.protocol != "swift":
            return
        try:
            wanted = {k: _text(v) for k, v in
                      d.container_headers(job.provider.head_container()).items()}
        except ProviderError as e:
            LOG.warning("%s: container metadata of %s not read: %s", job.migration.label,
                        job.bucket, e)
            return
        changes = d.container_header_changes(wanted, state.get("container_headers") or {})
        if not changes:
            return
        path = self.container_writer.make_path(job.account, job.container)
        resp = self.container_writer.make_request(
            "POST", path, {k: str_to_wsgi(v) for k, v in changes.items()}, (2,))
        close_if_possible(resp.app_iter)
        state["container_headers"] = wanted
        self.progress.save()

    def _follow_account_metadata(self, migration):
        """The source account's metadata, POSTed to the local account when it
        changes (by the process that handles the account's first container
        name, so nodes do not all POST)."""
        if self.placement(migration["account"], "") is None:
            return
        provider = self._provider(migration, migration["aws_bucket"])
        try:
            wanted = {k: _text(v) for k, v in d.account_headers(provider.head_account()).items()}
        except ProviderError as e:
            LOG.warning("%s: account metadata not read: %s", migration.label, e)
            return
        entry = self.progress.doc["migrations"].setdefault(migration.identity[:16],
                                                           {"containers": {}})
        changes = d.container_header_changes(wanted, entry.get("account_headers") or {})
        if not changes:
            return
        path = self.container_writer.make_path(migration["account"])
        resp = self.container_writer.make_request(
            "POST", path, {k: str_to_wsgi(v) for k, v in changes.items()}, (2,))
        close_if_possible(resp.app_iter)
        entry["account_headers"] = wanted
        self.progress.save()

    def _source_container_gone(self, job, state, stats):
        """The source container no longer exists: its unmodified copies go, as
        each source object's delete would take them
        (``decide.container_objects_to_delete``), and the local container too
        once nothing else is in it; a user's object keeps it (the node owning
        the container name does it; others leave it)."""
        if d.owner(job.container, job.replicas) not in job.mine:
            return
        if state["previous_scan_start"] is None:
            LOG.error("%s: source %s does not exist", job.migration.label, job.bucket)
            stats["failed"] += 1
            state["error"] = "source %s does not exist" % job.bucket
            self.progress.save()
            return
        try:  # confirm with a second, different request
            job.provider.check_access()
        except NotFound:
            pass
        else:
            return
        names = [e.name for e in paged(
            lambda m: self._list_local(job.account, job.container, "", m), "",
            max_pages=1000)]
        states = [(n, self._head_local(job, n)) for n in names]
        doomed = d.container_objects_to_delete(states, job.marks)
        for name, local in doomed:
            self._count(self._delete_local(job, name, local), state["current"], stats)
        if len(doomed) < sum(1 for _, local in states if local is not None):
            LOG.warning("%s: source %s is gone; local %s/%s kept with the objects the "
                        "migrator did not write or that changed locally",
                        job.migration.label, job.bucket, job.account, job.container)
            self.progress.save()
            return
        path = self.cluster.client.make_path(job.account, job.container)
        resp = self.cluster.client.make_request("DELETE", path, {}, (2, 404, 409))
        close_if_possible(resp.app_iter)
        if resp.status_int // 100 == 2:
            stats["containers_removed"] += 1
            state["current"]["containers_removed"] += 1
            LOG.info("%s: source %s is gone; removed local %s/%s", job.migration.label,
                     job.bucket, job.account, job.container)
            if job.migration.is_all_buckets:  # nothing left to follow
                self.progress.doc["migrations"][job.mid]["containers"].pop(
                    "%s\n%s" % (job.bucket, job.container), None)
        self.progress.save()


def _statsd_client(settings):
    """A statsd client (prefix ``<statsd_prefix>.migrator``), or None."""
    if not settings.get("statsd_host"):
        return None
    import statsd
    return statsd.StatsClient(settings["statsd_host"], settings["statsd_port"],
                              prefix=settings["statsd_prefix"] + ".migrator")


class MigratorService(Service):
    """The common runner, with the migrator's own poll_interval and logging."""

    def read_config(self):
        return migrator_view(super().read_config())


def migrator_view(config):
    """The config with ``migrator_settings`` poll_interval/log_file/log_level
    as the settings the runner reads."""
    ms = config.migrator_settings
    settings = dict(config.settings)
    settings["poll_interval"] = ms["poll_interval"]
    settings["log_level"] = ms["log_level"]
    if ms.get("log_file"):
        settings["log_file"] = ms["log_file"]
    config.settings = settings
    return config
