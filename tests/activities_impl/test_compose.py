"""The Swedish e-mails: every template renders with the context the activities give it; times; signed links."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import jinja2
import pytest

from activities_impl.compose import Composer, sign, survey_text, verify, when
from activities_impl.lifecycle_activities import LifecycleActivities
from domain.plan import load_plan
from domain.reference import default_reference
from domain.tables import Participant

TEMPLATES = Path(__file__).resolve().parents[2] / "activities_impl" / "templates"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"
PLAN = load_plan(str(EXAMPLE), default_reference())
ANNA = Participant(
    id=7,
    activity_id=PLAN.id,
    name="Anna Andersson",
    email="anna@sundsvall.example.se",
    organisation_id="sundsvall",
    role="lärare",
)
WITHDRAW = "http://web.test/w/lasa-skriva-ht27-r1.abc"
SURVEY = "http://web.test/s/token123"
CLOSES = when(datetime(2027, 10, 7, 21, 59, tzinfo=UTC))
FINAL_TITLE, FINAL_INTRO = survey_text("final")
ANNOUNCE = {"participant": ANNA, "waitlisted": False, "low_enrolment": True, "withdraw_url": WITHDRAW}
SURVEY_MAIL = {
    "participant": ANNA,
    "survey_title": FINAL_TITLE,
    "survey_intro": FINAL_INTRO,
    "survey_url": SURVEY,
    "closes": CLOSES,
}

# template -> (what lifecycle_activities passes besides the common context, how the subject starts,
#              what the body must show)
CASES = {
    "invitation": ({}, "Inbjudan: ", ["Anmälan: http://web.test/a/lasa-skriva-ht27"]),
    "deadline_reminder": ({}, "Påminnelse: anmäl dig till ", ["minst 20 deltagare"]),
    "registration_confirmed": (
        {"participant": ANNA, "team_size": 5, "position": None, "withdraw_url": WITHDRAW},
        "Bekräftelse: du är anmäld till ",
        ["ett lag med 5 deltagare", WITHDRAW],
    ),
    "registration_waitlisted": (
        {"participant": ANNA, "team_size": 1, "position": 3, "withdraw_url": WITHDRAW},
        "Reservlista: ",
        ["som nummer 3", WITHDRAW],
    ),
    "withdrawal_confirmed": ({"participant": ANNA}, "Avanmälan mottagen: ", []),
    "promoted": ({"participant": ANNA, "withdraw_url": WITHDRAW}, "Du har fått en plats: ", [WITHDRAW]),
    "low_enrolment": (
        {"confirmed": 12, "grace_until": when(datetime(2027, 9, 13, 21, 59, tzinfo=UTC))},
        "Beslut behövs: för få anmälda till ",
        ["med 12 anmälda", "runflow decide lasa-skriva-ht27 cancel"],
    ),
    "activity_confirmed": (ANNOUNCE, PLAN.title, ["genomförs som planerat"]),
    "activity_cancelled": (ANNOUNCE, "Inställd: ", ["eftersom för få anmälde sig"]),
    "activity_postponed": ({**ANNOUNCE, "waitlisted": True}, "Nya datum: ", ["står kvar på reservlistan", WITHDRAW]),
    "session_reminder": (
        {
            "participant": ANNA,
            "session": {
                "no": 2,
                "when": when(PLAN.sessions[1].start, PLAN.sessions[1].end),
                "where": "Campus Östersund, sal F234",
            },
        },
        "Påminnelse: ",
        ["Tid: torsdag 21 oktober 2027 kl. 09.00–15.00"],
    ),
    "survey_invitation": (SURVEY_MAIL, "Slututvärdering: ", [SURVEY, CLOSES]),
    "survey_reminder": (SURVEY_MAIL, "Påminnelse – slututvärdering: ", [SURVEY, CLOSES]),
    "coordinator_message": (
        {
            "participant": ANNA,
            "message_subject": "Läs kapitel 3 inför träff 2",
            "message_body": "Hej alla!\n\nLäs kapitel 3 till nästa gång.\n\tTack!",
        },
        "Läs kapitel 3 inför träff 2 – ",
        ["Hej alla!\n\nLäs kapitel 3 till nästa gång.\n\tTack!\n\n", "http://web.test/a/lasa-skriva-ht27"],
    ),
    "undeliverable": (
        {
            "failed": [{"recipient": "anna@skola..se", "reason": "adressen är inte en giltig e-postadress"}],
            "mailing": "anmälningsbekräftelse",
        },
        "Mejl kom inte fram: ",
        ["anna@skola..se: adressen är inte en giltig e-postadress", "runflow activity show lasa-skriva-ht27"],
    ),
    "report": (
        {
            "summary": {"confirmed": 31, "answers": 18, "invited": 31},
            "anonymise_at": when(datetime(2028, 11, 18, 12, 0, tzinfo=UTC)),
        },
        "Slutrapport: ",
        ["Deltagare: 31 av 40 platser", "Enkätsvar: 18 av 31"],
    ),
}


@pytest.fixture
def composer(settings) -> Composer:
    return Composer(settings.web_base_url, settings.secret_key)


def common_context(composer: Composer) -> dict:
    # The very context the activities build (plan, format name, deadline, sessions, activity URL).
    return LifecycleActivities(store=None, outbox=None, composer=composer)._context(PLAN)


def test_every_template_has_a_case():
    names = {p.name.removesuffix(".txt.j2") for p in TEMPLATES.glob("*.txt.j2") if not p.name.startswith("_")}
    assert names == set(CASES)


@pytest.mark.parametrize("template", sorted(CASES))
def test_template_renders_swedish_mail(composer, template):
    extras, subject_start, shows = CASES[template]
    subject, body = composer.render(template, **common_context(composer), **extras)
    assert subject.startswith(subject_start) and PLAN.title in subject
    assert "\n" not in subject
    assert PLAN.title in body
    assert body.startswith("Hej Anna Andersson!" if "participant" in extras else "Hej!")
    assert body.rstrip().endswith(
        "Med vänliga hälsningar\nRUN – Regionalt utvecklingsnätverk, Mittuniversitetet\n"
        "(Det här meddelandet skickades automatiskt av runflow.)"
    )
    for text in (subject, body):
        assert "None" not in text and "{{" not in text and "{%" not in text
    for text in shows:
        assert text in body


def test_sessions_are_listed_in_swedish_time(composer):
    _, body = composer.render("invitation", **common_context(composer))
    assert "Träff 1: torsdag 23 september 2027 kl. 09.00–15.00" in body
    assert "Plats: Campus Sundsvall, sal O111" in body
    assert "Träff 3: torsdag 18 november 2027 kl. 13.00–16.00" in body
    assert "en seminarieserie" in body
    assert "Anmälan: http://web.test/a/lasa-skriva-ht27" in body


def test_missing_variable_is_an_error(composer):
    with pytest.raises(jinja2.UndefinedError):
        composer.render("promoted", **common_context(composer), participant=ANNA)  # no withdraw_url


# -- times ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("at", "end", "expected"),
    [
        (datetime(2027, 7, 1, 7, 0, tzinfo=UTC), None, "torsdag 1 juli 2027 kl. 09.00"),  # CEST, UTC+2
        (datetime(2027, 7, 1, 7, 0, 15, tzinfo=UTC), None, "torsdag 1 juli 2027 kl. 09.00.15"),
        (
            datetime(2027, 11, 18, 12, 0, tzinfo=UTC),
            datetime(2027, 11, 18, 15, 0, tzinfo=UTC),
            "torsdag 18 november 2027 kl. 13.00–16.00",
        ),  # CET, UTC+1
        (
            datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
            datetime(2027, 3, 29, 1, 30, tzinfo=UTC),
            "söndag 28 mars 2027 kl. 01.30 – måndag 29 mars 2027 kl. 03.30",
        ),  # across the switch to summer time
    ],
)
def test_when_in_stockholm_time(at, end, expected):
    assert when(at, end) == expected


# -- signed links ----------------------------------------------------------------
def test_sign_and_verify_round_trip():
    token = sign("lasa-skriva-ht27-r1.v2", "secret")
    assert verify(token, "secret") == "lasa-skriva-ht27-r1.v2"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("r1", "r2"),  # another registration
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # another digest
        lambda t: t.rpartition(".")[0],  # digest removed
        lambda t: "." + t.rpartition(".")[2],  # value removed
        lambda t: "",
    ],
)
def test_verify_rejects_tampered_tokens(tamper):
    token = sign("lasa-skriva-ht27-r1", "secret")
    assert verify(tamper(token), "secret") is None
    assert verify(token, "another-secret") is None


def test_a_forged_withdrawal_token_made_with_the_old_default_key_is_refused():
    """Registration ids are sequential: with a known key anyone could sign them. The key is never a default now."""
    from worker.settings import KNOWN_DEFAULT_SECRETS, ensure_secret_key

    forged = sign("lasa-skriva-ht27-r1", "dev-only-change-me")
    assert "dev-only-change-me" in KNOWN_DEFAULT_SECRETS
    real = ensure_secret_key(Path(__import__("tempfile").mkdtemp()))
    assert verify(forged, real) is None
