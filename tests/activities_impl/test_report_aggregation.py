"""The report's survey answers counted by the database (`Store.answer_tallies`, `summarise_tallies`) against the
earlier aggregation in Python (every answer loaded and `summarise_answers`), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from activities_impl import report as reports
from activities_impl.report import collect_report_data, summarise_answers, summarise_tallies, survey_order
from activities_impl.store import Store
from activities_impl.store import reports as store_reports
from activities_impl.store.reports import AnswerTally
from domain.plan import load_plan
from domain.reference import default_reference
from domain.tables import SurveyAnswer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"
ACTIVITY = "lasa-skriva-ht27"
SURVEYS = ["s1", "s2", "s10", "final", "follow-up", "extra"]
QUESTIONS = ["helhet", "relevans", "kommentar", "sprida", "å ä ö", 'citat "x"', "punkt.i.nyckel", "$", ""]
BLANKS = ["", " ", "   ", "\t\n", "\u00a0", "\u3000", "\u2003 \u2029", "\x1c\x85"]
TEXTS = ["Bra!", " Bra ", "Tack, hälsar Anna", "😀 emoji", "x\u00a0y", "[inte en lista]", "a\\b", '"citat"']
OPTIONS = ["arbetslag", "ledning", "ja", "nej", "Å", "😀", " ", ""]


@pytest.fixture
def activity(store: Store) -> Store:
    store.save_plan(load_plan(str(EXAMPLE), default_reference()), make_current=True)
    return store


def add_answers(store: Store, answers: list[tuple[str, Any]], *, ascii_only: bool = False) -> None:
    """Stores the answers as `Store.answer_survey` does (json.dumps of the value), in this order."""
    add_documents(store, [(survey, json.dumps(value, ensure_ascii=ascii_only)) for survey, value in answers])


def add_documents(store: Store, documents: list[tuple[str, str]]) -> None:
    with store.session() as s:
        for survey, document in documents:
            s.add(
                SurveyAnswer(
                    activity_id=ACTIVITY,
                    survey=survey,
                    organisation_id="sundsvall",
                    role="lärare",
                    answers_json=document,
                )
            )


def python_aggregation(store: Store, activity_id: str) -> tuple[dict[str, dict[str, Any]], int]:
    """The report's aggregation before the database counted the answers: every answer decoded in Python."""
    by_survey: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in store.survey_answers(activity_id):  # in id order
        value = json.loads(row.answers_json)
        by_survey[row.survey].append(value if isinstance(value, dict) else {})
    answer_summary: dict[str, dict[str, Any]] = {}
    free_text = 0
    for survey in sorted(by_survey, key=survey_order):
        answer_summary[survey], count = summarise_answers(by_survey[survey])
        free_text += count
    return answer_summary, free_text


def database_aggregation(store: Store, activity_id: str, *, python: set[str] | None = None) -> Any:
    """`summarise_tallies` as `collect_report_data` calls it; the surveys it summarises in Python go into `python`."""

    def documents(survey: str) -> list[str]:
        if python is not None:
            python.add(survey)
        return store.answer_documents(activity_id, survey)

    return summarise_tallies(store.answer_tallies(activity_id), documents)


def same(store: Store) -> set[str]:
    """Asserts both aggregations agree (also as the report's JSON); returns the surveys summarised in Python."""
    python: set[str] = set()
    new = database_aggregation(store, ACTIVITY, python=python)
    old = python_aggregation(store, ACTIVITY)
    assert new == old
    assert json.dumps(new, ensure_ascii=False) == json.dumps(old, ensure_ascii=False)  # the key order too
    return python


def survey_answer(rng: random.Random) -> dict[str, Any]:
    """An answer as the web's survey form stores it: scale questions 1-5, free text (stripped, maybe absent)."""
    answer: dict[str, Any] = {"helhet": rng.randint(1, 5), "relevans": rng.randint(1, 5)}
    if rng.random() < 0.4:
        answer["kommentar"] = rng.choice(TEXTS).strip()
    if rng.random() < 0.2:
        answer["å ä ö"] = rng.randint(1, 5)
    return answer


def odd_value(rng: random.Random) -> Any:
    """Anything a JSON document may hold, weighted towards what the summary treats differently."""
    kind = rng.randrange(16)
    if kind == 0:
        return rng.choice([True, False])
    if kind == 1:
        return None
    if kind == 2:
        return rng.choice(BLANKS)
    if kind == 3:
        return rng.choice(TEXTS) + rng.choice(BLANKS)
    if kind == 4:
        return [rng.choice(OPTIONS) for _ in range(rng.randrange(4))]
    if kind == 5:
        return {"inne": rng.randint(1, 5), "lista": ["a"]}
    if kind == 6:
        return rng.choice([0, -3, 2**31 - 1, -(2**31) + 1, 2**31, 2**53 + 1, 2**63 - 1, 2**70, -(2**64)])
    if kind == 7:
        return rng.choice([0.1, 2.5, 1.0, -0.0, 1e300, 3.0000000000000004, 1 / 3])
    if kind == 8:
        return [rng.choice(OPTIONS), rng.choice([1, 2.5, True, None, ["x"], {"y": 1}])]
    if kind == 9:
        return "nul\x00tecken"
    return rng.randint(1, 5)


def odd_answer(rng: random.Random) -> Any:
    if rng.random() < 0.05:
        return rng.choice([[1, 2], "text", 5, None, [], {}])  # not an object: counts as an answer, nothing more
    return {rng.choice(QUESTIONS): odd_value(rng) for _ in range(rng.randrange(6))}


def test_survey_form_answers_are_counted_by_the_database_alone(activity):
    """What the survey form stores (numbers 1-5, free text): no survey needs Python, and the counts agree."""
    rng = random.Random(7)
    add_answers(activity, [(rng.choice(SURVEYS), survey_answer(rng)) for _ in range(400)])
    add_answers(activity, [(rng.choice(SURVEYS), survey_answer(rng)) for _ in range(100)], ascii_only=True)
    assert same(activity) == set()


@pytest.mark.parametrize("seed", range(4))
def test_any_answers_agree_with_the_python_aggregation(activity, seed):
    """Booleans, lists, nulls, nested objects, large and fractional numbers, blank and non-ASCII text, documents that
    are not objects, NUL characters, odd keys: the same summary, some surveys through the Python fallback."""
    rng = random.Random(seed)
    plain = ["s1", "final"]  # only what the survey form stores, besides booleans and lists of strings
    answers: list[tuple[str, Any]] = []
    for _ in range(300):
        survey = rng.choice(SURVEYS)
        if survey in plain:
            value = survey_answer(rng)
            if rng.random() < 0.3:
                value["rekommendera"] = rng.choice([True, False])
            if rng.random() < 0.3:
                value["sprida"] = [rng.choice(OPTIONS) for _ in range(rng.randrange(4))]
            if rng.random() < 0.2:
                value["kommentar"] = rng.choice(BLANKS + TEXTS)
            if rng.random() < 0.1:
                value["tom"] = None
            answers.append((survey, value))
        else:
            answers.append((survey, odd_answer(rng)))
    half = len(answers) // 2
    add_answers(activity, answers[:half])
    add_answers(activity, answers[half:], ascii_only=True)
    python = same(activity)
    assert not python & set(plain)  # counted by the database
    assert python  # and at least one survey needed the fallback


@pytest.mark.parametrize(
    ("value", "in_python"),
    [
        ({"a": 3, "b": " ok "}, False),
        ({"a": True, "b": ["x", "y"], "c": []}, False),
        ({"a": 1.5}, True),
        ({"a": 2**31}, True),
        ({"a": ["x", 1]}, True),
        ({"a": "nul\x00"}, True),
        ({"a": "\\u0000 skrivet"}, True),  # looks like a NUL character in the JSON text: left to Python too
        ([1, 2, 3], False),
        ({"a": None, "b": {"c": 1.5}}, False),
    ],
)
def test_what_the_database_leaves_to_python(activity, value, in_python):
    add_answers(activity, [("s1", value), ("s1", {"a": 4})])
    assert same(activity) == ({"s1"} if in_python else set())


def test_json_text_not_written_by_json_dumps(activity):
    """White space around the document and between tokens, escapes, numbers written otherwise: the same summary."""
    add_documents(
        activity,
        [
            ("s1", ' \n\t{"a" : 4 ,"b":"  x ", "c" :[ "p" , "q" ] }\r\n'),
            ("s1", '{"a":-0,"b":"\\u00e5\\u3000","\\u00e5":true,"c":["\\ud83d\\ude00"]}'),
            ("s1", ' [ {"a": 1} ] '),
            ("s1", ' "{\\"a\\": 1}" '),
            ("s2", '{"a": 1E2, "b": 2}'),
            ("s2", '{"a": 3.0}'),
        ],
    )
    assert same(activity) <= {"s2"}


def test_many_numbers_are_left_to_python_when_their_sum_could_round(activity, monkeypatch):
    add_answers(activity, [("s1", {"a": n}) for n in (1, 2, 2)] + [("s2", {"a": 5})])
    monkeypatch.setattr(store_reports, "EXACT_COUNT", 3)
    assert same(activity) == {"s1"}


def test_whitespace_is_what_str_strip_removes():
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == store_reports.WHITESPACE


def test_tallies(activity):
    add_answers(
        activity,
        [
            ("s1", {"helhet": 5, "kommentar": "Bra!", "sprida": ["ledning", "ledning"], "ja": True}),
            ("s1", {"helhet": 2, "kommentar": "\u3000", "sprida": [], "ja": False, "tom": None}),
            ("s1", "inte ett objekt"),
            ("final", {"helhet": 1.5}),
        ],
    )
    tallies = activity.answer_tallies(ACTIVITY)
    assert len(tallies) == len(set(tallies))
    assert set(tallies) == (
        {
            AnswerTally("s1", None, "answers", None, 3, 0),
            AnswerTally("s1", "helhet", "integer", None, 2, 7),
            AnswerTally("s1", "kommentar", "text", None, 2, 1),
            AnswerTally("s1", "sprida", "array", None, 2, 0),
            AnswerTally("s1", "sprida", "option", "ledning", 2, 0),
            AnswerTally("s1", "ja", "true", None, 1, 0),
            AnswerTally("s1", "ja", "false", None, 1, 0),
            AnswerTally("final", None, "answers", None, 1, 0),
            AnswerTally("final", "helhet", "other", None, 1, 0),
        }
    )
    assert activity.answer_tallies("no-such-activity") == []
    assert activity.answer_documents(ACTIVITY, "final") == ['{"helhet": 1.5}']


def test_report_data_uses_the_database_counts(activity, monkeypatch):
    rng = random.Random(11)
    add_answers(activity, [(rng.choice(SURVEYS), survey_answer(rng)) for _ in range(50)])
    monkeypatch.setattr(Store, "survey_answers", lambda *_: pytest.fail("the answers were loaded"))
    data = collect_report_data(activity, ACTIVITY)
    monkeypatch.undo()
    assert (data.answer_summary, data.free_text_count) == python_aggregation(activity, ACTIVITY)
    assert reports.summary(data)["answer_summary"] == data.answer_summary
