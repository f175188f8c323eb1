"""Operator commands: status, reset, logs, explain, pause/resume, cron, doctor.

Each command parses, calls one service (status.py, reset.py, explain.py, crontab.py, doctor.py),
and renders: a rich table for people, `--json` for machines. Rich drops colour by itself when the
output is not a terminal or NO_COLOR is set.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from .cli import (
    FAILED,
    USAGE,
    ConfigOption,
    JsonOption,
    app,
    console,
    fail,
    parse_time,
    print_json,
    settings_for,
    user_errors,
)

UTC = timezone.utc

NowOption = Annotated[
    Optional[str],
    typer.Option("--now", metavar="ISO", help="Pretend it is this ISO-8601 time, as `autohub tick --now` does."),
]

STATE_STYLE = {
    "enabled": "green",
    "paused": "yellow",
    "disabled": "dim",
    "invalid": "bold red",
    "removed": "dim",
    "manual": "cyan",
}
RUN_STYLE = {
    "success": "green",
    "running": "cyan",
    "pending": "yellow",
    "skipped": "dim",
    "failed": "red",
    "timeout": "red",
    "killed": "red",
    "crashed": "red",
    "abandoned": "red",
}


def _esc(text: Any) -> str:
    from rich.markup import escape

    return escape(str(text))


def _styled(text: str, style: str | None) -> str:
    return f"[{style}]{_esc(text)}[/]" if style else _esc(text)


def _zone(settings: Any) -> Any:
    from .config import resolve_timezone

    return resolve_timezone(settings)


def _when(dt: datetime | None, now: datetime, tz: Any) -> str:
    """`10:05:00 (3 min ago)`; the date too when it is not today."""
    from .status import human_duration

    if dt is None:
        return "-"
    here, today = dt.astimezone(tz), now.astimezone(tz)
    day = "%Y-%m-%d %H:%M:%S" if here.second else "%Y-%m-%d %H:%M"  # a sub-minute slot keeps its seconds
    shown = here.strftime("%H:%M:%S") if here.date() == today.date() else here.strftime(day)
    delta = (now - dt).total_seconds()
    if abs(delta) < 1:
        return f"{shown} (now)"
    rel = f"{human_duration(delta)} ago" if delta > 0 else f"in {human_duration(delta)}"
    return f"{shown} ({rel})"


def _now(text: str | None, settings: Any) -> datetime | None:
    return parse_time(text, settings) if text else None


def _fail(message: str, code: int) -> Any:
    fail(_esc(message), code)


# --- status -------------------------------------------------------------------------------------


@app.command()
def status(config: ConfigOption = None, as_json: JsonOption = False, now: NowOption = None) -> None:
    """The scheduler's health (last tick, cron line, clock events), then one row per task.

    Example: autohub status --json
    """
    from .status import collect

    with user_errors():
        settings = settings_for(config)
        report = collect(settings, now=_now(now, settings))
    if as_json:
        print_json(report.to_json())
        return
    render_status(report, settings)


def render_status(report: Any, settings: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table

    out = console()
    tz = _zone(settings)
    h = report.health
    out.print(
        f"[bold]autohub[/] {_esc(report.root)}  (zone {_esc(report.timezone)}, now {_when(report.now, report.now, tz)})"
    )
    for warning in h.warnings:
        panel = Panel(_esc(warning), title="WARNING", title_align="left", border_style="bold red", style="bold red")
        out.print(panel, soft_wrap=False)  # wrap inside the box instead of cutting the line off
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    t = h.last_tick
    if t is None:
        grid.add_row("last tick", "[red]none yet[/]")
    else:
        took = "-" if t.duration is None else f"{t.duration:.2f} s"
        counts = ", ".join(f"{k} {v}" for k, v in t.counts.items())
        state = "" if t.state == "finished" else f", [red]{_esc(t.state)}[/]"
        grid.add_row(
            "last tick", f"{_when(t.started_at, report.now, tz)} on {_esc(t.host)}, took {took} ({counts}){state}"
        )
    cron = h.cron
    if cron is not None:
        if not cron.available:
            grid.add_row("cron", f"[red]unknown[/]: {_esc(cron.error)}")
        elif cron.installed:
            daemon = {True: "", False: ", [red]but no cron daemon is running[/]", None: ""}[cron.daemon_running]
            kind = "installed" if cron.ours else "installed (a hand-written line)"
            outdated = "" if cron.current or not cron.ours else ", [yellow]differs from `autohub cron install`[/]"
            grid.add_row("cron", f"[green]{kind}[/]{daemon}{outdated}")
        else:
            grid.add_row("cron", "[red]not installed[/]: `autohub cron install` (or `autohub cron systemd`)")
    for event in h.events[-3:]:
        grid.add_row("clock", _esc(event.message))
    out.print(grid)
    table = Table(title=f"Tasks ({len(report.tasks)})", title_justify="left")
    for column in ("task", "schedule", "state", "last run", "next slot", "fails", "overdue"):
        table.add_column(column, overflow="fold")
    for ts in report.tasks:
        name = _esc(ts.name) + ("" if ts.title == ts.name else f"\n[dim]{_esc(ts.title)}[/]")
        state = _styled(ts.state, STATE_STYLE.get(ts.state))
        if ts.why and ts.state != "enabled":
            state += f"\n[dim]{_esc(ts.why)}[/]"
        run = ts.last_run
        if run is None:
            last = "-"
        else:
            took = "" if run.duration is None else f" in {run.duration:.1f} s"
            started = _when(run.started_at or run.slot, report.now, tz)
            last = f"{_styled(run.status, RUN_STYLE.get(run.status))}{took}\n{started}"
            if run.trigger == "manual":
                last += " [dim](manual)[/]"
        streak = "-" if not ts.failure_streak else f"[red]{ts.failure_streak}[/]"
        overdue = "-"
        if ts.overdue:
            overdue = f"[yellow]{ts.overdue}[/] since {_when(ts.overdue_since, report.now, tz)}"
        table.add_row(name, _esc(ts.schedule_words), state, last, _when(ts.next_slot, report.now, tz), streak, overdue)
    out.print(table)
    for warning in report.warnings:
        out.print(f"[yellow]warning[/]: {_esc(warning)}")


# --- reset --------------------------------------------------------------------------------------


@app.command()
def reset(
    config: ConfigOption = None,
    task: Annotated[
        Optional[list[str]], typer.Option("--task", "-t", metavar="NAME", help="Reset this task (repeat for more).")
    ] = None,
    all_tasks: Annotated[bool, typer.Option("--all", help="Reset every task.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show before and after; write nothing.")] = False,
    future_only: Annotated[
        bool,
        typer.Option(
            "--future-only", help="Clear only overdue slots (older than this minute); a slot of this minute still runs."
        ),
    ] = False,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Clear backlogs: each task's next due slot becomes its next future slot. History is kept.

    The skipped slots are recorded (reason `reset`), so `autohub explain` can tell why they did not run.

    Example: autohub reset --all --dry-run
    """
    from .reset import UnknownTask
    from .reset import reset as do_reset

    if bool(task) == all_tasks:
        _fail("name the tasks with --task NAME (repeatable), or pass --all", USAGE)
    with user_errors():
        settings = settings_for(config)
        try:
            items = do_reset(settings, task or [], future_only=future_only, dry_run=dry_run, now=_now(now, settings))
        except UnknownTask as exc:
            _fail(str(exc), FAILED)
    if as_json:
        print_json({"dry_run": dry_run, "tasks": [i.to_json() for i in items]})
        return
    from rich.table import Table

    tz = _zone(settings)
    when = _now(now, settings) or datetime.now(UTC)
    title = "Reset (dry run: nothing was written)" if dry_run else "Reset"
    table = Table(title=title, title_justify="left")
    for column in ("task", "next due before", "next due after", "result", "why"):
        table.add_column(column, overflow="fold")
    for i in items:
        style = {"reset": "green", "unchanged": None, "skipped": "dim"}[i.action]
        action = i.action if not (dry_run and i.action == "reset") else "would reset"
        table.add_row(
            _esc(i.task),
            _when(i.next_before, when, tz),
            _when(i.next_after, when, tz),
            _styled(action, style),
            _esc(i.why),
        )
    console().print(table)


# --- pause / resume -----------------------------------------------------------------------------


TasksArgument = Annotated[
    Optional[list[str]], typer.Argument(help="Task names (file names without .py).", show_default=False)
]
AllOption = Annotated[bool, typer.Option("--all", help="Every task.")]


def _pause(
    config: Path | None, tasks: list[str] | None, all_tasks: bool, paused: bool, as_json: bool, now: str | None
) -> None:
    from .reset import UnknownTask, set_paused

    if bool(tasks) == all_tasks:
        _fail("name the tasks, or pass --all", USAGE)
    with user_errors():
        settings = settings_for(config)
        try:
            items = set_paused(settings, tasks or [], paused=paused, now=_now(now, settings))
        except UnknownTask as exc:
            _fail(str(exc), FAILED)
    if as_json:
        print_json([i.to_json() for i in items])
        return
    out = console()
    for i in items:
        style = "yellow" if i.action == "paused" else "green" if i.action == "resumed" else "dim"
        out.print(f"{_styled(i.action, style)} {_esc(i.task)}: {_esc(i.why)}")


@app.command()
def pause(
    tasks: TasksArgument = None,
    all_tasks: AllOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Pause tasks: kept in the state (task files stay untouched); their slots are recorded as skipped.

    Example: autohub pause backup_photos
    """
    _pause(config, tasks, all_tasks, True, as_json, now)


@app.command()
def resume(
    tasks: TasksArgument = None,
    all_tasks: AllOption = False,
    config: ConfigOption = None,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Resume paused tasks from their next slot; slots missed while paused are not replayed.

    Example: autohub resume --all
    """
    _pause(config, tasks, all_tasks, False, as_json, now)


# --- logs ---------------------------------------------------------------------------------------


@app.command()
def logs(
    task: Annotated[str, typer.Argument(help="The task's name.")],
    config: ConfigOption = None,
    run_id: Annotated[
        Optional[int],
        typer.Option("--run", metavar="ID", help="This run (an id from `autohub history`) instead of the newest."),
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many of the last lines.")] = 50,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep printing the task's new lines from logs/tasks.log as they are written (Ctrl-C stops).",
        ),
    ] = False,
    follow_for: Annotated[
        Optional[float], typer.Option("--for", hidden=True, help="Stop following after this many seconds.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The output of the task's newest run (or of --run ID); --follow streams new lines as they come.

    Example: autohub logs backup_photos -n 20 --follow
    """
    from .catalog import load_catalog
    from .store import open_store

    with user_errors():
        settings = settings_for(config)
        store = open_store(settings)
        try:
            catalog = load_catalog(settings, store, save=False)
            row = store.task_row(task)
            if task not in catalog.specs and task not in catalog.errors and row is None:
                known = ", ".join(sorted({*catalog.names(), *store.tasks()})) or "(none)"
                _fail(f"unknown task {task!r}; known tasks: {known}", FAILED)
            spec = catalog.specs.get(task)
            title = spec.title if spec else (row.title if row else task)
            if run_id is not None:
                run = store.run(run_id)
                if run is None or run.task != task:
                    _fail(f"no run {run_id} of {task}; `autohub history {task}` lists them", FAILED)
            else:
                run = store.newest_run(task)
        finally:
            store.close()
    tasks_log = settings.logs_dir / "tasks.log"
    if follow:
        _follow(tasks_log, title, lines, follow_for, as_json)
        return
    source, shown, note = "run", [], None
    if run is None:
        note = f"{task} has not run yet"
        source = "none"
    elif run.status == "skipped":
        note = f"run {run.id} was a skipped slot ({run.reason}): it has no output"
    elif run.output_tail is None:
        source = "tasks.log"
        shown = last_matching(tasks_log, title, lines, since=run.started_at)
        note = f"run {run.id} is {run.status}: its lines so far, from {tasks_log}"
    else:
        shown = run.output_tail.splitlines()[-lines:]
        if not shown:
            note = f"run {run.id} printed nothing"
    if as_json:
        print_json(
            {
                "task": task,
                "title": title,
                "run": None if run is None else run.to_json(),
                "source": source,
                "lines": shown,
                "note": note,
            }
        )
        return
    err = console(stderr=True)
    if run is not None:
        took = "" if run.duration is None else f" in {run.duration:.2f} s"
        err.print(
            f"run {run.id}: slot {run.slot.isoformat()}, attempt {run.attempt}, {run.trigger}, {run.status}{took}",
            markup=False,
        )
    if note:
        err.print(note, markup=False)
    for line in shown:
        sys.stdout.write(line + "\n")


def _follow(path: Path, title: str, backlog: int, seconds: float | None, as_json: bool) -> None:
    deadline = None if seconds is None else time.monotonic() + seconds

    def emit(line: str) -> None:
        sys.stdout.write((json.dumps({"line": line}) if as_json else line) + "\n")
        sys.stdout.flush()

    for line in last_matching(path, title, backlog):
        emit(line)
    console(stderr=True).print(f"following [{title}] in {path} (Ctrl-C stops)", markup=False)
    try:
        for line in follow_lines(path, title, stop=lambda: deadline is not None and time.monotonic() >= deadline):
            emit(line)
    except KeyboardInterrupt:
        pass


def _is_title(line: str, title: str) -> bool:
    parts = line.split(" ", 3)
    return len(parts) == 4 and (parts[3].startswith(f"[{title}] ") or parts[3] == f"[{title}]")


def last_matching(path: Path, title: str, count: int, *, since: datetime | None = None) -> list[str]:
    """The last `count` lines of `title` in a log file, reading backwards in blocks; lines before `since` excluded."""
    stamp = None if since is None else since.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below; read backwards
    except FileNotFoundError:
        return []
    found: list[str] = []
    with fh:
        end = fh.seek(0, os.SEEK_END)
        rest = b""
        while end > 0 and len(found) < count:
            start = max(0, end - 65536)
            fh.seek(start)
            block = fh.read(end - start) + rest
            end = start
            pieces = block.split(b"\n")
            rest = pieces.pop(0) if start > 0 else b""
            for raw in reversed(pieces):
                line = raw.decode("utf-8", "replace").rstrip("\r")
                if _is_title(line, title):
                    if stamp is not None and line[:19] < stamp:
                        return list(reversed(found))
                    found.append(line)
                    if len(found) >= count:
                        break
    return list(reversed(found))


def follow_lines(path: Path, title: str, *, stop: Callable[[], bool], poll: float = 0.2) -> Iterator[str]:
    """Lines of `title` appended to `path` from now on, until `stop()`; follows rotation and truncation."""
    fh = None
    ident: tuple[int, int] | None = None
    buf = b""
    first = True
    try:
        while not stop():
            if fh is None:
                try:
                    fh = open(path, "rb")  # noqa: SIM115 - kept open across iterations, closed below
                except FileNotFoundError:
                    first = False  # when it appears, all of it is new
                    time.sleep(poll)
                    continue
                if first:
                    fh.seek(0, os.SEEK_END)
                    first = False
                opened = os.fstat(fh.fileno())
                ident, buf = (opened.st_ino, opened.st_dev), b""
            data = fh.read(65536)
            if data:
                buf += data
                *complete, buf = buf.split(b"\n")
                for raw in complete:
                    line = raw.decode("utf-8", "replace").rstrip("\r")
                    if _is_title(line, title):
                        yield line
                continue
            st: os.stat_result | None
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            if st is not None and ((st.st_ino, st.st_dev) != ident or st.st_size < fh.tell()):
                fh.close()  # rotated away or truncated: the new file is read from its start
                fh = None
                continue
            time.sleep(poll)
    finally:
        if fh is not None:
            fh.close()


# --- explain ------------------------------------------------------------------------------------


@app.command()
def explain(
    task: Annotated[str, typer.Argument(help="The task's name.")],
    config: ConfigOption = None,
    at: Annotated[
        Optional[str],
        typer.Option("--at", metavar="ISO", help="Explain the slots around this ISO-8601 time (default now)."),
    ] = None,
    count: Annotated[
        int, typer.Option("-n", "--slots", min=1, max=100, help="Slots shown on each side of the time.")
    ] = 3,
    as_json: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Why a task did or did not run around a time, and what will happen next.

    Past slots show what the tick recorded; due and future slots replay the tick's own planner.

    Example: autohub explain backup_photos --at 2026-11-27T03:00
    """
    from .explain import explain as do_explain
    from .reset import UnknownTask

    with user_errors():
        settings = settings_for(config)
        try:
            story = do_explain(
                settings, task, at=parse_time(at, settings) if at else None, now=_now(now, settings), count=count
            )
        except UnknownTask as exc:
            _fail(str(exc), FAILED)
    if as_json:
        print_json(story.to_json())
        return
    render_explanation(story, settings)


DECISION_STYLE = {
    "ran": None,
    "running": "cyan",
    "skipped": "yellow",
    "will run": "green",
    "will skip": "yellow",
    "not planned": "dim",
    "no record": "dim",
}


def render_explanation(story: Any, settings: Any) -> None:
    from rich.table import Table

    out = console()
    tz = _zone(settings)
    head = f"[bold]{_esc(story.task)}[/]" + ("" if story.title == story.task else f" ({_esc(story.title)})")
    out.print(f"{head}: {_esc(story.schedule_words)}; {_styled(story.state, STATE_STYLE.get(story.state))}")
    if story.why:
        out.print(f"  {_esc(story.why)}")
    if story.options:
        opts = ", ".join(f"{k} {v}" for k, v in story.options.items())
        out.print(f"  [dim]{_esc(opts)}[/]")
    out.print(
        f"  around {_when(story.at, story.now, tz)}; last handled slot {_when(story.last_handled, story.now, tz)}"
    )
    for warning in story.health:
        out.print(f"[bold red]scheduler: {_esc(warning)}[/]")
    if story.slots:
        table = Table(title_justify="left")
        for column in ("slot", "decision", "outcome", "why", "source"):
            table.add_column(column, overflow="fold")
        for s in story.slots:
            outcome = "-" if s.outcome is None else _styled(s.outcome, RUN_STYLE.get(s.outcome))
            runs = ""
            if s.runs and s.runs[-1].duration is not None and s.outcome not in ("skipped", None):
                runs = f" in {s.runs[-1].duration:.1f} s (run {s.runs[-1].id})"
            marker = (
                " <"
                if s.slot <= story.at
                and (
                    story.slots.index(s) + 1 == len(story.slots)
                    or story.slots[story.slots.index(s) + 1].slot > story.at
                )
                else ""
            )
            table.add_row(
                _when(s.slot, story.now, tz) + marker,
                _styled(s.decision, DECISION_STYLE.get(s.decision))
                + ("" if not s.trigger else f" [dim]({_esc(s.trigger)})[/]"),
                outcome + runs,
                _esc(s.reason or ""),
                _esc(s.source),
            )
        out.print(table)
    if story.other_runs:
        table = Table(title="Other runs near that time" if story.slots else "Recent rows", title_justify="left")
        for column in ("id", "slot / started", "trigger", "status", "why"):
            table.add_column(column, overflow="fold")
        for r in story.other_runs:
            table.add_row(
                str(r.id),
                _when(r.started_at or r.slot, story.now, tz),
                r.trigger,
                _styled(r.status, RUN_STYLE.get(r.status)),
                _esc(r.reason or ""),
            )
        out.print(table)
    out.print("[bold]Next[/]")
    for sentence in story.next or ("Nothing is planned.",):
        out.print(f"  {_esc(sentence)}")


# --- cron ---------------------------------------------------------------------------------------


cron_app = typer.Typer(
    help="The crontab line that runs `autohub tick` every minute (or a systemd timer instead).",
    no_args_is_help=True,
)
app.add_typer(cron_app, name="cron")

AutohubOption = Annotated[
    Optional[str],
    typer.Option(
        "--autohub",
        metavar="PATH",
        help="The autohub command cron should run (default: the absolute path of this one).",
    ),
]


def _cron_errors() -> Any:
    from contextlib import contextmanager

    from .crontab import CronError

    @contextmanager
    def guard() -> Iterator[None]:
        try:
            yield
        except CronError as exc:
            _fail(str(exc), 3)

    return guard()


def _executable(path: str | None) -> str | None:
    if path is None:
        return None
    return str(Path(path).expanduser().absolute())


@cron_app.command("install")
def cron_install(config: ConfigOption = None, autohub: AutohubOption = None, as_json: JsonOption = False) -> None:
    """Add the line to this user's crontab; run it again to update it. Never duplicates it, never touches other lines.

    Example: autohub cron install
    """
    from . import crontab

    with user_errors(), _cron_errors():
        settings = settings_for(config)
        action, state = crontab.install(settings, _executable(autohub))
    if as_json:
        print_json({"action": action, **state.to_json()})
        return
    out = console()
    if action == "hand-written":
        out.print("[yellow]unchanged[/]: a line not written by autohub already runs the tick for this project:")
        for line in state.others:
            out.print(f"  {_esc(line)}")
        out.print("Nothing was added (the tick would run twice a minute). Remove that line to let autohub manage it.")
        return
    words = {"installed": "[green]installed[/]", "updated": "[green]updated[/]", "unchanged": "already installed"}
    out.print(f"{words[action]}: {_esc(state.line)}")
    if state.daemon_running is False:
        out.print("[bold red]no cron daemon is running on this host[/]: start it (e.g. `systemctl start cron`)")


@cron_app.command("remove")
def cron_remove(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Remove this project's line from the crontab; every other line stays as it is.

    Example: autohub cron remove
    """
    from . import crontab

    with user_errors(), _cron_errors():
        settings = settings_for(config)
        removed, state = crontab.remove(settings)
    if as_json:
        print_json({"removed": removed, **state.to_json()})
        return
    out = console()
    out.print(f"removed {removed} line(s)" if removed else "no autohub line for this project was installed")
    for line in state.others:
        out.print(f"[yellow]left as it is[/] (not written by autohub): {_esc(line)}")


@cron_app.command("show")
def cron_show(config: ConfigOption = None, autohub: AutohubOption = None, as_json: JsonOption = False) -> None:
    """Show the line install writes, what the crontab holds for this project, and whether cron runs.

    Example: autohub cron show --json
    """
    from . import crontab

    with user_errors():
        settings = settings_for(config)
        state = crontab.read_state(settings, _executable(autohub))
    if as_json:
        print_json(state.to_json())
        return
    out = console()
    if not state.available:
        out.print(f"[red]no crontab[/]: {_esc(state.error)}")
    elif state.ours:
        status_word = (
            "[green]installed[/]" if state.current else "[yellow]installed, but differs from what install writes now[/]"
        )
        out.print(status_word)
        for line in state.ours:
            out.print(f"  {_esc(line)}")
    elif state.others:
        out.print("[green]installed[/] (by hand, not managed by autohub):")
        for line in state.others:
            out.print(f"  {_esc(line)}")
    else:
        out.print("[red]not installed[/]: `autohub cron install` adds it")
    if state.ours and state.others:
        for line in state.others:
            out.print(f"[yellow]also[/] (not written by autohub): {_esc(line)}")
    out.print(f"line: {_esc(state.line)}")
    daemon = {True: "[green]running[/]", False: "[red]not running[/]", None: "unknown"}[state.daemon_running]
    out.print(f"cron daemon: {daemon}")


@cron_app.command("systemd")
def cron_systemd(
    config: ConfigOption = None,
    autohub: AutohubOption = None,
    user: Annotated[bool, typer.Option("--user", help="Units for the user's own systemd (systemctl --user).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print a .service and a .timer that run the tick every minute, for hosts that use systemd timers.

    Example: autohub cron systemd --user
    """
    from . import crontab

    with user_errors():
        settings = settings_for(config)
        units = crontab.systemd_units(settings, _executable(autohub), user_unit=user)
    if as_json:
        print_json(units)
        return
    sys.stdout.write("\n".join(units.values()))


# --- doctor -------------------------------------------------------------------------------------


@app.command()
def doctor(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Check everything a working scheduler needs, each with its fix; exit 1 when a check fails.

    Example: autohub doctor
    """
    from .doctor import failed, run_checks

    with user_errors():
        checks = run_checks(config)
    bad = failed(checks)
    if as_json:
        print_json({"ok": not bad, "checks": [c.to_json() for c in checks]})
    else:
        from rich.table import Table

        table = Table(title="autohub doctor", title_justify="left")
        for column in ("check", "result", "detail", "fix"):
            table.add_column(column, overflow="fold")
        styles = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
        for c in checks:
            table.add_row(_esc(c.name), _styled(c.status, styles[c.status]), _esc(c.detail), _esc(c.fix or ""))
        console().print(table)
        console().print("[bold red]some checks failed[/]" if bad else "[green]all checks passed[/]")
    if bad:
        raise typer.Exit(FAILED)
