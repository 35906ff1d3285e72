"""The local Swift cluster, seen from one container node.

Everything here uses Swift's own tools: the container ring to find where a
container's database lives, ``ContainerBroker`` to read its rows (it merges
the ``.pending`` file that a raw sqlite read would miss), and the internal
client (an in-process proxy) to read and delete objects.
"""

import contextlib
import dataclasses
import json
import logging
import os
from dataclasses import dataclass

from swift.common import constraints, storage_policy
from swift.common import utils as swift_utils
from swift.common.internal_client import InternalClient
from swift.common.ring import Ring
from swift.common.swob import wsgi_to_str
from swift.common.utils import (ShardRange, close_if_possible, config_true_value, hash_path,
                                set_swift_dir, whataremyips)
from swift.container.backend import DATADIR, ContainerBroker

LOG = logging.getLogger("onespace.cluster")

INTERNAL_CLIENT_CONF = """\
[DEFAULT]
swift_dir = %(swift_dir)s

[pipeline:main]
pipeline = catch_errors proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:catch_errors]
use = egg:swift#catch_errors
"""


# Swift's encrypter stores this with every object it encrypts at rest
ENCRYPTED_BODY = "x-object-sysmeta-crypto-body-meta"


class CannotDecrypt(Exception):
    """An object is encrypted at rest and the internal client has no
    decrypter: what it reads is ciphertext, which must never be copied."""
    retriable = False


def has_decrypter(app, max_depth=64):
    """Whether a loaded WSGI pipeline holds Swift's decrypter (filters keep
    the next app in ``.app``; a filter that does not is read as "no", the
    safe answer)."""
    from swift.common.middleware.crypto.decrypter import Decrypter
    for _ in range(max_depth):
        if isinstance(app, Decrypter):
            return True
        app = getattr(app, "app", None)
        if app is None:
            return False
    return False


def current_swift_dir():
    """The swift_dir Swift's process-wide settings come from now."""
    return os.path.dirname(swift_utils.SWIFT_CONF_FILE)


@contextlib.contextmanager
def swift_dir_kept_on_failure():
    """Restore Swift's process-wide settings if the block fails: a reload
    that builds a new LocalCluster (switching them) and then fails must
    leave the running config's settings in place."""
    previous = current_swift_dir()
    try:
        yield
    except BaseException:
        with contextlib.suppress(SystemExit, Exception):
            use_swift_dir(previous)
        raise


def use_swift_dir(swift_dir):
    """Point Swift's process-wide settings (hash path prefix and suffix,
    storage policies, constraints) at ``swift_dir``/swift.conf; without this
    Swift reads /etc/swift and computes wrong paths."""
    set_swift_dir(swift_dir)
    storage_policy.reload_storage_policies()
    constraints.reload_constraints()


@dataclass(frozen=True)
class LocalDB:
    """One container database on this node that holds rows of a mapped container.

    An unsharded container has one; a container that Swift is sharding has
    its retiring and fresh databases plus the databases of its shard
    containers (in ``.shards_<account>``) that live here.  ``replicas``
    are this node's replicas *of that database's container*: they decide
    which rows are this node's to handle.
    """
    broker: object
    replicas: tuple
    db_id: str
    label: str  # "<account>/<container>" of the database, for progress and status
    handed_over: tuple = ()  # a root's shard ranges whose rows its shards now handle
    owned: frozenset = None  # the hash classes (owner_index) this node sends; None: its indexes

    @property
    def classes(self):
        """N: rows fall into N hash classes (``naming.owner_index``), one per replica."""
        return self.replicas[0].replicas

    def owns(self, index):
        """Is hash class ``index`` this node's to send (the others it verifies)?"""
        if self.owned is not None:
            return index in self.owned
        return any(r.index == index for r in self.replicas)

    def skips(self, name):
        """Is the row ``name`` another database's to handle?  A root being
        sharded still holds rows the shard databases hold too; each row has
        one place, so that one owner (not one per database) sends it."""
        return any(name in shard for shard in self.handed_over)


# A shard range in these states (as the root's database records it) has taken
# over its rows: from then on the shard databases' replicas handle them, and
# the root's databases skip them.  Before that the root's replicas do, and the
# shard databases wait.  Each node applies one view (its root replica's), so
# a row moves from one owner to the other without being handled by both.
HANDED_OVER = (ShardRange.ACTIVE, ShardRange.SHRINKING, ShardRange.SHARDING,
               ShardRange.SHARDED)


def shard_owners(root_nodes, shard_nodes):
    """Who sends each hash class of a shard database's rows: a node id per class.

    The root's owner of the class when it holds a replica of the shard too
    (so a row found in both databases while the container is sharded has
    the same owner in both, who sends it once), else the shard's own
    replica at that index.  Every node computes the same answer from the
    ring alone.
    """
    shard_ids = [n["id"] for n in shard_nodes]
    owners = []
    for index, shard_id in enumerate(shard_ids):
        anchor = root_nodes[index]["id"] if index < len(root_nodes) else None
        owners.append(anchor if anchor in shard_ids else shard_id)
    return owners


@dataclass(frozen=True)
class LocalReplica:
    """A container database replica on this node."""
    device: str
    db_path: str
    index: int  # the replica's position in the ring's node list
    replicas: int  # how many replicas the ring keeps


class LocalObject:
    """A local object's state from a HEAD: what the sync decisions need."""

    def __init__(self, headers):
        # swob hands out WSGI strings (UTF-8 bytes seen as latin-1)
        self.headers = {k.lower(): wsgi_to_str(v) for k, v in headers.items()}

    @property
    def etag(self):
        return self.headers.get("etag", "").strip('"').lower()

    @property
    def size(self):
        return int(self.headers.get("content-length", 0))

    @property
    def content_type(self):
        return self.headers.get("content-type")

    @property
    def timestamp(self):
        return self.headers.get("x-timestamp")

    @property
    def user_metadata(self):
        p = "x-object-meta-"
        return {k[len(p):]: v for k, v in self.headers.items() if k.startswith(p)}

    @property
    def is_slo(self):
        return config_true_value(self.headers.get("x-static-large-object"))

    @property
    def is_dlo(self):
        return "x-object-manifest" in self.headers


class LocalCluster:
    """Ring lookups, container brokers and object I/O for one node."""

    def __init__(self, swift_dir, devices, internal_client_conf_path=None,
                 scratch_dir=None, request_tries=3):
        try:
            with swift_dir_kept_on_failure():
                use_swift_dir(swift_dir)
                self.ring = Ring(swift_dir, ring_name="container")
        except (SystemExit, Exception) as e:  # Swift exits on a swift.conf it refuses
            raise RuntimeError("swift_dir %s: %s" % (swift_dir, e)) from None
        self.swift_dir = swift_dir
        self.devices = devices
        self.my_ips = set(whataremyips())
        if internal_client_conf_path and not os.access(internal_client_conf_path, os.R_OK):
            # caught here, once, rather than as a traceback for every object
            raise RuntimeError("internal_client_conf_path %s: not a readable file"
                               % internal_client_conf_path)
        self._ic_conf = internal_client_conf_path or self._write_ic_conf(scratch_dir)
        self._request_tries = request_tries
        self._client = None
        self._decrypts = False

    def _write_ic_conf(self, scratch_dir):
        path = os.path.join(scratch_dir, "internal-client.conf")
        os.makedirs(scratch_dir, exist_ok=True)
        with open(path, "w") as f:
            f.write(INTERNAL_CLIENT_CONF % {"swift_dir": self.swift_dir})
        return path

    @property
    def client(self):
        if self._client is None:
            self._client = InternalClient(self._ic_conf, "onespace", self._request_tries)
            self._decrypts = has_decrypter(self._client.app)
        return self._client

    def _readable(self, resp, account, container, obj):
        """The response, unless it carries ciphertext we cannot decrypt."""
        if ENCRYPTED_BODY in resp.headers and not self._decrypts:
            close_if_possible(resp.app_iter)
            raise CannotDecrypt(
                "%s is encrypted at rest and the internal client %s has no "
                "decrypter: set internal_client_conf_path to a conf whose pipeline "
                "has keymaster and encryption, as the proxy's"
                % ("/".join((account, container, obj)), self._ic_conf))
        return resp

    # ---- container databases -------------------------------------------
    def local_replicas(self, account, container):
        """The replicas of ``account/container`` whose device is on this node."""
        part, nodes = self.ring.get_nodes(account, container)
        digest = hash_path(account, container)
        found = []
        for index, node in enumerate(nodes):
            if not self._is_local(node):
                continue
            dev_dir = os.path.join(self.devices, node["device"])
            if not os.path.isdir(dev_dir):
                continue
            db_dir = os.path.join(dev_dir, DATADIR, str(part), digest[-3:], digest)
            found.append(LocalReplica(node["device"], os.path.join(db_dir, digest + ".db"),
                                      index, len(nodes)))
        return found

    def _is_local(self, node):
        return node["ip"] in self.my_ips or node.get("replication_ip") in self.my_ips

    def broker(self, replica, account, container):
        """A broker for the replica's database, or None while it does not exist yet.

        Once sharded, the database file carries an epoch in its name: the
        broker finds the newest file itself.
        """
        broker = ContainerBroker(replica.db_path, account=account, container=container,
                                 logger=LOG, skip_commits=False)
        return broker if os.path.exists(broker.db_file) else None

    def local_databases(self, account, container, ask_servers=True):
        """Every LocalDB here holding rows of ``account/container``.

        Rows may sit in several of them while a container is being sharded:
        each LocalDB says which of its rows it leaves to the others
        (``skips``), and callers stay idempotent per row anyway (the remote is
        checked before anything is sent).  A node without the root's database
        learns its shards from the container servers, unless ``ask_servers``
        is false (onespace-status stays off the network).
        """
        found = []
        root = self._databases(account, container, found)
        if root is None and not ask_servers:
            return found
        if root is None or root.get_db_state() != "unsharded":
            handed_over = tuple(shard for shard in self.shard_ranges(account, container, root)
                                if shard.state in HANDED_OVER)
            found = [dataclasses.replace(db, handed_over=handed_over) for db in found]
            _, root_nodes = self.ring.get_nodes(account, container)
            for shard in handed_over:
                self._databases(shard.account, shard.container, found, root_nodes)
        return found

    def _databases(self, account, container, found, root_nodes=None):
        """Add the local DB(s) of one container (a shard of the root placed on
        ``root_nodes``, if given); returns its broker (or None)."""
        replicas = self.local_replicas(account, container)
        if not replicas:
            return None
        broker = self.broker(replicas[0], account, container)
        if broker is None:
            return None
        owned = None
        if root_nodes is not None:
            _, nodes = self.ring.get_nodes(account, container)
            mine = {nodes[r.index]["id"] for r in replicas}
            owned = frozenset(index for index, owner in
                              enumerate(shard_owners(root_nodes, nodes)) if owner in mine)
        for sub in broker.get_brokers():
            found.append(LocalDB(sub, tuple(replicas), sub.get_info()["id"],
                                 "%s/%s" % (account, container), owned=owned))
        return broker

    def shard_ranges(self, account, container, root=None):
        """The container's shard ranges: from the local root DB, else from its servers."""
        if root is not None:
            return root.get_shard_ranges()
        path = self.client.make_path(account, container)
        resp = self.client.make_request(
            "GET", path, {"X-Backend-Record-Type": "shard"}, (2, 404),
            params={"format": "json"})
        body = b"".join(resp.app_iter)
        if resp.status_int == 404 or resp.headers.get("X-Backend-Record-Type") != "shard":
            return []
        return [ShardRange.from_dict(d) for d in json.loads(body)]

    def container_headers(self, account, container):
        """The container's metadata and ACLs ({lowercase name: value}) from its
        local database, or None when this node has none.

        Not through the internal client: the proxy hides X-Container-Read/
        -Write from requests that are not the account owner's, and the
        internal client's are not.  Removed keys are kept with an empty value.
        """
        replicas = self.local_replicas(account, container)
        broker = self.broker(replicas[0], account, container) if replicas else None
        if broker is None:
            return None
        return {name.lower(): value for name, (value, _) in broker.metadata.items()}

    # ---- objects and containers ------------------------------------------
    def list_containers(self, account):
        """Names of the account's containers (for per-account ``/*`` mappings)."""
        return [c["name"] for c in self.client.iter_containers(account)]

    def _head(self, account, container, obj):
        """The HEAD response (2xx or 404), body closed."""
        path = self.client.make_path(account, container, obj)
        resp = self._readable(self.client.make_request("HEAD", path, {}, (2, 404)),
                              account, container, obj)
        close_if_possible(resp.app_iter)
        return resp

    def head_object(self, account, container, obj):
        """A LocalObject, or None when the object is gone (404)."""
        resp = self._head(account, container, obj)
        return None if resp.status_int == 404 else LocalObject(resp.headers)

    def tombstone_time(self, account, container, obj):
        """X-Backend-Timestamp of the object's tombstone when it is gone
        (Swift's 404 names it), else None."""
        resp = self._head(account, container, obj)
        return resp.headers.get("X-Backend-Timestamp") if resp.status_int == 404 else None

    def get_object(self, account, container, obj, headers=None):
        """(LocalObject, body iterator) or (None, None) when gone; the body is streamed."""
        path = self.client.make_path(account, container, obj)
        resp = self._readable(
            self.client.make_request("GET", path, dict(headers or {}), (2, 404)),
            account, container, obj)
        if resp.status_int == 404:
            close_if_possible(resp.app_iter)
            return None, None
        return LocalObject(resp.headers), resp.app_iter

    def delete_object(self, account, container, obj, headers=None):
        """Delete a local object; True when it existed."""
        path = self.client.make_path(account, container, obj)
        resp = self.client.make_request("DELETE", path, dict(headers or {}), (2, 404, 409, 412))
        close_if_possible(resp.app_iter)
        return resp.status_int // 100 == 2
