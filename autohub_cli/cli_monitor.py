"""Monitoring commands: `autohub metrics` and `autohub work` (registered on the app in `cli.py`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli import ConfigOption, app, settings_for, user_errors


@app.command()
def metrics(
    config: ConfigOption = None,
    textfile: Annotated[
        Optional[Path],
        typer.Option(
            "--textfile",
            help="Write to this file, atomically (for node_exporter's textfile collector: a *.prom file "
            "in its --collector.textfile.directory), instead of printing.",
        ),
    ] = None,
) -> None:
    """Prometheus metrics of every task and of the scheduler, in the text format.

    Per task: last success time, last duration, runs by status, failure streak, overdue slots.
    For the scheduler: the last tick's time, duration and success.

    Example: autohub metrics --textfile /var/lib/node_exporter/textfile_collector/autohub.prom
    """
    from . import metrics as service

    with user_errors():
        settings = settings_for(config)
        text = service.render(service.collect(settings))
        if textfile is None:
            sys.stdout.write(text)
            return
        service.write_atomically(textfile, text)


@app.command()
def work(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Log one JSON object per line on stdout.")] = False,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0,
            help="Seconds running ticks get to finish after SIGTERM / SIGINT before their runs are terminated.",
        ),
    ] = 30.0,
) -> None:
    """Run a tick every minute in the foreground, for containers and hosts without cron.

    A tick starts at once and then at every minute boundary, as a child process (the same
    `autohub tick` cron would run); never two for the same minute. SIGTERM or Ctrl-C stops it:
    running ticks get --grace seconds to finish, a second signal ends them at once.

    Example: autohub work --json
    """
    from .work import Worker, tick_command

    with user_errors():
        settings = settings_for(config)
    worker = Worker(
        root=settings.root,
        command=tick_command(str(settings.config_file) if config else None),
        grace=grace,
        as_json=as_json,
    )
    raise typer.Exit(worker.run())
