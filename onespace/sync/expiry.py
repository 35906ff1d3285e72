"""Remote expiry and remote container headers: pure decisions, no I/O.

* Swift remotes expire objects with ``X-Delete-At``: :func:`remote_delete_at`
  computes it from the mapping's ``remote_delete_after`` (object time +
  seconds) or ``propagate_expiration`` (the local ``X-Delete-At`` + offset).
* S3 remotes have no per-object expiry: :func:`merge_lifecycle_rule` puts one
  onespace rule into the bucket's lifecycle configuration, beside the
  operator's own rules.
* ``sync_container_metadata`` / ``sync_container_acl``:
  :func:`container_header_changes` is the POST that makes the remote Swift
  container's metadata/ACLs mirror the local one.
"""

import hashlib
import math

from onespace.headers import DELETE_AT_KEY, cluster_own_metadata

DAY = 86400
ACL_HEADERS = ("x-container-read", "x-container-write")
CONTAINER_META_PREFIX = "x-container-meta-"


# ---------------------------------------------------------------- Swift expiry

def manages_expiry(mapping):
    """Does onespace set X-Delete-At on this mapping's remote objects?

    Only then is a remote X-Delete-At compared with the wanted one: with both
    options off, whatever the remote holds is somebody else's business --
    except in archive mode, where the remote copy becomes the only one: an
    expiry nobody asked for (left by an earlier config) would delete the
    data, so it is removed before the local copy is.
    """
    return mapping.get("protocol") == "swift" and bool(
        mapping.get("remote_delete_after") or mapping.get("propagate_expiration")
        or not mapping.get("retain_local", True))


def remote_delete_at(mapping, object_time, local_delete_at=None, segment=False):
    """The X-Delete-At (int epoch seconds) a remote Swift copy should carry, or None.

    ``object_time`` is when the object's data was written (its X-Timestamp,
    the row's data time): the remote copy expires ``remote_delete_after``
    seconds after the original write, however late it was copied.
    ``remote_delete_after`` wins over ``propagate_expiration``, as in 1space.
    In archive mode the object's own X-Delete-At always counts (the earlier
    of the two): the remote copy then is the object.
    Segments of a large object (``segment``) get
    ``remote_delete_after_addition`` more, so a manifest never outlives them.
    """
    if mapping.get("protocol") != "swift":
        return None  # S3: a lifecycle rule on the bucket instead
    addition = int(mapping.get("remote_delete_after_addition") or 0) if segment else 0
    after = int(mapping.get("remote_delete_after") or 0)
    own = int(float(local_delete_at)) if local_delete_at not in (None, "") else None
    wanted = None
    if after:
        wanted = int(float(object_time)) + after
    elif mapping.get("propagate_expiration") and own is not None:
        wanted = own + int(mapping.get("propagate_expiration_offset") or 0)
    if not mapping.get("retain_local", True) and own is not None:
        # archived, the remote copy is the object: it expires when the object would
        wanted = own if wanted is None else min(wanted, own)
    return None if wanted is None else wanted + addition


def delete_at_headers(mapping, delete_at):
    """Extra headers for a Swift PUT/POST: set the expiry, or (POST) drop a
    stale one (None = remove; the provider does not carry it over)."""
    if not manages_expiry(mapping):
        return {}
    return {"X-Delete-At": str(delete_at) if delete_at is not None else None}


def s3_expiry_differs(remote_internal, local_headers):
    """Does an S3 copy record (``swift-delete-at``) another X-Delete-At than
    the local object has?  The shunt stops serving an archived copy then."""
    recorded = (remote_internal or {}).get(DELETE_AT_KEY) or None
    return recorded != (local_headers.get("x-delete-at") or None)


def expiry_differs(remote_headers, delete_at):
    """Does the remote object's X-Delete-At differ from the wanted one (an
    int, or None/"" for none)?"""
    current = (remote_headers or {}).get("x-delete-at")
    current = int(current) if current not in (None, "") else None
    return current != (int(delete_at) if delete_at not in (None, "") else None)


def already_expired(delete_at, now):
    """A copy whose expiry has passed is not sent: Swift refuses an
    X-Delete-At in the past (400), and the copy would be deleted at once."""
    return delete_at is not None and delete_at <= now


# ---------------------------------------------------------------- S3 lifecycle

def lifecycle_rule_id(mapping_identity, container=None):
    """onespace's rule in a bucket: one per mapping (and per container for a
    per-account mapping, whose containers have unrelated key prefixes)."""
    rule_id = "onespace-" + mapping_identity[:16]
    if container is not None:
        rule_id += "-" + hashlib.md5(container.encode("utf-8")).hexdigest()[:8]
    return rule_id


def lifecycle_rule(rule_id, prefix, delete_after):
    """An S3 expiration rule for keys under ``prefix``; S3 counts whole days
    (at least one), so ``remote_delete_after`` is rounded up."""
    return {"ID": rule_id, "Filter": {"Prefix": prefix}, "Status": "Enabled",
            "Expiration": {"Days": max(1, math.ceil(delete_after / DAY))}}


def lifecycle_rules(rule_id, prefix, manifest_prefix, delete_after):
    """onespace's rules for one container: its keys, and its SLO manifests
    when they live outside ``prefix`` (default naming: ``<hash>/.manifests/``),
    so a manifest never outlives the object it describes."""
    rules = [lifecycle_rule(rule_id, prefix, delete_after)]
    if not manifest_prefix.startswith(prefix):
        rules.append(lifecycle_rule(rule_id + "-manifests", manifest_prefix, delete_after))
    return rules


def merge_lifecycle_rule(existing, rule):
    """The bucket's rules with ``rule`` added or replaced by ID, and whether
    anything changed.  Every other rule (the operator's, other mappings')
    is kept as it was: a lifecycle PUT replaces the whole configuration."""
    rules, found = [], False
    for r in existing or []:
        if r.get("ID") == rule["ID"]:
            if found:
                continue  # a duplicate of ours: drop it
            found = True
            rules.append(rule)
        else:
            rules.append(r)
    if not found:
        rules.append(rule)
    return rules, rules != list(existing or [])


def drop_lifecycle_rules(existing, rule_ids):
    """The bucket's rules without those whose ID is in ``rule_ids`` (a
    mapping's, once it no longer sets remote_delete_after), and whether
    anything changed."""
    rules = [r for r in existing or [] if r.get("ID") not in rule_ids]
    return rules, len(rules) != len(existing or [])


# ---------------------------------------------------------------- container headers

def container_header_changes(local, remote, sync_metadata, sync_acl):
    """Headers to POST so the remote container mirrors the local one.

    ``local`` and ``remote`` are container HEAD headers (lowercase names).
    With ``sync_metadata`` the remote's ``X-Container-Meta-*`` mirror the
    local ones: a key present only remotely is removed (an empty value), so a
    key removed locally disappears remotely too.  onespace keeps no record
    of which keys it set; mirroring is the only rule that needs none.  With
    ``sync_acl`` the same goes for X-Container-Read/-Write.  ``{}`` when
    nothing differs.
    """
    def wanted(name):
        if name.startswith(CONTAINER_META_PREFIX):
            return sync_metadata and not cluster_own_metadata(name)
        return sync_acl and name in ACL_HEADERS

    def pick(headers):
        return {k.lower(): v for k, v in (headers or {}).items()
                if wanted(k.lower()) and v != ""}

    mine, theirs = pick(local), pick(remote)
    changes = {k: v for k, v in mine.items() if theirs.get(k) != v}
    changes.update({k: "" for k in theirs if k not in mine})
    return changes
