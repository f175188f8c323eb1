"""`autohub init` and `autohub new`: the commands a task author starts with (logic in scaffold.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli import ConfigOption, JsonOption, app, fail, print_json, settings_for, user_errors


def _say(text: str = "") -> None:
    typer.echo(text)


def _fail(exc: Exception, code: int) -> None:
    from rich.markup import escape

    fail(escape(str(exc)), code)


@app.command()
def init(
    directory: Annotated[
        Path, typer.Argument(help="Folder of the new project (created when missing).", show_default=True)
    ] = Path("."),
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace existing files that differ from the template, keeping each as NAME.bak."),
    ] = False,
    examples: Annotated[
        bool, typer.Option("--examples", help="Switch the example tasks on (tasks.include_example_tasks: true).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Make a working project: config/, helpers/, tasks/ with the examples, state/, logs/, .gitignore.

    Existing files are never overwritten unless --force, and then the old one is kept as NAME.bak.

    Example: autohub init ~/automation --examples
    """
    from .scaffold import ScaffoldError, init_project, next_steps

    try:
        report = init_project(directory, force=force, examples=examples)
    except ScaffoldError as exc:
        _fail(exc, exc.code)
    if as_json:
        print_json(report.to_json())
        return
    made = len(report.created) + len(report.replaced)
    _say(f"autohub project in {report.root}: {made} files written, {len(report.unchanged)} already up to date")
    for rel in report.created:
        _say(f"  created   {rel}")
    for rel, backup in report.replaced:
        _say(f"  replaced  {rel} (yours is kept as {backup})")
    if report.gitignore in ("created", "updated"):
        _say(f"  {report.gitignore:<9} .gitignore")
    if report.skipped:
        _say(f"Skipped {len(report.skipped)} existing files that differ from the template (left as they are):")
        for rel in report.skipped:
            _say(f"  skipped   {rel}")
        _say("  `autohub init --force` replaces them and keeps each of yours as NAME.bak")
    if examples and not report.examples:
        _say("The examples were not switched on, because config/config.yaml already existed:")
        _say("  set tasks.include_example_tasks: true in it")
    _say()
    _say("Next steps:")
    for line in next_steps(report):
        _say(f"  {line}")


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="The task's name: letters, digits and _ (the file is tasks/NAME.py).")],
    every: Annotated[
        Optional[str],
        typer.Option(
            "--every",
            help='Schedule in words: "10 minutes", "2 hours", "hour at :15", "day at 10:30", "monday at 09:00". '
            "Default: hour.",
        ),
    ] = None,
    cron: Annotated[Optional[str], typer.Option("--cron", help='A cron expression such as "*/5 * * * *".')] = None,
    manual: Annotated[
        bool, typer.Option("--manual", help="No schedule: the task runs only with `autohub run NAME`.")
    ] = False,
    title: Annotated[Optional[str], typer.Option("--title", help="Title in log lines (default from NAME).")] = None,
    description: Annotated[Optional[str], typer.Option("--description", help="One line on what it does.")] = None,
    config: ConfigOption = None,
) -> None:
    """Write tasks/NAME.py from a template that passes `autohub validate`; never overwrites a file.

    Example: autohub new backup_photos --every "day at 02:30" --title "Backup photos"
    """
    from .scaffold import ScaffoldError, new_task

    with user_errors():
        settings = settings_for(config)
        try:
            report = new_task(
                settings, name, every=every, cron=cron, manual=manual, title=title, description=description
            )
        except ScaffoldError as exc:
            _fail(exc, exc.code)
    try:
        shown = report.path.relative_to(Path.cwd())
    except ValueError:
        shown = report.path
    _say(f"created {shown}: [{report.title}] {report.describe}")
    for warning in report.warnings:
        _say(f"warning: {warning}")
    _say(f"Next: edit start() in {shown}, then `autohub validate` and `autohub run {report.name}`")
