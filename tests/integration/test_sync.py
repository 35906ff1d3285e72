"""onespace-sync against the real lab: PUT, overwrite, POST, DELETE, names, errors."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from http.client import HTTPConnection
from urllib.parse import quote, urlsplit

from concurrent.futures import ThreadPoolExecutor

import pytest

from onespace import headers as hdrs
from tests.integration.conftest import run_once, status_json, write_config
from tests.integration.remote import TARGETS, RemoteView

ODD_NAMES = [
    "plain.txt",
    "with space and %25 and + plus",
    "four-byte \U0001F600\U00010348 utf8",
    "dir/sub dir/caf\u00e9.txt",
    "100% sure?&=#",
]


def mapping_for(lab, target, container, bucket, **extra):
    if target == "swift":
        return lab.swift_mapping(container, bucket, **extra)
    return lab.s3_mapping(container, bucket, target=target, **extra)


def node_configs(lab, tmp_path, mappings, **settings):
    """One config per container node of the lab (like three hosts), own status dirs.

    The verification slack is long unless a test says otherwise: each node
    then uploads only its own share, and a double upload would be a bug.
    """
    settings.setdefault("verification_slack", 60)
    return [write_config(tmp_path / ("node%d.json" % node), lab.sync_config(
        node, mappings, status_dir=str(tmp_path / ("status%d" % node)), **settings))
        for node in (1, 2, 3)]


def setup_sync(lab, tmp_path, target, unique, **extra):
    """A local container, a remote and the nodes' configs: (conn, container, view, configs)."""
    container, bucket = "src-" + unique, "dst-" + unique
    conn = lab.swift_connection("test")
    conn.put_container(container)
    view = RemoteView(lab, target, bucket, container=container,
                      custom_prefix=extra.get("custom_prefix"))
    view.create()
    configs = node_configs(lab, tmp_path, [mapping_for(lab, target, container, bucket, **extra)])
    return conn, container, view, configs


def sync_all_nodes(configs, expect_rc=0):
    """One --once pass on each container node, all at once as on real hosts; their outputs."""
    with ThreadPoolExecutor(len(configs)) as pool:
        results = list(pool.map(run_once, configs))
    for rc, out in results:
        assert expect_rc is None or rc == expect_rc, out
    return [out for _, out in results]


@pytest.mark.parametrize("target, custom_prefix", [(t, None) for t in TARGETS] + [
    (t, p) for t in ("seaweedfs", "s3api") for p in ("", "my/prefix")])
def test_put_overwrite_post_delete(lab, tmp_path, unique, target, custom_prefix):
    extra = {} if custom_prefix is None else {"custom_prefix": custom_prefix}
    conn, container, view, config = setup_sync(lab, tmp_path, target, unique, **extra)
    conn.put_object(container, "a.txt", b"first", content_type="text/x-first",
                    headers={"X-Object-Meta-Color": "blue", "X-Object-Meta-Note": "caf\u00e9 \u2603"})
    conn.put_object(container, "b.bin", b"\x00" * 1000)
    sync_all_nodes(config)
    assert view.get("a.txt") == (b"first", "text/x-first",
                                 {"color": "blue", "note": "caf\u00e9 \u2603"})
    assert view.get("b.bin")[0] == b"\x00" * 1000
    if target != "swift":
        key = view.key("a.txt")
        if custom_prefix is None:
            digest = int(hashlib.md5(("AUTH_test/" + container).encode()).hexdigest(), 16)
            assert key == "%x/AUTH_test/%s/a.txt" % (digest % 16 ** 6, container)
        else:
            assert key == (custom_prefix + "/a.txt" if custom_prefix else "a.txt")
        assert sorted(view.keys()) == sorted([view.key("a.txt"), view.key("b.bin")])

    # overwrite, metadata-only POST, delete
    conn.put_object(container, "a.txt", b"second version", content_type="text/x-second",
                    headers={"X-Object-Meta-Color": "red"})
    conn.post_object(container, "b.bin", headers={"X-Object-Meta-Tag": "posted",
                                                  "Content-Type": "application/x-posted"})
    sync_all_nodes(config)
    assert view.get("a.txt") == (b"second version", "text/x-second", {"color": "red"})
    assert view.get("b.bin")[1:] == ("application/x-posted", {"tag": "posted"})

    conn.delete_object(container, "a.txt")
    sync_all_nodes(config)
    assert view.get("a.txt") is None
    assert view.get("b.bin") is not None


def test_metadata_post_does_not_reupload(lab, tmp_path, unique):
    conn, container, view, config = setup_sync(lab, tmp_path, "seaweedfs", unique)
    conn.put_object(container, "o", b"x" * 5000)
    outs = sync_all_nodes(config)
    assert "".join(outs).count("uploaded AUTH_test/") == 1
    conn.post_object(container, "o", headers={"X-Object-Meta-K": "v"})
    joined = "".join(sync_all_nodes(config))
    assert "uploaded AUTH_test/" not in joined
    assert re.search(r"1 posted", joined), joined
    assert view.get("o")[2] == {"k": "v"}


@pytest.mark.parametrize("target", TARGETS)
def test_odd_names(lab, tmp_path, unique, target):
    conn, container, view, config = setup_sync(lab, tmp_path, target, unique)
    for i, name in enumerate(ODD_NAMES):
        conn.put_object(container, name, ("body %d" % i).encode(),
                        headers={"X-Object-Meta-Name": "v%d" % i})
    sync_all_nodes(config)
    for i, name in enumerate(ODD_NAMES):
        got = view.get(name)
        assert got is not None, name
        assert got[0] == ("body %d" % i).encode(), name


def _long_name(total_bytes, part=200):
    """A name of exactly ``total_bytes`` UTF-8 bytes, '/'-separated parts of <= ``part`` bytes."""
    parts, size = [], 0
    while size < total_bytes:
        n = min(part, total_bytes - size - (1 if parts else 0))
        parts.append("n" * n)
        size += n + (1 if len(parts) > 1 else 0)
    name = "/".join(parts)
    assert len(name.encode()) == total_bytes
    return name


def test_long_names_swift_target(lab, tmp_path, unique):
    conn, container, view, config = setup_sync(lab, tmp_path, "swift", unique)
    name = "\U0001F600" + "x" * 1020  # 1024 bytes, the Swift limit
    conn.put_object(container, name, b"long")
    sync_all_nodes(config)
    assert view.get(name)[0] == b"long"


def test_long_keys_s3api(lab, tmp_path, unique):
    """The remote key (prefix + account + container + name) may use all 1024 bytes."""
    conn, container, view, config = setup_sync(lab, tmp_path, "s3api", unique)
    room = 1024 - len(view.key("").encode())
    fits, too_long = _long_name(room), _long_name(room + 1)
    conn.put_object(container, fits, b"fits")
    conn.put_object(container, too_long, b"too long")
    conn.put_object(container, "zz-after", b"after")
    out = "".join(sync_all_nodes(config, expect_rc=None))
    assert view.get(fits)[0] == b"fits"
    assert view.get("zz-after")[0] == b"after"
    assert view.get(too_long) is None
    assert "1025 bytes" in out and "1024" in out


def test_key_too_long_is_reported_in_status_and_does_not_block(lab, tmp_path, unique):
    conn, container, view, config = setup_sync(lab, tmp_path, "seaweedfs", unique)
    # a legal Swift name (1000 bytes) whose S3 key (with the prefix) is over 1024 bytes
    bad = _long_name(1000)
    conn.put_object(container, bad, b"bad")
    for i in range(5):
        conn.put_object(container, "good-%d" % i, b"good")
    out = "".join(sync_all_nodes(config, expect_rc=None))
    assert bad[:40] in out, out  # the error names the object
    for i in range(5):
        assert view.get("good-%d" % i)[0] == b"good"
    # the row is failed on the node that owns it, and shows in its onespace-status
    all_failed = [n for path in config for e in status_json(path) for n in e["failed_names"]]
    assert all_failed == [bad], out
    # deleted locally, it is no longer a failure (its key never existed remotely)
    conn.delete_object(container, bad)
    out = "".join(sync_all_nodes(config))
    assert [n for path in config for e in status_json(path) for n in e["failed_names"]] == []


def test_wrong_credentials_names_mapping_hides_secret(lab, tmp_path, unique):
    secret = "sup3r-s3cret-" + unique
    conn, container, view, config = setup_sync(lab, tmp_path, "seaweedfs", unique,
                                               aws_secret=secret)
    conn.put_object(container, "o", b"data")
    rc, out = run_once(config[0])
    assert rc == 1, out
    assert "containers[0]" in out and container in out, out
    assert secret not in out
    assert view.get("o") is None
    for root, _, files in os.walk(str(tmp_path / "status1")):
        for f in files:
            with open(os.path.join(root, f), errors="replace") as fh:
                assert secret not in fh.read()


def put_encrypted(lab, container, name, data, headers):
    """Write an object encrypted at rest: Swift's keymaster and encrypter in
    an internal client of the lab (its proxy does not encrypt)."""
    code = ("import io, sys; from swift.common import utils, storage_policy; "
            "utils.set_swift_dir(sys.argv[1]); storage_policy.reload_storage_policies(); "
            "from swift.common.internal_client import InternalClient; "
            "InternalClient(sys.argv[2], 'test', 1).upload_object(io.BytesIO(sys.argv[4]"
            ".encode()), 'AUTH_test', sys.argv[3], sys.argv[5], eval(sys.argv[6]))")
    subprocess.run([sys.executable, "-c", code, lab.etc, lab.encrypting_internal_client_conf(),
                    container, data, name, repr(headers)], check=True, timeout=120)


@pytest.mark.parametrize("retain_local", [True, False], ids=["sync", "archive"])
def test_encrypted_objects_are_never_copied_as_ciphertext(lab, tmp_path, unique,
                                                          retain_local):
    """An object encrypted at rest is refused, naming it, while the internal
    client cannot decrypt it (and in archive mode stays local); with
    internal_client_conf_path pointing at a conf with keymaster and
    encryption, the plaintext arrives (and is archived)."""
    conn, container, view, configs = setup_sync(lab, tmp_path, "seaweedfs", unique,
                                                retain_local=retain_local)
    name = "secret \U0001F600 100%"
    put_encrypted(lab, container, name, "plain words", {
        "Content-Type": "text/plain", "X-Object-Meta-Color": "blue"})
    conn.put_object(container, "not-encrypted", b"open")

    out = "".join(sync_all_nodes(configs, expect_rc=None))
    assert view.get("not-encrypted")[0] == b"open"
    assert view.get(name) is None, "ciphertext was copied"
    assert "AUTH_test/%s/%s is encrypted at rest" % (container, name) in out, out
    assert "internal_client_conf_path" in out
    failed = [n for path in configs for e in status_json(path) for n in e["failed_names"]]
    assert failed == [name], out
    # still local (the lab's proxy, without a decrypter, hides the encrypted metadata)
    assert "x-object-meta-color" not in conn.head_object(container, name)

    # the operator points onespace at an internal client that decrypts;
    # failed rows get another try on start-up
    for path in configs:
        with open(path) as f:
            conf = json.load(f)
        conf["internal_client_conf_path"] = lab.encrypting_internal_client_conf()
        write_config(path, conf)
    out = "".join(sync_all_nodes(configs))
    assert view.get(name) == (b"plain words", "text/plain", {"color": "blue"}), out
    failed = [n for path in configs for e in status_json(path) for n in e["failed_names"]]
    assert failed == [], out
    names = [o["name"] for o in conn.get_container(container)[1]]
    assert names == ([] if not retain_local else ["not-encrypted", name]), out


def test_control_characters_in_names_cannot_forge_log_lines(lab, tmp_path, unique):
    conn, container, view, configs = setup_sync(lab, tmp_path, "swift", unique)
    name = "evil\nINFO onespace.sync: uploaded forged\x1b[2J"
    conn.put_object(container, name, b"x")
    out = "".join(sync_all_nodes(configs))
    assert view.get(name)[0] == b"x"
    assert "evil\\nINFO onespace.sync: uploaded forged\\x1b[2J" in out, out
    assert not any(line.startswith("INFO onespace.sync: uploaded forged")
                   for line in out.splitlines()), out
    assert "\x1b" not in out


def test_dot_path_parts_never_reach_other_swift_objects(lab, tmp_path, unique):
    """requests resolves '.' and '..' in URLs: 'z/../keep' would be written
    (and deleted) as 'keep', '../<other container>/o' in another container.
    Such names fail, naming the object, and stay local even in archive mode."""
    conn, container, view, configs = setup_sync(lab, tmp_path, "swift", unique,
                                                retain_local=False)
    victim = "victim-" + unique
    target = lab.swift_connection("test2")
    target.put_container(victim)
    target.put_object(victim, "precious", b"precious")
    conn.put_object(container, "keep", b"keep")
    dotted = ["a/./b", "z/../keep", "../%s/precious" % victim]
    url, token = conn.get_auth()
    for name in dotted:  # raw HTTP: swiftclient itself would resolve the dots
        http = HTTPConnection("127.0.0.1", lab.proxy_port, timeout=60)
        http.request("PUT", "%s/%s/%s" % (urlsplit(url).path, container, quote(name)),
                     body=b"dotted " + name.encode(), headers={"X-Auth-Token": token})
        assert http.getresponse().status == 201, name
        http.close()
    out = "".join(sync_all_nodes(configs, expect_rc=None))
    assert view.get("keep") is not None, out
    assert view.get("keep")[0] == b"keep"
    assert target.get_object(victim, "precious")[1] == b"precious"
    assert sorted(view.keys()) == ["keep"]
    listed = [o["name"] for o in conn.get_container(container)[1]]
    for name in dotted:  # failed, named, still local
        assert name in out and name in listed
    failed = sorted(n for path in configs for e in status_json(path) for n in e["failed_names"])
    assert failed == sorted(dotted), out


@pytest.mark.parametrize("target", TARGETS)
def test_non_ascii_content_type_parameter_verifies(lab, tmp_path, unique, target):
    """A Content-Type with a UTF-8 parameter comes back from the remote as
    latin-1 text; read as such it never matched, and the row was retried on
    every pass, holding back the container."""
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique,
                                                retain_local=False)
    conn.put_object(container, "odd", b"x", content_type="text/plain; name=caf\u00e9")
    conn.put_object(container, "after", b"y")
    out = "".join(sync_all_nodes(configs))  # exit 0: nothing left to retry
    assert out.count("archived AUTH_test/") == 2, out
    assert sorted(view.keys()) == sorted([view.key("after"), view.key("odd")])


CONTENT = {"Content-Encoding": "gzip", "Content-Disposition": 'attachment; filename="a.txt"',
           "Content-Language": "fr", "Cache-Control": "max-age=60"}


@pytest.mark.parametrize("target", TARGETS)
def test_content_headers_travel_with_the_copy(lab, tmp_path, unique, target):
    """Content-Encoding and the other content headers reach the remote, so an
    archived gzip object still says it is gzip (the shunt serves them back)."""
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique,
                                                retain_local=False)
    conn.put_object(container, "page", b"\x1f\x8b compressed", headers=CONTENT)
    sync_all_nodes(configs)
    if target == "swift":
        got = lab.swift_connection("test2").head_object(view.bucket, "page")
    else:
        resp = view.s3.head_object(Bucket=view.bucket, Key=view.key("page"))
        got = resp["ResponseMetadata"]["HTTPHeaders"]
    for name, value in CONTENT.items():
        assert got.get(name.lower()) == value, (name, got)


def remote_content_headers(lab, view, name):
    """The remote copy's content headers (lowercase names)."""
    if view.target == "swift":
        got = lab.swift_connection("test2").head_object(view.bucket, view.key(name))
    else:
        got = view.s3.head_object(Bucket=view.bucket, Key=view.key(name))[
            "ResponseMetadata"]["HTTPHeaders"]
    return {k: v for k, v in got.items() if k in hdrs.CONTENT_HEADERS}


@pytest.mark.parametrize("target", TARGETS)
def test_a_post_changing_only_content_headers_reaches_the_remote(lab, tmp_path, unique,
                                                                  target):
    """A POST that changes Content-Encoding & co but no user metadata is a
    change too: it used to be seen as "in sync", and a removed header stayed
    on the remote (a POST carries the remote's over)."""
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique)
    conn.put_object(container, "page", b"\x1f\x8b compressed", headers=CONTENT)
    sync_all_nodes(configs)
    assert remote_content_headers(lab, view, "page") == {k.lower(): v
                                                         for k, v in CONTENT.items()}
    changed = {"Content-Language": "de", "Cache-Control": "no-cache",
               "Expires": "Thu, 01 Dec 2044 16:00:00 GMT"}  # no Content-Encoding now
    conn.post_object(container, "page", headers=changed)
    out = "".join(sync_all_nodes(configs))
    assert "content headers differ" in out, out
    assert remote_content_headers(lab, view, "page") == {k.lower(): v
                                                         for k, v in changed.items()}
    out = "".join(sync_all_nodes(configs))  # converged: no update on every pass
    assert "updated metadata" not in out, out


@pytest.mark.parametrize("target", ["seaweedfs", "s3api"])
def test_expires_values_s3_servers_refuse_are_sent_as_http_dates(lab, tmp_path, unique,
                                                                 target):
    """Swift keeps any Expires; SeaweedFS refused "0", a one-digit day or an
    ISO date (400 MalformedDate), so such objects never synced.  They go as
    HTTP-dates ("0": already expired, the epoch), and stay in sync."""
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique)
    sent = {"zero": ("0", "Thu, 01 Jan 1970 00:00:00 GMT"),
            "day": ("Thu, 1 Dec 2044 16:00:00 GMT", "Thu, 01 Dec 2044 16:00:00 GMT"),
            "iso": ("2044-12-01T10:00:00Z", "Thu, 01 Dec 2044 10:00:00 GMT")}
    for name, (value, _) in sent.items():
        conn.put_object(container, name, b"x", headers={"Expires": value})
    out = "".join(sync_all_nodes(configs))  # exit 0: nothing failed
    for name, (_, stored) in sent.items():
        assert remote_content_headers(lab, view, name) == {"expires": stored}, out
    conn.post_object(container, "zero", headers={"Expires": "-1"})
    out = "".join(sync_all_nodes(configs))
    assert "updated metadata" not in out, out  # "-1" and "0" mean the same: in sync


@pytest.mark.parametrize("target", ["seaweedfs", "s3api"])
def test_metadata_that_reads_as_an_encoded_word_arrives_literally(lab, tmp_path, unique,
                                                                   target):
    """A value like "=?UTF-8?Q?hi?=" was sent as it is, and every reader of
    the S3 copy (onespace's shunt, 1space) decoded it to "hi"."""
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique)
    meta = {"literal": "=?UTF-8?Q?hi?=", "plain": "=? not a word"}
    conn.put_object(container, "o", b"x",
                    headers={"X-Object-Meta-" + k: v for k, v in meta.items()})
    sync_all_nodes(configs)
    assert view.get("o")[2] == meta
    for path in tmp_path.glob("status*"):
        shutil.rmtree(path)
    out = "".join(sync_all_nodes(configs))  # compared as they are: in sync
    assert "updated metadata" not in out and "uploaded" not in out.replace("0 uploaded", ""), out


@pytest.mark.parametrize("target", ["seaweedfs", "s3api"])
def test_names_an_s3_server_would_store_under_another_name(lab, tmp_path, unique, target):
    """SeaweedFS stores "x//y" and "x\\y" as "x/y", "/lead" as "lead" and "dir/"
    as an empty directory: archived, "x//y" and "x/y" shared one remote copy and one
    of them was lost; "dir/" was re-sent forever.  The bucket is probed for
    such shapes; where the server renames them they fail, named, and stay
    local.  Servers that keep them (Swift's s3api) get them as they are."""
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique,
                                                retain_local=False)
    odd = {"x//y": b"double", "/lead": b"leading", "dir/": b"trailing", "x\\y": b"back"}
    for name, data in dict(odd, **{"x/y": b"single", "lead": b"plain"}).items():
        conn.put_object(container, name, data)
    out = "".join(sync_all_nodes(configs, expect_rc=None))
    assert view.get("x/y")[0] == b"single" and view.get("lead")[0] == b"plain", out
    assert not [k for k in view.keys() if "onespace-key-probe" in k], view.keys()
    failed = sorted(n for path in configs for e in status_json(path)
                    for n in e["failed_names"])
    local = {o["name"] for o in conn.get_container(container)[1]}
    if target == "seaweedfs":
        assert failed == sorted(odd), out
        assert "under another name" in out, out
        assert local == set(odd), out  # kept: their copies would not be theirs
    else:
        assert failed == [], out
        for name, data in odd.items():
            assert view.get(name)[0] == data, name
        assert local == set(), out


@pytest.mark.parametrize("target", ["seaweedfs", "swift"])
def test_non_ascii_metadata_key_fails_alone(lab, tmp_path, unique, target):
    """Swift stores a metadata key's raw UTF-8; no remote header can carry it.
    The object fails for good, named, and the rest of the container syncs
    (on a Swift remote it was retried forever, holding everything back)."""
    conn, container, view, configs = setup_sync(lab, tmp_path, target, unique)
    url, token = conn.get_auth()
    http = HTTPConnection("127.0.0.1", lab.proxy_port, timeout=60)
    http.putrequest("PUT", "%s/%s/odd" % (urlsplit(url).path, container))
    for name, value in ((b"X-Auth-Token", token.encode()), (b"Content-Length", b"1"),
                        (b"X-Object-Meta-Caf\xc3\xa9", b"v")):
        http.putheader(name, value)
    http.endheaders(b"x")
    assert http.getresponse().status == 201
    http.close()
    for i in range(3):
        conn.put_object(container, "later%d" % i, b"fine")
    out = "".join(sync_all_nodes(configs, expect_rc=None))
    assert "not ASCII" in out, out
    for i in range(3):
        assert view.get("later%d" % i)[0] == b"fine"
    failed = [n for path in configs for e in status_json(path) for n in e["failed_names"]]
    assert failed == ["odd"], out
