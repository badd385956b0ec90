"""What the coordinators' overview shows of an activity, in the office's words: its phase, its next step, its
term, how much time is left before the engine cancels. Pure; the page feeds it the workflow's status."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.phases import Phase
from domain.schedule import FINAL, FOLLOW_UP, REPORT, Action
from domain.texts import STOCKHOLM

PHASE_LABELS = {
    Phase.PLANNED: "Planerad",
    Phase.OPEN: "Anmälan öppen",
    Phase.DECIDING: "Väntar på beslut",
    Phase.CONFIRMED: "Blir av",
    Phase.RUNNING: "Pågår",
    Phase.EVALUATING: "Utvärdering",
    Phase.FOLLOW_UP: "Uppföljning",
    Phase.COMPLETED: "Avslutad",
    Phase.CANCELLED: "Inställd",
    Phase.ANONYMISED: "Avidentifierad",
}
NOT_STARTED = "Inte startad"
ENGINE_WAITS = {  # what the workflow sleeps until, as it names it (`sleep_until`)
    "registration opens": "Anmälan öppnar (inbjudan skickas)",
    "reminder to the target group": "Påminnelse till målgruppen",
    "registration deadline": "Sista anmälningsdag",
    "automatic cancel unless the coordinator decides": "Ställs in automatiskt om ingen beslutar",
    "anonymisation": "Avidentifiering",
}
ACTIONS = {
    Action.REMINDER: "påminnelse inför träff {n}",
    Action.START: "träff {n} börjar",
    Action.SEND: "enkät skickas",
    Action.REMIND: "påminnelse om enkät",
    Action.CLOSE: "enkäten stänger",
}
SUBJECTS = {FINAL: "Slututvärdering", FOLLOW_UP: "Uppföljning"}


def phase_label(phase: str | None) -> str:
    try:
        return PHASE_LABELS[Phase(phase)] if phase else NOT_STARTED
    except ValueError:
        return phase or NOT_STARTED


def next_step_text(what: str) -> str:
    """The workflow's next step ('registration deadline', 's2:reminder', 'final:send', 'report') in Swedish."""
    if what in ENGINE_WAITS:
        return ENGINE_WAITS[what]
    if what == REPORT:
        return "Rapporten skrivs"
    subject, _, action_text = what[:50].partition(":")
    try:
        action = Action(action_text)
    except ValueError:
        return what
    if subject in SUBJECTS:
        return f"{SUBJECTS[subject]}: {ACTIONS[action].format(n='')}".replace(" inför träff ", " ")
    number = subject[1:]
    if subject.startswith("s") and number.isdigit():
        text = ACTIONS[action].format(n=number)
        if action in (Action.SEND, Action.REMIND, Action.CLOSE):
            return f"Träff {number}: {text}"
        return text[0].upper() + text[1:]
    return what


def term_of(at: datetime) -> str:
    """The term an activity belongs to, by its first session in Swedish time: 'VT 2027' (January–June) or 'HT 2026'."""
    local = at.astimezone(STOCKHOLM)
    return f"{'VT' if local.month <= 6 else 'HT'} {local.year}"


def time_left(until: datetime, now: datetime) -> str:
    """'2 dagar 3 timmar', '5 timmar 10 minuter', '12 minuter', 'passerad'."""
    left = until - now
    if left <= timedelta(0):
        return "passerad"
    days, seconds = left.days, left.seconds
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    if days:
        return f"{days} {'dag' if days == 1 else 'dagar'} {hours} {'timme' if hours == 1 else 'timmar'}"
    if hours:
        return f"{hours} {'timme' if hours == 1 else 'timmar'} {minutes} {'minut' if minutes == 1 else 'minuter'}"
    return f"{max(minutes, 1)} {'minut' if minutes == 1 else 'minuter'}"
