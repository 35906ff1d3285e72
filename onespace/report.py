"""onespace-status: how far each mapping's containers are, from this node's view.

Reads the progress files in ``status_dir`` and the local container
databases (through ``ContainerBroker``), so it works while the daemon runs
and needs no network.
"""

import json
import time

from onespace.cluster import LocalCluster
from onespace.status import ProgressStore


def _rows_after(broker, row_id):
    """(count, oldest created_at) of rows after ``row_id``."""
    with broker.get() as conn:
        count = conn.execute("SELECT COUNT(*) FROM object WHERE ROWID > ?", (row_id,)).fetchone()[0]
    first = broker.get_items_since(row_id, 1)
    oldest = float(first[0]["created_at"].split("+")[0]) if first else None
    return count, oldest


def collect(config, now=None):
    """One dict per (mapping, container) that has a database on this node."""
    now = now or time.time()
    s = config.settings
    cluster = LocalCluster(s["swift_dir"], s["devices"], s.get("internal_client_conf_path"),
                           scratch_dir=s["status_dir"])
    store = ProgressStore(s["status_dir"])
    known = {}
    for doc in store.all():
        known.setdefault(doc["mapping"], []).append(doc)
    report = []
    for mapping in config.mappings:
        docs = {d["container"]: d for d in known.get(mapping.identity, [])}
        containers = sorted(docs) if mapping.is_per_account else [mapping["container"]]
        for container in containers:
            entry = {"mapping": mapping.label, "account": mapping["account"],
                     "container": container, "state": "no database on this node"}
            report.append(entry)
            replicas = cluster.local_replicas(mapping["account"], container)
            broker = replicas and cluster.broker(replicas[0], mapping["account"], container)
            if not broker:
                continue
            doc = docs.get(container)
            last = doc["last_row"] if doc and doc.get("db_id") == broker.get_info()["id"] else 0
            verified = doc["verified_row"] if doc and last else 0
            behind, oldest = _rows_after(broker, last)
            unverified, _ = _rows_after(broker, verified)
            entry.update({
                "state": "ok" if not behind else "behind",
                "rows": broker.get_info()["object_count"],
                "last_row": last, "verified_row": verified, "max_row": broker.get_max_row(),
                "rows_behind": behind, "rows_unverified": unverified,
                "oldest_unsynced_age": round(now - oldest, 1) if oldest else 0,
                "failed": len(doc["failed"]) if doc else 0,
                "failed_names": sorted(doc["failed"])[:10] if doc else [],
                "updated_age": round(now - doc["updated"], 1) if doc else None,
            })
            if entry["failed"]:
                entry["state"] = "failed rows"
    return report


def _age(seconds):
    if not seconds:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%.1f%s" % (seconds / size, unit)
    return "%.0fs" % seconds


def render(report):
    lines = ["%-10s %-40s %9s %9s %8s %8s %7s %s" % (
        "STATE", "ACCOUNT/CONTAINER", "HANDLED", "VERIFIED", "BEHIND", "LAG", "FAILED", "MAPPING")]
    for e in report:
        if "rows_behind" not in e:
            lines.append("%-10s %-40s %s" % ("-", e["account"] + "/" + e["container"], e["state"]))
            continue
        lines.append("%-10s %-40s %9d %9d %8d %8s %7d %s" % (
            e["state"], e["account"] + "/" + e["container"], e["last_row"], e["verified_row"],
            e["rows_behind"], _age(e["oldest_unsynced_age"]), e["failed"], e["mapping"]))
        for name in e["failed_names"]:
            lines.append("%10s failed: %s" % ("", name))
    return "\n".join(lines)


def main_json(report):
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)
