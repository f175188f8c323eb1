"""`autohub install-deps`: install the requirements of tasks before their slots fire."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Optional

import typer

from .cli import FAILED, ConfigOption, JsonOption, app, console, print_json, settings_for, user_errors

STATUS_STYLE = {
    "satisfied": "green",
    "installed": "green",
    "would-install": "yellow",
    "failed": "red",
    "nothing": "dim",
}


@app.command("install-deps")
def install_deps(
    tasks: Annotated[
        Optional[list[str]], typer.Argument(help="Only these tasks (default: every enabled task).")
    ] = None,
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be installed; install nothing.")] = False,
    upgrade: Annotated[
        bool, typer.Option("--upgrade", help="Upgrade requirements that are satisfied already to the newest allowed.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Install the packages tasks declare (frontmatter `dependencies` or a PEP 723 `# /// script` block).

    A requirement that is met already is left alone: `requests>=2.25` keeps an installed 2.31.

    Tasks with `isolated: true`, and tasks whose requirements clash, get an environment of their own under state/envs/.

    Exit 1 when an install failed, or a named task is unknown or invalid.

    Example: autohub install-deps fetch_prices --dry-run
    """
    from . import deps

    with user_errors():
        settings = settings_for(config)
        progress = _Progress(quiet=as_json)
        try:
            report = deps.install_deps(settings, tasks or [], dry_run=dry_run, upgrade=upgrade, on_event=progress.event)
        finally:
            progress.stop()
    if as_json:
        print_json(report.to_json())
    else:
        _render(report, dry_run)
    if report.failed or report.unknown or (tasks and report.invalid):
        raise typer.Exit(FAILED)


class _Progress:
    """A spinner with the installer's latest line on a terminal; one line per step otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.err = console(stderr=True)
        self.status: Any = None
        self.task = ""

    def event(self, kind: str, task: str, detail: str) -> None:
        if self.quiet:
            return
        if kind == "install":
            self.task = task
            message = f"{task}: installing {detail}"
            if self.err.is_terminal:
                if self.status is None:
                    self.status = self.err.status(message)
                    self.status.start()
                else:
                    self.status.update(message)
            else:
                self.err.print(message, markup=False, highlight=False)
        elif kind == "line" and self.status is not None:
            self.status.update(f"{task}: {_clip(detail)}")
        elif kind == "done" and self.status is not None and task == self.task:
            self.status.update(f"{task}: {detail}")

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _render(report: Any, dry_run: bool) -> None:
    from rich.markup import escape

    out = console()
    err = console(stderr=True)
    for name in report.unknown:
        known = ", ".join(report.known) or "(none)"
        err.print(f"unknown task {name!r}; known tasks: {known}", markup=False)
    for name, message in report.invalid.items():
        err.print(f"invalid task {name}: {message}", markup=False)
    for clash in report.clashes:
        out.print(
            f"[yellow]clash[/] {escape(clash.describe())}: "
            + escape(", ".join(t for t, _ in clash.wants if t != "autohub itself"))
            + " run in isolated environments of their own",
            highlight=False,
        )
    if not report.tasks:
        if not report.unknown and not report.invalid:
            out.print("No enabled task declares dependencies: nothing to install.")
        return
    for entry in report.tasks:
        style = STATUS_STYLE.get(entry.status, "")
        line = f"[{style}]{entry.status:<13}[/] {escape(entry.task)}  [dim]{escape(entry.environment)}[/]"
        out.print(line, highlight=False)
        if entry.status == "would-install" and entry.missing:
            out.print(f"              missing: {escape(', '.join(entry.missing))}", highlight=False)
        if entry.status == "failed":
            out.print(f"              [red]{escape(entry.reason or 'failed')}[/]", highlight=False)
            if entry.missing:
                out.print(f"              missing: {escape(', '.join(entry.missing))}", highlight=False)
    for folder in report.unused:
        out.print(
            f"[dim]unused        {escape(folder)}: no enabled task runs in it; remove it with rm -r {escape(folder)}[/]"
        )
    counts: dict[str, int] = {}
    for entry in report.tasks:
        counts[entry.status] = counts.get(entry.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    out.print(f"{summary}{' (dry run: nothing was installed)' if dry_run else ''}", highlight=False)
    sys.stdout.flush()
