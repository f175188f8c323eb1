"""Sub-minute slots (`every(N).seconds`): the tick stays alive to the end of its minute and serves them.

Cron starts a tick once a minute; a task with slots every N seconds needs someone there in between.
As in Laravel's scheduler, the tick that finds such a task does not exit after its first decisions:
a thread (`SubMinuteLoop`) sleeps until the next slot of any sub-minute task, claims what is due
then, hands the claimed runs to an `Executor` of their own, and repeats until the next slot falls in
the next minute, which is the next tick's. The tick then waits for those runs as for its others.

Each wave decides exactly as the tick does (`plan.plan_task` from the stored cursor) inside one
`BEGIN IMMEDIATE` transaction, and claims through the same unique `(task, slot, attempt)` row: any
number of ticks racing through the same minute, on one host or several, run each slot once.
Slots a wave arrives too late for are decided by the task's `catchup`, as missed minutes are.

A disabled or paused task, or one whose file changed, is left to the next tick, which records its
slots (skipped, with the reason) in one go. Under `autohub work`, a tick stops claiming new slots
once the file named in `$AUTOHUB_STOP_FILE` exists.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import logfiles

if TYPE_CHECKING:
    from .catalog import Catalog
    from .config import Settings
    from .plan import Decision
    from .procs import Owner
    from .runner import Job
    from .schedule import Schedule
    from .spec import TaskSpec
    from .store import SQLiteStore
    from .tick import Clock, TickReport

SECOND_UNITS = ("second", "seconds")
STOP_FILE_ENV = "AUTOHUB_STOP_FILE"  # set by `autohub work` for its ticks (see work.py)


def has_seconds(chain: Any) -> bool:
    """Whether a schedule chain is `every(...).second(s)`, read without compiling it."""
    return bool(chain) and chain[0][0] == "every" and len(chain) > 1 and chain[1][0] in SECOND_UNITS


def minute_end(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0) + timedelta(minutes=1)


def start_loop(
    store: SQLiteStore,
    settings: Settings,
    catalog: Catalog,
    tz: Any,
    owner: Owner,
    tick_id: int,
    clock: Clock,
    report: TickReport,
) -> SubMinuteLoop | None:
    """Start serving this minute's sub-minute slots; None when no enabled task has any."""
    from .schedule import compile_chain

    candidates = [
        spec
        for _, spec in sorted(catalog.specs.items())
        if spec.enabled and spec.schedule is not None and has_seconds(spec.schedule)
    ]
    if not candidates:
        return None
    rows = store.tasks()
    tasks = [
        (spec, compile_chain(spec.schedule, tz))  # type: ignore[arg-type]
        for spec in candidates
        if not (spec.name in rows and rows[spec.name].paused)
    ]
    if not tasks:
        return None
    loop = SubMinuteLoop(store, settings, tasks, owner, tick_id, clock, report, minute_end(clock.start))
    loop.start()
    return loop


class SubMinuteLoop(threading.Thread):
    def __init__(
        self,
        store: SQLiteStore,
        settings: Settings,
        tasks: list[tuple[TaskSpec, Schedule]],
        owner: Owner,
        tick_id: int,
        clock: Clock,
        report: TickReport,
        until: datetime,
    ) -> None:
        super().__init__(name="autohub-subminute", daemon=True)
        self.store = store
        self.settings = settings
        self.tasks = tasks
        self.owner = owner
        self.tick_id = tick_id
        self.clock = clock
        self.report = report
        self.until = until  # the next minute's start: its slots are the next tick's
        self.waves: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self.wake = threading.Event()

    def run(self) -> None:
        try:
            self._serve()
        except BaseException as exc:  # noqa: BLE001 - reported by join() in the tick's thread
            self.errors.append(exc)
        finally:
            for wave in self.waves:
                wave.join()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the loop and every run it started; re-raise what went wrong in it."""
        super().join(timeout)
        if self.errors:
            raise self.errors[0]

    def _serve(self) -> None:
        after = self.clock.start  # the tick's own decisions covered every slot up to its start
        while True:
            due = min(schedule.next_after(after) for _, schedule in self.tasks)
            if due >= self.until:
                return
            delay = (due - self.clock()).total_seconds()
            if delay > 0 and self.wake.wait(delay):
                return
            if _stop_requested():
                _log(self.settings, "INFO", "sub-minute slots: autohub work is stopping; no more are claimed")
                return
            now = min(max(self.clock(), due), self.until - timedelta(microseconds=1))
            jobs = self._claim(now)
            if jobs:
                wave = threading.Thread(target=self._run_wave, args=(jobs,), name="autohub-wave", daemon=True)
                self.waves.append(wave)
                wave.start()
            after = due  # a slot that passed meanwhile still wakes the loop; catchup decides it

    def _claim(self, now: datetime) -> list[Job]:
        """What is due at `now` for the sub-minute tasks, claimed in one write transaction."""
        from .plan import plan_task
        from .procs import run_alive
        from .tick import _claim, _row, prior_of

        jobs: list[Job] = []
        decisions: list[Decision] = []
        with self.store.transaction():
            rows = self.store.tasks()
            running: dict[str, int] = {}
            for run in self.store.open_runs():
                if run.status == "running" and run_alive(run.owner, run.lease_until, now):
                    running[run.task] = running.get(run.task, 0) + 1
            for spec, schedule in self.tasks:
                row = rows.get(spec.name)
                if (
                    row is None
                    or row.removed_at is not None
                    or row.error is not None
                    or row.paused
                    or row.schedule_key != schedule.key
                    or row.next_slot is None
                    or row.next_slot > now
                ):
                    continue  # not due, or the next tick's to decide
                plan = plan_task(
                    spec,
                    schedule,
                    prior_of(row, running.get(spec.name, 0)),
                    now,
                    max_catchup=self.settings.scheduler.max_catchup,
                    paused=row.paused,
                )
                decisions.extend(plan.decisions)
                jobs.extend(_claim(self.store, spec, plan, self.owner, self.tick_id, now))
                self.store.save_task(_row(spec.name, spec.title, schedule.key, spec.enabled, row, plan, None, now))
        self.report.decisions.extend(decisions)
        for d in decisions:
            if d.action == "run":
                _log(self.settings, "INFO", f"{d.task}: run slot {d.slot.isoformat()} ({d.trigger})")
            else:
                _log(self.settings, "INFO", f"{d.task}: skip slot {d.slot.isoformat()}: {d.reason}")
        return jobs

    def _run_wave(self, jobs: list[Job]) -> None:
        from .executor import Executor

        try:
            Executor(self.store, self.settings, self.owner, self.tick_id, self.clock, self.report).run(jobs)
        except BaseException as exc:  # noqa: BLE001 - reported by join() in the tick's thread
            self.errors.append(exc)


def _stop_requested() -> bool:
    path = os.environ.get(STOP_FILE_ENV)
    return bool(path) and os.path.exists(path)  # type: ignore[arg-type]


def _log(settings: Settings, level: str, message: str) -> None:
    if logfiles.level_enabled(level, settings.logging):
        logfiles.append(
            settings.logs_dir, settings.logging.file, logfiles.format_line(level, None, message), settings.logging
        )
