"""Remote objects as Swift headers, and the shunt's routes and config reload."""

import hashlib
import json
import logging
import os

import pytest

from onespace import naming
from onespace.config import load
from onespace.providers.base import RemoteObject
from onespace.shunt import objects
from onespace.shunt.routes import ConfigWatcher, RouteTable

MANIFEST = [{"name": "/segs/a", "bytes": 5, "hash": hashlib.md5(b"aaaaa").hexdigest()},
            {"name": "/segs/b", "bytes": 2, "hash": hashlib.md5(b"bb").hexdigest()}]


def slo_etag():
    return hashlib.md5("".join(e["hash"] for e in MANIFEST).encode()).hexdigest()


def test_plain_s3_object_headers():
    obj = RemoteObject(name="k", etag="0123", size=11, last_modified=1700000000.25,
                       content_type="text/x-a", metadata={"color": "bl\u00fc"},
                       headers={"content-encoding": "gzip", "x-amz-request-id": "r"})
    etag = objects.swift_etag(obj)
    out = objects.swift_headers(obj, etag, "http://s3/b/k")
    assert out == {"Content-Type": "text/x-a", "Accept-Ranges": "bytes", "Etag": "0123",
                   "Content-Length": "11", "X-Timestamp": "1700000000.25000",
                   "Content-Encoding": "gzip", "X-Object-Meta-color": "bl\u00fc",
                   "Content-Location": "http://s3/b/k"}


def test_multipart_plain_object_keeps_its_swift_etag():
    obj = RemoteObject(name="k", etag="abc-3", internal={"swift-source-etag": "feed"})
    assert objects.swift_etag(obj) == "feed"
    assert not objects.is_slo(obj)


def test_stored_etag_is_what_swift_listed():
    """A listing's ``hash``: a plain object's MD5, an SLO's manifest ETag."""
    assert objects.stored_etag(RemoteObject(
        name="k", etag="abc-3", internal={"swift-source-etag": "FEED"})) == "feed"
    assert objects.stored_etag(RemoteObject(
        name="k", etag="abc-1", internal={"swift-slo-etag": '"m"'})) == "m"
    assert objects.stored_etag(RemoteObject(name="k", etag="0123")) is None


def test_s3_slo_etag_from_manifest_else_stored_field():
    obj = RemoteObject(name="k", etag="abc-2", size=7,
                       internal={"swift-slo-etag": "MANIFESTMD5", "x-static-large-object": "True"})
    assert objects.is_slo(obj)
    assert objects.swift_etag(obj, MANIFEST) == slo_etag()
    assert objects.swift_etag(obj) == "manifestmd5"
    out = objects.swift_headers(obj, slo_etag())
    assert out["Etag"] == '"%s"' % slo_etag()
    assert out["X-Static-Large-Object"] == "True"
    assert out["X-Manifest-Etag"] == "manifestmd5"


def test_swift_remote_slo_keeps_the_remote_etag():
    obj = RemoteObject(name="k", etag="remoteslo", internal={"swift-slo-etag": "m"},
                       headers={"x-static-large-object": "True"})
    assert objects.swift_etag(obj) == "remoteslo"


def test_manifest_parsing_and_put_body():
    assert objects.manifest_entries(b"not json") is None
    assert objects.manifest_entries(json.dumps(MANIFEST).encode()) == MANIFEST
    body = json.loads(objects.slo_put_manifest(MANIFEST))
    assert body == [{"path": "/segs/a", "etag": MANIFEST[0]["hash"], "size_bytes": 5},
                    {"path": "/segs/b", "etag": MANIFEST[1]["hash"], "size_bytes": 2}]
    assert objects.slo_put_manifest([{"data": "YQ=="}]) is None
    assert objects.slo_put_manifest([dict(MANIFEST[0], sub_slo=True)]) is None


def test_restore_headers_carry_metadata_and_content_headers():
    obj = RemoteObject(name="k", content_type="text/x", metadata={"a": "1"},
                       headers={"cache-control": "no-cache"})
    assert objects.restore_headers(obj, "e") == {
        "Content-Type": "text/x", "Etag": "e", "X-Object-Meta-a": "1",
        "Cache-Control": "no-cache"}


# ---------------------------------------------------------------- routes

def mapping(container, **extra):
    m = {"account": "AUTH_a", "container": container, "protocol": "s3",
         "aws_endpoint": "http://127.0.0.1:1", "aws_identity": "id", "aws_secret": "s3cr3t",
         "aws_bucket": "bkt", "merge_namespaces": True}
    m.update(extra)
    return m


def write(path, mappings):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"containers": mappings}, f)
    os.replace(tmp, path)


def test_route_table_serves_only_merged_mappings(tmp_path):
    path = tmp_path / "c.json"
    write(path, [mapping("c1"), mapping("c2", merge_namespaces=False),
                 mapping("/*", protocol="swift", aws_bucket="pre-", account="AUTH_b",
                         aws_endpoint="http://127.0.0.1:1/auth/v1.0")])
    table = RouteTable(load(str(path)))
    assert table.route("AUTH_a", "c2") is None
    assert table.route("AUTH_x", "c1") is None
    r = table.route("AUTH_a", "c1")
    assert r.key("o") == naming.s3_key("AUTH_a", "c1", "o")
    assert r.names.name(r.key("o")) == "o"
    s = table.route("AUTH_b", "any")
    assert s.provider.bucket == "pre-any" and s.key("o") == "o"
    assert "s3cr3t" not in r.location + r.object_location("o")


def test_custom_prefix_route_hides_manifests(tmp_path):
    path = tmp_path / "c.json"
    write(path, [mapping("c1", custom_prefix="")])
    r = RouteTable(load(str(path))).route("AUTH_a", "c1")
    assert r.names.name(naming.s3_manifest_key("AUTH_a", "c1", "x", "")) is None
    assert r.names.name("x") == "x"


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_watcher_reloads_changes_rate_limited_and_keeps_previous_on_errors(tmp_path, caplog):
    path = tmp_path / "c.json"
    write(path, [mapping("c1")])
    clock = Clock()
    watcher = ConfigWatcher(str(path), 5, logging.getLogger("t"), clock=clock)
    assert watcher.current().route("AUTH_a", "c1") is not None
    write(path, [mapping("c2")])
    assert watcher.current().route("AUTH_a", "c1") is not None  # not checked yet
    clock.now = 5
    assert watcher.current().route("AUTH_a", "c2") is not None
    with open(path, "w") as f:
        f.write("{broken")
    with caplog.at_level(logging.ERROR):
        for step in range(3):
            clock.now = 10 + 5 * step
            assert watcher.current().route("AUTH_a", "c2") is not None
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "invalid JSON" in errors[0].getMessage()
    assert "s3cr3t" not in caplog.text


def test_watcher_invalid_mapping_is_logged_without_secret(tmp_path, caplog):
    path = tmp_path / "c.json"
    write(path, [mapping("c1", protocol="ftp")])
    with caplog.at_level(logging.ERROR):
        watcher = ConfigWatcher(str(path), 0, logging.getLogger("t"))
        assert not watcher.current()
    assert "protocol" in caplog.text and "s3cr3t" not in caplog.text


@pytest.mark.parametrize("content", ["", "[]"])
def test_watcher_start_with_unusable_file_serves_nothing(tmp_path, content):
    path = tmp_path / "c.json"
    path.write_text(content)
    assert not ConfigWatcher(str(path), 0, logging.getLogger("t")).current()
