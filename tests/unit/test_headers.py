"""Metadata translation must produce what 1space stored in S3.

Encoded literals were produced by 1space's ``sanitize_s3_header`` (Python
2.7 ``email.header.Header``); Python 2 folded multi-word values with "\\n ",
which onespace writes as a plain space (both decode the same).
"""

from collections.abc import Mapping
from email.header import Header

import pytest

from onespace import headers as h

EMOJI = "\U0001F600"


class CaseInsensitive(Mapping):
    """Stand-in for swob's HeaderKeyDict."""

    def __init__(self, data):
        self._data = {k.title(): v for k, v in data.items()}

    def __getitem__(self, key):
        return self._data[key.title()]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


@pytest.mark.parametrize("value, stored", [
    ("plain ascii", "plain ascii"),
    ("", ""),
    ("100% +x ~/=?", "100% +x ~/=?"),
    ("café", "=?UTF-8?B?Y2Fmw6k=?="),
    ("naïve", "=?UTF-8?B?bmHDr3Zl?="),
    ("hello wörld", "=?UTF-8?Q?hello_w=C3=B6rld?="),  # tie: quoted-printable
    ("\x01abcde", "=?UTF-8?Q?=01abcde?="),             # not printable ASCII
    ("ab\x7fcd", "=?UTF-8?Q?ab=7Fcd?="),
    (EMOJI, "=?UTF-8?B?8J+YgA==?="),
    (f"mixed {EMOJI} and ü and ß and spaces   ",
     "=?UTF-8?B?bWl4ZWQg8J+YgCBhbmQgw7wgYW5kIMOfIGFuZCBzcGFjZXMgICA=?="),
    ("é" * 22,
     "=?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=?="),
    ("é" * 40,
     "=?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6k=?= "
     "=?utf-8?b?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp?="),
    ("a" * 62 + "\x01", "=?UTF-8?Q?" + "a" * 62 + "?= =?utf-8?q?=01?="),
    ("x" * 70 + "ö", "=?UTF-8?Q?" + "x" * 63 + "?= =?utf-8?b?eHh4eHh4eMO2?="),
    ("€" * 30,
     "=?UTF-8?B?4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs?= "
     "=?utf-8?b?4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs4oKs?="),
])
def test_mime_encode_matches_1space(value, stored):
    assert h.mime_encode(value) == stored
    assert h.mime_decode(stored) == value


@pytest.mark.parametrize("value", ["café", EMOJI * 3, "ü" * 20, "a b\x01"])
def test_short_values_agree_with_python3_header(value):
    # one encoded word: Python 3's Header gives the same word, lower-cased
    expected = Header(value, "utf-8").encode()
    assert h.mime_encode(value).lower() == expected.lower()


@pytest.mark.parametrize("value", [
    "é" * 200, EMOJI * 100, "ж" * 127 + "a", "ab€ " * 60,
    "x" * 63 + "é" + "y" * 100,
])
def test_long_values_round_trip_and_stay_short(value):
    stored = h.mime_encode(value)
    assert h.mime_decode(stored) == value
    assert all(len(word) <= 75 for word in stored.split(" "))
    # what 1space wrote, folded, decodes the same
    assert h.mime_decode(stored.replace(" ", "\n ")) == value


@pytest.mark.parametrize("raw", [
    "plain",
    "=?ISO-8859-1?Q?caf=E9?=",      # not UTF-8: left alone, as 1space did
    "=?UTF-8?Q?a?=b",               # not an encoded word for Python 2
    "=?UTF-8?B?A?=",                # undecodable base64
    "=?UTF-8?Q?=FF?=",              # not valid UTF-8
    "hello%20world",                # pre-0.1.48.1 1space quoted values: kept
])
def test_mime_decode_leaves_other_values(raw):
    assert h.mime_decode(raw) == raw


def test_user_metadata():
    swift = CaseInsensitive({
        "X-Object-Meta-Foo": "bar",
        "x-object-meta-MiXed-Case": "Value",
        "X-Object-Meta-Swift-Slo-Etag": "internal",
        "Content-Type": "text/plain",
        "X-Object-Manifest": "segs/p",
        "X-Object-Meta-Ünï": f"v{EMOJI}",
    })
    assert h.user_metadata(swift) == {
        "foo": "bar", "mixed-case": "Value", "ünï": f"v{EMOJI}"}
    assert h.user_metadata({}) == {}


def test_to_s3_metadata():
    meta = h.to_s3_metadata(
        {"Foo": "café", "plain": "100%", "ключ": "v"},
        extra={h.SLO_ETAG_KEY: "d41d8cd98f00b204e9800998ecf8427e"})
    assert meta == {
        "foo": "=?UTF-8?B?Y2Fmw6k=?=",
        "plain": "100%",
        "ключ": "v",  # keys were never encoded by 1space
        "swift-slo-etag": "d41d8cd98f00b204e9800998ecf8427e",
    }


def test_large_object_fields():
    swift = {"X-Static-Large-Object": "True",
             "X-Object-Manifest": "segs/pre fix~ü",
             "Content-Type": "text/plain"}
    assert h.large_object_fields(swift) == {
        "x-static-large-object": "True",
        "x-object-manifest": "segs/pre%20fix%7E%C3%BC",
    }


def test_from_s3_metadata():
    meta = {
        "foo": "=?UTF-8?B?Y2Fmw6k=?=",
        "Bar": "plain",
        "x-amz-meta-long": "=?UTF-8?Q?" + "x" * 63 + "?=\n =?utf-8?b?eHh4eHh4eMO2?=",
        "swift-slo-etag": "abc",
        "swift-source-dlo-etag": "def",
        "combined-etag": "123",
        "x-static-large-object": "True",
        "x-object-manifest": "segs/p",
    }
    assert h.from_s3_metadata(meta) == {
        "X-Object-Meta-foo": "café",
        "X-Object-Meta-bar": "plain",
        "X-Object-Meta-long": "x" * 70 + "ö",
    }


@pytest.mark.parametrize("user_meta", [
    {"a": "1"},
    {"literal": "=?UTF-8?Q?hi?=", "spaced": "x =?utf-8?b?aGk=?= y"},  # read as encoded words
    {"unicode": f"ü{EMOJI} spaced  out", "pct": "%2B+%", "empty": ""},
    {"long": "日本語" * 30, "mixed": "x" * 70 + "ö"},
])
def test_round_trip_through_s3(user_meta):
    swift_headers = h.to_swift_headers(user_meta)
    stored = h.to_s3_metadata(h.user_metadata(swift_headers),
                              extra={h.DLO_ETAG_KEY: "e"})
    back = h.from_s3_metadata(stored)
    assert h.user_metadata(back) == user_meta
    assert h.metadata_equal(swift_headers, back)


def test_to_swift_headers():
    assert h.to_swift_headers({"foo": "bar", "ü": EMOJI}) == {
        "X-Object-Meta-foo": "bar", "X-Object-Meta-ü": EMOJI}


@pytest.mark.parametrize("a, b, equal", [
    ({"X-Object-Meta-Foo": "café"}, {"foo": "=?UTF-8?B?Y2Fmw6k=?="}, False),  # decode first
    ({"X-Object-Meta-Foo": "=?UTF-8?Q?hi?="}, {"foo": "hi"}, False),  # a literal
    ({"foo": "café"}, {"x-amz-meta-FOO": "café"}, True),
    ({"X-Object-Meta-Foo": "Bar"}, {"foo": "bar"}, False),   # values are exact
    ({"foo": "x"}, {"foo": "x", "bar": "y"}, False),
    ({"foo": "x", "swift-slo-etag": "1"}, {"X-Object-Meta-Foo": "x"}, True),
    ({"X-Object-Meta-Combined-Etag": "1"}, {}, True),
    ({}, {}, True),
])
def test_metadata_equal(a, b, equal):
    assert h.metadata_equal(a, b) is equal
    assert h.metadata_equal(b, a) is equal


def test_internal_keys_cover_1space_fields():
    assert h.SLO_ETAG_KEY == "swift-slo-etag"
    assert h.DLO_ETAG_KEY == "swift-source-dlo-etag"
    assert h.INTERNAL_KEYS == {
        "swift-slo-etag", "swift-source-dlo-etag", "combined-etag",
        "x-object-manifest", "x-static-large-object", "swift-source-etag",
        "swift-delete-at"}  # onespace's own: the local expiry of an S3 copy


@pytest.mark.parametrize("value, sent", [
    ("Thu, 01 Dec 2044 16:00:00 GMT", "Thu, 01 Dec 2044 16:00:00 GMT"),
    ("Thu, 1 Dec 2044 16:00:00 GMT", "Thu, 01 Dec 2044 16:00:00 GMT"),
    ("2044-12-01T10:00:00Z", "Thu, 01 Dec 2044 10:00:00 GMT"),
    ("0", "Thu, 01 Jan 1970 00:00:00 GMT"),  # no date: already expired (HTTP)
    ("garbage", "Thu, 01 Jan 1970 00:00:00 GMT"),
])
def test_s3_expires(value, sent):
    assert h.s3_expires(value) == sent
    assert h.content_headers({"expires": value}, s3=True) == {"expires": sent}
    assert h.content_headers({"expires": value}) == {"expires": value}  # Swift keeps it
