"""helpers.system_notifications: real backends where faked on PATH, the headless fallback, the JSONL log."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the repo root holds autohub_cli/ and helpers/
    sys.path.insert(0, str(REPO))

import helpers  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="exercises the Linux backends")

KEYS = {"success", "method", "error", "timestamp"}


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text("logging:\n  level: INFO\n")
    monkeypatch.setenv("AUTOHUB_PROJECT_ROOT", str(root))
    for name in ("AUTOHUB_RUN_ID", "AUTOHUB_TASK_TITLE", "AUTOHUB_CONFIG", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def fake_notify_send(tmp_path, monkeypatch):
    """A `notify-send` on PATH that records its argv (NUL-separated) and exits with $FAKE_EXIT."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv"
    script = bin_dir / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" > {record}\necho "fake failure" >&2\nexit "${{FAKE_EXIT:-0}}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("DISPLAY", ":99")
    return record


def test_headless_degrades_to_a_log_line(project):
    result = helpers.send_notification("Backup", "done")
    assert set(result) == KEYS
    assert result["success"] is False
    assert result["method"] == "log"
    assert "DISPLAY" in result["error"]
    datetime.fromisoformat(result["timestamp"])
    lines = (project / "logs" / "tasks.log").read_text().splitlines()
    assert len(lines) == 1 and "Notification not shown" in lines[0] and "Backup: done" in lines[0]


def test_notify_send_gets_the_texts_as_plain_arguments(project, fake_notify_send, tmp_path):
    title = "$(touch pwned); -x"
    message = "--help `touch pwned`"
    result = helpers.send_notification(title, message, timeout=3, urgency="critical", app_name="App", icon="/i.png")
    assert result["success"] is True, result
    assert result["method"] == "notify-send"
    assert result["error"] is None
    argv = fake_notify_send.read_text().split("\0")[:-1]
    assert argv == ["-u", "critical", "-t", "3000", "-a", "App", "-i", "/i.png", "--", title, message]
    assert not list(tmp_path.rglob("pwned"))


def test_an_unknown_urgency_becomes_normal(project, fake_notify_send):
    helpers.send_notification("t", "m", urgency="shouting")
    assert fake_notify_send.read_text().split("\0")[:2] == ["-u", "normal"]


def test_a_failing_notify_send_is_reported_not_raised(project, fake_notify_send, monkeypatch):
    monkeypatch.setenv("FAKE_EXIT", "1")
    result = helpers.send_notification("t", "m")
    assert result["success"] is False
    assert result["method"] == "log"
    assert "notify-send: exit status 1: fake failure" in result["error"]
    assert "Notification not shown" in (project / "logs" / "tasks.log").read_text()


def test_without_notify_send_plyer_is_tried_and_its_failure_reported(project, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setitem(sys.modules, "plyer", None)  # importing it fails
    result = helpers.send_notification("t", "m")
    assert result["success"] is False
    assert result["method"] == "log"
    assert result["error"].startswith("plyer: ")


def test_bad_arguments_never_raise(project, fake_notify_send):
    result = helpers.send_notification("t", "m", timeout="soon")
    assert result["success"] is False
    assert result["method"] == "log"


def test_log_notification_appends_json_lines_under_the_project_logs(project, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = {"success": False, "method": "log", "error": "no display", "timestamp": "t"}
    path = helpers.log_notification("Title", "Line\nbreak", result)
    helpers.log_notification("Second", "m", {"success": True, "method": "notify-send", "error": None})
    assert path == project.resolve() / "logs" / f"notifications_{datetime.now():%Y%m%d}.jsonl"
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["title"] for e in entries] == ["Title", "Second"]
    assert entries[0]["message"] == "Line\nbreak"
    assert entries[0]["success"] is False and entries[0]["error"] == "no display"
    assert entries[1]["method"] == "notify-send"
    assert not list(elsewhere.iterdir())


def test_a_relative_log_dir_is_taken_from_the_project_root(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = helpers.log_notification("t", "m", {}, log_dir="data")
    assert path.parent == project.resolve() / "data"
    assert path.exists()
    assert not (tmp_path / "data").exists()


def test_send_and_log_notification_adds_the_log_file(project):
    result = helpers.send_and_log_notification("Status", "running", log_dir="data")
    assert set(result) == KEYS | {"log_file"}
    entry = json.loads(Path(result["log_file"]).read_text())
    assert entry["title"] == "Status" and entry["success"] is False and entry["method"] == "log"
