#!/usr/bin/env python3
"""systemd-nspawn guests with systemd as PID 1, on hosts without systemd.

The Molecule scenarios under ``molecule/`` create and destroy their guests
with this module; it also works by hand:

    python3 tests/deploy/nspawn.py create NAME [--bind HOST:GUEST ...] [--bind-ro HOST:GUEST ...]
                                      [--private-network | --netns NETNS]
    python3 tests/deploy/nspawn.py leader NAME       # PID 1 of the guest, seen from the host
    python3 tests/deploy/nspawn.py run NAME -- CMD ARGS...
    python3 tests/deploy/nspawn.py destroy NAME [--keep]
    python3 tests/deploy/nspawn.py list

A guest lives in ``$ONESPACE_GUESTS/NAME`` (default
``/var/lib/onespace-molecule/guests/NAME``): ``rootfs/`` (unpacked by
``scripts/build-rootfs`` from its cached tarball), ``console.log`` (the
guest's console), ``nspawn.pid`` and ``leader.pid``.

How it boots (see the LAB notes): ``systemd-nspawn --boot --register=no
--keep-unit``.  Without systemd on the host, ``--keep-unit`` makes nspawn
split the cgroup it was started in into ``supervisor`` and ``payload``, so
each guest is started from a cgroup directory of its own
(``/sys/fs/cgroup/<hierarchy>/onespace-nspawn-NAME``), removed again by
``destroy``.  On a hybrid cgroup host the guest gets a pure cgroup v2 tree
(``SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1``), like a Debian 12 machine.

The guest shares the host's network namespace unless ``--private-network``
(only a loopback) or ``--netns NETNS`` is given: servers in it must then use
ports nobody else uses on the host.  ``--netns`` boots the guest in the
existing network namespace ``/run/netns/NETNS`` (``ip netns add``), whose
interfaces and addresses the caller sets up; the namespace outlives the guest.
Commands are run inside with ``nsenter -t <leader> -a`` (``run``); Ansible
reaches it with the ``community.docker.nsenter`` connection plugin.
Power-off is ``SIGRTMIN+4`` to the leader (a clean systemd shutdown), then
SIGKILL if it takes too long; ``destroy`` then moves the guest's files to
``.trash/`` next to it and deletes them in the background.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD_ROOTFS = os.path.join(REPO, "scripts", "build-rootfs")
GUESTS = os.environ.get("ONESPACE_GUESTS", "/var/lib/onespace-molecule/guests")
CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_PREFIX = "onespace-nspawn-"
NETNS_DIR = "/run/netns"  # where `ip netns add` keeps its namespaces
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class GuestError(RuntimeError):
    """A guest could not be created, reached or destroyed; the message says why."""


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _alive(pid):
    if not pid:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def _pid_ns(pid):
    """The PID namespace of a process (``pid:[inode]``), None when it is gone."""
    try:
        return os.readlink("/proc/%d/ns/pid" % pid)
    except OSError:
        return None


def _children(pid):
    """PIDs whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def cgroup_hierarchies():
    """The cgroup hierarchies a guest's launcher must be moved into.

    Pure cgroup v2 host: the root.  Hybrid host (cgroup v1 controllers plus
    ``unified``): the ``name=systemd`` hierarchy and the unified one.
    """
    if os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers")):
        return [CGROUP_ROOT]
    found = []
    for name in ("systemd", "unified"):
        path = os.path.join(CGROUP_ROOT, name)
        if os.path.exists(os.path.join(path, "cgroup.procs")):
            found.append(path)
    if not found:
        raise GuestError("no usable cgroup hierarchy under %s" % CGROUP_ROOT)
    return found


def _host_has_systemd():
    return os.path.isdir("/run/systemd/system")


class Guest:
    def __init__(self, name, guests_dir=GUESTS):
        if not name or "/" in name or name.startswith("."):
            raise GuestError("bad guest name %r" % name)
        self.name = name
        self.dir = os.path.join(guests_dir, name)
        self.rootfs = os.path.join(self.dir, "rootfs")
        self.console = os.path.join(self.dir, "console.log")

    # ---- state -----------------------------------------------------------
    @property
    def nspawn_pid(self):
        pid = _read_int(os.path.join(self.dir, "nspawn.pid"))
        return pid if _alive(pid) else None

    @property
    def leader(self):
        pid = _read_int(os.path.join(self.dir, "leader.pid"))
        return pid if _alive(pid) and self.nspawn_pid else None

    def cgroup_dirs(self):
        return [os.path.join(h, CGROUP_PREFIX + self.name) for h in cgroup_hierarchies()]

    def _console_tail(self, lines=25):
        try:
            with open(self.console, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no console output)"

    # ---- lifecycle ---------------------------------------------------------
    def create(self, binds=(), private_network=False, timeout=120, binds_ro=(), netns=None):
        """Unpack the rootfs, boot it and wait for systemd; returns the leader PID."""
        if _host_has_systemd():
            raise GuestError("this host runs systemd: start guests with machinectl/"
                             "systemd-nspawn directly (this helper is for hosts "
                             "without systemd as PID 1)")
        if self.nspawn_pid:
            raise GuestError("guest %s is already running (nspawn PID %d)"
                             % (self.name, self.nspawn_pid))
        netns_path = None
        if netns:
            netns_path = os.path.join(NETNS_DIR, netns)
            if private_network:
                raise GuestError("--private-network and --netns exclude each other")
            if not os.path.exists(netns_path):
                raise GuestError("no network namespace %s (ip netns add %s)"
                                 % (netns_path, netns))
        started = time.time()
        if os.path.exists(self.dir):
            self._remove_dir()
        os.makedirs(self.dir)
        subprocess.run([BUILD_ROOTFS, self.rootfs], check=True)
        unpacked = time.time()

        cgroups = self.cgroup_dirs()
        for d in cgroups:
            os.makedirs(d, exist_ok=True)
        argv = ["systemd-nspawn", "--quiet", "-D", self.rootfs, "-M", self.name,
                "--boot", "--register=no", "--keep-unit", "--console=read-only",
                "--timezone=off"]
        if private_network:
            argv.append("--private-network")
        if netns_path:
            argv.append("--network-namespace-path=" + netns_path)
        for option, spec in [("--bind=", b) for b in binds] + [("--bind-ro=", b) for b in binds_ro]:
            host = spec.split(":", 1)[0]
            os.makedirs(host, exist_ok=True)
            argv.append(option + spec)
        env = dict(os.environ)
        if any(d.startswith(os.path.join(CGROUP_ROOT, "unified")) for d in cgroups):
            env["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1"

        def enter_cgroups():
            me = str(os.getpid())
            for d in cgroups:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(me)

        with open(self.console, "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env,
                                    preexec_fn=enter_cgroups, start_new_session=True)
        with open(os.path.join(self.dir, "nspawn.pid"), "w") as f:
            f.write("%d\n" % proc.pid)

        deadline = time.time() + timeout
        leader = None
        while leader is None:
            if proc.poll() is not None:
                raise GuestError("systemd-nspawn for %s exited with %s; console:\n%s"
                                 % (self.name, proc.returncode, self._console_tail()))
            # nspawn forks a short-lived helper first, which starts PID 1 of the
            # guest (as nspawn's child) in a new PID namespace: take that one
            kids = [k for k in _children(proc.pid) if _pid_ns(k) not in (None, _pid_ns(proc.pid))]
            if kids:
                leader = kids[0]
                break
            if time.time() > deadline:
                raise GuestError("guest %s: no PID 1 after %ds" % (self.name, timeout))
            time.sleep(0.05)
        with open(os.path.join(self.dir, "leader.pid"), "w") as f:
            f.write("%d\n" % leader)

        state = self.wait_running(deadline)
        booted = time.time()
        info = {"name": self.name, "leader": leader, "nspawn_pid": proc.pid,
                "rootfs": self.rootfs, "state": state, "netns": netns,
                "unpack_seconds": round(unpacked - started, 2),
                "boot_seconds": round(booted - unpacked, 2)}
        with open(os.path.join(self.dir, "guest.json"), "w") as f:
            json.dump(info, f, indent=1)
        return info

    def wait_running(self, deadline):
        """Wait until systemd in the guest has finished booting."""
        last = ""
        while True:
            if not self.nspawn_pid:
                raise GuestError("guest %s stopped while booting; console:\n%s"
                                 % (self.name, self._console_tail()))
            remaining = max(1, int(deadline - time.time()))
            # --wait blocks until start-up is over: running, or degraded when a unit failed
            r = self.run(["systemctl", "is-system-running", "--wait"],
                         timeout=remaining, check=False)
            last = r.stdout.strip()
            if last in ("running", "degraded"):
                if last == "degraded":
                    failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"],
                                      check=False).stdout
                    sys.stderr.write("guest %s is degraded, failed units:\n%s"
                                     % (self.name, failed))
                return last
            if time.time() > deadline:
                raise GuestError("guest %s did not finish booting (systemd says %r); "
                                 "console:\n%s" % (self.name, last, self._console_tail()))
            time.sleep(0.2)  # PID 1 not answering on its bus yet

    def run(self, argv, check=True, timeout=None, input=None):
        """Run argv inside the guest (all its namespaces, a clean environment)."""
        leader = self.leader
        if not leader:
            raise GuestError("guest %s is not running" % self.name)
        cmd = ["nsenter", "-t", str(leader), "-a", "env", "-i", "PATH=" + GUEST_PATH,
               "LANG=C.UTF-8", "HOME=/root"] + list(argv)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                               input=input)
        except subprocess.TimeoutExpired as e:
            r = subprocess.CompletedProcess(cmd, 124, e.stdout or "", e.stderr or "")
            if isinstance(r.stdout, bytes):
                r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
        if check and r.returncode:
            raise GuestError("in guest %s, %s exited %d:\n%s%s"
                             % (self.name, " ".join(argv), r.returncode, r.stdout, r.stderr))
        return r

    def stop(self, timeout=30):
        """Power off (SIGRTMIN+4 to PID 1), SIGKILL when it takes too long."""
        nspawn, leader = self.nspawn_pid, self.leader
        if leader:
            os.kill(leader, signal.SIGRTMIN + 4)
        deadline = time.time() + timeout
        while nspawn and _alive(nspawn) and time.time() < deadline:
            time.sleep(0.1)
        for pid in (leader, nspawn):
            if pid and _alive(pid):
                sys.stderr.write("guest %s: no clean power-off in %ds, killing PID %d\n"
                                 % (self.name, timeout, pid))
                os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while nspawn and _alive(nspawn) and time.time() < deadline:
            time.sleep(0.1)
        self._remove_cgroups()

    def _remove_cgroups(self):
        for top in self.cgroup_dirs():
            if not os.path.isdir(top):
                continue
            for _ in range(50):
                leftovers = []
                for path, dirs, _files in os.walk(top, topdown=False):
                    procs = _read_procs(path)
                    for pid in procs:
                        try:
                            os.kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    try:
                        os.rmdir(path)
                    except OSError:
                        leftovers.append(path)
                if not leftovers:
                    break
                time.sleep(0.1)
            else:
                raise GuestError("could not remove cgroup %s" % top)

    def _remove_dir(self, background=False):
        # never delete through a mount point (a --bind of a host directory)
        real = os.path.realpath(self.dir) + "/"
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mnt = line.split()[4]
                if (mnt + "/").startswith(real):
                    raise GuestError("%s is still mounted under %s; not deleting"
                                     % (mnt, self.dir))
        if not background:
            shutil.rmtree(self.dir)
            return
        # deleting ~10k files can take many seconds on a busy disk: move the
        # tree aside (same filesystem, instant) and delete it in the background
        trash = os.path.join(os.path.dirname(self.dir), ".trash")
        os.makedirs(trash, exist_ok=True)
        target = os.path.join(trash, "%s-%d-%d" % (self.name, os.getpid(), time.time() * 1000))
        os.rename(self.dir, target)
        subprocess.Popen(["rm", "-rf", "--one-file-system", target], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

    def destroy(self, keep=False):
        """Power off and remove (the files in the background); returns the seconds taken."""
        started = time.time()
        self.stop()
        stopped = time.time()
        if not keep and os.path.exists(self.dir):
            self._remove_dir(background=True)
        return {"name": self.name, "poweroff_seconds": round(stopped - started, 2),
                "remove_seconds": round(time.time() - stopped, 2)}


def _read_procs(cgroup_dir):
    try:
        with open(os.path.join(cgroup_dir, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def main(argv=None):
    p = argparse.ArgumentParser(prog="nspawn.py", description=__doc__.split("\n")[0])
    p.add_argument("--guests-dir", default=GUESTS)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="unpack, boot, wait for systemd; prints JSON")
    c.add_argument("name")
    c.add_argument("--bind", action="append", default=[], metavar="HOST[:GUEST]")
    c.add_argument("--bind-ro", action="append", default=[], metavar="HOST[:GUEST]",
                   help="bind a host directory read-only")
    c.add_argument("--private-network", action="store_true",
                   help="a network namespace of its own with only a loopback")
    c.add_argument("--netns", metavar="NETNS",
                   help="boot in the network namespace /run/netns/NETNS (ip netns add)")
    c.add_argument("--timeout", type=int, default=120)
    d = sub.add_parser("destroy", help="power off, remove cgroups and the guest's files")
    d.add_argument("name")
    d.add_argument("--keep", action="store_true", help="keep the guest's files")
    ld = sub.add_parser("leader", help="print the PID of the guest's PID 1")
    ld.add_argument("name")
    r = sub.add_parser("run", help="run a command inside the guest")
    r.add_argument("name")
    r.add_argument("argv", nargs=argparse.REMAINDER)
    sub.add_parser("list", help="guests and their leader PIDs")
    args = p.parse_args(argv)
    try:
        if args.cmd == "create":
            info = Guest(args.name, args.guests_dir).create(
                args.bind, args.private_network, args.timeout, args.bind_ro, args.netns)
            print(json.dumps(info))
        elif args.cmd == "destroy":
            print(json.dumps(Guest(args.name, args.guests_dir).destroy(args.keep)))
        elif args.cmd == "leader":
            leader = Guest(args.name, args.guests_dir).leader
            if not leader:
                print("guest %s is not running" % args.name, file=sys.stderr)
                return 1
            print(leader)
        elif args.cmd == "run":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            r = Guest(args.name, args.guests_dir).run(argv, check=False)
            sys.stdout.write(r.stdout)
            sys.stderr.write(r.stderr)
            return r.returncode
        elif args.cmd == "list":
            if os.path.isdir(args.guests_dir):
                for name in sorted(n for n in os.listdir(args.guests_dir)
                                   if not n.startswith(".")):
                    print("%-20s %s" % (name, Guest(name, args.guests_dir).leader or "stopped"))
    except GuestError as e:
        print("nspawn.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
