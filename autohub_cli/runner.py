"""One run = one child process, under its limits: timeout, memory cap, crash detection, output.

The child leads its own process group, so a timeout or the memory cap ends it with its
grandchildren: SIGTERM to the group (and to any descendant that left it), then SIGKILL after a
grace period. Each output line goes to logs/tasks.log as `time LEVEL [Title] line`; helper log
lines arrive through the `@@autohub:` protocol with their level; errors and the traceback of a
failed run also go to logs/errors.log; the tail of the output is kept with the run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from . import faults, logfiles, secrets
from .config import Settings
from .spec import TaskSpec
from .store import Outcome

GRACE_SECONDS = 5.0
TAIL_LINES = 200
POLL_SECONDS = 0.1
MEMORY_EVERY = 0.5
ERROR_LEVELS = ("ERROR", "CRITICAL")

LineSink = Callable[[str, str], None]  # (level, message)


@dataclass(frozen=True)
class Job:
    run_id: int
    spec: TaskSpec
    slot: datetime
    attempt: int
    trigger: str


def python_for(spec: TaskSpec | Settings, settings: Settings | None = None) -> str:
    """The interpreter that runs the task: its environment's (isolated, virtual_env.path's, or autohub's).

    `python_for(settings)`, without a task, is the shared environment's interpreter.
    """
    from .deps import python_for as deps_python_for

    return deps_python_for(spec, settings)


def child_env(job: Job, settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AUTOHUB_TASK=job.spec.name,
        AUTOHUB_TASK_TITLE=job.spec.title,
        AUTOHUB_RUN_ID=str(job.run_id),
        AUTOHUB_SLOT=job.slot.isoformat(),
        AUTOHUB_ATTEMPT=str(job.attempt),
        AUTOHUB_PROJECT_ROOT=str(settings.root),
        AUTOHUB_OWNER_PID=str(os.getpid()),  # the worker ends itself if this process is gone
        PYTHONUNBUFFERED="1",
    )
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(settings.root) + (os.pathsep + path if path else "")
    return env


class _Output:
    """Collects the child's lines: log files, the tail, and an optional live echo."""

    def __init__(self, job: Job, settings: Settings, echo: LineSink | None) -> None:
        self.title = job.spec.title
        self.settings = settings
        self.echo = echo
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.errors: deque[str] = deque(maxlen=TAIL_LINES)
        self.lock = threading.Lock()
        self.mask = secrets.masker(settings.root)  # config/secrets.yaml values read ***

    def line(self, raw: str, default_level: str) -> None:
        decoded = logfiles.decode_run_line(raw)
        level, message = decoded if decoded else (default_level, raw)
        message = self.mask(message)
        shown = message if level == "INFO" or not decoded else f"{level}: {message}"
        with self.lock:
            self.tail.append(shown)
            if default_level == "STDERR" and not decoded:
                self.errors.append(message)
        if logfiles.level_enabled(level if decoded else "INFO", self.settings.logging):
            text = logfiles.format_line(level if decoded else "INFO", self.title, message)
            logfiles.append(self.settings.logs_dir, "tasks.log", text, self.settings.logging)
            if level in ERROR_LEVELS:
                logfiles.append(self.settings.logs_dir, "errors.log", text, self.settings.logging)
        if self.echo:
            self.echo(level, shown)

    def pump(self, stream: IO[bytes], default_level: str) -> None:
        for raw in iter(stream.readline, b""):
            self.line(raw.decode("utf-8", "replace").rstrip("\r\n"), default_level)
        stream.close()

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.tail)


Clock = Callable[[], datetime]


def execute(
    job: Job,
    settings: Settings,
    *,
    clock: Clock,
    echo: LineSink | None = None,
    on_start: Callable[[int], None] | None = None,
) -> Outcome:
    """Run the job's task to its end and say how it ended. Never raises for what the task does."""
    from .deps import ready

    spec = job.spec
    output = _Output(job, settings, echo)
    started = clock()
    reason = ready(spec, settings)  # missing requirements: installed first, or the run fails unstarted
    if reason is not None:
        return _outcome("failed", reason, None, started, clock(), output)
    try:
        proc = subprocess.Popen(
            [python_for(spec, settings), "-m", "autohub_cli.worker", spec.path],
            cwd=settings.root,
            env=child_env(job, settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        return _outcome("failed", f"could not start the task: {exc}", None, started, clock(), output)
    if on_start:
        on_start(proc.pid)
    faults.point("while-running")
    pumps = [
        threading.Thread(target=output.pump, args=(proc.stdout, "INFO"), daemon=True),
        threading.Thread(target=output.pump, args=(proc.stderr, "STDERR"), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    cap_mb = spec.max_memory_mb or settings.scheduler.max_memory_usage
    status, reason = _supervise(proc, spec.timeout, cap_mb)
    kill_group(proc.pid, signal.SIGKILL)  # leftovers (background grandchildren) end with the run
    for pump in pumps:
        pump.join(timeout=5)
    code = proc.returncode
    if status is None:
        if code == 0:
            status = "success"
        elif code is not None and code < 0:
            status, reason = "crashed", f"died by signal {_signal_name(-code)}"
        else:
            status, reason = "failed", _failure_reason(output, code)
    if status != "success":
        _report_failure(job, settings, status, reason, output)
    return _outcome(status, reason, code, started, clock(), output)


def _supervise(proc: subprocess.Popen[bytes], timeout: int, cap_mb: int) -> tuple[str | None, str | None]:
    deadline = time.monotonic() + timeout
    next_memory = time.monotonic()
    while True:
        try:
            proc.wait(timeout=POLL_SECONDS)
            return None, None
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now >= deadline:
            _terminate(proc)
            return "timeout", f"timed out after {timeout} s (timeout in the frontmatter); the process group was killed"
        if now >= next_memory:
            next_memory = now + MEMORY_EVERY
            rss = tree_rss_mb(proc.pid)
            if rss > cap_mb:
                _kill_tree(proc.pid, signal.SIGKILL)
                proc.wait()
                return "killed", f"used {rss:.0f} MB, above the memory cap of {cap_mb} MB (max_memory_mb)"


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / (1024 * 1024)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    _kill_tree(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    _kill_tree(proc.pid, signal.SIGKILL)
    proc.wait()


def _kill_tree(pid: int, sig: int) -> None:
    """Signal the group and every descendant, including any that started a group of their own."""
    import psutil

    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    kill_group(pid, sig)
    for child in descendants:
        try:
            child.send_signal(sig)
        except psutil.Error:
            pass


def kill_group(pgid: int, sig: int) -> None:
    """Signal a process group; one that is already gone is fine."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def _failure_reason(output: _Output, code: int | None) -> str:
    last = next((line for line in reversed(output.errors) if line.strip()), None)
    return f"exit code {code}" + (f": {last.strip()}" if last else "")


def _report_failure(job: Job, settings: Settings, status: str, reason: str | None, output: _Output) -> None:
    """errors.log gets the failure and the stderr it left (the traceback), under the task's title."""
    lines = [f"run {job.run_id} (slot {job.slot.isoformat()}, attempt {job.attempt}) {status}: {reason}"]
    lines.extend(output.errors)
    text = logfiles.format_line("ERROR", job.spec.title, "\n".join(lines))
    logfiles.append(settings.logs_dir, "errors.log", text, settings.logging)


def _outcome(
    status: str, reason: str | None, code: int | None, started: datetime, finished: datetime, output: _Output
) -> Outcome:
    return Outcome(status, reason, code, started, finished, output.text())
