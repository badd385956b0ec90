"""What the invoice basis (fakturaunderlag) of a year is made from: each activity of the year with its participants
per organisation, counted by the database (`domain.year_outcome.invoice_basis` applies the fees).

Two counts, as the office invoices:

- `confirmed`: the people of confirmed registrations (a team counts with its size); a cancelled activity's
  registrations are cancelled, so it has none;
- `attended`: the people of registrations whose participant was marked present at one session or more.

Participants are counted by their organisation, which anonymisation keeps: the basis of an anonymised year is the
same as before.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Literal

from sqlalchemy import func
from sqlmodel import col, select

from activities_impl.store import Store
from domain.lifecycle import SeatStatus
from domain.tables import Activity, Attendance, Participant, Registration
from domain.year_outcome import FeeActivity

Counted = Literal["confirmed", "attended"]
COUNTS: tuple[Counted, ...] = ("confirmed", "attended")


def fee_activities(store: Store, year: int, counted: Counted = "confirmed") -> list[FeeActivity]:
    """Every activity of `year` (`Store.activity_lines`: by its first session) with its line and its participants
    per organisation, by title."""
    lines = store.activity_lines(year)
    if not lines:
        return []
    participants: dict[str, dict[str, int]] = defaultdict(dict)
    titles: dict[str, str] = {}
    with store.session() as s:
        for activity_id, title in s.exec(select(Activity.id, Activity.title).where(col(Activity.id).in_(list(lines)))):
            titles[activity_id] = title
        query = (
            select(Registration.activity_id, Participant.organisation_id, func.sum(Registration.team_size))
            .join(Participant, col(Participant.id) == col(Registration.participant_id))
            .where(col(Registration.activity_id).in_(list(lines)))
            .group_by(col(Registration.activity_id), col(Participant.organisation_id))
        )
        if counted == "confirmed":
            query = query.where(Registration.status == SeatStatus.CONFIRMED.value)
        else:
            present = (
                select(Attendance.participant_id)
                .where(col(Attendance.activity_id).in_(list(lines)), Attendance.present)
                .distinct()
            )
            query = query.where(col(Registration.participant_id).in_(present))
        for activity_id, organisation_id, people in s.exec(query):
            participants[activity_id][organisation_id] = int(people or 0)
    activities = [
        FeeActivity(
            activity_id=activity_id,
            title=titles.get(activity_id, activity_id),
            line_id=line,
            participants=dict(sorted(participants.get(activity_id, {}).items())),
        )
        for activity_id, line in lines.items()
    ]
    return sorted(activities, key=lambda a: (a.title.casefold(), a.activity_id))
