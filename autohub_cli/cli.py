"""The `autohub` command: each command parses its options, calls one service, renders the result.

Exit codes (the same for every command):
  0  done
  1  something the command checked failed: an invalid task, a failed run under --strict, an
     unknown task name, a doctor check
  2  wrong usage (unknown option, bad argument)
  3  autohub itself could not work: bad config, unusable state database or tasks directory
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer

from . import __version__

OK, FAILED, USAGE, ENVIRONMENT = 0, 1, 2, 3

app = typer.Typer(
    name="autohub",
    help="A Python task scheduler driven by cron: `autohub tick` every minute runs what is due.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Optional[Path],
    typer.Option(
        "--config",
        "-c",
        help="Project folder or its config/config.yaml "
        "(default: $AUTOHUB_CONFIG, then the nearest folder above holding config/config.yaml).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def fail(message: str, code: int = ENVIRONMENT) -> NoReturn:
    from rich.markup import escape

    console(stderr=True).print(f"[bold red]autohub:[/] {escape(message)}", markup=True)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Problems with the user's files or machine become one clear line and exit 3, never a traceback."""
    from .catalog import CatalogError
    from .config import ConfigError
    from .store import StoreError

    try:
        yield
    except (ConfigError, StoreError, CatalogError) as exc:
        fail(str(exc), ENVIRONMENT)
    except OSError as exc:
        fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "), ENVIRONMENT)


def settings_for(config: Path | None) -> Any:
    from .config import load_settings

    return load_settings(config)


def parse_time(text: str, settings: Any) -> datetime:
    """ISO-8601; without an offset it is read in the scheduler's zone."""
    from .config import parse_time as parse
    from .config import resolve_timezone

    try:
        return parse(text, resolve_timezone(settings))  # type: ignore[no-any-return]
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO-8601 time such as 2026-11-27T10:00:00+01:00, found {text!r}"
        ) from None


def local(dt: datetime | None, settings: Any) -> str:
    from .config import resolve_timezone

    if dt is None:
        return "-"
    return dt.astimezone(resolve_timezone(settings)).strftime("%Y-%m-%d %H:%M:%S %z")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def version_callback(value: bool) -> None:
    if value:
        sys.stdout.write(f"autohub {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """autohub: Python tasks with YAML frontmatter, run by `autohub tick` from cron every minute.

    Example: `* * * * * cd /srv/project && /srv/project/.venv/bin/autohub tick`
    """


# --- tick ---------------------------------------------------------------------------------------


@app.command()
def tick(
    config: ConfigOption = None,
    now: Annotated[Optional[str], typer.Option("--now", help="Pretend the tick starts at this ISO-8601 time.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the decisions; run and write nothing.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when a run failed or a task file is invalid.")
    ] = False,
) -> None:
    """Run what is due now, record it, exit. Cron runs this every minute.

    Example: autohub tick --dry-run --now 2026-11-27T10:00
    """
    from .entry import tick_main

    raise typer.Exit(tick_main(str(config) if config else None, now, dry_run, strict))


def render_decisions(report: Any, settings: Any) -> None:
    from rich.table import Table

    table = Table(title=f"Decisions at {local(report.now, settings)} (dry run: nothing ran or was written)")
    for column in ("task", "slot", "decision", "trigger", "reason"):
        table.add_column(column)
    for d in report.decisions:
        table.add_row(d.task, local(d.slot, settings), d.action, d.trigger, d.reason or "")
    console().print(table)
    if not report.decisions:
        console().print("Nothing is due.")


# --- run ----------------------------------------------------------------------------------------


@app.command()
def run(
    task: Annotated[str, typer.Argument(help="The task's name (its file name without .py).")],
    config: ConfigOption = None,
    force: Annotated[bool, typer.Option("--force", help="Run even while another run of the task is running.")] = False,
) -> None:
    """Run one task now, in the foreground, streaming its output. Does not use up a slot.

    Example: autohub run backup_photos
    """
    from . import manual

    with user_errors():
        settings = settings_for(config)
        err = console(stderr=True)
        try:
            outcome = manual.run_now(settings, task, force=force, echo=lambda level, line: _echo(line))
        except manual.RunRefused as exc:
            fail(str(exc), FAILED)
    if outcome.status != "success":
        err.print(f"{task}: {outcome.status}: {outcome.reason}", markup=False)
        raise typer.Exit(FAILED)
    err.print(f"{task}: success in {(outcome.finished_at - outcome.started_at).total_seconds():.2f} s", markup=False)


def _echo(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- next ---------------------------------------------------------------------------------------


@app.command("next")
def next_slots(
    task: Annotated[str, typer.Argument(help="The task's name.")],
    config: ConfigOption = None,
    count: Annotated[int, typer.Option("-n", "--count", min=1, max=1000, help="How many slots.")] = 5,
    after: Annotated[
        Optional[str], typer.Option("--after", help="Start after this ISO-8601 time (default now).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The next N slots of a task, strictly after a time.

    Example: autohub next backup_photos -n 3 --after 2026-03-29T00:00
    """
    from .catalog import load_catalog
    from .config import resolve_timezone
    from .schedule import compile_chain

    with user_errors():
        settings = settings_for(config)
        catalog = load_catalog(settings)
        spec = _known_spec(catalog, task)
        if spec.schedule is None:
            fail(f"{task} is a manual task (no @repeat and no schedule field): it runs only with `autohub run`", FAILED)
        tz = resolve_timezone(settings)
        schedule = compile_chain(spec.schedule, tz)
        start = parse_time(after, settings) if after else datetime.now(timezone.utc)
        slots = schedule.next_n(start, count)
    shown = [s.astimezone(schedule.tz).isoformat() for s in slots]
    if as_json:
        print_json(shown)
        return
    out = console()
    out.print(f"{task}: {schedule.describe()}", markup=False)
    for s in shown:
        out.print(f"  {s}", markup=False)


def _known_spec(catalog: Any, task: str) -> Any:
    if task in catalog.specs:
        return catalog.specs[task]
    if task in catalog.errors:
        fail(f"{task} is invalid: {catalog.errors[task].message}", FAILED)
    known = ", ".join(catalog.names()) or "(none)"
    fail(f"unknown task {task!r}; known tasks: {known}", FAILED)


# --- history ------------------------------------------------------------------------------------


@app.command()
def history(
    task: Annotated[Optional[str], typer.Argument(help="Only this task.")] = None,
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option("--limit", "-l", min=1, help="How many rows, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Runs and skipped slots, newest first.

    Example: autohub history backup_photos --limit 5 --json
    """
    from .store import open_store

    with user_errors():
        settings = settings_for(config)
        store = open_store(settings)
        try:
            runs = store.history(task, limit)
        finally:
            store.close()
    if as_json:
        print_json([r.to_json() for r in runs])
        return
    from rich.table import Table

    table = Table(title="History (newest first)")
    for column in ("id", "task", "slot", "trigger", "try", "status", "duration", "exit", "reason"):
        table.add_column(column)
    for r in runs:
        table.add_row(
            str(r.id),
            r.task,
            local(r.slot, settings),
            r.trigger,
            str(r.attempt),
            r.status,
            "-" if r.duration is None else f"{r.duration:.2f} s",
            "-" if r.exit_code is None else str(r.exit_code),
            r.reason or "",
        )
    console().print(table)


# --- validate -----------------------------------------------------------------------------------


@app.command()
def validate(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Check every task file; exit 1 when any is invalid, naming each.

    Example: autohub validate
    """
    from .catalog import load_catalog

    with user_errors():
        settings = settings_for(config)
        catalog = load_catalog(settings)
    if as_json:
        print_json(
            {
                "valid": sorted(catalog.specs),
                "invalid": {n: e.message for n, e in sorted(catalog.errors.items())},
                "warnings": [*settings.warnings, *catalog.warnings()],
            }
        )
    else:
        out = console()
        for warning in [*settings.warnings, *catalog.warnings()]:
            out.print(f"[yellow]warning[/]: {_escape(warning)}")
        for name in sorted(catalog.specs):
            out.print(f"[green]ok[/]      {name}")
        for name, error in sorted(catalog.errors.items()):
            out.print(f"[red]invalid[/] {name}: {_escape(error.message)}")
        out.print(f"{len(catalog.specs)} valid, {len(catalog.errors)} invalid")
    if catalog.errors:
        raise typer.Exit(FAILED)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


# --- restore ------------------------------------------------------------------------------------


@app.command()
def restore(
    backup: Annotated[
        Optional[Path], typer.Argument(help="A backup file (default: the newest in state/backups/).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Put a backup in place of the state database; the file it replaces is kept beside it.

    Example: autohub restore            # after `autohub doctor` reported a corrupt state database
    """
    from .store import backups_dir, list_backups, restore_backup

    with user_errors():
        settings = settings_for(config)
        chosen = backup or next(iter(list_backups(backups_dir(settings))), None)
        if chosen is None:
            fail(f"no backups in {backups_dir(settings)}: database.backup_interval makes them", FAILED)
        kept = restore_backup(Path(chosen), settings.state_path, datetime.now(timezone.utc))
    console().print(f"restored {chosen} to {settings.state_path}", markup=False)
    if kept:
        console().print(f"the replaced database is kept as {kept}", markup=False)


# Command groups that live in their own modules register themselves on `app` when imported.
from . import cli_deps  # noqa: E402,F401,I001
from . import cli_ops  # noqa: E402,F401
from . import cli_author  # noqa: E402,F401
from . import cli_monitor  # noqa: E402,F401
