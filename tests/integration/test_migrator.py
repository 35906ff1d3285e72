"""onespace-migrator against the real lab: S3 (SeaweedFS, Swift's s3api) and
Swift (account AUTH_test2) sources copied into AUTH_test, then followed."""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import pytest
from swift.common.utils import Timestamp

from onespace import naming
from onespace.lab import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.integration.conftest import Daemon, status_json, wait_for, write_config
from tests.integration.test_sync import ODD_NAMES as SYNC_ODD_NAMES

ODD_NAMES = SYNC_ODD_NAMES + [
    "long-" + "x" * 200,
    "dir-x",  # SeaweedFS lists "dir/..." before "dir-x" (tree order)
    "dir.x",
]
MIGRATOR = ("import sys; from onespace.cli import migrator_main; sys.exit(migrator_main())")


def s3_migration(lab, bucket, target="seaweedfs", **extra):
    if target == "s3api":
        (identity, secret), endpoint = lab.credentials("test3"), lab.proxy_url
    else:
        identity, secret, endpoint = S3_ACCESS_KEY, S3_SECRET_KEY, lab.s3_endpoint
    m = {"account": "AUTH_test", "aws_bucket": bucket, "protocol": "s3",
         "aws_endpoint": endpoint, "aws_identity": identity, "aws_secret": secret}
    m.update(extra)
    return m


def swift_migration(lab, container, **extra):
    identity, secret = lab.credentials("test2")
    m = {"account": "AUTH_test", "aws_bucket": container, "protocol": "swift",
         "aws_endpoint": lab.auth_url, "aws_identity": identity, "aws_secret": secret}
    m.update(extra)
    return m


def migrator_config(lab, path, migrations, node=None, **settings):
    """A config for a migrator on container node ``node``, or (None) on a host
    without ring devices, which migrates everything itself."""
    ms = {"status_file": str(path) + ".status", "poll_interval": 1, "workers": 4,
          "items_chunk": 100}
    ms.update(settings.pop("migrator_settings", {}))
    conf = {"migrations": migrations, "migrator_settings": ms,
            "devices": lab.devices(node) if node else str(path) + ".no-devices",
            "swift_dir": lab.etc,
            "internal_client_conf_path": os.path.join(lab.etc, "internal-client.conf"),
            "verification_slack": 0, "log_level": "info"}
    conf.update(settings)
    return write_config(path, conf)


def run_migrator(config_path, timeout=300):
    p = subprocess.run([sys.executable, "-c", MIGRATOR, "--config", str(config_path), "--once"],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def migrate(config_path, expect_rc=0):
    rc, out = run_migrator(config_path)
    assert rc == expect_rc, out
    for secret in (S3_SECRET_KEY, "testing2", "testing3"):
        assert secret not in out
    return out


def last_scans(config_path):
    with open(json.load(open(config_path))["migrator_settings"]["status_file"]) as f:
        doc = json.load(f)
    return [c["last_scan"] for m in doc["migrations"].values()
            for c in m["containers"].values()]


def put_s3(s3, bucket, names, meta=None, body=lambda n: ("data of " + n).encode()):
    def put(n):
        s3.put_object(Bucket=bucket, Key=n, Body=body(n), ContentType="text/x-test",
                      Metadata=meta or {})
    with ThreadPoolExecutor(8) as pool:  # boto3 clients are thread-safe
        list(pool.map(put, names))


def s3_source(lab, bucket, names, **put):
    """A new SeaweedFS bucket holding ``names`` (see put_s3); its client."""
    s3 = lab.s3_client()
    s3.create_bucket(Bucket=bucket)
    put_s3(s3, bucket, names, **put)
    return s3


def s3_times(s3, bucket):
    """Listing Last-Modified per key (what the migrator keeps as X-Timestamp)."""
    out, token = {}, None
    for _ in range(100):
        kw = {"Bucket": bucket}
        if token:
            kw["ContinuationToken"] = token
        resp = s3.list_objects_v2(**kw)
        for o in resp.get("Contents", []):
            out[o["Key"]] = o["LastModified"].timestamp()
        token = resp.get("NextContinuationToken")
        if not resp.get("IsTruncated"):
            return out
    raise AssertionError("listing too long")


def swift_dir_with_1_mib_limit(lab, tmp_path):
    """A copy of the lab's swift_dir with max_file_size 1 MiB (the migrator
    reads the limit from its own swift_dir): large objects without 5 GiB."""
    import shutil
    etc = str(tmp_path / "etc")
    shutil.copytree(lab.etc, etc)
    with open(os.path.join(etc, "swift.conf"), "a") as f:
        f.write("\n[swift-constraints]\nmax_file_size = 1048576\n")
    return etc


def local_names(conn, container, prefix=None):
    _, rows = conn.get_container(container, full_listing=True, prefix=prefix)
    return sorted(r["name"] for r in rows)


@pytest.mark.parametrize("target", ["seaweedfs", "s3api"])
def test_s3_to_swift_copies_data_metadata_and_time(lab, tmp_path, unique, target):
    s3 = lab.s3_client(target)
    bucket, container = "mig-src-" + unique, "mig-dst-" + unique  # renamed on the way
    s3.create_bucket(Bucket=bucket)
    meta = {"color": "blue", "unicode": "=?UTF-8?q?caf=C3=A9_=E2=9C=93?="}
    put_s3(s3, bucket, ODD_NAMES, meta)
    # a multipart upload becomes an SLO with one segment per part
    parts = [os.urandom(5 * 1048576), os.urandom(5 * 1048576), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi \u00e9",
                                        ContentType="x/multi")
    etags = [s3.upload_part(Bucket=bucket, Key="multi \u00e9", UploadId=upload["UploadId"],
                            PartNumber=i + 1, Body=p)["ETag"] for i, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket=bucket, Key="multi \u00e9", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e}
                                                            for i, e in enumerate(etags)]})
    times = s3_times(s3, bucket)
    config = migrator_config(lab, tmp_path / "m.json",
                             [s3_migration(lab, bucket, target, container=container)],
                             migrator_settings={"items_chunk": 3})
    out = migrate(config)
    # SeaweedFS lists as a directory tree ("dir/..." before "dir-x"): detected
    # before any harm, then its listing is read whole and sorted
    assert ("does not list in byte order" in out) == (target == "seaweedfs"), out
    conn = lab.swift_connection("test")
    assert local_names(conn, container) == sorted(ODD_NAMES + ["multi \u00e9"])
    headers, body = conn.get_object(container, "multi \u00e9")
    assert body == b"".join(parts) and headers["x-static-large-object"] == "True"
    assert headers["content-type"] == "x/multi"
    assert Timestamp(headers["x-timestamp"]) == Timestamp(times["multi \u00e9"])
    segments = conn.get_container(container + "_segments")[1]
    assert [s["bytes"] for s in segments] == [len(p) for p in parts]
    for name in ODD_NAMES:
        headers, body = conn.get_object(container, name)
        assert body == ("data of " + name).encode()
        assert headers["content-type"] == "text/x-test"
        assert headers["x-object-meta-color"] == "blue"
        assert headers["x-object-meta-unicode"] == "caf\u00e9 \u2713"  # RFC 2047 decoded
        assert Timestamp(headers["x-timestamp"]) == Timestamp(times[name])
        assert not any(k.startswith("x-object-sysmeta") for k in headers)  # hidden from users
    assert last_scans(config)[0]["copied"] == len(ODD_NAMES) + 1
    assert last_scans(config)[0]["bytes"] == sum(
        len(("data of " + n).encode()) for n in ODD_NAMES) + sum(map(len, parts))
    # a second pass over a migrated bucket copies nothing
    migrate(config)
    assert last_scans(config)[0]["copied"] == 0
    assert last_scans(config)[0]["scanned"] == len(ODD_NAMES) + 1
    # onespace-status shows the migration's last scan, without the secret
    rows = [r for r in status_json(config) if "migration" in r]
    assert [(r["container"], r["state"], r["last_scan"]["scanned"]) for r in rows] == [
        (container, "idle", len(ODD_NAMES) + 1)]
    text = subprocess.run([sys.executable, "-c", "import sys; from onespace.cli import "
                           "status_main; sys.exit(status_main())", "--config", config],
                          capture_output=True, text=True, timeout=60)
    assert "AUTH_test/" + container in text.stdout and "idle" in text.stdout, text.stderr
    assert S3_SECRET_KEY not in text.stdout + text.stderr


def test_swift_to_swift_keeps_x_timestamp_and_follows_changes(lab, tmp_path, unique):
    source = lab.swift_connection("test2")
    conn = lab.swift_connection("test")
    container = "mig-sw-" + unique
    source.put_container(container, headers={"X-Container-Meta-Theme": "caf\u00e9",
                                              "X-Container-Read": ".r:*"})
    for name in ODD_NAMES:
        source.put_object(container, name, ("swift " + name).encode(),
                          content_type="application/x-odd",
                          headers={"X-Object-Meta-Mood": "\u00e9t\u00e9 \U0001F600",
                                   "X-Object-Meta-Latin": "caf\u00e9",
                                   "Content-Disposition": "attachment"})
    config = migrator_config(lab, tmp_path / "m.json", [swift_migration(lab, container)])
    migrate(config)
    for name in ODD_NAMES:
        src_headers = source.head_object(container, name)
        headers, body = conn.get_object(container, name)
        assert body == ("swift " + name).encode()
        assert headers["x-timestamp"] == src_headers["x-timestamp"]
        assert headers["content-type"] == "application/x-odd"
        assert headers["x-object-meta-mood"] == "\u00e9t\u00e9 \U0001F600"
        assert headers["x-object-meta-latin"] == "caf\u00e9"
        assert headers["content-disposition"] == "attachment"
        assert headers["etag"] == src_headers["etag"]

    local_container = conn.head_container(container)
    assert local_container["x-container-meta-theme"] == "caf\u00e9"
    assert local_container["x-container-read"] == ".r:*"
    source.post_container(container, {"X-Container-Meta-Theme": "", "X-Container-Read": "",
                                      "X-Container-Meta-New": "1"})

    changed, overwritten, posted, removed = ODD_NAMES[0], ODD_NAMES[1], ODD_NAMES[2], ODD_NAMES[3]
    # source metadata newer -> copied
    source.post_object(container, changed, {"X-Object-Meta-Mood": "changed"})
    # local overwrite, then the source deletes it: the local write survives
    conn.put_object(container, overwritten, b"local version")
    source.delete_object(container, overwritten)
    # a local POST after migration, then the source deletes it: kept too
    conn.post_object(container, posted, {"X-Object-Meta-Local": "yes"})
    source.delete_object(container, posted)
    # a plain source delete of an unmodified migrated object: deleted locally
    source.delete_object(container, removed)
    # a new source object
    source.put_object(container, "new one", b"new")
    migrate(config)
    assert conn.head_object(container, changed)["x-object-meta-mood"] == "changed"
    assert conn.get_object(container, overwritten)[1] == b"local version"
    assert conn.head_object(container, posted)["x-object-meta-local"] == "yes"
    assert removed not in local_names(conn, container)
    assert conn.get_object(container, "new one")[1] == b"new"
    local_container = conn.head_container(container)
    assert local_container["x-container-meta-new"] == "1"
    assert "x-container-meta-theme" not in local_container
    assert "x-container-read" not in local_container
    scan = last_scans(config)[0]
    # the metadata change is a POST (no data sent), the new object a copy
    assert (scan["copied"], scan["updated"], scan["deleted"], scan["kept_local"]) == (1, 1, 1, 2)
    assert conn.head_object(container, changed)["x-timestamp"] == source.head_object(
        container, changed)["x-timestamp"]
    # the POSTed object is still "the migrated one": a source delete removes it
    source.delete_object(container, changed)
    migrate(config)
    assert changed not in local_names(conn, container)
    # and a client POST after it makes it local again
    source.put_object(container, "posted twice", b"x")
    migrate(config)
    source.post_object(container, "posted twice", {"X-Object-Meta-A": "1"})
    migrate(config)
    conn.post_object(container, "posted twice", {"X-Object-Meta-Mine": "1"})
    source.delete_object(container, "posted twice")
    migrate(config)
    assert conn.head_object(container, "posted twice")["x-object-meta-mine"] == "1"


def test_prefix_older_than_selection_and_exclude(lab, tmp_path, unique):
    bucket = "mig-sel-" + unique
    s3 = s3_source(lab, bucket, ["keep/a", "keep/b.tmp", "other/c"])
    put_s3(s3, bucket, ["keep/gold"], meta={"class": "gold"})
    selective = migrator_config(lab, tmp_path / "sel.json", [s3_migration(
        lab, bucket, container="sel-" + unique, prefix="keep/", exclude_pattern=r".*\.tmp$")])
    migrate(selective)
    conn = lab.swift_connection("test")
    assert local_names(conn, "sel-" + unique) == ["keep/a", "keep/gold"]
    criteria = migrator_config(lab, tmp_path / "crit.json", [s3_migration(
        lab, bucket, container="crit-" + unique,
        selection_criteria={"x-object-meta-class": "GOLD"})])
    migrate(criteria)
    assert local_names(conn, "crit-" + unique) == ["keep/gold"]
    recent = migrator_config(lab, tmp_path / "old.json", [s3_migration(
        lab, bucket, container="old-" + unique, older_than=3600)])
    migrate(recent)
    assert local_names(conn, "old-" + unique) == []
    assert last_scans(recent)[0]["skipped"] == 4


def test_pagination_with_small_chunks_and_unicode_names(lab, tmp_path, unique):
    bucket = "mig-page-" + unique
    names = ["p %04d \u00e9\U0001F600 %s" % (i, "x" * (i % 5)) for i in range(3000)]
    s3 = s3_source(lab, bucket, names, body=lambda n: b"x")
    config = migrator_config(lab, tmp_path / "m.json", [s3_migration(
        lab, bucket, container="page-" + unique)], migrator_settings={"items_chunk": 7})
    migrate(config)
    conn = lab.swift_connection("test")
    assert local_names(conn, "page-" + unique) == sorted(names)
    # delete every 10th at the source: exactly those go, however the pages fall
    for n in names[::10]:
        s3.delete_object(Bucket=bucket, Key=n)
    migrate(config)
    assert local_names(conn, "page-" + unique) == sorted(set(names) - set(names[::10]))
    assert last_scans(config)[0]["deleted"] == 300


def test_three_nodes_copy_each_object_once(lab, tmp_path, unique):
    bucket = "mig-three-" + unique
    names = ["obj-%03d" % i for i in range(60)]
    s3_source(lab, bucket, names)
    migration = s3_migration(lab, bucket, container="three-" + unique)
    configs = [migrator_config(lab, tmp_path / ("n%d.json" % n), [migration], node=n,
                               verification_slack=60) for n in (1, 2, 3)]
    procs = [subprocess.Popen([sys.executable, "-c", MIGRATOR, "--config", c, "--once"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for c in configs]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    copied = [last_scans(c)[0]["copied"] for c in configs]
    assert sum(copied) == len(names) and all(copied), copied
    conn = lab.swift_connection("test")
    assert local_names(conn, "three-" + unique) == names
    # a second round: nothing left to copy anywhere
    for c in configs:
        migrate(c)
        assert last_scans(c)[0]["copied"] == 0


def test_verification_copies_what_another_node_missed(lab, tmp_path, unique):
    bucket = "mig-verify-" + unique
    names = ["v-%02d" % i for i in range(30)]
    s3_source(lab, bucket, names)
    config = migrator_config(lab, tmp_path / "n1.json", [s3_migration(
        lab, bucket, container="verify-" + unique)], node=1, verification_slack=0)
    migrate(config)
    first = last_scans(config)[0]
    assert 0 < first["copied"] < len(names) and first["left_to_others"] == len(names) - first[
        "copied"]
    time.sleep(1.1)  # the objects must predate the previous scan's start (1 s resolution)
    migrate(config)  # nodes 2 and 3 never ran: node 1 verifies and copies their share
    conn = lab.swift_connection("test")
    assert local_names(conn, "verify-" + unique) == names


def test_kill_9_mid_pass_then_restart(lab, tmp_path, unique):
    bucket = "mig-kill-" + unique
    names = ["k-%03d" % i for i in range(200)]
    s3_source(lab, bucket, names)
    config = migrator_config(lab, tmp_path / "m.json", [s3_migration(
        lab, bucket, container="kill-" + unique)],
        migrator_settings={"items_chunk": 5, "workers": 1})
    status = str(tmp_path / "m.json") + ".status"
    daemon = Daemon(config, tmp_path / "d.log",
                    argv=[sys.executable, "-c", MIGRATOR, "--config", config]).start()

    def midway():
        try:
            doc = json.load(open(status))
        except (OSError, ValueError):
            return False
        return any(c["marker"] for m in doc["migrations"].values()
                   for c in m["containers"].values())
    wait_for(midway, timeout=120, interval=0.05, what="a pass half done")
    daemon.kill9()
    killed_at = time.time()
    conn = lab.swift_connection("test")
    assert 0 < len(local_names(conn, "kill-" + unique)) < len(names)
    migrate(config)
    assert local_names(conn, "kill-" + unique) == names
    scan = last_scans(config)[0]
    # the restarted pass resumed the killed scan (same start, its counters
    # kept) rather than starting over, and nothing was copied twice (a second
    # PUT with the same X-Timestamp would be refused and counted kept_local);
    # copies of the batch in flight at the kill are on disk but not counted
    assert scan["started"] < killed_at
    assert scan["scanned"] == len(names)
    assert len(names) - 5 <= scan["copied"] <= len(names) and scan["kept_local"] == 0


def test_corrupt_status_file_is_moved_aside_and_the_scan_restarts(lab, tmp_path, unique):
    bucket = "mig-corrupt-" + unique
    s3 = s3_source(lab, bucket, ["a", "b", "c"])
    config = migrator_config(lab, tmp_path / "m.json", [s3_migration(
        lab, bucket, container="corrupt-" + unique)])
    migrate(config)
    status = str(tmp_path / "m.json") + ".status"
    with open(status, "w") as f:
        f.write('{"migrations": {"trunc')
    s3.delete_object(Bucket=bucket, Key="b")
    out = migrate(config)
    assert "unreadable" in out
    assert os.path.exists(status + ".corrupt")
    conn = lab.swift_connection("test")
    assert local_names(conn, "corrupt-" + unique) == ["a", "c"]
    scan = last_scans(config)[0]
    assert (scan["scanned"], scan["copied"], scan["deleted"]) == (2, 0, 1)


def test_invalid_storage_policy_names_the_migration(lab, tmp_path, unique):
    bucket = "mig-policy-" + unique
    s3_source(lab, bucket, ["a"])
    bad = migrator_config(lab, tmp_path / "bad.json", [s3_migration(
        lab, bucket, container="policy-" + unique, storage_policy="platinum")])
    out = migrate(bad, expect_rc=1)
    assert "migrations[0]" in out and "storage_policy 'platinum'" in out
    good = migrator_config(lab, tmp_path / "good.json", [s3_migration(
        lab, bucket, container="policy-" + unique, storage_policy="silver")])
    migrate(good)
    conn = lab.swift_connection("test")
    assert conn.head_container("policy-" + unique)["x-storage-policy"] == "silver"


def test_source_container_gone(lab, tmp_path, unique):
    source = lab.swift_connection("test2")
    conn = lab.swift_connection("test")
    only_migrated, mixed = "gone-a-" + unique, "gone-b-" + unique
    for c in (only_migrated, mixed):
        source.put_container(c)
        source.put_object(c, "obj \u00e9", b"x")
    config = migrator_config(lab, tmp_path / "m.json", [
        swift_migration(lab, only_migrated), swift_migration(lab, mixed)])
    migrate(config)
    conn.put_object(mixed, "written locally", b"mine")
    for c in (only_migrated, mixed):
        source.delete_object(c, "obj \u00e9")
        source.delete_container(c)
    migrate(config)
    with pytest.raises(Exception) as e:
        conn.head_container(only_migrated)
    assert getattr(e.value, "http_status", None) == 404
    # the copy goes as its source object did; the user's object keeps the container
    assert local_names(conn, mixed) == ["written locally"]


def _admin_conn(lab, account):
    """A reseller admin's connection to ``account`` (made on first write)."""
    import swiftclient
    admin = lab.swift_connection("admin")
    url, token = admin.get_auth()
    return swiftclient.Connection(preauthurl=url.rsplit("/", 1)[0] + "/" + account,
                                  preauthtoken=token, retries=1)


def test_all_containers_of_a_swift_account(lab, tmp_path, unique):
    """``aws_bucket: "/*"``: every container of the source account (here a
    fresh one read through ``remote_account``) into a fresh local account;
    a source container removed later takes its local copy with it."""
    src_account, dst_account = "AUTH_msrc" + unique, "AUTH_mdst" + unique
    source = _admin_conn(lab, src_account)
    containers = ["c \u00e9 %d" % i for i in range(5)]
    for c in containers:
        source.put_container(c)
        source.put_object(c, "o", c.encode())
    source.post_account({"X-Account-Meta-Owner": "dept \u00e9"})
    # a versioned container: its versions container migrates like the others
    source.put_container("versions")
    source.put_container("ver", headers={"X-Versions-Location": "versions"})
    source.put_object("ver", "doc", b"v1")
    source.put_object("ver", "doc", b"v2")
    all_containers = sorted(containers + ["ver", "versions"])
    identity, secret = lab.credentials("admin")
    config = migrator_config(lab, tmp_path / "m.json", [{
        "account": dst_account, "aws_bucket": "/*", "protocol": "swift",
        "aws_endpoint": lab.auth_url, "aws_identity": identity, "aws_secret": secret,
        "remote_account": src_account, "propagate_account_metadata": True}],
        migrator_settings={"items_chunk": 2})
    migrate(config)
    local = _admin_conn(lab, dst_account)
    headers, listing = local.get_account()
    assert sorted(c["name"] for c in listing) == all_containers
    assert headers["x-account-meta-owner"] == "dept \u00e9"
    for c in containers:
        assert local.get_object(c, "o")[1] == c.encode()
    assert local.get_object("ver", "doc")[1] == b"v2"
    assert local.head_container("ver")["x-versions-location"] == "versions"
    versions = local_names(local, "versions")
    assert len(versions) == 1 and local.get_object("versions", versions[0])[1] == b"v1"
    # versioning works locally for writes made after the migration
    local.put_object("ver", "doc", b"local v3")
    assert len(local_names(local, "versions")) == 2
    source.delete_object(containers[0], "o")
    source.delete_container(containers[0])
    migrate(config)
    assert sorted(c["name"] for c in local.get_account()[1]) == all_containers[1:]


def test_objects_above_max_file_size_become_slos(lab, tmp_path, unique):
    """The local limit is lowered to 1 MiB in a copy of the lab's swift_dir
    (the migrator reads max_file_size from its own swift_dir), so a 2.5 MiB
    object and a 6 MiB multipart upload are stored as SLOs; deleting them at
    the source removes manifest and segments, and a failed copy leaves no
    segment behind."""
    etc = swift_dir_with_1_mib_limit(lab, tmp_path)
    s3 = lab.s3_client()
    bucket, container = "mig-big-" + unique, "big-" + unique
    s3.create_bucket(Bucket=bucket)
    big = os.urandom(2 * 1048576 + 524288)
    s3.put_object(Bucket=bucket, Key="big \u00e9", Body=big, ContentType="x/big",
                  Metadata={"k": "v"})
    parts = [os.urandom(5 * 1048576), os.urandom(1048576)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")
    etags = [s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload["UploadId"],
                            PartNumber=i + 1, Body=p)["ETag"] for i, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e}
                                                            for i, e in enumerate(etags)]})
    s3.put_object(Bucket=bucket, Key="small", Body=b"small")
    times = s3_times(s3, bucket)
    config = migrator_config(lab, tmp_path / "m.json", [s3_migration(
        lab, bucket, container=container)], swift_dir=etc)
    conf = json.load(open(config))
    conf.pop("internal_client_conf_path")
    write_config(config, conf)
    migrate(config)
    conn = lab.swift_connection("test")
    headers, body = conn.get_object(container, "big \u00e9")
    assert body == big and headers["x-static-large-object"] == "True"
    assert headers["content-type"] == "x/big" and headers["x-object-meta-k"] == "v"
    assert Timestamp(headers["x-timestamp"]) == Timestamp(times["big \u00e9"])
    headers, body = conn.get_object(container, "multi")
    assert body == b"".join(parts) and headers["x-static-large-object"] == "True"
    assert conn.get_object(container, "small")[1] == b"small"
    segs = local_names(conn, container + "_segments")
    assert len(segs) == 3 + 6 and all(s.startswith(("big \u00e9/", "multi/")) for s in segs)
    migrate(config)
    assert last_scans(config)[0]["copied"] == 0
    # source deletes: manifest and segments go
    s3.delete_object(Bucket=bucket, Key="big \u00e9")
    s3.delete_object(Bucket=bucket, Key="multi")
    migrate(config)
    assert local_names(conn, container) == ["small"]
    assert local_names(conn, container + "_segments") == []


def test_swift_slo_and_dlo_sources_arrive_as_manifests(lab, tmp_path, unique):
    """SLO and DLO manifests at a Swift source arrive as manifests of the same
    kind over copies of their segments: segments beside the manifest land in
    the renamed destination container, segments of another container in a
    container of that name; a nested SLO, a ranged entry, inline data and a DLO whose
    prefix matches its own name (it lists itself: no loop) too.  A second
    pass copies nothing; deleting a manifest at the source removes the local
    manifest only (the segments are objects of their own, as in Swift)."""
    source = lab.swift_connection("test2")
    container, segs_container = "mig-lo-" + unique, "mig-lo-segs-" + unique
    dest = "lo-dest-" + unique
    source.put_container(container)
    source.put_container(segs_container, headers={"X-Container-Meta-Kind": "segments"})
    seg = [os.urandom(1000 + i) for i in range(3)]
    for i, data in enumerate(seg):
        source.put_object(container, "seg/%d" % i, data)
    away = os.urandom(3000)
    source.put_object(segs_container, "away \u00e9 1", away)
    md5 = [hashlib.md5(x).hexdigest() for x in seg]
    manifest = [{"path": "/%s/seg/%d" % (container, i), "etag": md5[i],
                 "size_bytes": len(x)} for i, x in enumerate(seg)]
    manifest.append({"path": "/%s/away \u00e9 1" % segs_container,
                     "etag": hashlib.md5(away).hexdigest(), "size_bytes": len(away),
                     "range": "100-199"})
    manifest.append({"data": base64.b64encode(b"inline bytes").decode()})
    source.put_object(container, "slo", json.dumps(manifest).encode(),
                      query_string="multipart-manifest=put", content_type="x/slo",
                      headers={"X-Object-Meta-Kind": "slo"})
    slo_body = b"".join(seg) + away[100:200] + b"inline bytes"
    source.put_object(container, "nested", json.dumps([
        {"path": "/%s/slo" % container}, {"path": "/%s/seg/0" % container}]).encode(),
        query_string="multipart-manifest=put")
    source.put_object(container, "dlo", b"", content_type="x/dlo", headers={
        "X-Object-Manifest": "%s/seg/" % container})
    source.put_object(segs_container, "dpart/1", b"far one")
    source.put_object(segs_container, "dpart/2", b"far two")
    source.put_object(container, "far-dlo", b"", headers={
        "X-Object-Manifest": "%s/dpart/" % segs_container})
    source.put_object(container, "self/1", b"one")
    source.put_object(container, "self/2", b"two")
    source.put_object(container, "self", b"", headers={
        "X-Object-Manifest": "%s/self" % container})
    migration = swift_migration(lab, container)
    migration["container"] = dest
    config = migrator_config(lab, tmp_path / "m.json", [migration])
    migrate(config)
    conn = lab.swift_connection("test")
    names = ["slo", "nested", "dlo", "far-dlo", "self", "self/1", "self/2",
             "seg/0", "seg/1", "seg/2"]
    assert local_names(conn, dest) == sorted(names)
    headers, body = conn.get_object(dest, "slo")
    assert body == slo_body and headers["x-object-meta-kind"] == "slo"
    assert headers["content-type"] == "x/slo" and headers["x-static-large-object"] == "True"
    assert headers["etag"] == source.head_object(container, "slo")["etag"]
    stored = json.loads(conn.get_object(dest, "slo", query_string="multipart-manifest=get")[1])
    assert [e.get("name") for e in stored] == ["/%s/seg/%d" % (dest, i) for i in range(3)] + [
        "/%s/away \u00e9 1" % segs_container, None]
    assert stored[-2]["range"] == "100-199"
    assert base64.b64decode(stored[-1]["data"]) == b"inline bytes"
    assert conn.get_object(segs_container, "away \u00e9 1")[1] == away
    assert conn.get_object(dest, "nested")[1] == slo_body + seg[0]
    headers, body = conn.get_object(dest, "dlo")
    assert body == b"".join(seg) and headers["x-object-manifest"] == "%s/seg/" % dest
    assert headers["content-type"] == "x/dlo"
    assert conn.get_object(dest, "far-dlo")[1] == b"far onefar two"
    assert local_names(conn, segs_container) == ["away \u00e9 1", "dpart/1", "dpart/2"]
    assert conn.get_object(dest, "self")[1] == source.get_object(container, "self")[1]
    # each segment keeps its own time stamp, so its own listing entry is in sync
    for name in ("seg/0", "self/1"):
        assert (conn.head_object(dest, name)["x-timestamp"]
                == source.head_object(container, name)["x-timestamp"])
    migrate(config)
    assert last_scans(config)[0]["copied"] == 0
    source.delete_object(container, "slo")
    source.delete_object(container, "far-dlo")
    migrate(config)
    assert local_names(conn, dest) == sorted(set(names) - {"slo", "far-dlo"})
    assert local_names(conn, segs_container) == ["away \u00e9 1", "dpart/1", "dpart/2"]


def test_failed_swift_large_object_copy_leaves_no_segments(lab, tmp_path, unique):
    """An SLO whose last segment is gone at the source cannot be rebuilt: the
    copy fails naming the object, and what it had copied into another
    container (a segment, and a nested SLO with its own segment) is removed
    again; once the segment is back the next pass copies it."""
    source = lab.swift_connection("test2")
    container, segs_container = "mig-lof-" + unique, "mig-lof-segs-" + unique
    source.put_container(container)
    source.put_container(segs_container)
    parts = [os.urandom(2000), os.urandom(2001), os.urandom(2002)]
    for i, data in enumerate(parts):
        source.put_object(segs_container, "p%d" % i, data)
    source.put_object(segs_container, "inner", json.dumps([
        {"path": "/%s/p0" % segs_container}]).encode(),
        query_string="multipart-manifest=put")
    source.put_object(container, "broken", json.dumps(
        [{"path": "/%s/inner" % segs_container}] + [
            {"path": "/%s/p%d" % (segs_container, i), "etag": hashlib.md5(parts[i]).hexdigest(),
             "size_bytes": len(parts[i])} for i in (1, 2)]).encode(),
        query_string="multipart-manifest=put")
    source.delete_object(segs_container, "p2")
    config = migrator_config(lab, tmp_path / "m.json", [swift_migration(lab, container)])
    out = migrate(config, expect_rc=1)
    assert "broken" in out and "large object copy failed" in out
    conn = lab.swift_connection("test")
    assert local_names(conn, container) == []
    assert local_names(conn, segs_container) == []
    source.put_object(segs_container, "p2", parts[2])
    migrate(config)
    assert conn.get_object(container, "broken")[1] == b"".join(parts)
    assert local_names(conn, segs_container) == ["inner", "p0", "p1", "p2"]


def test_processes_split_the_containers(lab, tmp_path, unique):
    """``processes``/``process`` for operators running the migrator away from
    the container nodes: every container is migrated by exactly one process."""
    s3 = lab.s3_client()
    buckets = ["mig-proc%d-%s" % (i, unique) for i in range(6)]
    # names that give each process at least one (else the test would prove nothing)
    while len({naming.owner_index("AUTH_test/" + b, 2) for b in buckets}) < 2:
        buckets.append("mig-proc%d-%s" % (len(buckets), unique))
    for b in buckets:
        s3.create_bucket(Bucket=b)
        put_s3(s3, b, ["o"])
    migrations = [s3_migration(lab, b) for b in buckets]
    configs = [migrator_config(lab, tmp_path / ("p%d.json" % i), migrations,
                               migrator_settings={"processes": 2, "process": i})
               for i in (0, 1)]
    for c in configs:
        migrate(c)
    handled = []
    for c in configs:
        doc = json.load(open(json.load(open(c))["migrator_settings"]["status_file"]))
        handled.append({cont["container"] for m in doc["migrations"].values()
                        for cont in m["containers"].values()})
    assert handled[0] and handled[1] and not handled[0] & handled[1]
    assert handled[0] | handled[1] == set(buckets)
    conn = lab.swift_connection("test")
    for b in buckets:
        assert local_names(conn, b) == ["o"]


def merged_migrations(lab, tmp_path, unique, tag):
    """Buckets with a1, a2 and b1, b2 migrated into one container, once:
    (s3, first bucket, second bucket, container, config, swift connection)."""
    s3 = lab.s3_client()
    first, second = "mig-%s1-%s" % (tag, unique), "mig-%s2-%s" % (tag, unique)
    container = "merged%s-%s" % (tag, unique)
    for bucket, names in ((first, ["a1", "a2"]), (second, ["b1", "b2"])):
        s3.create_bucket(Bucket=bucket)
        put_s3(s3, bucket, names)
    config = migrator_config(lab, tmp_path / "m.json", [
        s3_migration(lab, first, container=container),
        s3_migration(lab, second, container=container)])
    migrate(config)
    conn = lab.swift_connection("test")
    assert local_names(conn, container) == ["a1", "a2", "b1", "b2"]
    return s3, first, second, container, config, conn


def test_two_migrations_into_one_container_delete_only_their_own(lab, tmp_path, unique):
    """Two buckets merged into one container: each migration's source lacks
    the other's objects, and neither may delete them."""
    s3, first, second, container, config, conn = merged_migrations(lab, tmp_path, unique, "m")
    s3.delete_object(Bucket=first, Key="a1")
    migrate(config)
    migrate(config)
    assert local_names(conn, container) == ["a2", "b1", "b2"]


def test_all_buckets_of_an_s3_account(lab, tmp_path, unique):
    """``aws_bucket: "/*"`` from S3 (Swift's s3api, as lab user test4, whose
    buckets no other test touches): every bucket becomes a local container
    of the same name; a bucket removed at the source takes its copy along."""
    identity, secret = lab.credentials("test4")
    s3 = lab.s3_client("s3api", user="test4")
    buckets = ["all-%s-%d" % (unique, i) for i in range(3)]
    for b in buckets:
        s3.create_bucket(Bucket=b)
        put_s3(s3, b, ["o \u00e9", "p"])
    dst_account = "AUTH_s3all" + unique
    config = migrator_config(lab, tmp_path / "m.json", [{
        "account": dst_account, "aws_bucket": "/*", "protocol": "s3",
        "aws_endpoint": lab.proxy_url, "aws_identity": identity, "aws_secret": secret}])
    migrate(config)
    local = _admin_conn(lab, dst_account)
    assert [c["name"] for c in local.get_account(prefix="all-" + unique)[1]] == buckets
    for b in buckets:
        assert local_names(local, b) == ["o \u00e9", "p"]
        assert local.get_object(b, "p")[1] == b"data of p"
    for key in ("o \u00e9", "p"):
        s3.delete_object(Bucket=buckets[0], Key=key)
    s3.delete_bucket(Bucket=buckets[0])
    migrate(config)
    assert [c["name"] for c in local.get_account(prefix="all-" + unique)[1]] == buckets[1:]


def test_migrator_reload_keeps_running_config(lab, tmp_path, unique):
    """SIGHUP with a valid config the migrator cannot use (its status_file
    is a directory) is logged in one line and the running config stays;
    the directory is never moved aside."""
    bucket, container = "mig-hup-" + unique, "hup-" + unique
    s3 = s3_source(lab, bucket, ["a"])
    config = migrator_config(lab, tmp_path / "m.json", [s3_migration(
        lab, bucket, container=container)])
    daemon = Daemon(config, tmp_path / "d.log",
                    argv=[sys.executable, "-c", MIGRATOR, "--config", config]).start()
    conn = lab.swift_connection("test")
    try:
        wait_for(lambda: "started with" in daemon.output(), timeout=60, what="start")
        assert "(1 migrations)" in daemon.output()
        with open(config) as f:
            good = json.load(f)
        busy = tmp_path / "a-directory"
        busy.mkdir()
        write_config(config, dict(good, migrator_settings=dict(
            good["migrator_settings"], status_file=str(busy))))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "keeping the running config" in daemon.output(), timeout=60,
                 what="reload refusal")
        assert "status_file %s cannot be read" % busy in daemon.output()
        assert busy.is_dir() and not os.path.exists(str(busy) + ".corrupt")
        put_s3(s3, bucket, ["b"])
        wait_for(lambda: local_names(conn, container) == ["a", "b"], timeout=60,
                 what="migration after the refused reload")
        write_config(config, good)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "config reloaded" in daemon.output(), timeout=60, what="good reload")
        assert daemon.alive() and "Traceback" not in daemon.output()
    finally:
        assert daemon.stop() == 0


def test_racing_copies_of_a_large_object_leave_it_whole(lab, tmp_path, unique):
    """Two migrators copying the same large object at once (the owner and a
    verifier, or two processes) write the same segment names; the one whose
    manifest PUT loses must not remove the segments the winner's manifest
    reads."""
    etc = swift_dir_with_1_mib_limit(lab, tmp_path)
    s3 = lab.s3_client()
    bucket, container = "mig-race-" + unique, "race-" + unique
    s3.create_bucket(Bucket=bucket)
    big = os.urandom(3 * 1048576 + 1000)
    s3.put_object(Bucket=bucket, Key="big", Body=big)
    configs = []
    for n in (1, 2):
        config = migrator_config(lab, tmp_path / ("m%d.json" % n), [s3_migration(
            lab, bucket, container=container)], swift_dir=etc)
        conf = json.load(open(config))
        conf.pop("internal_client_conf_path")
        configs.append(write_config(config, conf))
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run_migrator, configs))
    assert [rc for rc, _ in results] == [0, 0], results
    conn = lab.swift_connection("test")
    assert conn.get_object(container, "big")[1] == big
    assert len(local_names(conn, container + "_segments")) == 4


def status_text(config):
    p = subprocess.run([sys.executable, "-c", "import sys; from onespace.cli import "
                        "status_main; sys.exit(status_main())", "--config", config],
                       capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def failure_records(config):
    with open(json.load(open(config))["migrator_settings"]["status_file"]) as f:
        doc = json.load(f)
    return {name: r for m in doc["migrations"].values() for c in m["containers"].values()
            for name, r in c.get("failed", {}).items()}


def test_a_failed_object_is_recorded_and_retried_while_the_rest_goes_on(lab, tmp_path, unique):
    """One object that cannot be copied (an SLO whose segment is missing at
    the source) fails alone: the objects after it are copied in the same
    pass, the failure is in the status file and onespace-status with its
    name and reason, and a later pass copies it once it can be read."""
    source = lab.swift_connection("test2")
    container, segs = "mig-fail-" + unique, "mig-fail-segs-" + unique
    source.put_container(container)
    source.put_container(segs)
    source.put_object(segs, "p0", b"part zero")
    source.put_object(container, "b-broken", json.dumps([
        {"path": "/%s/p0" % segs}]).encode(), query_string="multipart-manifest=put")
    source.delete_object(segs, "p0")
    names = ["a-%d" % i for i in range(3)] + ["c-%d" % i for i in range(5)]
    for n in names:
        source.put_object(container, n, n.encode())
    config = migrator_config(lab, tmp_path / "m.json", [swift_migration(lab, container)],
                             migrator_settings={"items_chunk": 2})
    out = migrate(config, expect_rc=1)
    assert "b-broken" in out
    conn = lab.swift_connection("test")
    assert local_names(conn, container) == names
    records = failure_records(config)
    assert list(records) == ["b-broken"] and "large object copy failed" in records[
        "b-broken"]["reason"]
    assert "refused" not in records["b-broken"]  # a passing failure: tried again
    text = status_text(config)
    assert "failures" in text and 'failed: "b-broken": large object copy failed' in text, text
    migrate(config, expect_rc=1)  # still missing: tried again, still recorded
    assert list(failure_records(config)) == ["b-broken"]
    source.put_object(segs, "p0", b"part zero")
    migrate(config)
    assert conn.get_object(container, "b-broken")[1] == b"part zero"
    assert failure_records(config) == {}
    assert "failed:" not in status_text(config)


def test_metadata_the_local_cluster_refuses_fails_once_until_the_source_changes(
        lab, tmp_path, unique):
    """A source object whose metadata local Swift refuses (a value over 256
    bytes) fails naming the object and the limit, is recorded, and is not
    read nor logged again on later passes; once the source object changes,
    it is copied."""
    bucket = "mig-refused-" + unique
    s3 = s3_source(lab, bucket, ["fine"])
    put_s3(s3, bucket, ["too long"], meta={"note": "n" * 300})
    config = migrator_config(lab, tmp_path / "m.json", [s3_migration(
        lab, bucket, container="refused-" + unique)])
    out = migrate(config, expect_rc=1)
    assert "too long" in out and "Metadata value longer than 256" in out, out
    records = failure_records(config)
    assert list(records) == ["too long"] and "refused" in records["too long"]
    conn = lab.swift_connection("test")
    assert local_names(conn, "refused-" + unique) == ["fine"]
    out = migrate(config, expect_rc=1)  # still shown as failed, not tried again
    assert "too long" not in out and "longer than 256" not in out, out
    assert last_scans(config)[0]["failed"] == 1
    assert 'failed: "too long": refused by the local cluster' in status_text(config)
    put_s3(s3, bucket, ["too long"], meta={"note": "short"})
    migrate(config)
    assert conn.head_object("refused-" + unique, "too long")["x-object-meta-note"] == "short"
    assert failure_records(config) == {}


def test_swift_symlinks_arrive_as_symlinks(lab, tmp_path, unique):
    """A Swift source's symlinks become local symlinks to the same target: a
    target in the migrated container points into the (renamed) local one,
    a target elsewhere keeps its container; a static link keeps its target
    ETag.  A second pass copies nothing."""
    source = lab.swift_connection("test2")
    container, dest, other = "mig-sym-" + unique, "sym-" + unique, "mig-symo-" + unique
    source.put_container(container)
    source.put_container(other)
    source.put_object(container, "target \u00e9", b"the target")
    source.put_object(other, "far", b"far away")
    source.put_object(container, "link", b"",
                      headers={"X-Symlink-Target": "%s/target \u00e9" % container})
    source.put_object(container, "far-link", b"", headers={"X-Symlink-Target": other + "/far"})
    source.put_object(container, "static", b"", headers={
        "X-Symlink-Target": "%s/target \u00e9" % container,
        "X-Symlink-Target-Etag": hashlib.md5(b"the target").hexdigest()})
    migration = swift_migration(lab, container)
    migration["container"] = dest
    config = migrator_config(lab, tmp_path / "m.json", [migration])
    migrate(config)
    conn = lab.swift_connection("test")
    for link, target in (("link", dest + "/target \u00e9"), ("far-link", other + "/far"),
                         ("static", dest + "/target \u00e9")):
        headers, body = conn.get_object(dest, link, query_string="symlink=get")
        assert body == b"" and unquote(headers["x-symlink-target"]) == target, headers
        assert headers["x-timestamp"] == source.head_object(
            container, link, query_string="symlink=get")["x-timestamp"]
    assert conn.get_object(dest, "link")[1] == b"the target"
    assert conn.get_object(dest, "static")[1] == b"the target"
    assert conn.head_object(dest, "static", query_string="symlink=get")[
        "x-symlink-target-etag"] == hashlib.md5(b"the target").hexdigest()
    migrate(config)
    assert last_scans(config)[0]["copied"] == 0


def test_new_credentials_for_the_same_source_still_propagate_deletes(lab, tmp_path, unique):
    """The copies' mark names the source (account and container), not the
    endpoint or the credentials: after switching to another user of the
    same source account, a source delete still removes the migrated copy,
    and the object a user wrote stays."""
    source = lab.swift_connection("test2")
    container = "mig-ident-" + unique
    source.put_container(container)
    for n in ("a", "b"):
        source.put_object(container, n, n.encode())
    config = migrator_config(lab, tmp_path / "m.json", [swift_migration(lab, container)])
    migrate(config)
    conn = lab.swift_connection("test")
    conn.put_object(container, "mine", b"user data")
    identity, secret = lab.credentials("admin")  # a reseller admin reading AUTH_test2
    account = source.get_auth()[0].rstrip("/").rsplit("/", 1)[-1]
    config = migrator_config(lab, tmp_path / "m.json", [swift_migration(
        lab, container, aws_identity=identity, aws_secret=secret, remote_account=account)])
    source.delete_object(container, "a")
    migrate(config)
    assert local_names(conn, container) == ["b", "mine"]


def test_gone_source_container_takes_its_copies_and_leaves_a_users_object(
        lab, tmp_path, unique):
    """``/*``: a source container removed while its local container holds a
    user's object: the migrated copies go as if deleted one by one at the
    source; the user's object (and so the container) stays."""
    src_account, dst_account = "AUTH_mgsrc" + unique, "AUTH_mgdst" + unique
    source = _admin_conn(lab, src_account)
    for c in ("keep", "gone"):
        source.put_container(c)
        for n in ("o1", "o2"):
            source.put_object(c, n, n.encode())
    identity, secret = lab.credentials("admin")
    config = migrator_config(lab, tmp_path / "m.json", [{
        "account": dst_account, "aws_bucket": "/*", "protocol": "swift",
        "aws_endpoint": lab.auth_url, "aws_identity": identity, "aws_secret": secret,
        "remote_account": src_account}])
    migrate(config)
    local = _admin_conn(lab, dst_account)
    local.put_object("gone", "mine", b"user data")
    for n in ("o1", "o2"):
        source.delete_object("gone", n)
    source.delete_container("gone")
    migrate(config)
    assert local_names(local, "gone") == ["mine"]
    assert local.get_object("gone", "mine")[1] == b"user data"
    assert local_names(local, "keep") == ["o1", "o2"]
    migrate(config)  # nothing more to do, the user's object still there
    assert local_names(local, "gone") == ["mine"]


def test_two_migrations_into_one_container_when_one_source_is_gone(lab, tmp_path, unique):
    """Two buckets merged into one container; the first bucket is removed:
    its copies go, the second one's stay (and so does the container).  Two
    buckets of the same name at two endpoints cannot be told apart by their
    copies' mark: neither migration deletes anything then."""
    s3, first, second, container, config, conn = merged_migrations(lab, tmp_path, unique, "g")
    for key in ("a1", "a2"):
        s3.delete_object(Bucket=first, Key=key)
    s3.delete_bucket(Bucket=first)
    migrate(config)
    assert local_names(conn, container) == ["b1", "b2"]

    same, shared = "mig-same-" + unique, "shared-" + unique
    s3api = lab.s3_client("s3api")
    s3_source(lab, same, ["s1", "s2"])
    s3api.create_bucket(Bucket=same)
    put_s3(s3api, same, ["t1", "t2"])
    config = migrator_config(lab, tmp_path / "s.json", [
        s3_migration(lab, same, container=shared),
        s3_migration(lab, same, target="s3api", container=shared)])
    out = migrate(config)
    assert "cannot be told apart" in out
    assert local_names(conn, shared) == ["s1", "s2", "t1", "t2"]
    s3.delete_object(Bucket=same, Key="s1")
    migrate(config)
    assert local_names(conn, shared) == ["s1", "s2", "t1", "t2"]


def test_same_bucket_name_of_two_s3api_users_in_one_container_deletes_nothing(
        lab, tmp_path, unique):
    """On s3api a bucket name belongs to an account: two users' buckets of
    the same name, merged into one container, carry equal marks (an S3 mark
    has no account).  Neither migration may then delete anything there (each
    one's source lacks the other's objects).  The same for a ``/*``
    migration whose bucket lands in a container another migration fills
    from a bucket of that name elsewhere (resolved per bucket)."""
    bucket, container = "same-" + unique, "both-" + unique
    migrations = []
    for user, names in (("test3", ["a1", "a2"]), ("test4", ["b1", "b2"])):
        s3 = lab.s3_client("s3api", user=user)
        s3.create_bucket(Bucket=bucket)
        put_s3(s3, bucket, names)
        identity, secret = lab.credentials(user)
        migrations.append(s3_migration(lab, bucket, "s3api", container=container,
                                       aws_identity=identity, aws_secret=secret))
    config = migrator_config(lab, tmp_path / "m.json", migrations)
    out = migrate(config)
    assert out.count("cannot be told apart") == 1, out  # warned once, naming both
    migrate(config)
    conn = lab.swift_connection("test")
    assert local_names(conn, container) == ["a1", "a2", "b1", "b2"]
    s3.delete_object(Bucket=bucket, Key="b1")
    migrate(config)
    assert local_names(conn, container) == ["a1", "a2", "b1", "b2"]

    dup, account = "dup-" + unique, "AUTH_dup" + unique
    lab.s3_client("s3api", user="test4").create_bucket(Bucket=dup)
    put_s3(lab.s3_client("s3api", user="test4"), dup, ["from-s3api"])
    s3_source(lab, dup, ["from-seaweedfs"])
    identity, secret = lab.credentials("test4")
    config = migrator_config(lab, tmp_path / "all.json", [
        {"account": account, "aws_bucket": "/*", "protocol": "s3",
         "aws_endpoint": lab.proxy_url, "aws_identity": identity, "aws_secret": secret},
        s3_migration(lab, dup, account=account, container=dup)])
    out = migrate(config)
    assert "cannot be told apart" in out, out
    migrate(config)
    local = _admin_conn(lab, account)
    assert local_names(local, dup) == ["from-s3api", "from-seaweedfs"]
    assert local_names(local, bucket) == ["b2"]
    s3.delete_object(Bucket=bucket, Key="b2")  # a container no one else fills: deletes follow
    migrate(config)
    assert local_names(local, bucket) == []


POST_AFTER_DECISION = r"""
import sys
import eventlet
eventlet.monkey_patch()
import swiftclient
from onespace.cli import migrator_main
from onespace.migrator.daemon import MigratorDaemon

url, token, config = sys.argv[1:4]
head_local, posted = MigratorDaemon._head_local, set()


def head_then_user_post(self, job, name, container=None):
    # a user's POST lands right after the migrator read the object
    state = head_local(self, job, name, container)
    if name == "keepme" and state is not None and job.container not in posted:
        posted.add(job.container)
        swiftclient.post_object(url, token, job.container, name,
                                {"X-Object-Meta-Important": "user says keep"})
    return state


MigratorDaemon._head_local = head_then_user_post
sys.exit(migrator_main(["--config", config, "--once"]))
"""


def test_a_users_post_after_the_delete_decision_keeps_the_object(lab, tmp_path, unique):
    """A migrated copy whose source object (or whole source container) is
    gone is deleted only if it is still the version decided on: the object
    servers compare a DELETE with the data's time only, so a user's POST
    between the decision and the DELETE would be lost with the object."""
    bucket, container = "mig-postdel-" + unique, "mig-postgone-" + unique
    s3 = s3_source(lab, bucket, ["keepme", "other"])
    source = lab.swift_connection("test2")
    source.put_container(container)
    source.put_object(container, "keepme", b"precious")
    config = migrator_config(lab, tmp_path / "m.json", [
        s3_migration(lab, bucket), swift_migration(lab, container)])
    migrate(config)
    s3.delete_object(Bucket=bucket, Key="keepme")
    source.delete_object(container, "keepme")
    source.delete_container(container)
    conn = lab.swift_connection("test")
    url, token = conn.get_auth()
    p = subprocess.run([sys.executable, "-c", POST_AFTER_DECISION, url, token, str(config)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    for c in (bucket, container):
        assert conn.head_object(c, "keepme")["x-object-meta-important"] == "user says keep"
    assert local_names(conn, bucket) == ["keepme", "other"]


COUNTING_GETS = r"""
import sys
import eventlet
eventlet.monkey_patch()
from onespace.cli import migrator_main
from onespace.providers.s3 import S3Provider

get = S3Provider.get


def counted(self, key, *args, **kwargs):
    print("SOURCE GET", key, flush=True)
    return get(self, key, *args, **kwargs)


S3Provider.get = counted
sys.exit(migrator_main(["--config", sys.argv[1], "--once"]))
"""


def test_an_object_deleted_locally_is_not_downloaded_again(lab, tmp_path, unique):
    """A migrated object the user deleted here: its tombstone is newer than
    the source version, so nothing is read from the source (a copy would
    lose to the tombstone, pass after pass); a newer source version is."""
    bucket = "mig-localdel-" + unique
    s3 = s3_source(lab, bucket, ["o1", "o2"])
    config = migrator_config(lab, tmp_path / "m.json", [s3_migration(lab, bucket)])
    migrate(config)
    conn = lab.swift_connection("test")
    conn.delete_object(bucket, "o1")

    def source_gets():
        p = subprocess.run([sys.executable, "-c", COUNTING_GETS, str(config)],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        return [line.split(" ", 2)[2] for line in p.stdout.splitlines()
                if line.startswith("SOURCE GET ")]
    assert source_gets() == []
    assert source_gets() == []
    assert local_names(conn, bucket) == ["o2"]
    time.sleep(1.1)  # S3 times have whole seconds: the new version is after the delete
    put_s3(s3, bucket, ["o1"], body=lambda n: b"new version")
    assert source_gets() == ["o1"]
    assert conn.get_object(bucket, "o1")[1] == b"new version"


def test_status_shows_migrations_that_fail_as_a_whole(lab, tmp_path, unique):
    """A source bucket that does not exist, a source that does not answer
    (for one bucket, and for ``/*``): onespace-status shows each as
    ``error`` with the reason (no secret), not "not scanned yet"; the error
    goes once a pass reaches the source again."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = "http://127.0.0.1:%d" % s.getsockname()[1]  # nothing listens there
    missing = "mig-missing-" + unique
    config = migrator_config(lab, tmp_path / "m.json", [
        s3_migration(lab, missing),
        s3_migration(lab, "mig-dead-" + unique, aws_endpoint=dead),
        dict(s3_migration(lab, "/*", aws_endpoint=dead), account="AUTH_dead" + unique)],
        migrator_settings={"poll_interval": 1})
    migrate(config, expect_rc=1)
    text = status_text(config)
    assert S3_SECRET_KEY not in text
    rows = {line.split()[1]: line for line in text.splitlines()[1:] if line.strip()}
    assert rows["AUTH_test/" + missing].startswith("error") and \
        "does not exist" in rows["AUTH_test/" + missing], text
    assert rows["AUTH_test/mig-dead-" + unique].startswith("error"), text
    assert rows["AUTH_dead%s/*" % unique].startswith("error"), text
    assert "not scanned yet" not in text, text
    s3_source(lab, missing, ["o"])
    migrate(config, expect_rc=1)
    rows = {line.split()[1]: line for line in status_text(config).splitlines()[1:]}
    assert rows["AUTH_test/" + missing].startswith("idle"), rows
    assert rows["AUTH_test/mig-dead-" + unique].startswith("error"), rows
