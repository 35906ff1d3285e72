"""Progress store: one small JSON file per (mapping, container database).

Each file records how far this node got in one container database: the last
row it handled in the primary pass and the last row it verified.  A mapped
container has one database, or several while Swift shards it (retiring,
fresh and shard databases), so files are kept per database id under a
directory per mapped container:

    <status_dir>/<mapping identity[:16]>/<md5(account/container)>/<md5(db id)>.json

Files are replaced atomically (write a temporary file, fsync, rename, fsync
the directory), so a crash leaves either the old or the new progress, never
a torn file.  Names are hashes because container names can be longer than a
file name may be; the account, container and database are kept inside.
"""

import contextlib
import glob
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time

LOG = logging.getLogger("onespace.status")

MAX_FAILED = 1000  # failed names kept per container, so a bad container can't bloat the file


def write_json_atomic(path, doc):
    """Replace ``path`` with ``doc`` so that readers see the old or new file, whole."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


_HEX16 = re.compile(r"[0-9a-f]{16}")
_HEX_PATH = re.compile(r"/[0-9a-f]{16}/[0-9a-f]{32}/[0-9a-f]{32}\.json$")


def _md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def new_progress(identity, account, container, db_id, db_label=None):
    return {
        "mapping": identity, "account": account, "container": container,
        "db_id": db_id, "db": db_label or "%s/%s" % (account, container),
        "last_row": 0, "verified_row": 0, "failed": {}, "updated": 0,
    }


class ProgressUnreadable(Exception):
    """A progress file that exists but cannot be used (the reason, one line)."""


class ProgressCorrupt(ProgressUnreadable):
    """A file that was read but is not a progress document: safe to move
    aside and start over (unlike, say, a directory in its place)."""


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_progress(doc):
    """Has ``doc`` the shape ``save`` writes?  Anything else is treated as corrupt."""
    return (isinstance(doc, dict)
            and all(isinstance(doc.get(k), str) for k in ("mapping", "account", "container",
                                                           "db_id"))
            and _is_count(doc.get("last_row")) and _is_count(doc.get("verified_row"))
            and isinstance(doc.get("failed"), dict)
            and isinstance(doc.get("updated"), (int, float))
            and not isinstance(doc["updated"], bool) and math.isfinite(doc["updated"]))


def read_json_doc(path, is_valid, what):
    """The JSON document at ``path``, None if there is none; changes nothing.

    Raises ProgressUnreadable (the reason, one line) when the file cannot be
    read, and ProgressCorrupt when it is not JSON or ``is_valid`` refuses it
    (``what`` names what it should have been).
    """
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ProgressUnreadable(e.strerror or str(e)) from None
    except (ValueError, RecursionError) as e:  # RecursionError: absurdly nested JSON
        raise ProgressCorrupt("not valid JSON (%s)" % e) from None
    if not is_valid(doc):
        raise ProgressCorrupt("not " + what)
    return doc


def read_progress(path):
    """The progress document at ``path`` (see read_json_doc)."""
    return read_json_doc(path, is_progress, "a progress document")


class ProgressStore:
    """Progress files under ``status_dir/<mapping identity>/``."""

    def __init__(self, status_dir):
        self.root = status_dir

    def container_dir(self, identity, account, container):
        return os.path.join(self.root, identity[:16], _md5("%s/%s" % (account, container)))

    def path(self, identity, account, container, db_id):
        return os.path.join(self.container_dir(identity, account, container),
                            _md5(db_id) + ".json")

    def read(self, identity, account, container, db_id, db_label=None):
        """This node's progress in one database (new if there is none yet),
        read only (onespace-status); raises ProgressUnreadable.

        A re-created container has a new database id, so it starts over: the
        old row positions mean nothing there.
        """
        doc = read_progress(self.path(identity, account, container, db_id))
        if doc is None or doc["mapping"] != identity:
            return new_progress(identity, account, container, db_id, db_label)
        return doc

    def load(self, identity, account, container, db_id, db_label=None):
        """``read`` for the daemon: a corrupt file is moved aside and the
        database starts over, which only costs a re-scan (the remote's state
        is checked again)."""
        path = self.path(identity, account, container, db_id)
        try:
            return self.read(identity, account, container, db_id, db_label)
        except ProgressCorrupt as e:
            os.replace(path, path + ".corrupt")
            LOG.warning("progress file %s unreadable (%s); moved to %s.corrupt, "
                        "re-scanning that database", path, e, path)
            return new_progress(identity, account, container, db_id, db_label)
        except ProgressUnreadable as e:  # not ours to move (a directory, no permission)
            raise ProgressUnreadable("progress file %s unreadable: %s" % (path, e)) from None

    def save(self, doc):
        doc["updated"] = time.time()
        if len(doc["failed"]) > MAX_FAILED:
            keep = sorted(doc["failed"])[:MAX_FAILED]
            doc["failed"] = {k: doc["failed"][k] for k in keep}
        write_json_atomic(self.path(doc["mapping"], doc["account"], doc["container"],
                                    doc["db_id"]), doc)

    def all(self, identity=None):
        """Every readable progress document (of one mapping, if given).

        Only paths of the layout ``path`` makes are read: status_dir may hold
        other files (a migrator status_file, internal-client.conf, ...).
        """
        mapping_dir = glob.escape(identity[:16]) if identity else "?" * 16
        pattern = os.path.join(glob.escape(self.root), mapping_dir, "?" * 32, "?" * 32 + ".json")
        for path in sorted(glob.glob(pattern)):
            if _HEX_PATH.search(path):
                try:
                    doc = read_progress(path)
                except ProgressUnreadable:
                    continue  # its container's row says so (``read``)
                if doc is not None:
                    yield doc

    def containers(self, identity):
        """Names of the containers with progress under a mapping."""
        return {doc["container"] for doc in self.all(identity)}

    def prune(self, identity, account, container, keep_db_ids):
        """Forget databases that are gone (a retired DB after sharding, a
        deleted container); the container's directory goes with its last one."""
        keep = {_md5(i) + ".json" for i in keep_db_ids}
        d = self.container_dir(identity, account, container)
        if os.path.isdir(d):
            for name in os.listdir(d):
                if name.endswith(".json") and name not in keep:
                    os.unlink(os.path.join(d, name))
            if not keep_db_ids:
                with contextlib.suppress(OSError):  # not empty: left to the operator
                    os.rmdir(d)

    def forget_dropped_mappings(self, config_path, identities):
        """Drop the progress of mappings ``config_path`` had when it last ran
        here and has no longer (a changed mapping starts over).

        Only that file's own former mappings: another config sharing this
        status_dir (a second daemon, a one-off ``--once`` with a subset)
        keeps its progress, and so does a mapping another config still lists.
        """
        records = os.path.join(self.root, "configs")
        mine = os.path.join(records, _md5(os.path.abspath(config_path))[:16] + ".json")
        current = sorted({i[:16] for i in identities})
        others = set()
        previous = set()
        for path in glob.glob(os.path.join(glob.escape(records), "*.json")):
            try:
                with open(path) as f:
                    listed = set(json.load(f)["mappings"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # unreadable: nothing is forgotten on its account
            if path == mine:
                previous = listed
            else:
                others |= listed
        for ident in previous - set(current) - others:
            d = os.path.join(self.root, ident)
            if _HEX16.fullmatch(ident) and os.path.isdir(d):
                shutil.rmtree(d)
        write_json_atomic(mine, {"config": os.path.abspath(config_path), "mappings": current})
