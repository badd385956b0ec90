"""Plan factories.

- `plan_at(start)`: a small plan days long, for the time-skipping server (the `make_plan` fixture).
- `plan_data_in_seconds(activity_id, t0)` / `plan_in_seconds(...)`: a plan seconds long, for processes on the real
  clock (integration, end-to-end, benchmarks); the data (for YAML and the CLI) or the parsed plan.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from domain.plan import ActivityPlan, parse_plan
from domain.reference import default_reference

ORGANISATIONS = ["sundsvall", "ostersund", "are"]


def plan_at(start: datetime, **changes: Any) -> ActivityPlan:
    """A small plan whose registration opens one minute after `start` (days apart, like a real one)."""
    data = {
        "id": f"test-{uuid.uuid4().hex[:8]}",
        "title": "Testaktivitet om läsutveckling",
        "description": "En kort testaktivitet.",
        "focus_area": "utveckla",
        "target_groups": ["lärare"],
        "format": "course",
        "organiser_email": "samordnare@run.test",
        "places": 3,
        "min_participants": 2,
        "registration": {
            "opens": start + timedelta(minutes=1),
            "deadline": start + timedelta(days=10),
            "reminders_before_deadline": ["5d", "1d"],
        },
        "grace_period": "2d",
        "sessions": [
            {
                "start": start + timedelta(days=14),
                "end": start + timedelta(days=14, hours=3),
                "location": "sundsvall",
                "room": "O111",
            },
            {
                "start": start + timedelta(days=21),
                "end": start + timedelta(days=21, hours=3),
                "location": "digital",
                "link": "https://meet.test/x",
            },
        ],
        "session_reminder_before": "1d",
        "surveys": {
            "window": "7d",
            "reminder_after": "3d",
            "attendance_grace": "1d",
            "final_evaluation_after": "1d",
            "follow_up_after": "30d",
        },
        "retention": "60d",
        "invitation": {"organisations": ORGANISATIONS},
    }
    data.update(changes)
    return ActivityPlan.model_validate(data)


def plan_data_in_seconds(
    activity_id: str,
    t0: datetime,
    *,
    places: int = 3,
    opens: float = 3,
    deadline: float = 14,
    sessions: Sequence[tuple[float, float]] = ((3, 6), (8, 10)),
    reminders: Sequence[str | timedelta] = (),
    teams: bool = False,
    **changes: Any,
) -> dict[str, Any]:
    """A plan on the real clock: registration opens `opens` s after `t0` and closes `deadline` s after it; the
    sessions are (start, end) in seconds after the deadline (the first in Sundsvall, the others digital); `reminders`
    before the deadline.

    With the defaults everything after the deadline takes seconds: grace 5 s, sessions at +3..+6 and +8..+10 s,
    surveys a 4 s window, anonymised about 22 s after the deadline. `changes` replace whole top-level fields.
    """

    def at(seconds: float) -> str:
        return (t0 + timedelta(seconds=seconds)).isoformat()

    data: dict[str, Any] = {
        "id": activity_id,
        "title": f"Testkurs {activity_id}",
        "description": "En kort testkurs i sekunder.",
        "focus_area": "utveckla",
        "target_groups": ["lärare"],
        "format": "course",
        "organiser_email": "samordnare@run.test",
        "places": places,
        "min_participants": 2,
        "registration": {"opens": at(opens), "deadline": at(deadline), "reminders_before_deadline": list(reminders)},
        "grace_period": "5s",
        "sessions": [
            {"start": at(deadline + start), "end": at(deadline + end), "location": "sundsvall", "room": "O111"}
            if i == 0
            else {
                "start": at(deadline + start),
                "end": at(deadline + end),
                "location": "digital",
                "link": "https://meet.test/kurs",
            }
            for i, (start, end) in enumerate(sessions)
        ],
        "session_reminder_before": "2s",
        "surveys": {
            "window": "4s",
            "reminder_after": "2s",
            "attendance_grace": "2s",
            "final_evaluation_after": "1s",
            "follow_up_after": "3s",
        },
        "retention": "5s",
        "invitation": {"organisations": ORGANISATIONS},
    }
    if teams:
        data["teams"] = {"allowed": True, "min_size": 2, "max_size": 3}
    data.update(changes)
    return data


def plan_in_seconds(activity_id: str, t0: datetime, **options: Any) -> ActivityPlan:
    """`plan_data_in_seconds`, parsed and checked against the reference data (as `runflow activity start` does)."""
    return parse_plan(plan_data_in_seconds(activity_id, t0, **options), default_reference())
