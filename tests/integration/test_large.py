"""Large objects (SLO, DLO) and multipart uploads against the real lab.

Local SLOs are made through the lab's proxy (``multipart-manifest=put``),
DLOs with ``X-Object-Manifest``; segments live in a container of their own
that no mapping covers, as clients usually do it.
"""

import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time

import pytest
import swiftclient

from onespace import naming
from tests.integration.conftest import run_once, wait_for, write_config
from tests.integration.remote import TARGETS, RemoteView
from tests.integration.test_sync import (CONTENT, mapping_for, node_configs,
                                         remote_content_headers, sync_all_nodes)

MiB = 1024 * 1024
S3_TARGETS = ("seaweedfs", "s3api")


def md5(data):
    return hashlib.md5(data).hexdigest()


def blob(size, seed):
    return random.Random(seed).randbytes(size)


class Local:
    """The local side: a mapped container and an unmapped segments container."""

    def __init__(self, lab, unique):
        self.conn = lab.swift_connection("test")
        self.container, self.segments = "lo-" + unique, "lo-" + unique + "_segments"
        self.conn.put_container(self.container)
        self.conn.put_container(self.segments)

    def put_segments(self, prefix, sizes, seed=0):
        """Segments ``<prefix>NN``: [(name, data)]."""
        out = []
        for i, size in enumerate(sizes):
            name, data = "%s%02d" % (prefix, i), blob(size, "%s-%s-%d" % (prefix, seed, i))
            self.conn.put_object(self.segments, name, data)
            out.append((name, data))
        return out

    def put_slo(self, name, sizes, prefix=None, **kw):
        """An SLO over new segments; its whole content."""
        segs = self.put_segments(prefix or name + "/", sizes)
        manifest = [{"path": "/%s/%s" % (self.segments, n), "etag": md5(d), "size_bytes": len(d)}
                    for n, d in segs]
        self.conn.put_object(self.container, name, json.dumps(manifest),
                             query_string="multipart-manifest=put", **kw)
        return b"".join(d for _, d in segs)

    def put_dlo(self, name, prefix, container=None, **kw):
        headers = dict(kw.pop("headers", {}))
        headers["X-Object-Manifest"] = "%s/%s" % (container or self.segments, prefix)
        self.conn.put_object(self.container, name, b"", headers=headers, **kw)

    def get(self, name, container=None):
        try:
            return self.conn.get_object(container or self.container, name)
        except swiftclient.ClientException as e:
            if e.http_status == 404:
                return None
            raise

    def manifest_etag(self, name):
        """The stored manifest's ETag: what ``swift-slo-etag`` holds."""
        return self.conn.head_object(self.container, name)["x-manifest-etag"]


class Remote(RemoteView):
    """RemoteView plus what large objects need."""

    def head(self, name):
        if self.target == "swift":
            return self.conn.head_object(self.bucket, name)
        resp = self.s3.head_object(Bucket=self.bucket, Key=self.key(name))
        return dict(resp["Metadata"], etag=resp["ETag"].strip('"'),
                    **{"content-type": resp["ContentType"]})

    def body(self, name):
        got = self.get(name)
        return got and got[0]

    def uploads(self):
        """Multipart uploads still in progress (S3)."""
        return self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])

    def manifest_key(self, name):
        return naming.s3_manifest_key(self.account, self.container, name, self.custom_prefix)

    def segments(self):
        """{name: (etag, last_modified)} of the Swift remote's segments container."""
        try:
            _, rows = self.conn.get_container(self.bucket + "_segments", full_listing=True)
        except swiftclient.ClientException as e:
            if e.http_status == 404:
                return {}
            raise
        return {r["name"]: (r["hash"], r["last_modified"]) for r in rows}


def setup(lab, tmp_path, unique, target, nodes=3, **extra):
    """Local containers, remote, configs: (Local, Remote, [config paths])."""
    local = Local(lab, unique)
    bucket = "lg-" + unique
    remote = Remote(lab, target, bucket, container=local.container,
                    custom_prefix=extra.get("custom_prefix"))
    remote.create()
    mappings = [mapping_for(lab, target, local.container, bucket, **extra)]
    if nodes == 3:
        return local, remote, node_configs(lab, tmp_path, mappings)
    conf = lab.sync_config(1, mappings, status_dir=str(tmp_path / "status"), verification_slack=0)
    return local, remote, [write_config(tmp_path / "one.json", conf)]


def summed(out, field):
    """A pass-summary counter ("posted", "uploaded", ...) added over the nodes."""
    return sum(int(n) for n in re.findall(r"(\d+) %s" % field, out))


def resync(tmp_path, configs):
    """Forget progress, so that every row is handled again."""
    for path in tmp_path.glob("status*"):
        subprocess.run(["rm", "-rf", str(path)], check=True)
    return "".join(sync_all_nodes(configs))


# ---------------------------------------------------------------- SLO to S3 and Swift

@pytest.mark.parametrize("target", TARGETS)
def test_slo_segments_combined_resynced_and_posted(lab, tmp_path, unique, target):
    local, remote, configs = setup(lab, tmp_path, unique, target)
    sizes = [MiB] * 12 + [1000]
    content = local.put_slo("big file.bin", sizes, content_type="text/x-big",
                            headers={"X-Object-Meta-Color": "blue"})
    out = "".join(sync_all_nodes(configs))
    assert out.count("uploaded AUTH_test/") == 1, out
    assert remote.body("big file.bin") == content
    head = remote.head("big file.bin")
    assert head["content-type"] == "text/x-big"
    swift_etag = local.manifest_etag("big file.bin")
    if target == "swift":
        assert head["x-object-meta-color"] == "blue"
        assert head["x-object-meta-swift-slo-etag"] == swift_etag
        assert head["x-static-large-object"].lower() == "true"
        segments = remote.segments()  # same names, in <bucket>_segments
        assert sorted(segments) == ["big file.bin/%02d" % i for i in range(13)]
    else:
        assert head["color"] == "blue" and head["swift-slo-etag"] == swift_etag
        assert head["x-static-large-object"] == "True"
        # 1 MiB segments combined into 5 MiB parts: 5 + 5 + (2 MiB and 1000 bytes)
        assert head["etag"].endswith("-3")
        stored = remote.s3.get_object(Bucket=remote.bucket,
                                      Key=remote.manifest_key("big file.bin"))
        manifest = stored["Body"].read()
        assert md5(manifest) == swift_etag == stored["ETag"].strip('"')
        assert [e["bytes"] for e in json.loads(manifest)] == sizes
        assert remote.uploads() == []
        segments = {k: remote.s3.head_object(Bucket=remote.bucket, Key=k)["LastModified"]
                    for k in remote.keys()}

    # handled again: nothing is uploaded, nothing changes remotely
    time.sleep(1.1)  # a rewrite would show in last-modified times
    out = resync(tmp_path, configs)
    assert "uploaded AUTH_test/" not in out and "updated metadata" not in out, out
    if target == "swift":
        assert remote.segments() == segments
    else:
        assert {k: remote.s3.head_object(Bucket=remote.bucket, Key=k)["LastModified"]
                for k in remote.keys()} == segments

    # metadata only: no part is sent again
    local.conn.post_object(local.container, "big file.bin",
                           headers={"X-Object-Meta-Color": "red", "Content-Type": "text/x-red"})
    out = "".join(sync_all_nodes(configs))
    assert "uploaded AUTH_test/" not in out and out.count("updated metadata of") == 1, out
    got = remote.get("big file.bin")
    assert got[0] == content and got[1] == "text/x-red" and got[2]["color"] == "red"
    head = remote.head("big file.bin")
    if target == "swift":
        assert head["x-object-meta-swift-slo-etag"] == swift_etag
        assert remote.segments() == segments
    else:
        assert head["swift-slo-etag"] == swift_etag and head["x-static-large-object"] == "True"

    # a delete propagates; on S3 the manifest kept beside the object goes too.
    # On Swift the segments stay, as a plain DELETE of the local SLO leaves its
    # local segments (the same rule both sides)
    local.conn.delete_object(local.container, "big file.bin")
    out = "".join(sync_all_nodes(configs))
    assert remote.body("big file.bin") is None, out
    if target == "swift":
        assert remote.segments() == segments
    else:
        assert remote.keys() == [], out


@pytest.mark.parametrize("target", S3_TARGETS)
def test_six_gib_class_objects_with_lowered_limits(lab, tmp_path, unique, target):
    """5 GiB (part size, single PUT, single copy) scaled down to 6 MiB:
    segments are split across parts, metadata updates copy in parts, plain
    objects above the threshold go in parts."""
    local, remote, configs = setup(lab, tmp_path, unique, target,
                                   max_part_size=6 * MiB, multipart_threshold=6 * MiB)
    content = local.put_slo("slo", [13 * MiB, 4 * MiB, 2 * MiB])
    plain = blob(14 * MiB, "plain")
    local.conn.put_object(local.container, "plain", plain, content_type="text/x-plain")
    small = blob(6 * MiB, "small")  # at the threshold: one PUT
    local.conn.put_object(local.container, "small", small)
    out = "".join(sync_all_nodes(configs))
    assert "(19922944 bytes, 4 parts)" in out, out      # 6 + 6 + 1+4 + 2 MiB
    assert "(14680064 bytes, 3 parts)" in out, out      # 5 + 5 + 4 MiB
    assert remote.body("slo") == content
    assert remote.body("plain") == plain and remote.body("small") == small
    assert remote.head("slo")["etag"].endswith("-4")
    head = remote.head("plain")
    assert head["etag"].endswith("-3") and head["swift-source-etag"] == md5(plain)
    assert remote.head("small")["etag"] == md5(small)

    out = resync(tmp_path, configs)
    assert "uploaded AUTH_test/" not in out, out

    # bigger than the copy limit: the new metadata comes with a multipart copy
    for name in ("slo", "plain"):
        local.conn.post_object(local.container, name, headers={"X-Object-Meta-New": "yes",
                                                                 "Content-Type": "text/x-new"})
    out = "".join(sync_all_nodes(configs))
    assert summed(out, "uploaded") == 0 and summed(out, "posted") == 2, out
    for name, data in (("slo", content), ("plain", plain)):
        got = remote.get(name)
        assert got == (data, "text/x-new", {"new": "yes"}), name
    assert remote.head("slo")["swift-slo-etag"] == local.manifest_etag("slo")
    assert remote.head("plain")["swift-source-etag"] == md5(plain)
    assert remote.uploads() == []
    out = resync(tmp_path, configs)
    assert summed(out, "uploaded") == 0 and summed(out, "posted") == 0, out


@pytest.mark.parametrize("target", TARGETS)
def test_large_objects_carry_content_headers_and_expiry(lab, tmp_path, unique, target):
    """SLOs, DLOs and (S3) plain objects sent in parts carry Content-Encoding
    & co, and on S3 the local X-Delete-At (``swift-delete-at``, which the
    shunt honours); a POST changing them reaches the remote, also through a
    multipart copy.  They used to be left out of every large-object path."""
    limits = {} if target == "swift" else {"max_part_size": 6 * MiB,
                                           "multipart_threshold": 6 * MiB}
    local, remote, configs = setup(lab, tmp_path, unique, target, **limits)
    expiry = str(int(time.time()) + 10 * 86400)
    first = dict(CONTENT, **{"X-Delete-At": expiry})
    local.put_slo("slo", [7 * MiB, 1000], headers=first)
    local.put_segments("d-", [1000, 1000])
    local.put_dlo("dlo", "d-", headers=first)
    names = ["slo", "dlo"]
    if target != "swift":
        local.conn.put_object(local.container, "plain", blob(7 * MiB, "p"), headers=first)
        names.append("plain")
    sync_all_nodes(configs)
    for name in names:
        assert remote_content_headers(lab, remote, name) == {
            k.lower(): v for k, v in CONTENT.items()}, name
        if target != "swift":
            assert remote.head(name)["swift-delete-at"] == expiry, name

    later = str(int(expiry) + 86400)
    changed = {"Content-Language": "de", "Cache-Control": "no-cache", "X-Delete-At": later}
    for name in names:  # a POST replaces X-Object-Manifest too: it stays a DLO
        manifest = {"X-Object-Manifest": "%s/d-" % local.segments} if name == "dlo" else {}
        local.conn.post_object(local.container, name, headers=dict(changed, **manifest))
    out = "".join(sync_all_nodes(configs))
    assert summed(out, "uploaded") == 0 and summed(out, "posted") == len(names), out
    for name in names:
        assert remote_content_headers(lab, remote, name) == {
            "content-language": "de", "cache-control": "no-cache"}, name
        if target != "swift":
            assert remote.head(name)["swift-delete-at"] == later, name
    out = resync(tmp_path, configs)
    assert summed(out, "uploaded") == 0 and summed(out, "posted") == 0, out


# ---------------------------------------------------------------- DLOs

def test_slo_and_dlo_to_swift_reuse_segments(lab, tmp_path, unique):
    local, remote, configs = setup(lab, tmp_path, unique, "swift")
    content = local.put_slo("slo", [300000, 200000, 1000], prefix="shared/")
    out = "".join(sync_all_nodes(configs))
    assert remote.body("slo") == content
    before = remote.segments()
    assert sorted(before) == ["shared/00", "shared/01", "shared/02"]
    time.sleep(1.1)
    # a DLO over the very same segments: nothing to copy again
    local.put_dlo("dlo", "shared/", headers={"X-Object-Meta-Kind": "dlo"})
    out = "".join(sync_all_nodes(configs))
    assert out.count("uploaded AUTH_test/") == 1, out
    assert remote.segments() == before
    hdrs, body = remote.conn.get_object(remote.bucket, "dlo")
    assert body == content
    assert hdrs["x-object-manifest"] == remote.bucket + "_segments/shared/"
    dlo_etag = md5("".join(md5(d) for d in (content[:300000], content[300000:500000],
                                            content[500000:])).encode())
    assert hdrs["x-object-meta-swift-source-dlo-etag"] == dlo_etag
    assert hdrs["x-object-meta-kind"] == "dlo"
    # a new segment makes the DLO differ: only that segment is copied
    time.sleep(1.1)
    extra = blob(5000, "extra")
    local.conn.put_object(local.segments, "shared/03", extra)
    local.conn.post_object(local.container, "dlo", headers={
        "X-Object-Meta-Kind": "dlo2", "X-Object-Manifest": local.segments + "/shared/"})
    out = resync(tmp_path, configs)
    assert out.count("uploaded AUTH_test/") == 1, out   # the DLO; the SLO did not change
    after = remote.segments()
    assert {k: v for k, v in after.items() if k != "shared/03"} == before
    assert remote.body("dlo") == content + extra
    # a removed local segment: a remote DLO would still serve its copy, so
    # the object goes as an SLO over exactly the local segments
    local.conn.delete_object(local.segments, "shared/01")
    out = resync(tmp_path, configs)
    assert "sent as an SLO" in out, out
    assert remote.body("dlo") == content[:300000] + content[500000:] + extra
    assert remote.segments() == after  # nothing removed remotely: the SLO still uses them
    assert remote.body("slo") == content
    out = resync(tmp_path, configs)
    assert "uploaded AUTH_test/" not in out, out


@pytest.mark.parametrize("target", S3_TARGETS)
def test_dlo_to_s3_in_parts(lab, tmp_path, unique, target):
    local, remote, configs = setup(lab, tmp_path, unique, target)
    segs = local.put_segments("parts-", [3 * MiB, 3 * MiB, 0, 500])
    local.put_dlo("dlo", "parts-", content_type="text/x-dlo")
    sync_all_nodes(configs)
    content = b"".join(d for _, d in segs)
    assert remote.get("dlo") == (content, "text/x-dlo", {})
    head = remote.head("dlo")
    assert head["swift-source-dlo-etag"] == md5("".join(md5(d) for _, d in segs).encode())
    assert head["x-object-manifest"] == local.segments + "/parts-"
    assert head["etag"].endswith("-2")  # 3+3 MiB, then 500 bytes
    assert remote.manifest_key("dlo") not in remote.keys()  # not converted: no SLO manifest
    assert "uploaded AUTH_test/" not in resync(tmp_path, configs)


@pytest.mark.parametrize("target", ["swift", "seaweedfs"])
def test_convert_dlo(lab, tmp_path, unique, target):
    extra = {"convert_dlo": True}
    if target == "swift":
        extra["min_segment_size"] = 2000  # 1 KiB segments combined two by two
    local, remote, configs = setup(lab, tmp_path, unique, target, **extra)
    size = 1024 if target == "swift" else 3 * MiB
    segs = local.put_segments("p\u00e4rts-", [size] * 10)
    content = b"".join(d for _, d in segs)
    local.put_dlo("dl\u00f6", "p\u00e4rts-", headers={"X-Object-Meta-A": "1"})
    sync_all_nodes(configs)
    assert remote.body("dl\u00f6") == content
    dlo_etag = md5("".join(md5(d) for _, d in segs).encode())
    if target == "swift":
        hdrs, body = remote.conn.get_object(remote.bucket, "dl\u00f6",
                                            query_string="multipart-manifest=get")
        manifest = json.loads(body)
        assert [e["hash"] for e in manifest] == [
            md5(segs[i][1] + segs[i + 1][1]) for i in range(0, 10, 2)]
        head = remote.head("dl\u00f6")
        assert head["x-static-large-object"].lower() == "true"
        assert head["x-object-meta-swift-source-dlo-etag"] == dlo_etag
        assert head["x-object-meta-a"] == "1"
        assert all(n.startswith("dl\u00f6/") for n in remote.segments())
    else:
        head = remote.head("dl\u00f6")
        assert head["x-static-large-object"] == "True" and "x-object-manifest" not in head
        assert head["swift-source-dlo-etag"] == dlo_etag
        manifest = remote.s3.get_object(Bucket=remote.bucket,
                                        Key=remote.manifest_key("dl\u00f6"))["Body"].read()
        assert [(e["name"], e["hash"]) for e in json.loads(manifest)] == [
            ("/%s/%s" % (local.segments, n), md5(d)) for n, d in segs]
    assert "uploaded AUTH_test/" not in resync(tmp_path, configs)


@pytest.mark.parametrize("target", TARGETS)
def test_dlo_whose_prefix_matches_itself_does_not_loop(lab, tmp_path, unique, target):
    local, remote, configs = setup(lab, tmp_path, unique, target, nodes=1)
    for i in range(3):
        local.conn.put_object(local.container, "loop-part-%d" % i, blob(1000 + i, i))
    # the manifest "loop" lists its own container with prefix "loop": itself included
    local.put_dlo("loop", "loop", container=local.container)
    expected = local.get("loop")[1]  # what Swift serves
    assert len(expected) == 3003
    rc, out = run_once(configs[0], timeout=120)
    assert rc == 0, out
    assert remote.body("loop") == expected
    for i in range(3):
        assert remote.body("loop-part-%d" % i) is not None
    rc, out = run_once(configs[0], timeout=120)
    assert rc == 0, out


# ---------------------------------------------------------------- failures

def start_paused(config, barrier):
    """onespace-sync --once stopping after the first part/segment it sends."""
    env = dict(os.environ, ONESPACE_TEST_CHECKPOINT="large-part:pause:" + barrier)
    return subprocess.Popen([sys.executable, "-m", "onespace.cli", "--config", config, "--once"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("target", TARGETS)
def test_remote_down_during_upload_leaves_nothing_and_converges(lab, tmp_path, unique, target):
    local, remote, configs = setup(lab, tmp_path, unique, target, nodes=1)
    content = local.put_slo("slo", [5 * MiB, 5 * MiB, 5 * MiB])
    server = "seaweedfs" if target == "seaweedfs" else "proxy"  # s3api, Swift: the proxy
    barrier = str(tmp_path / "go")
    proc = start_paused(configs[0], barrier)
    try:
        wait_for(lambda: os.path.exists(barrier + ".waiting"), timeout=120,
                 what="the first part to be sent")
        lab.stop_server(server)
        open(barrier, "w").close()
        out, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
        lab.restart(server)
    assert proc.returncode == 1, out  # the row is to be retried
    assert remote.body("slo") is None
    stale = remote.uploads() if target != "swift" else []  # its abort could not get through
    # the remote is back: the next pass completes it, and nothing is left over
    rc, out = run_once(configs[0])
    assert rc == 0, out
    assert remote.body("slo") == content
    if stale:
        assert "aborted an unfinished multipart upload" in out, out
    if target == "swift":
        assert sorted(remote.segments()) == ["slo/00", "slo/01", "slo/02"]
    else:
        assert remote.uploads() == []
    if target == "s3api":
        # Swift's s3api keeps parts in <bucket>+segments: only the completed upload's
        s3api_conn = lab.swift_connection("test3")
        _, rows = s3api_conn.get_container(remote.bucket + "+segments", full_listing=True)
        key = remote.key("slo")
        assert len({r["name"][len(key) + 1:].split("/")[0] for r in rows}) == 1, rows
        assert len(rows) == 3, rows


@pytest.mark.parametrize("target", S3_TARGETS)
def test_failed_multipart_upload_is_aborted(lab, tmp_path, unique, target):
    local, remote, configs = setup(lab, tmp_path, unique, target, nodes=1)
    local.put_slo("broken", [5 * MiB, 5 * MiB, MiB])
    # a segment rewritten after the manifest: the SLO is broken locally, and
    # that is found while the second part is read
    local.conn.put_object(local.segments, "broken/01", blob(5 * MiB, "other"))
    rc, out = run_once(configs[0])
    assert rc == 1, out
    assert "broken/01 changed" in out, out
    assert remote.uploads() == []
    assert remote.body("broken") is None


def test_killed_mid_upload_is_cleaned_up_next_time(lab, tmp_path, unique):
    local, remote, configs = setup(lab, tmp_path, unique, "seaweedfs", nodes=1)
    content = local.put_slo("slo", [5 * MiB, 5 * MiB, MiB])
    env = dict(os.environ, ONESPACE_TEST_CHECKPOINT="large-part:crash")
    crashed = subprocess.run([sys.executable, "-m", "onespace.cli", "--config", configs[0],
                              "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert crashed.returncode == -9, crashed.stdout + crashed.stderr
    assert len(remote.uploads()) == 1  # nobody could abort it
    rc, out = run_once(configs[0])
    assert rc == 0, out
    assert "aborted an unfinished multipart upload" in out, out
    assert remote.uploads() == []
    assert remote.body("slo") == content


# ---------------------------------------------------------------- archive mode

@pytest.mark.parametrize("target", TARGETS)
def test_archive_slo_and_dlo_removing_segments(lab, tmp_path, unique, target):
    local, remote, configs = setup(lab, tmp_path, unique, target, nodes=1, retain_local=False,
                                   retain_local_segments=False)
    slo = local.put_slo("slo", [5 * MiB, 2 * MiB], headers={"X-Object-Meta-K": "v"})
    dlo_segs = local.put_segments("dlo/", [1000, 2000])
    # another DLO over the same segments, archived first: they are not named
    # after it, so they stay for "dlo" (they used to go, and "dlo" was
    # then archived as 0 bytes)
    local.put_dlo("alias", "dlo/")
    keep = local.put_segments("other-", [10])  # not used by either: stays
    rc, out = run_once(configs[0])
    assert rc == 0, out
    assert remote.body("alias") == b"".join(d for _, d in dlo_segs)
    local.put_dlo("dlo", "dlo/")
    rc, out2 = run_once(configs[0])
    out += out2
    assert rc == 0, out
    assert out.count("archived AUTH_test/") == 3, out
    assert remote.body("slo") == slo
    assert remote.body("dlo") == b"".join(d for _, d in dlo_segs)
    assert local.get("slo") is None and local.get("dlo") is None
    _, rows = local.conn.get_container(local.segments)
    assert [r["name"] for r in rows] == [keep[0][0]]
    if target != "swift":
        assert remote.manifest_key("slo") in remote.keys()
    # the archive tombstones (manifest and segments) are not deletes to propagate
    rc, out = run_once(configs[0])
    assert rc == 0, out
    assert remote.body("slo") == slo and remote.get("slo")[2].get("k") == "v"


@pytest.mark.parametrize("target", TARGETS)
def test_archive_of_large_objects_whose_segments_live_beside_them(lab, tmp_path, unique,
                                                                  target):
    """Segments in the mapped container are objects of their own: archived
    first (their rows come first), the SLO's copy could no longer read them
    and failed for good, and a DLO's copy listed none of them (so it would
    have archived without their data).  The remote copies of segments
    onespace archived now stand in for them."""
    local, remote, configs = setup(lab, tmp_path, unique, target, nodes=1, retain_local=False,
                                   retain_local_segments=False)
    c = local.container
    # (not "big/00": SeaweedFS cannot hold a key "big" beside a "directory" big/)
    segs = [("big.%02d" % i, blob(size, "beside-%d" % i))
            for i, size in enumerate([6 * MiB, 1000, 2000])]
    for name, data in segs:
        local.conn.put_object(c, name, data)
    local.conn.put_object(c, "big", json.dumps(
        [{"path": "/%s/%s" % (c, n), "etag": md5(d), "size_bytes": len(d)} for n, d in segs]),
        query_string="multipart-manifest=put")
    slo = b"".join(d for _, d in segs)
    dsegs = [("d.%02d" % i, blob(500 + i, "dlo-%d" % i)) for i in range(3)]
    for name, data in dsegs:
        local.conn.put_object(c, name, data)
    local.put_dlo("d", "d.", container=c)
    dlo = b"".join(d for _, d in dsegs)
    # the segments' rows come first: archived before their large objects are read
    rc, out = run_once(configs[0])
    rc, out2 = run_once(configs[0])
    out += out2
    assert rc == 0, out
    assert "is missing" not in out, out
    assert remote.body("big") == slo, out
    assert remote.body("d") == dlo, out
    assert [o["name"] for o in local.conn.get_container(c)[1]] == [], out


def test_swift_remote_segment_of_an_archived_slo_is_never_overwritten(lab, tmp_path, unique):
    """Remote segments keep their local names without the local container:
    an SLO whose segments live in another local container under the same
    name must not overwrite the segment an archived SLO reads remotely."""
    local, remote, configs = setup(lab, tmp_path, unique, "swift", retain_local=False)
    other = local.segments + "-other"
    local.conn.put_container(other)
    first = local.put_slo("first", [1000], prefix="part/")
    sync_all_nodes(configs)
    assert remote.body("first") == first and not local.conn.get_container(local.container)[1]
    local.conn.put_object(other, "part/00", b"B" * 1000)  # same name, other data
    local.conn.put_object(local.container, "second", json.dumps(
        [{"path": "/%s/part/00" % other}]), query_string="multipart-manifest=put")
    out = "".join(sync_all_nodes(configs, expect_rc=None))
    assert remote.body("first") == first  # still whole
    assert "already holds other data" in out and "second" in out, out
    assert local.conn.get_object(local.container, "second")[1] == b"B" * 1000  # kept


def test_archive_keeps_segments_an_slo_may_share(lab, tmp_path, unique):
    """retain_local_segments: false removes the segments named after the SLO
    (<object>/..., as Swift's clients name them) but not segments named
    otherwise, which another large object may read too."""
    local, remote, configs = setup(lab, tmp_path, unique, "seaweedfs", nodes=1,
                                   retain_local=False, retain_local_segments=False)
    own = local.put_slo("slo", [1000, 2000])
    shared = local.put_segments("shared/", [3000])
    manifest = [{"path": "/%s/%s" % (local.segments, n), "etag": md5(d), "size_bytes": len(d)}
                for n, d in shared]
    local.conn.put_object(local.container, "uses-shared", json.dumps(manifest),
                          query_string="multipart-manifest=put")
    local.conn.put_container(local.segments + "-b")  # another SLO, unmapped, same segment
    local.conn.put_object(local.segments + "-b", "other", json.dumps(manifest),
                          query_string="multipart-manifest=put")
    rc, out = run_once(configs[0])
    assert rc == 0, out
    assert remote.body("slo") == own and remote.body("uses-shared") == shared[0][1]
    names = [r["name"] for r in local.conn.get_container(local.segments)[1]]
    assert names == ["shared/00"], names  # slo's own went, the shared one stays
    assert local.conn.get_object(local.segments + "-b", "other")[1] == shared[0][1]
