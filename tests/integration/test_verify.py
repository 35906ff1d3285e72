"""onespace-verify against the lab's real remotes: SeaweedFS, Swift's s3api, Swift."""

import socket
import subprocess
import sys
import uuid

import pytest

from onespace.lab import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.integration.conftest import write_config
from tests.integration.remote import RemoteView
from tests.integration.test_providers import remove_bucket

TARGETS = ("seaweedfs", "s3api", "swift")
WRONG_SECRET = "Wrong-S3cr3t-for-verify-7d1c"


@pytest.fixture(params=TARGETS)
def target(request):
    return request.param


@pytest.fixture
def buckets(lab):
    """Unique bucket/container names per target, removed after the test."""
    made = []

    def make(target, create=True):
        name = "verify-" + uuid.uuid4().hex[:12]
        made.append((target, name))
        if create:
            RemoteView(lab, target, name).create()
        return name
    yield make
    for target, name in made:
        remove_bucket(lab, target, name)


def mapping(lab, target, bucket, container="photos", **extra):
    if target == "swift":
        return lab.swift_mapping(container, bucket, **extra)
    return lab.s3_mapping(container, bucket, target=target, **extra)


def secrets_of(lab):
    return {S3_SECRET_KEY, lab.credentials("test2")[1], lab.credentials("test3")[1]}


def verify(tmp_path, conf, *args):
    """Run the console script's code as the operator would: (status, stdout lines)."""
    path = write_config(tmp_path / ("verify-%s.json" % uuid.uuid4().hex[:6]), conf)
    # the timeout only guards against a hang; no test depends on timing
    p = subprocess.run([sys.executable, "-m", "onespace.verify", "--config", path, *args],
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.stderr == "", p.stderr
    return p.returncode, p.stdout.splitlines()


def closed_port():
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_read_write_check_passes_and_leaves_nothing(lab, tmp_path, target, buckets):
    bucket = buckets(target)
    conf = lab.sync_config(1, [mapping(lab, target, bucket)])
    status, lines = verify(tmp_path, conf)
    assert status == 0, lines
    assert lines == ["containers[0] (AUTH_test/photos -> %s): OK" % _remote(lab, target, bucket)]
    assert RemoteView(lab, target, bucket).keys() == []


def _remote(lab, target, bucket):
    if target == "swift":
        return "swift %s %s" % (lab.auth_url, bucket)
    endpoint = lab.proxy_url if target == "s3api" else lab.s3_endpoint
    return "s3 %s/%s" % (endpoint.rstrip("/"), bucket)


def test_s3_prefixes_and_per_account_mappings_use_their_own_naming(lab, tmp_path, buckets):
    """The test object goes where the daemon would write: default naming,
    a custom prefix, and a per-account ("/*") mapping."""
    bucket = buckets("seaweedfs")
    conf = lab.sync_config(1, [
        mapping(lab, "seaweedfs", bucket),
        mapping(lab, "seaweedfs", bucket, container="docs", custom_prefix="archive/docs"),
        mapping(lab, "seaweedfs", bucket, container="/*", account="AUTH_other")])
    status, lines = verify(tmp_path, conf)
    assert status == 0, lines
    assert [line.split(" (")[0] for line in lines] == [
        "containers[0]", "containers[1]", "containers[2]"]
    assert all(line.endswith("): OK") for line in lines), lines
    assert RemoteView(lab, "seaweedfs", bucket).keys() == []


def test_swift_per_account_mapping_checks_the_account_only(lab, tmp_path):
    conf = lab.sync_config(1, [lab.swift_mapping("/*", "verify-%s-" % uuid.uuid4().hex[:8])])
    before = lab.swift_connection("test2").get_account(full_listing=True)[1]
    status, lines = verify(tmp_path, conf)
    assert status == 0, lines
    assert lines[0].startswith("containers[0] (AUTH_test//* -> swift ")
    assert lines[0].endswith(": OK (account checked; onespace-sync creates each "
                             "<aws_bucket><container>)")
    assert lab.swift_connection("test2").get_account(full_listing=True)[1] == before


def test_wrong_secret_fails_naming_the_mapping_and_never_shows_a_secret(
        lab, tmp_path, target, buckets):
    good, bad = buckets(target), buckets(target)
    conf = lab.sync_config(1, [mapping(lab, target, good),
                               mapping(lab, target, bad, container="other",
                                       aws_secret=WRONG_SECRET)])
    status, lines = verify(tmp_path, conf)
    assert status == 1, lines
    assert len(lines) == 2, lines
    assert lines[0].startswith("containers[0] (AUTH_test/photos -> ") and lines[0].endswith(": OK")
    assert lines[1].startswith("containers[1] (AUTH_test/other -> %s): FAILED: "
                               % _remote(lab, target, bad))
    assert "authentication failed" in lines[1]
    output = "\n".join(lines)
    for secret in secrets_of(lab) | {WRONG_SECRET}:
        assert secret not in output
        assert secret[:8] not in output


def test_missing_s3_bucket_fails(lab, tmp_path, buckets):
    bucket = buckets("seaweedfs", create=False)
    conf = lab.sync_config(1, [mapping(lab, "seaweedfs", bucket)])
    for args in ((), ("--read-only",)):
        status, lines = verify(tmp_path, conf, *args)
        assert status == 1, lines
        assert lines[0].startswith("containers[0] (AUTH_test/photos -> s3 ")
        assert ": FAILED: access: " in lines[0] and "NoSuchBucket" in lines[0], lines


def test_missing_swift_container_is_created_read_write_and_not_read_only(lab, tmp_path, buckets):
    """onespace-sync creates a Swift mapping's container: a read-write check
    does the same, a read-only one only notes that it is missing."""
    container = buckets("swift", create=False)
    conf = lab.sync_config(1, [mapping(lab, "swift", container)])
    status, lines = verify(tmp_path, conf, "--read-only")
    assert status == 0, lines
    assert lines[0].endswith(": OK (read-only; container %r does not exist yet, "
                             "onespace-sync creates it)" % container)
    conn = lab.swift_connection("test2")
    assert container not in [c["name"] for c in conn.get_account(full_listing=True)[1]]
    status, lines = verify(tmp_path, conf)
    assert status == 0, lines
    assert conn.get_container(container)[1] == []


def test_unreachable_endpoint_fails_with_a_clear_error(lab, tmp_path, target):
    port = closed_port()
    endpoint = "http://127.0.0.1:%d" % port
    if target == "swift":
        endpoint += "/auth/v1.0"
    conf = lab.sync_config(1, [mapping(lab, target, "nowhere", aws_endpoint=endpoint)])
    status, lines = verify(tmp_path, conf)
    assert status == 1, lines
    assert lines[0].startswith("containers[0] (AUTH_test/photos -> ")
    assert "FAILED" in lines[0] and "127.0.0.1:%d" % port in lines[0], lines
    assert any(word in lines[0].lower() for word in ("connect", "refused")), lines


def test_read_only_writes_nothing(lab, tmp_path, target, buckets):
    bucket = buckets(target)
    view = RemoteView(lab, target, bucket, container="photos")
    if target == "swift":
        lab.swift_connection("test2").put_container(bucket)
        lab.swift_connection("test2").put_object(bucket, "kept", b"data")
    else:
        lab.s3_client(target).put_object(Bucket=bucket, Key=view.key("kept"), Body=b"data")
    before = view.keys()
    conf = lab.sync_config(1, [mapping(lab, target, bucket)])
    status, lines = verify(tmp_path, conf, "--read-only")
    assert status == 0, lines
    assert lines[0].endswith(": OK (read-only)"), lines
    assert view.keys() == before and len(before) == 1


def test_migrations_are_checked_read_only(lab, tmp_path, buckets):
    s3_source, swift_source = buckets("seaweedfs"), buckets("swift", create=False)
    lab.s3_client().put_object(Bucket=s3_source, Key="a", Body=b"data")
    conn = lab.swift_connection("test2")
    conn.put_container(swift_source)
    conn.put_object(swift_source, "b", b"data")
    identity, secret = lab.credentials("test2")
    swift = {"account": "AUTH_test", "protocol": "swift", "aws_endpoint": lab.auth_url,
             "aws_identity": identity, "aws_secret": secret}
    s3 = {"account": "AUTH_test", "protocol": "s3", "aws_endpoint": lab.s3_endpoint,
          "aws_identity": S3_ACCESS_KEY, "aws_secret": S3_SECRET_KEY}
    conf = lab.sync_config(1, [])
    conf["migrations"] = [
        dict(s3, aws_bucket=s3_source, prefix="a"),
        dict(swift, aws_bucket=swift_source),
        dict(swift, aws_bucket="/*"),
        dict(s3, aws_bucket=s3_source + "-missing"),
    ]
    status, lines = verify(tmp_path, conf)  # no --read-only: migrations never write
    assert status == 1, lines
    assert [line.split(" (")[0] for line in lines] == ["migrations[%d]" % i for i in range(4)]
    assert all(line.endswith(": OK (read-only)") for line in lines[:3]), lines
    assert ": FAILED: access: " in lines[3] and "NoSuchBucket" in lines[3], lines
    assert RemoteView(lab, "seaweedfs", s3_source).keys() == ["a"]
    assert [o["name"] for o in conn.get_container(swift_source)[1]] == ["b"]


def test_one_mapping_can_be_picked(lab, tmp_path, buckets):
    bucket = buckets("seaweedfs")
    conf = lab.sync_config(1, [mapping(lab, "seaweedfs", "nowhere-" + bucket),
                               mapping(lab, "seaweedfs", bucket, container="docs")])
    status, lines = verify(tmp_path, conf, "--mapping", "1")
    assert status == 0 and len(lines) == 1 and lines[0].startswith("containers[1] "), lines
    status, lines = verify(tmp_path, conf, "--account", "AUTH_test", "--container", "docs")
    assert status == 0 and len(lines) == 1 and lines[0].startswith("containers[1] "), lines
    status, lines = verify(tmp_path, conf, "--mapping", "2")
    assert status == 2 and lines == ["containers[2]: no such entry (the config has 2)"]


def test_invalid_config_is_refused_with_the_schema_message(lab, tmp_path):
    conf = lab.sync_config(1, [lab.s3_mapping("photos", "b", protocol="ftp",
                                              aws_secret=WRONG_SECRET)])
    status, lines = verify(tmp_path, conf)
    assert status == 2
    assert any(line.startswith("containers[0].protocol: 'ftp' is not one of") for line in lines)
    assert WRONG_SECRET not in "\n".join(lines)
