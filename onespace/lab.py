"""The embedded all-in-one lab: real servers on 127.0.0.1, one state directory.

Used by the tests, the demo and the benchmarks. It starts:

* memcached (tempauth keeps its tokens there),
* a real Swift cluster: one proxy (tempauth + s3api) and three storage
  "nodes" (account, container and object server each), 3 replicas,
* SeaweedFS (``weed mini``) as the S3 target.

The Swift target is a second account (``AUTH_test2``) of the same cluster and
Swift's own s3api (account ``AUTH_test3``) is a second S3 implementation.

Every process is started by this module, its PID written under
``<state>/pids``, and stopped by that PID.  Nothing is written outside the
state directory.  Ports are ``base_port`` plus offsets below 50, so a test
lab and the demo lab can run side by side (bases 18000 demo, 28000 tests,
23000 benchmarks: all below Linux's ephemeral ports, 32768 and up, which a
client socket could otherwise be holding).

    python -m onespace.lab start --state DIR [--base-port N]
    python -m onespace.lab stop --state DIR
"""

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

NODES = (1, 2, 3)
PART_POWER = 8
HASH_PREFIX = "onespace-lab-prefix"
HASH_SUFFIX = "onespace-lab-suffix"

# tempauth users: (account, user, key, groups)
USERS = {
    "test": ("test", "tester", "testing", ".admin"),  # the local account
    "test2": ("test2", "tester2", "testing2", ".admin"),  # the Swift target
    "test3": ("test3", "tester3", "testing3", ".admin"),  # the s3api target
    "test4": ("test4", "tester4", "testing4", ".admin"),  # an s3api source of its own
    "reader": ("test", "reader", "reading", ""),  # no rights unless ACLs say so
    "admin": ("admin", "admin", "admin", ".admin .reseller_admin"),
}
S3_ACCESS_KEY = "onespace-lab"
S3_SECRET_KEY = "onespace-lab-secret"


class LabError(RuntimeError):
    """The lab could not start: the message says which server and why."""


def _bin(name):
    """A console script of the running interpreter's environment."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(candidate):
        return candidate
    found = shutil.which(name)
    if not found:
        raise LabError("%s not found (is the venv installed? run 'make venv')" % name)
    return found


class Lab:
    """A lab rooted at ``state_dir``; see the module docstring."""

    def __init__(self, state_dir, base_port=28000, max_file_size=None,
                 proxy_filters=None, shunt=True, shunt_reload_interval=0):
        self.state = os.path.abspath(state_dir)
        self.base = base_port
        self.max_file_size = max_file_size
        self.etc = os.path.join(self.state, "etc")
        # extra "name -> section text" filters put before slo/dlo; the proxy
        # loads the cloud-shunt through its paste entry point, reading
        # ``shunt_conf`` (no mappings until a test or the demo writes some;
        # re-read on every request that finds it changed)
        self.proxy_filters = {}
        if shunt:
            self.proxy_filters["cloud-shunt"] = (
                "use = egg:onespace#cloud-shunt\nconf_file = %s\nreload_interval = %s"
                % (self.shunt_conf, shunt_reload_interval))
        self.proxy_filters.update(proxy_filters or {})
        self.logs = os.path.join(self.state, "logs")
        self.pids = os.path.join(self.state, "pids")

    # ---- addresses ---------------------------------------------------
    @property
    def proxy_port(self):
        return self.base

    @property
    def memcached_port(self):
        return self.base + 1

    @property
    def s3_port(self):
        return self.base + 2

    def node_port(self, node, kind):
        return self.base + 10 * node + {"object": 0, "container": 1, "account": 2}[kind]

    @property
    def proxy_url(self):
        return "http://127.0.0.1:%d" % self.proxy_port

    @property
    def auth_url(self):
        return self.proxy_url + "/auth/v1.0"

    @property
    def s3_endpoint(self):
        return "http://127.0.0.1:%d" % self.s3_port

    def devices(self, node):
        """The ``devices`` root of storage node ``node`` (like a host's /srv/node)."""
        return os.path.join(self.state, "srv", str(node), "node")

    @property
    def shunt_conf(self):
        """The onespace config the proxy's cloud-shunt reads."""
        return os.path.join(self.etc, "onespace-shunt.json")

    def write_shunt_config(self, mappings, **settings):
        """Give the proxy's cloud-shunt these mappings (atomically: a new file)."""
        conf = {"containers": mappings}
        conf.update(settings)
        tmp = self.shunt_conf + ".tmp"
        with open(tmp, "w") as f:
            json.dump(conf, f, indent=1)
        os.replace(tmp, self.shunt_conf)
        return self.shunt_conf

    def credentials(self, who):
        account, user, key, _ = USERS[who]
        return "%s:%s" % (account, user), key

    # ---- config files --------------------------------------------------
    def _write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def _server_conf(self, kind, node):
        extra = ""
        if kind == "container":
            extra = ("\n[container-sharder]\nauto_shard = false\n"
                     "shard_container_threshold = 100\n"
                     "internal_client_conf_path = %s\n"
                     "\n[container-replicator]\n"
                     % os.path.join(self.etc, "internal-client.conf"))
        elif kind == "account":
            extra = "\n[account-replicator]\n"
        elif kind == "object":
            extra = "\n[object-replicator]\n"
        return self._write(
            os.path.join(self.etc, "%s-server" % kind, "%d.conf" % node),
            "[DEFAULT]\n"
            "devices = %(devices)s\n"
            "mount_check = false\n"
            "disable_fallocate = true\n"
            "bind_ip = 127.0.0.1\n"
            "bind_port = %(port)d\n"
            "workers = 1\n"
            "user = %(user)s\n"
            "swift_dir = %(etc)s\n"
            "log_name = %(kind)s-%(node)d\n"
            "log_level = INFO\n"
            "\n[pipeline:main]\npipeline = healthcheck %(kind)s-server\n"
            "\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n"
            "\n[app:%(kind)s-server]\nuse = egg:swift#%(kind)s\n"
            "%(extra)s" % dict(devices=self.devices(node),
                               port=self.node_port(node, kind), etc=self.etc,
                               kind=kind, node=node, extra=extra, user=_user()))

    def _proxy_conf(self):
        users = "".join(
            "user_%s_%s = %s %s\n" % (a, u, k, g) for a, u, k, g in USERS.values())
        extra_names = " ".join(self.proxy_filters)
        extra_sections = "".join(
            "\n[filter:%s]\n%s\n" % (n, s) for n, s in self.proxy_filters.items())
        pipeline = ("catch_errors gatekeeper healthcheck proxy-logging cache "
                    "listing_formats bulk tempurl s3api tempauth copy "
                    "container-quotas account-quotas %s slo dlo versioned_writes "
                    "symlink proxy-logging proxy-server" % extra_names)
        return self._write(
            os.path.join(self.etc, "proxy-server.conf"),
            "[DEFAULT]\nbind_ip = 127.0.0.1\nbind_port = %d\nworkers = 1\nuser = %s\n"
            "swift_dir = %s\nlog_name = proxy\nlog_level = INFO\n"
            "\n[pipeline:main]\npipeline = %s\n"
            "\n[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
            "allow_account_management = true\n"
            "\n[filter:tempauth]\nuse = egg:swift#tempauth\n%s"
            "\n[filter:s3api]\nuse = egg:swift#s3api\nlocation = us-east-1\n"
            "\n[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:%d\n"
            "\n[filter:catch_errors]\nuse = egg:swift#catch_errors\n"
            "\n[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n"
            "\n[filter:healthcheck]\nuse = egg:swift#healthcheck\n"
            "\n[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n"
            "\n[filter:listing_formats]\nuse = egg:swift#listing_formats\n"
            "\n[filter:bulk]\nuse = egg:swift#bulk\n"
            "\n[filter:tempurl]\nuse = egg:swift#tempurl\n"
            "\n[filter:copy]\nuse = egg:swift#copy\n"
            "\n[filter:container-quotas]\nuse = egg:swift#container_quotas\n"
            "\n[filter:account-quotas]\nuse = egg:swift#account_quotas\n"
            "\n[filter:slo]\nuse = egg:swift#slo\n"
            "\n[filter:dlo]\nuse = egg:swift#dlo\n"
            "\n[filter:versioned_writes]\nuse = egg:swift#versioned_writes\n"
            "allow_versioned_writes = true\n"
            "\n[filter:symlink]\nuse = egg:swift#symlink\n%s"
            % (self.proxy_port, _user(), self.etc, pipeline, users,
               self.memcached_port, extra_sections))

    def internal_client_conf(self):
        """An internal-client.conf for this cluster (what operators keep in /etc/swift)."""
        return self._write(
            os.path.join(self.etc, "internal-client.conf"),
            "[DEFAULT]\nswift_dir = %s\n"
            "\n[pipeline:main]\npipeline = catch_errors proxy-logging cache proxy-server\n"
            "\n[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
            "\n[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:%d\n"
            "\n[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n"
            "\n[filter:catch_errors]\nuse = egg:swift#catch_errors\n"
            % (self.etc, self.memcached_port))

    def encrypting_internal_client_conf(self):
        """internal-client.conf with Swift's keymaster and encryption (a lab
        secret): what an operator of a cluster encrypted at rest keeps in
        /etc/swift.  The lab's proxy itself does not encrypt; objects written
        through this conf are encrypted at rest."""
        return self._write(
            os.path.join(self.etc, "internal-client-encryption.conf"),
            "[DEFAULT]\nswift_dir = %s\n"
            "\n[pipeline:main]\npipeline = catch_errors proxy-logging keymaster encryption "
            "proxy-server\n"
            "\n[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n"
            "\n[filter:keymaster]\nuse = egg:swift#keymaster\nencryption_root_secret = %s\n"
            "\n[filter:encryption]\nuse = egg:swift#encryption\n"
            "\n[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n"
            "\n[filter:catch_errors]\nuse = egg:swift#catch_errors\n"
            % (self.etc, base64.b64encode(b"onespace lab root secret: 32 bytes or more").decode()))

    def _swift_conf(self):
        constraints = ""
        if self.max_file_size:
            constraints = "\n[swift-constraints]\nmax_file_size = %d\n" % self.max_file_size
        return self._write(
            os.path.join(self.etc, "swift.conf"),
            "[swift-hash]\nswift_hash_path_prefix = %s\nswift_hash_path_suffix = %s\n"
            "\n[storage-policy:0]\nname = gold\ndefault = yes\n"
            "\n[storage-policy:1]\nname = silver\n%s"
            % (HASH_PREFIX, HASH_SUFFIX, constraints))

    def _build_rings(self):
        from swift.common.ring import RingBuilder
        for ring, kind in (("account", "account"), ("container", "container"),
                           ("object", "object"), ("object-1", "object")):
            builder = RingBuilder(PART_POWER, len(NODES), 0)
            for node in NODES:
                builder.add_dev({
                    "id": node - 1, "region": 1, "zone": node, "weight": 100,
                    "ip": "127.0.0.1", "port": self.node_port(node, kind),
                    "device": "sdb%d" % node})
            builder.rebalance()
            builder.get_ring().save(os.path.join(self.etc, "%s.ring.gz" % ring))
            builder.save(os.path.join(self.etc, "%s.builder" % ring))

    def _s3_config(self):
        return self._write(os.path.join(self.etc, "weed-s3.json"), json.dumps({
            "identities": [{
                "name": "onespace",
                "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }]}))

    def configure(self):
        """Write every config file and build the rings (no process started)."""
        for node in NODES:
            os.makedirs(os.path.join(self.devices(node), "sdb%d" % node), exist_ok=True)
            for kind in ("account", "container", "object"):
                self._server_conf(kind, node)
        for d in (self.logs, self.pids):
            os.makedirs(d, exist_ok=True)
        self._swift_conf()
        self._proxy_conf()
        if "cloud-shunt" in self.proxy_filters and not os.path.exists(self.shunt_conf):
            self.write_shunt_config([])
        self.internal_client_conf()
        self._s3_config()
        if not os.path.exists(os.path.join(self.etc, "object-1.ring.gz")):
            self._build_rings()

    # ---- processes ---------------------------------------------------
    def _pidfile(self, name):
        return os.path.join(self.pids, name + ".pid")

    def pid(self, name):
        try:
            with open(self._pidfile(name)) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def _spawn(self, name, argv):
        if self.pid(name):
            return
        log = open(os.path.join(self.logs, name + ".log"), "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                cwd=self.state)
        log.close()
        with open(self._pidfile(name), "w") as f:
            f.write(str(proc.pid))

    def _servers(self):
        """(name, argv, health URL) of every server, in start order."""
        weed_dir = os.path.join(self.state, "weed")
        os.makedirs(weed_dir, exist_ok=True)
        b = self.base
        yield ("memcached",
               [shutil.which("memcached") or "/usr/bin/memcached", "-l", "127.0.0.1",
                "-p", str(self.memcached_port), "-U", "0", "-u", "root", "-m", "64"],
               None)
        yield ("seaweedfs",
               [_bin("weed"), "mini", "-dir=" + weed_dir, "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-s3.config=" + os.path.join(self.etc, "weed-s3.json"),
                "-s3.port=%d" % self.s3_port, "-master.port=%d" % (b + 3),
                "-volume.port=%d" % (b + 4), "-filer.port=%d" % (b + 5),
                "-admin.port=%d" % (b + 6), "-webdav=false", "-admin.ui=false",
                # gRPC ports default to http + 10000, which would reach into
                # another lab's range: keep them inside this lab's block
                "-s3.port.grpc=%d" % (b + 42), "-master.port.grpc=%d" % (b + 43),
                "-volume.port.grpc=%d" % (b + 44), "-filer.port.grpc=%d" % (b + 45),
                "-admin.port.grpc=%d" % (b + 46),
                # every bucket takes volumes of its own: size the limit to the
                # disk instead of the small default, or tests run out of buckets
                "-volume.max=2000", "-master.volumeSizeLimitMB=64",
                "-s3.port.iceberg=0", "-master.telemetry=false"],
               self.s3_endpoint + "/status")
        for node in NODES:
            for kind in ("account", "container", "object"):
                conf = os.path.join(self.etc, "%s-server" % kind, "%d.conf" % node)
                yield ("%s-%d" % (kind, node), self._swift_server(kind, conf),
                       "http://127.0.0.1:%d/healthcheck" % self.node_port(node, kind))
        yield ("proxy", self._swift_server("proxy", os.path.join(self.etc, "proxy-server.conf")),
               self.proxy_url + "/healthcheck")

    def _swift_server(self, kind, conf):
        module = {"object": "swift.obj.server"}.get(kind, "swift.%s.server" % kind)
        return self._swift_main(module, "swift-%s-server" % kind, [conf, "-v"])

    def _swift_main(self, module, prog, args):
        """argv running a Swift program's ``main`` against *this* lab's swift.conf.

        Swift's programs take the hash prefix from ``swift_dir`` but storage
        policies and constraints from /etc/swift/swift.conf; reload both from
        the lab's own file before ``main`` runs.
        """
        code = ("import sys; from swift.common import utils, storage_policy, constraints; "
                "utils.set_swift_dir(%r); storage_policy.reload_storage_policies(); "
                "constraints.reload_constraints(); from %s import main; "
                "sys.argv[0] = %r; sys.exit(main())" % (self.etc, module, prog))
        return [sys.executable, "-c", code] + list(args)

    def run_tool(self, module, prog, args, timeout=300):
        """Run a Swift command-line tool (sharder, replicator, ...) once; its output."""
        proc = subprocess.run(self._swift_main(module, prog, args), capture_output=True,
                              text=True, timeout=timeout, cwd=self.state)
        if proc.returncode != 0:
            raise LabError("%s %s failed (%d): %s" % (prog, " ".join(args), proc.returncode,
                                                      (proc.stdout + proc.stderr)[-2000:]))
        return proc.stdout + proc.stderr

    def _container_dbs(self, account, container):
        """Paths of the three replicas' databases of a container (as the ring places them)."""
        from swift.common.ring import Ring
        from swift.common.utils import hash_path, set_swift_dir
        set_swift_dir(self.etc)
        part, nodes = Ring(self.etc, ring_name="container").get_nodes(account, container)
        digest = hash_path(account, container)
        return [os.path.join(self.devices((n["port"] - self.base) // 10), n["device"],
                             "containers", str(part), digest[-3:], digest, digest + ".db")
                for n in nodes]

    def container_db_states(self, account, container):
        from swift.container.backend import ContainerBroker
        return [ContainerBroker(db).get_db_state() for db in self._container_dbs(account, container)]

    def shard_container(self, account, container, rows_per_shard, max_rounds=6):
        """Shard a container the way an operator does.

        swift-manage-shard-ranges on one replica, then rounds of replicator
        and sharder on the three nodes (in parallel) until every replica of
        the container is sharded.
        """
        from concurrent.futures import ThreadPoolExecutor
        db = self._container_dbs(account, container)[0]
        self.run_tool("swift.cli.manage_shard_ranges", "swift-manage-shard-ranges",
                      [db, "find_and_replace", str(rows_per_shard), "--enable", "--force"])

        def replicate(node):
            conf = os.path.join(self.etc, "container-server", "%d.conf" % node)
            self.run_tool("swift.container.replicator", "swift-container-replicator",
                          [conf, "once"])

        def one_node(node):
            replicate(node)
            conf = os.path.join(self.etc, "container-server", "%d.conf" % node)
            self.run_tool("swift.container.sharder", "swift-container-sharder", [conf, "once"])

        with ThreadPoolExecutor(len(NODES)) as pool:
            for _ in range(max_rounds):
                list(pool.map(one_node, NODES))
                states = self.container_db_states(account, container)
                if all(s == "sharded" for s in states):
                    # the sharder placed each shard database on a quorum of
                    # its nodes; a replicator round completes the rest
                    list(pool.map(replicate, NODES))
                    return
        raise LabError("%s/%s not sharded after %d rounds: %s" % (account, container,
                                                                max_rounds, states))

    def _ports(self, name):
        b = self.base
        if name == "memcached":
            return [self.memcached_port]
        if name == "seaweedfs":
            return [self.s3_port] + list(range(b + 3, b + 7)) + list(range(b + 42, b + 47))
        if name == "proxy":
            return [self.proxy_port]
        kind, node = name.split("-")
        return [self.node_port(int(node), kind)]

    def _check_ports_free(self, name):
        import socket
        for port in self._ports(name):
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    raise LabError("cannot start lab server %s: port %d is in use by another "
                                   "process (choose another base port)" % (name, port))

    def start(self, timeout=90):
        """Start whatever is not running yet and wait until every server answers."""
        self.configure()
        servers = list(self._servers())
        for name, _, _ in servers:
            if not self.pid(name):
                self._check_ports_free(name)
        for name, argv, _ in servers:
            self._spawn(name, argv)
        deadline = time.time() + timeout
        for name, _, url in servers:
            if url:
                self._wait_http(name, url, deadline)
            else:
                self._wait_port(name, self.memcached_port, deadline)
        self._wait_auth(deadline)
        return self

    def start_proxy_without(self, filter_name="cloud-shunt", port_offset=8, timeout=60):
        """A second proxy (``proxy-plain``, on base + ``port_offset``) with the
        same pipeline minus ``filter_name``: benchmarks compare the two."""
        with open(os.path.join(self.etc, "proxy-server.conf")) as f:
            text = f.read()
        port = self.base + port_offset
        text = text.replace("bind_port = %d\n" % self.proxy_port, "bind_port = %d\n" % port, 1)
        text = text.replace(" %s " % filter_name, " ", 1)
        conf = self._write(os.path.join(self.etc, "proxy-plain.conf"), text)
        self._spawn("proxy-plain", self._swift_server("proxy", conf))
        self._wait_http("proxy-plain", "http://127.0.0.1:%d/healthcheck" % port,
                        time.time() + timeout)
        return "http://127.0.0.1:%d" % port

    def restart(self, name):
        """Start one stopped server again (tests stop SeaweedFS on purpose)."""
        for sname, argv, url in self._servers():
            if sname == name:
                self._spawn(sname, argv)
                if url:
                    self._wait_http(sname, url, time.time() + 60)
                return
        raise KeyError(name)

    def _tail(self, name, lines=15):
        try:
            with open(os.path.join(self.logs, name + ".log"), errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def _check_alive(self, name):
        if not self.pid(name):
            raise LabError("lab server %s exited during start-up; last log lines:\n%s"
                           % (name, self._tail(name)))

    def _wait_http(self, name, url, deadline):
        while True:
            self._check_alive(name)
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status < 500:
                        return
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    return
            except OSError:
                pass
            if time.time() > deadline:
                raise LabError("lab server %s did not answer %s in time; last log lines:\n%s"
                               % (name, url, self._tail(name)))
            time.sleep(0.2)

    def _wait_port(self, name, port, deadline):
        import socket
        while True:
            self._check_alive(name)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.time() > deadline:
                    raise LabError("lab server %s not listening on %d" % (name, port))
                time.sleep(0.1)

    def _wait_auth(self, deadline):
        """tempauth answers once memcached and the proxy both work.  Then every
        lab account is made (a POST autocreates it): the proxy caches an
        account's absence for a minute, so a container listed right after
        the account's first object PUT would otherwise still be a 404."""
        while True:
            try:
                self.swift_connection("test").head_account()
                for who, (_, _, _, groups) in USERS.items():
                    if ".admin" in groups:
                        self.swift_connection(who).post_account({})
                return
            except Exception as e:  # noqa: BLE001 - report the last failure
                if time.time() > deadline:
                    raise LabError("Swift auth through the proxy failed: %s" % e)
                time.sleep(0.3)

    def stop_server(self, name, sig=signal.SIGTERM, timeout=15):
        pid = self.pid(name)
        if not pid:
            return
        try:
            os.killpg(pid, sig)
        except OSError:
            os.kill(pid, sig)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = 0 if _alive(pid) else pid
            if done or not _alive(pid):
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.unlink(self._pidfile(name))
        except OSError:
            pass

    def stop(self):
        if not os.path.isdir(self.pids):
            return
        for fname in os.listdir(self.pids):
            if fname.endswith(".pid"):
                self.stop_server(fname[:-4])

    def running(self):
        if not os.path.isdir(self.pids):
            return {}
        return {f[:-4]: self.pid(f[:-4]) for f in sorted(os.listdir(self.pids))
                if f.endswith(".pid")}

    # ---- clients -----------------------------------------------------
    def swift_connection(self, who="test", **kw):
        import swiftclient
        user, key = self.credentials(who)
        return swiftclient.Connection(self.auth_url, user, key, retries=1, **kw)

    def s3_client(self, target="seaweedfs", user="test3"):
        """A boto3 client for SeaweedFS (default) or Swift's s3api (``"s3api"``,
        as lab ``user``)."""
        import boto3
        from botocore.config import Config
        if target == "s3api":
            endpoint = self.proxy_url
            key, secret = self.credentials(user)
        else:
            endpoint, key, secret = self.s3_endpoint, S3_ACCESS_KEY, S3_SECRET_KEY
        return boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id=key,
            aws_secret_access_key=secret, region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"},
                          retries={"max_attempts": 1}))

    # ---- onespace config ----------------------------------------------
    def s3_mapping(self, container, bucket, target="seaweedfs", **extra):
        """A 1space-style mapping from AUTH_test/<container> to an S3 target."""
        if target == "s3api":
            (identity, secret), endpoint = self.credentials("test3"), self.proxy_url
        else:
            identity, secret, endpoint = S3_ACCESS_KEY, S3_SECRET_KEY, self.s3_endpoint
        m = {"account": "AUTH_test", "container": container, "protocol": "s3",
             "aws_endpoint": endpoint, "aws_identity": identity, "aws_secret": secret,
             "aws_bucket": bucket, "copy_after": 0, "retain_local": True,
             "propagate_delete": True}
        m.update(extra)
        return m

    def swift_mapping(self, container, remote_container, **extra):
        """A mapping from AUTH_test/<container> to the Swift target account AUTH_test2."""
        identity, secret = self.credentials("test2")
        m = {"account": "AUTH_test", "container": container, "protocol": "swift",
             "aws_endpoint": self.auth_url, "aws_identity": identity,
             "aws_secret": secret, "aws_bucket": remote_container, "copy_after": 0,
             "retain_local": True, "propagate_delete": True}
        m.update(extra)
        return m

    def sync_config(self, node, mappings, status_dir=None, **settings):
        """A full onespace config for the daemon of storage node ``node``."""
        conf = {
            "containers": mappings,
            "devices": self.devices(node),
            "swift_dir": self.etc,
            "internal_client_conf_path": os.path.join(self.etc, "internal-client.conf"),
            "status_dir": status_dir or os.path.join(self.state, "status", str(node)),
            "poll_interval": 1,
            "verification_slack": 0,
            "workers": 4,
            "enumerator_workers": 2,
            "log_level": "info",
        }
        conf.update(settings)
        return conf


def _user():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m onespace.lab", description=__doc__.split("\n")[0])
    p.add_argument("action", choices=["start", "stop", "status"])
    p.add_argument("--state", default=os.environ.get("ONESPACE_LAB", ".lab"))
    p.add_argument("--base-port", type=int, default=int(os.environ.get("ONESPACE_LAB_PORT", 18000)))
    args = p.parse_args(argv)
    lab = Lab(args.state, args.base_port)
    if args.action == "start":
        started = time.time()
        try:
            lab.start()
        except LabError as e:
            print(e, file=sys.stderr)
            return 1
        print("lab up in %.1fs: Swift %s (tempauth test:tester/testing), SeaweedFS S3 %s"
              % (time.time() - started, lab.proxy_url, lab.s3_endpoint))
    elif args.action == "stop":
        lab.stop()
        print("lab stopped")
    else:
        for name, pid in lab.running().items():
            print("%-12s %s" % (name, pid or "not running"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
