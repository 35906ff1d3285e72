"""Providers without servers: connection arguments, error classification,
URL rewriting, the shared-token pool and what boto3 puts on the wire."""

import base64
import hashlib
import io

import pytest
import requests
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from swiftclient import ClientException

from onespace.providers import DAEMON_TIMEOUTS, INTERACTIVE_TIMEOUTS, make_provider
from onespace.providers import swift as swift_mod
from onespace.providers.base import (AuthFailed, Body, IntegrityError, Listing, NotFound,
                                     Provider, ProviderError, RemoteObject,
                                     RemoteUnavailable)
from onespace.providers.s3 import S3Provider
from onespace.providers.swift import SwiftProvider, account_url, connection_kwargs

SECRET = "Unit-Secret-7f3a9c"
LABEL = "containers[0] (AUTH_test/foo -> s3 b)"

SWIFT = {"protocol": "swift", "aws_endpoint": "http://127.0.0.1:1/auth/v1.0",
         "aws_identity": "test2:tester2", "aws_secret": SECRET, "aws_bucket": "c"}
S3 = {"protocol": "s3", "aws_endpoint": "http://127.0.0.1:1", "aws_identity": "key",
      "aws_secret": SECRET, "aws_bucket": "b"}


# ---------------------------------------------------------------- make_provider

def test_make_provider_chooses_backend_bucket_and_label():
    s3 = make_provider(S3, label=LABEL)
    swift = make_provider(SWIFT, bucket="cont-x")
    assert isinstance(s3, S3Provider) and s3.bucket == "b" and s3.label == LABEL
    assert isinstance(swift, SwiftProvider) and swift.bucket == "cont-x"
    assert "swift" in swift.label
    assert isinstance(make_provider({k: v for k, v in S3.items() if k != "protocol"}),
                      S3Provider)  # 1space's default protocol


def test_make_provider_uses_the_mappings_own_label():
    class Mapping(dict):
        label = "containers[3] (AUTH_a/c -> s3 x)"
    assert make_provider(Mapping(S3)).label == "containers[3] (AUTH_a/c -> s3 x)"


def test_make_provider_rejects_unknown_protocol():
    with pytest.raises(ValueError, match="ftp"):
        make_provider(dict(S3, protocol="ftp"), label=LABEL)


def test_with_bucket_shares_the_connections():
    swift = make_provider(SWIFT)
    other = swift.with_bucket("other")
    assert other.bucket == "other" and swift.bucket == "c"
    assert other._pool is swift._pool
    s3 = make_provider(S3)
    assert s3.with_bucket("x").client is s3.client


# ---------------------------------------------------------------- swift connection

def test_tempauth_kwargs():
    kwargs = connection_kwargs(SWIFT)
    assert kwargs["authurl"] == SWIFT["aws_endpoint"]
    assert (kwargs["user"], kwargs["key"]) == ("test2:tester2", SECRET)
    assert "auth_version" not in kwargs and kwargs["os_options"] == {}
    assert kwargs["timeout"] == (DAEMON_TIMEOUTS.connect, DAEMON_TIMEOUTS.read)
    quick = connection_kwargs(SWIFT, INTERACTIVE_TIMEOUTS)["timeout"]
    assert quick == (INTERACTIVE_TIMEOUTS.connect, INTERACTIVE_TIMEOUTS.read)


def test_keystone_v2_kwargs():
    kwargs = connection_kwargs(dict(SWIFT, auth_type="keystone_v2", tenant_name="tenant"))
    assert kwargs["auth_version"] == "2"
    assert kwargs["tenant_name"] == "tenant"
    assert isinstance(kwargs["timeout"], (int, float))


def test_keystone_v3_kwargs():
    kwargs = connection_kwargs(dict(
        SWIFT, auth_type="keystone_v3", project_name="proj",
        project_domain_name="pdom", user_domain_name="udom"))
    assert kwargs["auth_version"] == "3"
    assert kwargs["os_options"] == {"project_name": "proj", "project_domain_name": "pdom",
                                    "user_domain_name": "udom"}


def test_keystone_v3_domain_name_is_the_default_domain():
    kwargs = connection_kwargs(dict(SWIFT, auth_type="keystone_v3", project_name="proj",
                                    domain_name="dom", user_domain_name="udom"))
    assert kwargs["os_options"] == {"project_name": "proj", "project_domain_name": "dom",
                                    "user_domain_name": "udom"}


@pytest.mark.parametrize("url, account, expected", [
    ("http://h:8080/v1/AUTH_admin", "AUTH_test2", "http://h:8080/v1/AUTH_test2"),
    ("https://h/swift/v1/AUTH_admin/", "AUTH_x", "https://h/swift/v1/AUTH_x"),
    ("http://h/v1/AUTH_a", "AUTH_\u00e9 b", "http://h/v1/AUTH_%C3%A9%20b"),
])
def test_account_url(url, account, expected):
    assert account_url(url, account) == expected


class FakeConnection:
    """Stands in for swiftclient.Connection: records how it was made."""
    made = []
    token_counter = 0

    def __init__(self, preauthurl=None, preauthtoken=None, **kwargs):
        self.kwargs = kwargs
        self.url, self.token = preauthurl, preauthtoken
        self.os_options = dict(kwargs.get("os_options") or {})
        FakeConnection.made.append(self)

    def get_auth(self):
        FakeConnection.token_counter += 1
        self.url = "http://h/v1/AUTH_admin"
        self.token = "tok%d" % FakeConnection.token_counter
        return self.url, self.token

    def close(self):
        pass


@pytest.fixture
def fake_swiftclient(monkeypatch):
    FakeConnection.made = []
    FakeConnection.token_counter = 0
    monkeypatch.setattr(swift_mod.swiftclient, "Connection", FakeConnection)
    return FakeConnection


def test_pool_authenticates_once_and_shares_the_token(fake_swiftclient):
    pool = swift_mod.ConnectionPool({"authurl": "a", "user": "u", "key": SECRET}, 3,
                                    remote_account="AUTH_other")
    first, second = pool.acquire(), pool.acquire()
    assert len(fake_swiftclient.made) == 2 and fake_swiftclient.token_counter == 1
    assert first.url == second.url == "http://h/v1/AUTH_other"
    assert first.os_options["object_storage_url"] == "http://h/v1/AUTH_other"
    assert second.token == "tok1"
    # a connection that re-authenticated publishes its token to the others
    second.token = "tok-new"
    pool.release(second)
    pool.release(first)
    again = pool.acquire()
    assert again.token == "tok-new"
    assert len(fake_swiftclient.made) == 2  # reused, not made again


def test_pool_gives_the_slot_back_when_auth_fails(monkeypatch, fake_swiftclient):
    def refuse(self):
        raise ClientException("Auth GET failed", http_status=401)
    monkeypatch.setattr(FakeConnection, "get_auth", refuse)
    pool = swift_mod.ConnectionPool({}, 1)
    for _ in range(2):  # would block forever if the slot were lost
        with pytest.raises(ClientException):
            pool.acquire()


# ---------------------------------------------------------------- error classification

def _swift_exc(status, reason="", body=b""):
    return ClientException("failed", http_status=status, http_reason=reason,
                           http_response_content=body)


@pytest.mark.parametrize("exc, cls, retriable", [
    (_swift_exc(401, "Unauthorized"), AuthFailed, False),
    (_swift_exc(403, "Forbidden"), AuthFailed, False),
    (_swift_exc(404, "Not Found"), NotFound, False),
    (_swift_exc(422, "Unprocessable Entity"), IntegrityError, True),
    (_swift_exc(400, "Bad Request", b"Object name length of 1025 longer than 1024"),
     ProviderError, False),
    (_swift_exc(429, "Too Many Requests"), RemoteUnavailable, True),
    (_swift_exc(498, "Ratelimited"), RemoteUnavailable, True),
    (_swift_exc(503, "Service Unavailable"), RemoteUnavailable, True),
    (_swift_exc(507, "Insufficient Storage"), RemoteUnavailable, True),
    (ClientException("Unauthorized. Check username, password and tenant name/id."),
     AuthFailed, False),
    (ClientException("No tenant specified"), ProviderError, False),
    (requests.exceptions.ConnectionError("Connection refused"), RemoteUnavailable, True),
    (requests.exceptions.ReadTimeout("read timed out"), RemoteUnavailable, True),
])
def test_swift_error_classification(exc, cls, retriable):
    provider = make_provider(SWIFT, label=LABEL)
    with pytest.raises(ProviderError) as info:
        with provider._errors("put", "obj"):
            raise exc
    assert type(info.value) is cls
    assert info.value.retriable is retriable
    assert info.value.label == LABEL and info.value.op == "put"
    assert str(info.value).startswith(LABEL + ": ")
    assert "c/obj" in str(info.value)
    assert info.value.__cause__ is exc


def test_swift_error_keeps_the_servers_reason_in_one_line():
    provider = make_provider(SWIFT, label=LABEL)
    with pytest.raises(ProviderError) as info:
        with provider._errors("put", "obj"):
            raise _swift_exc(400, "Bad Request",
                             b"<html><h1>Bad Request</h1>\n<p>Object name length of 1025 "
                             b"longer than 1024</p></html>")
    message = str(info.value)
    assert "\n" not in message and "<" not in message
    assert "Object name length of 1025 longer than 1024" in message
    assert info.value.status == 400


def _client_error(status, code, message="", op="PutObject"):
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, op)


@pytest.mark.parametrize("exc, cls, retriable, words", [
    (_client_error(403, "InvalidAccessKeyId"), AuthFailed, False,
     "authentication failed (403 InvalidAccessKeyId)"),
    (_client_error(403, "SignatureDoesNotMatch"), AuthFailed, False, "SignatureDoesNotMatch"),
    (_client_error(403, "403", "Forbidden", "HeadBucket"), AuthFailed, False, "403 Forbidden"),
    (_client_error(400, "AuthorizationHeaderMalformed"), AuthFailed, False, "Malformed"),
    (_client_error(404, "NoSuchKey"), NotFound, False, "404 NoSuchKey"),
    (_client_error(404, "NoSuchBucket"), NotFound, False, "NoSuchBucket"),
    (_client_error(404, "404", "Not Found", "HeadObject"), NotFound, False, "404 Not Found"),
    (_client_error(400, "BadDigest"), IntegrityError, True, "integrity check failed"),
    (_client_error(400, "KeyTooLongError"), ProviderError, False, "KeyTooLongError"),
    (_client_error(400, "InvalidArgument"), ProviderError, False, "put 'b/obj' failed"),
    (_client_error(400, "RequestTimeout"), RemoteUnavailable, True, "RequestTimeout"),
    (_client_error(503, "SlowDown"), RemoteUnavailable, True, "503 SlowDown"),
    (_client_error(429, "TooManyRequests"), RemoteUnavailable, True, "429"),
    (_client_error(500, "InternalError"), RemoteUnavailable, True, "InternalError"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:1/b"), RemoteUnavailable, True,
     "Could not connect"),
    (ReadTimeoutError(endpoint_url="http://127.0.0.1:1/b"), RemoteUnavailable, True,
     "Read timeout"),
])
def test_s3_error_classification(exc, cls, retriable, words):
    provider = make_provider(S3, label=LABEL)
    with pytest.raises(ProviderError) as info:
        with provider._errors("put", "obj"):
            raise exc
    assert type(info.value) is cls
    assert info.value.retriable is retriable
    assert words in str(info.value)
    assert str(info.value).startswith(LABEL + ": ")
    assert "at http://127.0.0.1:1" in str(info.value)


def test_error_messages_never_carry_the_secret():
    provider = make_provider(S3, label=LABEL)
    with pytest.raises(ProviderError) as info:
        with provider._errors("put", "obj"):
            raise _client_error(403, "SignatureDoesNotMatch", "secret was " + SECRET)
    assert SECRET not in str(info.value)
    provider = make_provider(SWIFT, label=LABEL)
    with pytest.raises(ProviderError) as info:
        with provider._errors("put", "obj"):
            raise _swift_exc(401, "Unauthorized", ("bad key " + SECRET).encode())
    assert SECRET not in str(info.value) and "***" in str(info.value)


def test_auth_failed_message_shape():
    error = AuthFailed(LABEL, "check_access", "b", status=403, reason="InvalidAccessKeyId",
                       endpoint="http://127.0.0.1:9")
    assert str(error) == (LABEL + ": authentication failed (403 InvalidAccessKeyId) at "
                          "http://127.0.0.1:9, during check_access 'b'")
    assert not error.retriable


# ---------------------------------------------------------------- S3 on the wire

class _Raw:
    def __init__(self, body=b""):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


INTERNAL_ERROR = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code>"
                  b"<Message>We encountered an internal error</Message></Error>")


class OneWayStream:
    """A body that can only be read forward, like a Swift GET being relayed."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def read(self, n=-1):
        return self._data.read(n)


def test_s3_put_streams_unsigned_with_content_md5_and_extra_headers():
    provider = make_provider(S3, label=LABEL)
    data = b"some data"
    md5 = hashlib.md5(data).hexdigest()
    body = OneWayStream(data)
    seen = {}

    def capture(request, **kwargs):
        seen["headers"] = dict(request.headers)
        seen["unread"] = body._data.tell() == 0
        return AWSResponse(request.url, 200, {"ETag": '"%s"' % md5}, _Raw())

    provider.client.meta.events.register("before-send.s3.PutObject", capture)
    etag = provider.put("k", body, len(data), md5, metadata={"Color": "blue"},
                        internal={"swift-slo-etag": "abc"}, headers={"X-Extra": "1"})
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v
               for k, v in seen["headers"].items()}
    assert etag == md5
    assert seen["unread"]  # nothing read it to sign or checksum it
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert headers["content-md5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert headers["content-length"] == str(len(data))
    assert not any(h.startswith("x-amz-checksum") or h == "x-amz-trailer" for h in headers)
    assert headers["x-amz-meta-color"] == "blue"
    assert headers["x-amz-meta-swift-slo-etag"] == "abc"
    assert headers["x-extra"] == "1"


def test_s3_put_rejects_a_wrong_etag_and_removes_the_object():
    provider = make_provider(S3, label=LABEL)
    calls = []

    def answer(request, **kwargs):
        calls.append(request.method)
        if request.method == "PUT":
            return AWSResponse(request.url, 200, {"ETag": '"%s"' % ("0" * 32)}, _Raw())
        return AWSResponse(request.url, 204, {}, _Raw())

    provider.client.meta.events.register("before-send.s3", answer)
    with pytest.raises(IntegrityError) as info:
        provider.put("k", b"abc", 3, hashlib.md5(b"abc").hexdigest())
    assert calls == ["PUT", "DELETE"]
    assert info.value.retriable


@pytest.mark.parametrize("streamed, attempts", [(True, 1), (False, 2)])
def test_s3_put_retries_only_what_it_can_send_again(streamed, attempts):
    provider = make_provider(S3, label=LABEL)
    sent = []

    def fail(request, **kwargs):
        sent.append(request.method)
        return AWSResponse(request.url, 500, {}, _Raw(INTERNAL_ERROR))

    provider.client.meta.events.register("before-send.s3.PutObject", fail)
    data = b"abc"
    body = OneWayStream(data) if streamed else data
    with pytest.raises(RemoteUnavailable) as info:
        provider.put("k", body, 3, hashlib.md5(data).hexdigest())
    assert "500 InternalError" in str(info.value)  # the server's error, not botocore's
    assert len(sent) == attempts


@pytest.mark.parametrize("endpoint, style", [
    (None, "auto"),
    ("https://s3.eu-west-1.amazonaws.com", "auto"),
    ("http://127.0.0.1:8333", "path"),
    ("https://storage.googleapis.com", "path"),
])
def test_s3_client_config(endpoint, style):
    provider = make_provider(dict(S3, aws_endpoint=endpoint))
    config = provider.client.meta.config
    assert config.s3["addressing_style"] == style
    assert config.s3["payload_signing_enabled"] is False
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.retries["total_max_attempts"] == 2  # onespace retries rows itself
    assert config.max_pool_connections == 10


def test_s3_region_and_pool_size():
    provider = make_provider(dict(S3, aws_region="eu-west-3"), pool_size=4)
    assert provider.client.meta.region_name == "eu-west-3"
    assert provider.client.meta.config.max_pool_connections == 4


# ---------------------------------------------------------------- listing, bodies

class PagedProvider(Provider):
    """Serves a sorted name list the way a server does, counting requests."""

    def __init__(self, names):
        super().__init__("test", "b", "nowhere")
        self.names = sorted(names)
        self.requests = 0

    def list(self, prefix="", marker="", delimiter=None, limit=1000, end_marker=None):
        self.requests += 1
        rest = [n for n in self.names if n > marker and n.startswith(prefix)
                and (end_marker is None or n < end_marker)]
        return Listing([RemoteObject(n) for n in rest[:limit]], truncated=len(rest) > limit)

    check_access = head = get = put = post_metadata = delete = close = None


def test_iter_list_walks_every_page_once():
    provider = PagedProvider(["a", "b", "c", "d", "e"])
    assert [o.name for o in provider.iter_list(limit=2)] == ["a", "b", "c", "d", "e"]
    assert provider.requests == 3
    assert [o.name for o in provider.iter_list(marker="a", end_marker="d", limit=2)] == [
        "b", "c"]


def test_body_releases_once_on_close_or_exhaustion():
    released = []
    body = Body([b"a", b"b"], lambda: released.append(1))
    assert b"".join(body) == b"ab"
    body.close()
    assert released == [1]
    early = Body(iter([b"a", b"b"]), lambda: released.append(2))
    next(early)
    early.close()
    assert released == [1, 2]
