"""A survey's results for the coordinator: response rate, each scale question's distribution and mean, each
free-text question's answers. Pure: the stored answers in, the results out.

Answers are stored without the person (`domain.tables.SurveyAnswer`: the answers as JSON, organisation and role
kept for statistics); only the survey's question keys are read from them, so nothing else an answer holds reaches
the results. Free texts are sorted alphabetically (Swedish order), so their order says nothing about who answered
when.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict

from domain.surveys import ERASED_TEXT, SCALE, Kind, questions
from domain.texts import survey_text


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ScaleResult(_Frozen):
    key: str
    text: str
    low: str  # what 1 means, e.g. "inte alls"
    high: str  # what 5 means
    counts: dict[int, int]  # every value of the scale, lowest first, zero where nobody chose it
    answered: int
    mean: float | None  # None when nobody answered the question


class TextResult(_Frozen):
    key: str
    text: str
    answers: list[str]  # non-empty answers, alphabetically
    erased: int = 0  # answers erased at anonymisation (`domain.surveys.ERASED_TEXT`): counted, not shown


class SurveyResults(_Frozen):
    survey: str
    title: str  # "Utvärdering av träff 1", "Slututvärdering", "Uppföljning"
    invited: int
    answered: int
    response_rate: float | None  # answered / invited; None when nobody was invited
    scales: list[ScaleResult]
    texts: list[TextResult]


def survey_results(survey: str, invited: int, answers: Iterable[Mapping[str, object]]) -> SurveyResults:
    """The results of `survey` from its stored answers (each `json.loads(SurveyAnswer.answers_json)`).

    A scale answer counts when it is one of `SCALE` (an int, not a bool); a free text when it is a string that is
    not blank. Anything else an answer holds is ignored.
    """
    rows = list(answers)
    form = questions(survey)
    scales = []
    texts = []
    for q in form:
        if q.kind is Kind.SCALE:
            values = _scale_values(rows, q.key)
            counts = {value: values.count(value) for value in SCALE}
            scales.append(
                ScaleResult(
                    key=q.key,
                    text=q.text,
                    low=q.low,
                    high=q.high,
                    counts=counts,
                    answered=len(values),
                    mean=sum(values) / len(values) if values else None,
                )
            )
        else:
            written = [v.strip() for row in rows if isinstance(v := row.get(q.key), str) and v.strip()]
            shown = [text for text in written if text != ERASED_TEXT]
            texts.append(
                TextResult(
                    key=q.key, text=q.text, answers=sorted(shown, key=swedish_order), erased=len(written) - len(shown)
                )
            )
    return SurveyResults(
        survey=survey,
        title=survey_text(survey)[0],
        invited=invited,
        answered=len(rows),
        response_rate=len(rows) / invited if invited > 0 else None,
        scales=scales,
        texts=texts,
    )


def _scale_values(rows: list[Mapping[str, object]], key: str) -> list[int]:
    values = []
    for row in rows:
        value = row.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value in SCALE:
            values.append(value)
    return values


# Swedish alphabetical order: å, ä, ö after z (in that order), æ with ä and ø with ö; other accents as their letter.
# (Mapped to the last code points, above every letter.)
_AFTER_Z = {"å": "\U0010fffb", "ä": "\U0010fffc", "æ": "\U0010fffc", "ö": "\U0010fffd", "ø": "\U0010fffd"}


def swedish_order(text: str) -> tuple[str, str]:
    """A sort key for Swedish alphabetical order, case-insensitive; ties broken by the text itself."""
    letters = []
    for char in unicodedata.normalize("NFC", text).casefold():
        if char in _AFTER_Z:
            letters.append(_AFTER_Z[char])
        else:
            letters.append("".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)))
    return "".join(letters), text


def percent(rate: float | None) -> str:
    """'62 %' (Swedish: a space before the sign), or '–' when there is no rate."""
    return "–" if rate is None else f"{round(rate * 100)}\u00a0%"


def decimal(value: float | None) -> str:
    """'3,8': one decimal with a decimal comma, or '–'."""
    return "–" if value is None else f"{value:.1f}".replace(".", ",")
