"""A coordinator's message to a segment of an activity's people: what text is accepted, and when it may be sent.

The text lives in the store (`coordinator_message`); the workflow only ever sees the message's id.
"""

from __future__ import annotations

from domain.control_characters import control_character
from domain.phases import Phase
from domain.refusals import Refusal, RefusalCode, refusal

SUBJECT_MAX = 200
BODY_MAX = 10_000
MESSAGE_PURPOSE = "message-{id}"  # the outbox's purpose: a recipient gets message N once


def message_purpose(message_id: int) -> str:
    return MESSAGE_PURPOSE.format(id=message_id)


def normalised_subject(subject: str) -> str:
    """Without spaces around it (only spaces: any other character is for `text_refusal` to judge)."""
    return subject.strip(" ")


def normalised_body(body: str) -> str:
    """Line breaks as a browser sends them (CRLF, or CR) become plain newlines; trailing spaces, tabs and newlines
    are dropped."""
    return body.replace("\r\n", "\n").replace("\r", "\n").rstrip(" \t\n")


def text_refusal(subject: str, body: str) -> Refusal | None:
    """Why a message's text is refused: empty, too long, or a control character (only newline and tab in the body).

    `body` as `normalised_body` gives it (a carriage return is a control character here)."""
    if not subject.strip():
        return refusal(RefusalCode.SUBJECT_EMPTY, "the subject is empty")
    if len(subject) > SUBJECT_MAX:
        return refusal(
            RefusalCode.SUBJECT_TOO_LONG,
            f"the subject has {len(subject)} characters, at most {SUBJECT_MAX} are allowed",
            length=len(subject),
            max=SUBJECT_MAX,
        )
    if control_character(subject):
        return refusal(RefusalCode.SUBJECT_CONTROL_CHARACTER, "the subject contains a control character")
    if not body.strip():
        return refusal(RefusalCode.BODY_EMPTY, "the message is empty")
    if len(body) > BODY_MAX:
        return refusal(
            RefusalCode.BODY_TOO_LONG,
            f"the message has {len(body)} characters, at most {BODY_MAX} are allowed",
            length=len(body),
            max=BODY_MAX,
        )
    if control_character(body, multiline=True):
        return refusal(
            RefusalCode.BODY_CONTROL_CHARACTER, "the message contains a control character (other than newline or tab)"
        )
    return None


def sending_refusal(phase: Phase, anonymising: bool) -> Refusal | None:
    """Messages go out until the activity's people are erased: refused once anonymisation has begun."""
    if phase is Phase.ANONYMISED or anonymising:
        return refusal(RefusalCode.MESSAGES_CLOSED, "the activity's personal data is erased: no messages can be sent")
    return None
