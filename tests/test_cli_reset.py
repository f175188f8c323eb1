"""`autohub reset`: clears backlogs so the next due slot is the next future one; history is kept."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from autohub_cli.cli import app

ENV = {"NO_COLOR": "1", "COLUMNS": "250"}


def invoke(project, *args):
    return CliRunner().invoke(app, [*args, "--config", str(project.root)], env=ENV)


def reset_json(project, *args):
    result = invoke(project, "reset", "--json", *args)
    assert result.exit_code == 0, result.output
    return {t["task"]: t for t in json.loads(result.stdout)["tasks"]}


def test_reset_records_the_backlog_as_skipped_and_the_next_tick_runs_only_future_slots(project):
    project.task("t", schedule="every(5).minutes")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:05:05Z")
    before = project.history("t")
    # the machine was off from 10:05 to 10:17: 10:10 and 10:15 are overdue
    item = reset_json(project, "--task", "t", "--now", "2026-11-27T10:17:00Z")["t"]
    assert item["action"] == "reset"
    assert item["next_due_before"] == "2026-11-27T10:10:00+00:00"
    assert item["next_due_after"] == "2026-11-27T10:20:00+00:00"
    assert item["slots_cleared"] == 2

    rows = project.history("t")
    assert rows[len(rows) - len(before) :] == before  # nothing deleted
    cleared = [r for r in rows if r["reason"] and r["reason"].startswith("reset:")]
    assert [r["slot"][11:16] for r in reversed(cleared)] == ["10:10", "10:15"]
    assert all(r["status"] == "skipped" for r in cleared)

    project.tick("2026-11-27T10:18:05Z")  # nothing was due: the overdue 10:15 does not run
    assert len(project.history("t")) == len(rows)
    project.tick("2026-11-27T10:20:05Z")
    newest = project.history("t")[0]
    assert (newest["slot"][11:16], newest["status"], newest["trigger"]) == ("10:20", "success", "schedule")


def test_dry_run_shows_before_and_after_and_writes_nothing(project):
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    snapshot = project.query("SELECT * FROM tasks"), project.query("SELECT count(*) FROM runs")
    result = invoke(project, "reset", "--all", "--dry-run", "--now", "2026-11-27T10:05:30Z")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing was written" in result.stdout
    assert "would reset" in result.stdout
    assert "10:01:00 (4 min ago)" in result.stdout and "10:06:00 (in 30 s)" in result.stdout
    assert (project.query("SELECT * FROM tasks"), project.query("SELECT count(*) FROM runs")) == snapshot

    data = json.loads(invoke(project, "reset", "--all", "--dry-run", "--json", "--now", "2026-11-27T10:05:30Z").stdout)
    assert data["dry_run"] is True and data["tasks"][0]["slots_cleared"] == 5
    assert (project.query("SELECT * FROM tasks"), project.query("SELECT count(*) FROM runs")) == snapshot


def test_future_only_leaves_tasks_without_a_backlog_alone(project):
    project.task("late", schedule="every(5).minutes")
    project.task("fine", schedule="every().hour")
    project.tick("2026-11-27T10:00:30Z")
    items = reset_json(project, "--all", "--future-only", "--now", "2026-11-27T10:07:00Z")
    assert items["late"]["action"] == "reset"
    assert items["fine"]["action"] == "unchanged" and "no backlog" in items["fine"]["why"]
    assert items["fine"]["next_due_after"] == "2026-11-27T11:00:00+00:00"


def test_future_only_leaves_the_slot_of_the_current_minute_to_the_tick(project):
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    # 10:01-10:04 are overdue; 10:05 is due this minute and the tick has not run yet
    item = reset_json(project, "--task", "t", "--future-only", "--now", "2026-11-27T10:05:00.5Z")["t"]
    assert item["action"] == "reset" and item["slots_cleared"] == 4
    assert item["next_due_after"] == "2026-11-27T10:05:00+00:00"
    project.tick("2026-11-27T10:05:01Z")
    newest = project.history("t")[0]
    assert (newest["slot"][11:16], newest["status"], newest["trigger"]) == ("10:05", "success", "schedule")

    # without --future-only the slot of this minute is cleared too
    project.tick("2026-11-27T10:08:30Z")
    item = reset_json(project, "--task", "t", "--now", "2026-11-27T10:10:00.5Z")["t"]
    assert item["slots_cleared"] == 2 and item["next_due_after"] == "2026-11-27T10:11:00+00:00"


def test_a_cursor_in_the_future_after_the_clock_went_back_is_left_alone(project):
    project.task("t", schedule="every(5).minutes")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:30:05Z")  # a clock that ran ahead, since corrected: 10:05-10:30 are handled
    item = reset_json(project, "--all", "--now", "2026-11-27T10:07:00Z")["t"]
    assert item["action"] == "unchanged" and "clock was set back" in item["why"]
    assert item["next_due_before"] == "2026-11-27T10:35:00+00:00"


def test_up_to_date_tasks_and_tasks_without_slots_are_reported_not_changed(project):
    project.task("t")
    project.task("manual_one", schedule=None)
    project.task("new_one")
    (project.root / "tasks" / "broken.py").write_text("def start(:\n")
    project.tick("2026-11-27T10:00:30Z")
    project.task("newer")  # written after the tick: no tick has seen it
    items = reset_json(project, "--all", "--now", "2026-11-27T10:00:40Z")
    assert items["t"]["action"] == "unchanged"
    assert items["manual_one"]["action"] == "skipped" and "manual" in items["manual_one"]["why"]
    assert items["broken"]["action"] == "skipped" and "invalid" in items["broken"]["why"]
    assert items["newer"]["action"] == "skipped" and "no tick has seen it" in items["newer"]["why"]


def test_reset_needs_a_selection_and_known_names(project):
    project.task("t")
    result = invoke(project, "reset")
    assert result.exit_code == 2 and "--all" in result.stderr
    assert invoke(project, "reset", "--all", "--task", "t").exit_code == 2
    result = invoke(project, "reset", "--task", "nope")
    assert result.exit_code == 1 and "unknown task 'nope'" in result.stderr and "known tasks: t" in result.stderr
