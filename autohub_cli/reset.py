"""`autohub reset` and `autohub pause` / `resume`: operator changes to the state, never to task files.

reset: the original `reset_schedules.py`, done right. A task's backlog is the slots in
(last handled slot, now]. Reset records each of them as skipped (reason `reset: ...`; the planner's
own one-row summary for slots older than `max_overdue` keeps its reason) and moves the last handled
slot to now, so the next due slot is the next future slot of the task's own schedule. History is
never deleted. With `--future-only` only overdue slots (older than the current minute, so a tick
should have handled them) are cleared: a slot of the current minute is left for the tick to run.
Without it every due slot up to now is cleared.

pause/resume: a flag in the state. A tick records a paused task's slots as skipped (`paused`).
Resume first settles the paused period exactly as a tick at that moment would (its slots are
recorded as skipped), so slots that fell due during the pause are never run afterwards, even when
no tick ran during the pause.

Both replay `plan.plan_task` for the slots they record: the same function the tick uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .store import iso

UTC = timezone.utc
SUMMARY = "overdue: slots from "  # the planner's one-row summary of slots older than max_overdue


class UnknownTask(Exception):
    """A task name that is neither a task file nor in the state."""


@dataclass(frozen=True)
class ResetItem:
    task: str
    title: str
    action: str  # reset | unchanged | skipped
    why: str
    cursor_before: datetime | None
    cursor_after: datetime | None
    next_before: datetime | None  # the next due slot before the reset (<= now: there is a backlog)
    next_after: datetime | None
    cleared: int  # slot rows recorded as skipped

    def to_json(self) -> dict[str, Any]:

        return {
            "task": self.task,
            "title": self.title,
            "action": self.action,
            "why": self.why,
            "last_handled_before": iso(self.cursor_before),
            "last_handled_after": iso(self.cursor_after),
            "next_due_before": iso(self.next_before),
            "next_due_after": iso(self.next_after),
            "slots_cleared": self.cleared,
        }


@dataclass(frozen=True)
class PauseItem:
    task: str
    action: str  # paused | resumed | unchanged
    why: str
    settled: int = 0  # slots of the paused period recorded as skipped on resume

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "action": self.action, "why": self.why, "slots_settled": self.settled}


def select(catalog: Any, rows: dict[str, Any], tasks: list[str], *, include_removed: bool = False) -> list[str]:
    """The named tasks (all known ones when none are named); an unknown name raises UnknownTask."""
    known = {*catalog.specs, *catalog.errors, *(n for n, r in rows.items() if include_removed or r.removed_at is None)}
    unknown = [t for t in tasks if t not in known]
    if unknown:
        names = ", ".join(sorted(known)) or "(none)"
        raise UnknownTask(f"unknown task {', '.join(map(repr, unknown))}; known tasks: {names}")
    return sorted(set(tasks)) if tasks else sorted(known)


def reset(
    settings: Any, tasks: list[str], *, future_only: bool = False, dry_run: bool = False, now: datetime | None = None
) -> list[ResetItem]:
    from .catalog import load_catalog
    from .config import resolve_timezone
    from .store import open_store

    now = (now or datetime.now(UTC)).astimezone(UTC)
    tz = resolve_timezone(settings)
    store = open_store(settings)
    try:
        catalog = load_catalog(settings, store, save=False)

        def body() -> list[ResetItem]:
            rows = store.tasks()
            names = select(catalog, rows, tasks)
            return [_reset_one(store, catalog, rows.get(n), n, settings, tz, now, future_only, dry_run) for n in names]

        if dry_run:
            return body()
        with store.transaction():  # what is read is what is written against: a racing tick waits
            return body()
    finally:
        store.close()


def _reset_one(
    store: Any,
    catalog: Any,
    row: Any,
    name: str,
    settings: Any,
    tz: Any,
    now: datetime,
    future_only: bool,
    dry_run: bool,
) -> ResetItem:
    from .plan import plan_task
    from .schedule import compile_chain
    from .tick import prior_of

    spec, error = catalog.specs.get(name), catalog.errors.get(name)
    title = spec.title if spec else (row.title if row else name)
    cursor = row.cursor if row else None

    def item(action: str, why: str, **extra: Any) -> ResetItem:
        values: dict[str, Any] = {
            "cursor_before": cursor,
            "cursor_after": cursor,
            "next_before": None,
            "next_after": None,
            "cleared": 0,
        }
        values.update(extra)
        return ResetItem(name, title, action, why, **values)

    if error is not None:
        return item("skipped", f"invalid ({error.message}); once fixed, it starts without a backlog")
    if spec is None:
        return item("skipped", "its file is gone; nothing runs for it")
    if spec.schedule is None:
        return item("skipped", "a manual task has no slots")
    schedule = compile_chain(spec.schedule, tz)
    if row is None or row.cursor is None:
        return item("skipped", "no tick has seen it yet: the first tick starts it without a backlog")
    plan = plan_task(
        spec, schedule, prior_of(row, 0), now, max_catchup=settings.scheduler.max_catchup, paused=row.paused
    )
    if plan.reseen:
        return item("skipped", f"the next tick starts it afresh ({plan.reseen}): there is no backlog")
    before = schedule.next_after(row.cursor)
    if before > now:
        why = "no backlog: the next due slot is in the future"
        if row.cursor > now:
            why += " (the last handled slot is after now: the clock was set back; handled slots never run again)"
        return item("unchanged", why, next_before=before, next_after=before)
    minute = now.replace(second=0, microsecond=0)
    if future_only:
        if before >= minute:
            why = "nothing overdue: its due slot is this minute's, left to the tick (--future-only)"
            return item("unchanged", why, next_before=before, next_after=before)
        cursor_after = minute - timedelta(microseconds=1)  # the slot of this minute, if any, still runs
    else:
        cursor_after = now
    after = schedule.next_after(cursor_after)
    cleared = [d for d in plan.decisions if d.slot <= cursor_after]
    if not dry_run:
        reason = f"reset: the backlog was cleared by `autohub reset` at {now.isoformat()}"
        for d in cleared:
            why = d.reason if d.reason and d.reason.startswith(SUMMARY) else reason
            store.insert_run(name, d.slot, 1, d.trigger, "skipped", reason=why, now=now)
        store.set_cursor(name, cursor_after, after)
    why = f"{len(cleared)} due slot(s) from {before.isoformat()} recorded as skipped"
    return item("reset", why, cursor_after=cursor_after, next_before=before, next_after=after, cleared=len(cleared))


def set_paused(settings: Any, tasks: list[str], *, paused: bool, now: datetime | None = None) -> list[PauseItem]:
    """Pause or resume the named tasks (all when none are named)."""
    from .catalog import load_catalog
    from .store import open_store

    now = (now or datetime.now(UTC)).astimezone(UTC)
    store = open_store(settings)
    try:
        catalog = load_catalog(settings, store, save=False)
        with store.transaction():
            rows = store.tasks()
            names = select(catalog, rows, tasks)
            return [_pause_one(store, catalog, rows.get(n), n, settings, now, paused) for n in names]
    finally:
        store.close()


def _pause_one(store: Any, catalog: Any, row: Any, name: str, settings: Any, now: datetime, paused: bool) -> PauseItem:
    if paused:
        if row is not None and row.paused:
            return PauseItem(name, "unchanged", "already paused")
        if row is None:
            spec = catalog.specs.get(name)
            store.ensure_task_row(name, spec.title if spec else name, now)
        store.set_paused([name], True)
        return PauseItem(name, "paused", "its slots are recorded as skipped until `autohub resume`")
    if row is None or not row.paused:
        return PauseItem(name, "unchanged", "not paused")
    settled = _settle_pause(store, catalog, row, name, settings, now)
    store.set_paused([name], False)
    why = "runs again from its next slot"
    if settled:
        why += f"; {settled} slot(s) that fell due while paused recorded as skipped"
    return PauseItem(name, "resumed", why, settled)


def _settle_pause(store: Any, catalog: Any, row: Any, name: str, settings: Any, now: datetime) -> int:
    """Record what a tick now would record for the paused task, so resuming replays nothing."""
    from .config import resolve_timezone
    from .plan import plan_task
    from .schedule import compile_chain
    from .tick import prior_of

    spec = catalog.specs.get(name)
    if spec is None or spec.schedule is None or row.cursor is None:
        return 0
    schedule = compile_chain(spec.schedule, resolve_timezone(settings))
    plan = plan_task(spec, schedule, prior_of(row, 0), now, max_catchup=settings.scheduler.max_catchup, paused=True)
    if plan.reseen:
        return 0
    for d in plan.decisions:
        store.insert_run(name, d.slot, 1, d.trigger, "skipped", reason=d.reason, now=now)
    if plan.decisions:
        store.set_cursor(name, plan.cursor, plan.next_slot)
    return len(plan.decisions)
