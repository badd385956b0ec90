import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain.lifecycle import SeatStatus
from domain.seats import SeatBook


def book_with(capacity, *sizes):
    """A book with participants 1..n registered in order, with the given sizes."""
    book = SeatBook(capacity=capacity)
    for pid, size in enumerate(sizes, start=1):
        book.register(pid, size, f"r{pid}")
    return book


def status(book, pid):
    return next(s.status for s in book.seats if s.participant_id == pid)


def test_confirmed_up_to_capacity_then_waitlisted():
    book = book_with(3, 1, 1, 1, 1, 1)
    assert [status(book, p) for p in range(1, 6)] == [SeatStatus.CONFIRMED] * 3 + [SeatStatus.WAITLISTED] * 2
    assert (book.confirmed, book.waitlisted, book.free) == (3, 2, 0)
    assert [book.waitlist_position(r) for r in ("r1", "r4", "r5")] == [None, 1, 2]


def test_team_counts_as_its_size_and_is_never_split():
    book = book_with(5, 3)
    assert book.confirmed == 3
    team = book.register(2, 3, "r2")  # 2 seats free: the team of 3 waits, whole
    assert team.status is SeatStatus.WAITLISTED
    assert (book.confirmed, book.waitlisted, book.free) == (3, 3, 2)
    assert book.register(3, 2, "r3").status is SeatStatus.CONFIRMED
    assert book.free == 0


def test_withdrawal_promotes_first_in_line():
    book = book_with(2, 1, 1, 1, 1)
    seat, promoted = book.withdraw(1)
    assert seat.status is SeatStatus.WITHDRAWN
    assert [s.registration_id for s in promoted] == ["r3"]
    assert status(book, 4) is SeatStatus.WAITLISTED and book.waitlist_position("r4") == 1
    assert book.withdrawn == 1


def test_entry_that_does_not_fit_keeps_its_place_and_smaller_later_entry_is_promoted():
    book = book_with(4, 2, 2, 3, 1, 1)  # r3 (3) waits ahead of r4 and r5
    assert [s.registration_id for s in book.waiting_list()] == ["r3", "r4", "r5"]
    _, promoted = book.withdraw(1)  # 2 seats free: r3 does not fit, r4 and r5 do
    assert [s.registration_id for s in promoted] == ["r4", "r5"]
    assert book.waitlist_position("r3") == 1
    _, promoted = book.withdraw(2)  # 2 free again, still not enough for r3
    assert promoted == [] and book.free == 2
    _, promoted = book.withdraw(4)  # 3 free: now r3 fits
    assert [s.registration_id for s in promoted] == ["r3"]


def test_withdrawing_a_waiting_entry_promotes_nobody_and_moves_the_line_up():
    book = book_with(1, 1, 1, 1)
    _, promoted = book.withdraw(2)
    assert promoted == [] and book.waitlist_position("r3") == 1


def test_duplicate_registration_raises_but_re_registration_after_withdrawal_is_allowed():
    book = book_with(5, 1)
    with pytest.raises(ValueError, match="already registered"):
        book.register(1, 1, "again")
    book.withdraw(1)
    assert book.register(1, 1, "again").status is SeatStatus.CONFIRMED
    assert book.active_seat(1).registration_id == "again"


def test_withdraw_unknown_or_withdrawn_raises():
    book = book_with(5, 1)
    with pytest.raises(ValueError, match="not registered"):
        book.withdraw(99)
    book.withdraw(1)
    with pytest.raises(ValueError, match="not registered"):
        book.withdraw(1)


def test_grow_promotes_waiting_entries():
    book = book_with(2, 1, 1, 2)
    assert [s.registration_id for s in book.grow(4)] == ["r3"]


def test_cancel_all_cancels_active_seats_only():
    book = book_with(2, 1, 1, 1, 1)
    book.withdraw(4)
    affected = book.cancel_all()
    assert sorted(s.registration_id for s in affected) == ["r1", "r2", "r3"]
    assert [status(book, p) for p in range(1, 5)] == [SeatStatus.CANCELLED] * 3 + [SeatStatus.WITHDRAWN]
    assert (book.confirmed, book.waitlisted, book.active_seat(1)) == (0, 0, None)


class SeatBookMachine(RuleBasedStateMachine):
    """Random register/withdraw sequences keep the book consistent and promotion greedy FIFO."""

    @initialize(capacity=st.integers(1, 12))
    def start(self, capacity):
        self.book = SeatBook(capacity=capacity)
        self.counter = 0

    @rule(pid=st.integers(1, 15), size=st.integers(1, 5))
    def register(self, pid, size):
        self.counter += 1
        if self.book.active_seat(pid) is not None:
            with pytest.raises(ValueError):
                self.book.register(pid, size, f"r{self.counter}")
            return
        free = self.book.free
        seat = self.book.register(pid, size, f"r{self.counter}")
        assert seat.status is (SeatStatus.CONFIRMED if size <= free else SeatStatus.WAITLISTED)

    @precondition(lambda self: self.book.with_status(SeatStatus.CONFIRMED, SeatStatus.WAITLISTED))
    @rule(data=st.data())
    def withdraw(self, data):
        active = self.book.with_status(SeatStatus.CONFIRMED, SeatStatus.WAITLISTED)
        seat = data.draw(st.sampled_from(active))
        # expected promotion: walk the remaining waiting list in arrival order, take each entry that fits
        free = self.book.free + (seat.size if seat.status is SeatStatus.CONFIRMED else 0)
        expected = []
        for waiting in self.book.waiting_list():
            if waiting is not seat and waiting.size <= free:
                expected.append(waiting.registration_id)
                free -= waiting.size
        _, promoted = self.book.withdraw(seat.participant_id)
        assert [s.registration_id for s in promoted] == expected

    @invariant()
    def within_capacity(self):
        assert self.book.confirmed <= self.book.capacity

    @invariant()
    def one_active_seat_per_participant(self):
        active = [s.participant_id for s in self.book.with_status(SeatStatus.CONFIRMED, SeatStatus.WAITLISTED)]
        assert len(active) == len(set(active))

    @invariant()
    def waiting_list_in_arrival_order(self):
        seqs = [s.seq for s in self.book.seats]
        assert seqs == sorted(set(seqs))  # unique and in arrival order
        waiting = self.book.waiting_list()
        assert [s.seq for s in waiting] == [s.seq for s in self.book.seats if s.status is SeatStatus.WAITLISTED]
        assert [self.book.waitlist_position(s.registration_id) for s in waiting] == list(range(1, len(waiting) + 1))

    @invariant()
    def promotion_is_complete(self):
        assert all(s.size > self.book.free for s in self.book.waiting_list())


SeatBookMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_seat_book_state_machine = SeatBookMachine.TestCase
