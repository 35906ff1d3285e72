"""Archive mode (retain_local: false) against the real lab: copy, verify, then delete."""

import json
import os
import subprocess
import sys
import time

import pytest
import swiftclient

from tests.integration.conftest import run_once, status_json, wait_for, write_config
from tests.integration.remote import TARGETS, RemoteView
from tests.integration.test_sync import mapping_for, setup_sync, sync_all_nodes


def local_body(conn, container, name):
    return _or_none_if_missing(lambda: conn.get_object(container, name)[1])


def local_headers(conn, container, name):
    return _or_none_if_missing(lambda: conn.head_object(container, name))


def _or_none_if_missing(call):
    try:
        return call()
    except swiftclient.ClientException as e:
        if e.http_status == 404:
            return None
        raise


@pytest.mark.parametrize("target", TARGETS)
def test_archive_copies_verifies_then_removes_local(lab, tmp_path, unique, target):
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique,
                                                retain_local=False)
    for i in range(5):
        conn.put_object(container, "a%d" % i, b"archive me %d" % i,
                        headers={"X-Object-Meta-N": str(i)}, content_type="text/x-a")
    outs = sync_all_nodes(configs)
    assert "".join(outs).count("archived AUTH_test/") == 5
    for i in range(5):
        assert view.get("a%d" % i) == (b"archive me %d" % i, "text/x-a", {"n": str(i)})
        assert local_body(conn, container, "a%d" % i) is None
    # onespace-status reads the tombstone rows (timestamps with an offset)
    # and does not count the daemon's own deletes as work behind
    for path in configs:
        assert [(e["container"], e["rows_behind"]) for e in status_json(path)] == [
            (container, 0)]
    # the tombstones onespace wrote are not deletes to propagate
    outs = sync_all_nodes(configs)
    assert all(view.get("a%d" % i) for i in range(5))
    assert "deleted" not in "".join(o for o in outs if "pass done" in o).replace(" 0 deleted", "")


def test_archive_waits_for_copy_after(lab, tmp_path, unique):
    # a long copy_after first (robust on a loaded machine), then a short one
    conn, container, view, configs = setup_sync(lab, tmp_path, "seaweedfs", unique,
                                                retain_local=False, copy_after=60)
    conn.put_object(container, "young", b"not yet")
    sync_all_nodes(configs)
    assert local_body(conn, container, "young") == b"not yet"
    assert view.get("young") is None
    set_copy_after(configs, 1)
    time.sleep(1.5)
    sync_all_nodes(configs)
    assert local_body(conn, container, "young") is None
    assert view.get("young")[0] == b"not yet"


def set_copy_after(configs, seconds):
    """Change copy_after in place (it does not change the mapping's identity)."""
    for path in configs:
        with open(path) as f:
            conf = json.load(f)
        for m in conf["containers"]:
            m["copy_after"] = seconds
        write_config(path, conf)


def one_node_config(lab, tmp_path, target, unique):
    """One daemon that handles every row (verification slack 0), archive mode."""
    container, bucket = "ar-" + unique, "ar-" + unique
    conn = lab.swift_connection("test")
    conn.put_container(container)
    view = RemoteView(lab, target, bucket, container=container)
    view.create()
    conf = lab.sync_config(1, [mapping_for(lab, target, container, bucket, retain_local=False)],
                           status_dir=str(tmp_path / "status"), verification_slack=0)
    return conn, container, view, write_config(tmp_path / "one.json", conf)


def run_with_checkpoint(config, spec, timeout=120):
    env = dict(os.environ, ONESPACE_TEST_CHECKPOINT=spec)
    return subprocess.run([sys.executable, "-m", "onespace.cli", "--config", config, "--once"],
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("step", ["archive-uploaded", "archive-verified", "archive-deleted"])
def test_kill9_at_each_archive_step_loses_nothing(lab, tmp_path, unique, step):
    conn, container, view, config = one_node_config(lab, tmp_path, "seaweedfs", unique)
    conn.put_object(container, "precious", b"only copy", headers={"X-Object-Meta-K": "v"})
    crashed = run_with_checkpoint(config, step + ":crash")
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    # at every step: still local, or verified remote (or both)
    local, remote = local_body(conn, container, "precious"), view.get("precious")
    assert local == b"only copy" or remote == (b"only copy", "application/octet-stream",
                                                {"k": "v"})
    rc, out = run_once(config)
    assert rc == 0, out
    assert local_body(conn, container, "precious") is None
    assert view.get("precious") == (b"only copy", "application/octet-stream", {"k": "v"})
    rc, out = run_once(config)  # and the archive tombstone changes nothing remotely
    assert rc == 0 and view.get("precious") is not None


def run_racing(config, tmp_path, change, expect_rc=0):
    """One pass that stops between verify and delete while ``change()`` runs;
    the pass's output."""
    barrier = str(tmp_path / "go")
    env = dict(os.environ, ONESPACE_TEST_CHECKPOINT="archive-verified:pause:" + barrier)
    proc = subprocess.Popen([sys.executable, "-m", "onespace.cli", "--config", config, "--once"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: os.path.exists(barrier + ".waiting"), timeout=60,
                 what="the daemon to stop between verify and delete")
        time.sleep(0.02)  # the change gets a later timestamp than the copied version
        change()
        open(barrier, "w").close()
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == expect_rc, out
    return out


def test_post_racing_the_archive_delete_survives(lab, tmp_path, unique):
    """Swift's conditional DELETE only protects newer data: onespace itself
    must keep a newer POST's metadata from being deleted with the object."""
    conn, container, view, config = one_node_config(lab, tmp_path, "seaweedfs", unique)
    conn.put_object(container, "posted", b"data", headers={"X-Object-Meta-V": "1"})
    out = run_racing(config, tmp_path, lambda: conn.post_object(
        container, "posted", headers={"X-Object-Meta-V": "2"}))
    assert "changed locally since it was copied" in out
    # the POST's metadata survived the delete meant for the old version: it
    # is still local, or (if the same pass reached the POST's row) archived
    local = local_headers(conn, container, "posted")
    remote = view.get("posted")
    assert (local is not None and local["x-object-meta-v"] == "2") or (
        local is None and remote[2] == {"v": "2"})
    rc, out = run_once(config)  # archived in its turn, with the new metadata
    assert rc == 0, out
    assert local_body(conn, container, "posted") is None
    assert view.get("posted") == (b"data", "application/octet-stream", {"v": "2"})


def test_overwrite_racing_the_archive_delete_survives(lab, tmp_path, unique):
    conn, container, view, config = one_node_config(lab, tmp_path, "swift", unique)
    conn.put_object(container, "raced", b"version 1")
    out = run_racing(config, tmp_path,
                     lambda: conn.put_object(container, "raced", b"version 2"))
    assert "changed locally since it was copied" in out
    # the newer write survived the delete meant for version 1: it is still
    # local, or (if the same pass reached its row) archived and verified
    local, remote = local_body(conn, container, "raced"), view.get("raced")[0]
    assert local == b"version 2" or (local is None and remote == b"version 2")
    assert remote in (b"version 1", b"version 2")
    rc, out = run_once(config)  # and is archived in its turn
    assert rc == 0, out
    assert local_body(conn, container, "raced") is None
    assert view.get("raced")[0] == b"version 2"


def test_dlo_segment_added_while_archiving_is_not_lost(lab, tmp_path, unique):
    """A DLO is whatever its prefix lists: a segment added between the copy
    and the local delete makes the archive wait for the next pass, which
    copies the whole object."""
    conn, container, view, config = one_node_config(lab, tmp_path, "seaweedfs", unique)
    segments = container + "_segs"
    conn.put_container(segments)
    for i in (1, 2):
        conn.put_object(segments, "obj/%d" % i, b"<seg%d>" % i)
    conn.put_object(container, "obj", b"", headers={"X-Object-Manifest": segments + "/obj/"})
    out = run_racing(config, tmp_path,
                     lambda: conn.put_object(segments, "obj/3", b"<seg3>"), expect_rc=1)
    assert "segments changed since they were copied" in out, out
    assert local_body(conn, container, "obj") == b"<seg1><seg2><seg3>"
    rc, out = run_once(config)
    assert rc == 0, out
    assert local_body(conn, container, "obj") is None
    assert view.get("obj")[0] == b"<seg1><seg2><seg3>"
