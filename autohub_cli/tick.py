"""`autohub tick`: load, decide, claim, run, record, exit.

The decisions come from `plan.plan_task` (pure); this module is the imperative shell around it:
it syncs the catalog into the state, claims slots inside one write transaction (so racing ticks
run each slot once), runs the claimed jobs in parallel and records how they ended.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from . import logfiles
from .catalog import Catalog, load_catalog
from .config import Settings, resolve_timezone
from .plan import RUN, Decision, Prior, TaskPlan, plan_task
from .procs import Owner, current_owner, run_alive
from .runner import Job, execute
from .schedule import compile_chain
from .store import FAILED, Outcome, Run, SQLiteStore, TaskRow, open_store

UTC = timezone.utc
RETRY_WINDOW = 50.0  # seconds of a tick's own minute in which it waits for a retry itself
HEARTBEAT_SECONDS = 30.0
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
            "skipped": sum(1 for d in self.decisions if d.action != RUN),
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
        catalog = load_catalog(settings, store, save=not dry_run)
        report = TickReport(clock.start, warnings=[*settings.warnings, *catalog.warnings()])
        report.invalid = [e.message for e in catalog.errors.values()]
        if dry_run:
            _decide(store, catalog, tz, clock.start, settings, owner, None, report, write=False)
            return report
        tick_id = store.start_tick(owner, clock.start, time.monotonic())
        error = None
        try:
            jobs = _decide(store, catalog, tz, clock.start, settings, owner, tick_id, report, write=True)
            _log_decisions(settings, report)
            _Executor(store, settings, owner, tick_id, clock, report).run(jobs)
            _maintain(store, settings, clock())
        except BaseException as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            store.finish_tick(tick_id, clock(), report.counts(), error)
        return report
    finally:
        store.close()


def _decide(
    store: SQLiteStore,
    catalog: Catalog,
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
    zone = str(getattr(tz, "key", tz))
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
    jobs = []
    for d in plan.decisions:
        if d.action == RUN:
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
    return Job(run.id, spec, run.slot, run.attempt, "retry")


def _abandon_reason(run: Run) -> str:
    owner = run.owner
    if owner is None:
        return "abandoned: no owner was recorded"
    return f"abandoned: the process that ran it (pid {owner.pid} on {owner.host}) is gone"


class _Executor:
    """Runs the claimed jobs: tasks in parallel up to max_parallel, one task's slots in order."""

    def __init__(
        self, store: SQLiteStore, settings: Settings, owner: Owner, tick_id: int, clock: Clock, report: TickReport
    ) -> None:
        self.store = store
        self.settings = settings
        self.owner = owner
        self.tick_id = tick_id
        self.clock = clock
        self.report = report
        self.active: set[int] = set()
        self.lock = threading.Lock()
        self.deadline = clock.start + timedelta(seconds=RETRY_WINDOW)

    def run(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        groups: dict[str, list[Job]] = {}
        for job in sorted(jobs, key=lambda j: j.slot):
            groups.setdefault(job.spec.name, []).append(job)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop,), daemon=True)
        beat.start()
        try:
            workers = max(1, min(self.settings.scheduler.max_parallel, len(groups)))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="autohub-run") as pool:
                for future in [pool.submit(self._run_group, group) for group in groups.values()]:
                    future.result()
        finally:
            stop.set()

    def _run_group(self, group: list[Job]) -> None:
        for job in group:
            next_job: Job | None = job
            while next_job is not None:
                next_job = self._run_one(next_job)

    def _run_one(self, job: Job) -> Job | None:
        """Run a job; when it failed and may retry within this tick's window, wait and return the retry."""
        with self.lock:
            self.active.add(job.run_id)
        try:
            outcome = execute(
                job,
                self.settings,
                clock=self.clock,
                on_start=lambda pid: self.store.mark_started(job.run_id, pid, self.clock()),
            )
        finally:
            with self.lock:
                self.active.discard(job.run_id)
        self.store.finish_run(job.run_id, outcome)
        with self.lock:
            self.report.outcomes.append((job, outcome))
        _log_outcome(self.settings, job, outcome)
        if outcome.status not in FAILED or job.attempt > job.spec.retry_count:
            return None
        not_before = outcome.finished_at + timedelta(seconds=job.spec.retry_delay)
        with self.store.transaction():
            retry_id = self.store.insert_run(
                job.spec.name,
                job.slot,
                job.attempt + 1,
                "retry",
                "pending",
                not_before=not_before,
                tick_id=self.tick_id,
            )
        if retry_id is None or not_before > self.deadline:
            return None  # a later tick takes it: the retry is in the state, not in this process
        time.sleep(max(0.0, (not_before - self.clock()).total_seconds()))
        now = self.clock()
        if not self.store.claim_pending(retry_id, self.owner, now, self.tick_id):
            return None
        return Job(retry_id, job.spec, job.slot, job.attempt + 1, "retry")

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with self.lock:
                ids = list(self.active)
            try:
                self.store.heartbeat(ids, self.clock())
            except Exception as exc:  # noqa: BLE001 - a missed heartbeat must not stop the runs
                logfiles.append(
                    self.settings.logs_dir,
                    "scheduler.log",
                    logfiles.format_line("WARNING", None, f"heartbeat failed: {exc}"),
                    self.settings.logging,
                )


def _maintain(store: SQLiteStore, settings: Settings, now: datetime) -> None:
    """Prune old history once an hour."""
    last = store.meta("pruned_at")
    if last and datetime.fromisoformat(last) > now - PRUNE_EVERY:
        return
    with store.transaction():
        store.prune(now - timedelta(days=settings.scheduler.history_days))
        store.set_meta("pruned_at", now.isoformat())


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
        if d.action == RUN:
            _log(settings, "INFO", f"{d.task}: run slot {d.slot.isoformat()} ({d.trigger})")
        else:
            _log(settings, "INFO", f"{d.task}: skip slot {d.slot.isoformat()}: {d.reason}")


def _log_outcome(settings: Settings, job: Job, outcome: Outcome) -> None:
    seconds = (outcome.finished_at - outcome.started_at).total_seconds()
    level = "INFO" if outcome.status == "success" else "ERROR"
    detail = f": {outcome.reason}" if outcome.reason else ""
    _log(settings, level, f"{job.spec.name}: run {job.run_id} {outcome.status} in {seconds:.2f} s{detail}")
