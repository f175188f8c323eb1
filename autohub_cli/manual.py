"""`autohub run TASK`: one run now, in the foreground, recorded with trigger `manual`.

A manual run has its own row (it never takes a slot's place) and the same limits as a scheduled one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .catalog import load_catalog
from .procs import current_owner, run_alive
from .runner import Job, LineSink, execute
from .store import Outcome, open_store

UTC = timezone.utc


class RunRefused(Exception):
    """The run was not started; the message says why."""


def run_now(settings: Any, task: str, *, force: bool = False, echo: LineSink | None = None) -> Outcome:
    store = open_store(settings)
    try:
        catalog = load_catalog(settings, store)
        spec = catalog.specs.get(task)
        if spec is None:
            if task in catalog.errors:
                raise RunRefused(f"{task} is invalid: {catalog.errors[task].message}")
            raise RunRefused(f"unknown task {task!r}; known tasks: {', '.join(catalog.names()) or '(none)'}")
        now = datetime.now(UTC)
        busy = [
            r
            for r in store.open_runs()
            if r.task == task and r.status == "running" and run_alive(r.owner, r.lease_until, now)
        ]
        if busy and not force:
            ids = ", ".join(str(r.id) for r in busy)
            raise RunRefused(f"{task} is running (run {ids}); wait for it, or pass --force to run another at once")
        owner = current_owner()
        with store.transaction():
            run_id = store.insert_run(task, now, 1, "manual", "running", owner=owner, now=now)
        assert run_id is not None  # manual rows are outside the claim index
        job = Job(run_id, spec, now, 1, "manual")
        outcome = execute(
            job,
            settings,
            clock=lambda: datetime.now(UTC),
            echo=echo,
            on_start=lambda pid: store.mark_started(run_id, pid, datetime.now(UTC)),
        )
        store.finish_run(run_id, outcome)
        return outcome
    finally:
        store.close()
