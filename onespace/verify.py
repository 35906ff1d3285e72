"""onespace-verify: check every mapping's credentials and remote access
before the daemons need them (1space's ``swift-s3-verify``).

For each ``containers[]`` mapping it writes a small test object where the
sync daemon would write (the mapping's own remote naming, so custom
prefixes and per-account mappings are covered), reads it back, HEADs it,
finds it in a listing of its prefix and deletes it.  ``--read-only`` only
checks the bucket/container and lists the mapping's prefix.  Migrations
are always checked read-only: the migrator only reads its source.

Per-account (``"container": "/*"``) mappings: on S3 the test object goes
to the key a container named ``onespace-verify`` would use; on Swift each
local container has its own remote container (``<aws_bucket><container>``)
that onespace-sync creates when needed, so only the account is checked
(HEAD, and a listing of its containers) and no container is created.

One line per entry, ``<label>: OK`` or ``<label>: FAILED: <step>: <reason>``;
exit 0 when every entry passed, 1 when one failed, 2 for a bad config or
selection.  No line ever holds a secret.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import uuid
from dataclasses import dataclass

from onespace import naming
from onespace.config import Migration, error_line, scrub

DEFAULT_CONFIG = "/etc/onespace/onespace.json"

#: Test objects live under this name, so that a leftover explains itself.
TEST_NAME = "onespace-verify"

#: A listing may lag a PUT on eventually consistent stores: tries, seconds apart.
LIST_TRIES = 3
LIST_DELAY = 1.0


class CheckFailed(Exception):
    """One step of a check failed; ``step`` names it."""

    def __init__(self, step, reason):
        super().__init__(step, reason)
        self.step = step
        self.reason = reason

    def __str__(self):
        return "%s: %s" % (self.step, self.reason)


# ---------------------------------------------------------------- the plan (pure)

@dataclass
class Plan:
    """What to check for one config entry."""

    entry: object             # a config.Mapping or config.Migration
    bucket: str | None        # None: the account (per-account Swift, all-bucket migrations)
    prefix: str = ""          # listed to check read access where data lives
    key: str | None = None    # the test object; None: read-only
    create: bool = False      # make a missing Swift container, as onespace-sync would
    missing_ok: bool = False  # a missing container is fine: onespace-sync creates it


def plan(entry, read_only, token):
    """The checks for a ``containers[]`` mapping or a ``migrations[]`` entry;
    ``token`` makes the test object's name unique."""
    name = "%s/%s" % (TEST_NAME, token)
    if isinstance(entry, Migration):  # a migration: the source is only read
        if entry.is_all_buckets:
            return Plan(entry, None)
        return Plan(entry, entry["aws_bucket"], prefix=entry.get("prefix") or "")
    if entry["protocol"] == "swift":
        if entry.is_per_account:
            return Plan(entry, None)
        return Plan(entry, entry["aws_bucket"], key=None if read_only else name,
                    create=not read_only, missing_ok=read_only)
    container = TEST_NAME if entry.is_per_account else entry["container"]
    args = (entry["account"], container)
    custom = entry.get("custom_prefix")
    return Plan(entry, entry["aws_bucket"],
                prefix=naming.s3_listing_prefix(*args, custom_prefix=custom),
                key=None if read_only else naming.s3_key(*args, name, custom_prefix=custom))


# ---------------------------------------------------------------- the checks (I/O)

def _step(name, call, *args, **kwargs):
    """Run one provider call; any failure becomes a CheckFailed naming the step."""
    from onespace.providers import ProviderError
    try:
        return call(*args, **kwargs)
    except ProviderError as e:
        text = str(e)
        if text.startswith(e.label + ": "):  # the output line names the entry already
            text = text[len(e.label) + 2:]
        raise CheckFailed(name, text) from e


def run(plan_, providers, sleep=time.sleep):
    """Carry out a plan; returns a note for the OK line ("" if none) or
    raises CheckFailed."""
    from onespace.providers import NotFound
    entry = plan_.entry
    provider = providers.get(entry, plan_.bucket or entry["aws_bucket"])
    if plan_.bucket is None:
        if entry["protocol"] == "swift":
            _step("HEAD account", provider.head_account)
        _step("list containers", provider.list_containers, limit=1)
        if not isinstance(entry, Migration):
            return "account checked; onespace-sync creates each <aws_bucket><container>"
        return "read-only"
    try:
        _step("access", provider.check_access, create=plan_.create)
    except CheckFailed as e:
        if not (plan_.missing_ok and isinstance(e.__cause__, NotFound)):
            raise
        _step("HEAD account", provider.head_account)
        return "read-only; container %r does not exist yet, onespace-sync creates it" \
            % plan_.bucket
    _step("list", provider.list, prefix=plan_.prefix, limit=1)
    if plan_.key is None:
        return "read-only"
    _round_trip(provider, plan_.key, sleep)
    return ""


def _round_trip(provider, key, sleep):
    """PUT, GET, HEAD, LIST and DELETE one small object; the DELETE is tried
    whatever failed before, so no test object is left behind."""
    body = ("onespace-verify test object %s\n" % key).encode("utf-8")
    md5 = hashlib.md5(body).hexdigest()
    _step("PUT", provider.put, key, body, len(body), md5, content_type="text/plain")
    try:
        _, stream = _step("GET", provider.get, key)
        with stream:
            data = b"".join(_step("GET", list, stream))
        if data != body:
            raise CheckFailed("GET", "read %d bytes that differ from the %d written"
                              % (len(data), len(body)))
        obj = _step("HEAD", provider.head, key)
        if obj is None or obj.etag != md5:
            raise CheckFailed("HEAD", "test object %r: %s" % (
                key, "not found" if obj is None else "ETag %s, expected %s" % (obj.etag, md5)))
        for attempt in range(LIST_TRIES):
            page = _step("LIST", provider.list, prefix=key, limit=10)
            if any(o.name == key for o in page):
                break
            if attempt + 1 < LIST_TRIES:
                sleep(LIST_DELAY)
        else:
            raise CheckFailed("LIST", "test object %r is not listed" % key)
    except Exception as e:
        try:
            provider.delete(key)
        except Exception:  # noqa: BLE001 - the first failure is the one to report
            if isinstance(e, CheckFailed):
                e.reason += " (and the test object %r could not be deleted)" % key
        raise
    _step("DELETE", provider.delete, key)


def verify(entries, read_only=False, token=None, providers=None, sleep=time.sleep):
    """Check each entry; yields ``(entry, ok, line)``."""
    from onespace.providers import ProviderCache
    token = token or uuid.uuid4().hex
    providers = providers or ProviderCache(2)
    try:
        for entry in entries:
            try:
                note = run(plan(entry, read_only, token), providers, sleep)
            except CheckFailed as e:
                yield entry, False, "%s: FAILED: %s" % (entry.label, e)
            except Exception as e:  # noqa: BLE001 - one entry's surprise is not the others'
                yield entry, False, "%s: FAILED: %s" % (entry.label, error_line(e))
            else:
                yield entry, True, "%s: OK%s" % (entry.label, " (%s)" % note if note else "")
    finally:
        providers.close()


# ---------------------------------------------------------------- CLI

def select(config, mappings, migrations, account=None, container=None):
    """The entries to check: the given indexes (every entry when neither
    list is given), narrowed to ``account``/``container``.  Raises
    ValueError for an index the config does not have."""
    chosen = []
    if not mappings and not migrations:
        chosen = list(config.mappings) + list(config.migrations)
    for section, have, wanted in (("containers", config.mappings, mappings),
                                  ("migrations", config.migrations, migrations)):
        for index in wanted or ():
            if not 0 <= index < len(have):
                raise ValueError("%s[%d]: no such entry (the config has %d)"
                                 % (section, index, len(have)))
            chosen.append(have[index])
    return [e for e in chosen
            if (account is None or e.get("account") == account)
            and (container is None or e.get("container") == container)]


def main(argv=None):
    """onespace-verify: check credentials and bucket/container access of every mapping."""
    p = argparse.ArgumentParser(
        prog="onespace-verify", description=main.__doc__,
        epilog="Exit status: 0 all OK, 1 a check failed, 2 bad config or selection.")
    p.add_argument("--config", default=DEFAULT_CONFIG, help="JSON config (default %(default)s)")
    p.add_argument("--read-only", action="store_true",
                   help="only check the buckets/containers and list them; write nothing")
    p.add_argument("--mapping", type=int, action="append", metavar="N",
                   help="check containers[N] (repeatable; default: every entry)")
    p.add_argument("--migration", type=int, action="append", metavar="N",
                   help="check migrations[N] (repeatable)")
    p.add_argument("--account", help="only entries of this local account")
    p.add_argument("--container", help="only entries of this local container (or /*)")
    args = p.parse_args(argv)
    from onespace.config import ConfigError, load
    try:
        config = load(args.config)
        entries = select(config, args.mapping, args.migration, args.account, args.container)
    except ConfigError as e:  # one line per problem, as onespace-config check prints them
        for line in e.problems:
            print(line)
        return 2
    except ValueError as e:
        print(e)
        return 2
    if not entries:
        print("%s: nothing to verify" % args.config)
        return 2 if (args.mapping or args.migration or args.account or args.container) else 0
    secrets = config.secrets()
    failed = 0
    for _, ok, line in verify(entries, read_only=args.read_only):
        failed += not ok
        print(scrub(line, secrets), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
