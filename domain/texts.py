"""What people read, in Swedish and in the office's words, in one place: times and dates (Europe/Stockholm), the
names of formats and surveys, and the refusals by code. The web pages and the e-mails share it; code, logs and the
CLI stay in English.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.refusals import RefusalCode

STOCKHOLM = ZoneInfo("Europe/Stockholm")
WEEKDAYS = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"]
MONTHS = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]
FORMAT_NAMES = {
    "course": "en kurs",
    "seminar_series": "en seminarieserie",
    "network_meeting": "en nätverksträff",
    "webinar": "ett webbinarium",
    "conference": "en konferens",
    "theme_day": "en temadag",
    "supervisor_training": "en handledarutbildning",
}
FORMAT_LABELS = {  # as a report's heading names them
    "course": "kurs",
    "seminar_series": "seminarieserie",
    "network_meeting": "nätverksträff",
    "webinar": "webbinarium",
    "conference": "konferens",
    "theme_day": "temadag",
    "supervisor_training": "handledarutbildning",
}
SURVEY_TITLES = {
    "final": ("Slututvärdering", "Nu är aktiviteten avslutad. Berätta vad du tar med dig i en kort slututvärdering."),
    "follow-up": (
        "Uppföljning",
        "Det har gått en tid sedan aktiviteten. Vad har du kunnat sprida och använda i din egen organisation?",
    ),
}


def clock(local: datetime) -> str:
    """'09.00', or '09.00.15' when seconds matter (demo plans run in seconds)."""
    return f"{local:%H.%M.%S}" if local.second else f"{local:%H.%M}"


def when(at: datetime, end: datetime | None = None) -> str:
    """'torsdag 23 september 2027 kl. 09.00–15.00' in Swedish time."""
    local = at.astimezone(STOCKHOLM)
    text = f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year} kl. {clock(local)}"
    if end is not None:
        local_end = end.astimezone(STOCKHOLM)
        text += f"–{clock(local_end)}" if local_end.date() == local.date() else f" – {when(end)}"
    return text


def survey_text(survey: str) -> tuple[str, str]:
    if survey in SURVEY_TITLES:
        return SURVEY_TITLES[survey]
    no = survey.removeprefix("s")
    return (f"Utvärdering av träff {no}", f"Tack för att du deltog i träff {no}. Vi vill gärna veta vad du tyckte.")


# -- refusals, by code ---------------------------------------------------------------------------------------------
REFUSALS: dict[RefusalCode, str] = {
    RefusalCode.REGISTRATION_CLOSED: "Anmälan är stängd.",
    RefusalCode.ALREADY_REGISTERED: "Du är redan anmäld till den här aktiviteten.",
    RefusalCode.INDIVIDUALS_ONLY: "Aktiviteten tar bara emot enskilda anmälningar, inte lag.",
    RefusalCode.TEAM_SIZE: "Ett lag ska ha {min}–{max} deltagare (du angav {size}).",
    RefusalCode.TEAM_ABOVE_PLACES: "Laget är större än antalet platser ({places}).",
    RefusalCode.WITHDRAWAL_CLOSED: "Det går inte längre att avanmäla sig.",
    RefusalCode.NOT_REGISTERED: "Det finns ingen aktiv anmälan att avsluta.",
    RefusalCode.INVALID_EMAIL: "Skriv en giltig e-postadress, till exempel namn@skola.se.",
    RefusalCode.UNKNOWN_ORGANISATION: "Välj en organisation i listan.",
    RefusalCode.NO_ACTIVITY: "Aktiviteten finns inte.",
    RefusalCode.ACTIVITY_ENDED: "Aktiviteten är avslutad.",
    RefusalCode.NOT_CONFIRMED: "Bara bekräftade deltagare kan markeras som närvarande.",
    RefusalCode.ALREADY_STARTED: "Aktiviteten är redan startad.",
    RefusalCode.UNKNOWN_ACTION_PLAN_LINE: "Handlingsplanen för {year} har ingen rad ”{line}”.",
    RefusalCode.DECISION_PHASE: "Det beslutet går inte att fatta i aktivitetens nuvarande fas.",
    RefusalCode.DECISION_BUSY: "Ett annat beslut om aktiviteten håller på att genomföras. Försök igen om en stund.",
    RefusalCode.DEADLINE_MISSING: "Ange en ny sista anmälningsdag.",
    RefusalCode.DEADLINE_NAIVE: "Ange en ny sista anmälningsdag med datum och tid.",
    RefusalCode.DEADLINE_PAST: "Den nya sista anmälningsdagen har redan passerat.",
    RefusalCode.DEADLINE_AFTER_START: "Den nya sista anmälningsdagen är efter att första träffen börjar.",
    RefusalCode.PLAN_MISSING: "Ange de nya tiderna.",
    RefusalCode.PLAN_OTHER_ACTIVITY: "De nya tiderna gäller en annan aktivitet.",
    RefusalCode.PLAN_DEADLINE_PAST: "Den nya sista anmälningsdagen har redan passerat.",
    RefusalCode.PLAN_NOT_NEWER: "Aktiviteten har ändrats under tiden. Ladda om sidan och försök igen.",
    RefusalCode.NO_SUCH_SESSION: "Aktiviteten har ingen sådan träff.",
    RefusalCode.ATTENDANCE_PHASE: "Närvaro kan inte registreras i aktivitetens nuvarande fas.",
    RefusalCode.SESSION_NOT_STARTED: "Närvaro kan registreras först när träffen har börjat.",
    RefusalCode.INVALID_STAFF_ID: "Inloggningen gick inte att koppla till någon i personalen. Logga in igen.",
    RefusalCode.SUBJECT_EMPTY: "Skriv en ämnesrad.",
    RefusalCode.SUBJECT_TOO_LONG: "Ämnesraden får vara högst {max} tecken.",
    RefusalCode.SUBJECT_CONTROL_CHARACTER: "Ämnesraden innehåller ett otillåtet tecken. Skriv den på en rad.",
    RefusalCode.BODY_EMPTY: "Skriv ett meddelande.",
    RefusalCode.BODY_TOO_LONG: "Meddelandet får vara högst {max} tecken.",
    RefusalCode.BODY_CONTROL_CHARACTER: "Meddelandet innehåller ett otillåtet tecken.",
    RefusalCode.UNKNOWN_SEGMENT: "Välj vilka som ska få meddelandet i listan.",
    RefusalCode.MESSAGES_CLOSED: "Aktivitetens personuppgifter är raderade, så inga meddelanden kan skickas.",
    RefusalCode.MESSAGE_FAILED: "Meddelandet kunde inte skickas. Försök igen senare eller kontakta RUN.",
}
REFUSAL_FALLBACK = "Det gick inte att genomföra. Försök igen senare eller kontakta RUN."


def refusal_text(code: str, details: dict[str, Any] | None = None) -> str:
    """The Swedish sentence for a refusal code (with its numbers filled in); a general one for other codes."""
    try:
        template = REFUSALS[RefusalCode(code)]
    except (ValueError, KeyError):
        return REFUSAL_FALLBACK
    try:
        return template.format(**(details or {}))
    except (KeyError, IndexError, ValueError):
        return REFUSAL_FALLBACK
