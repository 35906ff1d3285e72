"""onespace-migrator against ``rclone copy`` pulling the same SeaweedFS bucket into Swift,
and the requests of a steady-state migrator pass over a fully migrated bucket.

    python -m bench.migrate                       # 5,000 x 4 KiB, 16 x 64 MiB, 3 rounds,
                                                  # steady pass over 100,000 objects
    python -m bench.migrate --small 2000 --large 0 --rounds 1 --steady 2000

A fresh lab in /tmp/onespace-migrate-bench-lab (ports 21200-21250), one
bucket per object set written untimed, then, each into its own empty
local container, ``--rounds`` times with the order flipped every round:

* onespace: one ``onespace-migrator --once`` (a host without ring devices,
  so this one process migrates everything) with ``workers`` = concurrency;
* rclone: ``rclone copy s3:<bucket> sw:<container> --transfers N --checkers N``.

Then steady-state passes, counted: S3 requests through ``bench/countproxy.py``
in front of SeaweedFS (the migration's ``aws_endpoint``), local requests in the
lab's account/container/object server access logs (the lines whose user
agent is ``onespace...``: what the migrator's internal clients, proxies run in
its own process, ask of the servers; nothing else uses the lab meanwhile).

* over the small set's container the migrator really filled (round 0), and
  over a container whose DB rows were written directly (``bench/crawl.py``)
  from the same bucket's listing: name, ETag, size and the X-Timestamp the
  migrator gives a copy (``Source.from_remote``'s time).  The two listings
  are compared row by row and the two passes must make the same requests:
  that is what makes the large DB-filled case below honest;
* over ``--steady`` tiny objects (default 100,000), DB-filled likewise.

Each counted container gets two passes: the first starts a new status entry
(the counting endpoint is a new migration identity), the second continues
from it, as a running daemon does.  Not a test: nothing asserts a threshold.
Results go to bench/results/migrate-<stamp>.json.
"""

import argparse
import collections
import concurrent.futures
import json
import os
import re
import shutil
import statistics
import sys
import time

from bench import crawl
from bench.countproxy import CountingProxy
from bench.data import object_name, payload
from bench.run import code_version, log, publish
from bench.tools import Result, _reap, _spawn, rclone_bin, rclone_env, server_cpu
from onespace.lab import S3_ACCESS_KEY, S3_SECRET_KEY, Lab
from onespace.migrator.decide import Source
from onespace.migrator.listing import paged
from onespace.providers import make_provider

LAB_DIR = "/tmp/onespace-migrate-bench-lab"
PORT = 21200
COUNT_PORT = PORT + 48  # the counting proxy (the lab uses base + 0..46)
ACCOUNT = "AUTH_test"
KiB, MiB = 1024, 1024 * 1024
PASS = re.compile(r"last pass ([0-9.]+)s: (\d+) scanned, (\d+) copied")
# a Swift server's access log line: "<server>-<n>: ip - - [date] "METHOD path" status
# size "referer" "txn" "user agent" ...
SERVER_LINE = re.compile(r'^(account|container|object)-\d+: \S+ - - \[[^\]]*\] '
                         r'"(\w+) ([^" ]*)" \d+ \S+ "[^"]*" "[^"]*" "([^"]*)"', re.M)


def fill_bucket(lab, bucket, count, size, seed, threads=16):
    """``count`` objects PUT with boto3 from ``threads`` threads (SeaweedFS
    takes ~250 small PUTs/s here; more threads or processes did not help)."""
    s3 = lab.s3_client()
    s3.create_bucket(Bucket=bucket)

    def put(i):
        s3.put_object(Bucket=bucket, Key=object_name(i), Body=payload(seed, i, size))
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(count)))


def migration(lab, bucket, container, endpoint=None):
    return {"account": ACCOUNT, "aws_bucket": bucket, "container": container,
            "protocol": "s3", "aws_endpoint": endpoint or lab.s3_endpoint,
            "aws_identity": S3_ACCESS_KEY, "aws_secret": S3_SECRET_KEY}


def migrator_config(lab, workdir, label, bucket, container, workers, endpoint=None):
    conf = {
        "migrations": [migration(lab, bucket, container, endpoint)],
        "migrator_settings": {"workers": workers, "items_chunk": 1000,
                              "status_file": os.path.join(workdir, label + ".status")},
        "devices": os.path.join(workdir, "no-devices"), "swift_dir": lab.etc,
        "internal_client_conf_path": os.path.join(lab.etc, "internal-client.conf"),
        "log_level": "info"}
    path = os.path.join(workdir, label + ".json")
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def run_migrator(config, workdir, label):
    log_path = os.path.join(workdir, label + ".log")
    argv = [sys.executable, "-c", "import sys; from onespace.cli import migrator_main; "
            "sys.exit(migrator_main())", "--config", config, "--once"]
    result = _reap({label: _spawn(argv, log_path)}, Result(logs={label: log_path}), 7200)
    text = open(log_path).read()
    m = PASS.search(text)
    if result.exit_codes[label] != 0 or not m:
        raise RuntimeError("%s failed:\n%s" % (label, text[-2000:]))
    result.sync_seconds = float(m.group(1))
    result.rows = {"scanned": int(m.group(2)), "copied": int(m.group(3))}
    return result


def run_rclone(lab, bucket, container, concurrency, workdir, label):
    env = rclone_env(lab, lab.s3_endpoint)
    env["RCLONE_CONFIG"] = os.path.join(workdir, "rclone.conf")  # empty: remotes from env
    open(env["RCLONE_CONFIG"], "a").close()
    argv = [rclone_bin(), "copy", "s3:" + bucket, "sw:" + container,
            "--transfers", str(concurrency), "--checkers", str(concurrency),
            "--stats", "0", "--log-level", "NOTICE"]
    log_path = os.path.join(workdir, label + ".log")
    result = _reap({label: _spawn(argv, log_path, env=env)}, Result(logs={label: log_path}),
                   7200)
    if result.exit_codes[label] != 0:
        raise RuntimeError("%s failed:\n%s" % (label, open(log_path).read()[-2000:]))
    return result


def count_local(lab, container):
    conn = lab.swift_connection("test")
    headers = conn.head_container(container)
    return int(headers["x-container-object-count"]), int(headers["x-container-bytes-used"])


def empty_container(lab, container):
    """Delete a checked container's objects (the large sets would fill the disk)."""
    conn = lab.swift_connection("test")
    for entry in conn.get_container(container, full_listing=True)[1]:
        conn.delete_object(container, entry["name"])


# ---- steady passes -----------------------------------------------------------
def migrated_rows(lab, bucket):
    """The container rows a migrator pass leaves for ``bucket``: its listing
    read with the migrator's own provider and ``Source.from_remote``, so each
    row has the name, ETag, size and X-Timestamp a copy gets (``_source_time``:
    the listing's Last-Modified, the GET's being the same for an unchanged
    object)."""
    provider = make_provider(migration(lab, bucket, bucket), bucket)
    rows = []
    for entry in paged(lambda marker: provider.list(marker=marker, limit=1000)):
        source = Source.from_remote(entry)
        rows.append(crawl.row(source.name, source.timestamp.internal, source.size,
                              source.etag, "binary/octet-stream"))
    return rows


def fill_migrated(lab, bucket, container):
    """A local container that looks fully migrated from ``bucket`` in its
    listing, without the migrator: rows straight into the three replica DBs."""
    lab.swift_connection("test").put_container(container)
    rows = migrated_rows(lab, bucket)
    found = crawl.fill_container_rows(lab, ACCOUNT, container, rows)
    if found != len(rows):
        raise RuntimeError("%s: %d rows in the DB, %d written" % (container, found, len(rows)))
    return len(rows)


def listing_rows(lab, container):
    """(name, hash, bytes, last_modified) of every row, as Swift lists it."""
    _, entries = lab.swift_connection("test").get_container(container, full_listing=True)
    return [(e["name"], e["hash"], e["bytes"], e["last_modified"]) for e in entries]


def server_log_offsets(lab):
    offsets = {}
    for kind in ("account", "container", "object"):
        for node in (1, 2, 3):
            path = os.path.join(lab.logs, "%s-%d.log" % (kind, node))
            offsets[path] = os.path.getsize(path)
    return offsets


def local_requests(offsets):
    """Requests the migrator's internal clients (user agents ``onespace`` and
    ``onespace-migrator``) sent to the lab's servers since ``offsets``, by
    kind: ``GET list`` (a container listing), ``HEAD container``, ``HEAD
    object``, ..."""
    counts = collections.Counter()
    for path, offset in offsets.items():
        with open(path, errors="replace") as f:
            f.seek(offset)
            text = f.read()
        for _, method, target, user_agent in SERVER_LINE.findall(text):
            if not user_agent.startswith("onespace"):
                continue
            depth = len(target.split("?")[0].strip("/").split("/"))  # dev/part/a/c/o
            level = {3: "account", 4: "container"}.get(depth, "object")
            counts[method + (" list" if level == "container" and method == "GET"
                             else " " + level)] += 1
    return dict(counts)


def counted_passes(lab, workdir, proxy, label, bucket, container, objects, workers, passes=2):
    """``passes`` migrator passes over a migrated container, S3 requests counted
    at the proxy, local ones in the server logs.  Each must copy nothing."""
    config = migrator_config(lab, workdir, label, bucket, container, workers, proxy.endpoint)
    out = []
    for n in range(passes):
        proxy.reset()
        offsets = server_log_offsets(lab)
        result = run_migrator(config, workdir, "%s-pass%d" % (label, n + 1))
        time.sleep(1)  # a server logs a request just after answering it
        counts = {"s3": proxy.counts(), "swift": local_requests(offsets)}
        if result.rows != {"scanned": objects, "copied": 0}:
            raise RuntimeError("%s pass %d: %s, expected %d scanned and none copied"
                               % (label, n + 1, result.rows, objects))
        out.append({"label": label, "pass": n + 1, "objects": objects,
                    "seconds": result.sync_seconds, "wall": result.seconds,
                    "counts": counts, "raw": result.to_json()})
        log("%s pass %d: %.1fs, %s" % (label, n + 1, result.sync_seconds, counts))
    return out


def object_requests(counts):
    return sum(n for kind, n in counts.items() if kind.endswith(" object"))


def list_requests(counts):
    return counts.get("GET list", 0)


# ---- report ------------------------------------------------------------------
def throughput_table(runs, sets):
    lines = ["%-6s %-9s %5s %8s %8s %10s %8s %8s %9s %8s" % (
        "set", "tool", "round", "wall s", "pass s", "objects/s", "MiB/s", "CPU s",
        "server s", "RSS MiB")]
    for r in runs:
        lines.append("%-6s %-9s %5d %8.1f %8.1f %10.1f %8.1f %8.1f %9.1f %8.0f" % (
            r["set"], r["tool"], r["round"], r["wall"], r["seconds"],
            r["count"] / r["seconds"], r["bytes"] / MiB / r["seconds"], r["cpu"],
            r["server_cpu"], r["rss_mib"]))
    lines.append("")
    lines.append("medians (onespace: pass s, without its ~2 s of interpreter start-up; "
                 "rclone: wall s)")
    summary = {}
    for name, count, size in sets:
        med = {}
        for tool in ("onespace", "rclone"):
            mine = [r for r in runs if r["set"] == name and r["tool"] == tool]
            if not mine:
                continue
            med[tool] = {"seconds": statistics.median(r["seconds"] for r in mine),
                         "wall": statistics.median(r["wall"] for r in mine)}
            lines.append("  %-6s %-9s %8.1f s  %8.1f objects/s  %8.1f MiB/s  (wall %.1f s)" % (
                name, tool, med[tool]["seconds"], count / med[tool]["seconds"],
                count * size / MiB / med[tool]["seconds"], med[tool]["wall"]))
        if len(med) == 2:
            ratio = med["rclone"]["seconds"] / med["onespace"]["seconds"]
            ratio_wall = med["rclone"]["wall"] / med["onespace"]["wall"]
            summary[name] = {"onespace/rclone": ratio, "with start-up": ratio_wall,
                             "medians": med}
            lines.append("  %-6s onespace/rclone %.2f (objects/s and MiB/s alike; %.2f with "
                         "onespace's start-up)" % (name, ratio, ratio_wall))
    return lines, summary


def steady_table(passes):
    lines = ["%-16s %4s %8s %7s %8s %8s %8s %8s  %s" % (
        "container", "pass", "objects", "pass s", "S3 list", "Sw list", "/1000 S3",
        "/1000 Sw", "object requests S3+Swift; other requests")]
    for p in passes:
        s3, sw = p["counts"]["s3"], p["counts"]["swift"]
        other = {k: v for k, v in list(s3.items()) + list(sw.items())
                 if k != "GET list" and not k.endswith(" object")}
        lines.append("%-16s %4d %8d %7.1f %8d %8d %8.2f %8.2f  %d+%d; %s" % (
            p["label"], p["pass"], p["objects"], p["seconds"], list_requests(s3),
            list_requests(sw), 1000.0 * list_requests(s3) / p["objects"],
            1000.0 * list_requests(sw) / p["objects"], object_requests(s3),
            object_requests(sw), ", ".join("%s %d" % kv for kv in sorted(other.items()))))
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.migrate", description=__doc__.split("\n")[0])
    p.add_argument("--small", type=int, default=5000)
    p.add_argument("--large", type=int, default=16)
    p.add_argument("--large-mib", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3,
                   help="timed runs per tool and set, alternating which tool goes first")
    p.add_argument("--rclone-first", action="store_true", help="rclone first in round 1")
    p.add_argument("--steady", type=int, default=100000,
                   help="objects of the DB-filled steady-pass bucket (0: skip)")
    args = p.parse_args(argv)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    shutil.rmtree(LAB_DIR, ignore_errors=True)
    lab = Lab(LAB_DIR, PORT)
    workdir = os.path.join(LAB_DIR, "work")
    runs, passes, notes = [], [], {}
    sets = [(name, count, size) for name, count, size in (
        ("small", args.small, 4 * KiB), ("large", args.large, args.large_mib * MiB)) if count]
    results = {"args": vars(args), "code": code_version(),
               "load_before": "%.1f" % os.getloadavg()[0]}
    proxy = CountingProxy("127.0.0.1", PORT + 2, COUNT_PORT)
    try:
        lab.start()
        proxy.start()
        os.makedirs(workdir, exist_ok=True)
        for name, count, size in sets:
            bucket = "bench-" + name
            log("%s: writing %d x %d KiB into %s" % (name, count, size // KiB, bucket))
            fill_bucket(lab, bucket, count, size, seed=len(name), threads=16 if size < MiB else 4)
            os.sync()  # the fill's dirty pages are not written back during the first run
            for rnd in range(args.rounds):
                order = ["onespace", "rclone"]
                if (rnd % 2 == 1) != args.rclone_first:
                    order.reverse()
                for tool in order:
                    container = "%s-%s-%d" % (tool, name, rnd)
                    servers_before = server_cpu(lab)
                    if tool == "onespace":
                        r = run_migrator(migrator_config(lab, workdir, container, bucket,
                                                         container, args.concurrency),
                                         workdir, container)
                        seconds = r.sync_seconds
                    else:
                        r = run_rclone(lab, bucket, container, args.concurrency, workdir,
                                       container)
                        seconds = r.seconds
                    servers = server_cpu(lab)
                    r.server_cpu = {k: servers[k] - servers_before.get(k, 0.0) for k in servers}
                    got = count_local(lab, container)
                    if got != (count, count * size):
                        raise RuntimeError("%s holds %r, expected %r" % (
                            container, got, (count, count * size)))
                    runs.append({"set": name, "tool": tool, "round": rnd, "wall": r.seconds,
                                 "seconds": seconds, "count": count, "bytes": count * size,
                                 "cpu": sum(r.cpu.values()),
                                 "server_cpu": sum(r.server_cpu.values()),
                                 "rss_mib": max(r.peak_rss.values()) / MiB,
                                 "raw": r.to_json()})
                    log("%s %s round %d: %.1fs (wall %.1fs), load %.1f" % (
                        name, tool, rnd, seconds, r.seconds, os.getloadavg()[0]))
                    if size >= MiB:
                        empty_container(lab, container)
        if args.small:  # the DB-filled container against the really migrated one
            migrated = "onespace-small-0"
            fill_migrated(lab, "bench-small", "filled-small")
            real, filled = listing_rows(lab, migrated), listing_rows(lab, "filled-small")
            notes["listings identical"] = real == filled
            notes["listing rows differing"] = len(set(real) ^ set(filled))
            log("listing of %s vs filled-small: %s" % (
                migrated, "identical" if real == filled else "%d rows differ"
                % notes["listing rows differing"]))
            passes += counted_passes(lab, workdir, proxy, migrated, "bench-small", migrated,
                                     args.small, args.concurrency)
            passes += counted_passes(lab, workdir, proxy, "filled-small", "bench-small",
                                     "filled-small", args.small, args.concurrency)
        if args.steady:
            started = time.time()
            log("steady: writing %d tiny objects into bench-steady" % args.steady)
            fill_bucket(lab, "bench-steady", args.steady, 16, seed=7)
            notes["steady bucket fill s"] = time.time() - started
            started = time.time()
            fill_migrated(lab, "bench-steady", "steady")
            notes["steady DB fill s"] = time.time() - started
            log("steady: bucket %.0fs, DBs %.0fs" % (notes["steady bucket fill s"],
                                                     notes["steady DB fill s"]))
            passes += counted_passes(lab, workdir, proxy, "steady", "bench-steady", "steady",
                                     args.steady, args.concurrency)
    finally:
        proxy.stop()
        lab.stop()
    results.update(runs=runs, passes=passes, notes=notes,
                   load_after="%.1f" % os.getloadavg()[0])
    lines = ["onespace-migrator vs rclone copy, concurrency %d, onespace %s "
             "(load average %s at start, %s at end)" % (
                 args.concurrency, results["code"]["commit"], results["load_before"],
                 results["load_after"])]
    if runs:
        table, results["summary"] = throughput_table(runs, sets)
        lines += [""] + table
    if passes:
        lines += ["", "steady-state passes (requests: S3 at the counting proxy, Swift in the "
                  "server logs; /1000: listing requests per 1,000 objects)"]
        lines += steady_table(passes)
        if "listings identical" in notes:
            lines.append("listing of the migrated container vs the DB-filled one: %s" % (
                "identical (name, hash, bytes, last_modified)" if notes["listings identical"]
                else "%d rows differ" % notes["listing rows differing"]))
    publish(results, "\n".join(lines), "migrate-" + stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
