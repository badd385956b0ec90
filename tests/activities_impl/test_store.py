"""The store against a migrated database (SQLite and PostgreSQL): versions, idempotent writes, surveys,
anonymisation."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from activities_impl.outbox import Envelope
from activities_impl.store import ANONYMISED_EMAIL, Store, StoreError
from domain.lifecycle import SeatStatus
from domain.tables import ActivitySession, SurveyAnswer

T0 = datetime(2027, 8, 1, 8, 0, tzinfo=UTC)
SENT = T0 + timedelta(days=30)
CLOSES = SENT + timedelta(days=7)


@pytest.fixture
def plan(make_plan):
    return make_plan(T0)


@pytest.fixture
def activity_id(store, plan) -> str:
    store.save_plan(plan, make_current=True)
    return plan.id


def add_person(
    store: Store, activity_id: str, name: str, *, org: str = "sundsvall", role: str = "lärare", registered: bool = True
) -> int:
    email = f"{name.lower()}@{org}.example.se"
    pid = store.upsert_participant(
        activity_id, name=name, email=email, organisation_id=org, role=role, school="Västhagaskolan"
    )
    if registered:
        store.record_registration(
            registration_id=f"{activity_id}-{name}",
            activity_id=activity_id,
            participant_id=pid,
            status="confirmed",
            team_size=1,
            seq=pid,
        )
    return pid


def sessions(store: Store, activity_id: str, version: int) -> list[ActivitySession]:
    with store.session() as s:
        return list(
            s.exec(
                select(ActivitySession).where(
                    ActivitySession.activity_id == activity_id, ActivitySession.plan_version == version
                )
            )
        )


def answer_count(store: Store) -> int:
    with store.session() as s:
        return len(list(s.exec(select(SurveyAnswer.id))))


# -- plans -----------------------------------------------------------------
def test_save_plan_versions_and_make_current(store, plan):
    assert store.save_plan(plan, make_current=True) == 1
    assert store.activity(plan.id).current_version == 1
    assert [s.session_no for s in sessions(store, plan.id, 1)] == [1, 2]

    revised = plan.model_copy(update={"title": "Reviderad titel", "sessions": plan.sessions[:1]})
    assert store.save_plan(revised, make_current=False) == 2
    activity = store.activity(plan.id)
    assert (activity.current_version, activity.title) == (1, plan.title)
    assert store.plan(plan.id).title == plan.title
    assert store.plan(plan.id, 2).title == "Reviderad titel"
    assert sessions(store, plan.id, 2) == []

    store.make_current(plan.id, 2)
    store.make_current(plan.id, 2)  # a retried activity: no duplicate sessions
    activity = store.activity(plan.id)
    assert (activity.current_version, activity.title) == (2, "Reviderad titel")
    assert store.plan(plan.id).title == "Reviderad titel"
    [session] = sessions(store, plan.id, 2)
    assert session.start == revised.sessions[0].start


def test_make_current_unknown_refused(store, activity_id):
    with pytest.raises(StoreError):
        store.make_current("no-such-activity", 1)
    with pytest.raises(StoreError):
        store.make_current(activity_id, 7)


# -- participants and registrations -----------------------------------------
def test_upsert_participant_lowercases_and_keeps_first_details(store, activity_id):
    pid = store.upsert_participant(
        activity_id,
        name="Anna Andersson",
        email="  Anna.Andersson@Sundsvall.SE ",
        organisation_id="sundsvall",
        role="lärare",
    )
    again = store.upsert_participant(
        activity_id,
        name="Någon Annan",
        email="anna.andersson@sundsvall.se",
        organisation_id="ostersund",
        role="rektor",
        school="Annan skola",
    )
    assert again == pid
    [person] = store.participants([pid])
    assert person.email == "anna.andersson@sundsvall.se"
    assert (person.name, person.organisation_id, person.role, person.school) == (
        "Anna Andersson",
        "sundsvall",
        "lärare",
        None,
    )
    assert store.participant_by_email(activity_id, "ANNA.andersson@sundsvall.se").id == pid


def test_upsert_participant_is_per_activity(store, make_plan, activity_id):
    other = make_plan(T0)
    store.save_plan(other, make_current=True)
    a = store.upsert_participant(activity_id, name="A", email="a@x.se", organisation_id="are", role="lärare")
    b = store.upsert_participant(other.id, name="A", email="a@x.se", organisation_id="are", role="lärare")
    assert a != b


def test_upsert_participant_refuses_unknown_activity_or_organisation(store, activity_id):
    with pytest.raises(StoreError, match="activity"):
        store.upsert_participant("no-such-activity", name="A", email="a@x.se", organisation_id="are", role="lärare")
    with pytest.raises(StoreError, match="organisation"):
        store.upsert_participant(activity_id, name="A", email="a@x.se", organisation_id="atlantis", role="lärare")
    assert store.participant_by_email(activity_id, "a@x.se") is None


def test_enrol_participant_racing_for_one_address_gives_one_row(store, activity_id):
    """Eight requests for one new address at once (as a double-click, or two tabs): one stores the person (with
    the team), the others get that row, as already stored."""
    barrier = threading.Barrier(8)

    def enrol(n: int) -> tuple[int, bool]:
        barrier.wait()
        return store.enrol_participant(
            activity_id,
            name=f"Anna {n}",
            email="Anna@Sundsvall.se",
            organisation_id="sundsvall",
            role="lärare",
            team_members=[f"Member {n}"],
        )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(enrol, range(8)))
    assert len({pid for pid, _ in results}) == 1
    assert sorted(existed for _, existed in results) == [False] + [True] * 7
    [pid] = {pid for pid, _ in results}
    [first] = [n for n, (_, existed) in enumerate(results) if not existed]
    assert store.participants([pid])[0].name == f"Anna {first}"
    assert store.team_members(pid) == [f"Member {first}"]


def test_discard_participant_only_when_unregistered(store, activity_id):
    kept = add_person(store, activity_id, "Kept")
    dropped = add_person(store, activity_id, "Dropped", registered=False)
    store.discard_participant_if_unregistered(kept)
    store.discard_participant_if_unregistered(dropped)
    store.discard_participant_if_unregistered(dropped)  # already gone: no error
    assert [p.id for p in store.participants([kept, dropped])] == [kept]


def test_record_registration_is_idempotent(store, activity_id):
    pid = add_person(store, activity_id, "Anna", registered=False)
    for status in ("confirmed", "waitlisted"):
        store.record_registration(
            registration_id="r1", activity_id=activity_id, participant_id=pid, status=status, team_size=1, seq=1
        )
    [(registration, participant)] = store.registrations(activity_id)
    assert (registration.id, registration.status, participant.id) == ("r1", "confirmed", pid)


def test_set_registration_status(store, activity_id):
    add_person(store, activity_id, "Anna")
    add_person(store, activity_id, "Bo")
    before = {r.id: r.updated_at for r, _ in store.registrations(activity_id)}
    store.set_registration_status([f"{activity_id}-Anna", "unknown-registration"], SeatStatus.WITHDRAWN)
    rows = {r.id: r for r, _ in store.registrations(activity_id)}
    assert rows[f"{activity_id}-Anna"].status == "withdrawn"
    assert rows[f"{activity_id}-Anna"].updated_at > before[f"{activity_id}-Anna"]
    assert rows[f"{activity_id}-Bo"].status == "confirmed"
    assert [r.id for r, _ in store.registrations(activity_id, statuses=[SeatStatus.WITHDRAWN])] == [
        f"{activity_id}-Anna"
    ]


# -- attendance ------------------------------------------------------------
def test_record_attendance_idempotent_and_own_activity_only(store, make_plan, activity_id):
    other = make_plan(T0)
    store.save_plan(other, make_current=True)
    anna = add_person(store, activity_id, "Anna", org="are", role="rektor")
    bo = add_person(store, activity_id, "Bo")
    stranger = add_person(store, other.id, "Stranger")

    assert store.record_attendance(activity_id, 1, [anna, bo, stranger]) == 2
    assert store.record_attendance(activity_id, 1, [anna, bo]) == 0
    assert store.record_attendance(activity_id, 2, [anna]) == 1
    rows = store.attendance(activity_id)
    assert sorted((a.session_no, a.participant_id) for a in rows) == sorted([(1, anna), (1, bo), (2, anna)])
    assert {(a.organisation_id, a.role) for a in rows if a.participant_id == anna} == {("are", "rektor")}
    assert store.attendance(other.id) == []


# -- surveys ----------------------------------------------------------------
@pytest.fixture
def invited(store, activity_id):
    people = [add_person(store, activity_id, name) for name in ("Anna", "Bo", "Cilla")]
    return store.create_survey_invitations(activity_id, "s1", people, SENT, CLOSES)


def test_survey_tokens_unique_long_and_stable(store, activity_id, invited):
    tokens = [i.token for i in invited]
    assert len(set(tokens)) == 3
    assert all(len(t) >= 32 for t in tokens)
    again = store.create_survey_invitations(activity_id, "s1", [i.participant_id for i in invited], SENT, CLOSES)
    assert [i.token for i in again] == tokens
    assert len(store.survey_invitations(activity_id, "s1")) == 3


def test_answer_is_stored_without_the_participant(store, activity_id, invited):
    answer = store.answer_survey(invited[0].token, {"helhet": 5, "kommentar": "Bra"}, now=SENT + timedelta(days=1))
    assert "participant_id" not in SurveyAnswer.__table__.columns
    [stored] = store.survey_answers(activity_id)
    assert stored.id == answer.id
    assert (stored.survey, stored.organisation_id, stored.role) == ("s1", "sundsvall", "lärare")
    assert json.loads(stored.answers_json) == {"helhet": 5, "kommentar": "Bra"}
    # Answer and invitation carry the day only: the same instant on both would tie the answer to its person.
    day = (SENT + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert store.invitation_by_token(invited[0].token).answered_at == day == stored.created_at
    assert [i.participant_id for i in store.survey_invitations(activity_id, "s1", unanswered=True)] == [
        i.participant_id for i in invited[1:]
    ]


def test_answer_survey_refusals_leave_no_answer(store, activity_id, invited):
    first, second, third = (i.token for i in invited)
    store.answer_survey(first, {"helhet": 4}, now=SENT)

    refusals = [
        ("okänd-token", SENT),  # unknown token
        (first, SENT + timedelta(hours=1)),  # second answer
        (second, CLOSES),  # expired: now == closes_at
        (second, CLOSES + timedelta(seconds=1)),  # expired: after closes_at
    ]
    for token, now in refusals:
        with pytest.raises(StoreError):
            store.answer_survey(token, {"helhet": 1}, now=now)
    store.close_survey(activity_id, "s1")
    with pytest.raises(StoreError):
        store.answer_survey(third, {"helhet": 1}, now=SENT)  # closed before closes_at

    assert answer_count(store) == 1
    assert store.invitation_by_token(second).answered_at is None
    assert store.invitation_by_token(third).answered_at is None


# -- audit -------------------------------------------------------------------
def test_audit_is_idempotent_by_key(store, activity_id):
    for reason in ("first", "retried"):
        store.audit(
            key="k1",
            activity_id=activity_id,
            at=T0,
            kind="cancel",
            by="engine",
            reason=reason,
            details={"confirmed": 1},
        )
    store.audit(
        key="k2", activity_id=activity_id, at=T0 + timedelta(hours=1), kind="run", by="coordinator", reason="other"
    )
    log = store.audit_log(activity_id)
    assert [(e.key, e.reason) for e in log] == [("k1", "first"), ("k2", "other")]
    assert json.loads(log[0].details_json) == {"confirmed": 1}


# -- retention ---------------------------------------------------------------
def populate(store: Store, activity_id: str) -> list[int]:
    people = [add_person(store, activity_id, name) for name in ("Anna", "Bo")]
    store.record_attendance(activity_id, 1, people)
    [invitation, _] = store.create_survey_invitations(activity_id, "final", people, SENT, CLOSES)
    store.answer_survey(invitation.token, {"helhet": 5}, now=SENT)
    store.enqueue(
        [
            Envelope(
                key=f"{activity_id}|registration|{p}",
                activity_id=activity_id,
                purpose="registration",
                recipient=f"p{p}@example.se",
                subject="Bekräftelse",
                body="Hej Anna!",
            ).row()
            for p in people
        ]
    )
    return people


def test_anonymise_activity_erases_personal_data_of_that_activity_only(store, make_plan, plan, activity_id):
    other = make_plan(T0, organiser_email="annan@run.test")
    store.save_plan(other, make_current=True)
    people = populate(store, activity_id)
    others = populate(store, other.id)
    store.save_plan(plan, make_current=False)  # a second, non-current version

    assert store.anonymise_activity(activity_id) == 2

    for p in store.participants(people):
        assert (p.name, p.email, p.school, p.anonymised) == (None, None, None, True)
    assert {i.participant_id for i in store.survey_invitations(activity_id, "final")} == {None}
    for message in store.outbox(activity_id):
        assert (message.recipient, message.body, message.attachments_json) == (None, "", "[]")
    assert store.activity(activity_id).organiser_email is None
    assert [store.plan(activity_id, v).organiser_email for v in (1, 2)] == [ANONYMISED_EMAIL] * 2
    # counts per organisation, role and session stay
    assert len(store.attendance(activity_id)) == 2
    assert [(a.organisation_id, a.role) for a in store.survey_answers(activity_id)] == [("sundsvall", "lärare")]

    # the other activity is untouched
    assert [(p.name, p.anonymised) for p in store.participants(others)] == [("Anna", False), ("Bo", False)]
    assert {i.participant_id for i in store.survey_invitations(other.id, "final")} == set(others)
    assert all(m.recipient and m.body for m in store.outbox(other.id))
    assert store.activity(other.id).organiser_email == "annan@run.test"
    assert store.plan(other.id).organiser_email == "annan@run.test"


def test_anonymisation_erases_free_text_answers_and_keeps_the_scale(store, activity_id, invited):
    store.answer_survey(
        invited[0].token,
        {"behov": 4, "ta_med": "Ring mig, Anna Berg 070-123 45 67", "ovrigt": "anna.berg@skola.se"},
        now=SENT + timedelta(hours=3),
    )
    store.answer_survey(invited[1].token, {"behov": 2, "balans": 5}, now=SENT + timedelta(hours=4))
    store.anonymise_activity(activity_id)
    assert [json.loads(a.answers_json) for a in store.survey_answers(activity_id)] == [
        {"behov": 4, "ta_med": "(raderad)", "ovrigt": "(raderad)"},
        {"behov": 2, "balans": 5},
    ]


def test_a_plan_may_keep_free_text_answers_through_anonymisation(store, activity_id, invited):
    store.answer_survey(invited[0].token, {"behov": 4, "ta_med": "Mer tid för kollegialt lärande"}, now=SENT)
    store.anonymise_activity(activity_id, keep_free_text=True)
    [answer] = store.survey_answers(activity_id)
    assert json.loads(answer.answers_json) == {"behov": 4, "ta_med": "Mer tid för kollegialt lärande"}


def test_database_errors_do_not_quote_the_values_they_were_given(store):
    """A failed write's message (logged, and sent to Temporal as the activity's failure) names no one."""
    from sqlalchemy.exc import IntegrityError

    from domain.tables import Participant

    with pytest.raises(IntegrityError) as failed, store.session() as s:
        s.add(
            Participant(
                activity_id="no-such-activity",
                name="Anna Berg",
                email="anna.berg@skola.test",
                organisation_id="sundsvall",
                role="lärare",
            )
        )
        s.flush()
    assert "anna.berg@skola.test" not in str(failed.value) and "Anna Berg" not in str(failed.value)
