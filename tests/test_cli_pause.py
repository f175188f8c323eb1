"""`autohub pause` / `resume`: a flag in the state; paused slots are recorded as skipped, never replayed."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from autohub_cli.cli import app

ENV = {"NO_COLOR": "1", "COLUMNS": "250"}


def invoke(project, *args):
    return CliRunner().invoke(app, [*args, "--config", str(project.root)], env=ENV)


def slots(rows):
    return [(r["slot"][11:16], r["status"]) for r in reversed(rows)]


def test_paused_slots_are_skipped_and_resume_runs_from_the_next_slot(project):
    path = project.task("t")
    source = path.read_text()
    project.tick("2026-11-27T10:00:30Z")
    result = invoke(project, "pause", "t", "--now", "2026-11-27T10:00:40Z")
    assert result.exit_code == 0, result.output
    assert "paused t" in result.stdout
    assert path.read_text() == source  # the user's file is not edited
    project.tick("2026-11-27T10:01:05Z")
    project.tick("2026-11-27T10:02:05Z")
    rows = project.history("t")
    assert slots(rows) == [("10:01", "skipped"), ("10:02", "skipped")]
    assert all(r["reason"].startswith("paused") for r in rows)

    result = invoke(project, "resume", "t", "--now", "2026-11-27T10:02:30Z")
    assert result.exit_code == 0 and "resumed t" in result.stdout
    project.tick("2026-11-27T10:03:05Z")
    assert slots(project.history("t"))[-1] == ("10:03", "success")


def test_resume_does_not_replay_slots_that_fell_due_while_no_tick_ran(project):
    project.task("t", catchup="all")
    project.tick("2026-11-27T10:00:30Z")
    invoke(project, "pause", "t", "--now", "2026-11-27T10:00:40Z")
    # no tick from 10:01 to 10:05 (cron was stopped too): resume settles those slots as paused
    result = invoke(project, "resume", "t", "--json", "--now", "2026-11-27T10:05:30Z")
    (item,) = json.loads(result.stdout)
    assert item["action"] == "resumed" and item["slots_settled"] == 5
    project.tick("2026-11-27T10:06:05Z")
    rows = project.history("t")
    assert slots(rows) == [
        ("10:01", "skipped"),
        ("10:02", "skipped"),
        ("10:03", "skipped"),
        ("10:04", "skipped"),
        ("10:05", "skipped"),
        ("10:06", "success"),
    ]
    assert all(r["reason"].startswith("paused") for r in rows if r["status"] == "skipped")


def test_pause_all_and_a_task_no_tick_has_seen(project):
    project.task("a")
    project.tick("2026-11-27T10:00:30Z")
    project.task("b")  # new: the tick has not seen it yet
    result = invoke(project, "pause", "--all", "--json")
    assert result.exit_code == 0, result.output
    assert {i["task"]: i["action"] for i in json.loads(result.stdout)} == {"a": "paused", "b": "paused"}
    project.tick("2026-11-27T10:01:05Z")  # b is seen for the first time, paused
    project.tick("2026-11-27T10:02:05Z")
    assert {r["status"] for r in project.history()} == {"skipped"}
    assert {r["task"] for r in project.history()} == {"a", "b"}
    again = invoke(project, "pause", "a")
    assert "already paused" in again.stdout
    result = invoke(project, "resume", "--all", "--json")
    assert {i["action"] for i in json.loads(result.stdout)} == {"resumed"}
    assert "not paused" in invoke(project, "resume", "a").stdout


def test_pause_needs_a_name_or_all_and_known_names(project):
    project.task("a")
    assert invoke(project, "pause").exit_code == 2
    assert invoke(project, "resume", "a", "--all").exit_code == 2
    result = invoke(project, "pause", "zzz")
    assert result.exit_code == 1 and "unknown task 'zzz'" in result.stderr
