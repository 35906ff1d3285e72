"""The migrator's progress: one JSON document in ``status_file``.

Layout (keys are migration identities, then "<source bucket>\\n<local container>")::

    {"migrations": {"<identity[:16]>": {
        "label": "migrations[0] (...)",
        "containers": {"<bucket>\\n<container>": {
            "marker": "",               # last name handled by the scan in progress
            "scan_started": 0.0,        # when the scan in progress began
            "previous_scan_start": null,  # when the last complete scan began
            "current": {stats},         # counters of the scan in progress
            "last_scan": {stats, "started", "finished"}}}}}}

Written atomically (``status.write_json_atomic``).  A file that cannot be
read is moved aside (``<status_file>.corrupt``) and migration restarts
from the first name: every object is compared again, nothing is lost.
"""

import json
import logging
import os

from onespace.status import write_json_atomic

LOG = logging.getLogger("onespace.migrator")

STAT_FIELDS = ("scanned", "copied", "updated", "bytes", "deleted", "kept_local", "skipped",
               "left_to_others", "failed", "containers_removed")


def new_stats():
    return {f: 0 for f in STAT_FIELDS}


class MigratorProgress:
    def __init__(self, path):
        self.path = path
        self.doc = self._load()

    def _load(self):
        try:
            with open(self.path) as f:
                doc = json.load(f)
            if not isinstance(doc, dict) or not isinstance(doc.get("migrations"), dict):
                raise ValueError("not a migrator status document")
            return doc
        except FileNotFoundError:
            return {"migrations": {}}
        except (OSError, ValueError) as e:
            aside = self.path + ".corrupt"
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            LOG.warning("status file %s unreadable (%s); moved to %s, scanning from the start",
                        self.path, e, aside)
            return {"migrations": {}}

    def container(self, migration, bucket, container):
        entry = self.doc["migrations"].setdefault(migration.identity[:16], {"containers": {}})
        entry["label"] = migration.label
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


def read(path):
    """The status document for onespace-status (None when missing or unreadable)."""
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
