"""Seat allocation: capacity, FIFO waiting list, promotion on withdrawal.

A team takes as many seats as it has members and is never split. On a
withdrawal the freed seats go to the waiting list in arrival order: each
entry that fits is promoted, an entry that does not fit keeps its place.
"""

from __future__ import annotations

from pydantic import BaseModel

from domain.lifecycle import SeatStatus


class Seat(BaseModel):
    registration_id: str
    participant_id: int
    size: int = 1
    status: SeatStatus
    seq: int


class SeatBook(BaseModel):
    capacity: int
    seats: list[Seat] = []
    next_seq: int = 1

    # -- reading ---------------------------------------------------------
    def active_seat(self, participant_id: int) -> Seat | None:
        return next(
            (
                s
                for s in self.seats
                if s.participant_id == participant_id and s.status in (SeatStatus.CONFIRMED, SeatStatus.WAITLISTED)
            ),
            None,
        )

    @property
    def confirmed(self) -> int:
        return sum(s.size for s in self.seats if s.status is SeatStatus.CONFIRMED)

    @property
    def waitlisted(self) -> int:
        return sum(s.size for s in self.seats if s.status is SeatStatus.WAITLISTED)

    @property
    def withdrawn(self) -> int:
        return sum(s.size for s in self.seats if s.status is SeatStatus.WITHDRAWN)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.confirmed)

    def waiting_list(self) -> list[Seat]:
        return sorted((s for s in self.seats if s.status is SeatStatus.WAITLISTED), key=lambda s: s.seq)

    def waitlist_position(self, registration_id: str) -> int | None:
        for position, seat in enumerate(self.waiting_list(), start=1):
            if seat.registration_id == registration_id:
                return position
        return None

    def with_status(self, *statuses: SeatStatus) -> list[Seat]:
        return [s for s in self.seats if s.status in statuses]

    # -- changing --------------------------------------------------------
    def register(self, participant_id: int, size: int, registration_id: str) -> Seat:
        if self.active_seat(participant_id) is not None:
            raise ValueError("already registered")
        status = SeatStatus.CONFIRMED if size <= self.free else SeatStatus.WAITLISTED
        seat = Seat(
            registration_id=registration_id, participant_id=participant_id, size=size, status=status, seq=self.next_seq
        )
        self.next_seq += 1
        self.seats.append(seat)
        return seat

    def withdraw(self, participant_id: int) -> tuple[Seat, list[Seat]]:
        seat = self.active_seat(participant_id)
        if seat is None:
            raise ValueError("not registered")
        seat.status = SeatStatus.WITHDRAWN
        return seat, self.promote()

    def promote(self) -> list[Seat]:
        promoted = []
        for waiting in self.waiting_list():
            if waiting.size <= self.free:
                waiting.status = SeatStatus.CONFIRMED
                promoted.append(waiting)
        return promoted

    def grow(self, capacity: int) -> list[Seat]:
        self.capacity = capacity
        return self.promote()

    def cancel_all(self) -> list[Seat]:
        affected = self.with_status(SeatStatus.CONFIRMED, SeatStatus.WAITLISTED)
        for seat in affected:
            seat.status = SeatStatus.CANCELLED
        return affected
