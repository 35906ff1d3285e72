"""A container database of many rows, written straight through ContainerBroker.

The container is created through the proxy (so every replica DB exists),
then each replica DB gets the same rows with ``merge_items``, in parallel
processes (one per replica): about two minutes for 3 x 1,000,000 rows on
a busy 2-core machine.  ``fill_container_db`` writes rows of one size and
time stamp (names only matter); ``fill_container_rows`` rows given whole
(e.g. the time stamp and ETag a migrated object would have).
"""

import multiprocessing
import os

from swift.common.ring import Ring
from swift.common.utils import Timestamp, hash_path, set_swift_dir
from swift.container.backend import DATADIR, ContainerBroker

BATCH = 10_000
ETAG = "d41d8cd98f00b204e9800998ecf8427e"


def replica_db_paths(lab, account, container):
    """{node: db path} of every replica, found as onespace.cluster does it."""
    set_swift_dir(lab.etc)  # the hash path prefix/suffix come from here
    part, nodes = Ring(lab.etc, ring_name="container").get_nodes(account, container)
    digest = hash_path(account, container)
    paths = {}
    for node in range(1, 4):
        for dev in nodes:
            dev_dir = os.path.join(lab.devices(node), dev["device"])
            if os.path.isdir(dev_dir):
                paths[node] = os.path.join(dev_dir, DATADIR, str(part), digest[-3:],
                                           digest, digest + ".db")
    return paths


def _fill(swift_dir, db_path, account, container, rows):
    set_swift_dir(swift_dir)
    broker = ContainerBroker(db_path, account=account, container=container)
    for start in range(0, len(rows), BATCH):
        broker.merge_items(rows[start:start + BATCH])


def row(name, created_at, size, etag=ETAG, content_type="application/octet-stream"):
    """A container DB row as the object servers' container updates make it."""
    return {"name": name, "created_at": created_at, "size": size,
            "content_type": content_type, "etag": etag, "deleted": 0,
            "storage_policy_index": 0}


class _SameRows:
    """Rows for ``names`` (a sequence), one size and time stamp, built per slice."""

    def __init__(self, names, size, created_at):
        self.names, self.size, self.created_at = names, size, created_at

    def __len__(self):
        return len(self.names)

    def __getitem__(self, part):
        return [row(name, self.created_at, self.size) for name in self.names[part]]


class RowNames:
    """``row-00000000`` ... as a sequence, without a million strings in memory."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return self.rows

    def __getitem__(self, part):
        return ["row-%08d" % i for i in range(self.rows)[part]]


def fill_container_db(lab, account, container, names, size=4096):
    """Rows ``names`` (a sequence; RowNames for many) in every replica DB of an
    existing container, a process per replica."""
    return fill_container_rows(lab, account, container,
                               _SameRows(names, size, Timestamp.now().internal))


def fill_container_rows(lab, account, container, rows):
    """``rows`` (a sequence of :func:`row` dicts, sliceable) in every replica
    DB of an existing container, a process per replica; the object count."""
    paths = replica_db_paths(lab, account, container)
    if len(paths) != 3 or not all(os.path.exists(p) for p in paths.values()):
        raise RuntimeError("replica DBs of %s/%s not found: %s" % (account, container, paths))
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_fill, args=(lab.etc, path, account, container, rows))
             for path in paths.values()]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError("filling a container DB failed (exit %s)" % p.exitcode)
    broker = ContainerBroker(paths[1], account=account, container=container)
    return broker.get_info()["object_count"]
