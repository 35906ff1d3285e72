#!/usr/bin/env python3
"""A private network of network namespaces for multi-node deployment tests.

    netns.py up --hub NETNS=IP/PREFIX --guest NETNS=IP [--guest ...]
    netns.py down --hub NETNS --guest NETNS [--guest ...]

``up`` creates (``ip netns add``) a hub namespace holding a bridge ``br0``
with the hub's address, and for each guest a namespace with a veth pair:
``eth0`` in the guest's namespace (with the guest's address, same prefix),
its peer ``vethN`` in the hub, enslaved to the bridge.  Every link is made
inside the namespaces (``ip -n``): the host's own interfaces, addresses and
routes are never touched.  No namespace has a default route, so nothing in
them reaches anything beyond the bridge: an air-gapped network.  Whatever
must be reachable from the guests runs in the hub (``ip netns exec HUB``),
e.g. the S3 target.  systemd-nspawn boots a guest in its namespace with
``--network-namespace-path=/run/netns/NETNS`` (``nspawn.py create --netns``).

``down`` stops what still runs in those namespaces (SIGTERM, SIGKILL after
5 s; stop guests and servers properly first, this is the safety net) and
deletes them, which removes their links.  Namespaces that do not exist are
skipped, so ``down`` also cleans up after a failed run and can be repeated.
``up`` first runs ``down`` on the same names.
"""

import argparse
import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

NETNS_DIR = "/run/netns"


class NetError(RuntimeError):
    pass


def ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
    if check and r.returncode:
        raise NetError("ip %s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
    return r


def exists(netns):
    return os.path.exists(os.path.join(NETNS_DIR, netns))


def _pids(netns):
    r = ip("netns", "pids", netns, check=False)
    return [int(p) for p in r.stdout.split()] if r.returncode == 0 else []


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def down(names):
    """Delete the namespaces (after stopping what still runs in them)."""
    report = {}
    for netns in names:
        if not exists(netns):
            continue
        pids = _pids(netns)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + 5
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.1)
        for pid in pids:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        ip("netns", "delete", netns)
        report[netns] = {"stopped_pids": pids}
    return report


def up(hub, hub_cidr, guests):
    """hub: name; hub_cidr: 'IP/PREFIX'; guests: [(name, IP)]."""
    iface = ipaddress.ip_interface(hub_cidr)
    prefix = iface.network.prefixlen
    for name, addr in guests:
        if ipaddress.ip_address(addr) not in iface.network or addr == str(iface.ip):
            raise NetError("guest address %s of %s is not a free address of %s"
                           % (addr, name, iface.network))
    down([hub] + [name for name, _ in guests])
    ip("netns", "add", hub)
    ip("-n", hub, "link", "set", "lo", "up")
    ip("-n", hub, "link", "add", "br0", "type", "bridge")
    ip("-n", hub, "addr", "add", hub_cidr, "dev", "br0")
    ip("-n", hub, "link", "set", "br0", "up")
    for n, (name, addr) in enumerate(guests, 1):
        peer = "veth%d" % n
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")
        # both ends are created in the hub's namespace and eth0 moves to the guest's
        ip("-n", hub, "link", "add", peer, "type", "veth", "peer", "name", "eth0",
           "netns", name)
        ip("-n", hub, "link", "set", peer, "master", "br0")
        ip("-n", hub, "link", "set", peer, "up")
        ip("-n", name, "addr", "add", "%s/%d" % (addr, prefix), "dev", "eth0")
        ip("-n", name, "link", "set", "eth0", "up")
    return {"hub": {"netns": hub, "address": hub_cidr},
            "guests": [{"netns": name, "address": "%s/%d" % (addr, prefix)}
                       for name, addr in guests]}


def _pair(text, what):
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError("%s: expected NETNS=ADDRESS, got %r" % (what, text))
    return name, value


def main(argv=None):
    p = argparse.ArgumentParser(prog="netns.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="create the namespaces, the bridge and the veth pairs")
    u.add_argument("--hub", required=True, type=lambda t: _pair(t, "--hub"),
                   metavar="NETNS=IP/PREFIX")
    u.add_argument("--guest", action="append", required=True,
                   type=lambda t: _pair(t, "--guest"), metavar="NETNS=IP")
    d = sub.add_parser("down", help="stop what runs in the namespaces and delete them")
    d.add_argument("--hub", required=True, metavar="NETNS")
    d.add_argument("--guest", action="append", default=[], metavar="NETNS")
    args = p.parse_args(argv)
    try:
        if args.cmd == "up":
            print(json.dumps(up(args.hub[0], args.hub[1], args.guest)))
        else:
            print(json.dumps(down([args.hub] + args.guest)))
    except (NetError, ValueError) as e:
        print("netns.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
