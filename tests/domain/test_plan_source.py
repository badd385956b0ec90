"""Plan text is measured (size, nesting, values after alias expansion) before any object is built."""

from __future__ import annotations

import json
import time

import pytest

from domain.plan_source import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_PLAN_BYTES,
    SourceError,
    check_json,
    check_yaml,
    clip,
    load_json,
    load_yaml,
    measure_json,
    shown,
)


def laughs(levels: int = 9, fan_out: int = 10, first: int = 10) -> str:
    """The "billion laughs": each level is a list of aliases to the one before (10**9 values expanded)."""
    lines = ["l0: &l0 [" + ", ".join(["lol"] * first) + "]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def refused(load, text) -> str:
    started = time.perf_counter()
    with pytest.raises(SourceError) as caught:
        load(text)
    assert time.perf_counter() - started < 2  # refused while measuring, never built
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200
    return message


# -- YAML ----------------------------------------------------------------------
def test_a_plan_within_the_limits_loads():
    text = "id: x\nsessions:\n  - {start: 1, room: &r 'sal O111'}\n  - {start: 2, room: *r}\n"
    assert load_yaml(text) == {
        "id": "x",
        "sessions": [{"start": 1, "room": "sal O111"}, {"start": 2, "room": "sal O111"}],
    }


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 20_000])
def test_deep_yaml_is_refused(depth):
    for text in ("a: " + "[" * depth + "]" * depth, "- " * depth + "x", "a: " + "{b: " * depth + "c" + "}" * depth):
        assert refused(load_yaml, text) == f"is nested deeper than {MAX_DEPTH} levels"


def test_nesting_at_the_limit_loads():
    assert load_yaml("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


def test_billion_laughs_is_refused_without_expanding():
    text = laughs()
    assert len(text) < 1_000
    assert refused(load_yaml, text) == f"has more than {MAX_NODES} values (after expanding YAML aliases)"


def test_a_50_kb_alias_file_is_refused_in_one_short_line():
    text = laughs(levels=2, fan_out=9_000, first=100)  # 9,000 aliases to a list of 100: 900,000 values
    assert 40_000 < len(text) < 100_000
    refused(load_yaml, text)


def test_aliases_count_as_what_they_expand_to():
    big = "a: &a [" + ", ".join(["x"] * 3000) + "]\n"
    assert len(load_yaml(big + "b: [*a, *a]\n")["b"]) == 2  # about 9,000 values
    refused(load_yaml, big + "b: [*a, *a, *a, *a]\n")  # about 15,000


def test_an_alias_adds_the_depth_of_what_it_names():
    text = "a: &a " + "[" * 15 + "]" * 15 + "\nb: " + "[" * 10 + "*a" + "]" * 10
    assert refused(load_yaml, text) == f"is nested deeper than {MAX_DEPTH} levels"


def test_an_alias_inside_its_own_node_is_refused():
    assert "cycle" in refused(load_yaml, "&a [x, *a]")


def test_too_many_values_without_aliases():
    assert refused(load_yaml, "[" + ", ".join(["1"] * (MAX_NODES + 1)) + "]") == f"has more than {MAX_NODES} values"


def test_a_text_larger_than_256_kib_is_refused_before_parsing():
    assert refused(load_yaml, "# " + "x" * MAX_PLAN_BYTES) == "is larger than 256 KiB"
    assert refused(load_yaml, "a: " + "ä" * (MAX_PLAN_BYTES // 2)) == "is larger than 256 KiB"  # bytes, not chars


def test_syntax_errors_keep_their_line_and_column():
    assert refused(load_yaml, "id: [unclosed\n").startswith("not valid YAML at line 2, column 1:")
    assert "undefined alias" in refused(load_yaml, "a: *nowhere")


@pytest.mark.parametrize(
    "text", ["a: " + "1" * 5000, "a: 2027-13-01", "a: !!python/object:os.system x", "a: !" + "t" * 100_000 + " x"]
)
def test_values_yaml_refuses_are_one_bounded_line(text):
    assert refused(load_yaml, text).startswith("not valid YAML")


def test_check_yaml_leaves_syntax_errors_to_the_parse():
    check_yaml("id: [unclosed\n")  # no SourceError: load_yaml reports it with its position


# -- JSON ----------------------------------------------------------------------
def test_json_within_the_limits_loads():
    text = json.dumps({"a": [1, 2.5, None, True], "b": {"c": 'x"]]]}}[[["'}})
    assert load_json(text.encode()) == json.loads(text)
    assert load_json(text.encode("utf-8-sig")) == json.loads(text)


@pytest.mark.parametrize("text", ["[" * 20_000 + "]" * 20_000, '{"a": ' * 5_000 + "1" + "}" * 5_000, "[" * 20_000])
def test_deep_json_is_refused(text):
    assert len(text) <= 40_000
    assert refused(load_json, text) == f"is nested deeper than {MAX_DEPTH} levels"


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[" * 1000, "b": '\\"[[[' * 100})
    check_json(text)
    assert load_json(text)["a"] == "[" * 1000


def test_too_many_json_values():
    assert refused(load_json, "[" + ",".join(["0"] * (MAX_NODES + 1)) + "]") == f"has more than {MAX_NODES} values"


def test_large_or_broken_json_is_one_bounded_line():
    assert refused(load_json, b" " * (MAX_PLAN_BYTES + 1)) == "is larger than 256 KiB"
    assert refused(load_json, b"\xff\xfe{}") == "not valid JSON: not UTF-8 text"
    assert refused(load_json, "{nope").startswith("not valid JSON")
    assert refused(load_json, "[" + "1" * 5000 + "]").startswith("not valid JSON")
    unterminated = '"' + '\\"' * 100_000  # no closing quote: the scan stays linear
    assert refused(load_json, unterminated).startswith("not valid JSON")


def test_measure_json_refuses_only_what_is_beyond_a_limit():
    for fine in (b"\xff{", "{nope", '{"a": [1, 2]}', ""):
        measure_json(fine)  # syntax is the parser's to report
    with pytest.raises(SourceError, match="nested deeper"):
        measure_json(b"[" * (MAX_DEPTH + 1))
    with pytest.raises(SourceError, match="larger than"):
        measure_json(b"1" * (MAX_PLAN_BYTES + 1))


# -- messages ------------------------------------------------------------------
def test_shown_and_clip_bound_what_a_message_quotes():
    assert shown("narnia") == "'narnia'"
    assert shown("x" * 10_000) == "'" + "x" * 60 + "'…"
    assert len(shown(list(range(10_000)))) <= 61
    assert clip("a\r\nb") == "a\\r\\nb"
    assert clip("k" * 10_000) == "k" * 60 + "…"


def test_a_huge_number_is_described_not_printed():
    from domain.plan_source import shown

    assert shown(10**5000) == "a number of about 5000 digits"
    assert shown(12345) == "12345"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a: [" * 30 + "]" * 30, "too_deep"),
        ("x: " + "y" * (300 * 1024), "too_large"),
        ("a: &a [*a]", "alias_cycle"),
        ("a: [\n", "invalid_yaml"),
    ],
)
def test_refusals_carry_a_code(text, code):
    with pytest.raises(SourceError) as refused:
        load_yaml(text)
    assert refused.value.code == code
