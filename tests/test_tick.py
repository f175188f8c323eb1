"""The tick end to end, through the installed `autohub` command: SPEC §4."""

from __future__ import annotations

import json
from collections import Counter


def slots(rows, status=None):
    return [(r["slot"][11:16], r["status"], r["trigger"]) for r in rows if status is None or r["status"] == status]


def test_first_sight_has_no_backlog_then_each_slot_runs_once(project):
    project.task("hello", 'print("hello")')
    project.tick("2026-11-27T10:00:30Z")
    assert project.history() == []
    project.tick("2026-11-27T10:01:05Z")
    project.tick("2026-11-27T10:01:40Z")  # same minute again: nothing new
    rows = project.history()
    assert slots(rows) == [("10:01", "success", "schedule")]
    assert rows[0]["attempt"] == 1 and rows[0]["exit_code"] == 0
    assert "[hello] hello" in project.log("tasks.log")


def test_catchup_latest_runs_the_newest_and_records_the_rest(project):
    project.task("t", catchup="latest")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:05:10Z")
    rows = list(reversed(project.history()))
    assert slots(rows) == [
        ("10:01", "skipped", "overdue"),
        ("10:02", "skipped", "overdue"),
        ("10:03", "skipped", "overdue"),
        ("10:04", "skipped", "overdue"),
        ("10:05", "success", "schedule"),
    ]
    assert all("catchup is latest" in r["reason"] for r in rows[:4])


def test_catchup_latest_after_downtime_runs_once_as_overdue(project):
    project.task("t", schedule="every(5).minutes")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:17:30Z")  # 10:05, 10:10, 10:15 were missed while the machine was off
    rows = list(reversed(project.history()))
    assert slots(rows) == [
        ("10:05", "skipped", "overdue"),
        ("10:10", "skipped", "overdue"),
        ("10:15", "success", "overdue"),
    ]


def test_catchup_all_runs_oldest_first_up_to_max_catchup(project):
    project.config("scheduler:\n  timezone: UTC\n  max_catchup: 3\n")
    project.task("t", "import os; print(os.environ['AUTOHUB_SLOT'])", catchup="all")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:05:10Z")
    rows = list(reversed(project.history()))
    assert slots(rows) == [
        ("10:01", "skipped", "overdue"),
        ("10:02", "skipped", "overdue"),
        ("10:03", "success", "overdue"),
        ("10:04", "success", "overdue"),
        ("10:05", "success", "schedule"),
    ]
    assert all("max_catchup" in r["reason"] for r in rows[:2])
    ran = [r for r in rows if r["status"] == "success"]
    assert [r["started_at"] for r in ran] == sorted(r["started_at"] for r in ran)
    output = project.log("tasks.log")
    assert output.index("10:03:00") < output.index("10:04:00") < output.index("10:05:00")


def test_catchup_skip_runs_only_a_slot_of_the_current_minute(project):
    project.task("t", schedule="every(5).minutes", catchup="skip")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:06:10Z")  # 10:05 was missed: skipped
    project.tick("2026-11-27T10:10:20Z")  # 10:10 is now: runs
    rows = list(reversed(project.history()))
    assert slots(rows) == [("10:05", "skipped", "overdue"), ("10:10", "success", "schedule")]
    assert "catchup is skip" in rows[0]["reason"]


def test_slots_older_than_max_overdue_never_run(project):
    project.task("t", max_overdue=120, catchup="all")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:10:10Z")
    rows = list(reversed(project.history()))
    assert rows[0]["status"] == "skipped" and "max_overdue (120 s)" in rows[0]["reason"]
    assert rows[0]["slot"].startswith("2026-11-27T10:01")
    assert slots(rows[1:]) == [("10:09", "success", "overdue"), ("10:10", "success", "schedule")]


def test_overlap_skip_records_the_slot_that_came_due_while_running(project):
    project.task("slow", "import time; time.sleep(4)")
    project.tick("2026-11-27T10:00:30Z")
    first = project.spawn_tick("2026-11-27T10:01:05Z")
    try:
        _wait_for(lambda: any(r["status"] == "running" for r in project.history()))
        project.tick("2026-11-27T10:02:05Z")
    finally:
        first.wait(timeout=60)
    rows = list(reversed(project.history()))
    assert slots(rows) == [("10:01", "success", "schedule"), ("10:02", "skipped", "schedule")]
    assert rows[1]["reason"].startswith("overlap")


def test_overlap_allow_runs_alongside(project):
    project.task("slow", "import time; time.sleep(3)", overlap="allow")
    project.tick("2026-11-27T10:00:30Z")
    first = project.spawn_tick("2026-11-27T10:01:05Z")
    try:
        _wait_for(lambda: any(r["status"] == "running" for r in project.history()))
        project.tick("2026-11-27T10:02:05Z")
    finally:
        first.wait(timeout=60)
    assert Counter(r["status"] for r in project.history()) == {"success": 2}


def test_a_retry_happens_after_the_tick_that_failed_has_exited(project):
    project.task("flaky", "raise RuntimeError('boom')", retry_count=1, retry_delay=60)
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")  # fails; the retry waits 60 s, beyond this tick's window
    rows = project.history()
    assert [(r["attempt"], r["status"], r["trigger"]) for r in reversed(rows)] == [
        (1, "failed", "schedule"),
        (2, "pending", "retry"),
    ]
    project.tick("2026-11-27T10:01:50Z")  # not yet: retry_delay is honoured
    assert project.history()[0]["status"] == "pending"
    project.tick("2026-11-27T10:02:10Z")  # a new process picks the retry up (and runs the 10:02 slot)
    rows = [r for r in reversed(project.history()) if r["slot"].startswith("2026-11-27T10:01")]
    assert [(r["attempt"], r["status"], r["trigger"]) for r in rows] == [
        (1, "failed", "schedule"),
        (2, "failed", "retry"),
    ]
    assert "RuntimeError: boom" in project.log("errors.log")


def test_a_short_retry_delay_is_retried_by_the_same_tick(project):
    marker = project.root / "attempts"
    project.task(
        "flaky",
        f"import os\np = {str(marker)!r}\nn = os.path.getsize(p) if os.path.exists(p) else 0\n"
        "open(p, 'a').write('x')\nif n == 0: raise SystemExit(3)",
        retry_count=2,
        retry_delay=1,
    )
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    rows = list(reversed(project.history()))
    assert [(r["attempt"], r["status"], r["exit_code"]) for r in rows] == [(1, "failed", 3), (2, "success", 0)]


def test_exit_codes_and_strict(project):
    project.task("bad", "raise ValueError('nope')")
    project.tick("2026-11-27T10:00:30Z")
    assert project.cli("tick", "--now", "2026-11-27T10:01:05Z").returncode == 0
    assert project.cli("tick", "--now", "2026-11-27T10:02:05Z", "--strict").returncode == 1


def test_dry_run_prints_decisions_and_writes_nothing(project):
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    before = project.query("SELECT count(*) FROM runs")[0][0], project.query("SELECT cursor FROM tasks")
    out = project.cli("tick", "--now", "2026-11-27T10:03:10Z", "--dry-run", check=True).stdout
    assert "10:03:00" in out and "run" in out and "catchup is latest" in out
    assert (project.query("SELECT count(*) FROM runs")[0][0], project.query("SELECT cursor FROM tasks")) == before


def test_schedule_edit_applies_next_tick_without_an_immediate_run(project):
    project.task("t", schedule="every(5).minutes")
    project.tick("2026-11-27T10:00:30Z")
    project.task("t", schedule="every(1).minutes")
    project.tick("2026-11-27T10:03:10Z")  # re-seen: no backlog from before the edit
    assert project.history() == []
    project.tick("2026-11-27T10:04:05Z")
    assert slots(project.history()) == [("10:04", "success", "schedule")]


def test_disabled_task_records_skips_and_reenabling_has_no_backlog(project):
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    project.task("t", enabled=False)
    project.tick("2026-11-27T10:01:05Z")
    assert slots(project.history()) == [("10:01", "skipped", "schedule")]
    assert project.history()[0]["reason"].startswith("disabled")
    project.task("t", enabled=True)
    project.tick("2026-11-27T10:05:05Z")
    assert len(project.history()) == 1  # nothing from 10:02..10:05
    project.tick("2026-11-27T10:06:05Z")
    assert slots(project.history())[0] == ("10:06", "success", "schedule")


def test_deleting_a_task_stops_it_and_keeps_its_history(project):
    path = project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    path.unlink()
    project.tick("2026-11-27T10:02:05Z")
    assert slots(project.history()) == [("10:01", "success", "schedule")]


def test_an_invalid_task_never_stops_the_others(project):
    project.task("good")
    project.task("broken", timeout="ten")
    (project.root / "tasks" / "syntax.py").write_text("def start(:\n")
    project.tick("2026-11-27T10:00:30Z")
    proc = project.cli("tick", "--now", "2026-11-27T10:01:05Z")
    assert proc.returncode == 0
    assert "broken.py:3: timeout: expected a whole number of seconds > 0, found 'ten'" in proc.stderr
    assert "syntax.py:1" in proc.stderr
    assert slots(project.history("good")) == [("10:01", "success", "schedule")]


def test_run_environment_async_start_and_original_imports(project):
    out = project.root / "env.json"
    project.task(
        "envtask",
        f"import json, os, sys\njson.dump({{k: v for k, v in os.environ.items() if k.startswith('AUTOHUB_')}}"
        f" | {{'cwd': os.getcwd(), 'path0': sys.path[0]}}, open({str(out)!r}, 'w'))",
        title="Env Task",
        is_async=True,
    )
    (project.root / "tasks" / "legacy.py").write_text(
        "---\ntitle: Legacy\n---\nfrom task_scheduler.decorators import repeat, every\n\n"
        "@repeat(every(1).minutes)\ndef start():\n    print('legacy ok')\n"
    )
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    env = json.loads(out.read_text())
    assert env["AUTOHUB_TASK"] == "envtask" and env["AUTOHUB_TASK_TITLE"] == "Env Task"
    assert env["AUTOHUB_SLOT"] == "2026-11-27T10:01:00+00:00" and env["AUTOHUB_ATTEMPT"] == "1"
    assert env["AUTOHUB_PROJECT_ROOT"] == str(project.root) == env["cwd"]
    assert int(env["AUTOHUB_RUN_ID"]) > 0
    assert "[Legacy] legacy ok" in project.log("tasks.log")
    assert Counter(r["status"] for r in project.history()) == {"success": 2}


def test_manual_tasks_run_only_by_hand(project):
    project.task("manual", 'print("by hand")', schedule=None)
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:05:05Z")
    assert project.history() == []
    proc = project.cli("run", "manual", check=True)
    assert "by hand" in proc.stdout
    assert [(r["trigger"], r["status"]) for r in project.history()] == [("manual", "success")]


def _wait_for(predicate, timeout: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
