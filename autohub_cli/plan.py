"""What is due: a pure function of (task spec, stored state, now). No I/O, no clock.

The one place that answers "does this slot run, and if not, why?". `explain` replays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .schedule import Schedule
    from .spec import TaskSpec

RUN, SKIP = "run", "skip"


@dataclass(frozen=True)
class Prior:
    """What the state database remembers of a task."""

    schedule_key: str | None
    enabled: bool
    cursor: datetime | None  # the last handled slot, or the moment the task was (re)seen
    invalid: bool
    removed: bool
    running: int  # runs of this task still alive


@dataclass(frozen=True)
class Decision:
    task: str
    slot: datetime
    action: str  # run | skip
    trigger: str  # schedule | overdue
    reason: str | None = None


@dataclass(frozen=True)
class TaskPlan:
    decisions: tuple[Decision, ...]
    cursor: datetime
    next_slot: datetime | None
    reseen: str | None = None  # why the cursor restarted at now, if it did


def plan_task(
    spec: TaskSpec,
    schedule: Schedule,
    prior: Prior | None,
    now: datetime,
    *,
    max_catchup: int,
    paused: bool = False,
) -> TaskPlan:
    """Decide every slot of one valid, scheduled task in (cursor, now]."""
    reseen = _reseen(spec, schedule, prior)
    if reseen or prior is None or prior.cursor is None:
        return TaskPlan((), now, schedule.next_after(now), reseen or "first seen")
    cursor = prior.cursor
    if cursor > now:  # the clock went back: nothing is due again until it passes the cursor
        return TaskPlan((), cursor, schedule.next_after(cursor))
    decisions: list[Decision] = []
    window_start = now - timedelta(seconds=spec.max_overdue)
    first = schedule.next_after(cursor)
    if first <= window_start:
        # Slots older than max_overdue: one summary row, however long the machine was off.
        decisions.append(
            Decision(
                spec.name,
                first,
                SKIP,
                "overdue",
                f"overdue: slots from {first.isoformat()} up to {window_start.isoformat()} are older than "
                f"max_overdue ({spec.max_overdue} s)",
            )
        )
        cursor = max(cursor, window_start)
    slots = list(schedule.slots(cursor, now))
    if slots:
        decisions.extend(_decide(spec, slots, now, max_catchup, prior.running, paused))
        cursor = slots[-1]
    return TaskPlan(tuple(decisions), cursor, schedule.next_after(max(cursor, now)))


def _reseen(spec: TaskSpec, schedule: Schedule, prior: Prior | None) -> str | None:
    if prior is None:
        return "first seen"
    if prior.removed:
        return "its file came back"
    if prior.invalid:
        return "it became valid"
    if prior.schedule_key != schedule.key:
        return "its schedule changed"
    if spec.enabled and not prior.enabled:
        return "it was re-enabled"
    return None


def _decide(
    spec: TaskSpec, slots: list[datetime], now: datetime, max_catchup: int, running: int, paused: bool
) -> list[Decision]:
    current_minute = now.replace(second=0, microsecond=0)

    def trigger(slot: datetime) -> str:
        return "schedule" if slot >= current_minute else "overdue"

    def skip(slot: datetime, reason: str) -> Decision:
        return Decision(spec.name, slot, SKIP, trigger(slot), reason)

    if not spec.enabled:
        return [skip(s, "disabled: enabled is false in the frontmatter") for s in slots]
    if paused:
        return [skip(s, "paused: resume with `autohub resume`") for s in slots]
    newest = slots[-1]
    chosen: list[datetime]
    why: dict[datetime, str] = {}
    if spec.catchup == "all":
        chosen = slots[-max_catchup:]
        for s in slots[:-max_catchup]:
            why[s] = f"catch-up limit: only the newest {max_catchup} overdue slots run (scheduler.max_catchup)"
    elif spec.catchup == "skip":
        chosen = [newest] if newest >= current_minute else []
        for s in slots:
            why.setdefault(s, "overdue: catchup is skip, so only a slot of the current minute runs")
    else:  # latest
        chosen = [newest]
        for s in slots[:-1]:
            why[s] = "overdue: catchup is latest, so only the newest missed slot runs"
    if running and spec.overlap == "skip":
        for s in chosen:
            why[s] = "overlap: the previous run is still running (overlap: skip)"
        chosen = []
    out = []
    for s in slots:
        if s in chosen:
            out.append(Decision(spec.name, s, RUN, trigger(s)))
        else:
            out.append(skip(s, why[s]))
    return out
