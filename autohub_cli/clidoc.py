"""The CLI reference (docs/cli.md), generated from the typer app itself so it cannot drift.

    python -m autohub_cli.clidoc --write    # regenerate docs/cli.md and the README's command table
    python -m autohub_cli.clidoc --check    # exit 1 when either is out of date

`tests/test_cli_reference.py` runs the check, so a new command or option without a regenerated
reference fails the tests.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
README = DOC.parents[1] / "README.md"
START, END = "<!-- cli-summary:start -->", "<!-- cli-summary:end -->"

HEADER = """# autohub command reference

Generated from the command line app by `python -m autohub_cli.clidoc --write`; the test suite fails
when this file and the app disagree. `autohub COMMAND --help` prints the same text.

Exit codes, the same for every command: `0` done; `1` something the command checked failed (an
invalid task, a failed doctor check, an unknown task name, a failed run under `--strict`); `2` wrong
usage; `3` autohub itself could not work (bad config, unusable state database or tasks directory, no
crontab program).

Output: tables for people; `--json` for machines on every command that reads. Colour only on a
terminal, and never with `NO_COLOR` set.
"""


def render() -> str:
    import typer
    import typer.main

    from .cli import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="autohub")
    parts = [HEADER, _section(root, ctx, "autohub", level=2)]
    parts.extend(_commands(root, ctx, "autohub"))
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def _commands(group: Any, ctx: Any, path: str) -> list[str]:
    import typer

    out = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or getattr(command, "hidden", False):
            continue
        sub = typer.Context(command, info_name=name, parent=ctx)
        full = f"{path} {name}"
        out.append(_section(command, sub, full, level=2 if path == "autohub" else 3))
        if hasattr(command, "list_commands"):
            out.extend(_commands(command, sub, full))
    return out


def summary() -> str:
    """The README's table: every command with the first line of its help."""
    import typer
    import typer.main

    from .cli import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="autohub")
    rows = ["| command | what it does |", "|---|---|"]

    def walk(group: Any, gctx: Any, path: str) -> None:
        for name in group.list_commands(gctx):
            command = group.get_command(gctx, name)
            if command is None or getattr(command, "hidden", False):
                continue
            sub = typer.Context(command, info_name=name, parent=gctx)
            if hasattr(command, "list_commands"):
                walk(command, sub, f"{path} {name}")
                continue
            usage = " ".join(p for p in command.collect_usage_pieces(sub) if p != "[OPTIONS]")
            usage = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), usage)
            usage = re.sub(r"\[(\w+)\]", lambda m: f"[{m.group(1).upper()}]", usage)
            first = (command.help or "").strip().splitlines()[0] if command.help else ""
            rows.append(f"| `{path} {name}{' ' + usage if usage else ''}` | {_cell(first)} |")

    walk(root, ctx, "autohub")
    return "\n".join(rows) + "\n"


def readme_with_summary(readme: str) -> str:
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{README} has no {START} ... {END} block")
    return f"{head}{START}\n{summary()}{END}{tail}"


def _section(command: Any, ctx: Any, path: str, *, level: int) -> str:
    lines = [f"{'#' * level} `{path}`", ""]
    help_text = (command.help or "").strip()
    if help_text:
        lines += [_dedent(help_text), ""]
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += ["```", f"{path} {usage}".rstrip(), "```", ""]
    arguments, options = [], []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            required = "" if param.required else " (optional)"
            many = " ..." if param.nargs == -1 else ""
            label = (param.metavar or param.name or "").upper()
            arguments.append(f"| `{label}{many}`{required} | {_cell(getattr(param, 'help', '') or '')} |")
        else:
            record = param.get_help_record(ctx)
            if record is None:
                continue
            names, text = record
            options.append(f"| `{names}` | {_cell(text)} |")
    if arguments:
        lines += ["| argument | meaning |", "|---|---|", *arguments, ""]
    if options:
        lines += ["| option | meaning |", "|---|---|", *options, ""]
    if hasattr(command, "list_commands"):
        names = [n for n in command.list_commands(ctx) if not getattr(command.get_command(ctx, n), "hidden", False)]
        lines += ["Commands: " + ", ".join(f"`{n}`" for n in names), ""]
    return "\n".join(lines)


def _dedent(text: str) -> str:
    import textwrap

    first, _, rest = text.partition("\n")
    return (first + "\n" + textwrap.dedent(rest)).strip()


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    readme = README.read_text(encoding="utf-8")
    if args == ["--write"]:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
        README.write_text(readme_with_summary(readme), encoding="utf-8")
        return 0
    if args == ["--check"]:
        current = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
        stale = [
            str(p) for p, ok in ((DOC, current == text), (README, readme == readme_with_summary(readme))) if not ok
        ]
        if stale:
            sys.stderr.write(f"{', '.join(stale)} out of date: run `python -m autohub_cli.clidoc --write`\n")
            return 1
        return 0
    if not args:
        sys.stdout.write(text)
        return 0
    sys.stderr.write("usage: python -m autohub_cli.clidoc [--write | --check]\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
