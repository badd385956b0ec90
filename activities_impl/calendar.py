"""Calendar files (iCalendar, RFC 5545/5546) for an activity's sessions.

`build_calendar` turns an `ActivityPlan` into a VCALENDAR with one VEVENT per
session. Each session keeps the same UID in every plan version, and SEQUENCE
follows the stored plan version, so a calendar client updates (postponement)
or removes (METHOD:CANCEL) the event it already has instead of adding a new
one; a file for one person never has a lower SEQUENCE than one they already got
(`person_sequence`), so withdrawing and registering again works too. The
output depends only on the arguments (DTSTAMP is `stamp`, or now).

`location_text` is the Swedish place description, also used by the e-mails.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from domain.lifecycle import Location
from domain.plan import ActivityPlan, SessionPlan

PRODID = "-//RUN//runflow//SV"
METHODS = ("PUBLISH", "REQUEST", "CANCEL")

_PLACES: dict[Location, str] = {
    Location.SUNDSVALL: "Campus Sundsvall",
    Location.OSTERSUND: "Campus Östersund",
    Location.BOTH: "Campus Sundsvall och Campus Östersund (länkade)",
    Location.DIGITAL: "Digitalt",
}


def session_uid(activity_id: str, no: int) -> str:
    """The UID of session `no` (1-based): the same in every version of the plan."""
    return f"{activity_id}-session-{no}@runflow"


def location_text(session: SessionPlan) -> str:
    """Where a session is, in Swedish: campus (or "Digitalt"), then room and/or link.

    A room that already names the campus ("Campus Sundsvall, sal O111") replaces
    the campus name instead of repeating it.
    """
    place = _PLACES[session.location]
    parts = [place]
    if session.room:
        room = session.room.strip()
        if room.casefold().startswith(place.casefold()):
            parts = [room]
        else:
            parts.append(room)
    if session.link:
        parts.append(session.link.strip())
    return ", ".join(parts)


def _summary(plan: ActivityPlan, no: int, session: SessionPlan) -> str:
    return session.title or f"{plan.title} – träff {no}"


def _description(plan: ActivityPlan, session: SessionPlan) -> str:
    lines = [plan.description.strip()] if plan.description.strip() else []
    if session.link:
        lines.append(f"Länk: {session.link}")
    return "\n\n".join(lines)


def build_calendar(
    plan: ActivityPlan,
    version: int,
    *,
    method: str = "PUBLISH",
    session_nos: list[int] | None = None,
    stamp: datetime | None = None,
    sequence: int | None = None,
) -> bytes:
    """The iCalendar file for the plan's sessions (all, or only `session_nos`, 1-based).

    `version` is the stored plan version: SEQUENCE is `version - 1`, and for
    METHOD:CANCEL `version` (one above the last published) with STATUS:CANCELLED;
    or `sequence` when given (a person's own count, see `person_sequence`).
    """
    method = method.upper()
    if method not in METHODS:
        raise ValueError(f"unsupported calendar method {method!r} (use one of {', '.join(METHODS)})")
    if version < 1:
        raise ValueError(f"plan versions start at 1, got {version}")
    numbered = dict(enumerate(plan.sessions, start=1))
    wanted = sorted(numbered) if session_nos is None else list(dict.fromkeys(session_nos))
    unknown = [no for no in wanted if no not in numbered]
    if unknown:
        raise ValueError(f"no session {unknown} in plan {plan.id!r} (it has 1..{len(numbered)})")
    cancel = method == "CANCEL"
    stamp = (stamp or datetime.now(UTC)).astimezone(UTC)
    # Imported here: the pages, the CLI and a worker that sends no invitation use this module's texts only.
    from icalendar import Calendar, Event, vCalAddress

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    for no in wanted:
        session = numbered[no]
        event = Event()
        event.add("uid", session_uid(plan.id, no))
        event.add("sequence", sequence if sequence is not None else (version if cancel else version - 1))
        event.add("dtstamp", stamp)
        event.add("dtstart", session.start.astimezone(UTC))
        event.add("dtend", session.end.astimezone(UTC))
        event.add("summary", _summary(plan, no, session))
        event.add("location", location_text(session))
        if session.location is Location.DIGITAL and session.link:
            event.add("url", session.link)
        description = _description(plan, session)
        if description:
            event.add("description", description)
        organizer = vCalAddress(f"mailto:{plan.organiser_email}")
        organizer.params["cn"] = "RUN"
        event.add("organizer", organizer)
        event.add("status", "CANCELLED" if cancel else "CONFIRMED")
        calendar.add_component(event)
    return cast(bytes, calendar.to_ical())  # icalendar leaves Component.to_ical unannotated


def person_sequence(version: int, method: str, calendars_sent: int) -> int:
    """The SEQUENCE of a calendar file for one person: above every file they were sent before.

    By plan version alone, a person who withdraws (CANCEL, SEQUENCE `version`) and registers again would get a
    PUBLISH with the lower `version - 1`, which calendar clients ignore. Counting the files the person already got
    keeps each one newer than the last; it never goes below the plan version's own number.
    """
    by_version = version if method.upper() == "CANCEL" else version - 1
    return max(by_version, calendars_sent)
