"""Which rows are this node's, and the passes over them.

Every container database has N replicas.  A row whose name hashes to one of
this node's replica indexes is handled here in the *primary* pass as soon as
``copy_after`` allows.  The other rows are *verified* here once they are
older than ``verification_slack``: a listing of the remote (one request per
page of keys) shows whether the owner did its job, and only what is missing
or different is acted on.  So a node that is down costs a delay, never data.

Progress is kept per (mapping, container database) by ``status.ProgressStore``.
A row that fails for good (e.g. a name too long for the remote) is recorded
as failed and passed; a row that fails for a passing reason (the remote is
down) stops progress at that row, and the mapping backs off.
"""

import logging
import time

import eventlet

from onespace import naming
from onespace.providers import ProviderCache
from onespace.providers.base import ProviderError
from onespace.status import ProgressStore
from onespace.sync.container import ensure_lifecycle_rule, sync_container_headers
from onespace.sync.decide import Row, listing_says_in_sync, ready
from onespace.sync.worker import DONE, FAILED, RETRY, UNKNOWN, ContainerSyncer, Outcome

LOG = logging.getLogger("onespace.crawler")

# From two rows up, one listing page (1000 keys) costs fewer requests than a
# HEAD per row; a single row is one request either way, and a HEAD is the
# cheaper request on priced stores (an AWS LIST costs about 12 HEADs).
LISTING_MIN_ROWS = 2


class PassStats:
    """Counters of one pass (and the source of statsd increments)."""

    FIELDS = ("rows", "uploaded", "bytes", "posted", "deleted", "archived", "skipped",
              "failed", "retry", "remote_requests", "verified")

    def __init__(self):
        for f in self.FIELDS:
            setattr(self, f, 0)

    def add(self, outcome):
        self.rows += 1
        self.remote_requests += outcome.remote_requests
        self.bytes += outcome.bytes
        self.archived += outcome.archived
        name = {"upload": "uploaded", "post": "posted", "delete": "deleted"}.get(
            outcome.action.value)
        if outcome.status == DONE and name:
            setattr(self, name, getattr(self, name) + 1)
        elif outcome.status in ("skipped", FAILED, RETRY):
            key = "skipped" if outcome.status == "skipped" else outcome.status
            setattr(self, key, getattr(self, key) + 1)

    def as_dict(self):
        return {f: getattr(self, f) for f in self.FIELDS}


class Backoff:
    """Per-mapping retry delays for remotes that are down or refuse us."""

    def __init__(self, max_delay, clock=time.time):
        self.max_delay = max_delay
        self.clock = clock
        self._state = {}  # identity -> (retry_at, delay)

    def waiting(self, identity):
        state = self._state.get(identity)
        return state is not None and self.clock() < state[0]

    def failed(self, identity):
        _, delay = self._state.get(identity, (0, 0.5))
        delay = min(delay * 2, self.max_delay)
        self._state[identity] = (self.clock() + delay, delay)
        return delay

    def succeeded(self, identity):
        return self._state.pop(identity, None) is not None


class Crawler:
    """One pass over every mapping's containers on this node."""

    def __init__(self, config, cluster, stats_sink=None, clock=time.time):
        self.config = config
        self.settings = config.settings
        self.cluster = cluster
        self.store = ProgressStore(self.settings["status_dir"])
        if config.path:
            self.store.forget_dropped_mappings(config.path, [m.identity for m in config.mappings])
        self.clock = clock
        self.backoff = Backoff(self.settings["remote_retry_max_delay"], clock)
        self.stats_sink = stats_sink
        self.pool = eventlet.GreenPool(self.settings["workers"])
        self._providers = ProviderCache(self.settings["workers"])
        self._progress_ticks = 0
        self.stopping = False
        self.retry_failed = True  # on start-up and reload, failed rows get another try
        self._lifecycle_checked = set()  # (mapping identity, container)
        self._segments_noted = set()  # (mapping identity, container), logged once

    # ---- helpers -----------------------------------------------------
    def tick(self, n=1):
        """Something moved (bytes, a request): the watchdog may be fed."""
        self._progress_ticks += 1

    @property
    def progress_ticks(self):
        return self._progress_ticks

    def provider(self, mapping, container):
        bucket = mapping["aws_bucket"]
        if mapping["protocol"] == "swift":
            bucket = naming.swift_container(bucket, container, mapping.is_per_account)

        def prepare(provider):
            # Swift remotes get their container created; S3 buckets must exist
            provider.check_access(create=mapping["protocol"] == "swift")
        provider = self._providers.get(mapping, bucket, prepare)
        # a bucket's lifecycle rules: once per process and container (a
        # per-account mapping's containers share one bucket, each its rule)
        if (mapping.identity, container) not in self._lifecycle_checked:
            ensure_lifecycle_rule(mapping, mapping["account"], container, provider)
            self._lifecycle_checked.add((mapping.identity, container))
        return provider

    def close(self):
        self._providers.close()

    # ---- the pass ----------------------------------------------------
    def run_pass(self):
        """Sync every mapping once; returns the pass's PassStats."""
        stats = PassStats()
        enumerators = eventlet.GreenPool(self.settings["enumerator_workers"])
        for mapping in self.config.mappings:
            if self.stopping:
                break
            if self.backoff.waiting(mapping.identity):
                continue
            try:
                containers = self._containers(mapping)
            except Exception as e:  # noqa: BLE001 - keep the other mappings going
                LOG.error("%s: cannot list containers of %s: %s", mapping.label,
                          mapping["account"], e)
                continue
            for container, listed in containers:
                enumerators.spawn_n(self._sync_container_safely, mapping, container, stats,
                                    listed)
        enumerators.waitall()
        self.retry_failed = False
        return stats

    def _containers(self, mapping):
        """[(container, listed)] to sync for ``mapping``."""
        if not mapping.is_per_account:
            return [(mapping["container"], True)]
        listed = self.cluster.list_containers(mapping["account"])
        if not mapping["retain_local"]:
            listed = [c for c in listed if not self._segments_left_alone(mapping, c)]
        # a container deleted since an earlier pass is no longer listed, but
        # its database (with the object deletes to send) stays until Swift
        # reclaims it
        gone = self.store.containers(mapping.identity) - set(listed)
        return [(c, True) for c in listed] + [(c, False) for c in sorted(gone)]

    def _segments_left_alone(self, mapping, container):
        """In archive mode a per-account mapping leaves the segments containers
        of Swift's clients (``<c>_segments``, ``<c>+segments``) to the large
        objects reading them: archived on their own, as plain objects, they
        would be gone before (or while) their manifest is copied."""
        if not container.endswith(("_segments", "+segments")):
            return False
        if (mapping.identity, container) not in self._segments_noted:
            self._segments_noted.add((mapping.identity, container))
            LOG.info("%s: %s/%s is a segments container: its objects leave with the "
                     "large objects that read them (retain_local_segments), not on their "
                     "own", mapping.label, mapping["account"], container)
        return True

    def _sync_container_safely(self, mapping, container, stats, listed=True):
        try:
            self.sync_container(mapping, container, stats, listed)
        except ProviderError as e:
            stats.retry += 1
            delay = self.backoff.failed(mapping.identity)
            LOG.error("%s; retrying in %.0fs", e, delay)  # the error names the mapping
        except Exception:  # noqa: BLE001
            stats.retry += 1
            LOG.exception("%s: container %s/%s failed", mapping.label,
                          mapping["account"], container)

    def sync_container(self, mapping, container, stats, listed=True):
        """One pass over every local database holding rows of ``container``
        (``listed``: in the account listing; else deleted since a pass)."""
        account = mapping["account"]
        databases = self.cluster.local_databases(account, container)
        if not databases:
            if not listed:  # reclaimed by Swift: nothing left to send
                self.store.prune(mapping.identity, account, container, [])
            return
        provider = self.provider(mapping, container)
        self._sync_container_headers(mapping, account, container, provider)
        syncer = ContainerSyncer(mapping, account, container, self.cluster, provider,
                                 self.tick)
        for db in databases:
            if self.stopping:
                return
            self._sync_database(syncer, db, stats)
        self.store.prune(mapping.identity, account, container, [db.db_id for db in databases])

    def _sync_container_headers(self, mapping, account, container, provider):
        """Container metadata/ACLs, once per pass; a failure here must not
        hold up the objects (a remote that is down fails them anyway)."""
        try:
            sync_container_headers(mapping, account, container, self.cluster, provider)
            self.tick()
        except ProviderError as e:
            LOG.error("%s", e)  # the error names the mapping
        except Exception:  # noqa: BLE001
            LOG.exception("%s: container headers of %s/%s not synced", mapping.label,
                          account, container)

    def _sync_database(self, syncer, db, stats):
        mapping, broker = syncer.mapping, db.broker
        progress = self.store.load(mapping.identity, syncer.account, syncer.container,
                                   db.db_id, db.label)

        def owner(name):
            """True: this node's row; False: another node's; None: another database's."""
            if db.skips(name):
                return None
            return db.owns(naming.owner_index(name, db.classes))

        if self.retry_failed and progress["failed"]:
            self._retry_failed(broker, syncer, progress, stats)
        if self._primary(broker, syncer, progress, owner, stats):
            self._verify(broker, syncer, progress, owner, stats)
        self.store.save(progress)

    # ---- primary pass ------------------------------------------------
    def _primary(self, broker, syncer, progress, owner, stats):
        copy_after = syncer.mapping["copy_after"]
        while not self.stopping:
            items = broker.get_items_since(progress["last_row"], self.settings["items_chunk"])
            if not items:
                return True
            rows, complete = self._ready_rows(items, lambda r: ready(r, copy_after, self.clock()))
            todo = [r for r in rows if owner(r.name)]
            # one listing page per 1000 keys instead of a HEAD per object: the
            # owner sends what its listing lacks.  Each row has one owner, also
            # across a sharded container's databases (cluster.shard_owners);
            # verifiers, who act on others' rows, HEAD before they send
            work = self._needing_work(syncer, todo)
            outcomes = self._run(syncer, work, stats, confirm=False)
            if not self._record(rows, outcomes, progress, "last_row", syncer.mapping):
                return False
            self.backoff.succeeded(syncer.mapping.identity)
            if not complete:
                return True
        return False

    # ---- verification pass ---------------------------------------------
    def _verify(self, broker, syncer, progress, owner, stats):
        slack = self.settings["verification_slack"] * 60
        copy_after = syncer.mapping["copy_after"]

        def eligible(row):
            return ready(row, max(slack, copy_after), self.clock())

        while not self.stopping:
            items = broker.get_items_since(progress["verified_row"], self.settings["items_chunk"])
            if not items:
                return
            rows, complete = self._ready_rows(items, eligible)
            # never verify beyond what the primary pass has looked at
            rows = [r for r in rows if r.row_id <= progress["last_row"]]
            if not rows:
                return
            others = [r for r in rows if owner(r.name) is False]
            work = self._needing_work(syncer, others)
            stats.verified += len(others) - len(work)
            outcomes = self._run(syncer, work, stats)
            if not self._record(rows, outcomes, progress, "verified_row", syncer.mapping):
                return
            if not complete or rows[-1].row_id < items[-1]["ROWID"]:
                return

    def _needing_work(self, syncer, rows):
        """(row, remote hint) for the rows a listing does not show in sync."""
        hints = self._remote_hints(syncer, rows)
        return [(r, hints.get(r.name, UNKNOWN)) for r in rows
                if r.name not in hints or not listing_says_in_sync(r, hints[r.name],
                                                                    syncer.mapping)]

    def _record(self, rows, outcomes, progress, position, mapping):
        """Move ``progress[position]`` as far as the outcomes allow and save it;
        False (and the mapping backs off) when a row must be retried."""
        progress[position], ok = self._advance(rows, outcomes, progress)
        self.store.save(progress)
        if not ok:
            self._backoff(mapping, outcomes)
        return ok

    def _remote_hints(self, syncer, rows):
        """Remote entries for ``rows`` from listing pages: name -> RemoteObject or None.

        Names missing from the result were not covered (sparse rows): the
        worker HEADs those instead.
        """
        if len(rows) < LISTING_MIN_ROWS:
            return {}
        names = sorted(r.name for r in rows)
        prefix = syncer.listing_prefix()
        first_key = syncer.remote_key(names[0])
        # start just before the first key: any key that sorts after its own
        # prefix-minus-one-character works as an exclusive marker
        marker = first_key[:-1]
        wanted = {syncer.remote_key(n): n for n in names}
        last_key = syncer.remote_key(names[-1])
        found = {}
        max_pages = max(2, len(names) // 100)
        for _ in range(max_pages):
            page = syncer.provider.list(prefix=prefix, marker=marker, limit=1000)
            self.tick()
            for entry in page:
                if entry.name in wanted:
                    found[wanted[entry.name]] = entry
            if not page or page[-1].name >= last_key:
                covered_to = last_key if not page or page[-1].name >= last_key else page[-1].name
                break
            marker = page[-1].name
        else:
            covered_to = marker
        # names up to covered_to that the listing did not show are absent remotely
        for key, name in wanted.items():
            if name not in found and key <= covered_to:
                found[name] = None
        return found

    # ---- shared ------------------------------------------------------
    @staticmethod
    def _ready_rows(items, is_ready):
        """Rows up to (not including) the first one that is not ready yet."""
        rows = []
        for item in items:
            row = Row.from_broker(item)
            if not is_ready(row):
                return rows, False
            rows.append(row)
        return rows, True

    def _run(self, syncer, work, stats, confirm=True):
        """Handle rows concurrently; returns {row_id: Outcome}."""
        outcomes = {}
        for (row, _), outcome in zip(work, self.pool.imap(
                lambda rw: syncer.handle(*rw, confirm) if not self.stopping else None, work)):
            if outcome is None:  # stopping: not attempted, so progress must stop here
                outcomes[row.row_id] = Outcome(RETRY, reason="stopping")
                continue
            outcomes[row.row_id] = outcome
            stats.add(outcome)
            if self.stats_sink:
                self.stats_sink(outcome)
            self.tick()
        return outcomes

    @staticmethod
    def _advance(rows, outcomes, progress):
        """The last row id progress may move to, and whether all went well.

        Rows this node does not handle (absent from ``outcomes``) count as
        done; progress stops just before the first row that must be retried
        or was not attempted.
        """
        last = None
        failed = progress["failed"]
        for row in rows:
            outcome = outcomes.get(row.row_id)
            if outcome is not None and outcome.status == RETRY:
                return (last if last is not None else row.row_id - 1), False
            if outcome is not None and outcome.status == FAILED:
                failed[row.name] = {"row": row.row_id, "reason": outcome.reason}
            elif outcome is not None:
                failed.pop(row.name, None)
            last = row.row_id
        if last is None:
            return progress["last_row"], True
        return last, True

    def _retry_failed(self, broker, syncer, progress, stats):
        """Give rows that failed for good another try (after a restart or reload:
        the operator may have fixed the cause)."""
        for name in list(progress["failed"]):
            item = _current_row(broker, name)
            if item is None:  # the row is gone (reclaimed): nothing to retry
                progress["failed"].pop(name, None)
                continue
            outcome = syncer.handle(Row.from_broker(item))
            stats.add(outcome)
            if outcome.status not in (FAILED, RETRY):
                progress["failed"].pop(name, None)

    def _backoff(self, mapping, outcomes):
        if self.stopping:
            return  # not a remote problem
        errors = [o for o in outcomes.values() if o.status == RETRY]
        delay = self.backoff.failed(mapping.identity)
        reason = errors[0].reason if errors else "stopped"
        LOG.warning("%s: %s; retrying in %.0fs", mapping.label, reason, delay)


def _current_row(broker, name):
    """The database row of ``name`` now (an overwrite replaces the old row)."""
    from swift.common.db import dict_factory
    with broker.get() as conn:
        curs = conn.execute("SELECT * FROM object WHERE name = ?", (name,))
        curs.row_factory = dict_factory
        rows = list(curs)
    return rows[0] if rows else None
