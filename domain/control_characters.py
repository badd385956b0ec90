"""Control characters in what people type: refused everywhere text is kept (NUL breaks PostgreSQL, escapes and
line separators break e-mails and logs). Character classes only: linear time."""

from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # newline, CR and tab allowed


def control_character(text: str, multiline: bool = False) -> re.Match[str] | None:
    """The first control character of `text` (newlines and tabs allowed when `multiline`), or None."""
    return (CONTROL_IN_TEXT if multiline else CONTROL).search(text)
