"""onespace against rclone and against the ceiling, side by side on the lab.

    python -m bench.run [--small N] [--large N] [--rows N] [--concurrency C]
                        [--repeat N] [--no-count] [--quick]

One run starts a fresh lab (Swift all-in-one + SeaweedFS on ports 23000+),
then for the small-object set and the large-object set:

1. writes the objects into a Swift container (not timed);
2. timed, each into its own empty bucket: the ceiling (boto3 PUTs from
   memory), onespace (three ``onespace-sync --once`` daemons, one per
   container node), ``rclone copy --s3-no-head`` and ``rclone copy`` with
   its default HEAD after each upload; ``--repeat`` rounds in rotated
   order, the median run of each kept;
3. counted: the same again into fresh buckets, through a counting reverse
   proxy, plus onespace's later verification pass (``verification_slack``
   0) over the rows other nodes own.

Then it crawls a container database of ``--rows`` rows (inserted through
ContainerBroker) with a mapping that excludes every name: peak RSS and
rows/s of the crawl itself.

Prints a table, writes ``bench/results/<timestamp>.json``, stops the lab.
Targets are printed PASS/MISS; the exit status is 0 unless something broke.
See bench/README.md for what each number means and the fairness choices.
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bench import ceiling, crawl, tools
from bench.countproxy import CountingProxy
from bench.data import object_name, payload
from onespace.lab import S3_ACCESS_KEY, S3_SECRET_KEY, Lab, LabError

LAB_STATE = "/tmp/onespace-bench-lab"
LAB_PORT = 23000  # below Linux's ephemeral range (32768+), clear of the tests (28000)
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
KiB, MiB = 1024, 1024 * 1024
DAEMONS = 3  # one onespace-sync per container node of the lab

TARGETS = {  # name: (threshold, ">=" or "<=")
    "small onespace/rclone": (1.0, ">="),
    "small onespace/ceiling": (0.60, ">="),
    "small requests beyond upload per object": (1.1, "<="),  # "about one"
    "large onespace/rclone": (1.0, ">="),
    "large onespace/ceiling": (0.85, ">="),
    "large requests beyond upload per object": (1.1, "<="),
    "crawl peak RSS MiB": (200, "<="),
}


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---- lab and data ------------------------------------------------------------
def start_lab():
    """A fresh lab; retried while another process briefly holds one of its ports
    (a port can be held briefly by a process that just stopped)."""
    lab = Lab(LAB_STATE, LAB_PORT)
    lab.stop()
    shutil.rmtree(LAB_STATE, ignore_errors=True)
    deadline = time.time() + 120
    while True:
        try:
            return lab.start()
        except LabError as e:
            if "in use" not in str(e) or time.time() > deadline:
                raise
            lab.stop()
            time.sleep(2)


def code_version():
    """The onespace code measured: commit, and a digest of uncommitted changes
    (other work goes on in the same tree; this tells runs apart)."""
    import hashlib
    import subprocess

    def git(*argv):
        return subprocess.run(("git",) + argv, capture_output=True, cwd=os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))).stdout
    diff = git("diff", "HEAD", "--", "onespace") + git(
        "ls-files", "--others", "--exclude-standard", "onespace")
    return {"commit": git("rev-parse", "--short", "HEAD").decode().strip(),
            "uncommitted": hashlib.sha256(diff).hexdigest()[:12] if diff.strip() else None}


def idle_server_cpu(lab, seconds=5.0):
    """CPU seconds per second the lab's servers use on their own (subtracted)."""
    before, started = tools.server_cpu(lab), time.time()
    time.sleep(seconds)
    after, elapsed = tools.server_cpu(lab), time.time() - started
    return {k: (after[k] - before.get(k, 0.0)) / elapsed for k in after}


def fill_swift(lab, container, count, size, seed, threads):
    """PUT objects 0..count-1 into a new Swift container, a connection per thread."""
    lab.swift_connection("test").put_container(container)
    local = threading.local()

    def put(i):
        if not hasattr(local, "conn"):
            local.conn = lab.swift_connection("test")
        local.conn.put_object(container, object_name(i), payload(seed, i, size),
                              content_type="application/octet-stream")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(count)))


def make_bucket(s3, bucket):
    """An empty bucket whose first write (SeaweedFS allocates volumes) is done."""
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="warm-up", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="warm-up")


def bucket_count(s3, bucket):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


# ---- one object set ------------------------------------------------------------
class ObjectSet:
    """Times and counts the three contenders on one Swift container."""

    def __init__(self, lab, name, count, size, seed, concurrency, workers, workdir,
                 idle_cpu=None):
        self.lab, self.name, self.count, self.size, self.seed = lab, name, count, size, seed
        self.concurrency = concurrency
        self.workers = workers  # per onespace daemon
        self.idle_cpu = idle_cpu or {}  # the lab servers' CPU use when nobody calls them
        self.workdir = os.path.join(workdir, name)
        self.container = "bench-" + name
        self.s3 = lab.s3_client()
        os.makedirs(self.workdir, exist_ok=True)

    def _dir(self, label):
        path = os.path.join(self.workdir, label)
        os.makedirs(path, exist_ok=True)
        return path

    def _bucket(self, label):
        bucket = "%s-%s" % (self.name, label)
        make_bucket(self.s3, bucket)
        return bucket

    def _check(self, bucket, what):
        found = bucket_count(self.s3, bucket)
        if found != self.count:
            raise RuntimeError("%s: %d of %d objects in bucket %s"
                               % (what, found, self.count, bucket))

    def prepare(self):
        log("%s: writing %d x %s into Swift container %s"
            % (self.name, self.count, human(self.size), self.container))
        started = time.time()
        fill_swift(self.lab, self.container, self.count, self.size, self.seed,
                   16 if self.size < MiB else 4)
        log("%s: written in %.1fs" % (self.name, time.time() - started))

    # -- the contenders, against ``endpoint`` (the server or the counting proxy)
    def ceiling(self, label, endpoint):
        bucket = self._bucket(label)
        seconds, cpu = ceiling.run(endpoint, S3_ACCESS_KEY, S3_SECRET_KEY, bucket,
                                   self.count, self.size, self.seed, self.concurrency,
                                   DAEMONS)
        self._check(bucket, label)
        return tools.Result(seconds, cpu={label: cpu})

    def bare_copier(self, label, endpoint):
        bucket = self._bucket(label)
        source = (self.lab.etc, "AUTH_test", self.container)
        seconds, cpu = ceiling.run(endpoint, S3_ACCESS_KEY, S3_SECRET_KEY, bucket,
                                   self.count, self.size, self.seed, self.concurrency,
                                   DAEMONS, source=source)
        self._check(bucket, label)
        return tools.Result(seconds, cpu={label: cpu})

    def onespace(self, label, endpoint, verification_slack=60):
        bucket = "%s-%s" % (self.name, label)
        if verification_slack:  # the first pass: a new bucket
            make_bucket(self.s3, bucket)
        workdir = self._dir(label)
        mapping = self.lab.s3_mapping(self.container, bucket, aws_endpoint=endpoint)
        configs = tools.onespace_configs(self.lab, workdir, mapping, self.workers,
                                         verification_slack=verification_slack)
        result = tools.run_onespace(configs, workdir,
                                    label if verification_slack else label + "-verify")
        expected = self.count if verification_slack else 0
        if any(result.exit_codes.values()) or result.uploaded != expected:
            raise RuntimeError("%s: exit codes %s, %s uploaded (expected %d); see %s"
                               % (label, result.exit_codes, result.uploaded, expected,
                                  workdir))
        self._check(bucket, label)
        return result

    def rclone(self, label, endpoint, no_head):
        bucket = self._bucket(label)
        result = tools.run_rclone(self.lab, endpoint, self.container, bucket,
                                  self.concurrency, self._dir(label), no_head=no_head,
                                  label=label)
        if any(result.exit_codes.values()):
            raise RuntimeError("%s failed: see %s" % (label, result.logs))
        self._check(bucket, label)
        return result

    def contenders(self):
        """(key, label, callable(label, endpoint)) in run order."""
        return [
            ("ceiling", "ceiling", self.ceiling),
            ("bare_copier", "bare-copier", self.bare_copier),
            ("onespace", "onespace", self.onespace),
            ("rclone", "rclone-no-head", lambda lb, ep: self.rclone(lb, ep, True)),
            ("rclone_default", "rclone-default", lambda lb, ep: self.rclone(lb, ep, False)),
        ]

    def timed(self, repeat=1):
        """Each contender ``repeat`` times, the order rotated every round so that
        none always runs first or last; per contender, the run of median time."""
        runs = {}
        contenders = self.contenders()
        for rnd in range(repeat):
            shift = rnd % len(contenders)
            for key, label, run in contenders[shift:] + contenders[:shift]:
                label = label if repeat == 1 else "%s-r%d" % (label, rnd + 1)
                log("%s: timing %s" % (self.name, label))
                before = tools.server_cpu(self.lab)
                result = run(label, self.lab.s3_endpoint)
                after = tools.server_cpu(self.lab)
                result.server_cpu = {
                    k: max(0.0, after[k] - before.get(k, 0.0)
                           - self.idle_cpu.get(k, 0.0) * result.seconds) for k in after}
                runs.setdefault(key, []).append(result.to_json())
                log("%s: %s %.1fs" % (self.name, label, result.seconds))
        out = {}
        for key, results in runs.items():
            ordered = sorted(results, key=lambda r: r.get("sync_seconds") or r["seconds"])
            out[key] = dict(ordered[(len(ordered) - 1) // 2],
                            all_seconds=[r.get("sync_seconds") or r["seconds"]
                                         for r in results])
        return out

    def counted(self):
        """Requests per object of each contender, through the counting proxy."""
        out = {}
        with CountingProxy("127.0.0.1", self.lab.s3_port) as proxy:
            for key, label, run in self.contenders():
                label = "count-" + label
                log("%s: counting requests of %s" % (self.name, label))
                proxy.reset()
                if key == "onespace":
                    self.onespace(label, proxy.endpoint)
                    out[key] = proxy.counts()
                    # the same daemons later, once verification_slack has passed:
                    # each lists what the other nodes uploaded
                    proxy.reset()
                    self.onespace(label, proxy.endpoint, verification_slack=0)
                    out["onespace_verify"] = proxy.counts()
                else:
                    run(label, proxy.endpoint)
                    out[key] = proxy.counts()
        return out


def summarize_set(objset, timed, counts, startup=None):
    """Throughput, ratios, requests per object, CPU and RSS for one object set.

    ``startup``: onespace's idle pass (see ``onespace_startup``), whose CPU
    is taken off onespace's so that its CPU per object is the sync's own.
    """
    n, size = objset.count, objset.size
    tools_ = {}
    for key, data in timed.items():
        cpu = sum(data["cpu"].values())
        if key == "onespace" and startup:
            cpu = max(0.0, cpu - startup["cpu_seconds"])
        wall = data["seconds"]
        # onespace is a daemon: its throughput is the passes' (start-up apart)
        busy = data.get("sync_seconds") or wall
        tools_[key] = {
            "seconds": wall, "sync_seconds": busy, "all_seconds": data.get("all_seconds"),
            "objects_per_s": n / busy, "mib_per_s": n * size / MiB / busy,
            "objects_per_s_wall": n / wall,
            "peak_rss_mib": {k: v / MiB for k, v in data["peak_rss"].items()},
            "cpu_ms_per_object": 1000 * cpu / n,
            "server_cpu_ms_per_object": {
                k: 1000 * v / n for k, v in data["server_cpu"].items()}}
    best = max(("rclone", "rclone_default"), key=lambda k: tools_[k]["objects_per_s"])

    def ratio(a, b, field="objects_per_s"):
        return tools_[a][field] / tools_[b][field]

    summary = {
        "objects": n, "object_size": size, "concurrency": objset.concurrency,
        "tools": tools_, "rclone_reference": best,
        "onespace/rclone": ratio("onespace", best),
        "onespace/rclone_default": ratio("onespace", "rclone_default"),
        "onespace/ceiling": ratio("onespace", "ceiling"),
        "bare copier/ceiling": ratio("bare_copier", "ceiling"),
        "onespace/bare copier": ratio("onespace", "bare_copier"),
        "onespace/rclone wall": ratio("onespace", best, "objects_per_s_wall"),
        "onespace/ceiling wall": ratio("onespace", "ceiling", "objects_per_s_wall"),
        "rss onespace/rclone": (max(tools_["onespace"]["peak_rss_mib"].values())
                                / max(tools_[best]["peak_rss_mib"].values())),
        "requests": {},
    }
    if counts:
        counts = dict(counts)
        counts["onespace_with_verify"] = _add(counts["onespace"], counts["onespace_verify"])
        for key, c in counts.items():
            total = sum(c.values())
            summary["requests"][key] = {
                "counts": c, "per_object": total / n,
                "beyond_upload_per_object": (total - c.get("PUT object", 0)) / n}
    return summary


def _add(a, b):
    return {k: a.get(k, 0) + b.get(k, 0) for k in set(a) | set(b)}


def onespace_startup(lab, workers, workdir):
    """The three daemons over an empty container: start-up cost and base RSS."""
    container, bucket = "bench-empty", "empty"
    workdir = os.path.join(workdir, "startup")
    os.makedirs(workdir, exist_ok=True)
    lab.swift_connection("test").put_container(container)
    make_bucket(lab.s3_client(), bucket)
    configs = tools.onespace_configs(lab, workdir, lab.s3_mapping(container, bucket), workers)
    result = tools.run_onespace(configs, workdir, "startup")
    if any(result.exit_codes.values()):
        raise RuntimeError("onespace over an empty container: exit codes %s; see %s"
                           % (result.exit_codes, workdir))
    return {"seconds": result.seconds, "cpu_seconds": sum(result.cpu.values()),
            "peak_rss_mib": {k: v / MiB for k, v in result.peak_rss.items()}}


# ---- the crawl -------------------------------------------------------------------
def bench_crawl(lab, rows, workers, workdir):
    container, bucket = "bench-crawl", "crawl"
    workdir = os.path.join(workdir, "crawl")
    os.makedirs(workdir, exist_ok=True)
    lab.swift_connection("test").put_container(container)
    make_bucket(lab.s3_client(), bucket)
    log("crawl: inserting %d rows into each replica DB" % rows)
    started = time.time()
    found = crawl.fill_container_db(lab, "AUTH_test", container, crawl.RowNames(rows))
    log("crawl: %d rows in %.1fs" % (found, time.time() - started))
    mapping = lab.s3_mapping(container, bucket, exclude_pattern=".*")
    configs = tools.onespace_configs(lab, workdir, mapping, workers)
    log("crawl: one onespace-sync --once (node 1) over the %d rows" % found)
    result = tools.run_onespace({1: configs[1]}, workdir, "crawl")
    if any(result.exit_codes.values()) or result.uploaded:
        raise RuntimeError("crawl: exit codes %s, %d uploaded; see %s"
                           % (result.exit_codes, result.uploaded, workdir))
    pass_s = next(iter(result.pass_seconds.values()), None)
    return {"rows": found, "seconds": result.seconds, "pass_seconds": pass_s,
            "rows_per_s": found / pass_s if pass_s else None,
            "rows_per_s_wall": found / result.seconds,
            "rows_decided": next(iter(result.rows.values()), None),
            "cpu_seconds": next(iter(result.cpu.values())),
            "peak_rss_mib": next(iter(result.peak_rss.values())) / MiB}


# ---- report ------------------------------------------------------------------------
def human(size):
    return "%d MiB" % (size // MiB) if size >= MiB else "%d KiB" % (size // KiB)


def verdict(name, value):
    threshold, op = TARGETS[name]
    ok = value >= threshold if op == ">=" else value <= threshold
    return {"value": value, "target": "%s %s" % (op, threshold), "pass": ok}


def evaluate(results):
    checks = {}
    for name in ("small", "large"):
        s = results.get(name)
        if not s:
            continue
        checks[name + " onespace/rclone"] = verdict(name + " onespace/rclone",
                                                     s["onespace/rclone"])
        checks[name + " onespace/ceiling"] = verdict(name + " onespace/ceiling",
                                                      s["onespace/ceiling"])
        req = s["requests"].get("onespace_with_verify")
        if req:
            key = name + " requests beyond upload per object"
            checks[key] = verdict(key, req["beyond_upload_per_object"])
    if results.get("crawl"):
        checks["crawl peak RSS MiB"] = verdict("crawl peak RSS MiB",
                                               results["crawl"]["peak_rss_mib"])
    return checks


NAMES = {"ceiling": "ceiling (boto3 from memory)",
         "bare_copier": "bare copier (object servers)", "onespace": "onespace (3 daemons)",
         "rclone": "rclone --s3-no-head", "rclone_default": "rclone (default)",
         "onespace_verify": "onespace verification pass"}


def render(results):
    p = results["params"]
    code = results["code"]
    out = ["onespace benchmark %s, onespace %s%s  (%d CPUs, load average %s at start, "
           "%s at end)"
           % (results["started"], code["commit"],
              " + changes %s" % code["uncommitted"] if code["uncommitted"] else "",
              os.cpu_count(), results["load_before"], results["load_after"]),
           "concurrency %d: rclone --transfers/--checkers %d; ceiling %d threads in %d "
           "processes; onespace %d daemons x %d workers"
           % (p["concurrency"], p["concurrency"], p["concurrency"], DAEMONS, DAEMONS,
              p["onespace_workers"])]
    st = results.get("onespace_startup")
    if st:
        out.append("onespace start-up (3 daemons, empty container): %.1fs wall, %.1f CPU s "
                   "(taken off onespace's CPU/object below), RSS %s MiB"
                   % (st["seconds"], st["cpu_seconds"],
                      "/".join("%.0f" % v for v in st["peak_rss_mib"].values())))
    for set_name in ("small", "large"):
        s = results.get(set_name)
        if s:
            out += [""] + render_set(set_name, s)
    c = results.get("crawl")
    if c:
        out += ["", "crawl: %d rows, exclude_pattern '.*', one daemon: pass %.1fs = %.0f rows/s "
                "(%.1fs = %.0f rows/s with start-up), CPU %.1fs, peak RSS %.0f MiB"
                % (c["rows"], c["pass_seconds"] or 0, c["rows_per_s"] or 0, c["seconds"],
                   c["rows_per_s_wall"], c["cpu_seconds"], c["peak_rss_mib"])]
    out += ["", "targets (issue 2):"]
    for name, v in results["targets"].items():
        out.append("  %-42s %8.3f  target %-7s %s" % (
            name, v["value"], v["target"], "PASS" if v["pass"] else "MISS"))
    return "\n".join(out)


ALL_TIMED = ("ceiling", "bare_copier", "onespace", "rclone", "rclone_default")


def render_set(set_name, s):
    out = ["%s objects: %d x %s" % (set_name, s["objects"], human(s["object_size"])),
           "  %-28s %7s %7s %9s %7s %9s %12s %8s %12s" % (
               "", "wall s", "sync s", "objects/s", "MiB/s", "requests", "RSS MiB",
               "CPU ms", "server ms"),
           "  %-28s %7s %7s %9s %7s %9s %12s %8s %12s" % (
               "", "", "", "", "", "/object", "", "/object", "swift+s3")]
    for key in ALL_TIMED:
        t = s["tools"][key]
        rss = "/".join("%.0f" % v for v in t["peak_rss_mib"].values()) or "-"
        req = s["requests"].get(key)
        server = t["server_cpu_ms_per_object"]
        out.append("  %-28s %7.1f %7s %9.1f %7.1f %9s %12s %8.1f %12s" % (
            NAMES[key], t["seconds"],
            "%.1f" % t["sync_seconds"] if key == "onespace" else "",
            t["objects_per_s"], t["mib_per_s"],
            "%.3f" % req["per_object"] if req else "-", rss, t["cpu_ms_per_object"],
            "%.1f+%.1f" % (server.get("swift", 0) + server.get("memcached", 0),
                           server.get("s3 server", 0))))
    if any(len(t.get("all_seconds", [])) > 1 for t in s["tools"].values()):
        out.append("  every timed run (s; the median one is shown above):")
        for key in ALL_TIMED:
            out.append("    %-28s %s" % (NAMES[key], " ".join(
                "%.1f" % x for x in s["tools"][key]["all_seconds"])))
    req = s["requests"]
    if req:
        out.append("  requests per object, by kind:")
        for key in ("onespace", "onespace_verify", "rclone", "rclone_default", "ceiling",
                    "bare_copier"):
            out.append("    %-28s %s" % (NAMES[key], fmt_counts(req[key]["counts"],
                                                                  s["objects"])))
    out.append("  onespace/rclone %.2f (vs %s; %.2f vs rclone default; %.2f with "
               "onespace's start-up)"
               % (s["onespace/rclone"], NAMES[s["rclone_reference"]],
                  s["onespace/rclone_default"], s["onespace/rclone wall"]))
    out.append("  onespace/ceiling %.2f (%.2f with start-up); peak RSS onespace/rclone %.2f"
               % (s["onespace/ceiling"], s["onespace/ceiling wall"], s["rss onespace/rclone"]))
    out.append("  bare copier/ceiling %.2f: the most any Swift -> S3 copier reaches here; "
               "onespace/bare copier %.2f"
               % (s["bare copier/ceiling"], s["onespace/bare copier"]))
    return out


def fmt_counts(counts, n):
    return ", ".join("%s %.3f" % (k, v / n) for k, v in sorted(counts.items()))


# ---- main --------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, help="4 KiB objects (default 5000; quick 500)")
    ap.add_argument("--large", type=int, help="64 MiB objects (default 16; quick 2)")
    ap.add_argument("--rows", type=int,
                    help="rows of the crawled container DB (default 1000000; quick 100000)")
    ap.add_argument("--concurrency", type=int, default=15,
                    help="rclone --transfers/--checkers and ceiling threads; onespace gets "
                         "this / 3 workers per daemon (default 15)")
    ap.add_argument("--onespace-workers", type=int,
                    help="workers per onespace daemon instead of concurrency / 3 "
                         "(to explore; the ratios are then not like for like)")
    ap.add_argument("--repeat", type=int,
                    help="time every contender N times in rotated order and keep each "
                         "one's median run (default 3; quick 1)")
    ap.add_argument("--no-count", action="store_true",
                    help="skip the request-count runs through the counting proxy")
    ap.add_argument("--quick", action="store_true",
                    help="smaller defaults for a smoke run: 500 small, 2 large, 100000 rows, "
                         "no repeat")
    args = ap.parse_args(argv)
    for name, full, quick in (("small", 5000, 500), ("large", 16, 2),
                              ("rows", 1_000_000, 100_000), ("repeat", 3, 1)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.concurrency % DAEMONS and not args.onespace_workers:
        ap.error("--concurrency must be a multiple of %d (the daemons share it)" % DAEMONS)
    args.onespace_workers = args.onespace_workers or args.concurrency // DAEMONS

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = {"started": stamp, "params": vars(args), "code": code_version(),
               "load_before": "%.1f" % os.getloadavg()[0]}
    log("starting a fresh lab in %s (ports %d+)" % (LAB_STATE, LAB_PORT))
    lab = start_lab()
    workdir = os.path.join(LAB_STATE, "bench")
    try:
        results["idle_server_cpu"] = idle = idle_server_cpu(lab)
        log("onespace start-up: three daemons over an empty container")
        results["onespace_startup"] = startup = onespace_startup(lab, args.onespace_workers,
                                                                 workdir)
        for name, count, size, seed in (("small", args.small, 4 * KiB, 1),
                                         ("large", args.large, 64 * MiB, 2)):
            if count <= 0:
                continue
            objset = ObjectSet(lab, name, count, size, seed, args.concurrency,
                               args.onespace_workers, workdir, idle)
            objset.prepare()
            timed = objset.timed(args.repeat)
            counts = None if args.no_count else objset.counted()
            results[name] = summarize_set(objset, timed, counts, startup)
            results[name]["raw"] = {"timed": timed, "counts": counts}
        if args.rows > 0:
            results["crawl"] = bench_crawl(lab, args.rows, args.onespace_workers, workdir)
    finally:
        log("stopping the lab")
        lab.stop()
    results["load_after"] = "%.1f" % os.getloadavg()[0]
    results["targets"] = evaluate(results)
    publish(results, render(results), stamp)
    return 0


def publish(results, text, name):
    """Print the table and keep every raw number in ``bench/results/<name>.json``."""
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, name + ".json")
    with open(path, "w") as f:
        json.dump(dict(results, table=text), f, indent=1, default=str)
    print("\nresults: %s" % os.path.relpath(path))


if __name__ == "__main__":
    sys.exit(main())
