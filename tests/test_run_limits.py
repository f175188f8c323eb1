"""A run's limits and failure modes with real processes: SPEC §5."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter

import pytest
from conftest import AUTOHUB


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def read_pids(path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
def test_timeout_kills_the_whole_tree_including_grandchildren(project):
    pids = project.root / "pids"
    project.task(
        "hang",
        f"""
        import os, subprocess, time
        same_group = subprocess.Popen(["sleep", "300"])
        own_session = subprocess.Popen(["sleep", "301"], start_new_session=True)
        open({str(pids)!r}, "w").write(f"{{same_group.pid}} {{own_session.pid}}")
        time.sleep(300)
        """,
        timeout=2,
    )
    project.tick("2026-11-27T10:00:30Z")
    started = time.monotonic()
    project.tick("2026-11-27T10:01:05Z")
    assert time.monotonic() - started < 60
    run = project.history()[0]
    assert run["status"] == "timeout" and "timed out after 2 s" in run["reason"]
    grandchildren = read_pids(pids)
    assert len(grandchildren) == 2
    time.sleep(0.5)
    assert not any(alive(p) for p in grandchildren)


@pytest.mark.slow
def test_memory_cap_counts_the_process_tree(project):
    project.task(
        "hog",
        """
        import subprocess, sys
        subprocess.run([sys.executable, "-c", "import time; x = b'x' * (200 * 1024 * 1024); time.sleep(60)"])
        """,
        max_memory_mb=100,
        timeout=60,
    )
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    run = project.history()[0]
    assert run["status"] == "killed"
    assert "above the memory cap of 100 MB" in run["reason"]


def test_a_task_killed_by_a_signal_is_crashed(project):
    project.task("segv", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    run = project.history()[0]
    assert run["status"] == "crashed" and "SIGSEGV" in run["reason"]


def test_failure_keeps_the_traceback_and_output_tail(project):
    project.task("boom", "print('before the crash')\nraise KeyError('missing-key')", title="Boom Task")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    run = project.history()[0]
    assert run["status"] == "failed" and run["exit_code"] == 1
    assert "KeyError: 'missing-key'" in run["reason"]
    tail = project.query("SELECT output_tail FROM runs WHERE id = ?", run["id"])[0][0]
    assert "before the crash" in tail and "Traceback" in tail
    errors = project.log("errors.log")
    assert "[Boom Task]" in errors and "KeyError: 'missing-key'" in errors
    assert "before the crash" not in errors  # stdout is not an error
    assert "[Boom Task] before the crash" in project.log("tasks.log")


def start_long_run(project) -> tuple[subprocess.Popen[bytes], int]:
    """A real tick whose task is running (and has written its pid): (the tick, the task's pid)."""
    pidfile = project.root / "task.pid"
    project.task("long", f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)")
    project.tick("2026-11-27T10:00:30Z")
    tick = subprocess.Popen([AUTOHUB, "tick", "--now", "2026-11-27T10:01:05Z"], cwd=project.root)
    deadline = time.monotonic() + 30
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return tick, int(pidfile.read_text())


@pytest.mark.slow
def test_an_abandoned_run_is_found_after_sigkill_of_tick_and_task(project):
    tick, task_pid = start_long_run(project)
    os.kill(tick.pid, signal.SIGKILL)
    os.kill(task_pid, signal.SIGKILL)
    tick.wait()
    assert project.history()[0]["status"] == "running"
    project.tick("2026-11-27T10:01:30Z")
    run = project.history()[0]
    assert run["status"] == "abandoned"
    assert f"pid {tick.pid}" in run["reason"]


@pytest.mark.slow
def test_killing_only_the_tick_ends_its_task_too(project):
    tick, task_pid = start_long_run(project)
    os.kill(tick.pid, signal.SIGKILL)
    tick.wait()
    deadline = time.monotonic() + 10
    while alive(task_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(task_pid), "a run must not outlive the tick that owns it"


@pytest.mark.slow
def test_racing_ticks_run_each_slot_exactly_once(project):
    marks = project.root / "marks"
    marks.mkdir()
    for i in range(10):
        project.task(
            f"t{i}",
            f"import os\nname = os.environ['AUTOHUB_TASK'] + '-' + os.environ['AUTOHUB_SLOT']\n"
            f"open(os.path.join({str(marks)!r}, name), 'a').write('x')",
        )
    project.tick("2026-11-27T10:00:30Z")
    for minute in ("01", "02"):
        procs = [project.spawn_tick(f"2026-11-27T10:{minute}:0{i % 10}Z") for i in range(6)]
        for proc in procs:
            assert proc.wait(timeout=120) == 0, proc.stderr.read()
    files = sorted(marks.iterdir())
    assert len(files) == 20
    assert all(f.read_text() == "x" for f in files)
    counts = Counter((r["task"], r["slot"]) for r in project.history() if r["status"] != "skipped")
    assert len(counts) == 20 and set(counts.values()) == {1}
