"""A year of activities written straight into a store (no Temporal), for the annual report's tests: the 2020 action
plan of `examples/`, its activities with what the workflow would have recorded (registrations, attendance,
surveys, decisions in the audit log), costs, and a smaller 2019 for the comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from activities_impl.store import Store
from domain.action_plan import parse_action_plan_file
from domain.costs import Cost, CostCategory
from tests.support.plans import plan_at

EXAMPLE_PLAN = Path(__file__).resolve().parents[2] / "examples" / "handlingsplan-2020.yaml"
AS_OF = datetime(2021, 1, 15, 12, tzinfo=UTC)


@dataclass
class Spec:
    id: str
    title: str
    line: str | None
    start: datetime  # the first session; the second a week later
    outcome: str  # "ran", "cancelled", "postponed"
    participants: dict[str, int] = field(default_factory=dict)  # organisation -> confirmed people
    registered: int = 0  # when cancelled: how many had registered
    min_participants: int = 2
    format: str = "course"
    answers: list[dict[str, int]] = field(default_factory=list)  # the final evaluation's answers
    postponed_to: datetime | None = None


YEAR_2020 = [
    Spec(
        "organisera-likvardig-skola-20",
        "Att organisera en likvärdig skola",
        "likvardighet-organisera-likvardig-skola",
        datetime(2020, 2, 10, 8, tzinfo=UTC),
        "ran",
        {"sundsvall": 6, "ostersund": 4, "kramfors": 3},
        format="seminar_series",
        answers=[{"behov": 4, "balans": 5, "ny_kunskap": 4}, {"behov": 5, "balans": 4, "ny_kunskap": 5}],
    ),
    Spec(
        "leda-likvardig-skola-20",
        "Att leda en likvärdig skola",
        "likvardighet-leda-likvardig-skola",
        datetime(2020, 9, 14, 8, tzinfo=UTC),
        "ran",
        {"harnosand": 5, "solleftea": 4, "timra": 3, "sundsvall": 2},
        format="network_meeting",
    ),
    Spec(
        "kollegialt-larande-20",
        "Framgångsrikt kollegialt lärande",
        "ska-ledarskap-framgangsrikt-kollegialt-larande",
        datetime(2020, 10, 5, 8, tzinfo=UTC),
        "ran",
        {"ornskoldsvik": 8, "hudiksvall": 5, "miun": 1},
    ),
    Spec(
        "kulturanalys-20",
        "Kulturanalys – handledarutbildning",
        "ska-ledarskap-kulturanalys-handledarutbildning",
        datetime(2020, 9, 1, 8, tzinfo=UTC),
        "cancelled",
        registered=3,
        min_participants=8,
        format="supervisor_training",
    ),
    Spec(
        "mentor-20",
        "Mentor i förskola och skola",
        "kompetensforsorjning-mentor-forskola-skola",
        datetime(2020, 10, 20, 8, tzinfo=UTC),
        "ran",
        {"ostersund": 9, "krokom": 6, "are": 5, "berg": 4, "bracke": 3},
    ),
    Spec(
        "webbinarium-1-20",
        "RUN-webbinarium 1",
        "likvardighet-run-webbinarium",
        datetime(2020, 4, 22, 13, tzinfo=UTC),
        "ran",
        {"sundsvall": 20, "ljusdal": 10},
        format="webinar",
    ),
    Spec(
        "webbinarium-2-20",
        "RUN-webbinarium 2",
        "likvardighet-run-webbinarium",
        datetime(2020, 5, 20, 13, tzinfo=UTC),
        "cancelled",
        registered=4,
        min_participants=10,
        format="webinar",
    ),
    Spec(
        "webbinarium-3-20",
        "RUN-webbinarium 3",
        "likvardighet-run-webbinarium",
        datetime(2020, 11, 18, 13, tzinfo=UTC),
        "ran",
        {"nordanstig": 12, "soderhamn": 8},
        format="webinar",
    ),
    Spec(
        "fritidshem-20",
        "Fritidshemsseminarium",
        "likvardighet-fritidshemsseminarier",
        datetime(2020, 3, 25, 8, tzinfo=UTC),
        "postponed",
        postponed_to=datetime(2021, 9, 22, 8, tzinfo=UTC),
    ),
    Spec(
        "skolbibliotek-20",
        "Skolbibliotek som pedagogisk resurs",
        None,
        datetime(2020, 11, 3, 8, tzinfo=UTC),
        "ran",
        {"stromsund": 7, "ragunda": 2, "jgy": 1},
    ),
]
YEAR_2019 = [
    Spec(
        "mentor-19",
        "Mentor i förskola och skola",
        None,
        datetime(2019, 10, 1, 8, tzinfo=UTC),
        "ran",
        {"sundsvall": 10, "timra": 8},
    ),
]
COSTS_2020 = [  # (line or activity, kronor, category)
    ("line", "likvardighet-organisera-likvardig-skola", 52_000, CostCategory.SPEAKER),
    ("line", "likvardighet-organisera-likvardig-skola", 18_500, CostCategory.FOOD),
    ("activity", "mentor-20", 31_250, CostCategory.VENUE),
    ("activity", "webbinarium-1-20", 4_000, CostCategory.SPEAKER),
    ("line", "organisation-natverk-run-riksdag", 104_000, CostCategory.VENUE),
    ("activity", "skolbibliotek-20", 7_500, CostCategory.SPEAKER),
]


def _write(store: Store, spec: Spec) -> None:
    start = spec.start - timedelta(days=14)
    plan = plan_at(
        start,
        id=spec.id,
        title=spec.title,
        format=spec.format,
        places=60,
        min_participants=spec.min_participants,
        invitation={"organisations": ["all"]},
        action_plan_line=spec.line,
    )
    store.save_plan(plan, make_current=True)
    seq = 0
    for organisation, n in spec.participants.items():
        for _ in range(n):
            seq += 1
            pid = store.upsert_participant(
                spec.id,
                name=f"Person {seq}",
                email=f"p{seq}@{organisation}.example.se",
                organisation_id=organisation,
                role="lärare",
            )
            store.record_registration(
                registration_id=f"{spec.id}-r{seq}",
                activity_id=spec.id,
                participant_id=pid,
                status="confirmed",
                team_size=1,
                seq=seq,
            )
    for _ in range(spec.registered):
        seq += 1
        pid = store.upsert_participant(
            spec.id, name=f"Person {seq}", email=f"p{seq}@x.example.se", organisation_id="sundsvall", role="lärare"
        )
        store.record_registration(
            registration_id=f"{spec.id}-r{seq}",
            activity_id=spec.id,
            participant_id=pid,
            status="cancelled",
            team_size=1,
            seq=seq,
        )
    decided = plan.registration.deadline + timedelta(minutes=1)

    def decide(n: int, kind: str, reason: str, confirmed: int) -> None:
        store.audit(
            key=f"{spec.id}|decision-{n}",
            activity_id=spec.id,
            at=decided + timedelta(minutes=n),
            kind=kind,
            by="engine",
            reason=reason,
            details={"confirmed": confirmed, "min_participants": spec.min_participants},
        )

    total = sum(spec.participants.values())
    if spec.outcome == "ran":
        decide(1, "confirm", "minimum reached at the deadline", total)
        people = [p.id for _, p in store.registrations(spec.id) if p.id is not None]
        store.record_attendance(spec.id, 1, people[: max(total - 1, 0)])
        store.record_attendance(spec.id, 2, people)
        if spec.answers:
            sent = plan.sessions[-1].end + timedelta(days=1)
            invitations = store.create_survey_invitations(spec.id, "final", people, sent, sent + timedelta(days=7))
            for invitation, answer in zip(invitations, spec.answers, strict=False):
                store.answer_survey(invitation.token, {**answer, "ta_med": "Mycket"}, now=sent + timedelta(hours=1))
    elif spec.outcome == "cancelled":
        decide(
            1, "awaiting_coordinator", f"{spec.registered} registered, minimum {spec.min_participants}", spec.registered
        )
        decide(2, "cancel", "below the minimum and no decision within the grace period", 0)  # as the workflow does
    elif spec.outcome == "postponed":
        assert spec.postponed_to is not None
        decide(1, "awaiting_coordinator", "0 registered", 0)
        moved = plan_at(
            spec.postponed_to - timedelta(days=14),
            id=spec.id,
            title=spec.title,
            format=spec.format,
            places=60,
            min_participants=spec.min_participants,
            invitation={"organisations": ["all"]},
            action_plan_line=spec.line,
        )
        store.save_plan(moved, make_current=True)
        decide(2, "postpone", "postponed to plan version 2", 0)


def build_year(store: Store, *, with_2019: bool = True) -> None:
    """The 2020 action plan, its activities and costs (and 2019's one activity) in `store`."""
    data = EXAMPLE_PLAN.read_bytes()
    plan = parse_action_plan_file(data, EXAMPLE_PLAN.name)
    store.save_action_plan(plan, data.decode("utf-8"), EXAMPLE_PLAN.name)
    for spec in YEAR_2020 + (YEAR_2019 if with_2019 else []):
        _write(store, spec)
    for kind, target, amount, category in COSTS_2020:
        store.add_cost(
            Cost(
                year=2020,
                line_id=target if kind == "line" else None,
                activity_id=target if kind == "activity" else None,
                amount_ore=amount * 100,
                date=date(2020, 12, 1),
                category=category,
            )
        )


def expected_participants() -> dict[str, int]:
    """Confirmed people per organisation over the 2020 activities that ran."""
    out: dict[str, int] = {}
    for spec in YEAR_2020:
        if spec.outcome == "ran":
            for organisation, n in spec.participants.items():
                out[organisation] = out.get(organisation, 0) + n
    return out
