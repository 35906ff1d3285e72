"""make demo: the all-in-one lab, a sync config, and objects arriving remotely.

Starts the lab (real Swift + SeaweedFS on 127.0.0.1) under ``.lab``, writes
``.lab/onespace-demo.json`` mapping the Swift container ``AUTH_test/demo``
to the S3 bucket ``onespace-demo`` and to the Swift container ``demo-copy``
of the account ``AUTH_test2``, uploads a few objects, runs the real
``onespace-sync`` and shows what arrived, then a metadata change and a
delete.  ``python -m onespace.demo --stop`` stops the lab.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from onespace import headers, naming
from onespace.lab import Lab, LabError

STATE = os.environ.get("ONESPACE_LAB", ".lab")
PORT = int(os.environ.get("ONESPACE_LAB_PORT", 18000))
BUCKET = "onespace-demo"
OBJECTS = {
    "hello.txt": (b"hello from Swift\n", {"X-Object-Meta-Color": "blue"}, "text/plain"),
    "photos/2026/cat.jpg": (os.urandom(64 * 1024), {"X-Object-Meta-Camera": "Kodak"},
                            "image/jpeg"),
    "r\u00e9sum\u00e9 \U0001F600 100%.txt": (b"odd names work too\n",
                                             {"X-Object-Meta-Note": "caf\u00e9"}, "text/plain"),
}


def say(text=""):
    print(text, flush=True)


def step(text):
    say("\n== " + text)


def run_sync(config_path):
    started = time.time()
    proc = subprocess.run([sys.executable, "-m", "onespace.cli", "--config", config_path,
                           "--once"], capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        if " pass done" in line or "ERROR" in line or "uploaded" in line:
            say("   | " + line.split(" ", 2)[-1] if line[:4].isdigit() else "   | " + line)
    say("   onespace-sync --once exited %d after %.1fs" % (proc.returncode, time.time() - started))
    if proc.returncode not in (0, 1):
        say(proc.stderr)
        raise SystemExit(proc.returncode)


def show_remote(lab):
    s3 = lab.s3_client()
    say("   S3 bucket %s (SeaweedFS, %s):" % (BUCKET, lab.s3_endpoint))
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        head = s3.head_object(Bucket=BUCKET, Key=item["Key"])
        # non-ASCII values are stored RFC 2047 encoded, as 1space did: show both
        meta = {k: v if headers.mime_decode(v) == v else "%s (stored as %s)"
                % (headers.mime_decode(v), v) for k, v in head["Metadata"].items()}
        say("     %-62s %7d bytes  %s  meta=%s" % (item["Key"], item["Size"],
                                                    head["ContentType"], meta))
    conn = lab.swift_connection("test2")
    say("   Swift container AUTH_test2/demo-copy:")
    for item in conn.get_container("demo-copy")[1]:
        head = conn.head_object("demo-copy", item["name"])
        meta = {k: v for k, v in head.items() if k.startswith("x-object-meta-")}
        say("     %-62s %7d bytes  %s  meta=%s" % (item["name"], item["bytes"],
                                                    item["content_type"], meta))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--stop", action="store_true", help="stop the demo lab")
    args = p.parse_args(argv)
    lab = Lab(STATE, PORT)
    if args.stop:
        lab.stop()
        say("demo lab stopped (state kept in %s; rm -rf it to start over)" % STATE)
        return 0

    step("1. Starting the lab: real Swift (3 nodes, tempauth, s3api), memcached, SeaweedFS")
    started = time.time()
    try:
        lab.start()
    except LabError as e:
        say(str(e))
        return 1
    say("   up in %.1fs; state and logs under %s/" % (time.time() - started, STATE))

    step("2. Writing the onespace config (one per container node; node 1 shown)")
    mappings = [lab.s3_mapping("demo", BUCKET), lab.swift_mapping("demo", "demo-copy")]
    configs = []
    for node in (1, 2, 3):
        path = os.path.abspath(os.path.join(STATE, "onespace-demo-node%d.json" % node))
        with open(path, "w") as f:
            json.dump(lab.sync_config(node, mappings), f, indent=2)
        configs.append(path)
    say("   %s" % configs[0])
    check = subprocess.run([os.path.join(os.path.dirname(sys.executable), "onespace-config"),
                            "check", configs[0]], capture_output=True, text=True)
    say("   onespace-config check: " + (check.stdout.strip() or check.stderr.strip()))

    step("3. Uploading objects to Swift (AUTH_test/demo)")
    conn = lab.swift_connection("test")
    conn.put_container("demo")
    try:
        lab.s3_client().create_bucket(Bucket=BUCKET)
    except Exception:  # noqa: BLE001 - already there from an earlier demo
        pass
    for name, (data, meta, ctype) in OBJECTS.items():
        conn.put_object("demo", name, data, headers=meta, content_type=ctype)
        say("   PUT %-40s %7d bytes %s" % (name, len(data), meta))

    step("4. Running onespace-sync --once on each of the three container nodes")
    for node, path in enumerate(configs, 1):
        say("   node %d:" % node)
        run_sync(path)

    step("5. What arrived (1space key naming: <hash prefix>/<account>/<container>/<object>;"
         " prefix of AUTH_test/demo = %s)" % naming.hash_prefix("AUTH_test", "demo"))
    show_remote(lab)

    step("6. A metadata change (POST) and a delete, then another pass")
    conn.post_object("demo", "hello.txt", headers={"X-Object-Meta-Color": "green"})
    conn.delete_object("demo", "photos/2026/cat.jpg")
    say("   POST hello.txt X-Object-Meta-Color: green; DELETE photos/2026/cat.jpg")
    for path in configs:
        run_sync(path)
    show_remote(lab)

    step("7. onespace-status on node 1")
    status = subprocess.run([os.path.join(os.path.dirname(sys.executable), "onespace-status"),
                             "--config", configs[0]], capture_output=True, text=True)
    say(status.stdout + status.stderr)

    venv = os.path.dirname(sys.executable)
    say("""== Look around
   Swift:   %(venv)s/swift -A %(auth)s -U test:tester -K testing list demo
   target:  %(venv)s/swift -A %(auth)s -U test2:tester2 -K testing2 list demo-copy
   S3:      python -c 'from onespace.lab import Lab; print(Lab("%(state)s", %(port)d).s3_client().list_objects_v2(Bucket="%(bucket)s"))'
   daemon:  %(venv)s/onespace-sync --config %(conf)s      (Ctrl-C stops it)
   status:  %(venv)s/onespace-status --config %(conf)s
   logs:    %(state)s/logs/
   stop:    make demo-stop""" % dict(venv=venv, auth=lab.auth_url, state=STATE, port=PORT,
                                      bucket=BUCKET, conf=configs[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
