"""Remote expiry (X-Delete-At, S3 lifecycle) and container header mirroring."""

import logging

import pytest

from onespace import naming
from onespace.cluster import LocalObject
from onespace.providers.base import ProviderError, RemoteObject
from onespace.sync import expiry
from onespace.sync.container import ensure_lifecycle_rule, sync_container_headers
from onespace.sync.decide import Action, decide_object

ETAG = "5d41402abc4b2a76b9719d911017c592"
T = 1_700_000_000.12345  # an object's data time


def swift(**kw):
    m = {"protocol": "swift", "account": "AUTH_a", "container": "c",
         "propagate_delete": True, "exclude_pattern": None, "selection_criteria": None,
         "copy_after": 0, "retain_local": True}
    m.update(kw)
    return m


# ---------------------------------------------------------------- X-Delete-At

@pytest.mark.parametrize("mapping, local_delete_at, segment, expected", [
    (swift(), None, False, None),                                        # nothing asked
    (swift(), "1800000000", False, None),                                # not propagated
    (swift(remote_delete_after=3600), None, False, int(T) + 3600),       # object time + after
    (swift(remote_delete_after=3600, remote_delete_after_addition=60), None, False,
     int(T) + 3600),                                                     # addition: segments only
    (swift(remote_delete_after=3600, remote_delete_after_addition=60), None, True,
     int(T) + 3660),
    (swift(propagate_expiration=True), "1800000000", False, 1800000000),
    (swift(propagate_expiration=True, propagate_expiration_offset=120), "1800000000", False,
     1800000120),
    (swift(propagate_expiration=True, propagate_expiration_offset=-100), "1800000000", False,
     1799999900),
    (swift(propagate_expiration=True), None, False, None),               # no local expiry
    (swift(propagate_expiration=True), "", False, None),
    (swift(propagate_expiration=True, remote_delete_after=3600), "1800000000", False,
     int(T) + 3600),                                                     # remote_delete_after wins
    (swift(propagate_expiration=True, remote_delete_after_addition=60), "1800000000", True,
     1800000060),                                                        # segments outlive too
    (dict(swift(remote_delete_after=3600), protocol="s3"), "1800000000", False, None),
    # archive mode: the copy is the object, and expires when it would
    (swift(retain_local=False), "1800000000", False, 1800000000),
    (swift(retain_local=False), None, False, None),
    (swift(retain_local=False, remote_delete_after=3600), "1800000000", False, int(T) + 3600),
    (swift(retain_local=False, remote_delete_after=3600), str(int(T) + 60), False, int(T) + 60),
    (swift(retain_local=False, remote_delete_after_addition=60), "1800000000", True, 1800000060),
])
def test_remote_delete_at(mapping, local_delete_at, segment, expected):
    assert expiry.remote_delete_at(mapping, T, local_delete_at, segment) == expected


@pytest.mark.parametrize("mapping, delete_at, expected", [
    (swift(), 5, {}),                                           # not managed: leave it alone
    (swift(remote_delete_after=10), 5, {"X-Delete-At": "5"}),
    (swift(propagate_expiration=True), None, {"X-Delete-At": None}),  # POST drops a stale one
    (swift(retain_local=False), None, {"X-Delete-At": None}),   # archive: none but ours
    (dict(swift(remote_delete_after=10), protocol="s3"), 5, {}),
])
def test_delete_at_headers(mapping, delete_at, expected):
    assert expiry.delete_at_headers(mapping, delete_at) == expected


def _local(delete_at=None):
    h = {"ETag": ETAG, "Content-Length": "5", "Content-Type": "text/plain"}
    if delete_at:
        h["X-Delete-At"] = delete_at
    return LocalObject(h)


def _remote(delete_at=None):
    headers = {"x-delete-at": str(delete_at)} if delete_at else {}
    return RemoteObject(name="k", etag=ETAG, size=5, content_type="text/plain",
                        headers=headers)


@pytest.mark.parametrize("mapping, remote_delete_at, wanted, expected", [
    (swift(), 2_000_000_000, None, Action.NOTHING),            # unmanaged remote expiry kept
    (swift(remote_delete_after=10), None, 2_000_000_000, Action.POST_METADATA),
    (swift(remote_delete_after=10), 2_000_000_000, 2_000_000_000, Action.NOTHING),
    (swift(remote_delete_after=10), 2_000_000_001, 2_000_000_000, Action.POST_METADATA),
    (swift(propagate_expiration=True), 2_000_000_000, None, Action.POST_METADATA),  # removed
    (swift(remote_delete_after=10), None, 1_000, Action.SKIP),  # would expire at once
    # archive mode: the remote copy will be the only one; an expiry nobody
    # asked for (an earlier config's) goes before the local copy does
    (swift(retain_local=False), 2_000_000_000, None, Action.POST_METADATA),
    (swift(retain_local=False), None, None, Action.ARCHIVE),
])
def test_decide_object_with_expiry(mapping, remote_delete_at, wanted, expected):
    d = decide_object(_local(), _remote(remote_delete_at), mapping, True, delete_at=wanted,
                      now=1_900_000_000)
    assert d.action == expected, d


def test_expired_object_is_not_uploaded():
    d = decide_object(_local(), None, swift(remote_delete_after=10), True, delete_at=1_000,
                      now=2_000)
    assert d.action is Action.SKIP and "1000" in d.reason


# ---------------------------------------------------------------- S3 lifecycle

THEIRS = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
          "Expiration": {"Days": 7}}


def test_lifecycle_rule_rounds_up_to_days():
    rule = expiry.lifecycle_rule("onespace-x", "p/", 86401)
    assert rule == {"ID": "onespace-x", "Filter": {"Prefix": "p/"}, "Status": "Enabled",
                    "Expiration": {"Days": 2}}
    assert expiry.lifecycle_rule("i", "", 60)["Expiration"] == {"Days": 1}


def test_lifecycle_rule_id():
    ident = "0123456789abcdef" * 4
    assert expiry.lifecycle_rule_id(ident) == "onespace-0123456789abcdef"
    per_container = expiry.lifecycle_rule_id(ident, "c1")
    assert per_container.startswith("onespace-0123456789abcdef-")
    assert per_container != expiry.lifecycle_rule_id(ident, "c2")


@pytest.mark.parametrize("existing, expected, changed", [
    ([], ["ours"], True),
    (None, ["ours"], True),
    ([THEIRS], [THEIRS, "ours"], True),                               # theirs kept, ours added
    ([THEIRS, "old-ours"], [THEIRS, "ours"], True),                   # ours replaced in place
    (["old-ours", THEIRS, "old-ours"], ["ours", THEIRS], True),       # a duplicate dropped
    ([THEIRS, "ours"], [THEIRS, "ours"], False),                      # nothing to PUT
])
def test_merge_lifecycle_rule(existing, expected, changed):
    ours = expiry.lifecycle_rule("onespace-x", "abc/", 86400)
    old = expiry.lifecycle_rule("onespace-x", "abc/", 3 * 86400)
    subst = {"ours": ours, "old-ours": old}

    def expand(rules):
        return None if rules is None else [subst.get(r, r) if isinstance(r, str) else r
                                           for r in rules]
    rules, did_change = expiry.merge_lifecycle_rule(expand(existing), ours)
    assert rules == expand(expected)
    assert did_change is changed


class Mapping(dict):
    identity = "f" * 64
    label = "containers[0] (AUTH_a/c -> s3 b)"
    is_per_account = False


class FakeS3:
    """A bucket's lifecycle configuration, as get/put_bucket_lifecycle_configuration see it."""

    def __init__(self, rules=None, refuse=None):
        self.rules = rules
        self.refuse = refuse
        self.puts = 0

    def lifecycle_rules(self):
        return list(self.rules or [])

    def put_lifecycle_rules(self, rules):
        if self.refuse:
            raise self.refuse
        self.puts += 1
        self.rules = rules


NO_PAUSE = lambda seconds: None  # noqa: E731


class RacingS3(FakeS3):
    """Another daemon's read-modify-write replaces the first ``clobbers`` PUTs
    with the rules it read before them."""

    def __init__(self, rules=None, clobbers=1):
        super().__init__(rules)
        self.clobbers = clobbers

    def put_lifecycle_rules(self, rules):
        before = self.lifecycle_rules()
        super().put_lifecycle_rules(rules)
        if self.clobbers:
            self.clobbers -= 1
            self.rules = before + [{"ID": "other-%d" % self.puts}]


def s3_mapping(**kw):
    m = Mapping(protocol="s3", account="AUTH_a", container="c", remote_delete_after=86400)
    m.update(kw)
    return m


def test_ensure_lifecycle_rule_keeps_other_rules_and_is_idempotent():
    fake = FakeS3([THEIRS])
    assert ensure_lifecycle_rule(s3_mapping(), "AUTH_a", "c", fake, pause=NO_PAUSE)
    assert fake.rules[0] == THEIRS
    ours, manifests = fake.rules[1:]
    assert ours["ID"] == "onespace-" + "f" * 16
    assert ours["Filter"]["Prefix"].endswith("/AUTH_a/c/")
    # the SLO manifests, outside that prefix, expire with their objects
    assert manifests["ID"] == ours["ID"] + "-manifests"
    assert manifests["Filter"]["Prefix"] == naming.s3_manifest_prefix("AUTH_a", "c")
    assert manifests["Expiration"] == ours["Expiration"]
    assert ensure_lifecycle_rule(s3_mapping(), "AUTH_a", "c", fake, pause=NO_PAUSE)
    assert fake.puts == 1  # already in place: no second PUT


def test_ensure_lifecycle_rule_custom_prefix():
    fake = FakeS3()
    ensure_lifecycle_rule(s3_mapping(custom_prefix="my/pre"), "AUTH_a", "c", fake,
                          pause=NO_PAUSE)
    # the manifests (my/pre/.manifests/) lie inside the prefix: one rule covers both
    assert [r["Filter"] for r in fake.rules] == [{"Prefix": "my/pre/"}]


def test_ensure_lifecycle_rule_off_or_swift():
    fake = FakeS3()
    assert not ensure_lifecycle_rule(s3_mapping(remote_delete_after=0), "AUTH_a", "c", fake,
                                     pause=NO_PAUSE)
    assert not ensure_lifecycle_rule(s3_mapping(protocol="swift"), "AUTH_a", "c", fake,
                                     pause=NO_PAUSE)
    assert fake.rules is None


def test_unsupported_lifecycle_is_one_warning(caplog):
    refused = ProviderError("containers[0]", "put lifecycle", "b", status=400,
                            reason="MalformedXML")
    fake = FakeS3(refuse=refused)
    with caplog.at_level(logging.WARNING, "onespace.sync"):
        assert not ensure_lifecycle_rule(s3_mapping(), "AUTH_a", "c", fake, pause=NO_PAUSE)
    assert len(caplog.records) == 1
    assert "containers[0] (AUTH_a/c -> s3 b)" in caplog.text
    assert "MalformedXML" in caplog.text


def test_lifecycle_retriable_error_raises():
    fake = FakeS3(refuse=ProviderError("m", "put lifecycle", status=503))
    with pytest.raises(ProviderError):
        ensure_lifecycle_rule(s3_mapping(), "AUTH_a", "c", fake, pause=NO_PAUSE)


# ---------------------------------------------------------------- container headers

@pytest.mark.parametrize("local, remote, meta, acl, expected", [
    ({}, {}, True, True, {}),
    ({"x-container-meta-a": "1"}, {}, True, False, {"x-container-meta-a": "1"}),
    ({"x-container-meta-a": "1"}, {"x-container-meta-a": "1"}, True, False, {}),
    ({"x-container-meta-a": "2"}, {"x-container-meta-a": "1"}, True, False,
     {"x-container-meta-a": "2"}),
    ({}, {"x-container-meta-a": "1"}, True, False, {"x-container-meta-a": ""}),  # removed
    ({"X-Container-Meta-A": "1"}, {}, True, False, {"x-container-meta-a": "1"}),  # case
    ({"x-container-meta-a": "1"}, {}, False, True, {}),                  # metadata off
    ({"x-container-read": ".r:*"}, {}, True, False, {}),                 # ACLs off
    ({"x-container-read": ".r:*", "x-container-write": "AUTH_x"}, {}, False, True,
     {"x-container-read": ".r:*", "x-container-write": "AUTH_x"}),
    ({}, {"x-container-read": ".r:*"}, False, True, {"x-container-read": ""}),
    ({"x-container-object-count": "3", "x-storage-policy": "gold", "x-timestamp": "1"},
     {"x-container-object-count": "0", "x-storage-policy": "silver"}, True, True, {}),
    ({"x-container-meta-a": ""}, {"x-container-meta-a": ""}, True, True, {}),  # empty = absent
])
def test_container_header_changes(local, remote, meta, acl, expected):
    assert expiry.container_header_changes(local, remote, meta, acl) == expected


class FakeCluster:
    def __init__(self, headers):
        self.headers = headers

    def container_headers(self, account, container):
        return None if self.headers is None else {
            k.lower(): v for k, v in self.headers.items()}


class FakeSwiftContainer:
    def __init__(self, headers):
        self.headers = headers
        self.posts = []

    def head_container(self):
        return dict(self.headers)

    def post_container(self, headers):
        self.posts.append(headers)


def test_sync_container_headers_posts_only_the_difference():
    # remote header values come as latin-1 text of their UTF-8 bytes
    local = {"X-Container-Meta-Same": "x", "X-Container-Meta-Note": "caf\u00e9",
             "X-Container-Read": ".r:*", "X-Container-Meta-Removed": ""}
    remote = FakeSwiftContainer({"x-container-meta-same": "x", "x-container-meta-gone": "1",
                                 "x-container-meta-note": "caf\u00c3\u00a9 old"})
    m = Mapping(protocol="swift", sync_container_metadata=True, sync_container_acl=True)
    changes = sync_container_headers(m, "AUTH_a", "c", FakeCluster(local), remote)
    assert changes == {"x-container-meta-note": "caf\u00e9", "x-container-meta-gone": "",
                       "x-container-read": ".r:*"}
    assert remote.posts == [changes]


def test_sync_container_headers_without_a_local_database():
    remote = FakeSwiftContainer({"x-container-meta-gone": "1"})
    m = Mapping(protocol="swift", sync_container_metadata=True)
    assert sync_container_headers(m, "AUTH_a", "c", FakeCluster(None), remote) == {}
    assert remote.posts == []


def test_sync_container_headers_off_does_nothing():
    remote = FakeSwiftContainer({"x-container-meta-gone": "1"})
    assert sync_container_headers(Mapping(protocol="swift"), "AUTH_a", "c",
                                  FakeCluster({}), remote) == {}
    assert remote.posts == []


def test_ensure_lifecycle_rule_puts_again_what_another_writer_replaced():
    fake = RacingS3([THEIRS], clobbers=2)
    assert ensure_lifecycle_rule(s3_mapping(), "AUTH_a", "c", fake, pause=NO_PAUSE)
    assert fake.puts == 3
    ids = [r["ID"] for r in fake.rules]
    assert ids[:3] == [THEIRS["ID"], "other-1", "other-2"], ids  # theirs kept too
    assert "onespace-" + "f" * 16 in ids


def test_ensure_lifecycle_rule_gives_up_on_a_bucket_that_keeps_replacing_it(caplog):
    fake = RacingS3(clobbers=100)
    assert not ensure_lifecycle_rule(s3_mapping(), "AUTH_a", "c", fake, pause=NO_PAUSE)
    assert fake.puts == 5
    assert "keeps being replaced" in caplog.text
