"""The final report: counts gathered from a real (SQLite) store, and their renderings."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from activities_impl.report import (
    ReportData,
    build_report,
    chart,
    collect_report_data,
    render_chart,
    render_csv,
    render_markdown,
    summarise_answers,
)
from activities_impl.store import Store
from domain.plan import load_plan
from domain.reference import default_reference

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"
ACTIVITY = "lasa-skriva-ht27"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SENT = datetime(2027, 9, 24, 8, 0, tzinfo=UTC)

# (name, e-mail, organisation, role, status, team size)
PEOPLE = [
    ("Anna Andersson", "anna.andersson@sundsvall.example.se", "sundsvall", "lärare", "confirmed", 1),
    ("Bertil Berglund", "bertil.berglund@sundsvall.example.se", "sundsvall", "specialpedagog", "confirmed", 1),
    ("Cecilia Carlsson", "cecilia.carlsson@sundsvall.example.se", "sundsvall", "lärare", "withdrawn", 1),
    ("Dag Dahlström", "dag.dahlstrom@ostersund.example.se", "ostersund", "förstelärare", "confirmed", 5),
    ("Eva Ekholm", "eva.ekholm@are.example.se", "are", "lärare", "confirmed", 1),
    ("Fredrik Forsberg", "fredrik.forsberg@miun.example.se", "miun", "lärare", "confirmed", 1),
    ("Gun Grenholm", "gun.grenholm@timra.example.se", "timra", "lärare", "waitlisted", 1),
]
SCHOOL = "Västhagaskolan"


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/t.db")
    store.migrate()
    reference = default_reference()
    store.seed_reference(reference)
    store.save_plan(load_plan(str(EXAMPLE), reference), make_current=True)
    return store


@pytest.fixture
def ids(store) -> dict[str, int]:
    """Registers PEOPLE, records attendance, surveys and a decision; returns participant ids by first name."""
    ids: dict[str, int] = {}
    for seq, (name, email, org, role, status, team_size) in enumerate(PEOPLE, start=1):
        pid = store.upsert_participant(ACTIVITY, name=name, email=email, organisation_id=org, role=role, school=SCHOOL)
        store.record_registration(
            registration_id=f"{ACTIVITY}-r{seq}",
            activity_id=ACTIVITY,
            participant_id=pid,
            status=status,
            team_size=team_size,
            seq=seq,
        )
        ids[name.split()[0]] = pid
    store.record_attendance(ACTIVITY, 1, [ids[n] for n in ("Anna", "Bertil", "Dag", "Eva")])
    store.record_attendance(ACTIVITY, 2, [ids[n] for n in ("Anna", "Dag", "Fredrik")])

    s1 = store.create_survey_invitations(
        ACTIVITY, "s1", [ids[n] for n in ("Anna", "Bertil", "Dag", "Eva")], SENT, SENT + timedelta(days=14)
    )
    for invitation, answers in zip(
        s1,
        [
            {"helhet": 5, "relevans": 4, "kommentar": "Bra!"},
            {"helhet": 4, "relevans": 3, "rekommendera": True},
            {"helhet": 3, "relevans": 5, "kommentar": "   "},
        ],
        strict=False,
    ):
        store.answer_survey(invitation.token, answers, now=SENT + timedelta(days=1))
    confirmed = [ids[n] for n in ("Anna", "Bertil", "Dag", "Eva", "Fredrik")]
    final = store.create_survey_invitations(ACTIVITY, "final", confirmed, SENT, SENT + timedelta(days=14))
    store.answer_survey(
        final[0].token, {"helhet": 5, "kommentar": "Tack, hälsar Anna Andersson"}, now=SENT + timedelta(days=2)
    )
    store.answer_survey(final[1].token, {"helhet": 4, "sprida": ["arbetslag", "ledning"]}, now=SENT + timedelta(days=2))
    store.audit(
        key=f"{ACTIVITY}-decision",
        activity_id=ACTIVITY,
        at=datetime(2027, 9, 11, tzinfo=UTC),
        kind="run",
        by="run@miun.example.se",
        reason="Tillräckligt många anmälda",
    )
    return ids


EXPECTED_BY_ORG = {"Östersund": 5, "Sundsvall": 2, "Mittuniversitetet": 1, "Åre": 1}


def test_collect_counts(store, ids):
    data = collect_report_data(store, ACTIVITY)
    assert data.activity_id == ACTIVITY and data.places == 40 and data.min_participants == 20
    assert data.format == "seminar_series" and data.focus_area == "utveckla"
    assert [(s.no, s.start) for s in data.sessions] == [
        (1, datetime(2027, 9, 23, 7, tzinfo=UTC)),
        (2, datetime(2027, 10, 21, 7, tzinfo=UTC)),
        (3, datetime(2027, 11, 18, 12, tzinfo=UTC)),
    ]
    assert data.sessions[2].location.startswith("Digitalt")
    assert data.registrations_by_org == EXPECTED_BY_ORG
    assert list(data.registrations_by_org) == list(EXPECTED_BY_ORG)  # largest first
    assert data.participants == 9
    assert data.registrations_by_role == {"förstelärare": 5, "lärare": 3, "specialpedagog": 1}
    assert data.attendance_by_session == {1: 4, 2: 3, 3: 0}
    assert data.surveys == [("s1", 4, 3), ("final", 5, 2)]
    assert data.withdrawn == 1 and data.waitlisted_at_end == 1
    assert data.free_text_count == 2  # "Bra!" and the final comment; blank text is not counted
    assert data.answer_summary["s1"] == {
        "answers": 3,
        "questions": {"helhet": {"mean": 4.0, "count": 3}, "relevans": {"mean": 4.0, "count": 3}},
        "choices": {"rekommendera": {"ja": 1}},
    }
    assert data.answer_summary["final"]["questions"] == {"helhet": {"mean": 4.5, "count": 2}}
    assert data.answer_summary["final"]["choices"] == {"sprida": {"arbetslag": 1, "ledning": 1}}
    assert data.decisions == [(datetime(2027, 9, 11, tzinfo=UTC), "run", "Tillräckligt många anmälda")]


def test_markdown(store, ids):
    markdown = render_markdown(collect_report_data(store, ACTIVITY))
    for heading in (
        "Slutrapport",
        "Deltagare per kommun/organisation",
        "Närvaro per tillfälle",
        "Svarsfrekvens",
        "Utvärdering",
        "Beslut",
    ):
        assert heading in markdown
    for org, count in EXPECTED_BY_ORG.items():
        assert f"| {org} | {count} |" in markdown
    assert "| **Totalt** | **9** |" in markdown
    assert "| 1 | 4 | 44 % |" in markdown  # attendance 4 of 9
    assert "| Träff 1 | 4 | 3 | 75 % |" in markdown
    assert "| Slututvärdering | 5 | 2 | 40 % |" in markdown
    assert "| helhet | 4,5 | 2 |" in markdown
    assert "2027-09-23 09.00" in markdown  # Swedish time
    assert "Tillräckligt många anmälda" in markdown


def test_csv_has_the_same_counts(store, ids):
    rows = list(csv.reader(io.StringIO(render_csv(collect_report_data(store, ACTIVITY)))))
    blank = rows.index([])
    assert rows[0] == ["organisation", "deltagare"]
    assert {org: int(n) for org, n in rows[1:blank]} == EXPECTED_BY_ORG
    assert rows[blank + 1] == ["tillfälle", "närvarande"]
    assert {int(no): int(n) for no, n in rows[blank + 2 :]} == {1: 4, 2: 3, 3: 0}


def test_chart_is_a_png(store, ids):
    png = render_chart(collect_report_data(store, ACTIVITY))
    assert png.startswith(PNG_SIGNATURE)
    assert 5_000 < len(png) < 500_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert 400 <= width <= 2000 and 200 <= height <= 2000


def test_chart_is_what_savefig_writes(store, ids):
    """`render_chart` draws once (`print_png`); `savefig` draws twice, first for the layout: the same PNG."""
    data = collect_report_data(store, ACTIVITY)
    for each in (data, dataclasses.replace(data, registrations_by_org={})):
        buffer = io.BytesIO()
        chart(each).figure.savefig(buffer, format="png", metadata={"Software": None})
        assert render_chart(each) == buffer.getvalue()


def test_build_report_does_not_save_and_has_no_personal_data(store, ids):
    report = build_report(store, ACTIVITY)
    assert store.report(ACTIVITY) is None
    assert report.activity_id == ACTIVITY and report.chart_png.startswith(PNG_SIGNATURE)
    summary = json.loads(report.summary_json)
    assert summary["registrations_by_org"] == EXPECTED_BY_ORG
    assert summary["attendance_by_session"] == {"1": 4, "2": 3, "3": 0}
    assert summary["confirmed"] == 9 and summary["withdrawn"] == 1
    assert summary["invited"] == 9 and summary["answers"] == 5
    assert summary["surveys"] == [
        {"survey": "s1", "invited": 4, "answered": 3},
        {"survey": "final", "invited": 5, "answered": 2},
    ]
    text = "\n".join([report.markdown, report.csv, report.summary_json])
    for name, email, *_ in PEOPLE:
        assert name not in text and email not in text
    assert SCHOOL not in text
    assert "run@miun.example.se" not in text  # the plan's organiser and the decision's author
    assert "Bra!" not in text  # free text is counted, not copied
    store.save_report(report)
    assert store.report(ACTIVITY).markdown == report.markdown


def test_counts_survive_anonymisation(store, ids):
    before = collect_report_data(store, ACTIVITY)
    store.anonymise_activity(ACTIVITY)
    assert collect_report_data(store, ACTIVITY) == before


def test_empty_activity(store):
    data = collect_report_data(store, ACTIVITY)
    assert data.registrations_by_org == {} and data.surveys == [] and data.answer_summary == {}
    assert data.attendance_by_session == {1: 0, 2: 0, 3: 0}
    assert "| **Totalt** | **0** |" in render_markdown(data)
    assert render_chart(data).startswith(PNG_SIGNATURE)
    assert render_csv(data) == "organisation,deltagare\n\ntillfälle,närvarande\n1,0\n2,0\n3,0\n"


def test_summarise_answers():
    summary, free_text = summarise_answers([{"a": 1, "b": "text", "c": False}, {"a": 2, "c": True, "d": None}])
    assert summary == {
        "answers": 2,
        "questions": {"a": {"mean": 1.5, "count": 2}},
        "choices": {"c": {"ja": 1, "nej": 1}},
    }
    assert free_text == 1


def test_markdown_table_cells_are_escaped():
    data = ReportData(
        activity_id="x-y-z",
        title="T|itel",
        focus_area="utveckla",
        format="webinar",
        places=10,
        min_participants=1,
        sessions=[],
        registrations_by_org={"A|B": 1},
        registrations_by_role={},
        attendance_by_session={},
        surveys=[],
        answer_summary={},
        decisions=[(SENT, "cancel", "rad ett\nrad | två")],
    )
    markdown = render_markdown(data)
    assert "| A\\|B | 1 |" in markdown
    assert "| rad ett rad \\| två |" in markdown
