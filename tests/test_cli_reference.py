"""docs/cli.md is generated from the app: it must cover every command and option, as they are now."""

from __future__ import annotations

import typer.main

from autohub_cli import clidoc
from autohub_cli.cli import app


def test_docs_cli_md_matches_the_app():
    current = clidoc.DOC.read_text(encoding="utf-8") if clidoc.DOC.is_file() else ""
    assert current == clidoc.render(), "docs/cli.md is out of date: run `python -m autohub_cli.clidoc --write`"


def test_every_command_and_option_is_in_the_reference():
    text = clidoc.render()
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="autohub")

    def walk(group, ctx, path):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command.hidden:
                continue
            sub = typer.Context(command, info_name=name, parent=ctx)
            full = f"{path} {name}"
            assert f"`{full}`" in text
            for param in command.get_params(sub):
                if param.param_type_name == "option" and not param.hidden:
                    assert any(opt in text for opt in param.opts), (full, param.opts)
            if hasattr(command, "list_commands"):
                walk(command, sub, full)

    walk(root, ctx, "autohub")


def test_every_command_has_an_example():
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name="autohub")
    missing = []
    for name in ("status", "reset", "logs", "explain", "pause", "resume", "doctor"):
        if "Example: " not in (root.get_command(ctx, name).help or ""):
            missing.append(name)
    cron = root.get_command(ctx, "cron")
    cron_ctx = typer.Context(cron, info_name="cron", parent=ctx)
    for name in cron.list_commands(cron_ctx):
        if "Example: " not in (cron.get_command(cron_ctx, name).help or ""):
            missing.append(f"cron {name}")
    assert missing == []


def test_check_mode_reports_drift(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(clidoc, "DOC", tmp_path / "cli.md")
    assert clidoc.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err
    assert clidoc.main(["--write"]) == 0
    assert clidoc.main(["--check"]) == 0


def test_readme_command_table_matches_the_app():
    readme = clidoc.README.read_text(encoding="utf-8")
    assert readme == clidoc.readme_with_summary(readme), "README.md's command table is out of date: run clidoc --write"
    for line in clidoc.summary().splitlines()[2:]:
        assert line in readme
