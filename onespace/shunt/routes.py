"""Which local containers the shunt serves, and from where.

:class:`RouteTable` is built from the daemon's own validated config: every
``containers[]`` mapping with ``merge_namespaces: true`` (archived objects)
and every ``migrations[]`` entry (objects not migrated yet).  A
:class:`Route` ties one local container to its remote (provider, key
naming).  When both name a container, the archive mapping wins: its remote
holds what left the local cluster.
:class:`ConfigWatcher` re-reads the file when it changes on disk (its
inode, size or mtime), at most once per ``interval`` seconds; a broken file
keeps the previous table and is logged once per version of the file.
"""

from __future__ import annotations

import json
import os
import threading
import time
from urllib.parse import quote

from onespace import config as config_mod
from onespace import naming
from onespace.providers import INTERACTIVE_TIMEOUTS, make_provider
from onespace.shunt.listing import RemoteNames


class Route:
    """One local container (``account``/``container``) served from a mapping."""

    def __init__(self, mapping, account, container, provider):
        self.mapping = mapping
        self.account = account
        self.container = container
        self.provider = provider
        self.protocol = mapping.get("protocol", "s3")
        #: a migration's source: read-only, names as they are at the source
        self.is_migration = isinstance(mapping, config_mod.Migration)
        custom = mapping.get("custom_prefix")
        if self.is_migration:
            self.names = RemoteNames("", only=mapping.get("prefix") or "")
        elif self.protocol == "s3":
            prefix = naming.s3_listing_prefix(account, container, custom)
            hidden = None
            if custom is not None:  # manifests live inside the listing prefix
                hidden = naming.s3_manifest_prefix(account, container, custom)[len(prefix):]
            self.names = RemoteNames(prefix, hidden)
        else:
            self.names = RemoteNames("")
        self.location = _location(mapping, provider.bucket)

    @property
    def label(self):
        return self.mapping.label

    @property
    def restore(self):
        return not self.is_migration and bool(self.mapping.get("restore_object"))

    def serves(self, name):
        """Whether the remote may hold ``name`` (a migration only copies its prefix)."""
        return self.names.name(self.key(name)) is not None

    def key(self, name):
        if self.protocol == "s3" and not self.is_migration:
            return naming.s3_key(self.account, self.container, name,
                                 self.mapping.get("custom_prefix"))
        return name

    def local_segments_container(self, remote_container):
        """Where segments of a Swift remote's ``remote_container`` live locally."""
        return naming.local_segments_container(
            self.mapping["aws_bucket"], remote_container, self.container,
            self.mapping.get("container") == "/*")

    def manifest_key(self, name):
        """Where an archived SLO's manifest is kept (S3 remotes only)."""
        return naming.s3_manifest_key(self.account, self.container, name,
                                      self.mapping.get("custom_prefix"))

    def object_location(self, name):
        return "%s/%s" % (self.location, quote(self.key(name)))


def _endpoint(entry):
    """An entry's remote endpoint as shown to clients (no credentials)."""
    return config_mod._display_endpoint(entry.get("aws_endpoint") or "https://s3.amazonaws.com")


def _location(entry, bucket):
    """Where a remote bucket lives, for ``content_location``."""
    return "%s/%s" % (_endpoint(entry), bucket)


def _mapping_key(mapping):
    return json.dumps([type(mapping).__name__, dict(mapping)], sort_keys=True, default=str)


class RouteTable:
    """The merged-namespace mappings of one config, looked up by container.

    Providers are made on first use and kept; a new table built from a
    changed file takes over the providers of mappings that did not change.
    """

    def __init__(self, config=None, previous=None):
        self._exact = {}
        self._per_account = {}
        self._providers = {}
        self._lock = threading.Lock()
        self.accounts = frozenset()
        #: account -> its ``aws_bucket: "/*"`` migration (account listings)
        self.account_migrations = {}
        if config is None:
            return
        old = previous._providers if previous else {}
        served = [m for m in config.mappings if m.get("merge_namespaces")]
        for entry in served + list(config.migrations):
            account, container = entry.get("account"), entry.get("container")
            if entry.is_per_account:
                self._per_account.setdefault(account, entry)
                if isinstance(entry, config_mod.Migration):
                    self.account_migrations.setdefault(account, entry)
            else:
                self._exact.setdefault((account, container), entry)
            key = _mapping_key(entry)
            if key in old:
                self._providers[key] = old[key]
        self.accounts = frozenset([a for a, _ in self._exact] + list(self._per_account))

    def __bool__(self):
        return bool(self.accounts)

    def _provider(self, mapping, container):
        key = _mapping_key(mapping)
        with self._lock:
            base = self._providers.get(key)
            if base is None:
                base = self._providers[key] = make_provider(
                    mapping, pool_size=20, timeouts=INTERACTIVE_TIMEOUTS)
        if isinstance(mapping, config_mod.Migration):
            # a "/*" migration keeps the source's container names
            return base.with_bucket(container) if mapping.is_all_buckets else base
        if mapping.is_per_account and mapping.get("protocol", "s3") == "swift":
            return base.with_bucket(naming.swift_container(mapping["aws_bucket"],
                                                           container, True))
        return base

    def account_source(self, account):
        """The provider listing the source containers of ``account``'s
        ``/*`` migration, with the endpoint they live at, or None."""
        migration = self.account_migrations.get(account)
        if migration is None:
            return None
        return self._provider(migration, None), _endpoint(migration)

    def route(self, account, container):
        """The Route of a local container, or None when it is not served."""
        if account not in self.accounts:
            return None
        mapping = self._exact.get((account, container)) or self._per_account.get(account)
        if mapping is None:
            return None
        return Route(mapping, account, container, self._provider(mapping, container))


class ConfigWatcher:
    """The current RouteTable of ``path``, re-read when the file changes."""

    def __init__(self, path, interval, logger, clock=time.monotonic):
        self.path = path
        self.interval = interval
        self.logger = logger
        self.clock = clock
        self._next = 0.0
        self._signature = None
        self.table = RouteTable()
        self.loaded = False

    def current(self):
        now = self.clock()
        if now >= self._next:
            self._next = now + self.interval
            self.check()
        return self.table

    def _stat(self):
        try:
            st = os.stat(self.path)
        except OSError as e:
            return ("missing", e.errno)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def check(self):
        """Re-read the file if it changed; True when a new table took over."""
        signature = self._stat()
        if signature == self._signature:
            return False
        self._signature = signature
        try:
            loaded = config_mod.load(self.path)
        except config_mod.ConfigError as e:
            what = "keeping the previous configuration" if self.loaded \
                else "serving no remote data until it is fixed"
            self.logger.error("cloud-shunt: %s is not usable (%s): %s", self.path, what,
                              "; ".join(e.problems))
            return False
        self.table = RouteTable(loaded, self.table)
        if self.loaded:
            self.logger.info("cloud-shunt: reloaded %s (%d served mappings and migrations)",
                             self.path, len(self.table._exact) + len(self.table._per_account))
        self.loaded = True
        return True
