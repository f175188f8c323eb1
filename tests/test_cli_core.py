"""`run`, `next`, `history`, `validate` as a user types them (issue 2 §7)."""

from __future__ import annotations

import json
import time


def test_run_streams_output_and_records_a_manual_run_without_using_a_slot(project):
    project.task("hello", 'print("line one")\nprint("line two")', title="Hello")
    project.tick("2026-11-27T10:00:30Z")
    proc = project.cli("run", "hello", check=True)
    assert proc.stdout.splitlines()[:2] == ["line one", "line two"]
    runs = project.history()
    assert [(r["trigger"], r["status"], r["attempt"]) for r in runs] == [("manual", "success", 1)]
    project.tick("2026-11-27T10:01:05Z")  # the slot still runs
    assert [r["trigger"] for r in project.history()] == ["schedule", "manual"]


def test_run_unknown_task_lists_the_known_ones(project):
    project.task("alpha")
    project.task("beta")
    proc = project.cli("run", "gamma")
    assert proc.returncode == 1
    assert "unknown task 'gamma'" in proc.stderr and "alpha, beta" in proc.stderr


def test_run_failure_exits_1(project):
    project.task("bad", "raise SystemExit(4)")
    proc = project.cli("run", "bad")
    assert proc.returncode == 1
    assert project.history()[0]["exit_code"] == 4


def test_run_refuses_while_running_unless_forced(project):
    project.task("slow", "import time; time.sleep(3)")
    project.tick("2026-11-27T10:00:30Z")
    first = project.spawn_tick("2026-11-27T10:01:05Z")
    try:
        deadline = time.monotonic() + 30
        while not any(r["status"] == "running" for r in project.history()) and time.monotonic() < deadline:
            time.sleep(0.1)
        refused = project.cli("run", "slow")
        assert refused.returncode == 1 and "--force" in refused.stderr
        forced = project.cli("run", "slow", "--force")
        assert forced.returncode == 0
    finally:
        first.wait(timeout=60)


def test_next_lists_slots_strictly_after_with_offsets(project):
    project.config("scheduler:\n  timezone: Europe/Amsterdam\n")
    project.task("daily", schedule='every().day.at("02:30")')
    out = project.cli("next", "daily", "-n", "3", "--after", "2026-03-28T02:30:00+01:00", "--json", check=True).stdout
    assert json.loads(out) == [
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that night: the first instant after the gap
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    text = project.cli("next", "daily", "-n", "1", "--after", "2026-06-01T00:00:00Z", check=True).stdout
    assert "every day at 02:30" in text and "2026-06-01T02:30:00+02:00" in text


def test_next_of_a_manual_task_says_so(project):
    project.task("m", schedule=None)
    proc = project.cli("next", "m")
    assert proc.returncode == 1 and "manual task" in proc.stderr


def test_history_json_has_the_documented_keys(project):
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:02:05Z")
    rows = project.history()
    keys = {
        "task",
        "slot",
        "trigger",
        "attempt",
        "status",
        "reason",
        "started_at",
        "finished_at",
        "duration",
        "exit_code",
    }
    assert rows and all(keys <= set(r) for r in rows)
    assert [r["status"] for r in rows] == ["success", "skipped"]
    assert rows[0]["slot"] == "2026-11-27T10:02:00+00:00"
    assert project.history("t", limit=1) == rows[:1]
    table = project.cli("history", check=True).stdout
    assert "success" in table and "skipped" in table


def test_validate_names_each_invalid_file_and_exits_1(project):
    project.task("good")
    project.task("bad1", schedule="every(0).minutes")
    project.task("bad2", catchup="sometimes")
    proc = project.cli("validate")
    assert proc.returncode == 1
    assert "bad1.py:8: schedule: every(0).minutes" in proc.stdout and "1 <= N <= 59" in proc.stdout
    assert "catchup: expected one of latest, all, skip, found 'sometimes'" in proc.stdout
    data = json.loads(project.cli("validate", "--json").stdout)
    assert data["valid"] == ["good"] and set(data["invalid"]) == {"bad1", "bad2"}
    (project.root / "tasks" / "bad1.py").unlink()
    (project.root / "tasks" / "bad2.py").unlink()
    assert project.cli("validate").returncode == 0


def test_commands_find_the_project_from_a_subfolder_or_config_option(project, tmp_path):
    project.task("t")
    sub = project.root / "tasks"
    import subprocess

    from conftest import AUTOHUB

    assert subprocess.run([AUTOHUB, "validate"], cwd=sub, capture_output=True).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run([AUTOHUB, "validate"], cwd=elsewhere, capture_output=True, text=True)
    assert proc.returncode == 3 and "config/config.yaml" in proc.stderr
    proc = subprocess.run([AUTOHUB, "validate", "--config", str(project.root)], cwd=elsewhere, capture_output=True)
    assert proc.returncode == 0


def test_bad_now_is_a_usage_error(project):
    proc = project.cli("tick", "--now", "yesterday")
    assert proc.returncode == 2 and "ISO-8601" in proc.stderr
