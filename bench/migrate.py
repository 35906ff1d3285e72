"""onespace-migrator against ``rclone copy`` pulling the same SeaweedFS bucket into Swift.

    python -m bench.migrate                       # 5,000 x 4 KiB and 16 x 64 MiB
    python -m bench.migrate --small 2000 --large 4

A fresh lab in /tmp/onespace-migrate-bench-lab (ports 21200-21250), one
bucket per object set written untimed, then, each into its own empty
local container:

* onespace: one ``onespace-migrator --once`` (a host without ring devices,
  so this one process migrates everything) with ``workers`` = concurrency;
* rclone: ``rclone copy s3:<bucket> sw:<container> --transfers N --checkers N``.

Then a steady-state pass of the migrator over the migrated small bucket
(its scan counters show it copied nothing; requests are not counted here).
Timing: wall clock from process start to exit; for onespace also the
"pass done" time from its log (without interpreter start-up).  Not a test:
nothing asserts a threshold.  Results go to bench/results/migrate-<stamp>.json.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import sys
import time

from bench.data import object_name, payload
from bench.tools import Result, _reap, _spawn, rclone_bin
from onespace.lab import S3_ACCESS_KEY, S3_SECRET_KEY, Lab

LAB_DIR = "/tmp/onespace-migrate-bench-lab"
PORT = 21200
KiB, MiB = 1024, 1024 * 1024
PASS = re.compile(r"last pass ([0-9.]+)s: (\d+) scanned, (\d+) copied")


def fill_bucket(lab, bucket, count, size, seed, threads=8):
    s3 = lab.s3_client()
    s3.create_bucket(Bucket=bucket)

    def put(i):
        s3.put_object(Bucket=bucket, Key=object_name(i), Body=payload(seed, i, size))
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(count)))


def migrator_config(lab, workdir, bucket, container, workers):
    conf = {
        "migrations": [{"account": "AUTH_test", "aws_bucket": bucket, "container": container,
                        "protocol": "s3", "aws_endpoint": lab.s3_endpoint,
                        "aws_identity": S3_ACCESS_KEY, "aws_secret": S3_SECRET_KEY}],
        "migrator_settings": {"workers": workers, "items_chunk": 1000,
                              "status_file": os.path.join(workdir, bucket + ".status")},
        "devices": os.path.join(workdir, "no-devices"), "swift_dir": lab.etc,
        "internal_client_conf_path": os.path.join(lab.etc, "internal-client.conf"),
        "log_level": "info"}
    path = os.path.join(workdir, bucket + ".json")
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def run_migrator(config, workdir, label):
    log = os.path.join(workdir, label + ".log")
    argv = [sys.executable, "-c", "import sys; from onespace.cli import migrator_main; "
            "sys.exit(migrator_main())", "--config", config, "--once"]
    result = _reap({label: _spawn(argv, log)}, Result(logs={label: log}), 7200)
    text = open(log).read()
    m = PASS.search(text)
    if result.exit_codes[label] != 0 or not m:
        raise RuntimeError("%s failed:\n%s" % (label, text[-2000:]))
    result.sync_seconds = float(m.group(1))
    result.rows = {"scanned": int(m.group(2)), "copied": int(m.group(3))}
    return result


def run_rclone(lab, bucket, container, concurrency, workdir, label):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    user, key = lab.credentials("test")
    env.update({
        "RCLONE_CONFIG_SW_TYPE": "swift", "RCLONE_CONFIG_SW_AUTH": lab.auth_url,
        "RCLONE_CONFIG_SW_USER": user, "RCLONE_CONFIG_SW_KEY": key,
        "RCLONE_CONFIG_S3_TYPE": "s3", "RCLONE_CONFIG_S3_PROVIDER": "Other",
        "RCLONE_CONFIG_S3_ENDPOINT": lab.s3_endpoint, "RCLONE_CONFIG_S3_REGION": "us-east-1",
        "RCLONE_CONFIG_S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "RCLONE_CONFIG_S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "RCLONE_CONFIG_S3_FORCE_PATH_STYLE": "true",
        "RCLONE_CONFIG": os.path.join(workdir, "rclone.conf")})
    open(env["RCLONE_CONFIG"], "a").close()
    argv = [rclone_bin(), "copy", "s3:" + bucket, "sw:" + container,
            "--transfers", str(concurrency), "--checkers", str(concurrency),
            "--stats", "0", "--log-level", "NOTICE"]
    log = os.path.join(workdir, label + ".log")
    result = _reap({label: _spawn(argv, log, env=env)}, Result(logs={label: log}), 7200)
    if result.exit_codes[label] != 0:
        raise RuntimeError("%s failed:\n%s" % (label, open(log).read()[-2000:]))
    return result


def count_local(lab, container):
    conn = lab.swift_connection("test")
    headers = conn.head_container(container)
    return int(headers["x-container-object-count"]), int(headers["x-container-bytes-used"])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.migrate", description=__doc__.split("\n")[0])
    p.add_argument("--small", type=int, default=5000)
    p.add_argument("--large", type=int, default=16)
    p.add_argument("--large-mib", type=int, default=64)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--rclone-first", action="store_true",
                   help="run rclone before onespace (to see the order's effect)")
    args = p.parse_args(argv)
    shutil.rmtree(LAB_DIR, ignore_errors=True)
    lab = Lab(LAB_DIR, PORT)
    workdir = os.path.join(LAB_DIR, "work")
    rows, raw = [], {}
    try:
        lab.start()
        os.makedirs(workdir, exist_ok=True)
        sets = [("small", args.small, 4 * KiB), ("large", args.large, args.large_mib * MiB)]
        for name, count, size in sets:
            if not count:
                continue
            bucket = "bench-" + name
            fill_bucket(lab, bucket, count, size, seed=len(name))
            total = count * size
            for tool in (("rclone", "onespace") if args.rclone_first else ("onespace", "rclone")):
                container = "%s-%s" % (tool, name)
                if tool == "onespace":
                    r = run_migrator(migrator_config(lab, workdir, bucket, container,
                                                     args.concurrency), workdir, container)
                    seconds = r.sync_seconds
                else:
                    r = run_rclone(lab, bucket, container, args.concurrency, workdir, container)
                    seconds = r.seconds
                got = count_local(lab, container)
                if got != (count, total):
                    raise RuntimeError("%s holds %r, expected %r" % (container, got,
                                                                     (count, total)))
                raw[container] = r.to_json()
                rows.append((name, tool, r.seconds, seconds, count / seconds,
                             total / MiB / seconds, max(r.peak_rss.values()) / MiB))
        if args.small:
            steady = run_migrator(migrator_config(lab, workdir, "bench-small", "onespace-small",
                                                  args.concurrency), workdir, "steady")
            raw["steady"] = steady.to_json()
            rows.append(("small", "onespace steady pass", steady.seconds, steady.sync_seconds,
                         args.small / steady.sync_seconds, 0.0,
                         max(steady.peak_rss.values()) / MiB))
    finally:
        lab.stop()
    lines = ["%-6s %-22s %8s %8s %10s %8s %8s" % ("set", "tool", "wall s", "pass s",
                                                  "objects/s", "MiB/s", "RSS MiB")]
    lines += ["%-6s %-22s %8.1f %8.1f %10.1f %8.1f %8.0f" % row for row in rows]
    table = "\n".join(lines)
    print(table)
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    out = os.path.join(os.path.dirname(__file__), "results",
                       "migrate-%s.json" % time.strftime("%Y%m%d-%H%M%S"))
    with open(out, "w") as f:
        json.dump({"args": vars(args), "table": table, "raw": raw}, f, indent=1, default=str)
    print("written", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
