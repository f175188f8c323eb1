"""The example tasks, each run through `autohub run` in a project made by `autohub init`.

The web scraper needs the network, so its logic is tested with a stub in place of `requests`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import types
from datetime import datetime
from pathlib import Path

import pytest
from conftest import AUTOHUB

from autohub_cli.taskfile import TaskSpec, parse_file

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (REPO / "tasks").glob("example_*.py"))
HEADLESS = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


class Made:
    def __init__(self, root: Path) -> None:
        self.root = root

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **HEADLESS, **(env or {})}
        for name in ("AUTOHUB_CONFIG", "AUTOHUB_PROJECT_ROOT", "AUTOHUB_RUN_ID", "AUTOHUB_TASK_TITLE"):
            full_env.pop(name, None)
        return subprocess.run(
            [AUTOHUB, *args], cwd=self.root, capture_output=True, text=True, timeout=120, env=full_env
        )

    def run(self, task: str) -> subprocess.CompletedProcess[str]:
        proc = self.cli("run", task)
        assert proc.returncode == 0, f"autohub run {task} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert f"{task}: success" in proc.stderr
        return proc

    def log(self, name: str = "tasks.log") -> str:
        path = self.root / "logs" / name
        return path.read_text() if path.exists() else ""

    def lines(self, title: str, level: str | None = None) -> list[str]:
        """The messages of tasks.log under [title] (optionally of one level), without the prefix."""
        found = []
        for line in self.log().splitlines():
            match = re.match(r"^\S+ \S+ (\w+) \[(.*?)\] (.*)$", line)
            if match and match.group(2) == title and (level is None or match.group(1) == level):
                found.append(match.group(3))
        return found

    def event(self, title: str, event_type: str) -> dict:
        for message in self.lines(title):
            if message.startswith("STRUCTURED_EVENT: "):
                payload = json.loads(message.removeprefix("STRUCTURED_EVENT: "))
                if payload["event_type"] == event_type:
                    return payload["data"]
        raise AssertionError(f"no {event_type} event under [{title}]:\n{self.log()}")


@pytest.fixture
def made(tmp_path: Path) -> Made:
    root = tmp_path / "proj"
    proc = subprocess.run(
        [AUTOHUB, "init", str(root), "--examples"], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    config = root / "config" / "config.yaml"
    config.write_text(config.read_text().replace("timezone: null", "timezone: UTC"))
    return Made(root)


def title_of(name: str) -> str:
    spec = parse_file(REPO / "tasks" / f"{name}.py")
    assert isinstance(spec, TaskSpec), spec
    return spec.title


def age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then), follow_symlinks=False)


# --- all of them ----------------------------------------------------------------------------------


def test_there_are_the_eight_examples_of_the_original():
    assert EXAMPLES == [
        "example_config_usage",
        "example_daily_cleanup",
        "example_external_execution",
        "example_hello_world",
        "example_helper_showcase",
        "example_system_monitor",
        "example_system_notification",
        "example_web_scraper",
    ]


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_is_a_scheduled_docstring_task_without_warnings(name):
    spec = parse_file(REPO / "tasks" / f"{name}.py")
    assert isinstance(spec, TaskSpec), spec.message
    assert spec.frontmatter == "docstring" and spec.warnings == ()
    assert spec.schedule is not None and spec.enabled
    assert spec.title and spec.title != name and spec.description
    text = (REPO / "tasks" / f"{name}.py").read_text()
    assert "from autohub_cli import" in text or "from task_scheduler.decorators import" in text


def test_examples_count_only_when_switched_on(made):
    report = json.loads(made.cli("validate", "--json").stdout)
    assert report["valid"] == EXAMPLES and report["invalid"] == {}
    config = made.root / "config" / "config.yaml"
    config.write_text(config.read_text().replace("include_example_tasks: true", "include_example_tasks: false"))
    report = json.loads(made.cli("validate", "--json").stdout)
    assert report["valid"] == []
    proc = made.cli("run", "example_hello_world")
    assert proc.returncode == 1 and "unknown task" in proc.stderr


def test_the_web_scraper_declares_requests_and_saves_into_the_project():
    spec = parse_file(REPO / "tasks" / "example_web_scraper.py")
    assert isinstance(spec, TaskSpec)
    assert spec.dependencies == ("requests>=2.25",)
    assert spec.retry_count >= 1  # the network is the flaky part: it retries
    assert 'get_project_root() / "data"' in (REPO / "tasks" / "example_web_scraper.py").read_text()


def test_the_web_scraper_parses_and_saves_a_snapshot_offline(made, monkeypatch):
    """Its logic, with `requests` replaced by a stub: the real run needs the network."""
    page = "<html><head><title> Example\n Domain </title></head><body><a href='https://iana.org/x'>x</a></body></html>"

    class Response:
        status_code = 200
        text = page
        content = page.encode()

        def raise_for_status(self):
            pass

    fake = types.ModuleType("requests")
    fake.get = lambda url, timeout, headers: Response()
    monkeypatch.setitem(sys.modules, "requests", fake)
    for name in ("AUTOHUB_RUN_ID", "AUTOHUB_TASK_TITLE", "AUTOHUB_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTOHUB_PROJECT_ROOT", str(made.root))
    path = made.root / "tasks" / "example_web_scraper.py"
    spec = importlib.util.spec_from_file_location("tasks.example_web_scraper", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.start()
    snapshot = json.loads((made.root / "data" / "example_web_scraper" / "latest.json").read_text())
    assert snapshot["url"] == "https://example.com/" and snapshot["status"] == 200
    assert snapshot["title"] == "Example Domain" and snapshot["links"] == ["https://iana.org/x"]
    assert f"fetch https://example.com/: SUCCESS | status=200 | bytes={len(page)} | links=1" in made.lines(
        "Web Scraper"
    )


def test_a_tick_runs_the_examples_that_are_due(made):
    made.cli("tick", "--now", "2026-11-27T10:00:30Z")
    proc = made.cli("tick", "--now", "2026-11-27T10:10:05Z", "--strict")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(made.cli("history", "--json").stdout)
    ran = {r["task"] for r in rows if r["status"] == "success"}
    assert ran == {"example_hello_world", "example_system_monitor"}  # every 10 and every 5 minutes
    assert "[Hello World Task] Hello from a scheduled task!" in made.log()


# --- one by one -----------------------------------------------------------------------------------


def test_hello_world(made):
    out = made.run("example_hello_world").stdout
    assert "Hello from a scheduled task!" in out  # `autohub run` streams the output
    messages = made.lines("Hello World Task")
    assert messages[0] == "Task started"
    assert any(m.startswith("Hello from a scheduled task! It is ") for m in messages)
    assert "Plain print() output lands in logs/tasks.log under the title as well." in messages
    assert re.fullmatch(r"Task completed successfully in \d+\.\d\ds", messages[-1])
    assert made.log("errors.log") == ""


def test_hello_world_runs_by_hand_with_its_title(made):
    proc = subprocess.run(
        [sys.executable, "-c", "import tasks.example_hello_world as t; t.start()"],
        cwd=made.root,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AUTOHUB_")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "INFO [Hello World Task] Hello from a scheduled task!" in made.log()


def test_daily_cleanup_deletes_only_old_files_of_its_own_and_nothing_outside(made, tmp_path):
    logs, data = made.root / "logs", made.root / "data"
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "precious.log.2020-01-01"
    victim.write_text("not the project's")
    age(victim, 400)
    files = {
        "old_rotated": logs / "scheduler.log.2020-01-01",
        "old_rotated_n": logs / "errors.log.2020-01-01.2",
        "new_rotated": logs / f"scheduler.log.{datetime.now():%Y-%m-%d}",
        "old_notes": logs / "notifications_20200101.jsonl",
        "live_log": logs / "cron.log",
        "old_example_data": data / "example_web_scraper" / "latest.json",
        "new_example_data": data / "example_external_execution" / "greet.py",
        "user_data": data / "mine" / "archive.csv",
        "user_file": logs / "my-notes.txt",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x" * 100)
        age(path, 400)
    age(files["new_rotated"], 1)
    age(files["new_example_data"], 1)
    link = logs / "tasks.log.2020-01-02"
    link.symlink_to(victim)  # a rotated-looking name that leads outside the project
    os.utime(link, (0, 0), follow_symlinks=False)
    (data / "example_outside").symlink_to(outside, target_is_directory=True)

    made.run("example_daily_cleanup")

    gone = {"old_rotated", "old_rotated_n", "old_notes", "old_example_data"}
    for key, path in files.items():
        assert path.exists() == (key not in gone), key
    assert victim.read_text() == "not the project's" and link.is_symlink()
    summary = made.event("Daily Cleanup", "cleanup")
    assert sorted(summary["deleted"]) == sorted(files[k].relative_to(made.root).as_posix() for k in gone)
    assert summary["bytes_freed"] == 400 and summary["log_days"] == 7
    assert any("leads outside the project" in m for m in made.lines("Daily Cleanup", "WARNING"))


def test_daily_cleanup_follows_logging_retention(made):
    config = made.root / "config" / "config.yaml"
    config.write_text(config.read_text().replace('retention: "7 days"', 'retention: "2 weeks"'))
    ten_days = made.root / "logs" / "tasks.log.2020-01-01"
    ten_days.write_text("x")
    age(ten_days, 10)
    made.run("example_daily_cleanup")
    assert ten_days.exists()
    assert made.event("Daily Cleanup", "cleanup")["log_days"] == 14


def test_system_monitor_warns_above_its_thresholds(made):
    settings = made.root / "config" / "example_system_monitor.yaml"
    settings.write_text(
        "thresholds:\n  cpu_percent: -1\n  memory_percent: 0\n  disk_percent: 0\ncpu_sample_seconds: 0.1\n"
    )
    made.run("example_system_monitor")
    warnings = made.lines("System Monitor", "WARNING")
    assert len(warnings) == 3, warnings
    assert any(w.startswith("cpu percent is ") and "above the threshold of -1" in w for w in warnings)
    assert any(w.startswith("memory percent is ") for w in warnings)
    sample = made.event("System Monitor", "system_metrics")
    assert sorted(sample["above"]) == ["cpu_percent", "disk_percent", "memory_percent"]
    assert 0 <= sample["memory_percent"] <= 100 and sample["thresholds"]["memory_percent"] == 0


def test_system_monitor_is_quiet_below_its_thresholds_and_reports_bad_settings(made):
    settings = made.root / "config" / "example_system_monitor.yaml"
    settings.write_text(
        "thresholds:\n  cpu_percent: 101\n  memory_percent: 101\n  disk_percent: high\n  swap: 5\n"
        "cpu_sample_seconds: 0.1\n"
    )
    made.run("example_system_monitor")
    warnings = made.lines("System Monitor", "WARNING")
    assert any("thresholds.disk_percent should be a number, found 'high'; using 90" in w for w in warnings)
    assert any("unknown threshold 'swap'" in w for w in warnings)
    assert not [w for w in warnings if w.startswith(("cpu percent is", "memory percent is"))]
    sample = made.event("System Monitor", "system_metrics")
    assert sample["thresholds"] == {"cpu_percent": 101, "memory_percent": 101, "disk_percent": 90}
    assert "cpu_percent" not in sample["above"] and "memory_percent" not in sample["above"]
    assert any(m.startswith("CPU ") and " · memory " in m for m in made.lines("System Monitor", "INFO"))


def test_system_monitor_without_its_config_file_uses_the_defaults(made):
    (made.root / "config" / "example_system_monitor.yaml").unlink()
    made.run("example_system_monitor")
    assert made.event("System Monitor", "system_metrics")["thresholds"] == {
        "cpu_percent": 90.0,
        "memory_percent": 90.0,
        "disk_percent": 90.0,
    }


def test_external_execution(made, tmp_path):
    made.run("example_external_execution")
    messages = made.lines("External Execution")
    assert "python --version: SUCCESS | return_code=0" in messages
    assert "literal argument | argument: hello; rm -rf ~" in messages  # an argument, never a shell command
    assert [m for m in messages if m.startswith("greet.py | ")] == [
        f"greet.py | greeting {i} of 3: hello, autohub" for i in (1, 2, 3)
    ]
    assert "A failing command: success=False, return_code=3" in messages
    assert any(m.startswith("A command over its timeout: error='timed out") and "'started'" in m for m in messages)
    summary = made.event("External Execution", "execution_summary")
    assert summary["total_executions"] == 5 and summary["successful_executions"] == 3
    assert [e["return_code"] for e in summary["errors"]] == [3, None]
    assert (made.root / "data" / "example_external_execution" / "greet.py").is_file()
    assert made.log("errors.log") == ""  # failures on purpose are not errors


def test_system_notification_degrades_to_a_log_line_without_a_display(made):
    made.run("example_system_notification")
    messages = made.lines("System Notification")
    assert any(m.startswith("Notification not shown (no display") for m in messages)
    assert any(m.startswith("Notification logged instead of shown") for m in messages)
    (jsonl,) = (made.root / "logs").glob("notifications_*.jsonl")
    entry = json.loads(jsonl.read_text().splitlines()[-1])
    assert entry["title"] == "autohub" and entry["success"] is False and entry["method"] == "log"
    assert entry["message"].startswith("Good morning!")
    assert made.log("errors.log") == ""


def test_config_usage_reads_its_own_config_and_keeps_state(made):
    secrets = made.root / "config" / "secrets.yaml"
    secrets.write_text("api_keys:\n  openai: sk-very-secret\n")
    secrets.chmod(0o600)
    made.run("example_config_usage")
    messages = made.lines("Config Usage")
    assert "Main config: logging.level=INFO, schedules in UTC" in messages
    assert "Hello from config/example_config_usage.yaml" in messages
    assert "secrets.yaml api_keys.openai: set (14 characters)" in messages
    assert "secrets.yaml api_keys.github: not set" in messages
    assert "sk-very-secret" not in made.log()  # a secret's value is never logged
    state = made.root / "config" / "example_config_usage_state.yaml"
    assert "run_count: 1" in state.read_text()

    # edits apply on the next run; the state file counts on
    own = made.root / "config" / "example_config_usage.yaml"
    own.write_text(
        own.read_text()
        .replace("Hello from config/example_config_usage.yaml", "Changed!")
        .replace("times: 1", "times: 2")
    )
    made.run("example_config_usage")
    assert made.lines("Config Usage").count("Changed!") == 2
    assert "run_count: 2" in state.read_text()
    assert "Run number 2 recorded in config/example_config_usage_state.yaml" in made.lines("Config Usage")
    assert "config/example_config_usage_state.yaml" in (made.root / ".gitignore").read_text()


def test_config_usage_without_its_config_file_uses_defaults(made):
    (made.root / "config" / "example_config_usage.yaml").unlink()
    made.run("example_config_usage")
    assert "Hello (default greeting)" in made.lines("Config Usage")
    assert any("is missing or empty" in m for m in made.lines("Config Usage", "WARNING"))


def test_helper_showcase_with_the_original_import(made):
    text = (made.root / "tasks" / "example_helper_showcase.py").read_text()
    assert "from task_scheduler.decorators import every, repeat" in text
    made.run("example_helper_showcase")
    messages = made.lines("Helper Showcase")
    assert messages[0] == "Task started"
    assert "Only written when logging.level is DEBUG" not in messages
    assert any(m.startswith("Logging with extra fields | project=proj | python=") for m in messages)
    assert "An explicit level through log()" in messages
    assert "[showcase.sub-step] A line from a named logger" in messages
    assert "Handled an expected error | Exception: KeyError: 'missing'" in made.lines("Helper Showcase", "WARNING")
    assert "tasks.directory = tasks" in messages
    assert "child processes: SUCCESS | succeeded=1 | failed=1" in messages
    assert made.event("Helper Showcase", "showcase_summary")["success_rate"] == 50.0
    assert "Notification: success=False, method=log" in messages
    assert messages[-1].startswith("Task completed successfully in ")
    assert made.log("errors.log") == ""


def test_helper_showcase_debug_lines_follow_logging_level(made):
    config = made.root / "config" / "config.yaml"
    config.write_text(config.read_text().replace('level: "INFO"', 'level: "DEBUG"'))
    made.run("example_helper_showcase")
    assert "Only written when logging.level is DEBUG" in made.lines("Helper Showcase", "DEBUG")
