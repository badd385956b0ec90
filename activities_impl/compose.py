"""Composing the Swedish e-mails from templates: subject on the first line, body after it."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined

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


def sign(value: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:24]
    return f"{value}.{digest}"


def verify(token: str, secret: str) -> str | None:
    value, _, _ = token.rpartition(".")
    return value if value and hmac.compare_digest(sign(value, secret), token) else None


class Composer:
    def __init__(self, web_base_url: str, secret: str):
        self.web_base_url = web_base_url.rstrip("/")
        self.secret = secret
        self.env = Environment(
            loader=PackageLoader("activities_impl", "templates"),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, template: str, **context: Any) -> tuple[str, str]:
        text = self.env.get_template(f"{template}.txt.j2").render(**context)
        subject, _, body = text.partition("\n")
        return subject.strip(), body.lstrip("\n")

    def activity_url(self, activity_id: str) -> str:
        return f"{self.web_base_url}/a/{activity_id}"

    def withdraw_url(self, registration_id: str) -> str:
        return f"{self.web_base_url}/w/{sign(registration_id, self.secret)}"

    def survey_url(self, token: str) -> str:
        return f"{self.web_base_url}/s/{token}"
