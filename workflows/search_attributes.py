"""Every search attribute runflow uses, in one place (register them with `all_keys()`).

They carry phases, counts, dates and focus areas only: search attributes are never encrypted.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PHASE = SearchAttributeKey.for_keyword("RunflowPhase")
FIRST_SESSION_START = SearchAttributeKey.for_datetime("RunflowFirstSessionStart")
CONFIRMED_COUNT = SearchAttributeKey.for_int("RunflowConfirmedCount")
FOCUS_AREA = SearchAttributeKey.for_keyword("RunflowFocusArea")
BELOW_MINIMUM = SearchAttributeKey.for_bool("RunflowBelowMinimum")


def all_keys() -> list[SearchAttributeKey]:
    return [PHASE, FIRST_SESSION_START, CONFIRMED_COUNT, FOCUS_AREA, BELOW_MINIMUM]


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "INT": "Int", "BOOL": "Bool"}
    flags = []
    for key in all_keys():
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}"]
    return flags
