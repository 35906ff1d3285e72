"""onespace-status: how far each mapping's containers are, from this node's view.

Reads the progress files in ``status_dir`` and the local container
databases (through ``ContainerBroker``), so it works while the daemon runs
and needs no network.
"""

import json
import time

from onespace.cluster import LocalCluster
from onespace.status import ProgressStore
from onespace.sync.decide import Row


def _rows_after(broker, row_id):
    """(count, when the oldest row after ``row_id`` was written) of rows after ``row_id``."""
    with broker.get() as conn:
        count = conn.execute("SELECT COUNT(*) FROM object WHERE ROWID > ?", (row_id,)).fetchone()[0]
    first = broker.get_items_since(row_id, 1)
    # created_at packs data, content-type and metadata times (with offsets)
    oldest = Row.from_broker(first[0]).change_time if first else None
    return count, oldest


def collect(config, now=None):
    """One dict per (mapping, container) that has a database on this node.

    A container being sharded has several databases here; their numbers are
    added up.
    """
    now = now or time.time()
    s = config.settings
    cluster = LocalCluster(s["swift_dir"], s["devices"], s.get("internal_client_conf_path"),
                           scratch_dir=s["status_dir"])
    store = ProgressStore(s["status_dir"])
    containers_seen = {}
    for doc in store.all():
        containers_seen.setdefault(doc["mapping"], set()).add(doc["container"])
    report = []
    for mapping in config.mappings:
        account = mapping["account"]
        containers = (sorted(containers_seen.get(mapping.identity, ()))
                      if mapping.is_per_account else [mapping["container"]])
        for container in containers:
            entry = {"mapping": mapping.label, "account": account, "container": container}
            report.append(entry)
            databases = cluster.local_databases(account, container)
            if not databases:
                entry["state"] = "no database on this node"
                continue
            entry.update(rows=0, rows_behind=0, rows_unverified=0, databases=len(databases),
                         failed=0, failed_names=[], oldest_unsynced_age=0, updated_age=None)
            for db in databases:
                _add_database(entry, store.load(mapping.identity, account, container, db.db_id,
                                                db.label), db.broker, now)
            entry["failed_names"] = sorted(entry["failed_names"])[:10]
            entry["state"] = ("failed rows" if entry["failed"] else
                              "behind" if entry["rows_behind"] else "ok")
    return report


def _add_database(entry, doc, broker, now):
    """Add one database's progress to a container's entry."""
    behind, oldest = _rows_after(broker, doc["last_row"])
    unverified, _ = _rows_after(broker, doc["verified_row"])
    entry["rows"] += broker.get_info()["object_count"]
    entry["rows_behind"] += behind
    entry["rows_unverified"] += unverified
    if oldest:
        entry["oldest_unsynced_age"] = max(entry["oldest_unsynced_age"], round(now - oldest, 1))
    entry["failed"] += len(doc["failed"])
    entry["failed_names"] += list(doc["failed"])
    if doc["updated"]:
        age = round(now - doc["updated"], 1)
        entry["updated_age"] = age if entry["updated_age"] is None else max(entry["updated_age"], age)


def _age(seconds):
    if not seconds:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%.1f%s" % (seconds / size, unit)
    return "%.0fs" % seconds


def render(report):
    lines = ["%-11s %-40s %8s %8s %10s %8s %7s %s" % (
        "STATE", "ACCOUNT/CONTAINER", "ROWS", "BEHIND", "UNVERIFIED", "LAG", "FAILED", "MAPPING")]
    for e in report:
        if "rows_behind" not in e:
            lines.append("%-11s %-40s %s" % ("-", e["account"] + "/" + e["container"], e["state"]))
            continue
        lines.append("%-11s %-40s %8d %8d %10d %8s %7d %s" % (
            e["state"], e["account"] + "/" + e["container"], e["rows"], e["rows_behind"],
            e["rows_unverified"], _age(e["oldest_unsynced_age"]), e["failed"], e["mapping"]))
        for name in e["failed_names"]:
            lines.append("%10s failed: %s" % ("", name))
    return "\n".join(lines)


def main_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------- migrations

def collect_migrations(config, now=None):
    """One dict per (migration, source container) this node has scanned,
    from the migrator's ``status_file``."""
    from onespace.migrator.progress import read
    now = now or time.time()
    doc = read(config.migrator_settings["status_file"]) or {"migrations": {}}
    report = []
    for migration in config.migrations:
        entry = doc.get("migrations", {}).get(migration.identity[:16], {})
        containers = entry.get("containers", {})
        if not containers:
            report.append({"migration": migration.label, "account": migration["account"],
                           "container": migration.get("container") or "*",
                           "state": "not scanned yet"})
        for key in sorted(containers):
            c = containers[key]
            last = c.get("last_scan") or {}
            row = {"migration": migration.label, "account": c["account"],
                   "bucket": c["bucket"], "container": c["container"],
                   "state": "scanning" if c.get("marker") else
                            ("idle" if last else "not scanned yet"),
                   "current": c.get("current"), "last_scan": last or None,
                   "last_scan_age": round(now - last["finished"], 1) if last else None}
            if last.get("failed") or (c.get("current") or {}).get("failed"):
                row["state"] = "failures"
            report.append(row)
    return report


def render_migrations(report):
    lines = ["%-15s %-40s %9s %8s %10s %8s %7s %8s %s" % (
        "STATE", "ACCOUNT/CONTAINER", "SCANNED", "COPIED", "MIB", "DELETED", "FAILED",
        "LAST", "MIGRATION")]
    for e in report:
        s = e.get("last_scan") or e.get("current")
        where = e["account"] + "/" + e["container"]
        if not s:
            lines.append("%-15s %-40s %s" % (e["state"], where, e["migration"]))
            continue
        lines.append("%-15s %-40s %9d %8d %10.1f %8d %7d %8s %s" % (
            e["state"], where, s["scanned"], s["copied"], s["bytes"] / 1048576.0,
            s["deleted"], s["failed"], _age(e.get("last_scan_age")), e["migration"]))
    return "\n".join(lines)
