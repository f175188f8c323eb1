"""`autohub explain`: why a task did or did not run around a time, replaying the tick's own planner."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from typer.testing import CliRunner

from autohub_cli.cli import app
from autohub_cli.procs import current_owner
from autohub_cli.store import SQLiteStore

ENV = {"NO_COLOR": "1", "COLUMNS": "250"}
UTC = timezone.utc


def invoke(project, *args):
    return CliRunner().invoke(app, [*args, "--config", str(project.root)], env=ENV)


def explain(project, task, *args):
    result = invoke(project, "explain", task, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def by_time(data):
    return {s["slot"][11:16]: s for s in data["slots"]}


def test_recorded_past_and_predicted_future_slots(project):
    project.task("t", "raise SystemExit(2)", schedule="every(5).minutes", title="Five")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:05:05Z")
    project.tick("2026-11-27T10:17:05Z")  # 10:10 missed: skipped (catchup latest); 10:15 ran late
    data = explain(project, "t", "--at", "2026-11-27T10:10:00Z", "--now", "2026-11-27T10:17:30Z")
    assert data["title"] == "Five" and data["state"] == "enabled"
    assert data["schedule_words"].startswith("every 5 minutes")
    slots = by_time(data)
    assert list(slots) == ["10:00", "10:05", "10:10", "10:15", "10:20", "10:25"]
    assert slots["10:00"]["decision"] == "not planned" and "(re)seen" in slots["10:00"]["reason"]
    assert (slots["10:05"]["decision"], slots["10:05"]["outcome"], slots["10:05"]["source"]) == (
        "ran",
        "failed",
        "recorded",
    )
    assert slots["10:05"]["runs"][0]["exit_code"] == 2
    assert slots["10:10"]["decision"] == "skipped" and "catchup is latest" in slots["10:10"]["reason"]
    assert (slots["10:15"]["decision"], slots["10:15"]["trigger"]) == ("ran", "overdue")
    assert (slots["10:20"]["decision"], slots["10:20"]["source"]) == ("will run", "predicted")
    assert any("Next slot: 2026-11-27T10:20:00+00:00" in s and "it will run" in s for s in data["next"])
    assert any("failed" in s for s in data["next"])


def test_replayed_decisions_are_what_the_next_tick_does(project):
    project.task("t", catchup="all")
    project.config("scheduler:\n  timezone: UTC\n  max_catchup: 2\n")
    project.tick("2026-11-27T10:00:30Z")
    now = "2026-11-27T10:04:10Z"  # 10:01..10:04 are due and no tick has handled them
    data = explain(project, "t", "--at", "2026-11-27T10:03:00Z", "--now", now, "-n", "4")
    slots = by_time(data)
    told = {k: s for k, s in slots.items() if s["source"] == "replayed"}
    assert list(told) == ["10:01", "10:02", "10:03", "10:04"]
    assert [told[k]["decision"] for k in told] == ["will skip", "will skip", "will run", "will run"]
    assert "catch-up limit" in told["10:01"]["reason"]
    assert any(s.startswith("The next tick will run slot") for s in data["next"])

    project.tick(now)
    done = {r["slot"][11:16]: r for r in project.history("t")}
    for key, story in told.items():
        assert done[key]["status"] == ("skipped" if story["decision"] == "will skip" else "success")
        if story["decision"] == "will skip":
            assert done[key]["reason"] in story["reason"]


def test_predicted_skips_for_paused_and_disabled_tasks(project):
    project.task("p")
    project.task("d", enabled=False)
    project.tick("2026-11-27T10:00:30Z")
    invoke(project, "pause", "p")
    paused = explain(project, "p", "--now", "2026-11-27T10:00:40Z")
    future = [s for s in paused["slots"] if s["source"] == "predicted"]
    assert future and all(s["decision"] == "will skip" and s["reason"].startswith("paused") for s in future)
    assert paused["state"] == "paused" and any("autohub resume p" in s for s in paused["next"])
    disabled = explain(project, "d", "--now", "2026-11-27T10:00:40Z")
    assert disabled["state"] == "disabled"
    assert all(
        s["decision"] == "will skip" and s["reason"].startswith("disabled")
        for s in disabled["slots"]
        if s["source"] == "predicted"
    )

    project.tick("2026-11-27T10:01:05Z")  # the tick agrees
    assert {r["task"]: r["status"] for r in project.history()} == {"p": "skipped", "d": "skipped"}


def test_the_next_slot_is_predicted_skipped_while_a_run_is_still_running(project):
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    store = SQLiteStore(project.db)
    start = datetime(2026, 11, 27, 10, 1, tzinfo=UTC)
    with store.transaction():  # a run owned by this (live) process, as a tick would own it
        store.insert_run("t", start, 1, "schedule", "running", owner=current_owner(), now=start)
    store.close()
    data = explain(project, "t", "--now", "2026-11-27T10:01:30Z")
    nxt = by_time(data)["10:02"]
    assert (
        nxt["decision"] == "will skip" and nxt["reason"].startswith("overlap") and "if the current run" in nxt["reason"]
    )
    assert by_time(data)["10:01"]["decision"] == "running"
    assert by_time(data)["10:03"]["decision"] == "will run"
    assert any("is running since" in s for s in data["next"])


def test_slots_inside_a_max_overdue_summary_point_to_the_summary_row(project):
    project.task("t", max_overdue=600)
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T12:00:05Z")  # off for two hours: one summary row for the old slots
    data = explain(project, "t", "--at", "2026-11-27T11:00:00Z", "--now", "2026-11-27T12:00:30Z", "-n", "1")
    (story,) = [s for s in data["slots"] if s["slot"][11:16] == "11:00"]
    assert story["decision"] == "skipped" and story["source"] == "recorded"
    assert "older than max_overdue" in story["reason"]


def test_invalid_manual_and_unknown_tasks(project):
    (project.root / "tasks" / "broken.py").write_text('"""\n---\nretry_count: many\n---\n"""\ndef start():\n    pass\n')
    project.task("by_hand", schedule=None)
    project.tick("2026-11-27T10:00:30Z")
    broken = explain(project, "broken")
    assert broken["state"] == "invalid" and broken["slots"] == [] and "retry_count" in broken["why"]
    assert "fixed" in broken["next"][0]
    manual = explain(project, "by_hand")
    assert manual["state"] == "manual" and "autohub run by_hand" in manual["next"][0]
    result = invoke(project, "explain", "nope")
    assert result.exit_code == 1 and "unknown task 'nope'" in result.stderr


def test_explain_table(project):
    project.task("t", title="Tea")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    result = invoke(project, "explain", "t", "--now", "2026-11-27T10:01:30Z")
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in (
        "t (Tea): every minute; enabled",
        "slot",
        "decision",
        "recorded",
        "predicted",
        "will run",
        "Next",
        "Next slot:",
    ):
        assert text in out
    assert "10:01:00 (30 s ago) <" in out  # the slot at or just before the time asked about
