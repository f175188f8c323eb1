"""`autohub explain TASK [--at ISO]`: why a task did or did not run around a time, and what comes next.

Each slot near the time gets one story, from the best source there is:

- recorded: the state holds the tick's decision for the slot (ran, with its attempts and outcome,
  or skipped, with the reason the planner gave: overlap, overdue, paused, disabled, catch-up limit);
- replayed: the slot is due and no tick has handled it yet; `plan.plan_task` is called exactly as
  the next tick will call it, with the stored state, and its decision is shown;
- predicted: a future slot; `plan.plan_task` is called as the tick at that slot will call it,
  assuming ticks keep running every minute until then;
- not planned / no record: the slot came before the task was (re)seen (first sight, a schedule
  change or re-enabling start without a backlog), or its row was pruned.

The planner is the one place that decides; this module only asks it and reads what it recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .plan import RUN, Prior
from .store import iso

UTC = timezone.utc
SUMMARY = re.compile(r"^overdue: slots from (\S+) up to (\S+) are older than max_overdue")


@dataclass(frozen=True)
class SlotStory:
    slot: datetime
    source: str  # recorded | replayed | predicted | none
    decision: str  # ran | skipped | running | will run | will skip | not planned | no record
    reason: str | None
    trigger: str | None = None
    runs: tuple[Any, ...] = ()  # store.Run, oldest attempt first
    outcome: str | None = None  # the final attempt's status

    def to_json(self) -> dict[str, Any]:
        return {
            "slot": self.slot.isoformat(),
            "source": self.source,
            "decision": self.decision,
            "reason": self.reason,
            "trigger": self.trigger,
            "outcome": self.outcome,
            "runs": [r.to_json() for r in self.runs],
        }


@dataclass(frozen=True)
class Explanation:
    task: str
    title: str
    state: str
    why: str | None
    schedule: str | None
    schedule_words: str
    options: dict[str, Any]
    at: datetime
    now: datetime
    last_handled: datetime | None
    seen_at: datetime | None
    slots: tuple[SlotStory, ...]
    other_runs: tuple[Any, ...]  # manual runs near the time, or the recent rows of an unscheduled task
    next: tuple[str, ...]  # what happens next, in sentences
    health: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:

        return {
            "task": self.task,
            "title": self.title,
            "state": self.state,
            "why": self.why,
            "schedule": self.schedule,
            "schedule_words": self.schedule_words,
            "options": self.options,
            "at": iso(self.at),
            "now": iso(self.now),
            "last_handled_slot": iso(self.last_handled),
            "seen_at": iso(self.seen_at),
            "slots": [s.to_json() for s in self.slots],
            "other_runs": [r.to_json() for r in self.other_runs],
            "next": list(self.next),
            "scheduler_warnings": list(self.health),
        }


def explain(
    settings: Any, task: str, *, at: datetime | None = None, now: datetime | None = None, count: int = 3
) -> Explanation:
    from .catalog import load_catalog
    from .config import resolve_timezone
    from .reset import select
    from .status import assess, task_rows
    from .store import open_store

    real_now = now is None
    now = (now or datetime.now(UTC)).astimezone(UTC)
    at = (at or now).astimezone(UTC)
    tz = resolve_timezone(settings)
    store = open_store(settings)
    try:
        catalog = load_catalog(settings, store, save=False)
        rows = store.tasks()
        select(catalog, rows, [task], include_removed=True)  # raises UnknownTask
        status = task_rows(store, catalog, settings, tz, now, names=[task])[0]
        scheduled = sum(
            1
            for name, spec in catalog.specs.items()
            if spec.schedule is not None and spec.enabled and not (name in rows and rows[name].paused)
        )
        health = assess(store.last_ticks(2), now, cron=None, scheduled=scheduled, real_now=real_now)
        row = rows.get(task)
        spec = catalog.specs.get(task)
        open_runs = [r for r in store.open_runs() if r.task == task]
        options: dict[str, Any] = {}
        if spec is not None:
            options = {
                k: getattr(spec, k)
                for k in ("enabled", "catchup", "overlap", "max_overdue", "timeout", "retry_count", "retry_delay")
            }
            options["max_catchup"] = settings.scheduler.max_catchup
        stories: list[SlotStory] = []
        others: list[Any] = []
        if spec is None or spec.schedule is None:
            others = store.runs_between(task, at - timedelta(days=7), at + timedelta(hours=1))[-10:]
        else:
            from .schedule import compile_chain

            schedule = compile_chain(spec.schedule, tz)
            stories, others = _stories(store, spec, schedule, row, status, settings, at, now, count)
        nxt = _next(task, status, row, stories, open_runs, now)
    finally:
        store.close()
    return Explanation(
        task=task,
        title=status.title,
        state=status.state,
        why=status.why,
        schedule=status.schedule,
        schedule_words=status.schedule_words,
        options=options,
        at=at,
        now=now,
        last_handled=row.cursor if row else None,
        seen_at=row.seen_at if row else None,
        slots=tuple(stories),
        other_runs=tuple(others),
        next=tuple(nxt),
        health=health.warnings,
    )


def slots_before(schedule: Any, t: datetime, k: int) -> list[datetime]:
    """The newest `k` slots at or before `t`, oldest first (fewer if the schedule has none in ~3 years)."""
    span = timedelta(hours=1)
    while True:
        found = list(schedule.slots(t - span, t))
        if len(found) >= k or span > timedelta(days=1100):
            return found[-k:] if k else []
        span *= 4


def _stories(
    store: Any, spec: Any, schedule: Any, row: Any, status: Any, settings: Any, at: datetime, now: datetime, count: int
) -> tuple[list[SlotStory], list[Any]]:
    from .plan import plan_task
    from .status import replay

    window = [*slots_before(schedule, at, count), *schedule.next_n(at, count)]
    if not window:
        return [], []
    recorded = store.runs_between(spec.name, window[0], window[-1])
    by_slot: dict[datetime, list[Any]] = {}
    manual = []
    for run in recorded:
        if run.trigger == "manual":
            manual.append(run)
        else:
            by_slot.setdefault(run.slot, []).append(run)
    running = 1 if status.running else 0
    paused = bool(row and row.paused)
    plan = replay(spec, schedule, row, running, now, settings, paused=paused) if row is not None else None
    planned = {d.slot: d for d in plan.decisions} if plan else {}
    pending_summary = next((d for d in planned.values() if d.reason and SUMMARY.match(d.reason)), None)
    first_future = schedule.next_after(now)
    stories = []
    for slot in window:
        runs = by_slot.get(slot)
        if runs:
            stories.append(_recorded(slot, runs))
        elif slot <= now:
            stories.append(_past(store, spec, slot, row, plan, planned, pending_summary, now, settings))
        else:
            stories.append(
                _predict(
                    spec, schedule, slot, row, plan, running if slot == first_future else 0, now, settings, plan_task
                )
            )
    return stories, manual


def _recorded(slot: datetime, runs: list[Any]) -> SlotStory:
    first, final = runs[0], runs[-1]
    if first.status == "skipped":
        return SlotStory(slot, "recorded", "skipped", first.reason, first.trigger, tuple(runs), "skipped")
    if final.status == "running":
        return SlotStory(
            slot, "recorded", "running", f"attempt {final.attempt} is running", first.trigger, tuple(runs), "running"
        )
    if final.status == "pending":
        due = final.not_before.isoformat() if final.not_before else "the next tick"
        ended = runs[-2].status if len(runs) > 1 else "badly"
        reason = f"attempt {final.attempt - 1} ended {ended}; attempt {final.attempt} is pending (not before {due})"
        return SlotStory(slot, "recorded", "ran", reason, first.trigger, tuple(runs), "pending")
    reason = final.reason
    if len(runs) > 1:
        tries = ", ".join(f"{r.attempt}: {r.status}" for r in runs)
        reason = f"attempts {tries}" + (f"; {final.reason}" if final.reason else "")
    return SlotStory(slot, "recorded", "ran", reason, first.trigger, tuple(runs), final.status)


def _past(
    store: Any,
    spec: Any,
    slot: datetime,
    row: Any,
    plan: Any,
    planned: dict[datetime, Any],
    pending_summary: Any,
    now: datetime,
    settings: Any,
) -> SlotStory:
    if row is None:
        return SlotStory(
            slot, "none", "not planned", "no tick has seen this task yet: the first tick starts it without a backlog"
        )
    d = planned.get(slot)
    if (
        d is None
        and pending_summary is not None
        and pending_summary.slot <= slot <= now - timedelta(seconds=spec.max_overdue)
    ):
        d = pending_summary
    if d is not None:
        verb = "will run" if d.action == RUN else "will skip"
        return SlotStory(
            slot,
            "replayed",
            verb,
            f"due, not handled yet: the next tick {'runs' if d.action == RUN else 'skips'} it"
            + (f": {d.reason}" if d.reason else f" ({d.trigger})"),
            d.trigger,
        )
    if plan is not None and plan.reseen:
        return SlotStory(
            slot,
            "replayed",
            "not planned",
            f"the next tick starts the task afresh ({plan.reseen}): slots before that are not run",
        )
    if row.cursor is not None and slot > row.cursor:
        return SlotStory(
            slot,
            "replayed",
            "not planned",
            f"the last handled slot ({row.cursor.isoformat()}) is after now: the clock was set back; "
            "nothing is due until it passes",
        )
    for skip in store.skips_before(spec.name, slot, 5):
        match = SUMMARY.match(skip.reason or "")
        if match and datetime.fromisoformat(match.group(2)) >= slot:
            return SlotStory(slot, "recorded", "skipped", skip.reason, skip.trigger, (skip,), "skipped")
    if slot < row.seen_at:
        return SlotStory(
            slot,
            "none",
            "not planned",
            f"before the task was (re)seen at {row.seen_at.isoformat()}: a first sight, a schedule change, "
            "re-enabling or a "
            "fixed file starts without a backlog",
        )
    return SlotStory(
        slot,
        "none",
        "no record",
        "no row for this slot: history older than scheduler.history_days "
        f"({settings.scheduler.history_days} days) is pruned",
    )


def _predict(
    spec: Any,
    schedule: Any,
    slot: datetime,
    row: Any,
    plan: Any,
    running: int,
    now: datetime,
    settings: Any,
    plan_task: Any,
) -> SlotStory:
    """Ask the planner what the tick at `slot` will decide, if ticks keep running until then."""
    before = slots_before(schedule, slot - timedelta(microseconds=1), 1)
    handled = plan.cursor if plan is not None else now
    cursor = max([*before, handled]) if before else handled
    cursor = min(cursor, slot - timedelta(microseconds=1))
    prior = Prior(schedule.key, spec.enabled, cursor, invalid=False, removed=False, running=running)
    decisions = plan_task(
        spec, schedule, prior, slot, max_catchup=settings.scheduler.max_catchup, paused=bool(row and row.paused)
    ).decisions
    d = next((x for x in decisions if x.slot == slot), None)
    if d is None:  # cannot happen for a slot of the schedule; say so rather than guess
        return SlotStory(slot, "predicted", "not planned", "the planner did not plan this slot")
    if d.action == RUN:
        return SlotStory(slot, "predicted", "will run", None, d.trigger)
    reason = d.reason
    if running and d.reason and d.reason.startswith("overlap"):
        reason = f"{d.reason}, if the current run has not ended by then"
    return SlotStory(slot, "predicted", "will skip", reason, d.trigger)


def _next(task: str, status: Any, row: Any, stories: list[SlotStory], open_runs: list[Any], now: datetime) -> list[str]:
    from .status import human_duration

    out = []
    if status.state == "invalid":
        out.append(
            f"It does not run until its file is fixed: {status.why}. Then it starts from that tick, without a backlog."
        )
    elif status.state == "removed":
        out.append("Its file is gone: nothing runs. Its history is kept; a file of the same name starts afresh.")
    elif status.state == "manual":
        out.append(f"It has no schedule: it runs only when you run `autohub run {task}`.")
    elif status.state == "disabled":
        out.append(
            "It is disabled (enabled: false): each slot is recorded as skipped. "
            "Setting enabled: true starts it afresh, without a backlog."
        )
    elif status.state == "paused":
        out.append(
            f"It is paused: each slot is recorded as skipped. `autohub resume {task}` runs it again "
            "from its next slot; nothing missed is replayed."
        )
    if status.next_tick:
        runs = [d for d in status.next_tick if d.action == RUN]
        skips = len(status.next_tick) - len(runs)
        parts = [f"run slot {d.slot.isoformat()} ({d.trigger})" for d in runs]
        if skips:
            parts.append(f"record {skips} slot(s) as skipped")
        out.append("The next tick will " + " and ".join(parts) + ".")
    elif row is None and status.schedule is not None:
        out.append("No tick has seen it yet: the first tick starts it from that moment, without a backlog.")
    if status.next_slot is not None:
        story = next((s for s in stories if s.slot == status.next_slot), None)
        verdict = ""
        if story is not None:
            verdict = ": it will run" if story.decision == "will run" else f": it will be skipped ({story.reason})"
        wait = human_duration((status.next_slot - now).total_seconds())
        out.append(f"Next slot: {status.next_slot.isoformat()} (in {wait}){verdict}.")
    for run in open_runs:
        if run.status == "running":
            since = run.started_at.isoformat() if run.started_at else "just now"
            out.append(f"Run {run.id} (slot {run.slot.isoformat()}, attempt {run.attempt}) is running since {since}.")
        elif run.status == "pending":
            due = run.not_before.isoformat() if run.not_before else "now"
            out.append(
                f"Attempt {run.attempt} of slot {run.slot.isoformat()} is pending: "
                f"the first tick at or after {due} runs it."
            )
    if status.failure_streak:
        out.append(f"The last {status.failure_streak} run(s) failed: `autohub logs {task}` shows the newest output.")
    return out
