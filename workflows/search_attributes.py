"""Every search attribute runflow uses, in one place (register them with `all_keys()`).

They carry phases, counts, dates and focus areas only: search attributes are never encrypted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

PHASE = SearchAttributeKey.for_keyword("RunflowPhase")
FIRST_SESSION_START = SearchAttributeKey.for_datetime("RunflowFirstSessionStart")
CONFIRMED_COUNT = SearchAttributeKey.for_int("RunflowConfirmedCount")
FOCUS_AREA = SearchAttributeKey.for_keyword("RunflowFocusArea")
BELOW_MINIMUM = SearchAttributeKey.for_bool("RunflowBelowMinimum")


def all_keys() -> list[SearchAttributeKey[Any]]:
    return [PHASE, FIRST_SESSION_START, CONFIRMED_COUNT, FOCUS_AREA, BELOW_MINIMUM]


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` flags for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "INT": "Int", "BOOL": "Bool"}
    flags = []
    for key in all_keys():
        flags += [
            "--search-attribute",
            f"{key.name}={kinds[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}",
        ]
    return flags


def at_start(*, focus_area: str, first_session_start: datetime, below_minimum: bool) -> TypedSearchAttributes:
    """The values a new activity starts with (phase planned, nobody confirmed)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(PHASE, "planned"),
            SearchAttributePair(FOCUS_AREA, focus_area),
            SearchAttributePair(FIRST_SESSION_START, first_session_start),
            SearchAttributePair(CONFIRMED_COUNT, 0),
            SearchAttributePair(BELOW_MINIMUM, below_minimum),
        ]
    )
