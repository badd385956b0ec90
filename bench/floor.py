"""The floors: bare workflows that do what runflow asks of Temporal, and nothing else.

* `MirrorWorkflow` takes a `Script` read off a finished runflow history (`script_from_history`): the same
  timers in the same order with the same durations, the same number of activities after each timer (no-ops
  here), and an Update handler that runs one no-op activity per call, as runflow's `register` runs
  `record_registration`. So it has the same number of timers, updates and activities as the runflow workflow it
  mirrors, without runflow's state, search attributes, store, templates or SMTP. (Durations, not absolute times:
  a timer runflow starts late, e.g. the retention after a report that took long to send, would otherwise carry
  runflow's delay into the floor; a timer runflow starts late towards a fixed time is shorter, so the floor only
  gets faster.)
* `NoopUpdateWorkflow` answers a bare Update (`ping`) at once: the floor of the registration round trip.

They run on their own worker process (`python -m bench.floor_worker`) and task queue, on the same dev server and
with the same data converter as runflow's worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from temporalio import activity, workflow

NOOP_TIMEOUT = timedelta(minutes=2)


@activity.defn(name="noop")
async def noop() -> None:
    return None


@dataclass
class Segment:
    """A timer of `timer` seconds (None: no timer), then `activities` no-op activities one after the other.

    `due` is when runflow's timer was due, in seconds after its workflow started (information only).
    """

    timer: float | None
    activities: int = 0
    due: float | None = None


@dataclass
class Script:
    segments: list[Segment] = field(default_factory=list)

    @property
    def timers(self) -> int:
        return sum(1 for s in self.segments if s.timer is not None)

    @property
    def activities(self) -> int:
        return sum(s.activities for s in self.segments)


@workflow.defn
class MirrorWorkflow:
    def __init__(self) -> None:
        self.progress = 0

    @workflow.run
    async def run(self, script: Script) -> int:
        for segment in script.segments:
            if segment.timer is not None:
                await workflow.sleep(max(segment.timer, 0.001))  # 0 would start no timer
            for _ in range(segment.activities):
                await workflow.execute_activity(noop, start_to_close_timeout=NOOP_TIMEOUT)
            self.progress += 1
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.progress

    @workflow.update
    async def register(self, seq: int) -> int:
        await workflow.execute_activity(noop, start_to_close_timeout=NOOP_TIMEOUT)
        return seq

    @workflow.query
    def segments_done(self) -> int:
        return self.progress


@workflow.defn
class NoopUpdateWorkflow:
    def __init__(self) -> None:
        self.stopped = False

    @workflow.run
    async def run(self) -> None:
        # Past the server's per-run Update limit (2,000) a bare workflow has to continue-as-new too.
        await workflow.wait_condition(lambda: self.stopped or workflow.info().is_continue_as_new_suggested())
        if not self.stopped:
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new()

    @workflow.update
    def ping(self, seq: int) -> int:
        return seq

    @workflow.signal
    def stop(self) -> None:
        self.stopped = True


def script_from_history(
    events, *, skip_activity_types: frozenset[str] = frozenset({"record_registration"}), start=None
) -> Script:
    """The timers and main-line activities of a history (the events of one or more consecutive runs).

    Activities whose type is in `skip_activity_types` belong to Update handlers: the mirror's own `register`
    handler runs one for each Update it gets.
    """
    segments = [Segment(timer=None)]
    for event in events:
        when = event.event_time.ToDatetime()
        if start is None:
            start = when
        if event.HasField("timer_started_event_attributes"):
            fire = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            segments.append(
                Segment(timer=round(fire.total_seconds(), 3), due=round((when - start + fire).total_seconds(), 3))
            )
        elif (
            event.HasField("activity_task_scheduled_event_attributes")
            and event.activity_task_scheduled_event_attributes.activity_type.name not in skip_activity_types
        ):
            segments[-1].activities += 1
    if segments[0].activities == 0:
        segments.pop(0)
    return Script(segments=segments)


def timers(events) -> list[tuple[datetime, datetime | None]]:
    """(when due, when fired or None) of every timer in a history, in the order they were started."""
    started: dict[int, int] = {}
    out: list[list] = []
    for event in events:
        when = event.event_time.ToDatetime(tzinfo=UTC)
        if event.HasField("timer_started_event_attributes"):
            fire = event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            started[event.event_id] = len(out)
            out.append([when + fire, None])
        elif event.HasField("timer_fired_event_attributes"):
            out[started[event.timer_fired_event_attributes.started_event_id]][1] = when
    return [(due, fired) for due, fired in out]
