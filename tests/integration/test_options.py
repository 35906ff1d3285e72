"""Mapping options and operator tooling against the real lab."""

import json
import socket
import time

import swiftclient

from tests.integration.conftest import Daemon, run_once, status_json, wait_for, write_config
from tests.integration.test_archive import set_copy_after
from tests.integration.test_sync import node_configs, setup_sync, sync_all_nodes


def test_copy_after_waits_and_status_shows_lag(lab, tmp_path, unique):
    # a long copy_after first (robust on a loaded machine), then a short one
    conn, container, view, configs = setup_sync(lab, tmp_path, "seaweedfs", unique,
                                                copy_after=60)
    conn.put_object(container, "young", b"wait for me")
    sync_all_nodes(configs)
    assert view.get("young") is None  # younger than copy_after
    time.sleep(1)
    report = [e for path in configs for e in status_json(path)]
    # one row on each node, not due yet: waiting, not behind, no lag
    assert sum(e["rows_waiting"] for e in report) == 3
    assert all(e["rows_behind"] == 0 and e["state"] == "ok" and e["oldest_unsynced_age"] == 0
               for e in report)
    set_copy_after(configs, 1)  # due now, and one second late: behind, with lag
    report = [e for path in configs for e in status_json(path)]
    assert sum(e["rows_behind"] for e in report) == 3
    assert all(e["state"] == "behind" and e["oldest_unsynced_age"] >= 0.5 for e in report)
    sync_all_nodes(configs)
    assert view.get("young")[0] == b"wait for me"
    report = [e for path in configs for e in status_json(path)]
    assert [e["rows_behind"] for e in report] == [0, 0, 0]
    assert {e["state"] for e in report} == {"ok"}


def test_exclude_pattern_and_selection_criteria(lab, tmp_path, unique):
    criteria = {"OR": [{"x-object-meta-class": "gold"},
                       {"AND": [{"X-Object-Meta-Class": "silver"},
                                {"NOT": {"content-type": "text/secret"}}]}]}
    conn, container, view, configs = setup_sync(lab, tmp_path, "swift", unique,
                                                exclude_pattern=r"tmp/",
                                                selection_criteria=criteria)
    objects = {
        "gold": ({"X-Object-Meta-Class": "gold"}, "text/plain", True),
        "GOLD-upper-value": ({"X-Object-Meta-Class": "GOLD"}, "text/plain", True),
        "silver": ({"X-Object-Meta-Class": "silver"}, "text/plain", True),
        "silver-secret": ({"X-Object-Meta-Class": "silver"}, "text/secret", False),
        "bronze": ({"X-Object-Meta-Class": "bronze"}, "text/plain", False),
        "none": ({}, "text/plain", False),
        "tmp/gold": ({"X-Object-Meta-Class": "gold"}, "text/plain", False),
    }
    for name, (headers, ctype, _) in objects.items():
        conn.put_object(container, name, name.encode(), headers=headers, content_type=ctype)
    sync_all_nodes(configs)
    for name, (_, _, wanted) in objects.items():
        assert (view.get(name) is not None) == wanted, name


def test_statsd_counters_and_log_file(lab, tmp_path, unique):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.2)
    container, bucket = "st-" + unique, "st-" + unique
    conn = lab.swift_connection("test")
    conn.put_container(container)
    lab.s3_client().create_bucket(Bucket=bucket)
    log_file = tmp_path / "onespace.log"
    conf = lab.sync_config(1, [lab.s3_mapping(container, bucket)],
                           status_dir=str(tmp_path / "status"), verification_slack=0,
                           statsd_host="127.0.0.1", statsd_port=listener.getsockname()[1],
                           statsd_prefix="test" + unique, log_file=str(log_file))
    config = write_config(tmp_path / "c.json", conf)
    for i in range(3):
        conn.put_object(container, "o%d" % i, b"12345")
    rc, out = run_once(config)
    assert rc == 0, out
    packets = []
    while True:
        try:
            packets.append(listener.recv(4096).decode())
        except socket.timeout:
            break
    lines = "\n".join(packets).split("\n")
    assert "test%s.sync.upload:3|c" % unique in lines or \
        sum(1 for x in lines if x == "test%s.sync.upload:1|c" % unique) == 3, lines
    assert any(x.startswith("test%s.sync.bytes:" % unique) for x in lines)
    assert any(x.startswith("test%s.sync.pass:" % unique) and x.endswith("|ms") for x in lines)
    text = log_file.read_text()
    assert "uploaded AUTH_test/%s/o0" % container in text and "pass done" in text


def account_connection(lab, account):
    """A swiftclient connection to a new account of the lab (as its admin)."""
    admin = lab.swift_connection("admin")
    return swiftclient.Connection(preauthurl=lab.proxy_url + "/v1/" + account,
                                  preauthtoken=admin.get_auth()[1], retries=1)


def per_account_swift_mapping(lab, account, bucket_prefix, **extra):
    """``account``'s every container to the Swift target, ``<bucket_prefix><c>``."""
    identity, secret = lab.credentials("test2")
    return dict({"account": account, "container": "/*", "protocol": "swift",
                 "aws_endpoint": lab.auth_url, "aws_identity": identity,
                 "aws_secret": secret, "aws_bucket": bucket_prefix}, **extra)


def test_per_account_mapping_picks_up_new_container_while_running(lab, tmp_path, unique):
    account = "AUTH_run" + unique
    local = account_connection(lab, account)
    local.put_container("c1")
    local.put_object("c1", "o1", b"one")
    mapping = per_account_swift_mapping(lab, account, "run-%s-" % unique)
    configs = node_configs(lab, tmp_path, [mapping])
    daemons = [Daemon(c, tmp_path / ("d%d.log" % i), ).start() for i, c in enumerate(configs)]
    target = lab.swift_connection("test2")

    def remote(container, name):
        try:
            return target.get_object(container, name)[1]
        except swiftclient.ClientException:
            return None
    try:
        wait_for(lambda: remote("run-%s-c1" % unique, "o1"), timeout=60, what="c1/o1")
        local.put_container("created-later")
        local.put_object("created-later", "o2", b"two")
        assert wait_for(lambda: remote("run-%s-created-later" % unique, "o2"), timeout=60,
                        what="a container created after the daemons started") == b"two"
    finally:
        codes = [d.stop() for d in daemons]
    assert codes == [0, 0, 0]


def test_per_account_mapping_propagates_deletes_of_a_deleted_container(lab, tmp_path, unique):
    """``swift delete c`` (its objects, then the container) between two passes:
    the container is no longer listed, but its database still holds the
    deletes, and they reach the remote."""
    account = "AUTH_gone" + unique
    local = account_connection(lab, account)
    local.put_container("doomed")
    local.put_container("kept")
    for name in ("o0", "o1 \U0001F600"):
        local.put_object("doomed", name, b"y")
    local.put_object("kept", "k", b"k")
    mapping = per_account_swift_mapping(lab, account, "gone-%s-" % unique,
                                        propagate_delete=True)
    configs = node_configs(lab, tmp_path, [mapping])
    sync_all_nodes(configs)
    target = lab.swift_connection("test2")

    def remote_names(container):
        return sorted(o["name"] for o in target.get_container(
            "gone-%s-%s" % (unique, container))[1])
    assert remote_names("doomed") == ["o0", "o1 \U0001F600"]
    for name in ("o0", "o1 \U0001F600"):
        local.delete_object("doomed", name)
    local.delete_container("doomed")
    sync_all_nodes(configs)
    assert remote_names("doomed") == []
    assert remote_names("kept") == ["k"]
    report = [e for path in configs for e in status_json(path)]
    assert all(e["state"] in ("ok", "no database on this node") for e in report), report


def test_per_account_archive_leaves_segments_containers_to_their_manifests(lab, tmp_path,
                                                                          unique):
    """A client uploads an SLO the usual way: segments into <c>_segments
    first, manifest last. A per-account archive pass in between must not
    archive the segments away on their own; the manifest then takes them."""
    account = "AUTH_seg" + unique
    local = account_connection(lab, account)
    local.put_container("photos")
    local.put_container("photos_segments")
    for i in (0, 1):
        local.put_object("photos_segments", "big/%02d" % i, bytes([65 + i]) * 100)
    mapping = per_account_swift_mapping(lab, account, "seg-%s-" % unique, retain_local=False,
                                        retain_local_segments=False)
    configs = node_configs(lab, tmp_path, [mapping])
    out = "".join(sync_all_nodes(configs))  # between the client's segments and manifest
    assert "is a segments container" in out, out
    manifest = [{"path": "/photos_segments/big/%02d" % i} for i in (0, 1)]
    local.put_object("photos", "big", json.dumps(manifest),
                     query_string="multipart-manifest=put")
    sync_all_nodes(configs)
    target = lab.swift_connection("test2")
    assert target.get_object("seg-%s-photos" % unique, "big")[1] == b"A" * 100 + b"B" * 100
    assert local.get_container("photos")[1] == []  # archived, its segments with it
    assert local.get_container("photos_segments")[1] == []
