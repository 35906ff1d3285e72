"""Archive mode and SLOs, side by side on the lab (issue 3's targets).

    python -m bench.archive [--small N] [--slos N] [--repeat N] [--quick]

1. **archive vs plain sync**: ``--small`` (default 2,000) objects of 4 KiB.
   Each round writes them into two fresh Swift containers (untimed), then
   times three ``onespace-sync --once`` daemons (one per container node)
   syncing one container with ``retain_local: true`` (plain sync: upload)
   and the other with ``retain_local: false, copy_after: 0`` (archive:
   upload, verify with a HEAD, delete the local copy).  Afterwards the
   bucket must hold every object and, for the archive, the Swift container
   none.  Target: archive time / plain time <= 1.5.
2. **SLO to S3 vs the ceiling**: ``--slos`` (default 16) SLOs of 64 MiB in
   5 MiB segments, synced by the three daemons (one multipart upload each,
   one part per segment) against the ceiling of ``bench.run`` (boto3
   ``put_object`` of the same 64 MiB objects from memory, same
   concurrency).  Target: onespace MiB/s >= 85% of the ceiling's.

Every contender runs ``--repeat`` times (default 3) in rotated order; the
median run of each is kept.  onespace's time is its passes' (first
"started" log line to the last "pass done", without interpreter start-up),
as in ``bench.run``.  Prints a table, writes
``bench/results/archive-<timestamp>.json``, stops the lab.  Nothing here
asserts a wall-clock threshold: targets print PASS/MISS.
"""

import argparse
import datetime
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench import ceiling, tools
from bench.data import object_name, payload
from bench.run import (DAEMONS, bucket_count, code_version, fill_swift, log, make_bucket,
                       publish, start_lab)
from onespace.lab import S3_ACCESS_KEY, S3_SECRET_KEY

KiB, MiB = 1024, 1024 * 1024
SLO_SIZE, SEGMENT_SIZE = 64 * MiB, 5 * MiB
ARCHIVED = re.compile(r"archived \S+ \(local copy removed")
TARGETS = {"archive/plain time": (1.5, "<="), "SLO onespace/ceiling MiB/s": (0.85, ">=")}


def median(values):
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def data_keys(s3, bucket):
    """Objects in ``bucket`` less the SLO manifests onespace keeps beside them."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(1 for page in pages for o in page.get("Contents", ())
               if "/.manifests/" not in o["Key"])


def swift_count(lab, container):
    _, listing = lab.swift_connection("test").get_container(container, full_listing=True)
    return len(listing)


def bare_delete(lab, container, count, threads):
    """DELETE objects 0..count-1 with swiftclient, ``threads`` at once: what Swift
    itself spends on the local deletes archive mode makes (seconds)."""
    local = threading.local()

    def delete(i):
        if not hasattr(local, "conn"):
            local.conn = lab.swift_connection("test")
        local.conn.delete_object(container, object_name(i))

    started = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(delete, range(count)))
    return time.time() - started


def run_daemons(lab, workdir, mapping, workers, label):
    """Three ``onespace-sync --once`` daemons; the Result, with ``archived`` counted."""
    os.makedirs(workdir, exist_ok=True)
    configs = tools.onespace_configs(lab, workdir, mapping, workers)
    result = tools.run_onespace(configs, workdir, label)
    result.archived = 0
    for path in result.logs.values():
        with open(path, errors="replace") as f:
            result.archived += len(ARCHIVED.findall(f.read()))
    if any(result.exit_codes.values()) or result.sync_seconds is None:
        raise RuntimeError("%s: exit codes %s; see %s" % (label, result.exit_codes, workdir))
    return result


# ---- 1. archive vs plain sync ------------------------------------------------------
def archive_round(lab, rnd, count, workers, workdir, archive_first):
    """One round: plain sync and archive of ``count`` fresh objects each."""
    s3 = lab.s3_client()
    out = {}
    order = ("archive", "plain") if archive_first else ("plain", "archive")
    for mode in order:
        container = bucket = "%s-r%d" % (mode, rnd)
        log("archive: writing %d x 4 KiB into %s" % (count, container))
        fill_swift(lab, container, count, 4 * KiB, rnd, 16)
        make_bucket(s3, bucket)
        mapping = lab.s3_mapping(container, bucket, retain_local=(mode == "plain"))
        log("archive: timing %s (round %d)" % (mode, rnd))
        before = tools.server_cpu(lab)
        result = run_daemons(lab, os.path.join(workdir, container), mapping, workers,
                             container)
        after = tools.server_cpu(lab)
        remote, local = bucket_count(s3, bucket), swift_count(lab, container)
        expect_local = 0 if mode == "archive" else count
        expect_archived = count if mode == "archive" else 0
        if (result.uploaded, result.archived, remote, local) != (
                count, expect_archived, count, expect_local):
            raise RuntimeError(
                "%s round %d: %d uploaded, %d archived, %d in the bucket, %d left in "
                "Swift (expected %d, %d, %d, %d); see %s"
                % (mode, rnd, result.uploaded, result.archived, remote, local, count,
                   expect_archived, count, expect_local, workdir))
        # CPU per object of the daemons and of the lab's servers (on 2 shared
        # cores they compete: this explains the times)
        out[mode] = {"seconds": result.seconds, "sync_seconds": result.sync_seconds,
                     "cpu_ms_per_object": 1000 * sum(result.cpu.values()) / count,
                     "server_cpu_ms_per_object": {
                         k: 1000 * (after[k] - before.get(k, 0.0)) / count for k in after},
                     "peak_rss": result.peak_rss}
        log("archive: %s %.1fs" % (mode, result.sync_seconds))
        if mode == "plain":
            # the floor: Swift deleting the same objects, nothing else
            log("archive: timing a bare Swift DELETE of the %d objects" % count)
            before = tools.server_cpu(lab)
            seconds = bare_delete(lab, container, count, workers * DAEMONS)
            after = tools.server_cpu(lab)
            out["delete"] = {"sync_seconds": seconds, "server_cpu_ms_per_object": {
                k: 1000 * (after[k] - before.get(k, 0.0)) / count for k in after}}
    return out


def bench_archive(lab, count, repeat, workers, workdir):
    rounds = [archive_round(lab, rnd + 1, count, workers, workdir, rnd % 2 == 1)
              for rnd in range(repeat)]
    out = {"objects": count, "rounds": rounds}
    for mode in ("plain", "archive", "delete"):
        out[mode + "_seconds"] = seconds = median(r[mode]["sync_seconds"] for r in rounds)
        out[mode + "_objects_per_s"] = count / seconds
    out["ratio"] = out["archive_seconds"] / out["plain_seconds"]
    # what archive adds to a plain sync, against what Swift's own DELETE costs
    out["ratio_to_floor"] = out["archive_seconds"] / (out["plain_seconds"]
                                                      + out["delete_seconds"])
    # the ratio of each round too: both ran back to back, so it is the least noisy
    out["ratio_per_round"] = [r["archive"]["sync_seconds"] / r["plain"]["sync_seconds"]
                              for r in rounds]
    return out


# ---- 2. SLO to S3 vs the ceiling -----------------------------------------------------
def fill_slos(lab, container, count, seed):
    """``count`` SLOs of SLO_SIZE bytes in SEGMENT_SIZE segments: object i has the
    bytes the ceiling PUTs for object i."""
    conn = lab.swift_connection("test")
    segments = container + "_segments"
    conn.put_container(container)
    conn.put_container(segments)
    for i in range(count):
        data = payload(seed, i, SLO_SIZE)
        manifest = []
        for n, offset in enumerate(range(0, SLO_SIZE, SEGMENT_SIZE)):
            chunk = data[offset:offset + SEGMENT_SIZE]
            name = "%s/%05d" % (object_name(i), n)
            etag = conn.put_object(segments, name, chunk)
            manifest.append({"path": "/%s/%s" % (segments, name), "etag": etag,
                             "size_bytes": len(chunk)})
        conn.put_object(container, object_name(i), json.dumps(manifest),
                        query_string="multipart-manifest=put",
                        content_type="application/octet-stream")


def bench_slo(lab, count, repeat, concurrency, workers, workdir):
    container, seed = "slo", 3
    log("slo: writing %d SLOs of 64 MiB in 5 MiB segments" % count)
    fill_slos(lab, container, count, seed)
    s3 = lab.s3_client()
    runs = {"ceiling": [], "onespace": []}
    for rnd in range(repeat):
        order = ("ceiling", "onespace") if rnd % 2 == 0 else ("onespace", "ceiling")
        for who in order:
            bucket = "slo-%s-r%d" % (who, rnd + 1)
            make_bucket(s3, bucket)
            log("slo: timing %s (round %d)" % (who, rnd + 1))
            if who == "ceiling":
                seconds, _ = ceiling.run(lab.s3_endpoint, S3_ACCESS_KEY, S3_SECRET_KEY,
                                         bucket, count, SLO_SIZE, seed, concurrency,
                                         DAEMONS)
            else:
                mapping = lab.s3_mapping(container, bucket)
                result = run_daemons(lab, os.path.join(workdir, bucket), mapping, workers,
                                     bucket)
                seconds = result.sync_seconds
                if result.uploaded != count:
                    raise RuntimeError("slo round %d: %d of %d SLOs uploaded; see %s"
                                       % (rnd + 1, result.uploaded, count, workdir))
            found = data_keys(s3, bucket)
            if found != count:
                raise RuntimeError("slo %s round %d: %d of %d objects in %s"
                                   % (who, rnd + 1, found, count, bucket))
            runs[who].append(seconds)
            log("slo: %s %.1fs" % (who, seconds))
    mib = count * SLO_SIZE / MiB
    speed = {who: mib / median(seconds) for who, seconds in runs.items()}
    return {"slos": count, "runs": runs, "ceiling_mib_per_s": speed["ceiling"],
            "onespace_mib_per_s": speed["onespace"],
            "ratio": speed["onespace"] / speed["ceiling"]}


# ---- report --------------------------------------------------------------------------
def verdict(name, value):
    threshold, op = TARGETS[name]
    ok = value <= threshold if op == "<=" else value >= threshold
    return {"value": value, "target": "%s %s" % (op, threshold), "pass": ok}


def render(results):
    out = ["onespace archive/SLO benchmark %s, onespace %s%s (%d CPUs, load average %s "
           "at start, %s at end)" % (
               results["started"], results["code"]["commit"],
               " + changes %s" % results["code"]["uncommitted"]
               if results["code"]["uncommitted"] else "",
               os.cpu_count(), results["load_before"], results["load_after"])]
    a = results.get("archive")
    if a:
        out += ["", "archive vs plain sync: %d x 4 KiB, 3 daemons" % a["objects"],
                "  %-18s %7s %11s %16s %20s  %s" % (
                    "", "time s", "objects/s", "daemon CPU ms", "server CPU ms",
                    "rounds (s)"),
                "  %-18s %7s %11s %16s %20s" % ("", "", "", "/object", "/object swift+s3")]
        for mode, label in (("plain", "plain sync"), ("archive", "archive"),
                            ("delete", "bare Swift DELETE")):
            last = a["rounds"][-1][mode]
            server = last["server_cpu_ms_per_object"]
            out.append("  %-18s %7.1f %11.1f %16s %20s  %s" % (
                label, a[mode + "_seconds"], a[mode + "_objects_per_s"],
                "%.1f" % last["cpu_ms_per_object"] if "cpu_ms_per_object" in last else "-",
                "%.1f+%.1f" % (server.get("swift", 0) + server.get("memcached", 0),
                               server.get("s3 server", 0)),
                " ".join("%.1f" % r[mode]["sync_seconds"] for r in a["rounds"])))
        out.append("  archive/plain %.2f (per round: %s); CPU per object: last round" % (
            a["ratio"], " ".join("%.2f" % r for r in a["ratio_per_round"])))
        out.append("  archive/(plain + bare Swift DELETE) %.2f" % a["ratio_to_floor"])
    s = results.get("slo")
    if s:
        out += ["", "SLO to S3: %d x 64 MiB in 5 MiB segments" % s["slos"],
                "  ceiling (boto3 from memory) %7.1f MiB/s  (rounds: %s s)" % (
                    s["ceiling_mib_per_s"], " ".join("%.1f" % x for x in s["runs"]["ceiling"])),
                "  onespace (3 daemons)        %7.1f MiB/s  (rounds: %s s)" % (
                    s["onespace_mib_per_s"], " ".join("%.1f" % x for x in s["runs"]["onespace"])),
                "  onespace/ceiling %.2f" % s["ratio"]]
    out += ["", "targets (issue 3):"]
    for name, v in results["targets"].items():
        out.append("  %-30s %7.3f  target %-7s %s" % (
            name, v["value"], v["target"], "PASS" if v["pass"] else "MISS"))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.archive",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, help="4 KiB objects per mode (default 2000; quick 200)")
    ap.add_argument("--slos", type=int, help="64 MiB SLOs (default 16; quick 2)")
    ap.add_argument("--repeat", type=int, help="rounds (default 3; quick 1)")
    ap.add_argument("--concurrency", type=int, default=15,
                    help="ceiling threads; onespace gets this / 3 workers per daemon")
    ap.add_argument("--quick", action="store_true", help="a smoke run")
    args = ap.parse_args(argv)
    for name, full, quick in (("small", 2000, 200), ("slos", 16, 2), ("repeat", 3, 1)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    workers = max(1, args.concurrency // DAEMONS)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = {"started": stamp, "params": vars(args), "code": code_version(),
               "load_before": "%.1f" % os.getloadavg()[0]}
    log("starting a fresh lab")
    lab = start_lab()
    workdir = os.path.join(lab.state, "bench-archive")
    try:
        if args.small > 0:
            results["archive"] = bench_archive(lab, args.small, args.repeat, workers,
                                               workdir)
        if args.slos > 0:
            results["slo"] = bench_slo(lab, args.slos, args.repeat, args.concurrency,
                                       workers, workdir)
    finally:
        log("stopping the lab")
        lab.stop()
    results["load_after"] = "%.1f" % os.getloadavg()[0]
    results["targets"] = {}
    if "archive" in results:
        results["targets"]["archive/plain time"] = verdict(
            "archive/plain time", results["archive"]["ratio"])
    if "slo" in results:
        results["targets"]["SLO onespace/ceiling MiB/s"] = verdict(
            "SLO onespace/ceiling MiB/s", results["slo"]["ratio"])
    publish(results, render(results), "archive-" + stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
