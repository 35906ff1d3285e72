"""The migration shunt: cloud-shunt in the lab's real proxy answers for
objects and containers a migration has not copied yet (``migrations[]`` of
the same config), before the migrator's first pass, then steps aside as
the local copies appear."""

import http.client
import json
from urllib.parse import urlsplit

import pytest
import swiftclient

from tests.integration.test_migrator import (
    _admin_conn,
    migrate,
    migrator_config,
    s3_migration,
    s3_source,
    swift_migration,
)
from tests.integration.test_shunt import ODD, Raw

NAMES = ["a", "dir/b", "dir/c", ODD, "long-" + "x" * 200]


@pytest.fixture
def serve(lab):
    """Give the proxy's shunt these migrations; nothing after the test (the
    lab's proxy serves every later test too)."""
    def give(*migrations, mappings=()):
        lab.write_shunt_config(list(mappings), migrations=list(migrations))
    yield give
    lab.write_shunt_config([])


def names_of(listing):
    return [e.get("name", e.get("subdir")) for e in listing]


def paged_names(conn, container, limit):
    """Every name of a listing read ``limit`` at a time, in order."""
    out, marker = [], ""
    for _ in range(100):
        _, page = conn.get_container(container, marker=marker, limit=limit)
        if not page:
            return out
        out += names_of(page)
        marker = out[-1]
    raise AssertionError("listing does not end")


def account_listing(conn, query):
    """An account listing with any query (swiftclient cannot ask for ``reverse``)."""
    url = urlsplit(conn.url)
    client = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        client.request("GET", url.path + "?format=json&" + query,
                     headers={"X-Auth-Token": conn.token})
        resp = client.getresponse()
        assert resp.status == 200, resp.status
        return json.loads(resp.read())
    finally:
        client.close()


def missing(call):
    with pytest.raises(swiftclient.ClientException) as e:
        call()
    return e.value.http_status


def test_s3_source_read_listed_and_written_before_the_first_pass(lab, tmp_path, unique,
                                                                  serve):
    bucket, container = "ms-" + unique, "msh-" + unique  # renamed on the way in
    s3_source(lab, bucket, NAMES, meta={"color": "blue"})
    m = s3_migration(lab, bucket, container=container)
    serve(m)
    conn = lab.swift_connection("test")
    # objects: from the source, with Swift's headers
    headers, body = conn.get_object(container, ODD)
    assert body == ("data of " + ODD).encode()
    assert headers["content-type"] == "text/x-test"
    assert headers["x-object-meta-color"] == "blue"
    assert int(conn.head_object(container, "a")["content-length"]) == len(b"data of a")
    assert conn.get_object(container, "dir/b", headers={"Range": "bytes=5-6"})[1] == b"of"
    assert missing(lambda: conn.get_object(container, "not-at-the-source")) == 404
    # the container: listed and HEADed from the source
    _, listing = conn.get_container(container)
    assert names_of(listing) == sorted(NAMES)
    assert all(e["content_location"].endswith("/" + bucket) for e in listing)
    _, listing = conn.get_container(container, delimiter="/")
    assert names_of(listing) == sorted(["a", "dir/", ODD, "long-" + "x" * 200])
    assert conn.head_container(container)["content-location"].endswith("/" + bucket)
    # a PUT creates the local container; the listing splices both sides
    conn.put_object(container, "written-locally", b"mine")
    assert conn.head_container(container)["x-container-object-count"] == "1"
    assert paged_names(conn, container, 2) == sorted(NAMES + ["written-locally"])
    # the migrator's pass makes everything local: the same listing, no duplicates
    migrate(migrator_config(lab, tmp_path / "m.json", [m]))
    _, listing = conn.get_container(container)
    assert names_of(listing) == sorted(NAMES + ["written-locally"])
    assert not any("content_location" in e for e in listing)
    assert conn.get_object(container, "written-locally")[1] == b"mine"


def test_migration_prefix_limits_what_is_served(lab, tmp_path, unique, serve):
    bucket = "mp-" + unique
    s3_source(lab, bucket, ["keep/1", "keep/2", "other/3", "kee"])
    serve(s3_migration(lab, bucket, prefix="keep/"))
    conn = lab.swift_connection("test")
    assert conn.get_object(bucket, "keep/1")[1] == b"data of keep/1"
    assert missing(lambda: conn.get_object(bucket, "other/3")) == 404
    assert missing(lambda: conn.get_object(bucket, "kee")) == 404
    assert names_of(conn.get_container(bucket)[1]) == ["keep/1", "keep/2"]
    assert names_of(conn.get_container(bucket, delimiter="/")[1]) == ["keep/"]


def test_swift_account_migration_lists_source_containers(lab, tmp_path, unique, serve):
    src_account, dst_account = "AUTH_mssrc" + unique, "AUTH_msdst" + unique
    source = _admin_conn(lab, src_account)
    containers = ["c %d \u00e9" % i for i in range(3)]
    for c in containers:
        source.put_container(c)
        source.put_object(c, "o", c.encode(), headers={"X-Object-Meta-K": "v"})
    identity, secret = lab.credentials("admin")
    m = {"account": dst_account, "aws_bucket": "/*", "protocol": "swift",
         "aws_endpoint": lab.auth_url, "aws_identity": identity, "aws_secret": secret,
         "remote_account": src_account}
    serve(m)
    local = _admin_conn(lab, dst_account)
    local.put_container("only-local")
    _, listing = local.get_account()
    assert names_of(listing) == sorted(containers + ["only-local"])
    assert all(e["content_location"].endswith("/" + e["name"])
               for e in listing if e["name"] != "only-local")
    assert names_of(local.get_account(prefix="c 1")[1]) == [containers[1]]
    assert names_of(local.get_account(marker=containers[0], limit=1)[1]) == [containers[1]]
    # a source container not created locally yet
    headers, body = local.get_object(containers[0], "o")
    assert body == containers[0].encode() and headers["x-object-meta-k"] == "v"
    assert local.head_container(containers[0])["x-container-object-count"] == "1"
    assert names_of(local.get_container(containers[2])[1]) == ["o"]
    assert missing(lambda: local.get_container("not-at-the-source")) == 404
    local.put_object(containers[1], "new", b"local write")
    migrate(migrator_config(lab, tmp_path / "m.json", [m]))
    _, listing = local.get_account()
    assert names_of(listing) == sorted(containers + ["only-local"])
    assert not any("content_location" in e for e in listing)
    assert names_of(local.get_container(containers[1])[1]) == ["new", "o"]


def test_s3_account_migration_lists_source_buckets(lab, unique, serve):
    buckets = ["msa-%s-%d" % (unique, i) for i in range(3)]
    for b in buckets:
        s3_source(lab, b, ["o"])
    dst_account = "AUTH_msa" + unique
    m = s3_migration(lab, "/*", account=dst_account)
    serve(m)
    local = _admin_conn(lab, dst_account)
    local.put_container(buckets[1])  # one already local
    assert names_of(local.get_account(prefix="msa-" + unique)[1]) == buckets
    assert names_of(account_listing(local, "prefix=msa-%s&reverse=on" % unique)) == \
        buckets[::-1]
    assert names_of(local.get_account(prefix="msa-" + unique, delimiter="-")[1]) == \
        ["msa-%s-" % unique]
    assert local.get_object(buckets[0], "o")[1] == b"data of o"
    assert names_of(local.get_container(buckets[2])[1]) == ["o"]


def test_unauthorized_users_see_the_usual_errors(lab, unique, serve):
    bucket = "mu-" + unique
    s3_source(lab, bucket, ["secret"])
    serve(s3_migration(lab, bucket))
    reader = Raw(lab, "reader")
    status, _, body = reader.request("GET", bucket, "secret")
    assert status == 403 and b"data of" not in body
    assert reader.request("HEAD", bucket, "secret")[0] == 403
    assert reader.request("GET", bucket)[0] == 403
    assert reader.request("PUT", bucket, "sneaky")[0] == 403
    anonymous = Raw(lab)
    anonymous.token = "AUTH_tk-not-a-token"
    assert anonymous.request("GET", bucket, "secret")[0] == 401
    assert anonymous.request("GET", bucket)[0] == 401
    # nothing was created on their behalf (the account listing is Swift's own)
    _, containers = lab.swift_connection("test").get_account(prefix=bucket)
    assert containers == []
    assert Raw(lab).request("GET", bucket, "secret")[0] == 200


def test_unreachable_source(lab, unique, serve):
    bucket = "md-" + unique
    conn = lab.swift_connection("test")
    conn.put_container("mdl-" + unique)
    conn.put_object("mdl-" + unique, "here", b"local")
    dead = "http://127.0.0.1:%d" % (lab.base + 48)  # nothing listens there
    serve(s3_migration(lab, bucket, aws_endpoint=dead),
          s3_migration(lab, bucket, container="mdl-" + unique, aws_endpoint=dead))
    raw = Raw(lab)
    status, headers, body = raw.request("GET", bucket, "anything")
    assert status == 503 and b"remote store" in body
    assert b"onespace-lab-secret" not in body and "onespace-lab-secret" not in str(headers)
    assert raw.request("GET", bucket)[0] == 503  # nothing local to list
    # an existing container keeps its local entries
    status, headers, body = raw.request("GET", "mdl-" + unique, query="format=json")
    assert status == 200 and [e["name"] for e in json.loads(body)] == ["here"]
    assert headers["x-onespace-remote-listing"] == "unavailable"
    # a PUT into a missing container is Swift's 404: the source cannot say it exists
    assert raw.request("PUT", bucket, "x")[0] == 404


def test_swift_source_object_delete_never_reaches_the_source(lab, unique, serve):
    src = lab.swift_connection("test2")
    container = "mdel-" + unique
    src.put_container(container)
    src.put_object(container, "kept", b"at the source")
    serve(swift_migration(lab, container))
    conn = lab.swift_connection("test")
    assert conn.get_object(container, "kept")[1] == b"at the source"
    assert missing(lambda: conn.delete_object(container, "kept")) == 404
    assert src.get_object(container, "kept")[1] == b"at the source"
