"""A coordinator's message: which texts are accepted, and until when messages go out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.messages import (
    BODY_MAX,
    SUBJECT_MAX,
    message_purpose,
    normalised_body,
    normalised_subject,
    sending_refusal,
    text_refusal,
)
from domain.phases import Phase
from domain.refusals import RefusalCode
from domain.texts import REFUSAL_FALLBACK, refusal_text


def code(subject: str, body: str) -> str | None:
    why = text_refusal(normalised_subject(subject), normalised_body(body))
    return why.code.value if why else None


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Inför träff 2", "Läs kapitel 3.\n\n\tTack!", None),
        ("Inför träff 2", "Rad ett\r\nRad två\rRad tre", None),  # a browser's line breaks
        ("x" * SUBJECT_MAX, "x" * BODY_MAX, None),
        ("", "text", "subject_empty"),
        ("   ", "text", "subject_empty"),
        ("x" * (SUBJECT_MAX + 1), "text", "subject_too_long"),
        ("Rad ett\nRad två", "text", "subject_control_character"),  # a header on two lines
        ("Ämne\tmed tabb", "text", "subject_control_character"),
        ("Ämne\u2028", "text", "subject_control_character"),
        ("  Ämne\x1f  ", "text", "subject_control_character"),  # not stripped away: refused
        ("Ämne", "", "body_empty"),
        ("Ämne", " \n\t\r\n", "body_empty"),
        ("Ämne", "x" * (BODY_MAX + 1), "body_too_long"),
        ("Ämne", "NUL\x00", "body_control_character"),
        ("Ämne", "escape \x1b[31m", "body_control_character"),
        ("Ämne", "radseparator \u2029", "body_control_character"),
    ],
)
def test_the_text_is_checked_before_it_is_stored(subject, body, expected):
    assert code(subject, body) == expected


@given(st.text(max_size=300), st.text(max_size=300))
def test_any_accepted_text_has_no_control_character_but_newline_and_tab(subject, body):
    if text_refusal(normalised_subject(subject), normalised_body(body)) is None:
        assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in subject)
        assert all(c in "\n\t" or (ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F) for c in normalised_body(body))


def test_every_message_refusal_has_a_swedish_text():
    for why in (
        text_refusal("", "x"),
        text_refusal("x" * (SUBJECT_MAX + 1), "x"),
        text_refusal("x\n", "x"),
        text_refusal("x", ""),
        text_refusal("x", "x" * (BODY_MAX + 1)),
        text_refusal("x", "\x00"),
        sending_refusal(Phase.ANONYMISED, anonymising=False),
    ):
        assert why is not None
        assert refusal_text(why.code, why.details) != REFUSAL_FALLBACK
    for other in (RefusalCode.UNKNOWN_SEGMENT, RefusalCode.MESSAGE_FAILED):
        assert refusal_text(other) != REFUSAL_FALLBACK
    assert refusal_text(RefusalCode.SUBJECT_TOO_LONG, {"max": 200, "length": 201}) == (
        "Ämnesraden får vara högst 200 tecken."
    )


@pytest.mark.parametrize("phase", list(Phase))
def test_messages_go_out_until_anonymisation_begins(phase):
    assert (sending_refusal(phase, anonymising=False) is None) is (phase is not Phase.ANONYMISED)
    assert sending_refusal(phase, anonymising=True).code is RefusalCode.MESSAGES_CLOSED


def test_the_outbox_purpose_names_the_message():
    assert message_purpose(12) == "message-12"
