"""Coordinators' messages in the store (SQLite and PostgreSQL): kept, listed, discarded; who each segment holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from activities_impl.store import Store, StoreError
from domain.segments import Segment, SegmentKind, parse_segment

T0 = datetime(2027, 8, 1, 8, 0, tzinfo=UTC)
SENT = T0 + timedelta(days=30)
STAFF = "st_3f9a1c2b00112233"


@pytest.fixture
def plan(make_plan):
    return make_plan(T0)


@pytest.fixture
def activity_id(store, plan) -> str:
    store.save_plan(plan, make_current=True)
    return plan.id


def person(store: Store, activity_id: str, name: str, status: str | None, seq: int) -> int:
    pid = store.upsert_participant(
        activity_id, name=name, email=f"{name.lower()}@skola.test", organisation_id="sundsvall", role="lärare"
    )
    if status is not None:
        store.record_registration(
            registration_id=f"{activity_id}-r{seq}",
            activity_id=activity_id,
            participant_id=pid,
            status=status,
            team_size=1,
            seq=seq,
        )
    return pid


def names(store: Store, activity_id: str, code: str, plan) -> list[str]:
    return [p.name for p in store.segment_recipients(activity_id, parse_segment(code, plan))]


def test_a_message_is_kept_listed_and_discarded(store, activity_id):
    first = store.save_message(
        activity_id=activity_id, segment="confirmed", subject="Inför träff 1", body="Läs kapitel 3.", staff_id=STAFF
    )
    second = store.save_message(
        activity_id=activity_id, segment="present:1", subject="Tack", body="Tack!\n\tHälsningar", staff_id=STAFF
    )
    message = store.message(first)
    assert (message.activity_id, message.segment, message.subject, message.body, message.staff_id) == (
        activity_id,
        "confirmed",
        "Inför träff 1",
        "Läs kapitel 3.",
        STAFF,
    )
    assert message.created_at.tzinfo is not None
    assert store.message(second).body == "Tack!\n\tHälsningar"
    assert [m.id for m in store.messages(activity_id)] == [first, second]
    assert store.messages("another-activity") == []

    store.discard_message(first)
    store.discard_message(first)  # already gone: nothing happens
    assert store.message(first) is None
    assert [m.id for m in store.messages(activity_id)] == [second]


def test_a_message_for_an_unknown_activity_is_refused(store):
    with pytest.raises(StoreError) as refused:
        store.save_message(activity_id="no-such-activity", segment="confirmed", subject="x", body="y", staff_id=STAFF)
    assert refused.value.code == "unknown_activity"


def test_each_segment_holds_exactly_its_people_now(store, make_plan, plan, activity_id):
    anna = person(store, activity_id, "Anna", "confirmed", 1)
    bo = person(store, activity_id, "Bo", "confirmed", 2)
    cilla = person(store, activity_id, "Cilla", "confirmed", 3)
    person(store, activity_id, "Dan", "waitlisted", 4)
    person(store, activity_id, "Eva", "withdrawn", 5)
    person(store, activity_id, "Frida", None, 6)  # stored, never registered (a registration in flight)
    other = make_plan(T0)
    store.save_plan(other, make_current=True)
    stranger = person(store, other.id, "Gustav", "confirmed", 1)

    assert names(store, activity_id, "confirmed", plan) == ["Anna", "Bo", "Cilla"]
    assert names(store, activity_id, "waitlisted", plan) == ["Dan"]
    # Before attendance of a session is recorded nobody is absent from it (nor present).
    assert names(store, activity_id, "absent:1", plan) == []
    assert names(store, activity_id, "present:1", plan) == []

    store.record_attendance(activity_id, 1, [anna, cilla, stranger])  # someone of another activity is ignored
    assert names(store, activity_id, "present:1", plan) == ["Anna", "Cilla"]
    assert names(store, activity_id, "absent:1", plan) == ["Bo"]
    assert names(store, activity_id, "absent:2", plan) == []

    invitations = store.create_survey_invitations(activity_id, "s1", [anna, cilla], SENT, SENT + timedelta(days=7))
    assert names(store, activity_id, "unanswered:s1", plan) == ["Anna", "Cilla"]
    store.answer_survey(invitations[0].token, {"behov": 4}, now=SENT + timedelta(hours=1))
    assert names(store, activity_id, "unanswered:s1", plan) == ["Cilla"]
    assert names(store, activity_id, "unanswered:final", plan) == []  # not sent yet: nobody is waited for

    # Now, not then: a withdrawal and a promotion move people between segments.
    store.record_withdrawal(f"{activity_id}-r2", [f"{activity_id}-r4"])
    assert names(store, activity_id, "confirmed", plan) == ["Anna", "Cilla", "Dan"]
    assert names(store, activity_id, "waitlisted", plan) == []
    assert names(store, activity_id, "absent:1", plan) == ["Dan"]
    assert bo  # withdrawn: in no segment any more


def test_erased_people_are_in_no_segment(store, plan, activity_id):
    anna = person(store, activity_id, "Anna", "confirmed", 1)
    store.record_attendance(activity_id, 1, [anna])
    store.anonymise_activity(activity_id)
    for kind in SegmentKind:
        segment = (
            Segment(kind=kind, session_no=1)
            if kind in (SegmentKind.PRESENT, SegmentKind.ABSENT)
            else Segment(kind=kind, survey="s1")
            if kind is SegmentKind.UNANSWERED
            else Segment(kind=kind)
        )
        assert store.segment_recipients(activity_id, segment) == []


def test_anonymisation_erases_the_texts_and_keeps_who_sent_what_when(store, make_plan, activity_id):
    other = make_plan(T0)
    store.save_plan(other, make_current=True)
    ids = [
        store.save_message(
            activity_id=aid, segment="confirmed", subject="Inför träff 1", body="Anna, ring mig!", staff_id=STAFF
        )
        for aid in (activity_id, other.id)
    ]
    store.anonymise_activity(activity_id)
    erased, kept = (store.message(i) for i in ids)
    assert (erased.body, erased.subject, erased.segment, erased.staff_id) == ("", "Inför träff 1", "confirmed", STAFF)
    assert kept.body == "Anna, ring mig!"  # another activity's message is untouched
