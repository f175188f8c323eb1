"""`autohub status` as data: the scheduler's own health first, then one row per task.

The trigger is the weak point of a scheduler without a daemon: a removed crontab line or a stopped
cron daemon makes everything silently stop. So the health comes first: the last tick, the cron
line, and a loud warning when no tick ran for more than `STALE` while tasks are scheduled.

Ticks record three clocks: the wall clock, the monotonic clock (which stops while the host is
suspended, and is never stepped) and the boot id. Comparing consecutive ticks of one host:

- another boot id: the host rebooted (was off, or restarted) in between;
- same boot, wall time advanced more than monotonic time: the host slept, or the wall clock was
  stepped forward (told apart by the time asleep between the two ticks, from the CLOCK_BOOTTIME each
  tick records; for ticks without it, by the host's total time asleep since boot);
- same boot, wall time advanced less than monotonic time: the wall clock was stepped back;
- same boot, both advanced alike but by more than `STALE`: the host was up and no tick ran (the
  trigger failed: crontab line removed, cron stopped, or the tick itself failing).

Everything per task is replayed through `plan.plan_task`, the function the tick uses: the next
slot, the overdue slots and what the next tick will do are what the tick will actually do.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

from .plan import Decision

UTC = timezone.utc
STALE = timedelta(minutes=2)  # no tick for longer than this while tasks are scheduled: loud warning
CLOCK_TOLERANCE = 5.0  # seconds of disagreement between the wall and monotonic clocks that count as noise
TICKS_EXAMINED = 60


# --- the scheduler's health ------------------------------------------------------------------


@dataclass(frozen=True)
class Mark:
    """One instant as a tick (or this process) saw it."""

    wall: datetime
    mono: float
    boot_id: str
    host: str
    tick_id: int | None = None  # None: this process, now
    boottime: float | None = None  # CLOCK_BOOTTIME: monotonic time plus time asleep


@dataclass(frozen=True)
class ClockEvent:
    kind: str  # reboot | suspend | clock-forward | clock-back | no-ticks
    host: str
    since: datetime  # wall time of the earlier tick
    until: datetime  # wall time of the later tick (or now)
    seconds: float  # the length of the gap, or of the jump
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "host": self.host,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "seconds": round(self.seconds, 1),
            "message": self.message,
        }


def clock_events(
    marks: list[Mark],
    *,
    current_boot: str | None = None,
    asleep_since_boot: float | None = None,
    tolerance: float = CLOCK_TOLERANCE,
    stale: timedelta = STALE,
) -> list[ClockEvent]:
    """What happened between consecutive marks of each host, oldest first. Pure.

    `asleep_since_boot` is how long the host running this has been suspended since `current_boot`
    (CLOCK_BOOTTIME - CLOCK_MONOTONIC): a forward disagreement larger than that cannot be sleep.
    """
    events: list[ClockEvent] = []
    by_host: dict[str, list[Mark]] = {}
    for mark in marks:
        by_host.setdefault(mark.host, []).append(mark)
    for seq in by_host.values():
        seq.sort(key=lambda m: (m.tick_id is None, m.tick_id or 0))
        for a, b in pairwise(seq):
            event = _between(a, b, current_boot, asleep_since_boot, tolerance, stale)
            if event is not None:
                events.append(event)
    events.sort(key=lambda e: e.until)
    return events


def _between(
    a: Mark, b: Mark, current_boot: str | None, asleep: float | None, tolerance: float, stale: timedelta
) -> ClockEvent | None:
    wall = (b.wall - a.wall).total_seconds()
    now = b.tick_id is None
    later = "now" if now else "the next tick"

    def event(kind: str, seconds: float, message: str) -> ClockEvent:
        return ClockEvent(kind, a.host, a.wall, b.wall, seconds, message)

    if a.boot_id != b.boot_id:
        return event(
            "reboot",
            wall,
            f"{a.host} rebooted between the tick of {_short(a.wall)} and {later}: it was off or restarting "
            f"(up to {human_duration(wall)} without ticks)",
        )
    drift = wall - (b.mono - a.mono)
    tolerance += abs(wall) * 0.001  # NTP slews the wall clock by up to 0.05 %: no event in that
    if drift < -tolerance:
        return event(
            "clock-back",
            -drift,
            f"the wall clock of {a.host} was set back by {human_duration(-drift)} between the tick of "
            f"{_short(a.wall)} and {later}; slots already handled are not run again",
        )
    if drift > tolerance:
        if a.boottime is not None and b.boottime is not None:  # exact: how long the host slept in between
            asleep, current_boot = (b.boottime - a.boottime) - (b.mono - a.mono), a.boot_id
        if asleep is not None and a.boot_id == current_boot and asleep + tolerance >= drift:
            return event(
                "suspend",
                drift,
                f"{a.host} was suspended (asleep) for about {human_duration(drift)} between the tick of "
                f"{_short(a.wall)} and {later}",
            )
        return event(
            "clock-forward",
            drift,
            f"the wall clock of {a.host} jumped forward by {human_duration(drift)} between the tick of "
            f"{_short(a.wall)} and {later}" + ("" if asleep is None else " (more than the host has slept since boot)"),
        )
    if wall > stale.total_seconds() + tolerance and not now:
        return event(
            "no-ticks",
            wall,
            f"no tick ran for {human_duration(wall)} after {_short(a.wall)} while {a.host} was up: "
            "the trigger did not run `autohub tick` (crontab line, cron daemon, or the tick failing early)",
        )
    return None


def asleep_since_boot() -> float | None:
    """Seconds this host has been suspended since boot (Linux), None where it cannot be known."""
    try:
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - time.clock_gettime(time.CLOCK_MONOTONIC))
    except (AttributeError, OSError):
        return None


@dataclass(frozen=True)
class TickInfo:
    id: int
    started_at: datetime
    finished_at: datetime | None
    host: str
    pid: int
    ago: float  # seconds from its start to now (negative: in the future)
    duration: float | None
    state: str  # finished | failed | running | died
    error: str | None
    counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "ago_seconds": round(self.ago, 1),
            "host": self.host,
            "pid": self.pid,
            "duration": None if self.duration is None else round(self.duration, 3),
            "state": self.state,
            "error": self.error,
            "counts": self.counts,
        }


@dataclass(frozen=True)
class Health:
    now: datetime
    last_tick: TickInfo | None
    cron: Any  # crontab.CronState | None (None: not checked)
    scheduled: int  # tasks that would run now (valid, enabled, not paused, with a schedule)
    warnings: tuple[str, ...]
    events: tuple[ClockEvent, ...]

    @property
    def healthy(self) -> bool:
        return not self.warnings

    def to_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "last_tick": None if self.last_tick is None else self.last_tick.to_json(),
            "cron": None if self.cron is None else self.cron.to_json(),
            "scheduled_tasks": self.scheduled,
            "warnings": list(self.warnings),
            "clock_events": [e.to_json() for e in self.events],
        }


# --- per task ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskStatus:
    name: str
    title: str
    schedule: str | None  # the expression, e.g. every(10).minutes
    schedule_words: str  # e.g. every 10 minutes at :00, :10, :20, :30 …
    state: str  # enabled | disabled | paused | invalid | manual | removed
    why: str | None
    last_run: Any  # store.Run | None
    running: bool
    next_slot: datetime | None
    failure_streak: int
    overdue: int  # slots older than the current minute that no tick has handled yet
    overdue_since: datetime | None
    next_tick: tuple[Decision, ...] = field(default=())  # what a tick now would decide, replayed

    def to_json(self) -> dict[str, Any]:
        run = self.last_run
        return {
            "name": self.name,
            "title": self.title,
            "schedule": self.schedule,
            "schedule_words": self.schedule_words,
            "state": self.state,
            "why": self.why,
            "last_run": None if run is None else run.to_json(),
            "running": self.running,
            "next_slot": None if self.next_slot is None else self.next_slot.isoformat(),
            "failure_streak": self.failure_streak,
            "overdue": self.overdue,
            "overdue_since": None if self.overdue_since is None else self.overdue_since.isoformat(),
            "next_tick": [
                {"slot": d.slot.isoformat(), "action": d.action, "trigger": d.trigger, "reason": d.reason}
                for d in self.next_tick
            ],
        }


@dataclass(frozen=True)
class StatusReport:
    now: datetime
    root: str
    timezone: str
    health: Health
    tasks: tuple[TaskStatus, ...]
    warnings: tuple[str, ...]  # config and task-file warnings

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "project": self.root,
            "timezone": self.timezone,
            "scheduler": self.health.to_json(),
            "tasks": [t.to_json() for t in self.tasks],
            "warnings": list(self.warnings),
        }


# --- collecting -------------------------------------------------------------------------------


def collect(settings: Any, *, now: datetime | None = None, check_cron: bool = True) -> StatusReport:
    """Read the state, the task files and the crontab; write nothing."""
    from .catalog import Catalog, CatalogError, load_catalog
    from .config import resolve_timezone
    from .store import open_store

    real_now = now is None
    now = (now or datetime.now(UTC)).astimezone(UTC)
    tz = resolve_timezone(settings)
    warnings = list(settings.warnings)
    store = open_store(settings)
    try:
        try:
            catalog = load_catalog(settings, store, save=False)
        except CatalogError as exc:
            warnings.append(str(exc))
            catalog = Catalog({}, {})
        warnings.extend(catalog.warnings())
        tasks = task_rows(store, catalog, settings, tz, now)
        ticks = store.last_ticks(TICKS_EXAMINED)
    finally:
        store.close()
    cron = None
    if check_cron:
        from . import crontab

        cron = crontab.read_state(settings)
    scheduled = sum(1 for t in tasks if t.state == "enabled")
    health = assess(ticks, now, cron=cron, scheduled=scheduled, real_now=real_now)
    return StatusReport(now, str(settings.root), str(getattr(tz, "key", tz)), health, tuple(tasks), tuple(warnings))


def assess(ticks: list[Any], now: datetime, *, cron: Any, scheduled: int, real_now: bool) -> Health:
    """The scheduler's health from its newest ticks (newest first, as `Store.last_ticks` gives them)."""
    from .procs import boot_id, hostname

    warnings: list[str] = []
    last = ticks[0] if ticks else None
    info = _tick_info(last, now) if last else None
    marks = [
        Mark(t.started_at, t.monotonic, t.boot_id, t.host, t.id, getattr(t, "boottime", None)) for t in reversed(ticks)
    ]
    here = hostname()
    if real_now:  # this process is a witness of "now" for its own host
        from .tick import boottime

        marks.append(Mark(now, time.monotonic(), boot_id(), here, None, boottime()))
    events = clock_events(
        marks, current_boot=boot_id() if real_now else None, asleep_since_boot=asleep_since_boot() if real_now else None
    )
    cron_hint = _cron_hint(cron)
    if info is None:
        if scheduled:
            warnings.append(
                f"NO TICK HAS EVER RUN, and {scheduled} task(s) are scheduled: nothing runs until something "
                f"starts `autohub tick` every minute. {cron_hint}"
            )
    else:
        stale = now - info.started_at
        if stale > STALE and scheduled:
            warnings.append(
                f"NO TICK FOR {human_duration(stale.total_seconds()).upper()} (last at {_short(info.started_at)} on "
                f"{info.host}), and {scheduled} task(s) are scheduled: scheduled tasks are not running. {cron_hint}"
            )
        elif stale < -timedelta(seconds=CLOCK_TOLERANCE):
            warnings.append(
                f"the last tick is recorded {human_duration(-stale.total_seconds())} in the future "
                f"({_short(info.started_at)} on {info.host}): this clock is behind the one that ticked, or was set back"
            )
        if info.state == "failed":
            warnings.append(f"the last tick failed: {info.error}; see logs/cron.log and logs/scheduler.log")
        elif info.state == "died":
            warnings.append(
                f"the last tick (pid {info.pid} on {info.host}) never finished: it was killed or the host went down"
            )
    return Health(now, info, cron, scheduled, tuple(warnings), tuple(events))


def _cron_hint(cron: Any) -> str:
    if cron is None:
        return "Check the trigger: `autohub cron show`, `autohub doctor`."
    if not cron.available:
        return f"No crontab could be read ({cron.error}): install cron, or use `autohub cron systemd`."
    if not cron.installed:
        return "The cron line is NOT installed: run `autohub cron install` (or `autohub cron systemd`)."
    if cron.daemon_running is False:
        return "The cron line is installed but the cron daemon is NOT running: start it (e.g. `systemctl start cron`)."
    return "The cron line is installed: look at logs/cron.log for what the tick printed, and run `autohub doctor`."


def _tick_info(t: Any, now: datetime) -> TickInfo:
    from .procs import boot_id, hostname

    duration = None if t.finished_at is None else (t.finished_at - t.started_at).total_seconds()
    if t.finished_at is not None:
        state = "failed" if t.error else "finished"
    elif t.host == hostname() and t.boot_id == boot_id() and _pid_exists(t.pid):
        state = "running"
    elif t.host != hostname() and now - t.started_at < timedelta(hours=1):
        state = "running"  # another host's tick: it cannot be checked from here
    else:
        state = "died"
    counts = {"due": t.due, "ran": t.ran, "skipped": t.skipped, "failed": t.failed}
    return TickInfo(
        t.id,
        t.started_at,
        t.finished_at,
        t.host,
        t.pid,
        (now - t.started_at).total_seconds(),
        duration,
        state,
        t.error,
        counts,
    )


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def task_rows(
    store: Any, catalog: Any, settings: Any, tz: Any, now: datetime, names: list[str] | None = None
) -> list[TaskStatus]:
    """One `TaskStatus` per task file or state row (or per name in `names`), sorted by name."""
    from .procs import run_alive

    rows = store.tasks()
    last = store.last_runs()
    running: dict[str, int] = {}
    for run in store.open_runs():
        if run.status == "running" and run_alive(run.owner, run.lease_until, now):
            running[run.task] = running.get(run.task, 0) + 1
    wanted = sorted({*catalog.specs, *catalog.errors, *rows}) if names is None else names
    return [
        _task_status(name, store, catalog, rows.get(name), last.get(name), running.get(name, 0), settings, tz, now)
        for name in wanted
    ]


def _task_status(
    name: str, store: Any, catalog: Any, row: Any, last: Any, running: int, settings: Any, tz: Any, now: datetime
) -> TaskStatus:
    from .schedule import compile_chain

    spec, error = catalog.specs.get(name), catalog.errors.get(name)
    title = spec.title if spec else (row.title if row else name)
    base: dict[str, Any] = {
        "name": name,
        "title": title,
        "last_run": last,
        "running": bool(running),
        "failure_streak": store.failure_streak(name),
    }
    unscheduled: dict[str, Any] = {
        "schedule": None,
        "schedule_words": "-",
        "next_slot": None,
        "overdue": 0,
        "overdue_since": None,
    }
    if error is not None:
        return TaskStatus(state="invalid", why=error.message, **unscheduled, **base)
    if spec is None:
        if row is not None and row.removed_at is not None:
            why = f"its file is gone (since {_short(row.removed_at)}); its history is kept"
        else:
            why = "its file is gone; its history is kept"
        return TaskStatus(state="removed", why=why, **unscheduled, **base)
    if spec.schedule is None:
        unscheduled["schedule_words"] = "manual"
        why = "no @repeat and no schedule field: it runs only with `autohub run`"
        return TaskStatus(state="manual", why=why, **unscheduled, **base)
    schedule = compile_chain(spec.schedule, tz)
    paused = bool(row and row.paused)
    plan = replay(spec, schedule, row, running, now, settings, paused=paused)
    minute = now.replace(second=0, microsecond=0)
    late = [d for d in plan.decisions if d.slot < minute]
    if not spec.enabled:
        state, why = "disabled", "enabled: false in the frontmatter; its slots are recorded as skipped"
    elif paused:
        state, why = "paused", f"paused: `autohub resume {name}`; its slots are recorded as skipped meanwhile"
    else:
        state, why = "enabled", ""
    return TaskStatus(
        schedule=schedule.text,
        schedule_words=schedule.describe(),
        state=state,
        why=why or None,
        next_slot=schedule.next_after(now) if spec.enabled else None,
        overdue=len(late),
        overdue_since=late[0].slot if late else None,
        next_tick=plan.decisions,
        **base,
    )


def replay(spec: Any, schedule: Any, row: Any, running: int, now: datetime, settings: Any, *, paused: bool) -> Any:
    """What a tick at `now` decides for this task: `plan.plan_task` with the stored state, as the tick calls it."""
    from .plan import plan_task
    from .tick import prior_of

    return plan_task(
        spec, schedule, prior_of(row, running), now, max_catchup=settings.scheduler.max_catchup, paused=paused
    )


# --- words ------------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """`45 s`, `3 min`, `2 h 5 min`, `3 days 4 h`."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} days {hours} h" if hours else f"{days} days"


def _short(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
