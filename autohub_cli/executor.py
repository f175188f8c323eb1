"""Running the jobs a tick claimed: tasks in parallel up to max_parallel, one task's slots in order.

A failed run with retries left gets a `pending` retry row; when that retry falls due within the
tick's own minute this process waits for it, otherwise a later tick takes it from the state.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from . import faults, logfiles
from .runner import Job, execute
from .store import FAILED, Outcome

if TYPE_CHECKING:
    from .config import Settings
    from .procs import Owner
    from .store import SQLiteStore
    from .tick import Clock, TickReport

RETRY_WINDOW = 50.0  # seconds of a tick's own minute in which it waits for a retry itself
HEARTBEAT_SECONDS = 30.0


class Executor:
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
            # plain threads pulling task groups off a list: concurrent.futures would cost the tick ~20 ms
            # of imports (it pulls in logging) before the first child starts
            pending = list(groups.values())
            errors: list[BaseException] = []

            def worker() -> None:
                while True:
                    with self.lock:
                        if not pending:
                            return
                        group = pending.pop(0)
                    try:
                        self._run_group(group)
                    except BaseException as exc:  # noqa: BLE001 - re-raised in the tick's thread below
                        with self.lock:
                            errors.append(exc)

            count = max(1, min(self.settings.scheduler.max_parallel, len(pending)))
            threads = [threading.Thread(target=worker, name=f"autohub-run-{i}") for i in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if errors:
                raise errors[0]
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
        from . import monitor  # pings and failure notifications: neither call ever raises

        watch = monitor.run_started(self.settings, job)
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
        faults.point("before-finish")
        self.store.finish_run(job.run_id, outcome)
        with self.lock:
            self.report.outcomes.append((job, outcome))
        log_outcome(self.settings, job, outcome)
        monitor.run_finished(watch, self.store, outcome)
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


def log_outcome(settings: Settings, job: Job, outcome: Outcome) -> None:
    seconds = (outcome.finished_at - outcome.started_at).total_seconds()
    level = "INFO" if outcome.status == "success" else "ERROR"
    detail = f": {outcome.reason}" if outcome.reason else ""
    if logfiles.level_enabled(level, settings.logging):
        message = f"{job.spec.name}: run {job.run_id} {outcome.status} in {seconds:.2f} s{detail}"
        logfiles.append(
            settings.logs_dir, settings.logging.file, logfiles.format_line(level, None, message), settings.logging
        )
