"""Swedish texts for people: refusal reasons from the engine (English, for logs) turned into Swedish."""

from __future__ import annotations

import re

_REFUSALS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"registration is closed"), "Anmälan är stängd."),
    (re.compile(r"already registered"), "Du är redan anmäld till den här aktiviteten."),
    (re.compile(r"individual registrations only"), "Aktiviteten tar bara emot enskilda anmälningar, inte lag."),
    (re.compile(r"team size (\d+) is outside (\d+)-(\d+)"), r"Ett lag ska ha \2–\3 deltagare (du angav \1)."),
    (re.compile(r"team size (\d+) is above the (\d+) places"), r"Laget är större än antalet platser (\2)."),
    (re.compile(r"withdrawal is closed"), "Det går inte längre att avanmäla sig."),
    (re.compile(r"not registered"), "Det finns ingen aktiv anmälan att avsluta."),
    (re.compile(r"no activity"), "Aktiviteten finns inte."),
    (re.compile(r"has ended"), "Aktiviteten är avslutad."),
    (re.compile(r"unknown organisation"), "Välj en organisation i listan."),
]


def refusal_in_swedish(reason: str) -> str:
    for pattern, swedish in _REFUSALS:
        match = pattern.search(reason)
        if match:
            return match.expand(swedish)
    return "Det gick inte att genomföra. Försök igen senare eller kontakta RUN."
