"""The migrator's progress: one JSON document in ``status_file``.

Layout (keys are migration identities, then "<source bucket>\\n<local container>")::

    {"migrations": {"<identity[:16]>": {
        "label": "migrations[0] (...)",
        "error": "...",                 # why its last pass failed as a whole (if it did)
        "containers": {"<bucket>\\n<container>": {
            "marker": "",               # last name handled by the scan in progress
            "scan_started": 0.0,        # when the scan in progress began
            "previous_scan_start": null,  # when the last complete scan began
            "current": {stats},         # counters of the scan in progress
            "last_scan": {stats, "started", "finished"},
            "error": "...",             # why the container failed as a whole (if it did)
            "failed": {"<name>": {      # names whose last attempt failed
                "reason": "...",        # the error, as logged
                "refused": "<etag> <ts>",  # refused for good: this source version
                "scan": 0.0}}}}}}          # the scan that last met it

Written atomically (``status.write_json_atomic``).  A regular file that
is not such a document is moved aside (``<status_file>.corrupt``) and
migration restarts from the first name: every object is compared again,
nothing is lost.  Any other failure to read it (a directory, no permission)
stops the migrator with one line naming the path: moving such a thing aside
could move someone else's data.
"""

import logging
import math
import os

from onespace.status import (ProgressCorrupt, ProgressUnreadable, read_json_doc,
                             write_json_atomic)

LOG = logging.getLogger("onespace.migrator")

STAT_FIELDS = ("scanned", "copied", "updated", "bytes", "deleted", "kept_local", "skipped",
               "left_to_others", "failed", "containers_removed")


def new_stats():
    return {f: 0 for f in STAT_FIELDS}


def _number(value, none_ok=False):
    if value is None:
        return none_ok
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _stats(d, scan=False):
    return (isinstance(d, dict) and all(_number(d.get(f)) for f in STAT_FIELDS)
            and (not scan or (_number(d.get("started")) and _number(d.get("finished")))))


def _container(c):
    return (isinstance(c, dict)
            and all(isinstance(c.get(k), str) for k in ("bucket", "container", "account",
                                                         "marker"))
            and _number(c.get("scan_started"), True)
            and _number(c.get("previous_scan_start"), True)
            and _stats(c.get("current"))
            and (c.get("last_scan") is None or _stats(c["last_scan"], scan=True))
            and isinstance(c.get("error", ""), str)
            and isinstance(c.get("failed", {}), dict)
            and all(isinstance(r, dict) and isinstance(r.get("reason"), str)
                    for r in c.get("failed", {}).values()))


def is_status(doc):
    """Has ``doc`` the layout above (the migrator and onespace-status rely on it)?"""
    return (isinstance(doc, dict) and isinstance(doc.get("migrations"), dict)
            and all(isinstance(m, dict) and isinstance(m.get("containers"), dict)
                    and isinstance(m.get("error", ""), str)
                    and all(_container(c) for c in m["containers"].values())
                    for m in doc["migrations"].values()))


def read(path):
    """The status document at ``path`` (see status.read_json_doc)."""
    return read_json_doc(path, is_status, "a migrator status document")


class MigratorProgress:
    def __init__(self, path):
        self.path = path
        self.doc = self._load()

    def _load(self):
        try:
            return read(self.path) or {"migrations": {}}
        except ProgressCorrupt as e:
            aside = self.path + ".corrupt"
            os.replace(self.path, aside)
            LOG.warning("status file %s unreadable (%s); moved to %s, scanning from the start",
                        self.path, e, aside)
            return {"migrations": {}}
        except ProgressUnreadable as e:
            # a directory (say the sync status_dir) or a file we may not read
            # is the operator's to fix: moving it aside could move their data
            # (the runner reports this one line and keeps a running config)
            raise RuntimeError("status_file %s cannot be read: %s" % (self.path, e)) from None

    def migration(self, migration):
        """The migration's entry (its ``error`` when it failed as a whole)."""
        entry = self.doc["migrations"].setdefault(migration.identity[:16], {"containers": {}})
        entry["label"] = migration.label
        return entry

    def container(self, migration, bucket, container):
        entry = self.migration(migration)
        c = entry["containers"].setdefault("%s\n%s" % (bucket, container), {
            "bucket": bucket, "container": container, "account": migration["account"],
            "marker": "", "scan_started": None, "previous_scan_start": None,
            "current": new_stats(), "last_scan": None})
        return c

    def forget_other_migrations(self, identities):
        keep = {i[:16] for i in identities}
        for ident in list(self.doc["migrations"]):
            if ident not in keep:
                del self.doc["migrations"][ident]

    def save(self):
        write_json_atomic(self.path, self.doc)

