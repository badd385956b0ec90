"""Plan text (YAML, or JSON at the HTTP API), measured before any Python object is built.

PyYAML's composer and Python's json both recurse, and YAML aliases multiply: 40 KB of nested
brackets crashes them, 50 KB of aliases ("billion laughs") expands to gigabytes. So a text is
first measured, its size and then its structure, in one linear pass that stops at the first
limit; only a text within the limits is parsed. Every refusal is one line that never quotes
the text.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

MAX_PLAN_BYTES = 256 * 1024
MAX_DEPTH = 20
MAX_NODES = 10_000
MAX_SHOWN = 60

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class SourceError(ValueError):
    """The text is refused (too large, too deep, too many values, or not valid YAML/JSON): one line, why, and a
    `code` (too_large, too_deep, too_many_values, alias_cycle, invalid_yaml, invalid_json) with its `details`."""

    def __init__(self, message: str, code: str = "invalid", **details: Any) -> None:
        super().__init__(message)
        self.code, self.details = code, details


def shown(value: Any, limit: int = MAX_SHOWN) -> str:
    """`repr(value)` for a message, at most about `limit` characters of it (a user's value may be huge)."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + "…"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"a number of about {value.bit_length() * 30103 // 100000} digits"  # repr() refuses > 4300 digits
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "…"


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` with control characters escaped and cut after `limit` characters (for field names)."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"


def check_size(text: str | bytes, limit: int = MAX_PLAN_BYTES) -> None:
    """SourceError when `text` is larger than `limit` bytes (UTF-8)."""
    if len(text) > limit or (isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > limit):
        raise too_large(limit)


def too_large(limit: int = MAX_PLAN_BYTES) -> SourceError:
    text = f"is larger than {limit // 1024} KiB" if limit % 1024 == 0 else f"is larger than {limit} bytes"
    return SourceError(text, "too_large", limit=limit)


def _too_deep(max_depth: int) -> SourceError:
    return SourceError(f"is nested deeper than {max_depth} levels", "too_deep", limit=max_depth)


def _too_many(max_nodes: int, after_aliases: bool = False) -> SourceError:
    expanded = " (after expanding YAML aliases)" if after_aliases else ""
    return SourceError(f"has more than {max_nodes} values{expanded}", "too_many_values", limit=max_nodes)


# -- YAML ----------------------------------------------------------------------
def check_yaml(text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> None:
    """Walk the event stream (PyYAML's parser is iterative) and refuse at the first limit.

    Each anchored node's expanded size and height are recorded when it ends and added at each alias
    to it, so an alias costs what it would cost expanded; an alias inside the node it names (a
    cycle) is refused outright. Syntax errors are left to the parse that follows.
    """
    nodes = depth = 0
    frames: list[list[Any]] = []  # open collections: [anchor, nodes before it, its depth, deepest depth in it]
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, height) of its node, expanded
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                nodes += 1
                depth += 1
                if depth > max_depth:
                    raise _too_deep(max_depth)
                frames.append([event.anchor, nodes - 1, depth, depth])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                anchor, before, level, deepest = frames.pop()
                depth -= 1
                if anchor is not None:
                    anchors[anchor] = (nodes - before, deepest - level + 1)
                if frames:
                    frames[-1][3] = max(frames[-1][3], deepest)
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor is not None:
                    anchors[event.anchor] = (1, 0)
            elif isinstance(event, yaml.AliasEvent):
                if any(frame[0] == event.anchor for frame in frames):
                    raise SourceError("has a YAML alias inside the node it refers to (a cycle)", "alias_cycle")
                size, height = anchors.get(event.anchor or "", (1, 0))  # an unknown anchor: the parse names it
                nodes += size
                if depth + height > max_depth:
                    raise _too_deep(max_depth)
                if frames:
                    frames[-1][3] = max(frames[-1][3], depth + height)
            if nodes > max_nodes:
                raise _too_many(max_nodes, after_aliases=bool(anchors))
    except yaml.YAMLError:
        return  # reported, with its line and column, by the parse


def load_yaml(
    text: str, *, max_bytes: int = MAX_PLAN_BYTES, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> Any:
    """The YAML document in `text`, or SourceError: size, then structure, then the (safe) parse."""
    check_size(text, max_bytes)
    check_yaml(text, max_depth=max_depth, max_nodes=max_nodes)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or "cannot be parsed"
        place = {"line": mark.line + 1, "column": mark.column + 1} if mark is not None else {}
        raise SourceError(f"not valid YAML{where}: {clip(what, 160)}", "invalid_yaml", **place) from None
    except (ValueError, OverflowError) as exc:  # a value YAML's own types refuse: 2027-13-01, a 5000-digit int
        raise SourceError(f"not valid YAML: {clip(str(exc), 160)}", "invalid_yaml") from None


# -- JSON ----------------------------------------------------------------------
# One token at a time: separators skipped, then a string's opening quote, a bracket, or a bare value.
_JSON_TOKEN = re.compile(r'[\s,:]*+(?:(")|([\[{])|([\]}])|[^\s,:\[\]{}"]++)')
_JSON_STRING_REST = re.compile(r'(?:[^"\\]++|\\.)*+"', re.S)


def check_json(text: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> None:
    """Scan the bracket structure (strings skipped) and refuse at the first limit; errors are left to json."""
    nodes = depth = pos = 0
    end = len(text)
    while pos < end:
        token = _JSON_TOKEN.match(text, pos)
        if token is None or token.end() == pos:
            return  # only separators left
        pos = token.end()
        if token.group(3):
            depth -= 1
            continue
        nodes += 1
        if token.group(1):
            rest = _JSON_STRING_REST.match(text, pos)
            if rest is None:
                return  # an unterminated string: json names it
            pos = rest.end()
        elif token.group(2):
            depth += 1
            if depth > max_depth:
                raise _too_deep(max_depth)
        if nodes > max_nodes:
            raise _too_many(max_nodes)


def measure_json(
    body: str | bytes, *, max_bytes: int = MAX_PLAN_BYTES, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> None:
    """SourceError when `body` is beyond a limit (size, then structure); a body that is not UTF-8 passes."""
    check_size(body, max_bytes)
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            return  # the parser says so
    check_json(body, max_depth=max_depth, max_nodes=max_nodes)


def load_json(
    body: str | bytes, *, max_bytes: int = MAX_PLAN_BYTES, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> Any:
    """The JSON value in `body` (UTF-8), or SourceError: size, then structure, then json.loads."""
    check_size(body, max_bytes)
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise SourceError("not valid JSON: not UTF-8 text", "invalid_json") from None
    check_json(body, max_depth=max_depth, max_nodes=max_nodes)
    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError, a 5000-digit number
        raise SourceError(f"not valid JSON: {clip(str(exc), 160)}", "invalid_json") from None
