"""onespace-status against the real lab: sharded containers, copy_after,
progress files it must only read."""

import glob
import json
import os
import subprocess
import sys

from tests.integration.conftest import run_once, status_json, write_config
from tests.integration.remote import RemoteView
from tests.integration.test_sharding import put_many


def one_node(lab, tmp_path, unique, **extra):
    """A container and bucket, and node 1's config: (conn, container, config path)."""
    container = bucket = "st-" + unique
    conn = lab.swift_connection("test")
    conn.put_container(container)
    RemoteView(lab, "seaweedfs", bucket, container=container).create()
    config = write_config(tmp_path / "node1.json", lab.sync_config(
        1, [lab.s3_mapping(container, bucket, **extra)], status_dir=str(tmp_path / "status"),
        verification_slack=60))
    return conn, container, config


def test_sharded_container_rows_counted_once(lab, tmp_path, unique):
    conn, container, config = one_node(lab, tmp_path, unique)
    put_many(lab, container, ["obj-%04d" % i for i in range(90)])
    assert run_once(config)[0] == 0
    assert [e["rows"] for e in status_json(config)] == [90]
    lab.shard_container("AUTH_test", container, rows_per_shard=30)
    assert set(lab.container_db_states("AUTH_test", container)) == {"sharded"}
    [entry] = status_json(config)
    assert entry["databases"] > 1 and entry["rows"] == 90, entry
    assert run_once(config)[0] == 0
    [entry] = status_json(config)
    assert (entry["rows"], entry["rows_behind"], entry["state"]) == (90, 0, "ok"), entry


def test_rows_not_due_yet_are_waiting_not_behind(lab, tmp_path, unique):
    conn, container, config = one_node(lab, tmp_path, unique, copy_after=3600)
    conn.put_object(container, "young", b"wait for me")
    assert run_once(config)[0] == 0
    [entry] = status_json(config)
    assert (entry["state"], entry["rows_behind"], entry["rows_waiting"],
            entry["oldest_unsynced_age"]) == ("ok", 0, 1, 0), entry


def status_text(config):
    p = subprocess.run([sys.executable, "-c", "import sys; from onespace.cli import status_main;"
                        " sys.exit(status_main())", "--config", str(config)],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_status_only_reads_progress_files_and_the_daemon_heals(lab, tmp_path, unique):
    conn, container, config = one_node(lab, tmp_path, unique)
    conn.put_object(container, "a", b"a")
    assert run_once(config)[0] == 0
    status_dir = str(tmp_path / "status")
    [path] = glob.glob(os.path.join(status_dir, "*", "*", "*.json"))
    # files status_dir may hold that are not progress files
    with open(os.path.join(status_dir, "migrator-status.json"), "w") as f:
        json.dump({"migrations": {}}, f)
    with open(os.path.join(os.path.dirname(path), "notes.json"), "w") as f:
        json.dump([1], f)
    assert status_json(config)[0]["state"] == "ok"
    for text in ('{"mapping": "trunc', "[1, 2]", "{}", json.dumps({"mapping": "x"})):
        with open(path, "w") as f:
            f.write(text)
        [entry] = status_json(config)
        assert entry["state"] == "error", entry
        assert entry["error"].startswith("progress file unreadable: "), entry
        rc, out, err = status_text(config)
        assert rc == 0 and "progress file unreadable" in out and not err, (out, err)
        assert open(path).read() == text and not os.path.exists(path + ".corrupt")
    # the daemon moves the bad file aside once and starts that database over
    assert run_once(config)[0] == 0
    assert os.path.exists(path + ".corrupt")
    assert status_json(config)[0]["state"] == "ok"


def test_status_asks_no_server_for_a_container_it_holds_no_database_of(lab, tmp_path, unique):
    """A node without the container's database would have to ask the
    container servers for its shards; onespace-status does not (it needs no
    network), so servers that do not answer change nothing."""
    import shutil
    from swift.common.ring import RingBuilder
    conn, container, config = one_node(lab, tmp_path, unique)
    etc = tmp_path / "etc"
    shutil.copytree(lab.etc, etc)
    builder = RingBuilder.load(str(etc / "container.builder"))
    for dev in builder.devs:
        dev["port"] = lab.base + 49  # nothing listens there
    builder.get_ring().save(str(etc / "container.ring.gz"))
    with open(config) as f:
        conf = json.load(f)
    (tmp_path / "no-devices").mkdir()
    ic_conf = etc / "internal-client.conf"
    ic_conf.write_text(ic_conf.read_text().replace(lab.etc, str(etc)))
    conf.update(swift_dir=str(etc), devices=str(tmp_path / "no-devices"),
                internal_client_conf_path=str(ic_conf))
    write_config(config, conf)
    [entry] = status_json(config)
    assert entry["state"] == "no database on this node", entry
