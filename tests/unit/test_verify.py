"""onespace-verify's pure parts: what each entry checks, selection, and the
round trip's clean-up, with an in-memory provider."""

import hashlib

import pytest

from onespace import naming
from onespace.config import Config
from onespace.providers.base import AuthFailed, Listing, RemoteObject
from onespace.config import scrub
from onespace.verify import CheckFailed, plan, run, select

S3 = {"protocol": "s3", "aws_endpoint": "http://s3.example", "aws_identity": "id",
      "aws_secret": "Secret-Value-1", "aws_bucket": "bucket"}
SWIFT = dict(S3, protocol="swift", aws_endpoint="http://swift.example/auth/v1.0")


def config(containers=(), migrations=()):
    return Config({"containers": list(containers), "migrations": list(migrations)})


def m(base, **kw):
    return {**base, "account": "AUTH_a", "container": "c", **kw}


def test_s3_mapping_writes_where_the_daemon_would():
    mapping = config([m(S3)]).mappings[0]
    p = plan(mapping, read_only=False, token="t")
    assert (p.bucket, p.create) == ("bucket", False)
    assert p.key == naming.s3_key("AUTH_a", "c", "onespace-verify/t")
    assert p.prefix == naming.s3_listing_prefix("AUTH_a", "c")
    assert p.key.startswith(p.prefix)


def test_s3_custom_prefix_and_per_account():
    custom = config([m(S3, custom_prefix="/arch/")]).mappings[0]
    assert plan(custom, False, "t").key == "arch/onespace-verify/t"
    assert plan(custom, False, "t").prefix == "arch/"
    per_account = config([dict(S3, account="AUTH_a", container="/*")]).mappings[0]
    p = plan(per_account, False, "t")
    assert p.key == naming.s3_key("AUTH_a", "onespace-verify", "onespace-verify/t")


def test_read_only_has_no_test_object():
    for base in (S3, SWIFT):
        p = plan(config([m(base)]).mappings[0], read_only=True, token="t")
        assert p.key is None and not p.create


def test_swift_mappings():
    p = plan(config([m(SWIFT)]).mappings[0], False, "t")
    assert (p.bucket, p.key, p.create, p.missing_ok) == ("bucket", "onespace-verify/t", True, False)
    p = plan(config([m(SWIFT)]).mappings[0], True, "t")
    assert (p.create, p.missing_ok) == (False, True)
    p = plan(config([dict(SWIFT, account="AUTH_a", container="/*")]).mappings[0], False, "t")
    assert p.bucket is None and p.key is None  # the account only


def test_migrations_are_read_only():
    cfg = config(migrations=[dict(S3, account="AUTH_a", prefix="p/"),
                             dict(SWIFT, account="AUTH_a", aws_bucket="/*")])
    first, every = (plan(e, read_only=False, token="t") for e in cfg.migrations)
    assert (first.bucket, first.prefix, first.key) == ("bucket", "p/", None)
    assert (every.bucket, every.key) == (None, None)


def test_select():
    cfg = config([m(S3), m(S3, aws_bucket="other", container="d")],
                 [dict(S3, account="AUTH_b")])
    assert [e.label.split(" ")[0] for e in select(cfg, None, None)] == [
        "containers[0]", "containers[1]", "migrations[0]"]
    assert select(cfg, [1], None) == [cfg.mappings[1]]
    assert select(cfg, None, [0]) == [cfg.migrations[0]]
    assert select(cfg, None, None, account="AUTH_b") == [cfg.migrations[0]]
    assert select(cfg, None, None, container="d") == [cfg.mappings[1]]
    with pytest.raises(ValueError, match=r"^migrations\[3\]: no such entry"):
        select(cfg, None, [3])


def test_scrub_masks_every_secret_longest_first():
    assert scrub("a Secret-Value-1 b Secret", {"Secret", "Secret-Value-1"}) == "a *** b ***"


class MemoryProvider:
    """Just enough of a Provider; ``corrupt`` makes GET return other bytes."""

    def __init__(self, corrupt=False, refuse=None):
        self.objects, self.corrupt, self.refuse, self.calls = {}, corrupt, refuse, []

    def _call(self, op):
        self.calls.append(op)
        if op == self.refuse:
            raise AuthFailed("containers[0] (x)", op, "bucket", status=403, reason="AccessDenied")

    def check_access(self, create=False):
        self._call("access")

    def put(self, key, body, size, md5_hex, content_type=None):
        self._call("put")
        self.objects[key] = body

    def get(self, key):
        self._call("get")
        body = b"x" + self.objects[key] if self.corrupt else self.objects[key]
        return RemoteObject(key), _Stream([body])

    def head(self, key):
        self._call("head")
        body = self.objects.get(key)
        return None if body is None else RemoteObject(key, etag=hashlib.md5(body).hexdigest())

    def list(self, prefix="", limit=1000):
        self._call("list")
        return Listing([RemoteObject(k) for k in sorted(self.objects) if k.startswith(prefix)])

    def delete(self, key):
        self._call("delete")
        return self.objects.pop(key, None) is not None


class _Stream(list):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


class OneProvider:
    def __init__(self, provider):
        self.provider = provider

    def get(self, entry, bucket):
        return self.provider


def check(provider, read_only=False):
    entry = config([m(S3)]).mappings[0]
    return run(plan(entry, read_only, "t"), OneProvider(provider), sleep=lambda s: None)


def test_round_trip_in_order_and_nothing_left():
    provider = MemoryProvider()
    assert check(provider) == ""
    assert provider.calls == ["access", "list", "put", "get", "head", "list", "delete"]
    assert provider.objects == {}


def test_a_failed_step_still_deletes_the_test_object():
    provider = MemoryProvider(corrupt=True)
    with pytest.raises(CheckFailed) as info:
        check(provider)
    assert str(info.value).startswith("GET: read ")
    assert provider.calls[-1] == "delete" and provider.objects == {}


def test_a_refused_step_is_named_without_the_label():
    with pytest.raises(CheckFailed) as info:
        check(MemoryProvider(refuse="put"))
    assert str(info.value) == ("PUT: authentication failed (403 AccessDenied), "
                               "during put 'bucket'")


def test_read_only_lists_and_writes_nothing():
    provider = MemoryProvider()
    assert check(provider, read_only=True) == "read-only"
    assert provider.calls == ["access", "list"]
