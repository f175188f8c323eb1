"""`autohub work`: a tick per minute boundary as a child process, clean shutdown on SIGTERM / SIGINT."""

from __future__ import annotations

import io
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import AUTOHUB

from autohub_cli.work import Worker

UTC = timezone.utc


# --- the loop, with a fake clock and a fake tick -----------------------------------------------------


def fake_clock(times):
    values = iter(times)
    last = [times[0]]

    def clock() -> float:
        last[0] = next(values, last[0])
        return last[0]

    return clock


def events(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_tick_per_minute_and_none_for_minutes_slept_through(tmp_path):
    out = io.StringIO()
    # two clock readings per loop turn: 0 starts minute 0; 60 starts minute 1; then a jump to 300
    times = [0, 0, 10, 10, 59.99, 59.99, 60, 60, 60.5, 60.5, 119.9, 119.9, 300, 300]
    worker = Worker(tmp_path, [sys.executable, "-c", "print('tick ran')"], grace=30, as_json=True, out=out,
                    clock=fake_clock(times), poll=0.01)
    assert worker.run(max_ticks=3) == 0
    got = events(out)
    started = [e for e in got if e["event"] == "tick_started"]
    assert [e["minute"] for e in started] == [
        datetime.fromtimestamp(s, UTC).astimezone().isoformat(timespec="minutes") for s in (0, 60, 300)
    ]
    finished = [e for e in got if e["event"] == "tick_finished"]
    assert sorted(e["pid"] for e in finished) == sorted(e["pid"] for e in started)
    assert all(e["exit_code"] == 0 for e in finished)
    assert [e["line"] for e in got if e["event"] == "tick_output"] == ["tick ran"] * 3
    assert got[0]["event"] == "started" and got[-1]["event"] == "stopped"
    assert got[-1]["terminated"] == 0
    assert not list((tmp_path / "state").glob(".work-*.stop"))


def test_a_clock_set_back_is_reported_and_never_repeats_the_current_minute(tmp_path):
    out = io.StringIO()
    times = [120, 120, 121, 121, 65, 65, 0, 0, 30, 30, 60, 60]
    worker = Worker(tmp_path, [sys.executable, "-c", "pass"], as_json=True, out=out,
                    clock=fake_clock(times), poll=0.01)
    worker.run(max_ticks=2)
    got = events(out)
    assert [e["event"] for e in got if e["event"] in ("tick_started", "clock_back")] == [
        "tick_started",
        "clock_back",
        "tick_started",
    ]


def test_sigterm_gives_a_running_tick_its_grace_period_then_terminates_it(tmp_path):
    out = io.StringIO()
    command = [sys.executable, "-c", "import time; time.sleep(120)"]
    worker = Worker(tmp_path, command, grace=0.5, as_json=True, out=out, poll=0.05)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    assert worker.run() == 0
    got = events(out)
    kinds = [e["event"] for e in got]
    assert kinds[:2] == ["started", "tick_started"]
    assert kinds[-3:] == ["tick_terminated", "tick_finished", "stopped"]
    stopping = next(e for e in got if e["event"] == "stopping")
    assert stopping["signal"] == "SIGTERM" and stopping["running"] == 1
    assert next(e for e in got if e["event"] == "tick_finished")["exit_code"] == -signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL or callable(signal.getsignal(signal.SIGTERM))


def test_readable_lines_without_json(tmp_path):
    out = io.StringIO()
    worker = Worker(tmp_path, [sys.executable, "-c", "pass"], out=out, clock=fake_clock([0]), poll=0.01)
    worker.run(max_ticks=1)
    text = out.getvalue()
    assert "autohub work: started in" in text and "tick for" in text and "autohub work: stopped" in text
    assert not text.lstrip().startswith("{")


# --- the real command ------------------------------------------------------------------------------


class Work:
    """`autohub work --json` in a project, its JSON lines collected as they come."""

    def __init__(self, project, *args: str) -> None:
        env = {**os.environ, "NO_COLOR": "1"}
        self.proc = subprocess.Popen(
            [AUTOHUB, "work", "--json", *args],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.events: list[dict] = []
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, predicate, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise AssertionError(f"timed out; events so far: {self.events}")
            try:
                self.events.append(json.loads(self.lines.get(timeout=min(remaining, 1.0))))
            except queue.Empty:
                pass

    def count(self, kind: str) -> int:
        return sum(1 for e in self.events if e["event"] == kind)

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout=timeout)
        time.sleep(0.2)
        while not self.lines.empty():
            self.events.append(json.loads(self.lines.get()))
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.slow
def test_real_ticks_on_two_minute_boundaries_then_a_clean_stop(project):
    project.task("every_minute", "import os; print(os.environ['AUTOHUB_SLOT'])")
    work = Work(project)
    try:
        # the tick at start-up, then two at minute boundaries
        work.wait_for(lambda: work.count("tick_finished") >= 3, timeout=250)
        work.proc.send_signal(signal.SIGTERM)
        assert work.finish() == 0
    finally:
        work.kill()
    kinds = [e["event"] for e in work.events]
    assert kinds[0] == "started" and kinds[-1] == "stopped"
    started = [e for e in work.events if e["event"] == "tick_started"]
    minutes = [e["minute"] for e in started]
    assert len(minutes) == len(set(minutes)) >= 3  # never two for one minute
    for earlier, later in itertools.pairwise(minutes[1:]):
        assert datetime.fromisoformat(later) - datetime.fromisoformat(earlier) == timedelta(minutes=1)
    assert all(e["exit_code"] == 0 for e in work.events if e["event"] == "tick_finished")
    runs = project.runs("every_minute")
    assert len(runs) >= 2 and all(r["status"] == "success" for r in runs)
    slots = [datetime.fromisoformat(r["slot"]) for r in runs]
    assert {s.astimezone().isoformat(timespec="minutes") for s in slots} <= set(minutes[1:])
    assert len(project.query("SELECT id FROM ticks")) >= 3


def _due_now(project, body: str) -> None:
    """A task whose current-minute slot the first tick of `autohub work` runs."""
    project.task("long", body)
    before = datetime.now(UTC) - timedelta(seconds=60)
    project.tick(before.isoformat())  # first sight a minute ago: this minute's slot is due


def _wait_running(project, work, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = [r for r in project.runs("long") if r["status"] == "running" and r["pid"]]
        if rows:
            return rows[0]
        time.sleep(0.2)
    work.kill()
    raise AssertionError("the run never started")


@pytest.mark.slow
def test_sigterm_lets_the_running_tick_finish_within_the_grace_period(project):
    _due_now(project, 'import time; time.sleep(4); print("finished in time")')
    work = Work(project, "--grace", "300")
    try:
        _wait_running(project, work)
        work.proc.send_signal(signal.SIGTERM)
        assert work.finish() == 0
    finally:
        work.kill()
    kinds = [e["event"] for e in work.events]
    assert "stopping" in kinds and kinds[-1] == "stopped" and "tick_terminated" not in kinds
    [run] = project.runs("long")
    assert run["status"] == "success"
    assert "finished in time" in project.log("tasks.log")


@pytest.mark.slow
def test_a_second_sigint_ends_the_runs_at_once(project):
    _due_now(project, "import time; time.sleep(600)")
    work = Work(project, "--grace", "600")
    try:
        run = _wait_running(project, work)
        work.proc.send_signal(signal.SIGINT)
        work.wait_for(lambda: work.count("stopping") >= 1, timeout=60)
        work.proc.send_signal(signal.SIGINT)
        assert work.finish(timeout=120) == 0
    finally:
        work.kill()
    kinds = [e["event"] for e in work.events]
    assert "tick_terminated" in kinds and kinds[-1] == "stopped"
    assert next(e for e in work.events if e["event"] == "stopping")["signal"] == "SIGINT"
    assert not pid_alive(run["pid"])  # the task's process is gone, not orphaned
    [after] = project.runs("long")
    assert after["status"] in ("crashed", "running")  # recorded by the tick, or found abandoned later
