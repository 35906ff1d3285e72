"""onespace-status: how far each mapping's containers are, from this node's view.

Reads the progress files in ``status_dir`` and the local container
databases (through ``ContainerBroker``), so it works while the daemon runs
and needs no network.
"""

import json
import time

from onespace.cluster import LocalCluster
from onespace.config import error_line, printable
from onespace.status import ProgressStore, ProgressUnreadable
from onespace.sync.decide import Row


def _change_times_after(broker, row_id):
    """The change time of each row after ``row_id``, but for the daemon's
    archive tombstones (no work).  Only the two columns needed, and a Row
    built only for rows a POST changed: a backlog may be millions of rows."""
    broker._commit_puts_stale_ok()  # as get_items_since does: rows still pending count
    with broker.get() as conn:
        cursor = conn.execute("SELECT created_at, deleted FROM object WHERE ROWID > ?",
                              (row_id,))
        for created_at, deleted in cursor:
            if "+" in created_at or "_" in created_at:  # POSTed, or a time with an offset
                row = Row.from_broker({"ROWID": 0, "name": "", "etag": "", "size": 0,
                                       "deleted": deleted, "created_at": created_at})
                if not row.archive_tombstone:
                    yield row.change_time
            else:
                yield float(created_at)


def _count_after(broker, row_id):
    with broker.get() as conn:
        return conn.execute("SELECT COUNT(*) FROM object WHERE ROWID > ?", (row_id,)).fetchone()[0]


def _objects(db):
    """Live objects whose rows this database handles: a root being sharded
    still holds rows its shards handle (``LocalDB.skips``), and a sharded
    root's object count already includes its shards'."""
    with db.broker.get() as conn:
        if not db.handed_over:
            return conn.execute("SELECT COUNT(*) FROM object WHERE deleted = 0").fetchone()[0]
        names = conn.execute("SELECT name FROM object WHERE deleted = 0")
        return sum(1 for (name,) in names if not db.skips(name))


def _error_entry(entry, message):
    entry.update(state="error", error=message)
    return entry


def collect(config, now=None):
    """One dict per (mapping, container) that has a database on this node.

    A container being sharded has several databases here; their numbers are
    added up.  Reads only: nothing in status_dir is changed.
    """
    now = now or time.time()
    if not config.mappings:
        return []  # migrator only: no Swift rings or databases to read
    s = config.settings
    store = ProgressStore(s["status_dir"])
    try:
        cluster = LocalCluster(s["swift_dir"], s["devices"], s.get("internal_client_conf_path"),
                               scratch_dir=s["status_dir"])
    except Exception as e:  # noqa: BLE001 - one line per mapping, not a traceback
        return [_error_entry({"mapping": m.label, "account": m["account"],
                              "container": m["container"]},
                             "cannot read the local Swift (swift_dir %s): %s"
                             % (s["swift_dir"], error_line(e))) for m in config.mappings]
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
            try:
                _collect_container(entry, cluster, store, mapping, now)
            except ProgressUnreadable as e:
                _error_entry(entry, "progress file unreadable: %s" % e)
            except Exception as e:  # noqa: BLE001 - one broken container must not hide the others
                _error_entry(entry, error_line(e))
            report.append(entry)
    return report


def _collect_container(entry, cluster, store, mapping, now):
    account, container = entry["account"], entry["container"]
    databases = cluster.local_databases(account, container, ask_servers=False)
    if not databases:
        entry["state"] = "no database on this node"
        return
    entry.update(rows=0, rows_behind=0, rows_waiting=0, rows_unverified=0,
                 databases=len(databases), failed=0, failed_names=[], oldest_unsynced_age=0,
                 updated_age=None)
    for db in databases:
        doc = store.read(mapping.identity, account, container, db.db_id, db.label)
        _add_database(entry, doc, db, mapping["copy_after"], now)
    entry["failed_names"] = sorted(entry["failed_names"])[:10]
    entry["state"] = ("failed rows" if entry["failed"] else
                      "behind" if entry["rows_behind"] else "ok")


def _add_database(entry, doc, db, copy_after, now):
    """Add one database's progress to a container's entry.

    A row younger than ``copy_after`` is waiting, not behind (the daemon
    leaves it alone too); lag counts from when a row became due.
    """
    oldest_due = None
    for change_time in _change_times_after(db.broker, doc["last_row"]):
        due = change_time + copy_after
        if due <= now:  # decide.ready: the daemon acts on it now
            entry["rows_behind"] += 1
            oldest_due = due if oldest_due is None else min(oldest_due, due)
        else:
            entry["rows_waiting"] += 1
    entry["rows"] += _objects(db)
    entry["rows_unverified"] += _count_after(db.broker, doc["verified_row"])
    if oldest_due is not None:
        entry["oldest_unsynced_age"] = max(entry["oldest_unsynced_age"], round(now - oldest_due, 1))
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
    lines = ["%-11s %-40s %8s %8s %8s %10s %8s %7s %s" % (
        "STATE", "ACCOUNT/CONTAINER", "ROWS", "BEHIND", "WAITING", "UNVERIFIED", "LAG",
        "FAILED", "MAPPING")]
    for e in report:
        where = printable(e["account"] + "/" + e["container"])
        if "error" in e:
            lines.append("%-11s %-40s %s (%s)" % ("error", where, printable(e["error"]),
                                                  printable(e["mapping"])))
            continue
        if "rows_behind" not in e:
            lines.append("%-11s %-40s %s" % ("-", where, e["state"]))
            continue
        lines.append("%-11s %-40s %8d %8d %8d %10d %8s %7d %s" % (
            e["state"], where, e["rows"], e["rows_behind"], e["rows_waiting"],
            e["rows_unverified"], _age(e["oldest_unsynced_age"]), e["failed"],
            printable(e["mapping"])))
        for name in e["failed_names"]:
            lines.append("%10s failed: %s" % ("", printable(name)))
    return "\n".join(lines)


def main_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------- migrations

def collect_migrations(config, now=None):
    """One dict per (migration, source container) this node has scanned,
    from the migrator's ``status_file``."""
    from onespace.migrator.progress import read
    now = now or time.time()
    path = config.migrator_settings["status_file"]
    try:
        doc = read(path) or {"migrations": {}}
        problem = None
    except ProgressUnreadable as e:
        doc, problem = {"migrations": {}}, "status file unreadable: %s" % e
    report = []
    for migration in config.migrations:
        entry = doc["migrations"].get(migration.identity[:16], {})
        containers = entry.get("containers", {})
        if not containers or entry.get("error"):
            row = {"migration": migration.label, "account": migration["account"],
                   "container": migration.get("container") or "*",
                   "state": "not scanned yet"}
            if problem or entry.get("error"):
                _error_entry(row, problem or entry["error"])
            report.append(row)
        for key in sorted(containers):
            c = containers[key]
            last = c["last_scan"]
            row = {"migration": migration.label, "account": c["account"],
                   "bucket": c["bucket"], "container": c["container"],
                   "state": "scanning" if c["marker"] else
                            ("idle" if last else "not scanned yet"),
                   "current": c["current"], "last_scan": last,
                   "last_scan_age": round(now - last["finished"], 1) if last else None}
            failed = c.get("failed") or {}
            row["failed_names"] = [{"name": n, "reason": failed[n]["reason"]}
                                   for n in sorted(failed)[:10]]
            if (last and last["failed"]) or c["current"]["failed"] or failed:
                row["state"] = "failures"
            if c.get("error"):  # the container failed as a whole (logged too)
                _error_entry(row, c["error"])
            report.append(row)
    return report


def quoted(name):
    """A name between double quotes, escaped (printable) so that the quote
    that ends it cannot be forged by one inside."""
    return '"%s"' % printable(name).replace('"', '\\"')


def render_migrations(report):
    lines = ["%-15s %-40s %9s %8s %10s %8s %7s %8s %s" % (
        "STATE", "ACCOUNT/CONTAINER", "SCANNED", "COPIED", "MIB", "DELETED", "FAILED",
        "LAST", "MIGRATION")]
    for e in report:
        s = e.get("last_scan") or e.get("current")
        where = printable(e["account"] + "/" + e["container"])
        if "error" in e:
            lines.append("%-15s %-40s %s (%s)" % ("error", where, printable(e["error"]),
                                                  printable(e["migration"])))
            continue
        if not s:
            lines.append("%-15s %-40s %s" % (e["state"], where, printable(e["migration"])))
            continue
        lines.append("%-15s %-40s %9d %8d %10.1f %8d %7d %8s %s" % (
            e["state"], where, s["scanned"], s["copied"], s["bytes"] / 1048576.0,
            s["deleted"], s["failed"], _age(e.get("last_scan_age")), printable(e["migration"])))
        for f in e.get("failed_names", []):
            # the name quoted: it may hold ": " itself
            lines.append("%15s failed: %s: %s" % ("", quoted(f["name"]), printable(f["reason"])))
    return "\n".join(lines)
