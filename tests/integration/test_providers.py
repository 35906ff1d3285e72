"""Providers against real servers: SeaweedFS and Swift's s3api (S3), and a
second Swift account.  Every test runs on all three targets, in a bucket or
container of its own."""

import hashlib
import io
import json
import logging
import random
import resource
import time
import traceback
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError
from swiftclient import ClientException

from onespace.providers import (AuthFailed, IntegrityError, NotFound, ProviderError,
                                RemoteUnavailable, make_provider)

TARGETS = ("seaweedfs", "s3api", "swift")
CLOSED_PORT = 19099  # inside the lab's range, nothing listens there
MiB = 1024 * 1024


def unique_name():
    return "prov-" + uuid.uuid4().hex[:12]


def mapping(lab, target, bucket, **extra):
    if target == "swift":
        return lab.swift_mapping("src", bucket, **extra)
    return lab.s3_mapping("src", bucket, target=target, **extra)


def label_for(target):
    return "containers[0] (AUTH_test/src -> %s)" % target


@pytest.fixture(params=TARGETS)
def target(request):
    return request.param


@pytest.fixture
def new_bucket(lab, target):
    """Makes unique bucket/container names, removed after the test (SeaweedFS
    gives every bucket volumes of its own, and the lab's has few)."""
    names = []

    def make():
        names.append(unique_name())
        return names[-1]
    yield make
    for name in names:
        remove_bucket(lab, target, name)


def remove_bucket(lab, target, name):
    if target == "swift":
        conn = lab.swift_connection("test2")
        try:
            for obj in conn.get_container(name, full_listing=True)[1]:
                conn.delete_object(name, obj["name"])
            conn.delete_container(name)
        except ClientException as e:
            if e.http_status != 404:
                raise
        return
    s3 = lab.s3_client(target)
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=obj["Key"])
        s3.delete_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchBucket":
            raise


@pytest.fixture
def provider(lab, target, new_bucket):
    """A provider on a fresh bucket/container of ``target``."""
    prov = make_provider(mapping(lab, target, new_bucket()), label=label_for(target))
    prov.check_access(create=True)
    yield prov
    prov.close()


def put_bytes(provider, key, data, stream=False, **kwargs):
    """Upload ``data`` as bytes, or with ``stream`` as a forward-only stream."""
    body = ForwardOnly(data) if stream else data
    return provider.put(key, body, len(data), hashlib.md5(data).hexdigest(), **kwargs)


def read_all(provider, key, byte_range=None):
    obj, body = provider.get(key, byte_range=byte_range)
    try:
        return obj, b"".join(body)
    finally:
        body.close()


class ForwardOnly:
    """Bytes that can be read once, forward only: no seek, tell or len."""

    def __init__(self, data):
        self._buffer = io.BytesIO(data)

    def read(self, n=-1):
        return self._buffer.read(n)


class PatternStream:
    """``size`` bytes of a repeated pseudo-random 1 MiB block, made as they
    are read; no seek, no len: like a Swift GET being relayed."""

    BLOCK = random.Random(42).randbytes(MiB)

    def __init__(self, size, on_read=None):
        self.size = size
        self.pos = 0
        self.on_read = on_read

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.size - self.pos
        out = bytearray()
        while len(out) < n and self.pos < self.size:
            offset = self.pos % MiB
            take = min(n - len(out), MiB - offset, self.size - self.pos)
            out += self.BLOCK[offset:offset + take]
            self.pos += take
        if self.on_read:
            self.on_read()
        return bytes(out)

    @classmethod
    def md5(cls, size):
        digest, stream = hashlib.md5(), cls(size)
        for chunk in iter(lambda: stream.read(MiB), b""):
            digest.update(chunk)
        return digest.hexdigest()


# ---------------------------------------------------------------- objects

def test_put_head_get(provider):
    data = b"hello, remote world\n" * 100
    etag = put_bytes(provider, "dir/obj.txt", data, stream=True, content_type="text/plain",
                     metadata={"Color": "Blue", "Note": "caf\u00e9 a%41 \U0001F600"},
                     internal={"swift-slo-etag": "0123abcd"})
    assert etag == hashlib.md5(data).hexdigest()

    head = provider.head("dir/obj.txt")
    assert head.name == "dir/obj.txt"
    assert head.etag == etag and head.size == len(data)
    assert head.content_type == "text/plain"
    assert head.metadata == {"color": "Blue", "note": "caf\u00e9 a%41 \U0001F600"}
    assert head.internal == {"swift-slo-etag": "0123abcd"}
    assert abs(head.last_modified - time.time()) < 120
    assert head.headers["content-length"] == str(len(data))

    obj, got = read_all(provider, "dir/obj.txt")
    assert got == data
    assert obj.etag == etag and obj.metadata == head.metadata


def test_head_and_get_of_missing(provider):
    assert provider.head("nope") is None
    with pytest.raises(NotFound) as info:
        provider.get("nope")
    assert "nope" in str(info.value) and not info.value.retriable


def test_ranged_get(provider):
    data = bytes(range(256)) * 40
    put_bytes(provider, "ranged", data)
    obj, got = read_all(provider, "ranged", byte_range=(100, 1099))
    assert got == data[100:1100]
    assert obj.size == len(data)  # the whole object's size, not the range's


def test_empty_object(provider):
    assert put_bytes(provider, "empty", b"") == hashlib.md5(b"").hexdigest()
    assert provider.head("empty").size == 0
    assert read_all(provider, "empty")[1] == b""


def test_post_metadata_keeps_data(provider):
    data = b"data that must not be sent again"
    extra = {"X-Delete-At": str(int(time.time()) + 86400)} if provider.protocol == "swift" \
        else {"Cache-Control": "max-age=60"}
    etag = put_bytes(provider, "obj", data, content_type="text/plain",
                     metadata={"old": "1"}, internal={"swift-slo-etag": "feed"}, headers=extra)

    provider.post_metadata("obj", "application/x-new", {"new": "2", "Mixed": "\u00fcml"})

    head = provider.head("obj")
    assert head.metadata == {"new": "2", "mixed": "\u00fcml"}
    assert head.content_type == "application/x-new"
    assert head.etag == etag and head.size == len(data)
    assert head.internal == {"swift-slo-etag": "feed"}  # kept when not given
    for name, value in extra.items():
        assert head.headers[name.lower()] == value  # a POST/REPLACE would drop it
    assert read_all(provider, "obj")[1] == data


def test_post_metadata_changes_only_the_internal_fields_given(provider):
    put_bytes(provider, "obj", b"x", internal={"swift-slo-etag": "feed",
                                                "swift-delete-at": "1999999999"})
    provider.post_metadata("obj", "text/plain", {}, internal={"swift-source-dlo-etag": "d1",
                                                             "swift-delete-at": None})
    assert provider.head("obj").internal == {"swift-source-dlo-etag": "d1",
                                             "swift-slo-etag": "feed"}


def test_post_metadata_removes_content_headers_given_as_none(provider):
    put_bytes(provider, "obj", b"x", headers={"Content-Encoding": "gzip",
                                              "Content-Language": "fr"})
    provider.post_metadata("obj", "text/plain", {}, headers={"Content-Encoding": None})
    head = provider.head("obj")
    assert "content-encoding" not in head.headers
    assert head.headers["content-language"] == "fr"


def test_post_metadata_of_missing(provider):
    with pytest.raises(NotFound):
        provider.post_metadata("nope", "text/plain", {"a": "b"})


def test_delete(provider):
    put_bytes(provider, "gone", b"bye")
    assert provider.delete("gone")  # what was deleted (S3: the object), truthy
    assert provider.head("gone") is None
    assert provider.delete("gone") is False
    assert provider.delete("never-there") is False


# ---------------------------------------------------------------- listings

def test_list_pages_with_limit_and_marker(provider):
    names = ["a", "b/1", "b/2", "c", "d", "e"]
    for name in names:
        put_bytes(provider, name, name.encode())

    page = provider.list(limit=2)
    assert [o.name for o in page] == ["a", "b/1"] and page.truncated
    page = provider.list(marker="b/1", limit=2)
    assert [o.name for o in page] == ["b/2", "c"]
    assert page[0].etag == hashlib.md5(b"b/2").hexdigest() and page[0].size == 3
    assert abs(page[0].last_modified - time.time()) < 120
    page = provider.list(marker="d", limit=2)
    assert [o.name for o in page] == ["e"] and not page.truncated

    assert [o.name for o in provider.iter_list(limit=2)] == names
    assert [o.name for o in provider.iter_list(marker="a", end_marker="d", limit=2)] == [
        "b/1", "b/2", "c"]
    assert [o.name for o in provider.list(prefix="b/")] == ["b/1", "b/2"]


def test_list_with_delimiter(provider):
    for name in ("top", "dir/a", "dir/b", "dir/sub/c", "other/x", "zed"):
        put_bytes(provider, name, b"x")

    page = provider.list(delimiter="/")
    assert [(o.name, o.is_prefix) for o in page] == [
        ("dir/", True), ("other/", True), ("top", False), ("zed", False)]
    assert [(o.name, o.is_prefix) for o in provider.list(prefix="dir/", delimiter="/")] == [
        ("dir/a", False), ("dir/b", False), ("dir/sub/", True)]
    # paging through "directories" must not return one twice
    walked = [o.name for o in provider.iter_list(delimiter="/", limit=1)]
    assert walked == ["dir/", "other/", "top", "zed"]


# ---------------------------------------------------------------- names

ODD_NAMES = [
    "emoji \U0001F600/\U0001F4A9.txt",
    "spaces in  name ",
    "percent %41%zz%",
    "plus+and=equals&amp;",
    "question?hash#semi;colon",
    "caf\u00e9/\u4e2d\u6587",
]


def test_odd_names_round_trip(provider):
    for name in ODD_NAMES:
        put_bytes(provider, name, name.encode("utf-8"))
    for name in ODD_NAMES:
        assert provider.head(name).etag == hashlib.md5(name.encode("utf-8")).hexdigest()
        assert read_all(provider, name)[1] == name.encode("utf-8")
    assert [o.name for o in provider.iter_list(limit=2)] == sorted(
        ODD_NAMES, key=lambda n: n.encode("utf-8"))
    for name in ODD_NAMES:
        assert provider.delete(name)


def test_name_parts_of_300_bytes(provider, target):
    inner = "short/" + "p" * 300 + "/end"
    last = "short/" + "q" * 300
    put_bytes(provider, inner, b"x")
    assert provider.head(inner).size == 1
    if target == "seaweedfs":
        # SeaweedFS limits the last '/'-separated part (the file name) to 255 bytes
        with pytest.raises(ProviderError) as info:
            put_bytes(provider, last, b"x")
        assert not info.value.retriable
        assert "KeyTooLong" in str(info.value) and last in str(info.value)
        assert [o.name for o in provider.list()] == [inner]
        return
    put_bytes(provider, last, b"x")
    assert provider.head(last).size == 1
    assert [o.name for o in provider.list()] == [inner, last]


def test_names_up_to_1024_bytes(provider):
    # '/'-parts of at most 255 bytes so that SeaweedFS takes it too; mostly
    # ASCII because the lab's Swift keeps metadata in ext4 xattrs (about 4 KB)
    parts = ["\U0001F600" * 4 + "a" * 200, "b" * 255, "c" * 255, "d" * 255]
    longest = "/".join(parts)
    longest += "/" + "e" * (1023 - len(longest.encode("utf-8")))
    assert len(longest.encode("utf-8")) == 1024
    put_bytes(provider, longest, b"long")
    assert provider.head(longest).size == 4
    assert [o.name for o in provider.list()] == [longest]

    too_long = "/".join(["f" * 255] * 4) + "/gggg"  # 1025 bytes
    with pytest.raises(ProviderError) as info:
        put_bytes(provider, too_long, b"too long")
    assert not info.value.retriable
    assert info.value.status == 400
    assert too_long in str(info.value)
    assert provider.head(too_long) is None


# ---------------------------------------------------------------- integrity

def test_corrupted_upload_is_refused(provider):
    data = b"the data"
    wrong = hashlib.md5(b"other data").hexdigest()
    with pytest.raises(IntegrityError) as info:
        provider.put("corrupt", ForwardOnly(data), len(data), wrong)
    assert info.value.retriable
    assert "corrupt" in str(info.value)
    assert provider.head("corrupt") is None


def test_streamed_64_mib_with_bounded_memory(provider):
    size = 64 * MiB
    md5 = PatternStream.md5(size)
    put_bytes(provider, "warm-up", b"x" * MiB)  # first-use allocations aside
    read_all(provider, "warm-up")

    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    baseline = current_rss()
    samples = []
    stream = PatternStream(size, on_read=lambda: samples.append(current_rss()))
    assert provider.put("big", stream, size, md5) == md5
    assert stream.pos == size

    digest, received = hashlib.md5(), 0
    obj, body = provider.get("big")
    with body:
        for chunk in body:
            digest.update(chunk)
            received += len(chunk)
            if received % (4 * MiB) < len(chunk):
                samples.append(current_rss())
    assert received == size and digest.hexdigest() == md5 and obj.size == size

    peak_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert peak_growth < 16 * MiB
    assert max(samples) - baseline < 16 * MiB


def current_rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


# ---------------------------------------------------------------- buckets

def test_check_access_of_missing_bucket(lab, target, new_bucket):
    name = new_bucket()
    prov = make_provider(mapping(lab, target, name), label=label_for(target))
    with pytest.raises(NotFound) as info:
        prov.check_access()
    assert info.value.label == label_for(target) and name in str(info.value)
    prov.check_access(create=True)
    prov.check_access()
    put_bytes(prov, "k", b"v")


def test_with_bucket_reaches_another_bucket(provider, new_bucket):
    other = provider.with_bucket(new_bucket())
    other.check_access(create=True)
    put_bytes(other, "k", b"other")
    assert provider.head("k") is None
    assert read_all(other, "k")[1] == b"other"


@pytest.mark.parametrize("target", ["swift"])
def test_swift_container_gets_the_storage_policy(lab, new_bucket):
    # a non-default policy when the cluster has one (the lab's proxy may only
    # know Policy-0: Swift reads policies from /etc/swift, not swift_dir)
    with urllib.request.urlopen(lab.proxy_url + "/info") as resp:
        policies = json.load(resp)["swift"]["policies"]
    policy = sorted(policies, key=lambda p: bool(p.get("default")))[0]["name"]
    name = new_bucket()
    prov = make_provider(lab.swift_mapping("src", name, storage_policy=policy))
    prov.check_access(create=True)
    headers = lab.swift_connection("test2").head_container(name)
    assert headers["x-storage-policy"] == policy


@pytest.mark.parametrize("target", ["swift"])
def test_swift_container_with_unknown_storage_policy(lab, new_bucket):
    prov = make_provider(lab.swift_mapping("src", new_bucket(), storage_policy="nope"),
                         label=label_for("swift"))
    with pytest.raises(ProviderError) as info:
        prov.check_access(create=True)
    assert not info.value.retriable
    assert "Invalid X-Storage-Policy 'nope'" in str(info.value)


@pytest.mark.parametrize("target", ["swift"])
def test_swift_remote_account(lab, new_bucket):
    """A reseller admin writes into another account's container."""
    name = new_bucket()
    identity, secret = lab.credentials("admin")
    prov = make_provider(lab.swift_mapping("src", name, aws_identity=identity,
                                           aws_secret=secret, remote_account="AUTH_test2"))
    prov.check_access(create=True)
    put_bytes(prov, "obj", b"for test2")
    _, body = lab.swift_connection("test2").get_object(name, "obj")
    assert body == b"for test2"


# ---------------------------------------------------------------- failures

SECRET = "Distinctive-S3cr3t-4f9e2a7c"


def test_wrong_credentials(lab, target):
    prov = make_provider(mapping(lab, target, unique_name(), aws_secret=SECRET),
                         label=label_for(target))
    with pytest.raises(AuthFailed) as info:
        prov.check_access(create=True)
    message = str(info.value)
    assert message.startswith(label_for(target) + ": authentication failed (")
    assert " at http://127.0.0.1:" in message
    assert not info.value.retriable
    assert SECRET not in message
    with pytest.raises(AuthFailed):
        put_bytes(prov, "k", b"v")


def test_secret_never_in_messages_or_logs(lab, target, caplog):
    caplog.set_level(logging.DEBUG)
    for logger in ("botocore", "boto3", "urllib3", "swiftclient", "requests"):
        caplog.set_level(logging.DEBUG, logger=logger)
    prov = make_provider(mapping(lab, target, unique_name(), aws_secret=SECRET),
                         label=label_for(target))
    errors = []
    for call in (lambda: prov.check_access(create=True),
                 lambda: prov.head("k"),
                 lambda: put_bytes(prov, "k", b"v", metadata={"a": "b"}),
                 lambda: prov.list()):
        with pytest.raises(ProviderError) as info:
            call()
        errors.append(info.value)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    texts = [caplog.text] + [r.getMessage() for r in caplog.records]
    texts += ["".join(traceback.format_exception(e)) for e in errors]
    for text in texts:
        assert SECRET not in text
        assert SECRET[:8] not in text  # not even the prefix swiftclient used to show


def test_unreachable_endpoint(lab, target):
    if target == "swift":
        extra = {"aws_endpoint": "http://127.0.0.1:%d/auth/v1.0" % CLOSED_PORT}
    else:
        extra = {"aws_endpoint": "http://127.0.0.1:%d" % CLOSED_PORT}
    prov = make_provider(mapping(lab, target, unique_name(), **extra), label=label_for(target))
    started = time.time()
    for call in (prov.check_access, lambda: put_bytes(prov, "k", b"v")):
        with pytest.raises(RemoteUnavailable) as info:
            call()
        assert info.value.retriable
        assert str(info.value).startswith(label_for(target) + ": ")
        assert "127.0.0.1:%d" % CLOSED_PORT in str(info.value)
    assert time.time() - started < 30
