"""Failure notifications: one per failure streak, one on recovery; desktop, helpers, apprise, headless."""

from __future__ import annotations

import shutil
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autohub_cli import monitor
from autohub_cli.config import ConfigError, FailureNotifySettings, load_settings
from autohub_cli.runner import Job
from autohub_cli.store import Outcome, SQLiteStore
from autohub_cli.taskfile import TaskSpec

UTC = timezone.utc
REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

NOTIFY_CONFIG = """
scheduler:
  timezone: UTC
notify:
  on_failure:
    desktop: true
    lines: 3
"""


# --- the streak rules, in process, with a fake sender -----------------------------------------------


class Sim:
    """Runs recorded in a real state database, outcomes reported as the executor reports them."""

    def __init__(self, project, monkeypatch, retry_count: int = 0, recovery: bool = True) -> None:
        project.config(NOTIFY_CONFIG + ("" if recovery else "    recovery: false\n"))
        self.settings = load_settings(project.root)
        self.store = SQLiteStore(self.settings.state_path)
        self.spec = TaskSpec(name="job", path=str(project.root / "tasks" / "job.py"), title="The Job",
                             retry_count=retry_count)
        self.sent: list[tuple[str, str]] = []
        self.minute = 0
        monkeypatch.setattr(monitor, "deliver", lambda s, o, title, body, task: self.sent.append((title, body)))

    def run(self, status: str, *, attempt: int = 1, new_slot: bool = True, output: str = "") -> None:
        if new_slot:
            self.minute += 1
        slot = T0 + timedelta(minutes=self.minute)
        trigger = "schedule" if attempt == 1 else "retry"
        with self.store.transaction():
            run_id = self.store.insert_run("job", slot, attempt, trigger, "running")
        job = Job(run_id, self.spec, slot, attempt, trigger)
        watch = monitor.run_started(self.settings, job)
        code = 0 if status == "success" else 1
        outcome = Outcome(status, None if code == 0 else "exit code 1: boom", code, slot, slot, output)
        self.store.finish_run(run_id, outcome)
        monitor.run_finished(watch, self.store, outcome)

    def titles(self) -> list[str]:
        return [t for t, _ in self.sent]


def test_one_message_per_failure_streak_and_one_on_recovery(project, monkeypatch):
    sim = Sim(project, monkeypatch)
    sim.run("success")
    assert sim.sent == []
    sim.run("failed", output="line 1\nline 2\nline 3\nTraceback: boom")
    sim.run("failed")
    sim.run("timeout")
    assert sim.titles() == ["autohub: The Job failed"]
    sim.run("success")
    sim.run("success")
    assert sim.titles() == ["autohub: The Job failed", "autohub: The Job recovered"]
    sim.run("crashed")
    sim.run("failed")
    assert sim.titles()[2:] == ["autohub: The Job crashed"]
    failure = sim.sent[0][1]
    assert "Task job failed at its 2026-11-27 10:02:00 UTC slot" in failure
    assert "Reason: exit code 1: boom" in failure
    assert "line 2\n  line 3\n  Traceback: boom" in failure and "line 1" not in failure  # lines: 3
    assert "after 3 failed run(s) since its 2026-11-27 10:02:00 UTC slot" in sim.sent[1][1]


def test_overlapping_runs_failing_together_send_one_message(project, monkeypatch):
    """Claimed A then B; B fails first, then A: the streak started once, by finishing order."""
    sim = Sim(project, monkeypatch)
    sim.run("success")
    claimed = []
    for minute in (2, 3):
        slot = T0 + timedelta(minutes=minute)
        with sim.store.transaction():
            run_id = sim.store.insert_run("job", slot, 1, "schedule", "running")
        job = Job(run_id, sim.spec, slot, 1, "schedule")
        claimed.append((job, monitor.run_started(sim.settings, job)))
    for offset, (job, watch) in zip((10, 20), reversed(claimed)):  # the later claim finishes first
        end = T0 + timedelta(minutes=5, seconds=offset)
        outcome = Outcome("failed", "exit code 1: outage", 1, job.slot, end, "")
        sim.store.finish_run(job.run_id, outcome)
        monitor.run_finished(watch, sim.store, outcome)
    assert len(sim.sent) == 1
    assert f"run {claimed[1][0].run_id}" in sim.sent[0][1]  # the one that failed first


def test_the_first_run_failing_is_a_streak(project, monkeypatch):
    sim = Sim(project, monkeypatch)
    sim.run("killed")
    assert sim.titles() == ["autohub: The Job killed"]


def test_a_failure_that_a_retry_repairs_says_nothing(project, monkeypatch):
    sim = Sim(project, monkeypatch, retry_count=2)
    sim.run("failed", attempt=1)
    sim.run("success", attempt=2, new_slot=False)
    assert sim.sent == []
    sim.run("failed", attempt=1)
    sim.run("failed", attempt=2, new_slot=False)
    assert sim.sent == []  # a retry still follows
    sim.run("failed", attempt=3, new_slot=False)
    assert sim.titles() == ["autohub: The Job failed"]
    assert "attempt 3 of 3" in sim.sent[0][1]
    sim.run("failed", attempt=1)
    sim.run("success", attempt=2, new_slot=False)
    assert sim.titles() == ["autohub: The Job failed", "autohub: The Job recovered"]


def test_recovery_can_be_switched_off(project, monkeypatch):
    sim = Sim(project, monkeypatch, recovery=False)
    sim.run("failed")
    sim.run("success")
    sim.run("failed")
    assert sim.titles() == ["autohub: The Job failed", "autohub: The Job failed"]


def test_nothing_is_sent_without_on_failure(project, monkeypatch):
    sim = Sim(project, monkeypatch)
    project.config("scheduler:\n  timezone: UTC\n")
    sim.settings = load_settings(project.root)
    sim.run("failed")
    assert sim.sent == []


def test_a_broken_sender_never_fails_the_run(project, monkeypatch):
    sim = Sim(project, monkeypatch)

    def explode(*args):
        raise RuntimeError("sender exploded")

    monkeypatch.setattr(monitor, "deliver", explode)
    sim.run("failed")  # does not raise
    assert "the failure notification failed: sender exploded" in project.log("scheduler.log")


# --- config ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", FailureNotifySettings()),
        ("false", None),
        ("{apprise: 'ntfys://ntfy.sh/x', lines: 0}", FailureNotifySettings(apprise=("ntfys://ntfy.sh/x",), lines=0)),
        ("{desktop: false, apprise: [a://b, c://d], recovery: false}",
         FailureNotifySettings(desktop=False, apprise=("a://b", "c://d"), recovery=False)),
    ],
)
def test_on_failure_forms(project, text, expected):
    project.config(f"notify:\n  on_failure: {text}\n  ping_timeout: 2.5\n")
    settings = load_settings(project.root)
    assert settings.notifications.on_failure == expected
    assert settings.notifications.ping_timeout == 2.5


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("on_failure: {desktp: true}", "did you mean 'desktop'"),
        ("on_failure: {lines: -1}", "lines: expected a whole number"),
        ("on_failure: {apprise: 5}", "apprise: expected a URL string"),
        ("on_failure: yes please", "notify.on_failure: expected true, false, or a mapping"),
        ("ping_timeout: 0", "notify.ping_timeout: expected a number of seconds > 0"),
        ("ping_url: 5", "notify.ping_url: expected a URL string"),
    ],
)
def test_bad_notify_config_is_a_clear_error(project, text, needle):
    project.config(f"notify:\n  {text}\n")
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        load_settings(project.root)


def test_unknown_notify_keys_warn_and_the_mapping_is_kept(project):
    project.config("notify:\n  ping_urll: x\n  custom: 1\n")
    settings = load_settings(project.root)
    assert settings.notify == {"ping_urll": "x", "custom": 1}
    assert any("notify.ping_urll" in w and "did you mean 'ping_url'" in w for w in settings.warnings)


# --- end to end: real ticks, a fake notify-send on PATH -----------------------------------------------


@pytest.fixture
def fake_notify_send(tmp_path, monkeypatch):
    """A `notify-send` on PATH appending its argv (NUL-separated, each call ended by an RS byte) to a file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "notifications"
    script = bin_dir / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" >> {record}\nprintf "\\036" >> {record}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin")
    monkeypatch.setenv("DISPLAY", ":99")
    return record


def shown(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    return [call.split("\0")[:-1] for call in record.read_text().split("\x1e") if call]


FLAKY = """
import pathlib
print("working on it")
if pathlib.Path("fail").exists():
    print("the disk is full")
    raise SystemExit(2)
print("all good")
"""


pytestmark_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fakes notify-send")


@pytestmark_linux
def test_real_ticks_notify_once_per_streak(project, fake_notify_send):
    project.config(NOTIFY_CONFIG)
    project.task("flaky", FLAKY, title="Flaky job")
    project.tick("2026-11-27T10:00:30Z")
    (project.root / "fail").touch()
    for minute in (1, 2, 3):
        project.tick(f"2026-11-27T10:0{minute}:05Z")
    assert len(shown(fake_notify_send)) == 1
    (project.root / "fail").unlink()
    project.tick("2026-11-27T10:04:05Z")
    project.tick("2026-11-27T10:05:05Z")
    notes = shown(fake_notify_send)
    assert [n[-2] for n in notes] == ["autohub: Flaky job failed", "autohub: Flaky job recovered"]
    assert notes[0][:4] == ["-u", "critical", "-a", "autohub"]
    body = notes[0][-1]
    assert "Task flaky failed at its 2026-11-27 10:01:00 UTC slot" in body
    assert "exit code 2" in body and "the disk is full" in body and "working on it" in body
    assert "after 3 failed run(s)" in notes[1][-1]
    assert project.log("scheduler.log").count("notification (desktop: shown (notify-send))") == 2


@pytestmark_linux
def test_through_the_projects_helpers(project, fake_notify_send):
    shutil.copytree(REPO / "helpers", project.root / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    project.config(NOTIFY_CONFIG)
    project.task("flaky", FLAKY)
    project.tick("2026-11-27T10:00:30Z")
    (project.root / "fail").touch()
    project.tick("2026-11-27T10:01:05Z")
    [note] = shown(fake_notify_send)
    assert note[-2:][0] == "autohub: flaky failed"
    assert "-a" in note and note[note.index("-a") + 1] == "autohub"
    assert "desktop: shown (notify-send)" in project.log("scheduler.log")


def test_headless_degrades_to_the_scheduler_log(project, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    project.config(NOTIFY_CONFIG + "    apprise: ['json://127.0.0.1:9/never']\n")
    project.task("flaky", FLAKY)
    project.tick("2026-11-27T10:00:30Z")
    (project.root / "fail").touch()
    project.tick("2026-11-27T10:01:05Z")
    log = project.log("scheduler.log")
    assert "desktop: not shown (no display" in log
    assert "apprise: " in log  # sent, failed, or "not installed": never an exception
    assert "autohub: flaky failed" in log and "the disk is full" in log
    assert project.runs()[0]["status"] == "failed"
