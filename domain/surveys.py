"""The survey forms (the seeds' evaluation themes) and validation of answers. Pure: no I/O.

Session surveys and the final evaluation ask about needs, the balance of
theory, practice and exchange, new knowledge and what the participant takes
back; the follow-up asks what was spread in the participant's organisation.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from domain.control_characters import control_character

MAX_TEXT = 2000  # characters per answer, checked before the answer is looked at
SCALE = (1, 2, 3, 4, 5)


class Kind(StrEnum):
    SCALE = "scale"
    TEXT = "text"


class Question(BaseModel):
    key: str
    text: str
    kind: Kind
    required: bool = True
    low: str = ""
    high: str = ""


EVALUATION = [
    Question(
        key="behov",
        text="I vilken grad motsvarade innehållet dina behov?",
        kind=Kind.SCALE,
        low="inte alls",
        high="helt och hållet",
    ),
    Question(
        key="balans",
        text="Hur bra var balansen mellan teori, praktik och erfarenhetsutbyte?",
        kind=Kind.SCALE,
        low="dålig",
        high="mycket bra",
    ),
    Question(
        key="ny_kunskap", text="I vilken grad fick du ny kunskap?", kind=Kind.SCALE, low="inte alls", high="i hög grad"
    ),
    Question(key="ta_med", text="Vad tar du med dig tillbaka till din organisation?", kind=Kind.TEXT, required=False),
    Question(key="ovrigt", text="Övriga synpunkter", kind=Kind.TEXT, required=False),
]

FOLLOW_UP = [
    Question(
        key="anvant",
        text="I vilken grad har du använt det du lärde dig i ditt arbete?",
        kind=Kind.SCALE,
        low="inte alls",
        high="i hög grad",
    ),
    Question(
        key="spridit", text="Vad har du spridit eller delat i din egen organisation?", kind=Kind.TEXT, required=False
    ),
    Question(
        key="hinder", text="Vad har gjort det svårt att använda eller sprida det?", kind=Kind.TEXT, required=False
    ),
    Question(key="ovrigt", text="Övriga synpunkter", kind=Kind.TEXT, required=False),
]


def questions(survey: str) -> list[Question]:
    return FOLLOW_UP if survey == "follow-up" else EVALUATION


def validate_answers(survey: str, form: dict[str, str]) -> tuple[dict[str, int | str], dict[str, str]]:
    """Answers by question key, and errors (Swedish, for people) by question key."""
    answers: dict[str, int | str] = {}
    errors: dict[str, str] = {}
    for q in questions(survey):
        raw = form.get(q.key) or ""
        if len(raw) > MAX_TEXT:  # before anything else is done with it: hostile input costs nothing
            errors[q.key] = (
                "Svaret måste vara ett värde från 1 till 5."
                if q.kind is Kind.SCALE
                else f"Svaret får vara högst {MAX_TEXT} tecken."
            )
            continue
        if control_character(raw, multiline=True):
            errors[q.key] = (
                "Svaret måste vara ett värde från 1 till 5."
                if q.kind is Kind.SCALE
                else "Svaret innehåller ett otillåtet tecken (till exempel ett styrtecken)."
            )
            continue
        raw = raw.strip()
        if q.kind is Kind.SCALE:
            if not raw:
                if q.required:
                    errors[q.key] = "Välj ett värde från 1 till 5."
                continue
            if raw not in {str(v) for v in SCALE}:
                errors[q.key] = "Svaret måste vara ett värde från 1 till 5."
                continue
            answers[q.key] = int(raw)
        else:
            if raw:
                answers[q.key] = raw
            elif q.required:
                errors[q.key] = "Skriv ett svar."
    return answers, errors


ERASED_TEXT = "(raderad)"


def without_free_text(answers: dict[str, object]) -> dict[str, object]:
    """The answers as anonymisation keeps them: every free text replaced by a marker, so that what people wrote
    (names, addresses) is gone while the scale answers, the choices and the count of free texts stay."""
    return {
        key: (ERASED_TEXT if value.strip() else value) if isinstance(value, str) else value
        for key, value in answers.items()
    }
