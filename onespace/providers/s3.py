"""S3 remotes through boto3: AWS, Google Cloud Storage (interoperability
mode) and S3-compatible stores (Swift's s3api, SeaweedFS, ...).

Choices worth knowing:

* Bodies are streamed, never held in memory, and never rewound: payload
  signing is off (``UNSIGNED-PAYLOAD``; otherwise botocore reads the body
  once to SHA256 it over plain http) and integrity comes from
  ``Content-MD5``, which the server checks before storing, and from the
  returned ETag.  botocore cannot retry a forward-only body, so it does not
  try: the server's own error reaches onespace, which retries the row.
* botocore's flexible checksums only when an operation requires them:
  the default (CRC32 trailers, aws-chunked encoding) is refused by several
  S3 implementations.
* botocore retries once at most: onespace retries whole rows, with backoff.
* GCS (endpoint ``https://storage.googleapis.com``) takes HMAC keys with
  SigV4 and path-style addressing; it needs the two points above (no
  chunked/trailer uploads) and, like 1space did, no ``encoding-type=url``
  in listings.
"""

from __future__ import annotations

import base64
import contextlib
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError, IncompleteReadError, UnseekableStreamError
from botocore.handlers import set_list_objects_encoding_type_url

from onespace import naming
from onespace.headers import CONTENT_HEADERS, from_s3_metadata, to_s3_metadata
from onespace.providers.base import (
    CHUNK_SIZE, DAEMON_TIMEOUTS, AuthFailed, Body, IntegrityError, Listing, NotFound, Provider,
    ProviderError, RemoteObject, RemoteUnavailable, error_class, split_internal,
    header_text, headers_after_post, total_size, unquote_etag, updated_internal)

GOOGLE_ENDPOINT = "https://storage.googleapis.com"

# Error codes whose HTTP status alone would classify them wrongly.
AUTH_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
                        "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed"})
RETRY_CODES = frozenset({"RequestTimeout", "SlowDown", "InternalError",
                         "ServiceUnavailable", "Throttling"})
NETWORK_ERRORS = (HTTPClientError, BotoConnectionError, IncompleteReadError,
                  UnseekableStreamError)

# Headers a metadata update must carry over: a REPLACE copy drops them.
KEPT_ON_POST = CONTENT_HEADERS

# Per-call raw headers travel as this pseudo-parameter (see _register_raw_headers).
RAW_HEADERS_PARAM = "OnespaceRawHeaders"


def s3_error_class(status, code):
    """Exception class for an S3 error response (status + error code)."""
    if code == "BadDigest":
        return IntegrityError
    if code in AUTH_CODES:
        return AuthFailed
    if code in ("NoSuchKey", "NoSuchBucket"):
        return NotFound
    if code in RETRY_CODES:
        return RemoteUnavailable
    return error_class(status)


def client_config(endpoint, region, pool_size, timeouts=DAEMON_TIMEOUTS):
    """The botocore Config; see the module docstring for the why."""
    aws = not endpoint or endpoint.rstrip("/").endswith(".amazonaws.com")
    return Config(
        region_name=region,
        signature_version="s3v4",
        s3={"addressing_style": "auto" if aws else "path",
            "payload_signing_enabled": False},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        max_pool_connections=pool_size,
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        retries={"total_max_attempts": timeouts.attempts, "mode": "standard"},
    )


def _stash_raw_headers(params, context, **kwargs):
    headers = params.pop(RAW_HEADERS_PARAM, None)
    if headers:
        context[RAW_HEADERS_PARAM] = headers


def _add_raw_headers(params, context, **kwargs):
    headers = params["headers"]
    for name, value in context.get(RAW_HEADERS_PARAM, {}).items():
        for same in [h for h in headers if h.lower() == name.lower()]:
            del headers[same]
        headers[name] = value


def _raw_headers_param(headers):
    """The pseudo-parameter that sends ``headers`` (None values left out)."""
    send = {name: value for name, value in (headers or {}).items() if value is not None}
    return {RAW_HEADERS_PARAM: send} if send else {}


def _register_raw_headers(client):
    """Let any call carry extra raw HTTP headers: botocore has no per-call
    header argument, so they ride in a pseudo-parameter that is moved into
    the request context before validation and added before signing."""
    client.meta.events.register("before-parameter-build.s3", _stash_raw_headers)
    client.meta.events.register("before-call.s3", _add_raw_headers)


def _no_retry_of_streams(request_dict, **kwargs):
    """Veto botocore's retry of a forward-only upload: it would fail to
    rewind the body and replace the server's error with its own."""
    body = request_dict.get("body")
    if body is not None and not isinstance(body, (bytes, bytearray)) \
            and not hasattr(body, "seek"):
        return False  # a non-None answer that means "do not retry"
    return None


def make_client(settings, pool_size, timeouts=DAEMON_TIMEOUTS):
    endpoint = settings.get("aws_endpoint") or None
    region = settings.get("aws_region") or "us-east-1"
    session = boto3.session.Session(
        aws_access_key_id=settings.get("aws_identity"),
        aws_secret_access_key=settings.get("aws_secret"),
        region_name=region)
    client = session.client("s3", endpoint_url=endpoint,
                            config=client_config(endpoint, region, pool_size, timeouts))
    _register_raw_headers(client)
    for operation in ("PutObject", "UploadPart"):  # before the generic retry handler
        client.meta.events.register("needs-retry.s3." + operation, _no_retry_of_streams)
    if endpoint and endpoint.rstrip("/") == GOOGLE_ENDPOINT:
        client.meta.events.unregister("before-parameter-build.s3.ListObjectsV2",
                                      set_list_objects_encoding_type_url)
    return client


class S3Provider(Provider):
    protocol = "s3"

    def __init__(self, settings, bucket, pool_size=10, label="s3", timeouts=DAEMON_TIMEOUTS):
        region = settings.get("aws_region") or "us-east-1"
        super().__init__(label, bucket, settings.get("aws_endpoint") or "AWS S3 " + region,
                         secret=settings.get("aws_secret"))
        self.region = region
        self.client = make_client(settings, pool_size, timeouts)
        self._unsupported_shapes = None  # see unsupported_key_shapes

    # ---- errors --------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, op, key=None):
        """Turn whatever boto raises into a ProviderError about ``op``."""
        try:
            yield
        except ClientError as e:
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = e.response.get("Error", {}).get("Code", "")
            if code == str(status):  # HEAD errors have no body: '404' -> 'Not Found'
                code = e.response["Error"].get("Message") or code
            raise self.error(s3_error_class(status, code), op, key, status=status,
                             reason=code) from e
        except NETWORK_ERRORS as e:
            raise self.error(RemoteUnavailable, op, key, reason=str(e)) from e
        except BotoCoreError as e:
            raise self.error(ProviderError, op, key, reason=str(e), retriable=False) from e

    # ---- objects -------------------------------------------------------
    def _object(self, key, resp):
        headers = {k.lower(): v for k, v in resp["ResponseMetadata"]["HTTPHeaders"].items()}
        user, internal = split_internal(resp.get("Metadata", {}))
        metadata = {name[len("x-object-meta-"):].lower(): value
                    for name, value in from_s3_metadata(user).items()}
        modified = resp.get("LastModified")
        return RemoteObject(
            name=key, etag=unquote_etag(resp.get("ETag")), size=total_size(headers),
            last_modified=modified.timestamp() if modified else None,
            content_type=header_text(resp.get("ContentType")), metadata=metadata,
            internal=internal, headers=headers)

    def check_access(self, create=False):
        """A one-key listing rather than HEAD bucket (same permission): its
        error body names the cause, e.g. InvalidAccessKeyId or NoSuchBucket."""
        try:
            with self._errors("check_access"):
                self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
        except NotFound:
            if not create:
                raise
            self._create_bucket()

    def unsupported_key_shapes(self):
        """The ``naming.KEY_SHAPES`` this bucket does not store as given.

        Probed once per provider, the first time a key of such a shape is
        about to be sent: a unique probe key of each shape is written, looked
        for in a listing, and removed with whatever the server made of it.
        """
        if self._unsupported_shapes is None:
            core = ".onespace-key-probe-" + uuid.uuid4().hex
            refused = set()
            try:
                for shape, template in naming.KEY_SHAPES.items():
                    key = template % core
                    try:
                        with self._errors("put", key):
                            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"probe")
                    except ProviderError as e:
                        if e.retriable:
                            raise
                        refused.add(shape)  # refused outright (MinIO refuses "a//b")
                        continue
                    # listed from before the odd part: SeaweedFS echoes a
                    # prefix "a//b" in its answer, yet lists "a/b" otherwise
                    listed = self.list(prefix=template.split("%s")[0] + core, limit=10)
                    if not any(e.name == key and e.size == 5 for e in listed):
                        refused.add(shape)
            finally:
                for name in [template % core for template in naming.KEY_SHAPES.values()] + [
                        e.name for e in self.list(prefix=core) if not e.is_prefix]:
                    with contextlib.suppress(ProviderError), self._errors("delete", name):
                        self.client.delete_object(Bucket=self.bucket, Key=name)
            self._unsupported_shapes = refused
        return self._unsupported_shapes

    def lifecycle_rules(self):
        """The bucket's lifecycle rules ([] when it has none)."""
        try:
            with self._errors("get lifecycle"):
                resp = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
        except ProviderError as e:
            if "NoSuchLifecycleConfiguration" in str(e.reason):
                return []
            raise
        return resp.get("Rules", [])

    def put_lifecycle_rules(self, rules):
        """Replace the bucket's lifecycle configuration with ``rules`` (none:
        remove it, as S3 refuses an empty one)."""
        if not rules:
            with self._errors("delete lifecycle"):
                self.client.delete_bucket_lifecycle(Bucket=self.bucket)
            return
        with self._errors("put lifecycle"):
            self.client.put_bucket_lifecycle_configuration(
                Bucket=self.bucket, LifecycleConfiguration={"Rules": rules})

    def _create_bucket(self):
        params = {"Bucket": self.bucket}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        with self._errors("create bucket"):
            self.client.create_bucket(**params)

    def head(self, key):
        try:
            with self._errors("head", key):
                return self._object(key, self.client.head_object(Bucket=self.bucket, Key=key))
        except NotFound:
            return None

    def get(self, key, byte_range=None, chunk_size=CHUNK_SIZE):
        params = {"Bucket": self.bucket, "Key": key}
        if byte_range:
            params["Range"] = "bytes=%d-%d" % tuple(byte_range)
        with self._errors("get", key):
            resp = self.client.get_object(**params)
        stream = resp["Body"]
        return self._object(key, resp), Body(self._chunks(stream, key, chunk_size),
                                             stream.close)

    def _chunks(self, stream, key, chunk_size=CHUNK_SIZE):
        with self._errors("get", key):
            yield from stream.iter_chunks(chunk_size)

    def put(self, key, body, size, md5_hex, content_type=None, metadata=None,
            internal=None, headers=None):
        params = {
            "Bucket": self.bucket, "Key": key, "Body": body, "ContentLength": size,
            "ContentMD5": base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii"),
            "Metadata": to_s3_metadata(metadata or {}, internal),
        }
        if content_type:
            params["ContentType"] = content_type
        params.update(_raw_headers_param(headers))
        with self._errors("put", key):
            etag = unquote_etag(self.client.put_object(**params).get("ETag"))
        if etag != md5_hex.lower():
            self._discard(key)
            raise self.error(IntegrityError, "put", key,
                             reason="stored ETag %s, sent MD5 %s" % (etag, md5_hex))
        return etag

    def _discard(self, key):
        """Remove an object we just stored wrongly (best effort: the caller
        reports the integrity error either way)."""
        with contextlib.suppress(ProviderError), self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def post_metadata(self, key, content_type, metadata, internal=None, headers=None):
        """A copy onto itself with ``MetadataDirective=REPLACE``: the data
        stays on the server.  One HEAD first, to carry over what REPLACE
        would drop (internal fields unless given, Content-Encoding, ...).
        S3 copies at most 5 GB this way."""
        current = self.head(key)
        if current is None:
            raise self.error(NotFound, "post_metadata", key, status=404, reason="NoSuchKey")
        raw = headers_after_post(current.headers, KEPT_ON_POST, headers)
        params = {
            "Bucket": self.bucket, "Key": key,
            "CopySource": {"Bucket": self.bucket, "Key": key},
            "MetadataDirective": "REPLACE",
            "Metadata": to_s3_metadata(metadata or {},
                                       updated_internal(current.internal, internal)),
        }
        if content_type or current.content_type:
            params["ContentType"] = content_type or current.content_type
        if raw:
            params[RAW_HEADERS_PARAM] = raw
        with self._errors("post_metadata", key):
            self.client.copy_object(**params)

    # ---- multipart uploads (S3 only) -------------------------------------
    def create_multipart(self, key, content_type=None, metadata=None, internal=None,
                         headers=None):
        """Start a multipart upload; its upload id.  ``headers`` as for put."""
        params = {"Bucket": self.bucket, "Key": key,
                  "Metadata": to_s3_metadata(metadata or {}, internal)}
        if content_type:
            params["ContentType"] = content_type
        params.update(_raw_headers_param(headers))
        with self._errors("create multipart upload", key):
            return self.client.create_multipart_upload(**params)["UploadId"]

    def upload_part(self, key, upload_id, number, body, size, md5_hex=None):
        """Upload part ``number`` (``size`` bytes streamed from ``body``); its
        ETag.  With ``md5_hex`` the server checks the data (Content-MD5);
        without, the caller compares the returned ETag with what it read."""
        params = {"Bucket": self.bucket, "Key": key, "UploadId": upload_id,
                  "PartNumber": number, "Body": body, "ContentLength": size}
        if md5_hex:
            params["ContentMD5"] = base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii")
        with self._errors("upload part %d of" % number, key):
            etag = unquote_etag(self.client.upload_part(**params).get("ETag"))
        if md5_hex and etag != md5_hex.lower():
            raise self.error(IntegrityError, "upload part %d of" % number, key,
                             reason="stored ETag %s, sent MD5 %s" % (etag, md5_hex))
        return etag

    def upload_part_copy(self, key, upload_id, number, source_key, first, last):
        """Part ``number`` copied on the server from bytes ``first``..``last``
        of ``source_key`` (same bucket); its ETag."""
        with self._errors("copy part %d of" % number, key):
            resp = self.client.upload_part_copy(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                CopySource={"Bucket": self.bucket, "Key": source_key},
                CopySourceRange="bytes=%d-%d" % (first, last))
        return unquote_etag(resp.get("CopyPartResult", {}).get("ETag"))

    def complete_multipart(self, key, upload_id, parts):
        """Complete the upload from ``[(number, etag), ...]``; the object's ETag."""
        with self._errors("complete multipart upload", key):
            resp = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": '"%s"' % e}
                                           for n, e in parts]})
        return unquote_etag(resp.get("ETag"))

    def abort_multipart(self, key, upload_id):
        """Abort an upload and free its parts; False if it was already gone."""
        try:
            with self._errors("abort multipart upload", key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key,
                                                   UploadId=upload_id)
        except NotFound:
            return False
        return True

    def list_multipart_uploads(self, prefix=""):
        """Uploads in progress under ``prefix``: ``[(key, upload_id, initiated epoch)]``."""
        found, params = [], {"Bucket": self.bucket, "Prefix": prefix}
        for _ in range(1000):  # bounded: 1000 pages of 1000 uploads
            with self._errors("list multipart uploads", prefix or None):
                resp = self.client.list_multipart_uploads(**params)
            for u in resp.get("Uploads", []):
                initiated = u.get("Initiated")
                found.append((u["Key"], u["UploadId"],
                              initiated.timestamp() if initiated else None))
            if not resp.get("IsTruncated"):
                break
            params["KeyMarker"] = resp.get("NextKeyMarker", "")
            params["UploadIdMarker"] = resp.get("NextUploadIdMarker", "")
        return found

    def delete(self, key):
        """HEAD, then DELETE if present: S3 answers 204 to a DELETE of a
        missing key, so the HEAD is the only way to tell (one extra cheap
        request; nothing is sent when the key is absent).  Returns what was
        deleted (a RemoteObject) or False."""
        found = self.head(key)
        if found is None:
            return False
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=key)
        return found

    def list(self, prefix="", marker="", delimiter=None, limit=1000, end_marker=None):
        """ListObjectsV2 with ``StartAfter=marker``; S3 has no end marker,
        so the page is cut at ``end_marker`` here."""
        params = {"Bucket": self.bucket, "MaxKeys": limit, "Prefix": prefix}
        if marker:
            params["StartAfter"] = marker
        if delimiter:
            params["Delimiter"] = delimiter
        with self._errors("list", prefix or None):
            resp = self.client.list_objects_v2(**params)
        entries = [RemoteObject(name=o["Key"], etag=unquote_etag(o.get("ETag")),
                                size=o.get("Size"),
                                last_modified=o["LastModified"].timestamp())
                   for o in resp.get("Contents", [])]
        entries += [RemoteObject(name=p["Prefix"], is_prefix=True)
                    for p in resp.get("CommonPrefixes", [])]
        entries.sort(key=lambda e: e.name)
        truncated = resp.get("IsTruncated", False)
        if end_marker is not None:
            kept = [e for e in entries if e.name < end_marker]
            truncated = truncated and len(kept) == len(entries)
            entries = kept
        return Listing(entries, truncated)

    def head_part(self, key, number):
        """(size of part ``number``, part count) of a multipart object (HEAD
        with partNumber); the count is None when the server does not say."""
        with self._errors("head part %d of" % number, key):
            resp = self.client.head_object(Bucket=self.bucket, Key=key, PartNumber=number)
        return resp["ContentLength"], resp.get("PartsCount")

    def list_containers(self, marker="", limit=1000):
        """One page of the account's bucket names after ``marker`` (entries
        with ``name``); ListBuckets has no marker, so the page is cut here."""
        with self._errors("list buckets"):
            resp = self.client.list_buckets()
        names = sorted(b["Name"] for b in resp.get("Buckets", []) if b["Name"] > marker)
        return Listing([RemoteObject(name=n) for n in names[:limit]], len(names) > limit)

    def close(self):
        self.client.close()
