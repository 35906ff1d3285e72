"""cloud-shunt benchmarks: its cost on local traffic, spliced listings, archived reads.

    python -m bench.shunt [--gets N] [--names N] [--big-mib N] [--repeat N]

One run starts a fresh lab in /tmp/onespace-shunt-bench-lab (ports
24300-24350) whose proxy has the cloud-shunt (``reload_interval`` 10, as
deployed), plus a second proxy with the same pipeline minus the shunt
(``Lab.start_proxy_without``).  Both share memcached, so one token works on
both.  Three measurements, each in ``--repeat`` rounds that alternate the
contenders, the median round kept, ratios printed against the issue's
targets (PASS/MISS; nothing here is a test and nothing asserts a time):

1. **local GET**: ``--gets`` x ``--repeat`` GETs of one local 4 KiB object
   over a keep-alive connection to each proxy, the two taking turns request
   by request; median request time of each.  In a container the shunt
   serves (merge_namespaces mapping: the shunt passes Swift's 200 on) and
   in one it does not map (one dict lookup).  Overhead = shunt / plain - 1.
2. **listing**: every page (limit 1,000) of a container holding ``--names``
   local rows and ``--names`` archived keys (even / odd names interleaved)
   vs. a container holding 2 x ``--names`` local rows, both through the
   shunt proxy.  Local rows are written straight into the three replica
   container DBs (``ContainerBroker.merge_items``, as bench/crawl.py does);
   archived keys are empty objects PUT into SeaweedFS under the names the
   sync daemon would use (``naming.s3_key``): a listing only reads names.
3. **archived GET**: one ``--big-mib`` MiB archived object read through the
   shunt proxy vs. read directly from SeaweedFS with boto3 (both streamed
   and discarded in 64 KiB chunks).  Ratio = shunt MiB/s / direct MiB/s.

Writes bench/results/shunt-<timestamp>.json and stops the lab.
"""

import argparse
import datetime
import http.client
import json
import os
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

from bench.crawl import fill_container_db
from bench.run import log, publish
from onespace import naming
from onespace.lab import Lab

LAB_STATE = "/tmp/onespace-shunt-bench-lab"
LAB_PORT = 24300
KiB, MiB = 1024, 1024 * 1024
CHUNK = 64 * KiB

TARGETS = {  # name: (threshold, ">=" or "<=")
    "local GET overhead, mapped container": (0.05, "<="),
    "local GET overhead, unmapped container": (0.05, "<="),
    "listing spliced / all local": (2.0, "<="),
    "archived GET shunt / direct": (0.80, ">="),
}


def median_round(rounds):
    return statistics.median(rounds)


class Client:
    """Keep-alive HTTP to one proxy with the test user's token."""

    def __init__(self, port, token, account_path):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.token, self.account_path = token, account_path

    def get(self, path, sink=False):
        self.conn.request("GET", self.account_path + path, headers={"X-Auth-Token": self.token})
        resp = self.conn.getresponse()
        if resp.status >= 300:
            raise RuntimeError("GET %s: %d" % (path, resp.status))
        if not sink:
            return resp.read()
        n = 0
        while True:
            chunk = resp.read(CHUNK)
            if not chunk:
                return n
            n += len(chunk)

    def close(self):
        self.conn.close()


def fill_rows(lab, container, names):
    """Container rows for ``names`` in every replica DB (no object data)."""
    lab.swift_connection("test").put_container(container)
    fill_container_db(lab, "AUTH_test", container, names, size=0)


def s3_put_many(lab, bucket, keys, threads=15):
    s3 = lab.s3_client()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b""), keys))


def mapping(lab, container, bucket):
    return lab.s3_mapping(container, bucket, retain_local=False, merge_namespaces=True)


# ---- measurements ----------------------------------------------------------------
def bench_local_get(clients, gets, repeat):
    """Seconds per GET, per (proxy, container kind).  The two proxies take
    turns request by request (the order flipping each time) and the median
    request time of each is kept: a burst of load from elsewhere on the
    machine then hits both alike instead of one round."""
    out = {}
    for kind in ("mapped", "unmapped"):
        path = "/bench-%s/small" % kind
        times = {"shunt": [], "plain": []}
        for client in clients.values():
            client.get(path)  # warm
        for i in range(gets * repeat):
            order = ("shunt", "plain") if i % 2 == 0 else ("plain", "shunt")
            for which in order:
                started = time.perf_counter()
                clients[which].get(path)
                times[which].append(time.perf_counter() - started)
        out[kind] = {k: statistics.median(v) for k, v in times.items()}
        out[kind]["mean"] = {k: statistics.fmean(v) for k, v in times.items()}
        log("local GET %s: median shunt %.3f ms, plain %.3f ms" % (
            kind, out[kind]["shunt"] * 1e3, out[kind]["plain"] * 1e3))
    return out


def page_through(client, container):
    names, marker, pages = 0, "", 0
    for _ in range(10000):  # bounded
        body = client.get("/%s?format=json&limit=1000&marker=%s" % (container, quote(marker)))
        entries = json.loads(body)
        if not entries:
            return names, pages
        names += len(entries)
        pages += 1
        marker = entries[-1]["name"]
    raise RuntimeError("listing did not end")


def bench_listing(client, names, repeat):
    rounds = {"spliced": [], "local": []}
    counts = {}
    for r in range(repeat):
        order = ("spliced", "local") if r % 2 == 0 else ("local", "spliced")
        for which in order:
            container = "bench-mixed" if which == "spliced" else "bench-local20k"
            started = time.perf_counter()
            counts[which] = page_through(client, container)
            rounds[which].append(time.perf_counter() - started)
    for which, (count, _) in counts.items():
        if count != 2 * names:
            raise RuntimeError("%s listing has %d names, expected %d" % (which, count, 2 * names))
    out = {k: median_round(v) for k, v in rounds.items()}
    out["rounds"], out["pages"] = rounds, {k: v[1] for k, v in counts.items()}
    log("listing %d names: spliced %.2fs, all local %.2fs" % (2 * names, out["spliced"],
                                                            out["local"]))
    return out


def bench_big_get(lab, client, bucket, key, size, repeat):
    s3 = lab.s3_client()
    rounds = {"shunt": [], "direct": []}

    def direct():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        n = sum(len(c) for c in body.iter_chunks(CHUNK))
        return n

    for r in range(repeat):
        order = ("shunt", "direct") if r % 2 == 0 else ("direct", "shunt")
        for which in order:
            started = time.perf_counter()
            n = client.get("/bench-big/big", sink=True) if which == "shunt" else direct()
            if n != size:
                raise RuntimeError("%s read %d bytes, expected %d" % (which, n, size))
            rounds[which].append(time.perf_counter() - started)
    out = {k: size / MiB / median_round(v) for k, v in rounds.items()}  # MiB/s
    out["rounds_s"] = rounds
    log("archived GET %d MiB: shunt %.1f MiB/s, direct %.1f MiB/s" % (
        size // MiB, out["shunt"], out["direct"]))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.shunt", description=__doc__.split("\n")[0])
    p.add_argument("--gets", type=int, default=2000, help="GETs per round (local GET)")
    p.add_argument("--names", type=int, default=10000,
                   help="local names and archived names in the spliced listing")
    p.add_argument("--big-mib", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    lab = Lab(LAB_STATE, LAB_PORT, shunt_reload_interval=10)
    lab.stop()
    shutil.rmtree(LAB_STATE, ignore_errors=True)
    lab.configure()
    lab.write_shunt_config([mapping(lab, c, c) for c in ("bench-mapped", "bench-mixed",
                                                         "bench-local20k", "bench-big")])
    started = time.time()
    try:
        lab.start()
        plain_url = lab.start_proxy_without("cloud-shunt")
        log("lab up in %.1fs; plain proxy at %s" % (time.time() - started, plain_url))
        conn = lab.swift_connection("test")
        url, token = conn.get_auth()
        account_path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        s3 = lab.s3_client()
        for c in ("bench-mapped", "bench-mixed", "bench-local20k", "bench-big"):
            s3.create_bucket(Bucket=c)
        for kind in ("mapped", "unmapped"):
            conn.put_container("bench-" + kind)
            conn.put_object("bench-" + kind, "small", os.urandom(4 * KiB))

        log("filling listings: %d local + %d archived, and %d local" % (
            args.names, args.names, 2 * args.names))
        names = ["obj-%07d" % i for i in range(2 * args.names)]
        fill_rows(lab, "bench-mixed", names[0::2])
        fill_rows(lab, "bench-local20k", names)
        s3_put_many(lab, "bench-mixed", [naming.s3_key("AUTH_test", "bench-mixed", n)
                                         for n in names[1::2]])
        size = args.big_mib * MiB
        big_key = naming.s3_key("AUTH_test", "bench-big", "big")
        conn.put_container("bench-big")
        s3.put_object(Bucket="bench-big", Key=big_key, Body=os.urandom(size))

        clients = {"shunt": Client(lab.proxy_port, token, account_path),
                   "plain": Client(int(plain_url.rsplit(":", 1)[1]), token, account_path)}
        results = {"args": vars(args), "when": datetime.datetime.now().isoformat()}
        results["local_get"] = bench_local_get(clients, args.gets, args.repeat)
        results["listing"] = bench_listing(clients["shunt"], args.names, args.repeat)
        results["archived_get"] = bench_big_get(lab, clients["shunt"], "bench-big", big_key,
                                                size, args.repeat)
        for c in clients.values():
            c.close()
    finally:
        lab.stop()

    lg, ls, ag = results["local_get"], results["listing"], results["archived_get"]
    ratios = {
        "local GET overhead, mapped container": lg["mapped"]["shunt"] / lg["mapped"]["plain"] - 1,
        "local GET overhead, unmapped container":
            lg["unmapped"]["shunt"] / lg["unmapped"]["plain"] - 1,
        "listing spliced / all local": ls["spliced"] / ls["local"],
        "archived GET shunt / direct": ag["shunt"] / ag["direct"],
    }
    results["ratios"] = ratios
    lines = ["cloud-shunt (local GET: median request; others: median of %d alternating rounds)"
             % args.repeat,
             "  local 4 KiB GET ms      shunt %.3f / plain %.3f (mapped), %.3f / %.3f (unmapped)"
             % (lg["mapped"]["shunt"] * 1e3, lg["mapped"]["plain"] * 1e3,
                lg["unmapped"]["shunt"] * 1e3, lg["unmapped"]["plain"] * 1e3),
             "  listing %d names s    spliced %.2f / all local %.2f (pages of 1000)"
             % (2 * args.names, ls["spliced"], ls["local"]),
             "  archived %d MiB MiB/s  shunt %.1f / direct %.1f"
             % (args.big_mib, ag["shunt"], ag["direct"]),
             "targets (issue 4):"]
    for name, value in ratios.items():
        threshold, op = TARGETS[name]
        ok = value <= threshold if op == "<=" else value >= threshold
        lines.append("  %-40s %7.3f  target %s %s  %s" % (name, value, op, threshold,
                                                          "PASS" if ok else "MISS"))
    publish(results, "\n".join(lines), "shunt-" + time.strftime("%Y%m%d-%H%M%S"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
