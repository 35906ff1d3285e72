"""Which objects a mapping handles: ``selection_criteria`` and
``exclude_pattern``.  Pure functions, no I/O.

``selection_criteria`` follows 1space's ``match_item`` (s3_sync/base_sync.py):
a dict with exactly one key, either ``AND``/``OR`` (list of criteria),
``NOT`` (one criterion) or a header name whose value must equal the
object's.  Header names and values both compare case-insensitively, with
1space's exact quirk: the object side is lower-cased in ASCII only (it was
a UTF-8 byte string), the criteria side fully (it was unicode), so a
non-ASCII capital letter in an object's value or header name never matches.
Since archive mode deletes local copies, selecting exactly what 1space
selected matters more than tidier Unicode rules.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                             "abcdefghijklmnopqrstuvwxyz")


def _object_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def matches_criteria(criteria: Mapping[str, Any] | None,
                     headers: Mapping[str, str]) -> bool:
    """Whether an object with these headers is selected.  ``None`` or ``{}``
    selects everything; a criterion with several keys is a ValueError."""
    if not criteria:
        return True
    lowered = {_object_lower(k): v for k, v in headers.items()}
    return _match(criteria, lowered)


def _match(criteria: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    if not criteria:
        return True
    if len(criteria) != 1:
        raise ValueError(f"invalid selection criterion: {criteria!r}")
    (key, value), = criteria.items()
    if key == "AND":
        return all(_match(sub, headers) for sub in value)
    if key == "OR":
        return any(_match(sub, headers) for sub in value)
    if key == "NOT":
        return not _match(value, headers)
    # Exact name first, then lower-cased, as 1space looked them up.
    actual = headers.get(key)
    if actual is None:
        actual = headers.get(key.lower())
    if actual is None:
        return False
    return _object_lower(actual) == value.lower()


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def excluded(pattern: str | None, name: str) -> bool:
    """Whether ``exclude_pattern`` keeps ``name`` out of the mapping.

    ``re.match`` semantics: the pattern is anchored at the start of the
    object name but not at its end, so a pattern that can match the empty
    string excludes everything.  None or "" excludes nothing.
    """
    if not pattern:
        return False
    return _compiled(pattern).match(name) is not None
