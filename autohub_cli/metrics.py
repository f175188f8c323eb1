"""`autohub metrics`: the state as Prometheus text, for node_exporter's textfile collector.

Every number comes from the state database and the task files, read-only, at the moment the
command runs: run it from cron (or `autohub work`'s own task) every minute with
`--textfile /var/lib/node_exporter/textfile_collector/autohub.prom`. The file is replaced
atomically (written beside it under a name node_exporter ignores, then renamed), so a scrape
never sees half of it.

Run counts are gauges, not counters: they count the runs the kept history holds
(`scheduler.history_days`), and pruning lowers them, which a counter must never do.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc
PREFIX = "autohub"
STATUSES = ("success", "failed", "timeout", "killed", "crashed", "abandoned", "skipped")  # always present
TICKS_EXAMINED = 20


@dataclass
class Family:
    """One metric: its name, type, help text and samples (labels, value)."""

    name: str
    kind: str  # gauge | counter | info ...
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> None:
        self.samples.append((labels, float(value)))


def collect(settings: Any, *, now: datetime | None = None) -> list[Family]:
    """Read the state and the task files (writing nothing) into metric families."""
    from .catalog import Catalog, CatalogError, load_catalog
    from .config import resolve_timezone
    from .status import task_rows
    from .store import open_store

    now = (now or datetime.now(UTC)).astimezone(UTC)
    tz = resolve_timezone(settings)
    store = open_store(settings)
    try:
        try:
            catalog = load_catalog(settings, store, save=False)
        except CatalogError:
            catalog = Catalog({}, {})
        tasks = task_rows(store, catalog, settings, tz, now)
        counts = store.run_counts()
        finished = store.last_finished()
        succeeded = store.last_finished("success")
        ticks = store.last_ticks(TICKS_EXAMINED)
    finally:
        store.close()

    def family(name: str, kind: str, text: str) -> Family:
        return Family(f"{PREFIX}_{name}", kind, text)

    info = family("task_info", "gauge", "1 for each task; its title, state (enabled, disabled, paused, invalid, "
                  "manual, removed) and schedule are labels.")
    enabled = family("task_enabled", "gauge", "1 when the task runs on its schedule (valid, enabled, not paused).")
    last_success = family(
        "task_last_success_timestamp_seconds", "gauge", "When the task's newest successful run finished (Unix time)."
    )
    last_run = family("task_last_run_timestamp_seconds", "gauge", "When the task's newest run finished (Unix time).")
    last_duration = family("task_last_duration_seconds", "gauge", "How long the task's newest finished run took.")
    last_ok = family("task_last_run_success", "gauge", "1 when the task's newest finished run succeeded, else 0.")
    runs = family(
        "task_runs", "gauge", "Runs and skipped slots in the kept history (scheduler.history_days), by status."
    )
    streak = family("task_failure_streak", "gauge", "Runs that failed in a row since the task's last success.")
    overdue = family(
        "task_overdue_slots", "gauge", "Slots older than the current minute that no tick has handled yet."
    )
    overdue_for = family(
        "task_overdue_seconds", "gauge", "How long the oldest unhandled slot has been due (0 when none is)."
    )
    running = family("task_running", "gauge", "1 while a run of the task is running.")
    next_slot = family("task_next_slot_timestamp_seconds", "gauge", "The task's next slot (Unix time).")
    states: dict[str, int] = {}

    for t in tasks:
        name = t.name
        states[t.state] = states.get(t.state, 0) + 1
        info.add(1, task=name, title=t.title, state=t.state, schedule=t.schedule or "")
        enabled.add(1 if t.state == "enabled" else 0, task=name)
        success = succeeded.get(name)
        if success is not None and success.finished_at is not None:
            last_success.add(_unix(success.finished_at), task=name)
        run = finished.get(name)
        if run is not None and run.finished_at is not None:
            last_run.add(_unix(run.finished_at), task=name)
            last_ok.add(1 if run.status == "success" else 0, task=name)
            if run.duration is not None:
                last_duration.add(run.duration, task=name)
        by_status = counts.get(name, {})
        for status in sorted({*STATUSES, *by_status}):
            runs.add(by_status.get(status, 0), task=name, status=status)
        streak.add(t.failure_streak, task=name)
        overdue.add(t.overdue, task=name)
        overdue_for.add(max(0.0, (now - t.overdue_since).total_seconds()) if t.overdue_since else 0, task=name)
        running.add(1 if t.running else 0, task=name)
        if t.next_slot is not None:
            next_slot.add(_unix(t.next_slot), task=name)

    task_states = family("tasks", "gauge", "Tasks by state.")
    for state in sorted({"enabled", "disabled", "paused", "invalid", "manual", "removed", *states}):
        task_states.add(states.get(state, 0), state=state)

    last_tick = family("scheduler_last_tick_timestamp_seconds", "gauge", "When the newest tick started (Unix time).")
    tick_duration = family(
        "scheduler_last_tick_duration_seconds", "gauge", "How long the newest finished tick took, its runs included."
    )
    tick_ok = family("scheduler_last_tick_success", "gauge", "1 when the newest finished tick ended without an error.")
    tick_end = family(
        "scheduler_last_tick_finished_timestamp_seconds", "gauge", "When the newest finished tick ended (Unix time)."
    )
    if ticks:
        last_tick.add(_unix(ticks[0].started_at))
    done = next((t for t in ticks if t.finished_at is not None), None)
    if done is not None and done.finished_at is not None:
        tick_duration.add(max(0.0, (done.finished_at - done.started_at).total_seconds()))
        tick_end.add(_unix(done.finished_at))
        tick_ok.add(0 if done.error else 1)
    return [
        info,
        enabled,
        last_success,
        last_run,
        last_duration,
        last_ok,
        runs,
        streak,
        overdue,
        overdue_for,
        running,
        next_slot,
        task_states,
        last_tick,
        tick_end,
        tick_duration,
        tick_ok,
    ]


def _unix(dt: datetime) -> float:
    return dt.timestamp()


# --- the text format ----------------------------------------------------------------------------


def render(families: Iterable[Family]) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines = []
    for f in families:
        lines.append(f"# HELP {f.name} {_escape_help(f.help)}")
        lines.append(f"# TYPE {f.name} {f.kind}")
        for labels, value in f.samples:
            inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            lines.append(f"{f.name}{{{inner}}} {_number(value)}" if inner else f"{f.name} {_number(value)}")
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def write_atomically(path: Path, text: str) -> None:
    """Write beside `path` under a name node_exporter does not read, then rename over it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
