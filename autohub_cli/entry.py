"""The `autohub` console script.

`autohub tick` runs 1,440 times a day and usually finds nothing due, so it skips the CLI framework:
its few options are read here and everything else goes to the typer app in `cli.py`. Both paths
run the same `tick_main`, so their behaviour and messages are the same.
"""

from __future__ import annotations

import sys
from typing import Any

OK, FAILED, USAGE, ENVIRONMENT = 0, 1, 2, 3


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["tick"]:
        options = _tick_options(argv[1:])
        if options is not None:
            sys.exit(tick_main(**options))
    from .cli import app

    app(prog_name="autohub")


def _tick_options(args: list[str]) -> dict[str, Any] | None:
    """The tick's options, or None for anything else (help, a typo): typer then reports it."""
    options: dict[str, Any] = {"config": None, "now": None, "dry_run": False, "strict": False}
    values = {"--config": "config", "-c": "config", "--now": "now"}
    flags = {"--dry-run": "dry_run", "--strict": "strict"}
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in values and eq:
            options[values[name]] = value
        elif arg in values and i + 1 < len(args):
            options[values[arg]] = args[i + 1]
            i += 1
        elif arg in flags:
            options[flags[arg]] = True
        else:
            return None
        i += 1
    return options


def tick_main(config: str | None, now: str | None, dry_run: bool, strict: bool) -> int:
    """`autohub tick`: run what is due, say what failed on stderr, return the exit code."""
    from .catalog import CatalogError
    from .config import ConfigError, load_settings, parse_time, resolve_timezone
    from .store import StoreError
    from .tick import run_tick

    try:
        settings = load_settings(config, cached=not dry_run)
        when = None
        if now:
            try:
                when = parse_time(now, resolve_timezone(settings))
            except ValueError:
                _say(
                    "Invalid value for '--now': expected an ISO-8601 time such as "
                    f"2026-11-27T10:00:00+01:00, found {now!r}"
                )
                return USAGE
        report = run_tick(settings, now=when, dry_run=dry_run)
    except (ConfigError, StoreError, CatalogError) as exc:
        _say(f"autohub: {exc}")
        return ENVIRONMENT
    except OSError as exc:
        _say(f"autohub: {exc.filename or ''}: {exc.strerror or exc}")
        return ENVIRONMENT
    if dry_run:
        for warning in report.warnings:
            _say(f"warning: {warning}")
        from .cli import render_decisions

        render_decisions(report, settings)
    for message in report.invalid:
        _say(f"invalid task: {message}")
    for job, outcome in report.failed:
        _say(f"{job.spec.name}: {outcome.status}: {outcome.reason}")
    return FAILED if strict and (report.failed or report.invalid) else OK


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
