"""Remote expiry, container metadata/ACLs and storage policies against the real lab."""

import json
import time

import pytest
import swiftclient

from onespace import naming
from tests.integration.conftest import Daemon, run_once, wait_for, write_config
from tests.integration.remote import RemoteView
from tests.integration.test_large import Local
from tests.integration.test_sync import mapping_for, node_configs, setup_sync, sync_all_nodes

DAY = 86400


def local_time(conn, container, name):
    """The object's data time as the daemon sees it: X-Timestamp, until a POST."""
    return int(float(conn.head_object(container, name)["x-timestamp"]))


def remote_headers(lab, bucket, name):
    return lab.swift_connection("test2").head_object(bucket, name)


# ---------------------------------------------------------------- X-Delete-At

def test_remote_delete_after_on_swift(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(lab, tmp_path, "swift", unique,
                                                remote_delete_after=2 * DAY)
    conn.put_object(container, "o", b"data")
    sync_all_nodes(configs)
    written = local_time(conn, container, "o")
    assert int(remote_headers(lab, view.bucket, "o")["x-delete-at"]) == written + 2 * DAY
    # a metadata POST later must not move the expiry: it counts from the write
    time.sleep(1)  # (the local X-Timestamp becomes the POST's)
    conn.post_object(container, "o", headers={"X-Object-Meta-K": "v"})
    sync_all_nodes(configs)
    headers = remote_headers(lab, view.bucket, "o")
    assert headers["x-object-meta-k"] == "v"
    assert int(headers["x-delete-at"]) == written + 2 * DAY


def test_archive_removes_an_expiry_nobody_asks_for_any_more(lab, tmp_path, unique):
    """Copies made while the mapping had remote_delete_after keep their
    X-Delete-At; switched to archive mode without it, the remote copy (of a
    plain object and of an SLO's reused segments) would expire after the
    local one is gone. onespace removes the expiry before archiving."""
    local = Local(lab, unique)
    bucket = "dst-" + unique
    old = mapping_for(lab, "swift", local.container, bucket, remote_delete_after=DAY)
    local.conn.put_object(local.container, "plain", b"data")
    local.put_slo("big", [1000, 2000])
    (tmp_path / "old").mkdir()
    (tmp_path / "archive").mkdir()
    sync_all_nodes(node_configs(lab, tmp_path / "old", [old]))
    remote = lab.swift_connection("test2")
    segments = naming.swift_segments_container(bucket, local.segments, False)
    assert "x-delete-at" in remote_headers(lab, bucket, "plain")
    archive = dict(old, retain_local=False, retain_local_segments=True)
    archive.pop("remote_delete_after")
    local.put_slo("big", [1000, 2000])  # the same segments, a new manifest
    local.conn.post_object(local.container, "plain", headers={"X-Object-Meta-K": "v"})
    sync_all_nodes(node_configs(lab, tmp_path / "archive", [archive]))
    assert local.conn.get_container(local.container)[1] == []  # archived
    for name in ("plain", "big"):
        assert "x-delete-at" not in remote_headers(lab, bucket, name), name
    for name in ("big/00", "big/01"):
        assert "x-delete-at" not in remote.head_object(segments, name), name


def test_archive_to_swift_keeps_the_objects_own_expiry(lab, tmp_path, unique):
    """Archived without propagate_expiration, the remote copy had no
    X-Delete-At: the object outlived its expiry (the shunt served it)."""
    local = Local(lab, unique)
    bucket = "dst-" + unique
    configs = node_configs(lab, tmp_path, [mapping_for(lab, "swift", local.container, bucket,
                                                       retain_local=False)])
    expires = int(time.time()) + 10 * DAY
    local.conn.put_object(local.container, "plain", b"data",
                          headers={"X-Delete-At": str(expires)})
    local.put_slo("big", [1000, 2000], headers={"X-Delete-At": str(expires)})
    sync_all_nodes(configs)
    assert local.conn.get_container(local.container)[1] == []  # archived
    for name in ("plain", "big"):
        assert int(remote_headers(lab, bucket, name)["x-delete-at"]) == expires, name


def test_remote_delete_after_on_swift_slo_segments_get_the_addition(lab, tmp_path, unique):
    local = Local(lab, unique)
    bucket = "dst-" + unique
    configs = node_configs(lab, tmp_path, [mapping_for(
        lab, "swift", local.container, bucket, remote_delete_after=DAY,
        remote_delete_after_addition=3600)])
    local.put_slo("big", [1000, 2000])
    sync_all_nodes(configs)
    manifest_at = int(remote_headers(lab, bucket, "big")["x-delete-at"])
    assert manifest_at == local_time(local.conn, local.container, "big") + DAY
    remote = lab.swift_connection("test2")
    segments = naming.swift_segments_container(bucket, local.segments, False)
    names = [o["name"] for o in remote.get_container(segments)[1]]
    assert names == ["big/00", "big/01"]
    for name in names:
        assert int(remote.head_object(segments, name)["x-delete-at"]) == manifest_at + 3600


def test_propagate_expiration_and_offset(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(
        lab, tmp_path, "swift", unique, propagate_expiration=True,
        propagate_expiration_offset=600)
    expires = int(time.time()) + 10 * DAY
    conn.put_object(container, "exp", b"x", headers={"X-Delete-At": str(expires)})
    conn.put_object(container, "plain", b"y")
    sync_all_nodes(configs)
    assert int(remote_headers(lab, view.bucket, "exp")["x-delete-at"]) == expires + 600
    assert "x-delete-at" not in remote_headers(lab, view.bucket, "plain")
    # the local expiry changes, then goes away: the remote follows
    conn.post_object(container, "exp", headers={"X-Delete-At": str(expires + 50)})
    sync_all_nodes(configs)
    assert int(remote_headers(lab, view.bucket, "exp")["x-delete-at"]) == expires + 650
    conn.post_object(container, "exp", headers={"X-Object-Meta-Kept": "yes"})
    sync_all_nodes(configs)
    headers = remote_headers(lab, view.bucket, "exp")
    assert "x-delete-at" not in headers and headers["x-object-meta-kept"] == "yes"


def test_remote_delete_after_wins_over_propagate_expiration(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(
        lab, tmp_path, "swift", unique, propagate_expiration=True,
        propagate_expiration_offset=600, remote_delete_after=3 * DAY)
    conn.put_object(container, "o", b"x",
                    headers={"X-Delete-At": str(int(time.time()) + 10 * DAY)})
    sync_all_nodes(configs)
    assert int(remote_headers(lab, view.bucket, "o")["x-delete-at"]) == \
        local_time(conn, container, "o") + 3 * DAY


# ---------------------------------------------------------------- S3 lifecycle

THEIRS = {"ID": "operator-logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
          "Expiration": {"Days": 30}}


def test_lifecycle_rule_merged_on_seaweedfs(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(lab, tmp_path, "seaweedfs", unique,
                                                remote_delete_after=2 * DAY - 5)
    view.s3.put_bucket_lifecycle_configuration(
        Bucket=view.bucket, LifecycleConfiguration={"Rules": [THEIRS]})
    conn.put_object(container, "o", b"x")
    outs = sync_all_nodes(configs)
    rules = view.s3.get_bucket_lifecycle_configuration(Bucket=view.bucket)["Rules"]
    assert THEIRS in rules  # not clobbered
    ours = [r for r in rules if r["ID"].startswith("onespace-")]
    assert len(ours) == 2, rules  # the objects, and the SLO manifests kept beside them
    assert [r["Filter"] for r in ours] == [
        {"Prefix": naming.s3_listing_prefix("AUTH_test", container)},
        {"Prefix": naming.s3_manifest_prefix("AUTH_test", container)}]
    for rule in ours:
        assert rule["Expiration"] == {"Days": 2} and rule["Status"] == "Enabled"
    # the nodes run at once: each that read the rules before another's PUT
    # landed puts the same pair (the merge is idempotent), so two lines each
    puts = [out.count("lifecycle rule onespace-") for out in outs]
    assert sum(puts) >= 2 and all(n in (0, 2) for n in puts), outs
    assert view.get("o")[0] == b"x"
    # a second pass changes nothing
    assert "lifecycle rule" not in "".join(sync_all_nodes(configs))
    assert len(view.s3.get_bucket_lifecycle_configuration(Bucket=view.bucket)["Rules"]) == 3
    # remote_delete_after removed from the config: onespace's rules go, the
    # operator's stay (else every copy archived from now on would expire)
    for path in configs:
        with open(path) as f:
            conf = json.load(f)
        conf["containers"][0].pop("remote_delete_after")
        write_config(path, conf)
    sync_all_nodes(configs)
    rules = view.s3.get_bucket_lifecycle_configuration(Bucket=view.bucket)["Rules"]
    assert rules == [THEIRS], rules


def test_lifecycle_rules_for_every_container_of_a_per_account_mapping(lab, tmp_path, unique):
    """The containers of a per-account S3 mapping share one bucket: each gets
    its own rule (they used to stop at the first container).  Three nodes
    write the bucket's lifecycle at once, a container each at a time: a
    rule another writer's read-modify-write replaced is put again."""
    admin = lab.swift_connection("admin")
    account = "AUTH_life" + unique
    local = swiftclient.Connection(preauthurl=lab.proxy_url + "/v1/" + account,
                                   preauthtoken=admin.get_auth()[1], retries=1)
    bucket = "life-" + unique
    view = RemoteView(lab, "seaweedfs", bucket)
    view.create()
    for n in range(8):
        local.put_container("c%d" % n)
        local.put_object("c%d" % n, "o", b"x")
    mapping = lab.s3_mapping("/*", bucket, account=account, remote_delete_after=DAY)
    sync_all_nodes(node_configs(lab, tmp_path, [mapping], enumerator_workers=8))
    rules = view.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    prefixes = {r["Filter"]["Prefix"] for r in rules}
    for n in range(8):
        assert naming.s3_listing_prefix(account, "c%d" % n) in prefixes, rules


def test_lifecycle_unsupported_on_s3api_is_one_clear_warning(lab, tmp_path, unique):
    """Swift's s3api does not implement lifecycle PUT (it answers MalformedXML):
    objects still sync, and the operator is told once which mapping lacks expiry."""
    conn, container, view, configs = setup_sync(lab, tmp_path, "s3api", unique,
                                                remote_delete_after=DAY)
    conn.put_object(container, "a", b"1")
    conn.put_object(container, "b", b"2")
    outs = sync_all_nodes(configs)
    for out in outs:
        warnings = [line for line in out.splitlines()
                    if "remote_delete_after is not applied" in line]
        assert len(warnings) == 1, out
        assert "containers[0] (AUTH_test/%s" % container in warnings[0]
    assert view.get("a")[0] == b"1" and view.get("b")[0] == b"2"


# ---------------------------------------------------------------- container headers

def test_container_metadata_and_acls_follow(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(
        lab, tmp_path, "swift", unique, sync_container_metadata=True, sync_container_acl=True)
    remote = lab.swift_connection("test2")
    conn.post_container(container, {"X-Container-Meta-Color": "blue",
                                    "X-Container-Meta-Owner": "\u00e9quipe a",
                                    "X-Container-Read": ".r:*,.rlistings",
                                    "X-Container-Write": "AUTH_test2",
                                    # each cluster's own: neither copied nor removed
                                    "X-Container-Meta-Quota-Count": "1",
                                    "X-Container-Meta-Temp-URL-Key": "local-secret"})
    remote.put_container(view.bucket, {"X-Container-Meta-Access-Control-Allow-Origin": "*"})
    conn.put_object(container, "o", b"x")
    conn.put_object(container, "o2", b"y")
    sync_all_nodes(configs)
    headers = remote.head_container(view.bucket)
    assert "x-container-meta-quota-count" not in headers, headers
    assert "x-container-meta-temp-url-key" not in headers, headers
    assert headers["x-container-meta-access-control-allow-origin"] == "*"
    assert [o["name"] for o in remote.get_container(view.bucket)[1]] == ["o", "o2"]
    assert headers["x-container-meta-color"] == "blue"
    assert headers["x-container-meta-owner"] == "\u00e9quipe a"
    assert headers["x-container-read"] == ".r:*,.rlistings"
    assert headers["x-container-write"] == "AUTH_test2"

    conn.post_container(container, {"X-Container-Meta-Color": "red",
                                    "X-Remove-Container-Meta-Owner": "x",
                                    "X-Container-Read": ".r:*",
                                    "X-Remove-Container-Write": "x"})
    outs = sync_all_nodes(configs)
    headers = remote.head_container(view.bucket)
    assert headers["x-container-meta-color"] == "red"
    assert "x-container-meta-owner" not in headers
    assert headers["x-container-read"] == ".r:*"
    assert "x-container-write" not in headers
    assert "headers updated remotely" in "".join(outs)
    # nothing changed: no POST
    assert "headers updated remotely" not in "".join(sync_all_nodes(configs))


def test_container_acls_not_synced_without_the_option(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(lab, tmp_path, "swift", unique,
                                                sync_container_metadata=True)
    conn.post_container(container, {"X-Container-Meta-Color": "blue",
                                    "X-Container-Read": ".r:*"})
    conn.put_object(container, "o", b"x")
    sync_all_nodes(configs)
    headers = lab.swift_connection("test2").head_container(view.bucket)
    assert headers["x-container-meta-color"] == "blue"
    assert "x-container-read" not in headers


# ---------------------------------------------------------------- storage policy

def test_storage_policy_of_created_containers(lab, tmp_path, unique):
    local = Local(lab, unique)
    bucket = "dst-" + unique
    configs = node_configs(lab, tmp_path, [mapping_for(lab, "swift", local.container, bucket,
                                                       storage_policy="silver")])
    local.put_slo("big", [1000, 2000])
    local.conn.put_object(local.container, "o", b"x")
    sync_all_nodes(configs)
    remote = lab.swift_connection("test2")
    assert remote.head_container(bucket)["x-storage-policy"] == "silver"
    segments = naming.swift_segments_container(bucket, local.segments, False)
    assert remote.head_container(segments)["x-storage-policy"] == "silver"
    assert remote.get_object(bucket, "o")[1] == b"x"


def test_invalid_storage_policy_is_a_clear_error_without_spinning(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(lab, tmp_path, "swift", unique,
                                                storage_policy="no-such-policy")
    conn.put_object(container, "o", b"x")
    rc, out = run_once(configs[0])
    assert rc != 0
    errors = [line for line in out.splitlines() if "no-such-policy" in line]
    assert len(errors) == 1, out
    assert "containers[0] (AUTH_test/%s" % container in errors[0]
    assert "storage_policy 'no-such-policy' refused by the remote" in errors[0]
    assert "Traceback" not in out

    # a running daemon backs off instead of retrying every poll_interval (1s)
    daemon = Daemon(configs[0], tmp_path / "daemon.log").start()
    try:
        wait_for(lambda: "no-such-policy" in daemon.output(), timeout=60,
                 what="the storage policy error")
        time.sleep(8)
        assert daemon.alive()
    finally:
        daemon.stop()
    attempts = daemon.output().count("storage_policy 'no-such-policy'")
    assert 1 <= attempts <= 5, daemon.output()  # 1+2+4+... seconds apart, not 8+ times
    with pytest.raises(swiftclient.ClientException):
        lab.swift_connection("test2").head_container(view.bucket)
