"""Report generation for P participants: `build_report(store, activity_id)` against the raw SQL aggregate.

A separate SQLite store (migrated, reference data seeded) gets one activity with two sessions and P confirmed
(94 %), waitlisted (3 %) and withdrawn (3 %) registrations, bulk-inserted with SQLAlchemy Core (executemany):
participants from the 26 organisations and 11 roles, attendance at both sessions (~85 %), invitations to the
four surveys (s1, s2 to those present, final and follow-up to everyone confirmed), answers to 60 % of them.

The floor computes the same numbers the report shows (people per status, confirmed per organisation and role,
attendance per session, invited/answered per survey, mean per scale question and free-text count per survey,
the decisions, the plan) with six SQL statements on the same engine; the answers are aggregated in SQLite with
`json_each`. After one run of each (the page cache; matplotlib's import, once per process as in a worker's first
report), `build_report` and the floor take turns `repeats` times, who goes first alternating, so that load from
elsewhere hits both alike; then `collect_report_data` and `render_chart` `repeats` times. Medians count; the details
also have the medians of this process's CPU time (the store is SQLite, in process), which other load moves less.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta
from functools import partial

from sqlalchemy import insert, text

from activities_impl import report as reports
from activities_impl.store import Store
from bench.lifecycle import lifecycle_plan
from bench.results import Figure
from bench.stack import BenchStack, now
from domain.reference import default_reference
from domain.tables import Attendance, AuditEntry, Participant, Registration, SurveyAnswer, SurveyInvitation

CHUNK = 20_000

FLOOR_SQL = [
    (
        "registrations",
        """
        SELECT r.status, p.role, o.short_name, SUM(r.team_size) FROM registration r
        JOIN participant p ON p.id = r.participant_id JOIN organisation o ON o.id = p.organisation_id
        WHERE r.activity_id = :a GROUP BY r.status, p.role, o.short_name""",
    ),
    (
        "attendance",
        "SELECT session_no, COUNT(*) FROM attendance WHERE activity_id = :a AND present GROUP BY session_no",
    ),
    (
        "invitations",
        "SELECT survey, COUNT(*), COUNT(answered_at) FROM survey_invitation WHERE activity_id = :a GROUP BY survey",
    ),
    (
        "answers",
        """
        SELECT a.survey, j.key, j.type, COUNT(*),
               AVG(CASE WHEN j.type IN ('integer', 'real') THEN j.value END),
               SUM(CASE WHEN j.type = 'text' AND trim(j.value) <> '' THEN 1 ELSE 0 END)
        FROM survey_answer a, json_each(a.answers_json) j WHERE a.activity_id = :a
        GROUP BY a.survey, j.key, j.type""",
    ),
    ("decisions", "SELECT at, kind, reason FROM audit_entry WHERE activity_id = :a ORDER BY at, id"),
    (
        "plan",
        "SELECT v.plan_json FROM activity_plan_version v JOIN activity x ON x.id = v.activity_id "
        "AND x.current_version = v.version WHERE v.activity_id = :a",
    ),
]


def _insert(store: Store, table, rows: list[dict]) -> None:
    with store.engine.begin() as connection:
        for i in range(0, len(rows), CHUNK):
            connection.execute(insert(table.__table__), rows[i : i + CHUNK])


def populate(store: Store, activity_id: str, participants: int) -> dict[str, int]:
    reference = default_reference()
    orgs = [o.id for o in reference.organisations]
    roles = reference.target_groups
    t = now()
    plan = lifecycle_plan(
        activity_id, t - timedelta(days=200), open_after=60, reg_window=86400 * 20, step=86400, places=10000
    )
    store.save_plan(plan, True)
    people, registrations, attendance, invitations, answers = [], [], [], [], []
    confirmed = []
    for i in range(1, participants + 1):
        org, role = orgs[(i * 7) % len(orgs)], roles[(i * 3) % len(roles)]
        people.append(
            {
                "id": i,
                "activity_id": activity_id,
                "name": f"Deltagare {i}",
                "email": f"d{i}@skola.test",
                "organisation_id": org,
                "role": role,
                "school": f"Skola {i % 400}",
                "anonymised": False,
                "created_at": t,
            }
        )
        status = "confirmed" if i % 100 < 94 else ("waitlisted" if i % 100 < 97 else "withdrawn")
        registrations.append(
            {
                "id": f"{activity_id}-r{i}",
                "activity_id": activity_id,
                "participant_id": i,
                "status": status,
                "team_size": 5 if i % 250 == 0 else 1,
                "seq": i,
                "created_at": t,
                "updated_at": t,
            }
        )
        if status == "confirmed":
            confirmed.append((i, org, role))
    for no in (1, 2):
        present = [(i, org, role) for i, org, role in confirmed if (i + no) % 7 != 0]
        attendance += [
            {
                "activity_id": activity_id,
                "session_no": no,
                "participant_id": i,
                "organisation_id": org,
                "role": role,
                "present": True,
            }
            for i, org, role in present
        ]
        invitations.append((f"s{no}", present))
    invitations += [("final", confirmed), ("follow-up", confirmed)]
    invitation_rows = []
    for survey, invited in invitations:
        for i, org, role in invited:
            answered = (i * 13 + len(survey)) % 10 < 6
            invitation_rows.append(
                {
                    "activity_id": activity_id,
                    "survey": survey,
                    "participant_id": i,
                    "token": f"{survey}-{i}",
                    "sent_at": t,
                    "closes_at": t + timedelta(days=14),
                    "answered_at": t if answered else None,
                    "closed": True,
                }
            )
            if answered:
                if survey == "follow-up":
                    value = {"anvant": 1 + i % 5, "spridit": "Arbetssätt i arbetslaget" if i % 3 else ""}
                else:
                    value = {"behov": 1 + i % 5, "balans": 1 + (i // 5) % 5, "ny_kunskap": 1 + (i // 25) % 5}
                    if i % 4 == 0:
                        value["ta_med"] = "Gemensam läsning i klassrummet"
                answers.append(
                    {
                        "activity_id": activity_id,
                        "survey": survey,
                        "organisation_id": org,
                        "role": role,
                        "answers_json": json.dumps(value, ensure_ascii=False),
                        "created_at": t,
                    }
                )
    audit = [
        {
            "key": f"{activity_id}|decision-{k}",
            "activity_id": activity_id,
            "at": t + timedelta(minutes=k),
            "kind": kind,
            "by": "engine",
            "reason": reason,
            "details_json": "{}",
        }
        for k, (kind, reason) in enumerate(
            [("confirm", "minimum reached at the deadline"), ("anonymise", "retention period ended")]
        )
    ]
    for table, rows in (
        (Participant, people),
        (Registration, registrations),
        (Attendance, attendance),
        (SurveyInvitation, invitation_rows),
        (SurveyAnswer, answers),
        (AuditEntry, audit),
    ):
        _insert(store, table, rows)
    with store.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    return {
        "participants": len(people),
        "registrations": len(registrations),
        "attendance": len(attendance),
        "survey_invitations": len(invitation_rows),
        "survey_answers": len(answers),
    }


def sql_aggregate(store: Store, activity_id: str) -> dict:
    out = {}
    with store.engine.connect() as connection:
        for name, sql in FLOOR_SQL:
            out[name] = connection.execute(text(sql), {"a": activity_id}).all()
    return out


def timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result) of one call."""
    started, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - started, time.process_time() - cpu, result


def run(stack: BenchStack, *, participants: int, repeats: int, progress) -> tuple[list[Figure], dict]:
    problems: list[str] = []
    store = Store(f"sqlite:///{stack.workdir / 'report.db'}")
    store.migrate()
    store.seed_reference(default_reference())
    activity_id = f"bench-{stack.run_id}-report"
    started = time.perf_counter()
    rows = populate(store, activity_id, participants)
    populate_s = time.perf_counter() - started
    progress(f"report: {sum(rows.values()):,} rows inserted in {populate_s:.1f} s")

    sql_aggregate(store, activity_id)  # warm the page cache for both sides alike,
    reports.build_report(store, activity_id)  # and import matplotlib (once per process: a worker's first report)
    sides = {
        "floor": lambda: sql_aggregate(store, activity_id),
        "build": lambda: reports.build_report(store, activity_id),
    }
    wall: dict[str, list[float]] = {name: [] for name in (*sides, "collect", "chart")}
    cpu: dict[str, list[float]] = {name: [] for name in wall}
    results: dict[str, object] = {}
    for turn in range(repeats):  # the two sides take turns, who goes first alternating: load from elsewhere hits both
        for name in sorted(sides, reverse=bool(turn % 2)):
            seconds, cpu_seconds, results[name] = timed(sides[name])
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
    for _ in range(repeats):
        seconds, cpu_seconds, data = timed(lambda: reports.collect_report_data(store, activity_id))
        wall["collect"].append(seconds)
        cpu["collect"].append(cpu_seconds)
        seconds, cpu_seconds, _ = timed(partial(reports.render_chart, data))
        wall["chart"].append(seconds)
        cpu["chart"].append(cpu_seconds)
    aggregate, report = results["floor"], results["build"]
    floor_s, build_s, collect_s, chart_s = (
        statistics.median(wall[name]) for name in ("floor", "build", "collect", "chart")
    )
    floor_samples, build_samples = wall["floor"], wall["build"]

    summary = json.loads(report.summary_json)
    sql_confirmed = sum(row[3] for row in aggregate["registrations"] if row[0] == "confirmed")
    sql_answers = sum(row[2] for row in aggregate["invitations"])
    if (summary["confirmed"], summary["answers"]) != (sql_confirmed, sql_answers):
        problems.append(
            f"report: build_report counts {summary['confirmed']} confirmed / {summary['answers']} "
            f"answers, the SQL aggregate {sql_confirmed} / {sql_answers}"
        )
    store.engine.dispose()
    details = {
        **rows,
        "populate_s": round(populate_s, 1),
        "repeats": repeats,
        "build_report_samples_s": [round(s, 3) for s in build_samples],
        "collect_report_data_s": round(collect_s, 3),
        "render_chart_s": round(chart_s, 3),
        "sql_aggregate_samples_s": [round(s, 4) for s in floor_samples],
        # CPU time of this process (the store is SQLite, in process): less moved by other load than wall time.
        "build_report_cpu_s": round(statistics.median(cpu["build"]), 3),
        "collect_report_data_cpu_s": round(statistics.median(cpu["collect"]), 3),
        "render_chart_cpu_s": round(statistics.median(cpu["chart"]), 3),
        "sql_aggregate_cpu_s": round(statistics.median(cpu["floor"]), 3),
        "confirmed_people": sql_confirmed,
        "answers": sql_answers,
    }
    figures = [
        Figure(
            "report_build",
            f"build_report, {participants:,} participants",
            build_s,
            "s",
            floor_s,
            "raw SQL aggregate (6 statements)",
            details=details,
        ),
        Figure("report_collect", "  of which collect_report_data", collect_s, "s", floor_s, "raw SQL aggregate"),
    ]
    return figures, {"problems": problems}
