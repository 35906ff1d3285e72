"""Per-container remote settings: the I/O around the pure rules of ``sync.expiry``.

* :func:`ensure_lifecycle_rule` (S3, ``remote_delete_after``): once per
  provider, when the crawler first checks access to the bucket.
* :func:`sync_container_headers` (Swift, ``sync_container_metadata`` /
  ``sync_container_acl``): once per pass per container, before its rows.
"""

import logging
import random

import eventlet
from swift.common.swob import wsgi_to_str

from onespace import naming
from onespace.providers.base import ProviderError
from onespace.sync import expiry

LOG = logging.getLogger("onespace.sync")
# Writes of the bucket's lifecycle rules, each confirmed by a read, before
# giving up until the next start.
LIFECYCLE_ATTEMPTS = 5


def ensure_lifecycle_rule(mapping, account, container, provider, pause=eventlet.sleep):
    """Make the bucket expire the container's keys ``remote_delete_after`` after
    upload, or, without ``remote_delete_after``, drop the rules an earlier
    config had put there (else every copy archived since would still expire).

    The bucket's other rules are kept (see ``expiry.merge_lifecycle_rule``).
    A server without lifecycle support (Swift's s3api answers MalformedXML),
    or credentials without the permission, get one warning naming the
    mapping; objects still sync, they just do not expire remotely.  True
    when the rule is in place.  ``pause(seconds)`` waits before a write is
    confirmed (tests: no wait).
    """
    if mapping["protocol"] != "s3":
        return False
    after = mapping.get("remote_delete_after") or 0
    per_account = mapping.is_per_account if hasattr(mapping, "is_per_account") else False
    identity = getattr(mapping, "identity", "") or ""
    custom_prefix = mapping.get("custom_prefix")
    ours = expiry.lifecycle_rules(
        expiry.lifecycle_rule_id(identity, container if per_account else None),
        naming.s3_listing_prefix(account, container, custom_prefix),
        naming.s3_manifest_prefix(account, container, custom_prefix), after or 1)
    if not after:
        return _drop_lifecycle_rules(mapping, provider, {r["ID"] for r in ours}, pause)

    def merge(rules):
        changed = []
        for rule in ours:
            rules, did_change = expiry.merge_lifecycle_rule(rules, rule)
            if did_change:
                changed.append(rule)
        return rules, changed
    try:
        changed = _update_lifecycle(provider, merge, pause)
    except ProviderError as e:
        if e.retriable:
            raise
        LOG.warning("%s: remote_delete_after is not applied: the S3 remote refused its "
                    "lifecycle rule (%s); remote copies will not expire", _label(mapping), e)
        return False
    if changed is None:
        LOG.warning("%s: lifecycle rule %s keeps being replaced by other writers of the "
                    "bucket's lifecycle; it is tried again on the next start",
                    _label(mapping), ours[0]["ID"])
        return False
    for rule in changed:
        LOG.info("%s: lifecycle rule %s expires %s* after %d day(s)", _label(mapping),
                 rule["ID"], rule["Filter"]["Prefix"], rule["Expiration"]["Days"])
    return True


def _drop_lifecycle_rules(mapping, provider, rule_ids, pause):
    def drop(rules):
        rules, changed = expiry.drop_lifecycle_rules(rules, rule_ids)
        return rules, sorted(rule_ids) if changed else []
    try:
        if _update_lifecycle(provider, drop, pause):
            LOG.info("%s: lifecycle rule(s) %s removed: remote_delete_after is no longer set",
                     _label(mapping), ", ".join(sorted(rule_ids)))
    except ProviderError as e:
        if e.retriable:
            raise
        LOG.debug("%s: no lifecycle rules to look at (%s)", _label(mapping), e)
    return False


def _update_lifecycle(provider, change, pause):
    """Apply ``change(rules) -> (new rules, what changed)`` to the bucket's
    lifecycle configuration, and look again after a pause: S3 has no
    conditional lifecycle PUT, so another daemon's read-modify-write (a rule
    for another container) can replace ours.  What changed ([] if nothing
    had to), or None when it kept being replaced."""
    done = []
    for attempt in range(LIFECYCLE_ATTEMPTS):
        rules, changed = change(provider.lifecycle_rules())
        if not changed:
            return done
        provider.put_lifecycle_rules(rules)
        done = done or changed
        pause(random.uniform(0.5, 1.5) * (attempt + 1))  # apart from the other writers
    return None


def sync_container_headers(mapping, account, container, cluster, provider):
    """Bring the remote Swift container's metadata/ACLs in line with the local
    container's; the headers POSTed ({} when already in line)."""
    sync_meta = bool(mapping.get("sync_container_metadata"))
    sync_acl = bool(mapping.get("sync_container_acl"))
    if mapping["protocol"] != "swift" or not (sync_meta or sync_acl):
        return {}
    local = cluster.container_headers(account, container)
    if local is None:
        return {}  # no database here: the nodes that have one do it
    # both sides as text: http.client hands out header bytes as latin-1
    remote = {k: wsgi_to_str(v) for k, v in provider.head_container().items()}
    changes = expiry.container_header_changes(local, remote, sync_meta, sync_acl)
    if changes:
        provider.post_container(changes)
        LOG.info("%s: container %s/%s headers updated remotely: %s", _label(mapping),
                 account, container, ", ".join(sorted(changes)))
    return changes


def _label(mapping):
    return getattr(mapping, "label", None) or "%s/%s" % (mapping.get("account"),
                                                         mapping.get("container"))
