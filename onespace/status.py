"""Progress store: one small JSON file per (mapping, container database).

Each file records how far this node got in a container database: the last
row it handled in the primary pass and the last row it verified.  Files are
replaced atomically (write a temporary file, fsync, rename, fsync the
directory), so a crash leaves either the old or the new progress, never a
torn file.  File names are hashes because container names can be longer
than a file name may be; the account and container are kept inside.
"""

import hashlib
import json
import os
import tempfile
import time

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


def new_progress(identity, account, container, db_id):
    return {
        "mapping": identity, "account": account, "container": container,
        "db_id": db_id, "last_row": 0, "verified_row": 0,
        "failed": {}, "stats": {}, "updated": 0,
    }


class ProgressStore:
    """Progress files under ``status_dir/<mapping identity>/``."""

    def __init__(self, status_dir):
        self.root = status_dir

    def path(self, identity, account, container):
        digest = hashlib.md5(("%s/%s" % (account, container)).encode("utf-8")).hexdigest()
        return os.path.join(self.root, identity[:16], digest + ".json")

    def load(self, identity, account, container, db_id):
        """This node's progress, reset when the mapping or the database changed.

        A different DB id means the container was deleted and created again:
        its row ids start over, so the old positions mean nothing.
        """
        path = self.path(identity, account, container)
        try:
            with open(path) as f:
                doc = json.load(f)
        except FileNotFoundError:
            doc = None
        except (OSError, ValueError):
            # a corrupt file only costs a re-scan (remote state is re-checked)
            os.replace(path, path + ".corrupt")
            doc = None
        if not doc or doc.get("mapping") != identity or doc.get("db_id") != db_id:
            return new_progress(identity, account, container, db_id)
        return doc

    def save(self, doc):
        doc["updated"] = time.time()
        if len(doc["failed"]) > MAX_FAILED:
            keep = sorted(doc["failed"])[:MAX_FAILED]
            doc["failed"] = {k: doc["failed"][k] for k in keep}
        write_json_atomic(self.path(doc["mapping"], doc["account"], doc["container"]), doc)

    def all(self):
        """Every progress document (for onespace-status)."""
        if not os.path.isdir(self.root):
            return
        for ident in sorted(os.listdir(self.root)):
            d = os.path.join(self.root, ident)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                if name.endswith(".json") and not name.startswith(".tmp-"):
                    try:
                        with open(os.path.join(d, name)) as f:
                            yield json.load(f)
                    except (OSError, ValueError):
                        continue

    def forget_other_mappings(self, identities):
        """Drop progress of mappings no longer configured (a changed mapping starts over)."""
        if not os.path.isdir(self.root):
            return
        keep = {i[:16] for i in identities}
        for ident in os.listdir(self.root):
            d = os.path.join(self.root, ident)
            if ident not in keep and os.path.isdir(d):
                for name in os.listdir(d):
                    os.unlink(os.path.join(d, name))
                os.rmdir(d)
