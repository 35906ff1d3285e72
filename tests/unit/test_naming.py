"""Remote names must be exactly the ones 1space wrote.

Literal expectations below were cross-checked against 1space's Python 2
``get_prefix``/``get_s3_name``/``get_manifest_name`` run under Python 2.7.
"""

import hashlib

import pytest

from onespace import naming

EMOJI = "\U0001F600"  # 4 bytes in UTF-8


def md5_prefix(account, container):
    """Independent restatement of 1space's prefix: hex(long(md5) % 16**6)."""
    value = int(hashlib.md5(f"{account}/{container}".encode("utf-8")).hexdigest(), 16)
    return hex(value % 16 ** 6)[2:]


def sha(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("account, container, expected", [
    ("AUTH_test", "bucket", "b64bb0"),
    ("AUTH_test", "container", "756085"),
    ("AUTH_test", "c156", "322f"),  # below 16**5: no leading zeros
    (f"AUTH_{EMOJI}", f"c{EMOJI} ont", "40a7f4"),
    ("AUTH_test", "%2B+ sp", "620242"),
])
def test_hash_prefix_literal(account, container, expected):
    assert naming.hash_prefix(account, container) == expected
    assert md5_prefix(account, container) == expected


@pytest.mark.parametrize("account, container", [
    ("AUTH_test", "bucket"), ("AUTH_ü", "çontainer"), (f"AUTH_{EMOJI}", EMOJI),
    ("AUTH_a b", "100%+x"), ("AUTH_" + "x" * 200, "y" * 256),
])
def test_hash_prefix_matches_independent_md5(account, container):
    prefix = naming.hash_prefix(account, container)
    assert prefix == md5_prefix(account, container)
    assert prefix == prefix.lower() and 1 <= len(prefix) <= 6
    assert not prefix.startswith("0") or prefix == "0"


@pytest.mark.parametrize("account, container, obj, custom, key", [
    ("AUTH_test", "bucket", "obj", None, "b64bb0/AUTH_test/bucket/obj"),
    ("AUTH_test", "bucket", "/leading", None, "b64bb0/AUTH_test/bucket//leading"),
    ("AUTH_test", "c156", "x", None, "322f/AUTH_test/c156/x"),
    (f"AUTH_{EMOJI}", f"c{EMOJI} ont", f"o{EMOJI} %+ x", None,
     f"40a7f4/AUTH_{EMOJI}/c{EMOJI} ont/o{EMOJI} %+ x"),
    ("AUTH_test", "bucket", "obj", "pre", "pre/obj"),
    ("AUTH_test", "bucket", "obj", "/pre/fix/", "pre/fix/obj"),
    ("AUTH_test", "bucket", "//lead", "pre", "pre///lead"),
    ("AUTH_test", "bucket", "a/b", "", "a/b"),
    ("AUTH_test", "bucket", "obj", "/", "obj"),
    ("AUTH_test", "bucket", "//lead", "", "//lead"),
    ("AUTH_ü", "cont", "a/b/c", "ü/", "ü/a/b/c"),
])
def test_s3_key_and_inverse(account, container, obj, custom, key):
    assert naming.s3_key(account, container, obj, custom) == key
    assert naming.s3_object_name(key, account, container, custom) == obj
    assert key.startswith(naming.s3_listing_prefix(account, container, custom))


@pytest.mark.parametrize("custom, expected", [
    (None, "b64bb0/AUTH_test/bucket/"),
    ("pre", "pre/"),
    ("/pre/", "pre/"),
    ("", ""),
    ("/", ""),
])
def test_s3_listing_prefix(custom, expected):
    assert naming.s3_listing_prefix("AUTH_test", "bucket", custom) == expected


@pytest.mark.parametrize("key, custom", [
    ("b64bb0/AUTH_test/other/obj", None),
    ("b64bb0/AUTH_test/bucket/", None),
    ("prefix/obj", "pre"),
    ("pre", "pre"),
])
def test_s3_object_name_rejects_foreign_keys(key, custom):
    with pytest.raises(ValueError):
        naming.s3_object_name(key, "AUTH_test", "bucket", custom)


@pytest.mark.parametrize("account, container, obj, custom, expected", [
    ("AUTH_test", "bucket", "obj", None,
     "b64bb0/.manifests/AUTH_test/bucket/"
     "772a5fb04f9bad38681a2f56ddfdbd6a15185753df8dcc029788d02bf3b6825b"
     ".swift_slo_manifest"),
    ("AUTH_test", "bucket", "obj", "pre",
     "pre/.manifests/"
     "772a5fb04f9bad38681a2f56ddfdbd6a15185753df8dcc029788d02bf3b6825b"
     ".swift_slo_manifest"),
    # with a custom prefix 1space hashed the name without its leading slashes
    ("AUTH_test", "bucket", "//leading", "",
     ".manifests/"
     "30adc606fce3d6b75837c5a9c3c1020f6cb132a3f315685468f5f4a1b10583db"
     ".swift_slo_manifest"),
])
def test_s3_manifest_key_literal(account, container, obj, custom, expected):
    assert naming.s3_manifest_key(account, container, obj, custom) == expected


@pytest.mark.parametrize("account, container, obj, custom, expected", [
    ("AUTH_test", "bucket", "/leading", None,
     f"b64bb0/.manifests/AUTH_test/bucket/{sha('/leading')}.swift_slo_manifest"),
    (f"AUTH_{EMOJI}", f"c{EMOJI} ont", f"o{EMOJI} %+ x", None,
     f"40a7f4/.manifests/AUTH_{EMOJI}/c{EMOJI} ont/"
     f"{sha(f'o{EMOJI} %+ x')}.swift_slo_manifest"),
    ("AUTH_test", "bucket", "a/b", "/pre/fix/",
     f"pre/fix/.manifests/{sha('a/b')}.swift_slo_manifest"),
    ("AUTH_test", "bucket", "//lead", "pre",
     f"pre/.manifests/{sha('lead')}.swift_slo_manifest"),
    ("AUTH_test", "bucket", "x" * 1024, "",
     f".manifests/{sha('x' * 1024)}.swift_slo_manifest"),
])
def test_s3_manifest_key(account, container, obj, custom, expected):
    key = naming.s3_manifest_key(account, container, obj, custom)
    assert key == expected
    assert key.startswith(naming.s3_manifest_prefix(account, container, custom))


@pytest.mark.parametrize("custom, expected", [
    (None, "b64bb0/.manifests/AUTH_test/bucket/"),
    ("pre/", "pre/.manifests/"),
    ("", ".manifests/"),
])
def test_s3_manifest_prefix(custom, expected):
    assert naming.s3_manifest_prefix("AUTH_test", "bucket", custom) == expected


@pytest.mark.parametrize("per_account, container, segments, expected", [
    (False, "photos", "photos_segments", ("remote", "remote_segments")),
    (True, "photos", "photos_segments", ("remote-photos", "remote-photos_segments")),
    (True, f"c{EMOJI}", "segs", (f"remote-c{EMOJI}", "remote-segs")),
])
def test_swift_containers(per_account, container, segments, expected):
    bucket = "remote-" if per_account else "remote"
    assert naming.swift_container(bucket, container, per_account) == expected[0]
    assert naming.swift_segments_container(bucket, segments, per_account) == expected[1]


@pytest.mark.parametrize("key, protocol, part, problem", [
    ("a" * 1024, "s3", None, None),
    ("a" * 1025, "s3", None, "remote key is 1025 bytes, the S3 limit is 1024"),
    ("a" * 1100, "swift", None, "remote key is 1100 bytes, the Swift limit is 1024"),
    (EMOJI * 256, "s3", None, None),
    (EMOJI * 256 + "a", "s3", None, "remote key is 1025 bytes, the S3 limit is 1024"),
    ("", "s3", None, "remote key is empty"),
    ("p/" + "b" * 255 + "/c", "s3", 255, None),
    ("p/" + "b" * 256 + "/c", "s3", 255,
     f"remote key part {('b' * 40)!r} is 256 bytes, "
     "the limit is 255 per '/'-separated part"),
    ("p/" + "é" * 128, "s3", 255,
     f"remote key part {('é' * 40)!r} is 256 bytes, "
     "the limit is 255 per '/'-separated part"),
])
def test_check_remote_key(key, protocol, part, problem):
    assert naming.check_remote_key(key, protocol, part) == problem


def test_check_remote_key_unknown_protocol():
    with pytest.raises(ValueError):
        naming.check_remote_key("k", "gcs")


@pytest.mark.parametrize("name", ["obj", "ü/ñ", EMOJI, "a" * 1024, ""])
@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
def test_owner_index(name, replicas):
    expected = int(hashlib.md5(name.encode("utf-8")).hexdigest(), 16) % replicas
    assert naming.owner_index(name, replicas) == expected
    assert naming.owner_index(name.encode("utf-8"), replicas) == expected


def test_owner_index_literal():
    # md5("obj") = be8f80182e0c983916da7338c2c1c040, md5("a") = 0cc175b9...
    assert [naming.owner_index("obj", n) for n in (2, 3, 7)] == [0, 0, 6]
    assert naming.owner_index("a", 3) == 1


@pytest.mark.parametrize("remote, per_account, expected", [
    ("arch_segments", False, "photos_segments"),   # one remote segments container
    ("arch", False, None),
    ("other_segments", False, None),
    ("archphotos_segments", True, "photos_segments"),  # /*: prefix + local name
    ("arch", True, None),
    ("elsewhere", True, None),
])
def test_local_segments_container_inverts_swift_segments_container(remote, per_account,
                                                                   expected):
    assert naming.local_segments_container("arch", remote, "photos", per_account) == expected
    if expected is not None and per_account:
        assert naming.swift_segments_container("arch", expected, True) == remote


@pytest.mark.parametrize("key", ["a/./b", "../c/o", "q/..", ".", "x/../y"])
def test_dot_path_parts_cannot_go_to_swift(key):
    assert "'.' or '..'" in naming.check_remote_key(key, "swift")
    assert naming.check_remote_key(key, "s3") is None  # S3 keys keep them


@pytest.mark.parametrize("key", ["a.b/c", "...", "a/.hidden", "..x/y", "a//b"])
def test_dots_inside_names_are_fine(key):
    assert naming.check_remote_key(key, "swift") is None
