"""Look at what arrived in a remote store, independently of onespace's providers."""

import botocore.exceptions
import swiftclient

from onespace import headers, naming

TARGETS = ("seaweedfs", "s3api", "swift")


class RemoteView:
    """Read a target bucket/container with plain boto3 / swiftclient."""

    def __init__(self, lab, target, bucket, account="AUTH_test", container=None,
                 custom_prefix=None):
        self.lab, self.target, self.bucket = lab, target, bucket
        self.account, self.container, self.custom_prefix = account, container, custom_prefix
        if target == "swift":
            self.conn = lab.swift_connection("test2")
        else:
            self.s3 = lab.s3_client(target)

    def create(self):
        if self.target == "swift":
            return  # onespace creates Swift target containers itself
        self.s3.create_bucket(Bucket=self.bucket)

    def key(self, name):
        if self.target == "swift":
            return name
        return naming.s3_key(self.account, self.container, name, self.custom_prefix)

    def get(self, name):
        """(body, content type, user metadata {lowercase: value}) or None."""
        key = self.key(name)
        if self.target == "swift":
            try:
                hdrs, body = self.conn.get_object(self.bucket, key)
            except swiftclient.ClientException as e:
                if e.http_status == 404:
                    return None
                raise
            meta = {k[len("x-object-meta-"):]: v for k, v in hdrs.items()
                    if k.startswith("x-object-meta-")}
            return body, hdrs["content-type"], meta
        try:
            resp = self.s3.get_object(Bucket=self.bucket, Key=key)
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        meta = {k[len("X-Object-Meta-"):].lower(): v
                for k, v in headers.from_s3_metadata(resp["Metadata"]).items()}
        return resp["Body"].read(), resp["ContentType"], meta

    def delete(self, name):
        """Remove one object (a Swift SLO manifest only, as a plain DELETE does)."""
        if self.target == "swift":
            self.conn.delete_object(self.bucket, self.key(name))
        else:
            self.s3.delete_object(Bucket=self.bucket, Key=self.key(name))

    def keys(self):
        if self.target == "swift":
            try:
                return [o["name"] for o in self.conn.get_container(
                    self.bucket, full_listing=True)[1]]
            except swiftclient.ClientException as e:
                if e.http_status == 404:
                    return []
                raise
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys
