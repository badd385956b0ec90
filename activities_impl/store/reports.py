"""The final report of an activity, saved once; the survey answers counted for it by the database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlmodel import col, select

# Migrating and seeding take a lock (this advisory lock on PostgreSQL, the write lock on SQLite): workers that start
# together take turns (the later ones find the schema at head and the reference data in place) instead of racing to
# create the same tables and rows.
from activities_impl.store.engine import StoreBase
from domain.tables import (
    Report,
    SurveyAnswer,
)

# What Python's `str.strip()` removes: a text answer of only these is blank (SQL's trim() alone removes spaces only).
# Every code point whose str.isspace() is true (a test checks it against this Python's), written out: finding them
# takes ~60 ms, which no process importing the store should pay.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Integers up to SMALL_INT are summed by the database, up to EXACT_COUNT of them per question: their sum is then below
# 2**53, exact in a float, as Python's sum of the same numbers as floats is (in any order).
SMALL_INT = 2**31 - 1
EXACT_COUNT = 2**22
JSON_WHITESPACE = " \t\n\r"  # what JSON allows before a document's first token
# A document holding a NUL character (PostgreSQL's jsonb refuses it, SQLite's JSON functions cut the text at it).
NUL_ESCAPE = "\\u0000"

# Per survey: its answers, and how many hold a NUL character (Python summarises those surveys).
_SURVEYS = """
SELECT survey, COUNT(*), COUNT(CASE WHEN {find}(answers_json, :nul) > 0 THEN 1 END)
FROM survey_answer WHERE activity_id = :a GROUP BY survey"""

# The values of the documents' top-level keys per survey, key and JSON type: how many, the sum of the numbers, and one
# more count whose meaning depends on the type (every group has one type): for numbers those that are not small
# integers, for texts those that are not blank. One pass over the JSON with three aggregates, as bench/report_gen.py's
# floor; grouped by the plain type (grouping by an expression costs SQLite ~40 % more), the kind is decided in Python
# (`_member`). The key first: SQLite sorts the rows to group them, and compares them faster when the first column
# tells more of them apart (~15 % less time than survey first, as the floor groups). SQLite: a key that is not text
# belongs to a document that is not an object.
_SQLITE_MEMBERS = """
SELECT a.survey, j.key, j.type, COUNT(*),
       TOTAL(CASE WHEN j.type = 'integer' THEN j.value END),
       SUM(CASE WHEN j.type = 'integer' THEN j.value NOT BETWEEN -:small AND :small
                WHEN j.type = 'text' THEN trim(j.value, :ws) <> '' END)
FROM survey_answer a, json_each(a.answers_json) j
WHERE a.activity_id = :a
GROUP BY j.key, j.type, a.survey"""

# The strings in lists per survey, key and string; anything else in a list as "other".
_SQLITE_OPTIONS = """
SELECT a.survey, j.key, CASE WHEN e.type = 'text' THEN 'option' ELSE 'other' END AS kind,
       CASE WHEN e.type = 'text' THEN e.value END AS opt, COUNT(*)
FROM survey_answer a, json_each(a.answers_json) j, json_each(j.value) e
WHERE a.activity_id = :a AND instr(a.answers_json, '[') > 0 AND typeof(j.key) = 'text' AND j.type = 'array'
GROUP BY a.survey, j.key, kind, opt"""

# PostgreSQL: jsonb refuses a NUL character (those documents are left out: their surveys go to Python) and keeps
# the last of duplicate keys, as json.loads does; numbers are numeric (1.0 is integral, and sums as 1 in Python's
# floats too). Booleans are grouped as "true" and "false", as SQLite's types are. A document is an object when its
# text starts with "{" (after JSON's white space); each is cast to jsonb once.
_POSTGRES_MEMBERS = """
SELECT a.survey, m.key,
       CASE WHEN jsonb_typeof(m.value) = 'boolean' THEN m.value #>> '{}' ELSE jsonb_typeof(m.value) END,
       COUNT(*), SUM(n.number),
       COUNT(CASE WHEN n.number <> trunc(n.number) OR abs(n.number) > :small THEN 1
                  WHEN jsonb_typeof(m.value) = 'string' AND btrim(m.value #>> '{}', :ws) <> '' THEN 1 END)
FROM survey_answer a
CROSS JOIN LATERAL jsonb_each(
    CASE WHEN left(ltrim(a.answers_json, :json_ws), 1) = '{' THEN a.answers_json::jsonb ELSE '{}'::jsonb END
) m
CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(m.value) = 'number' THEN m.value::numeric END AS number) n
WHERE a.activity_id = :a AND strpos(a.answers_json, :nul) = 0
GROUP BY 1, 2, 3"""

_POSTGRES_OPTIONS = """
SELECT a.survey, m.key, CASE WHEN jsonb_typeof(e) = 'string' THEN 'option' ELSE 'other' END,
       CASE WHEN jsonb_typeof(e) = 'string' THEN e #>> '{}' END, COUNT(*)
FROM survey_answer a
CROSS JOIN LATERAL jsonb_each(
    CASE WHEN left(ltrim(a.answers_json, :json_ws), 1) = '{' THEN a.answers_json::jsonb ELSE '{}'::jsonb END
) m
CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(m.value) = 'array' THEN m.value ELSE '[]' END) e
WHERE a.activity_id = :a AND strpos(a.answers_json, :nul) = 0 AND strpos(a.answers_json, '[') > 0
GROUP BY 1, 2, 3, 4"""


class AnswerTally(NamedTuple):
    """How many (`n`) of a survey's answers or values there are of one kind, as `Reports.answer_tallies` counts them.

    `kind` says what is counted under the question `key`:

    - "answers" (key None): the survey's answers, whatever they hold;
    - "integer": integral numbers (small and few enough for their sum to be exact in a float), `total` their sum;
    - "true", "false": booleans;
    - "text": strings, `total` of them not blank (blank as Python's `str.strip()` sees it);
    - "array": lists (empty ones too), and "option" (with `option`): a string in a list;
    - "other" (key None for a whole document): what only Python summarises exactly as `json.loads` sees it (other
      numbers, lists of anything but strings, documents with a NUL character).

    Keys whose value is null or an object, and documents that are not objects, count only as answers.
    """

    survey: str
    key: str | None
    kind: str
    option: str | None
    n: int
    total: int


class Reports(StoreBase):
    def save_report(self, report: Report) -> Report:
        with self.session() as s:
            row = s.exec(select(Report).where(Report.activity_id == report.activity_id)).first()
            if row is None:
                s.add(report)
                row = report
            return row

    def report(self, activity_id: str) -> Report | None:
        with self.session() as s:
            return s.exec(select(Report).where(Report.activity_id == activity_id)).first()

    def answer_tallies(self, activity_id: str) -> list[AnswerTally]:
        """The survey answers of `activity_id` counted per survey, question and kind of value, by the database
        (SQLite's json_each, PostgreSQL's jsonb_each): no answer leaves it, free text is only counted.

        Two statements on the answers (three when some hold a list). The answers are written by `json.dumps` of a
        dict, so they have no duplicate keys (SQLite would count both, Python and PostgreSQL the last).
        """
        postgres = self.engine.dialect.name == "postgresql"
        params = {"a": activity_id, "ws": WHITESPACE, "json_ws": JSON_WHITESPACE, "nul": NUL_ESCAPE, "small": SMALL_INT}
        with self.engine.connect() as connection:
            surveys = _rows(connection, _SURVEYS.format(find="strpos" if postgres else "instr"), params)
            tallies = [AnswerTally(survey, None, "answers", None, n, 0) for survey, n, _ in surveys]
            tallies += [AnswerTally(survey, None, "other", None, nul, 0) for survey, _, nul in surveys if nul]
            if surveys:
                members = _rows(connection, _POSTGRES_MEMBERS if postgres else _SQLITE_MEMBERS, params)
                tallies += [tally for row in members if (tally := _member(*row)) is not None]
            if any(tally.kind == "array" for tally in tallies):
                for survey, key, kind, option, n in _rows(
                    connection, _POSTGRES_OPTIONS if postgres else _SQLITE_OPTIONS, params
                ):
                    tallies.append(AnswerTally(survey, key, kind, option, n, 0))
        return tallies

    def answer_documents(self, activity_id: str, survey: str) -> list[str]:
        """The answers (JSON text) to one survey of `activity_id`, in the order they came."""
        with self.session() as s:
            return list(
                s.exec(
                    select(SurveyAnswer.answers_json)
                    .where(SurveyAnswer.activity_id == activity_id, SurveyAnswer.survey == survey)
                    .order_by(col(SurveyAnswer.id))
                )
            )


def _rows(connection: Connection, sql: str, params: Mapping[str, object]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(text(sql), params)]


def _member(survey: str, key: object, type_: str, n: int, total: Any, flagged: Any) -> AnswerTally | None:
    """The tally of one row of the members' statement (`_SQLITE_MEMBERS`, `_POSTGRES_MEMBERS`); `flagged` counts the
    numbers that are not small integers, or the texts that are not blank."""
    if not isinstance(key, str) or type_ in ("null", "object"):
        return None  # ignored by the summary; a key that is not text: a document that is not an object (SQLite)
    if type_ in ("integer", "real", "number"):
        exact = type_ != "real" and not flagged and n < EXACT_COUNT
        return AnswerTally(survey, key, "integer" if exact else "other", None, n, int(total) if exact else 0)
    if type_ in ("text", "string"):
        return AnswerTally(survey, key, "text", None, n, int(flagged))
    return AnswerTally(survey, key, type_, None, n, 0)  # "true", "false", "array"
