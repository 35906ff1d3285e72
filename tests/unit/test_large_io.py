"""Large-object I/O against fakes: parts streamed from ranged reads, aborts on failure."""

import hashlib

import pytest

from onespace.cluster import LocalObject
from onespace.providers.base import RemoteUnavailable
from onespace.sync import large
from onespace.sync.large import LargeObjectError, Piece
from onespace.sync.large_io import Job, LargeObjects
from onespace.sync.worker import ContainerSyncer


def md5(data):
    return hashlib.md5(data).hexdigest()


class FakeCluster:
    def __init__(self, objects):
        self.objects = objects  # (container, name) -> bytes
        self.gets = []

    def get_object(self, account, container, obj, headers=None):
        data = self.objects.get((container, obj))
        if data is None:
            return None, None
        rng = (headers or {}).get("Range")
        self.gets.append((container, obj, rng))
        body = data
        if rng:
            first, last = (int(x) for x in rng[len("bytes="):].split("-"))
            body = data[first:last + 1]
        local = LocalObject({"ETag": md5(data), "Content-Length": str(len(data)),
                             "X-Timestamp": "1000.00000"})
        # a body iterator in small chunks, like Swift's
        return local, iter([body[i:i + 3] for i in range(0, len(body), 3)])


class FakeS3:
    def __init__(self, fail_part=None, stale=(), abort_fails=False):
        self.fail_part, self.abort_fails = fail_part, abort_fails
        self.stale = list(stale)
        self.parts, self.aborted, self.completed, self.created = {}, [], [], []

    def error(self, cls, op, key=None, reason="", **kw):
        return cls("fake", op, key, reason=reason, **kw)

    def list_multipart_uploads(self, prefix=""):
        return [u for u in self.stale if u[0].startswith(prefix)]

    def create_multipart(self, key, content_type=None, metadata=None, internal=None,
                         headers=None):
        self.created.append((key, content_type, metadata, internal))
        return "upload-%d" % len(self.created)

    def upload_part(self, key, upload_id, number, body, size, md5_hex=None):
        data = b""
        while True:
            chunk = body.read(4)
            if not chunk:
                break
            data += chunk
        if number == self.fail_part:
            raise RemoteUnavailable("fake", "upload part", key, reason="connection refused")
        assert len(data) == size
        if md5_hex:
            assert md5(data) == md5_hex
        self.parts[number] = data
        return md5(data)

    def complete_multipart(self, key, upload_id, parts):
        self.completed.append((key, upload_id, parts))
        return large.mpu_etag([e for _, e in parts])

    def abort_multipart(self, key, upload_id):
        if self.abort_fails:
            raise RemoteUnavailable("fake", "abort", key, reason="down")
        self.aborted.append((key, upload_id))
        return True


class FakeSyncer(ContainerSyncer):
    def __init__(self, cluster, provider, **mapping):
        self.mapping = {"protocol": "s3", "aws_bucket": "b", "retain_local": True,
                        "min_segment_size": 5, "max_part_size": 8}
        self.mapping.update(mapping)
        self.cluster, self.provider = cluster, provider
        self.account, self.container, self.is_s3 = "AUTH_a", "c", True
        self.tick = lambda n=1: None


class Row:
    name = "obj"
    data_time = 1700000000.0


def test_plain_object_in_parts_from_ranged_reads():
    data = b"0123456789AB"
    cluster, s3 = FakeCluster({("c", "obj"): data}), FakeS3()
    lo = LargeObjects(FakeSyncer(cluster, s3))
    local = LocalObject({"ETag": md5(data), "Content-Length": "12", "Content-Type": "text/x"})
    assert lo.upload_plain(Row(), "k", local) == (local, 12)
    assert s3.parts == {1: b"01234", 2: b"56789", 3: b"AB"}
    assert s3.created == [("k", "text/x", {}, {"swift-source-etag": md5(data)})]
    assert cluster.gets == [("c", "obj", "bytes=0-4"), ("c", "obj", "bytes=5-9"),
                            ("c", "obj", "bytes=10-11")]
    assert s3.completed and not s3.aborted


def slo_job(objects):
    pieces = tuple(Piece("segs", n, 0, len(d), md5(d), len(d)) for n, d in objects)
    source = large.LargeSource("slo", "m" * 32, pieces, manifest=b"[]")
    local = LocalObject({"ETag": "m" * 32, "X-Static-Large-Object": "True"})
    return Job(Row(), "k", local, source), pieces


def test_slo_parts_combine_and_split_segments():
    segs = [("a", b"aaa"), ("b", b"bbbbbbbbbbbb"), ("c", b"cc")]
    cluster = FakeCluster({("segs", n): d for n, d in segs})
    s3 = FakeS3()
    lo = LargeObjects(FakeSyncer(cluster, s3))
    job, pieces = slo_job(segs)
    plan = large.plan_parts([p.length for p in pieces], 5, 8)
    lo.multipart_upload(job, plan, pieces, None, {}, {})
    assert b"".join(s3.parts[n] for n in sorted(s3.parts)) == b"aaa" + b"b" * 12 + b"cc"
    assert [len(s3.parts[n]) for n in sorted(s3.parts)] == [8, 7, 2]
    assert ("segs", "b", "bytes=0-4") in cluster.gets  # a segment split over two parts
    assert ("segs", "b", "bytes=5-11") in cluster.gets


def test_failed_part_aborts_the_upload():
    data = b"x" * 12
    s3 = FakeS3(fail_part=2)
    lo = LargeObjects(FakeSyncer(FakeCluster({("c", "obj"): data}), s3))
    local = LocalObject({"ETag": md5(data), "Content-Length": "12"})
    with pytest.raises(RemoteUnavailable):
        lo.upload_plain(Row(), "k", local)
    assert s3.aborted == [("k", "upload-1")] and not s3.completed


def test_abort_that_fails_keeps_the_original_error():
    data = b"x" * 12
    s3 = FakeS3(fail_part=1, abort_fails=True)
    lo = LargeObjects(FakeSyncer(FakeCluster({("c", "obj"): data}), s3))
    with pytest.raises(RemoteUnavailable, match="connection refused"):
        lo.upload_plain(Row(), "k", LocalObject({"ETag": md5(data), "Content-Length": "12"}))


def test_stale_uploads_of_the_key_are_aborted_first():
    data = b"x" * 3
    s3 = FakeS3(stale=[("k", "old-1", 1.0), ("k-other", "old-2", 1.0)])
    lo = LargeObjects(FakeSyncer(FakeCluster({("c", "obj"): data}), s3))
    lo.upload_plain(Row(), "k", LocalObject({"ETag": md5(data), "Content-Length": "3"}))
    assert s3.aborted == [("k", "old-1")]  # not the other key's


def test_segment_that_changed_breaks_the_slo_and_aborts():
    segs = [("a", b"aaaaa"), ("b", b"bbbbb")]
    cluster = FakeCluster({("segs", "a"): b"aaaaa", ("segs", "b"): b"BBBBB"})  # rewritten
    s3 = FakeS3()
    lo = LargeObjects(FakeSyncer(cluster, s3))
    job, pieces = slo_job(segs)
    with pytest.raises(LargeObjectError, match="segs/b changed") as e:
        lo.multipart_upload(job, large.plan_parts([5, 5], 5, 8), pieces, None, {}, {})
    assert not e.value.retriable
    assert s3.aborted == [("k", "upload-1")] and 1 in s3.parts and 2 not in s3.parts
