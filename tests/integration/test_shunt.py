"""cloud-shunt in the lab's real proxy (loaded through egg:onespace#cloud-shunt).

Objects are archived by the real sync daemon (``retain_local: false``),
then read, listed and deleted through the proxy with swiftclient and raw
HTTP.  The lab proxy re-reads its shunt config (``lab.shunt_conf``) on every
request that finds the file changed, so each test writes its own mappings.
"""

import hashlib
import http.client
import json
import random
import socket
import threading
import time
from urllib.parse import quote

import pytest
import swiftclient

from onespace import naming
from tests.integration.conftest import run_once, wait_for, write_config
from tests.integration.remote import TARGETS, RemoteView
from tests.integration.test_sync import mapping_for

MiB = 1024 * 1024
ODD = "odd \U0001F600 100% sure & space"


def md5(data):
    return hashlib.md5(data).hexdigest()


class Archive:
    """A mapped container, its remote, and a one-node archiving daemon config."""

    def __init__(self, lab, tmp_path, target, unique, **extra):
        self.lab, self.target = lab, target
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.container = "sh-" + unique
        self.segments = self.container + "_segments"
        self.bucket = "sh-" + unique
        self.conn = lab.swift_connection("test")
        self.conn.put_container(self.container)
        self.conn.put_container(self.segments)
        self.view = RemoteView(lab, target, self.bucket, container=self.container,
                               custom_prefix=extra.get("custom_prefix"))
        self.view.create()
        extra.setdefault("retain_local", False)
        extra.setdefault("merge_namespaces", True)
        self.mapping = mapping_for(lab, target, self.container, self.bucket, **extra)
        self.config = write_config(tmp_path / "sync.json", lab.sync_config(
            1, [self.mapping], status_dir=str(tmp_path / "status"), verification_slack=0))

    def archive(self):
        """One daemon pass: every local object of the container goes remote."""
        rc, out = run_once(self.config)
        assert rc == 0, out
        return out

    def serve(self, **changes):
        """Give the proxy's shunt this mapping (``changes`` applied)."""
        mapping = dict(self.mapping, **changes)
        self.lab.write_shunt_config([mapping])
        return mapping

    def put_slo(self, name, sizes, seed=0, headers=None):
        rnd = random.Random(seed)
        parts, manifest = [], []
        for i, size in enumerate(sizes):
            data = rnd.randbytes(size)
            seg = "%s/%02d" % (name, i)
            self.conn.put_object(self.segments, seg, data)
            parts.append(data)
            manifest.append({"path": "/%s/%s" % (self.segments, seg), "etag": md5(data),
                             "size_bytes": size})
        self.conn.put_object(self.container, name, json.dumps(manifest),
                             query_string="multipart-manifest=put", headers=headers or {})
        return b"".join(parts)


class Raw:
    """Raw HTTP to the lab proxy with a user's token (to see every header)."""

    def __init__(self, lab, who="test"):
        self.lab = lab
        url, self.token = lab.swift_connection(who).get_auth()
        self.base = url.split("//", 1)[1].split("/", 1)[1]

    def request(self, method, container, obj=None, headers=None, query="", body=None):
        path = "/%s/%s" % (self.base, quote(container))
        if obj is not None:
            path += "/" + quote(obj)
        if query:
            path += "?" + query
        conn = http.client.HTTPConnection("127.0.0.1", self.lab.proxy_port, timeout=60)
        try:
            send = {"X-Auth-Token": self.token}
            send.update(headers or {})
            conn.request(method, path, body=body, headers=send)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


def proxy_log(lab):
    with open(lab.logs + "/proxy.log", errors="replace") as f:
        return f.read()


def not_found(conn, container, name):
    try:
        conn.head_object(container, name)
    except swiftclient.ClientException as e:
        return e.http_status == 404
    return False


SHOWN = ("etag", "content-length", "content-type", "x-static-large-object")


def shown(headers):
    out = {k: v for k, v in headers.items() if k in SHOWN or k.startswith("x-object-meta-")}
    return out


@pytest.mark.parametrize("target", TARGETS)
def test_archived_objects_read_like_local_ones(lab, tmp_path, unique, target):
    a = Archive(lab, tmp_path, target, unique)
    raw = Raw(lab)
    plain = random.Random(1).randbytes(300000)
    a.conn.put_object(a.container, ODD, plain, content_type="text/x-odd",
                      headers={"X-Object-Meta-Color": "bl\u00fc \u2603", "X-Object-Meta-Plain": "x"})
    slo = a.put_slo("big slo", [MiB, MiB, 123], headers={"X-Object-Meta-Kind": "slo"})
    long_name = "long/" + "n" * 200
    a.conn.put_object(a.container, long_name, b"long")
    before = {n: shown(a.conn.head_object(a.container, n)) for n in (ODD, "big slo", long_name)}
    assert "archived" in a.archive()
    for name in (ODD, "big slo", long_name):
        assert not_found(a.conn, a.container, name), name  # not served yet: no mapping
    a.serve()

    for name, body in ((ODD, plain), ("big slo", slo), (long_name, b"long")):
        headers, got = a.conn.get_object(a.container, name)
        assert got == body, name
        assert shown(headers) == before[name], name
        assert shown(a.conn.head_object(a.container, name)) == before[name], name
        assert headers["last-modified"] and headers["content-location"]
    # the SLO keeps its Swift ETag (quoted, from the stored manifest)
    assert before["big slo"]["etag"].startswith('"')

    status, headers, body = raw.request("GET", a.container, ODD, {"Range": "bytes=10-19"})
    assert (status, body) == (206, plain[10:20])
    assert headers["content-range"] == "bytes 10-19/%d" % len(plain)
    status, headers, body = raw.request("GET", a.container, "big slo",
                                        {"Range": "bytes=-5"})
    assert (status, body) == (206, slo[-5:])
    status, headers, body = raw.request("GET", a.container, ODD,
                                        {"Range": "bytes=0-1,100-102"})
    assert status == 206 and headers["content-type"].startswith("multipart/byteranges")
    assert plain[0:2] in body and plain[100:103] in body and b"bytes 100-102/" in body
    status, _, _ = raw.request("GET", a.container, ODD, {"Range": "bytes=999999-"})
    assert status == 416

    etag = before[ODD]["etag"]
    assert raw.request("GET", a.container, ODD, {"If-None-Match": etag})[0] == 304
    assert raw.request("GET", a.container, ODD, {"If-Match": '"nope"'})[0] == 412
    status, _, body = raw.request("GET", a.container, ODD, {"If-Match": etag})
    assert (status, body) == (200, plain)
    assert raw.request("GET", a.container, ODD,
                       {"If-Modified-Since": "Sat, 01 Jan 2099 00:00:00 GMT"})[0] == 304
    assert raw.request("GET", a.container, ODD,
                       {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})[0] == 412
    if target != "swift":  # S3 remotes: the stored manifest, as Swift returns it
        headers, body = a.conn.get_object(a.container, "big slo",
                                          query_string="multipart-manifest=get")
        assert [e["bytes"] for e in json.loads(body)] == [MiB, MiB, 123]
        assert headers["x-static-large-object"] == "True"
    slo_etag = before["big slo"]["etag"]
    assert raw.request("HEAD", a.container, "big slo", {"If-None-Match": slo_etag})[0] == 304
    # a name that exists nowhere is still a plain 404
    assert not_found(a.conn, a.container, "never-there")


@pytest.mark.parametrize("target", ("seaweedfs", "s3api"))
def test_slo_without_stored_manifest_still_serves_its_data(lab, tmp_path, unique, target):
    a = Archive(lab, tmp_path, target, unique)
    data = a.put_slo("m", [MiB, 7])
    manifest_etag = a.conn.head_object(a.container, "m")["x-manifest-etag"]
    a.archive()
    a.view.s3.delete_object(Bucket=a.bucket,
                            Key=naming.s3_manifest_key("AUTH_test", a.container, "m"))
    a.serve()
    headers, body = a.conn.get_object(a.container, "m")
    assert body == data
    assert headers["x-static-large-object"] == "True"
    assert headers["x-manifest-etag"] == manifest_etag  # swift-slo-etag as stored


def listing(conn, container, reverse=False, **params):
    query = "reverse=on" if reverse else None
    return [e.get("name", e.get("subdir")) for e in
            conn.get_container(container, query_string=query, **params)[1]]


def all_pages(conn, container, limit, **params):
    names, marker = [], ""
    for _ in range(200):  # bounded
        page = listing(conn, container, limit=limit, marker=marker, **params)
        if not page:
            return names
        names += page
        marker = page[-1]
    raise AssertionError("listing did not end")


@pytest.mark.parametrize("target, custom_prefix", [("seaweedfs", None), ("swift", None),
                                                   ("s3api", "")])
def test_listings_splice_local_and_archived(lab, tmp_path, unique, target, custom_prefix):
    extra = {} if custom_prefix is None else {"custom_prefix": custom_prefix}
    a = Archive(lab, tmp_path, target, unique, **extra)
    remote = ["k%02d" % i for i in range(1, 24, 2)] + ["d/r1", "d/r3", "e/r", ODD, "both"]
    local = ["k%02d" % i for i in range(0, 24, 2)] + ["d/l2", "f/l", "k99 " + ODD]
    for name in remote:
        a.conn.put_object(a.container, name, b"remote " + name.encode())
    a.put_slo("k05slo", [10, 20])  # an archived SLO: its manifest never shows
    remote.append("k05slo")
    a.archive()
    for name in local:
        a.conn.put_object(a.container, name, b"local")
    a.conn.put_object(a.container, "both", b"the local one")
    local.append("both")
    a.serve()
    union = sorted(set(remote) | set(local))

    headers, entries = a.conn.get_container(a.container)
    assert [e["name"] for e in entries] == union
    by_name = {e["name"]: e for e in entries}
    assert by_name["both"]["hash"] == md5(b"the local one")  # local wins
    assert "content_location" not in by_name["k00"]
    assert by_name["k01"]["content_location"] and by_name["k01"]["bytes"] == len(b"remote k01")
    assert headers["x-container-object-count"] == str(len(local))  # HEAD facts stay local

    for limit in (1, 3, 4, 1000):  # every name exactly once, page after page
        assert all_pages(a.conn, a.container, limit) == union
    assert listing(a.conn, a.container, prefix="k0", limit=5) == \
        [n for n in union if n.startswith("k0")][:5]
    assert listing(a.conn, a.container, marker="k05", end_marker="k10") == \
        [n for n in union if "k05" < n < "k10"]
    assert listing(a.conn, a.container, delimiter="/") == \
        sorted({n.split("/")[0] + "/" if "/" in n else n for n in union})
    assert listing(a.conn, a.container, prefix="d/", delimiter="/") == ["d/l2", "d/r1", "d/r3"]
    assert all_pages(a.conn, a.container, 2, delimiter="/") == \
        sorted({n.split("/")[0] + "/" if "/" in n else n for n in union})
    assert listing(a.conn, a.container, reverse=True, limit=5) == union[::-1][:5]
    assert listing(a.conn, a.container, reverse=True, marker="k10", end_marker="k03") == \
        [n for n in union if "k03" < n < "k10"][::-1]

    raw = Raw(lab)
    status, _, body = raw.request("GET", a.container, query="format=plain&limit=3")
    assert status == 200 and body.decode("utf-8").splitlines() == union[:3]
    status, headers, body = raw.request("GET", a.container, query="format=xml&prefix=d/")
    assert status == 200 and headers["content-type"].startswith("application/xml")
    assert body.count(b"<name>") == 3 and b"<name>d/r1</name>" in body


def test_unauthorized_users_see_the_same_errors(lab, tmp_path, unique):
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    a.conn.put_object(a.container, "archived", b"secret data")
    a.archive()
    a.conn.put_object(a.container, "local", b"secret data too")
    a.serve()
    reader = Raw(lab, "reader")
    for name in ("archived", "local"):
        status, _, body = reader.request("GET", a.container, name)
        assert status == 403 and b"secret" not in body
        assert reader.request("HEAD", a.container, name)[0] == 403
    assert reader.request("GET", a.container)[0] == 403
    anonymous = Raw(lab)
    anonymous.token = "AUTH_tk-not-a-token"
    for name in ("archived", "local"):
        assert anonymous.request("GET", a.container, name)[0] == 401
    assert anonymous.request("GET", a.container)[0] == 401
    # and the owner still reads both
    assert a.conn.get_object(a.container, "archived")[1] == b"secret data"


def test_remote_down_objects_503_listings_local_only(lab, tmp_path, unique):
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    a.conn.put_object(a.container, "gone-remote", b"x")
    a.archive()
    a.conn.put_object(a.container, "here", b"local")
    dead = "http://127.0.0.1:%d" % (lab.base + 48)  # nothing listens there
    a.serve(aws_endpoint=dead)
    tracebacks = proxy_log(lab).count("Traceback")
    raw = Raw(lab)
    status, headers, body = raw.request("GET", a.container, "gone-remote")
    assert status == 503 and b"remote store" in body
    assert b"onespace-lab-secret" not in body and "onespace-lab-secret" not in str(headers)
    assert raw.request("HEAD", a.container, "gone-remote")[0] == 503
    status, headers, body = raw.request("GET", a.container, query="format=json")
    assert status == 200 and [e["name"] for e in json.loads(body)] == ["here"]
    assert headers["x-onespace-remote-listing"] == "unavailable"
    assert a.conn.get_object(a.container, "here")[1] == b"local"  # local reads unaffected
    # one warning line per listing in the proxy log, not a traceback
    assert proxy_log(lab).count("Traceback") == tracebacks


def test_unmapped_containers_pass_through_without_remote_calls(lab, tmp_path, unique):
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    a.serve(aws_endpoint="http://127.0.0.1:%d" % (lab.base + 48))  # any remote call: 503
    other = "plain-" + unique
    a.conn.put_container(other)
    a.conn.put_object(other, "o", b"data")
    assert a.conn.get_object(other, "o")[1] == b"data"
    assert not_found(a.conn, other, "missing")
    headers, entries = a.conn.get_container(other)
    assert [e["name"] for e in entries] == ["o"] and "x-onespace-remote-listing" not in headers


def test_config_reload_and_broken_file_keeps_previous(lab, tmp_path, unique):
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    a.conn.put_object(a.container, "obj", b"archived bytes")
    a.archive()
    lab.write_shunt_config([])
    assert not_found(a.conn, a.container, "obj")
    a.serve()  # picked up without a proxy restart
    assert a.conn.get_object(a.container, "obj")[1] == b"archived bytes"
    with open(lab.shunt_conf, "w") as f:
        f.write('{"containers": [ broken')
    for _ in range(3):
        assert a.conn.get_object(a.container, "obj")[1] == b"archived bytes"
    wait_for(lambda: proxy_log(lab).count(lab.shunt_conf + ": invalid JSON") >= 1,
             timeout=10, what="the broken config to be logged")
    assert proxy_log(lab).count(lab.shunt_conf + ": invalid JSON") == 1
    lab.write_shunt_config([dict(a.mapping, merge_namespaces=False)])
    assert not_found(a.conn, a.container, "obj")
    assert "onespace-lab-secret" not in proxy_log(lab)


@pytest.mark.parametrize("target", ("seaweedfs", "swift"))
def test_restore_object_writes_it_back(lab, tmp_path, unique, target):
    a = Archive(lab, tmp_path, target, unique)
    data = random.Random(3).randbytes(200000)
    a.conn.put_object(a.container, ODD, data, content_type="text/x-r",
                      headers={"X-Object-Meta-Note": "caf\u00e9"})
    a.archive()
    a.serve(restore_object=True)
    headers, body = a.conn.get_object(a.container, ODD)
    assert body == data and "content-location" in headers
    # prove the next read is local: the remote copy is gone, the object stays
    if target == "swift":
        a.view.conn.delete_object(a.bucket, ODD)
    else:
        a.view.s3.delete_object(Bucket=a.bucket, Key=a.view.key(ODD))
    assert a.view.get(ODD) is None
    headers, body = a.conn.get_object(a.container, ODD)
    assert body == data and "content-location" not in headers
    assert headers["content-type"] == "text/x-r"
    assert headers["x-object-meta-note"] == "caf\u00e9" and headers["etag"] == md5(data)


@pytest.mark.parametrize("target", ["seaweedfs", "swift"])
def test_restore_slo_with_its_segments(lab, tmp_path, unique, target):
    a = Archive(lab, tmp_path, target, unique, retain_local_segments=False)
    data = a.put_slo("s", [MiB, 2 * MiB, 5], headers={"X-Object-Meta-K": "v"})
    etag = a.conn.head_object(a.container, "s")["etag"]
    a.archive()
    assert a.conn.get_container(a.segments)[1] == []  # segments archived away too
    a.serve(restore_object=True)
    assert a.conn.get_object(a.container, "s")[1] == data
    a.view.delete("s")  # the next GET can only be local
    headers, body = a.conn.get_object(a.container, "s")
    assert body == data and "content-location" not in headers
    assert headers["x-static-large-object"] == "True" and headers["etag"] == etag
    assert headers["x-object-meta-k"] == "v"
    assert len(a.conn.get_container(a.segments)[1]) == 3


def test_restore_interrupted_by_the_client_leaves_nothing(lab, tmp_path, unique):
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    data = random.Random(4).randbytes(16 * MiB)
    a.conn.put_object(a.container, "big", data)
    a.archive()
    a.serve(restore_object=True)
    raw = Raw(lab)
    conn = http.client.HTTPConnection("127.0.0.1", lab.proxy_port, timeout=60)
    conn.request("GET", "/%s/%s/big" % (raw.base, a.container),
                 headers={"X-Auth-Token": raw.token})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read(MiB) == data[:MiB]
    conn.sock.close()  # the client goes away mid-stream
    conn.close()
    path = "/%s/%s/big" % (raw.base, a.container)
    wait_for(lambda: any(" PUT %s " % path in line and " 499 " in line
                         for line in proxy_log(lab).splitlines()),
             timeout=60, what="the restore PUT to be abandoned (499)")
    lab.write_shunt_config([])  # look at the local side alone
    assert not_found(a.conn, a.container, "big")
    a.serve(restore_object=True)
    assert a.conn.get_object(a.container, "big")[1] == data  # still served remotely


def restore_logged(lab, container, name, since):
    """Wait for the shunt's log line on the restore of ``name`` (written
    after the log offset ``since``: restored, failed or not restored)."""
    path = "/v1/AUTH_test/%s/%s " % (container, name)
    return wait_for(lambda: [line for line in proxy_log(lab)[since:].splitlines()
                             if "cloud-shunt: " in line and path in line],
                    timeout=60, what="the restore of %s to end" % name)


class HeldRelay:
    """A TCP relay to a remote store that, once :meth:`hold` is called,
    holds the next request it is sent until :meth:`release`: the test acts
    between Swift's 404 and the remote's answer."""

    def __init__(self, endpoint):
        self.upstream = ("127.0.0.1", int(endpoint.rsplit(":", 1)[1]))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = "http://127.0.0.1:%d" % self.server.getsockname()[1]
        self.arrived, self.released = threading.Event(), threading.Event()
        self.released.set()
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self):
        self.arrived.clear()
        self.released.clear()

    def release(self):
        self.released.set()

    def _accept(self):
        while True:
            client, _ = self.server.accept()
            upstream = socket.create_connection(self.upstream)
            for src, dst, held in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(src, dst, held), daemon=True).start()

    def _pipe(self, src, dst, held):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if held and not self.released.is_set():
                    self.arrived.set()
                    self.released.wait()
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.mark.parametrize("user", ["put", "delete"])
def test_restore_never_overwrites_what_is_written_after_the_404(lab, tmp_path, unique, user):
    """A plain object's restore: the user's PUT (or DELETE) lands after
    Swift's 404 and before the remote answers; the restore PUT that follows
    must not replace (or resurrect) it. The client still gets the data."""
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    data = random.Random(5).randbytes(3 * MiB)
    a.conn.put_object(a.container, "o", data)
    a.archive()
    relay = HeldRelay(lab.s3_endpoint)
    a.serve(restore_object=True, aws_endpoint=relay.url)
    assert a.conn.head_object(a.container, "o")["content-length"] == str(len(data))
    since = len(proxy_log(lab))
    raw = Raw(lab)
    conn = http.client.HTTPConnection("127.0.0.1", lab.proxy_port, timeout=60)
    relay.hold()
    conn.request("GET", "/%s/%s/o" % (raw.base, a.container),
                 headers={"X-Auth-Token": raw.token})
    assert relay.arrived.wait(60)  # Swift said 404: the shunt asks the remote
    user_writes(a, "o", user)
    relay.release()
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == data
    conn.close()
    restore_logged(lab, a.container, "o", since)
    user_write_kept(a, "o", user)


def user_writes(a, name, user):
    """The user's PUT or DELETE of ``name`` while a restore of it runs."""
    if user == "put":
        a.conn.put_object(a.container, name, b"the user's new data")
    else:
        with pytest.raises(swiftclient.ClientException) as e:
            a.conn.delete_object(a.container, name)
        assert e.value.http_status == 404  # a tombstone is written all the same


def user_write_kept(a, name, user):
    if user == "put":
        assert a.conn.get_object(a.container, name)[1] == b"the user's new data"
    else:
        assert not_found(a.conn, a.container, name)


@pytest.mark.parametrize("user", ["put", "delete"])
def test_slo_restore_never_overwrites_what_is_written_during_the_stream(
        lab, tmp_path, unique, user):
    """An archived SLO's manifest is PUT at the end of the stream: a PUT (or
    DELETE) of the same name while the client reads must win over it."""
    a = Archive(lab, tmp_path, "seaweedfs", unique, retain_local_segments=False)
    data = a.put_slo("big", [2 * MiB, 2 * MiB, 2 * MiB])
    a.archive()
    a.serve(restore_object=True)
    since = len(proxy_log(lab))
    raw = Raw(lab)
    conn = http.client.HTTPConnection("127.0.0.1", lab.proxy_port, timeout=60)
    conn.request("GET", "/%s/%s/big" % (raw.base, a.container),
                 headers={"X-Auth-Token": raw.token})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read(MiB) == data[:MiB]  # the restore runs
    user_writes(a, "big", user)
    assert resp.read() == data[MiB:]
    conn.close()
    restore_logged(lab, a.container, "big", since)
    user_write_kept(a, "big", user)


def test_slo_restore_never_overwrites_a_segment_in_use(lab, tmp_path, unique):
    """The name of an archived SLO's segment now holds another object (used
    by another SLO): the restore is given up, the client still gets the
    archived data, and the user's segment and SLO stay as they are."""
    a = Archive(lab, tmp_path, "seaweedfs", unique, retain_local_segments=False)
    old = a.put_slo("s", [MiB, MiB], seed=1)
    a.archive()
    new = random.Random(2).randbytes(MiB)
    a.conn.put_object(a.segments, "s/01", new)
    a.conn.put_object(a.segments, "other", json.dumps(
        [{"path": "/%s/s/01" % a.segments, "etag": md5(new), "size_bytes": MiB}]),
        query_string="multipart-manifest=put")
    a.serve(restore_object=True)
    since = len(proxy_log(lab))
    assert a.conn.get_object(a.container, "s")[1] == old
    logged = restore_logged(lab, a.container, "s", since)
    assert a.conn.get_object(a.segments, "s/01")[1] == new
    assert a.conn.get_object(a.segments, "other")[1] == new
    assert "another ETag" in "".join(logged)
    lab.write_shunt_config([])  # the local side alone: nothing restored
    assert not_found(a.conn, a.container, "s") and not_found(a.conn, a.segments, "s/00")


def test_delete_of_archived_objects(lab, tmp_path, unique):
    s = Archive(lab, tmp_path / "s", "swift", unique + "s")
    s.conn.put_object(s.container, "o", b"x")
    s.archive()
    s.serve()
    s.conn.delete_object(s.container, "o")  # Swift remote + propagate_delete: deleted there
    assert s.view.get("o") is None and not_found(s.conn, s.container, "o")

    s.conn.put_object(s.container, "kept", b"y")
    s.archive()
    s.serve(propagate_delete=False)
    with pytest.raises(swiftclient.ClientException) as e:
        s.conn.delete_object(s.container, "kept")
    assert e.value.http_status == 404 and s.view.get("kept")[0] == b"y"

    a = Archive(lab, tmp_path / "a", "seaweedfs", unique + "a")
    a.conn.put_object(a.container, "o", b"z")
    a.archive()
    a.serve()
    with pytest.raises(swiftclient.ClientException) as e:
        a.conn.delete_object(a.container, "o")  # never for S3 remotes
    assert e.value.http_status == 404 and a.view.get("o")[0] == b"z"


def test_container_post_reaches_swift_remote_with_metadata_sync(lab, tmp_path, unique):
    a = Archive(lab, tmp_path, "swift", unique, sync_container_metadata=True)
    a.conn.put_object(a.container, "o", b"x")
    a.archive()  # creates the remote container
    a.serve()
    a.conn.post_container(a.container, {"X-Container-Meta-Team": "blue"})
    assert a.view.conn.head_container(a.bucket)["x-container-meta-team"] == "blue"
    b = Archive(lab, tmp_path / "b", "swift", unique + "b")
    b.conn.put_object(b.container, "o", b"x")
    b.archive()
    b.serve()
    b.conn.post_container(b.container, {"X-Container-Meta-Team": "red"})
    assert "x-container-meta-team" not in b.view.conn.head_container(b.bucket)


@pytest.mark.parametrize("restore", [False, True], ids=["serve", "restore_object"])
def test_objects_deleted_here_are_not_served_from_the_remote(lab, tmp_path, unique, restore):
    """Sync mode (retain_local) with merge_namespaces: a client deletes an
    object the remote still holds (propagate_delete off): its tombstone
    wins, so it is neither served nor restored. An archived object (the
    daemon's own delete) still is."""
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    a.conn.put_object(a.container, "archived", b"far away")
    a.archive()
    a.serve(restore_object=restore, propagate_delete=False)
    a.conn.put_object(a.container, "gone " + ODD, b"deleted data")
    keep = dict(a.mapping, retain_local=True, propagate_delete=False)
    rc, out = run_once(write_config(tmp_path / "keep.json", lab.sync_config(
        1, [keep], status_dir=str(tmp_path / "status-keep"), verification_slack=0)))
    assert rc == 0, out  # copied, kept locally
    a.conn.delete_object(a.container, "gone " + ODD)
    assert a.view.get("gone " + ODD)[0] == b"deleted data"  # the remote still has it
    assert not_found(a.conn, a.container, "gone " + ODD)
    assert not_found(a.conn, a.container, "gone " + ODD)  # nor restored by the first GET
    assert a.conn.get_object(a.container, "archived")[1] == b"far away"


def test_archived_object_expires_with_its_x_delete_at(lab, tmp_path, unique):
    """An S3 copy has no expiry of its own: it records the local X-Delete-At,
    which the shunt shows, and after which it answers 404 as Swift would
    (and restores nothing)."""
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    expires = int(time.time()) + 8
    a.conn.put_object(a.container, "soon", b"expires soon", headers={"X-Delete-At": expires})
    a.conn.put_object(a.container, "kept", b"stays")
    a.archive()
    a.serve(restore_object=True)
    raw = Raw(lab)
    status, headers, _ = raw.request("HEAD", a.container, "soon")
    assert status == 200 and headers["x-delete-at"] == str(expires)
    wait_for(lambda: time.time() > expires + 1, timeout=30, what="the expiry")
    assert raw.request("GET", a.container, "soon")[0] == 404
    assert raw.request("GET", a.container, "kept")[0] == 200
    assert not_found(a.conn, a.container, "soon")  # nothing was restored


CONDITIONS = [  # (headers, what Swift answers for an existing object)
    ({"If-Match": "*"}, 200),
    ({"If-None-Match": "*"}, 304),
    ({"If-Match": "ETAG"}, 200),
    ({"If-Match": '"nope"'}, 412),
    ({"If-None-Match": "ETAG"}, 304),
    ({"If-None-Match": '"nope"'}, 200),
    ({"If-Modified-Since": "Sat, 01 Jan 2099 00:00:00 GMT"}, 304),
    ({"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}, 200),
    ({"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}, 412),
    ({"If-Unmodified-Since": "Sat, 01 Jan 2099 00:00:00 GMT"}, 200),
]


def test_conditional_requests_on_archived_objects_answer_as_swift(lab, tmp_path, unique):
    """Every conditional GET/HEAD of an archived object gets the status the
    same request gets for a local object with the same bytes (If-Match: *
    was a 412: Swift's answer for no local object, before the shunt looked
    remotely); a name that exists nowhere keeps Swift's answers."""
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    a.conn.put_object(a.container, "archived", b"same bytes")
    a.archive()
    a.conn.put_object(a.container, "local", b"same bytes")
    a.serve()  # (a restore would make later requests local)
    raw = Raw(lab)
    etag = md5(b"same bytes")
    for headers, expected in CONDITIONS:
        headers = {k: v.replace("ETAG", etag) for k, v in headers.items()}
        for method in ("GET", "HEAD"):
            got = {name: raw.request(method, a.container, name, headers)[0]
                   for name in ("local", "archived")}
            assert got == {"local": expected, "archived": expected}, (method, headers)
    status, _, body = raw.request("GET", a.container, "archived", {"If-Match": "*"})
    assert (status, body) == (200, b"same bytes")
    assert "content-location" in raw.request("HEAD", a.container, "archived")[1]
    for method in ("GET", "HEAD"):  # no object at all: as Swift answers
        assert raw.request(method, a.container, "nowhere", {"If-Match": "*"})[0] == 412
        assert raw.request(method, a.container, "nowhere", {"If-None-Match": "*"})[0] == 404



def test_put_if_none_match_star_refuses_archived_names(lab, tmp_path, unique):
    """PUT with If-None-Match: * is a 412 when the name exists, here or only
    remotely (archived); a name deleted here (its tombstone is newer than the
    remote copy) or never written can be created; a user who may not write
    gets Swift's 403, not a hint that the object exists."""
    a = Archive(lab, tmp_path, "seaweedfs", unique)
    for name in ("archived", "deleted"):
        a.conn.put_object(a.container, name, b"old " + name.encode())
    a.archive()
    a.conn.put_object(a.container, "local", b"here")
    a.serve(propagate_delete=False)
    with pytest.raises(swiftclient.ClientException) as e:
        a.conn.delete_object(a.container, "deleted")  # only remote: Swift's 404
    assert e.value.http_status == 404 and not_found(a.conn, a.container, "deleted")
    raw = Raw(lab)
    star = {"If-None-Match": "*"}
    for name in ("archived", "local"):
        assert raw.request("PUT", a.container, name, star, body=b"new")[0] == 412, name
    assert a.conn.get_object(a.container, "archived")[1] == b"old archived"
    assert a.conn.get_object(a.container, "local")[1] == b"here"
    assert Raw(lab, "reader").request("PUT", a.container, "archived", star,
                                      body=b"new")[0] == 403
    for name in ("deleted", "new"):
        a.conn.put_object(a.container, name, b"new", headers={"If-None-Match": "*"})
        assert a.conn.get_object(a.container, name)[1] == b"new", name


@pytest.mark.parametrize("target", ("seaweedfs", "s3api"))
def test_listings_show_the_swift_etag_of_objects_uploaded_in_parts(lab, tmp_path, unique,
                                                                   target):
    """An object uploaded to S3 in parts has an S3 ETag "<md5>-<parts>"; its
    listing entry shows the ETag Swift listed (a plain object's MD5, an
    SLO's manifest ETag), as recorded beside the copy."""
    a = Archive(lab, tmp_path, target, unique, multipart_threshold=5 * MiB)
    a.conn.put_object(a.container, "plain", random.Random(5).randbytes(6 * MiB))
    a.put_slo("slo", [MiB, 10])
    a.conn.put_object(a.container, "small", b"one part")
    before = {e["name"]: e["hash"] for e in a.conn.get_container(a.container)[1]}
    a.archive()
    remote_etags = {n: a.view.s3.head_object(Bucket=a.bucket, Key=a.view.key(n))["ETag"]
                    for n in before}
    assert "-" in remote_etags["plain"] and "-" in remote_etags["slo"], remote_etags
    a.serve()
    entries = a.conn.get_container(a.container)[1]
    assert {e["name"]: e["hash"] for e in entries} == before
    assert all("content_location" in e for e in entries)  # all served from the remote
    assert {e["name"]: e["hash"] for e in a.conn.get_container(
        a.container, query_string="reverse=on", limit=2)[1]} == \
        {"small": before["small"], "slo": before["slo"]}

