"""Selection must pick exactly the objects 1space picked.

Expectations were cross-checked against 1space's ``match_item`` run under
Python 2.7 on InternalClient-style (lower-cased, UTF-8 byte string) headers.
"""

import pytest

from onespace.selection import excluded, matches_criteria

HEADERS = {"X-Object-Meta-K1": "v1", "x-object-meta-k2": "V2",
           "Content-Type": "image/png", "X-Object-Meta-Empty": ""}

NESTED_TRUE = {"OR": [
    {"AND": [{"NOT": {"x-object-meta-k1": "v1"}}, {"x-object-meta-k2": "v2"}]},
    {"AND": [{"x-object-meta-k1": "v1"}, {"NOT": {"content-type": "text/plain"}}]},
]}
NESTED_FALSE = {"AND": [
    {"OR": [{"x-object-meta-k1": "nope"}, {"NOT": {"content-type": "image/png"}}]},
    {"x-object-meta-k2": "v2"},
]}


@pytest.mark.parametrize("criteria, expected", [
    (None, True),
    ({}, True),
    ({"x-object-meta-k1": "v1"}, True),
    ({"X-OBJECT-META-K1": "V1"}, True),       # names and values: any case
    ({"x-object-meta-k2": "v2"}, True),
    ({"x-object-meta-k1": "v2"}, False),
    ({"x-object-meta-missing": "v1"}, False),  # missing header: no match
    ({"x-object-meta-empty": ""}, True),
    ({"x-object-meta-k1": "v1 "}, False),      # otherwise exact
    ({"x-object-meta-k1": "v"}, False),
    ({"content-type": "IMAGE/PNG"}, True),     # any header, not only metadata
    ({"NOT": {"x-object-meta-missing": "x"}}, True),
    ({"AND": []}, True),
    ({"OR": []}, False),
    ({"AND": [{"x-object-meta-k1": "v1"}, {"x-object-meta-k2": "v2"}]}, True),
    ({"AND": [{"x-object-meta-k1": "v1"}, {"x-object-meta-k2": "v3"}]}, False),
    ({"OR": [{"x-object-meta-k1": "v3"}, {"x-object-meta-k2": "v2"}]}, True),
    ({"OR": [{"x-object-meta-k1": "v3"}, {"x-object-meta-k4": "v2"}]}, False),
    ({"AND": [{}, {"x-object-meta-k1": "v1"}]}, True),
    (NESTED_TRUE, True),
    (NESTED_FALSE, False),
    ({"NOT": NESTED_FALSE}, True),
    ({"and": [{"x-object-meta-k1": "v1"}]}, False),  # operators are upper case
])
def test_matches_criteria(criteria, expected):
    assert matches_criteria(criteria, HEADERS) is expected


@pytest.mark.parametrize("criteria, headers, expected", [
    ({"FOÓ": "BÁR"}, {"foó": "bár"}, True),
    ({"x-object-meta-😀": "😀 ok"}, {"X-Object-Meta-😀": "😀 OK"}, True),
    ({"x-object-meta-tag": "été"}, {"X-Object-Meta-Tag": "été"}, True),
    # 1space lower-cased the object's name and value as UTF-8 bytes (ASCII
    # only) but the criteria as unicode: a non-ASCII capital never matched
    ({"FOÓ": "BÁR"}, {"FOÓ": "BÁR"}, False),
    ({"foó": "bár"}, {"foó": "BÁR"}, False),
    ({"x-object-meta-tag": "ÉTÉ"}, {"X-Object-Meta-Tag": "ÉTÉ"}, False),
    # ... but the exact criteria name was tried before its lower case
    ({"Ó": "x"}, {"Ó": "X"}, True),
    ({"Ó": "x"}, {"ó": "X"}, True),
])
def test_matches_criteria_unicode_like_1space(criteria, headers, expected):
    assert matches_criteria(criteria, headers) is expected


@pytest.mark.parametrize("criteria", [
    {"a": "1", "b": "2"},
    {"AND": [{"a": "1", "b": "2"}]},
    {"NOT": {"OR": [{"x-object-meta-k1": "v1", "b": "2"}]}},
])
def test_matches_criteria_rejects_ambiguous(criteria):
    with pytest.raises(ValueError):
        matches_criteria(criteria, HEADERS)


@pytest.mark.parametrize("pattern, name, expected", [
    (None, "anything", False),
    ("", "anything", False),
    (r"\.tmp$", "file.tmp", False),      # re.match: anchored at the start
    (r".*\.tmp$", "file.tmp", True),
    (r"logs/", "logs/2019/a", True),
    (r"logs/", "app/logs/a", False),
    (r"logs", "logs", True),
    (r"a|b", "bcd", True),
    (r"(?i)TMP/", "tmp/x", True),
    (r"😀", "😀/x", True),
    (r"ü.", "üß", True),                # characters, not UTF-8 bytes
    (r"tmp/*", "dir/file", False),
    (r"(tmp/)?", "dir/file", True),      # an empty match excludes everything
    (r"x", "", False),
])
def test_excluded(pattern, name, expected):
    assert excluded(pattern, name) is expected


def test_excluded_bad_pattern():
    import re
    with pytest.raises(re.error):
        excluded("(unclosed", "x")
