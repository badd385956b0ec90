"""Issue 12, point 6: a year built from the seeds, run through the lifecycles on the time-skipping server, then its
annual report checked against what was registered (and the same after every activity was anonymised).

The 2020 action plan of `examples/` is moved to the test server's year (its clock starts at the real today): the
activities the 2020 annual report names run on their lines: Att organisera en likvärdig skola, Att leda en likvärdig
skola, Framgångsrikt kollegialt lärande, Kulturanalys – handledarutbildning (cancelled for too few registered),
Mentor i förskola och skola (27 participants), and three RUN-webbinarier, one of them cancelled.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import docx

from activities_impl.annual_report import build_annual_report
from activities_impl.annual_report_docx import render_docx
from domain.action_plan import parse_action_plan_yaml
from domain.annual_report import Outcome
from domain.phases import Phase
from domain.plan import plan_year
from tests.support.annual_year import EXAMPLE_PLAN

ORGS = ["sundsvall", "ostersund", "are", "kramfors", "harnosand", "berg"]
# (id, title, line, registered, minimum): those registered below the minimum are cancelled at the end of the grace
ACTIVITIES = [
    ("organisera", "Att organisera en likvärdig skola", "likvardighet-organisera-likvardig-skola", 5, 2),
    ("leda", "Att leda en likvärdig skola", "likvardighet-leda-likvardig-skola", 4, 2),
    ("kollegialt", "Framgångsrikt kollegialt lärande", "ska-ledarskap-framgangsrikt-kollegialt-larande", 3, 2),
    ("kulturanalys", "Kulturanalys – handledarutbildning", "ska-ledarskap-kulturanalys-handledarutbildning", 2, 6),
    ("mentor", "Mentor i förskola och skola", "kompetensforsorjning-mentor-forskola-skola", 27, 10),
    ("webb-1", "RUN-webbinarium 1", "likvardighet-run-webbinarium", 6, 3),
    ("webb-2", "RUN-webbinarium 2", "likvardighet-run-webbinarium", 1, 3),
    ("webb-3", "RUN-webbinarium 3", "likvardighet-run-webbinarium", 4, 3),
]


def _start_of_the_year(now: datetime) -> datetime:
    """A start whose sessions (two to three weeks on) fall in one year: now, or early next year in late autumn."""
    if (now + timedelta(days=40)).year != now.year:
        return datetime(now.year + 1, 1, 5, 8, tzinfo=UTC)
    return now


def _plan_of(year: int):
    text = EXAMPLE_PLAN.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^year: 2020", f"year: {year}", text)
    text = re.sub(r"(?m)^period: 2020–2022", f"period: {year}–{year + 2}", text)
    return parse_action_plan_yaml(text), text


async def test_a_seed_year_through_its_lifecycles_and_its_annual_report(lab, make_plan):
    now = await lab.now()
    start = _start_of_the_year(now)
    plans = {}
    for i, (key, title, line, _registered, minimum) in enumerate(ACTIVITIES):
        plans[key] = make_plan(
            start + timedelta(minutes=i),
            id=f"{key}-{start:%Y}-{lab.task_queue[-6:]}",
            title=title,
            format="webinar" if key.startswith("webb") else "seminar_series",
            places=30,
            min_participants=minimum,
            action_plan_line=line,
        )
    year = plan_year(plans["organisera"])
    assert {plan_year(p) for p in plans.values()} == {year}
    action_plan, source = _plan_of(year)
    lab.store.save_action_plan(action_plan, source, "handlingsplan.yaml")

    handles = [await lab.service.start(plan) for plan in plans.values()]
    first = plans["organisera"]
    if start > now:
        await lab.advance_to(start)
    await lab.advance_to(max(p.registration.opens for p in plans.values()) + timedelta(seconds=1))
    registered: dict[str, Counter[str]] = {}
    for key, _title, _line, count, _minimum in ACTIVITIES:
        plan = plans[key]
        registered[key] = Counter()
        for n in range(count):
            organisation = ORGS[(n + len(key)) % len(ORGS)]
            await lab.service.register(
                plan.id, name=f"Deltagare {n}", email=f"{key}{n}@skola.test", organisation=organisation, role="lärare"
            )
            registered[key][organisation] += 1
    await lab.recorded()

    # Through the deadline, the grace period (the under-filled ones cancel by themselves), sessions and surveys.
    last = max(p.sessions[-1].end for p in plans.values())
    await lab.advance_to(max(p.registration.deadline + p.grace_period for p in plans.values()) + timedelta(hours=1))
    phases = {key: (await lab.service.status(plans[key].id)).phase for key in plans}
    assert phases["kulturanalys"] is Phase.CANCELLED and phases["webb-2"] is Phase.CANCELLED
    assert phases["mentor"] is Phase.CONFIRMED and phases["organisera"] is Phase.CONFIRMED
    await lab.advance_to(
        last + first.surveys.attendance_grace + first.surveys.final_evaluation_after + timedelta(hours=2)
    )
    # Three answers to the Mentor training's final evaluation.
    final = lab.store.survey_invitations(plans["mentor"].id, "final")
    assert len(final) == 27
    for invitation, value in zip(final[:3], (5, 4, 4), strict=True):
        lab.store.answer_survey(invitation.token, {"behov": value, "balans": 4, "ny_kunskap": 5})
    await lab.advance_to(last + first.surveys.follow_up_after + first.surveys.window + timedelta(days=1))
    assert (await lab.service.status(plans["mentor"].id)).phase is Phase.COMPLETED

    as_of = await lab.now()
    report = await asyncio.to_thread(build_annual_report, lab.store, year, as_of)
    by_title = {a.title: a for a in report.activities}
    for key, title, _line, count, minimum in ACTIVITIES:
        entry = by_title[title]
        if count < minimum:
            assert entry.outcome is Outcome.CANCELLED and entry.participants == 0
            assert (
                entry.outcome_text
                == f"Inställd: för få anmälda ({count} anmäld{'a' if count > 1 else ''}, minst {minimum} behövdes)."
            )
        else:
            assert entry.outcome is Outcome.RAN
            names = {o.organisation_id: o.participants for o in entry.by_organisation}
            assert names == dict(registered[key]) and entry.participants == count
    mentor = by_title["Mentor i förskola och skola"]
    assert mentor.participants == 27
    final_survey = next(s for s in mentor.surveys if s.survey == "final")
    assert (final_survey.invited, final_survey.answered) == (27, 3)
    assert "medelvärde (1–5) för innehållet mot behoven 4,3" in mentor.evaluation_text
    likv = report.areas[0]
    assert [a.title for a in likv.activities if a.line_id == "likvardighet-run-webbinarium"] == [
        "RUN-webbinarium 1",
        "RUN-webbinarium 2",
        "RUN-webbinarium 3",
    ]
    assert (report.summary.ran, report.summary.cancelled) == (6, 2)
    ran = [key for key, _t, _l, count, minimum in ACTIVITIES if count >= minimum]
    assert report.summary.participants == sum(sum(registered[key].values()) for key in ran)
    took_part = sum((registered[key] for key in ran), Counter())
    assert {m.organisation_id: m.participants for m in report.took_part} == dict(took_part)
    assert len(report.did_not_take_part) == 19 - len(took_part)

    # The DOCX: the budget table sums to the plan's budget; the Mentor table has its 27.
    document = docx.Document(io.BytesIO(await asyncio.to_thread(render_docx, report, False)))
    budget = next(t for t in document.tables if t.rows[0].cells[0].text == "Vad")
    total = [c.text for c in budget.rows[-1].cells]
    assert total[0] == "TOTALT" and total[2].replace("\u00a0", "") == "925000"
    mentor_tables = [
        t for t in document.tables if any(r.cells[0].text == "Totalt" and r.cells[1].text == "27" for r in t.rows)
    ]
    assert len(mentor_tables) == 1

    # Retention ends: every activity is anonymised, and the report counts the same.
    for handle in handles:
        assert (await handle.result()).phase is Phase.ANONYMISED
    assert all(p.name is None for _, p in lab.store.registrations(plans["mentor"].id))
    after = await asyncio.to_thread(build_annual_report, lab.store, year, as_of)
    assert after == report
