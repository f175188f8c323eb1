"""`autohub tick`: load, decide, claim, run, record, exit.

The decisions come from `plan.plan_task` (pure); this module is the imperative shell around it:
it syncs the catalog into the state, claims slots inside one write transaction (so racing ticks
run each slot once), runs the claimed jobs in parallel and records how they ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from . import faults, logfiles
from .catalog import Catalog, FileStat, fingerprint, load_catalog, scan
from .config import Settings, resolve_timezone, zone_name
from .procs import Owner, current_owner, run_alive
from .store import Outcome, Run, SQLiteStore, TaskRow, open_store

if TYPE_CHECKING:
    from .plan import Decision, Prior, TaskPlan
    from .runner import Job

UTC = timezone.utc
PRUNE_EVERY = timedelta(hours=1)


@dataclass
class TickReport:
    now: datetime
    decisions: list[Decision] = field(default_factory=list)
    outcomes: list[tuple[Job, Outcome]] = field(default_factory=list)
    abandoned: list[Run] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[tuple[Job, Outcome]]:
        return [(j, o) for j, o in self.outcomes if o.status != "success"]

    def counts(self) -> dict[str, int]:
        return {
            "due": len(self.decisions) + sum(1 for j, _ in self.outcomes if j.trigger == "retry"),
            "ran": len(self.outcomes),
            "skipped": sum(1 for d in self.decisions if d.action != "run"),
            "failed": len(self.failed),
        }


class Clock:
    """The tick's time: `--now` (or the real start) plus the real time elapsed since."""

    def __init__(self, now: datetime | None) -> None:
        self.start = (now or datetime.now(UTC)).astimezone(UTC)
        self.mono = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.mono)


def prior_of(row: TaskRow | None, running: int) -> Prior | None:
    from .plan import Prior

    if row is None:
        return None
    return Prior(
        schedule_key=row.schedule_key,
        enabled=row.enabled,
        cursor=row.cursor,
        invalid=row.error is not None,
        removed=row.removed_at is not None,
        running=running,
    )


def run_tick(settings: Settings, *, now: datetime | None = None, dry_run: bool = False) -> TickReport:
    clock = Clock(now)
    tz = resolve_timezone(settings)
    owner = current_owner()
    store = open_store(settings)
    try:
        files = scan(settings)
        report = TickReport(clock.start)
        if dry_run:
            catalog = load_catalog(settings, store, files=files, save=False)
            report.warnings = [*settings.warnings, *catalog.warnings()]
            report.invalid = [e.message for e in catalog.errors.values()]
            _decide(store, catalog, files, tz, clock.start, settings, owner, None, report, write=False)
            return report
        tick_id = store.start_tick(owner, clock.start, time.monotonic(), boottime())
        error = None
        try:
            # quiet only when nothing is due before the minute ends: a sub-minute slot in it is this tick's
            if not _quiet(store, files, tz, clock.start.replace(second=59, microsecond=999999)):
                catalog = load_catalog(settings, store, files=files, save=False)
                report.warnings = [*settings.warnings, *catalog.warnings()]
                report.invalid = [e.message for e in catalog.errors.values()]
                faults.point("before-claim")
                jobs = _decide(store, catalog, files, tz, clock.start, settings, owner, tick_id, report, write=True)
                faults.point("after-claim")
                _log_decisions(settings, report)
                from .subminute import start_loop  # every(N).seconds: serve this minute's slots too

                loop = start_loop(store, settings, catalog, tz, owner, tick_id, clock, report)
                try:
                    if jobs:
                        from .executor import Executor

                        Executor(store, settings, owner, tick_id, clock, report).run(jobs)
                finally:
                    if loop is not None:
                        loop.join()
            _maintain(store, settings, clock.start)  # decided on the tick's own time, as slots are
        except BaseException as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            store.finish_tick(tick_id, clock(), report.counts(), error)
            if settings.scheduler.ping_url:  # a dead-man's switch for the cron line; never raises
                from .monitor import ping_scheduler

                ping_scheduler(settings, error)
        return report
    finally:
        store.close()


def boottime() -> float | None:
    """CLOCK_BOOTTIME: like the monotonic clock, but it also counts time asleep (Linux)."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return None


def _quiet(store: SQLiteStore, files: list[FileStat], tz: tzinfo, now: datetime) -> bool:
    """True when nothing can be due: no task file changed, no run open, no slot at or before now."""
    catalog, zone, open_runs, invalid, earliest = store.quiet_facts()
    return (
        catalog == fingerprint(files)
        and zone == zone_name(tz)
        and not open_runs
        and not invalid
        and (earliest is None or earliest > now)
    )


def _decide(
    store: SQLiteStore,
    catalog: Catalog,
    files: list[FileStat],
    tz: tzinfo,
    now: datetime,
    settings: Settings,
    owner: Owner,
    tick_id: int | None,
    report: TickReport,
    *,
    write: bool,
) -> list[Job]:
    """Sync the catalog into the state and claim what is due, in one write transaction."""
    from .plan import plan_task
    from .schedule import compile_chain

    zone = zone_name(tz)
    jobs: list[Job] = []

    def body() -> None:
        rows = store.tasks()
        replan_all = store.meta("zone") != zone
        open_runs = store.open_runs() if rows else []
        running: dict[str, int] = {}
        for run in open_runs:
            if run.status != "running":
                continue
            if write and not run_alive(run.owner, run.lease_until, now):
                store.abandon(run.id, _abandon_reason(run), now)
                report.abandoned.append(run)
                continue
            running[run.task] = running.get(run.task, 0) + 1
        for name, spec in catalog.specs.items():
            row = rows.get(name)
            stale = row is None or name in catalog.changed or replan_all or row.removed_at or row.error
            if spec.schedule is None:
                if stale and write:
                    store.save_task(_row(spec.name, spec.title, None, spec.enabled, row, None, None, now))
                continue
            if not stale and row is not None and (row.next_slot is None or row.next_slot > now):
                continue
            schedule = compile_chain(spec.schedule, tz)
            plan = plan_task(
                spec,
                schedule,
                prior_of(row, running.get(name, 0)),
                now,
                max_catchup=settings.scheduler.max_catchup,
                paused=bool(row and row.paused),
            )
            report.decisions.extend(plan.decisions)
            if write:
                jobs.extend(_claim(store, spec, plan, owner, tick_id, now))
                store.save_task(_row(name, spec.title, schedule.key, spec.enabled, row, plan, None, now))
        for name, error in catalog.errors.items():
            row = rows.get(name)
            if write and (row is None or row.error != error.message or row.removed_at):
                store.save_task(_row(name, name, None, True, row, None, error.message, now))
        for name, row in rows.items():
            if write and name not in catalog.specs and name not in catalog.errors and row.removed_at is None:
                store.save_task(replace(row, removed_at=now, next_slot=None))
        if write:
            for run in open_runs:
                if run.status == "pending" and run.not_before is not None and run.not_before <= now:
                    job = _claim_retry(store, catalog, run, owner, tick_id, now)
                    if job:
                        jobs.append(job)
            if replan_all:
                store.set_meta("zone", zone)
            store.save_parse_cache(*catalog.cache_updates)
            store.set_meta("catalog", fingerprint(files))

    if write:
        with store.transaction():
            body()
    else:
        body()
    return jobs


def _row(
    name: str,
    title: str,
    key: str | None,
    enabled: bool,
    row: TaskRow | None,
    plan: TaskPlan | None,
    error: str | None,
    now: datetime,
) -> TaskRow:
    return TaskRow(
        name=name,
        title=title,
        schedule_key=key,
        enabled=enabled,
        paused=bool(row and row.paused),
        cursor=plan.cursor if plan else (row.cursor if row else None),
        next_slot=plan.next_slot if plan else None,
        seen_at=now if (row is None or (plan and plan.reseen)) else row.seen_at,
        removed_at=None,
        error=error,
    )


def _claim(
    store: SQLiteStore, spec: Any, plan: TaskPlan, owner: Owner, tick_id: int | None, now: datetime
) -> list[Job]:
    from .runner import Job

    jobs = []
    for d in plan.decisions:
        if d.action == "run":
            run_id = store.insert_run(d.task, d.slot, 1, d.trigger, "running", owner=owner, tick_id=tick_id, now=now)
            if run_id is not None:
                jobs.append(Job(run_id, spec, d.slot, 1, d.trigger))
        else:
            store.insert_run(d.task, d.slot, 1, d.trigger, "skipped", reason=d.reason, tick_id=tick_id, now=now)
    return jobs


def _claim_retry(
    store: SQLiteStore, catalog: Catalog, run: Run, owner: Owner, tick_id: int | None, now: datetime
) -> Job | None:
    spec = catalog.specs.get(run.task)
    if spec is None:  # the task was deleted or broken since it failed
        store.finish_run(run.id, Outcome("skipped", "retry dropped: the task is no longer valid", None, now, now, ""))
        return None
    if not store.claim_pending(run.id, owner, now, tick_id):
        return None
    from .runner import Job

    return Job(run.id, spec, run.slot, run.attempt, "retry")


def _abandon_reason(run: Run) -> str:
    owner = run.owner
    if owner is None:
        return "abandoned: no owner was recorded"
    return f"abandoned: the process that ran it (pid {owner.pid} on {owner.host}) is gone"


def _maintain(store: SQLiteStore, settings: Settings, now: datetime) -> None:
    """Prune old history once an hour; take an online backup every `database.backup_interval`."""
    last_prune = store.meta("pruned_at")
    if not last_prune or datetime.fromisoformat(last_prune) <= now - PRUNE_EVERY:
        with store.transaction():
            store.prune(now - timedelta(days=settings.scheduler.history_days))
            store.set_meta("pruned_at", now.isoformat())
    interval = settings.database.backup_interval
    last_backup = store.meta("backup_at")
    if interval and (not last_backup or datetime.fromisoformat(last_backup) <= now - timedelta(seconds=interval)):
        from .store import backups_dir

        with store.transaction():  # one tick takes it; the others see the new time
            last = store.meta("backup_at")
            if last and last != last_backup:
                return
            store.set_meta("backup_at", now.isoformat())
        path = store.backup(backups_dir(settings), settings.database.backup_keep, now)
        _log(settings, "INFO", f"state backed up to {path}")


def _log(settings: Settings, level: str, message: str) -> None:
    if logfiles.level_enabled(level, settings.logging):
        logfiles.append(
            settings.logs_dir, settings.logging.file, logfiles.format_line(level, None, message), settings.logging
        )


def _log_decisions(settings: Settings, report: TickReport) -> None:
    for warning in report.warnings:
        _log(settings, "WARNING", warning)
    for message in report.invalid:
        _log(settings, "ERROR", f"invalid task: {message}")
    for run in report.abandoned:
        _log(settings, "WARNING", f"{run.task}: run {run.id} (slot {run.slot.isoformat()}) {_abandon_reason(run)}")
    for d in report.decisions:
        if d.action == "run":
            _log(settings, "INFO", f"{d.task}: run slot {d.slot.isoformat()} ({d.trigger})")
        else:
            _log(settings, "INFO", f"{d.task}: skip slot {d.slot.isoformat()}: {d.reason}")
