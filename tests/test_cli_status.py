"""`autohub status`: the scheduler's health first, then one row per task (table and --json)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from typer.testing import CliRunner

from autohub_cli import crontab
from autohub_cli.cli import app
from autohub_cli.status import Mark, clock_events, human_duration

UTC = timezone.utc
ENV = {"NO_COLOR": "1", "COLUMNS": "250"}


def invoke(project, *args):
    return CliRunner().invoke(app, [*args, "--config", str(project.root)], env=ENV)


def status_json(project, now):
    result = invoke(project, "status", "--json", "--now", now)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def no_real_crontab(monkeypatch):
    """Status reads the crontab; these tests pin what it says instead of depending on the machine."""
    state = crontab.CronState(True, None, "* * * * * line", (), (), True)
    monkeypatch.setattr(crontab, "read_state", lambda settings, executable=None, **kw: state)
    return state


def test_status_json_has_health_then_one_row_per_task(project):
    project.task("hello", 'print("hi")', title="Hello World")
    project.task("five", "raise SystemExit(3)", schedule="every(5).minutes")
    project.task("manual_one", schedule=None)
    project.task("off", enabled=False)
    (project.root / "tasks" / "broken.py").write_text('"""\n---\ntimeout: -1\n---\n"""\ndef start():\n    pass\n')
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:05:05Z")
    data = status_json(project, "2026-11-27T10:05:40Z")

    health = data["scheduler"]
    assert health["last_tick"]["started_at"].startswith("2026-11-27T10:05:05")
    assert health["last_tick"]["ago_seconds"] == pytest.approx(35, abs=1)
    assert health["last_tick"]["state"] == "finished"
    assert health["last_tick"]["duration"] is not None
    assert health["cron"]["installed"] is False
    assert health["warnings"] == []

    rows = {t["name"]: t for t in data["tasks"]}
    assert sorted(rows) == ["broken", "five", "hello", "manual_one", "off"]
    hello = rows["hello"]
    assert hello["title"] == "Hello World"
    assert hello["schedule_words"] == "every minute"
    assert hello["state"] == "enabled"
    assert hello["last_run"]["status"] == "success"
    assert hello["next_slot"] == "2026-11-27T10:06:00+00:00"
    assert hello["failure_streak"] == 0 and hello["overdue"] == 0

    five = rows["five"]
    assert five["schedule_words"].startswith("every 5 minutes at :00, :05, :10, :15")
    assert five["last_run"]["status"] == "failed"
    assert five["failure_streak"] == 1
    assert five["next_slot"] == "2026-11-27T10:10:00+00:00"

    assert rows["broken"]["state"] == "invalid"
    assert "timeout" in rows["broken"]["why"] and "broken.py:3" in rows["broken"]["why"]
    assert rows["manual_one"]["state"] == "manual"
    assert rows["off"]["state"] == "disabled" and rows["off"]["next_slot"] is None


def test_status_table_shows_health_and_rows(project):
    project.task("hello", 'print("hi")', title="Hello World")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    result = invoke(project, "status", "--now", "2026-11-27T10:01:30Z")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("last tick") < out.index("Tasks (1)")
    assert "10:01:05 (25 s ago)" in out
    assert "not installed" in out  # the pinned crontab has no line for this project
    for text in ("hello", "Hello World", "every minute", "enabled", "success", "10:02:00 (in 30 s)"):
        assert text in out
    assert "\x1b[" not in out  # no colour codes when not a terminal / NO_COLOR


def test_loud_warning_when_no_tick_for_more_than_two_minutes(project, no_real_crontab):
    project.task("hello")
    project.tick("2026-11-27T10:00:30Z")
    data = status_json(project, "2026-11-27T10:04:00Z")
    (warning,) = data["scheduler"]["warnings"]
    assert "NO TICK FOR 3 MIN" in warning and "not running" in warning
    assert "NOT installed" in warning and "autohub cron install" in warning  # the hint names the likely cause
    assert data["scheduler"]["healthy"] is False
    assert data["tasks"][0]["overdue"] == 3  # 10:01, 10:02, 10:03 are late; 10:04 is this minute's
    assert data["tasks"][0]["overdue_since"] == "2026-11-27T10:01:00+00:00"

    table = invoke(project, "status", "--now", "2026-11-27T10:04:00Z").stdout
    assert "WARNING" in table and "NO TICK FOR 3 MIN" in table


def test_no_warning_for_a_quiet_scheduler_without_scheduled_tasks(project):
    project.task("manual_one", schedule=None)
    project.tick("2026-11-27T10:00:30Z")
    assert status_json(project, "2026-11-27T11:00:00Z")["scheduler"]["warnings"] == []


def test_warning_when_no_tick_ever_ran(project):
    project.task("hello")
    data = status_json(project, "2026-11-27T10:00:00Z")
    assert data["scheduler"]["last_tick"] is None
    assert "NO TICK HAS EVER RUN" in data["scheduler"]["warnings"][0]


def test_paused_task_is_shown_paused(project):
    project.task("hello")
    project.tick("2026-11-27T10:00:30Z")
    assert invoke(project, "pause", "hello").exit_code == 0
    row = status_json(project, "2026-11-27T10:00:40Z")["tasks"][0]
    assert row["state"] == "paused" and "autohub resume hello" in row["why"]


def test_removed_task_keeps_its_row_and_history(project):
    path = project.task("gone")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    path.unlink()
    project.tick("2026-11-27T10:02:05Z")
    row = status_json(project, "2026-11-27T10:02:30Z")["tasks"][0]
    assert row["state"] == "removed" and row["last_run"]["status"] == "success"


# --- telling the host's and the clock's stories apart from tick rows ---------------------------

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def marks(*points, host="h"):
    """(minutes of wall time, seconds of monotonic time, boot) -> Marks with increasing tick ids."""
    return [Mark(T0 + timedelta(minutes=w), m, boot, host, i + 1) for i, (w, m, boot) in enumerate(points)]


def test_regular_ticks_raise_nothing():
    assert clock_events(marks((0, 100.0, "b"), (1, 160.0, "b"), (2, 220.0, "b"))) == []


def test_a_new_boot_id_is_a_reboot():
    (event,) = clock_events(marks((0, 100.0, "b1"), (45, 30.0, "b2")))
    assert event.kind == "reboot" and "rebooted" in event.message and "45 min" in event.message


def test_wall_clock_ahead_of_monotonic_within_a_boot_is_a_suspend_when_the_host_slept_that_long():
    points = marks((0, 100.0, "b"), (90, 160.0, "b"))  # 90 min of wall time, 1 min of monotonic time
    (event,) = clock_events(points, current_boot="b", asleep_since_boot=89 * 60.0)
    assert event.kind == "suspend" and "suspended" in event.message and "1 h 29 min" in event.message


def test_wall_clock_ahead_of_monotonic_without_that_much_sleep_is_a_forward_jump():
    points = marks((0, 100.0, "b"), (90, 160.0, "b"))
    (event,) = clock_events(points, current_boot="b", asleep_since_boot=3.0)
    assert event.kind == "clock-forward" and "jumped forward" in event.message


def test_unknown_sleep_time_reads_as_a_clock_jump():
    (event,) = clock_events(marks((0, 100.0, "b"), (90, 160.0, "b")))
    assert event.kind == "clock-forward"


def test_wall_clock_behind_monotonic_is_a_backward_jump():
    (event,) = clock_events(marks((10, 100.0, "b"), (5, 160.0, "b")))
    assert event.kind == "clock-back" and "set back" in event.message


def test_both_clocks_agreeing_on_a_long_gap_means_the_trigger_stopped():
    (event,) = clock_events(marks((0, 100.0, "b"), (30, 1900.0, "b")))
    assert event.kind == "no-ticks" and "30 min" in event.message and "trigger" in event.message


def test_ticks_of_other_hosts_are_compared_per_host():
    a = marks((0, 100.0, "ba"), (2, 220.0, "ba"), host="a")
    b = [Mark(T0 + timedelta(minutes=1), 5000.0, "bb", "b", 10)]
    assert clock_events([*a, *b]) == []


def test_human_duration():
    assert [human_duration(s) for s in (5, 65, 3600, 3660, 200000)] == [
        "5 s",
        "1 min",
        "1 h",
        "1 h 1 min",
        "2 days 7 h",
    ]
