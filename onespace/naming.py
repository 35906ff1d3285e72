"""Remote object names: the one place that knows how 1space laid out data.

Everything here must keep producing exactly the names 1space wrote
(s3_sync/sync_s3.py ``get_prefix``/``get_s3_name``/``get_manifest_name``,
s3_sync/sync_swift.py ``remote_container``), or archived data becomes
unreachable.  Functions take plain strings so they stay trivially testable.
"""

from __future__ import annotations

import hashlib

PREFIX_SPACE = 16 ** 6
MANIFESTS_DIR = ".manifests"
SLO_MANIFEST_SUFFIX = ".swift_slo_manifest"

S3_MAX_KEY_BYTES = 1024
SWIFT_MAX_NAME_BYTES = 1024
_LIMITS = {"s3": ("S3", S3_MAX_KEY_BYTES), "swift": ("Swift", SWIFT_MAX_NAME_BYTES)}


def hash_prefix(account: str, container: str) -> str:
    """Spread containers over the key space as 1space did: md5 of
    "<account>/<container>" (UTF-8) mod 16**6, lowercase hex, no padding."""
    digest = hashlib.md5(f"{account}/{container}".encode("utf-8")).hexdigest()
    return format(int(digest, 16) % PREFIX_SPACE, "x")


def _custom(custom_prefix: str) -> str:
    # 1space stripped '/' on both ends once, when it loaded the mapping.
    return custom_prefix.strip("/")


def s3_key(account: str, container: str, obj: str,
           custom_prefix: str | None = None) -> str:
    """Remote key of a Swift object in an S3 bucket."""
    if custom_prefix is None:
        return f"{hash_prefix(account, container)}/{account}/{container}/{obj}"
    prefix = _custom(custom_prefix)
    return f"{prefix}/{obj}" if prefix else obj


def s3_listing_prefix(account: str, container: str,
                      custom_prefix: str | None = None) -> str:
    """Key prefix under which every object of the container lives."""
    if custom_prefix is None:
        return f"{hash_prefix(account, container)}/{account}/{container}/"
    prefix = _custom(custom_prefix)
    return f"{prefix}/" if prefix else ""


def s3_object_name(key: str, account: str, container: str,
                   custom_prefix: str | None = None) -> str:
    """Swift object name for a remote key (inverse of :func:`s3_key`)."""
    prefix = s3_listing_prefix(account, container, custom_prefix)
    if not key.startswith(prefix) or len(key) == len(prefix):
        raise ValueError(f"key {key!r} is not under {prefix!r}")
    return key[len(prefix):]


def s3_manifest_prefix(account: str, container: str,
                       custom_prefix: str | None = None) -> str:
    """Key prefix of the container's SLO manifests.  With a custom prefix it
    lies inside the listing prefix, so listings must skip it."""
    if custom_prefix is None:
        return (f"{hash_prefix(account, container)}/{MANIFESTS_DIR}/"
                f"{account}/{container}/")
    prefix = _custom(custom_prefix)
    return f"{prefix}/{MANIFESTS_DIR}/" if prefix else f"{MANIFESTS_DIR}/"


def s3_manifest_key(account: str, container: str, obj: str,
                    custom_prefix: str | None = None) -> str:
    """Where the SLO manifest of ``obj`` is kept so it can be restored.

    The name is hashed to dodge key length limits.  With a custom prefix
    1space hashed the object name *after* stripping its leading slashes
    (``s3_name[len(prefix):].lstrip('/')``); that quirk is kept.
    """
    if custom_prefix is not None:
        obj = obj.lstrip("/")
    digest = hashlib.sha256(obj.encode("utf-8")).hexdigest()
    return (f"{s3_manifest_prefix(account, container, custom_prefix)}"
            f"{digest}{SLO_MANIFEST_SUFFIX}")


def swift_container(aws_bucket: str, container: str, per_account: bool) -> str:
    """Remote Swift container: ``aws_bucket`` itself, or, for an
    all-containers (``/*``) mapping, ``aws_bucket`` used as a prefix."""
    return aws_bucket + container if per_account else aws_bucket


def swift_segments_container(aws_bucket: str, segments_container: str,
                             per_account: bool) -> str:
    """Remote container for large-object segments kept in the local
    ``segments_container``: mapped like any container for ``/*`` mappings,
    else ``<aws_bucket>_segments``."""
    if per_account:
        return aws_bucket + segments_container
    return aws_bucket + "_segments"


def local_segments_container(aws_bucket: str, remote_container: str, container: str,
                             per_account: bool) -> str | None:
    """The local container that segments kept in the remote
    ``remote_container`` are restored into, for an object of the local
    ``container``: the inverse of :func:`swift_segments_container`.  A
    non-``/*`` mapping keeps every object's segments in one remote
    container: they come back to ``<container>_segments`` (where Swift's
    clients put them).  None when ``remote_container`` is not onespace's."""
    if per_account:
        if remote_container.startswith(aws_bucket) and remote_container != aws_bucket:
            return remote_container[len(aws_bucket):]
        return None
    if remote_container == aws_bucket + "_segments":
        return container + "_segments"
    return None


# Key shapes that some S3 servers store under another name: SeaweedFS keeps
# "a/" as an empty directory, "a//b" and "a\\b" as "a/b", "/a" as "a", so two local
# objects could share one remote copy.  ``providers.s3`` probes a bucket for
# them (a probe key per shape, '%s' being a unique name) before sending one.
KEY_SHAPES = {"leading '/'": "/%s", "'//'": "%s//x", "trailing '/'": "%s/",
              "'\\'": "%s\\x"}  # a backslash: SeaweedFS reads it as '/'


def key_shapes(key: str) -> list[str]:
    """Which of :data:`KEY_SHAPES` ``key`` has."""
    found = [(key.startswith("/"), "leading '/'"), ("//" in key, "'//'"),
             (key.endswith("/"), "trailing '/'"), ("\\" in key, "'\\'")]
    return [shape for present, shape in found if present]


def has_dot_segment(key: str) -> bool:
    """A ``.`` or ``..`` between slashes: requests/urllib3 remove dot segments
    from URLs (RFC 3986), so ``a/./b`` would reach ``a/b`` and ``../c/o``
    another container.  S3 servers refuse or keep them; Swift URLs lose them."""
    return any(part in (".", "..") for part in key.split("/"))


def check_remote_key(key: str, protocol: str,
                     max_part_bytes: int | None = None) -> str | None:
    """Say why ``key`` cannot be stored remotely, or None if it can.

    ``max_part_bytes`` adds a per-path-segment limit (SeaweedFS: 255).
    """
    try:
        store, limit = _LIMITS[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}") from None
    if not key:
        return "remote key is empty"
    size = len(key.encode("utf-8"))
    if size > limit:
        return f"remote key is {size} bytes, the {store} limit is {limit}"
    if protocol == "swift" and has_dot_segment(key):
        return ("remote key has a '.' or '..' path part, which HTTP libraries "
                "resolve away: it would be stored under another name")
    if max_part_bytes is not None:
        for part in key.split("/"):
            part_size = len(part.encode("utf-8"))
            if part_size > max_part_bytes:
                return (f"remote key part {part[:40]!r} is {part_size} bytes, "
                        f"the limit is {max_part_bytes} per '/'-separated part")
    return None


def owner_index(name: str | bytes, replicas: int) -> int:
    """Replica index that handles a row first; md5 so that every process
    (and every node) agrees, unlike ``hash()``."""
    if isinstance(name, str):
        name = name.encode("utf-8")
    return int(hashlib.md5(name).hexdigest(), 16) % replicas
