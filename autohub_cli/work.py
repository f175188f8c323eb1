"""`autohub work`: a foreground loop that does cron's job, for containers and laptops.

It starts `autohub tick` as a child process (the very command cron would run) right away and then at
every minute boundary: never two for the same minute, and none for minutes it slept through (the
tick's own catch-up rules decide what a missed minute still runs). A tick that takes longer than a
minute keeps running beside the next one, as it would under cron: the state's claims keep every
slot exactly once.

SIGTERM or SIGINT stop it: no tick starts any more, a running tick stops claiming sub-minute slots
(through the file named in `$AUTOHUB_STOP_FILE`) and gets `--grace` seconds to finish its runs;
then the runs still going get SIGTERM (the tick records them as crashed) and, a few seconds later,
whatever is left of the tick gets SIGKILL. A second signal skips the rest of the grace period.

Each tick runs in its own session, so a Ctrl-C in the terminal reaches `autohub work` only.
Log lines go to stdout: one JSON object per line with `--json`, else readable text.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from .runner import kill_group
from .subminute import STOP_FILE_ENV

UTC = timezone.utc
KILL_AFTER = 5.0  # seconds between SIGTERM to the runs and SIGKILL to whatever is left
POLL = 1.0  # the loop wakes at least this often (and exactly at each minute boundary)


def tick_command(config: str | None = None) -> list[str]:
    """The tick as cron runs it, with this interpreter."""
    command = [sys.executable, "-m", "autohub_cli", "tick"]
    if config:
        command += ["--config", config]
    return command


@dataclass
class TickProcess:
    minute: int  # minutes since the epoch
    proc: subprocess.Popen[bytes]
    started: float  # time.monotonic()
    reader: threading.Thread | None = None
    reported: bool = False


@dataclass
class Worker:
    root: Path
    command: list[str]
    grace: float = 30.0
    as_json: bool = False
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], float] = time.time  # wall clock: minute boundaries are wall-clock minutes
    stop_file: Path | None = None
    poll: float = POLL
    ticks: list[TickProcess] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    hurry: threading.Event = field(default_factory=threading.Event)
    signal_name: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the loop -----------------------------------------------------------------------------

    def run(self, *, max_ticks: int | None = None) -> int:
        """Loop until a signal (or `max_ticks` ticks, for tests); returns the exit code."""
        if self.stop_file is None:
            self.stop_file = self.root / "state" / f".work-{os.getpid()}.stop"
        _remove(self.stop_file)
        previous = self._install_signals()
        self.emit("started", f"autohub work: started in {self.root} (pid {os.getpid()})", pid=os.getpid())
        last: int | None = None
        started = 0
        try:
            while not self.stopping.is_set():
                minute = int(self.clock() // 60)
                if last is None or minute > last:
                    self._start(minute)
                    last, started = minute, started + 1
                elif minute < last - 1:
                    self.emit(
                        "clock_back",
                        f"autohub work: the clock went back to {_iso(minute * 60)}; the next tick starts at the "
                        "next minute boundary",
                        level="warning",
                    )
                    last = minute
                self._reap()
                if max_ticks is not None and started >= max_ticks:
                    break
                to_boundary = 60.0 - (self.clock() % 60.0)
                self.stopping.wait(min(self.poll, to_boundary + 0.005))
            self._shutdown()
        finally:
            self._restore_signals(previous)
            _remove(self.stop_file)
        return 0

    def _start(self, minute: int) -> None:
        env = dict(os.environ)
        if self.stop_file is not None:
            env[STOP_FILE_ENV] = str(self.stop_file)
        try:
            proc = subprocess.Popen(
                self.command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl-C reaches autohub work, not the ticks
            )
        except OSError as exc:
            self.emit("tick_error", f"autohub work: could not start a tick: {exc}", level="error", error=str(exc))
            return
        tick = TickProcess(minute, proc, time.monotonic())
        tick.reader = threading.Thread(target=self._forward, args=(tick,), daemon=True, name=f"tick-{proc.pid}")
        tick.reader.start()
        with self.lock:
            self.ticks.append(tick)
        self.emit(
            "tick_started",
            f"autohub work: tick for {_iso(minute * 60)} started (pid {proc.pid})",
            minute=_iso(minute * 60),
            pid=proc.pid,
        )

    def _forward(self, tick: TickProcess) -> None:
        assert tick.proc.stdout is not None
        for raw in iter(tick.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line:
                self.emit("tick_output", f"  [tick {tick.proc.pid}] {line}", pid=tick.proc.pid, line=line)
        tick.proc.stdout.close()

    def _reap(self) -> None:
        with self.lock:
            ticks = list(self.ticks)
        for tick in ticks:
            code = tick.proc.poll()
            if code is None or tick.reported:
                continue
            if tick.reader is not None:
                tick.reader.join(timeout=5)
            tick.reported = True
            seconds = round(time.monotonic() - tick.started, 3)
            self.emit(
                "tick_finished",
                f"autohub work: tick for {_iso(tick.minute * 60)} (pid {tick.proc.pid}) exited {code} "
                f"after {seconds} s",
                level="info" if code == 0 else "error",
                minute=_iso(tick.minute * 60),
                pid=tick.proc.pid,
                exit_code=code,
                duration=seconds,
            )
            with self.lock:
                self.ticks.remove(tick)

    # --- stopping -----------------------------------------------------------------------------

    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return previous
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, number: int, frame: Any) -> None:
        if self.stopping.is_set():
            self.hurry.set()  # a second signal: no more waiting
            return
        self.signal_name = signal.Signals(number).name
        self.stopping.set()

    def stop(self) -> None:
        """Ask the loop to stop, as SIGTERM does."""
        self.stopping.set()

    def _running(self) -> list[TickProcess]:
        with self.lock:
            return [t for t in self.ticks if t.proc.poll() is None]

    def _shutdown(self) -> None:
        if self.stop_file is not None:
            try:
                self.stop_file.parent.mkdir(parents=True, exist_ok=True)
                self.stop_file.touch()  # running ticks stop claiming sub-minute slots
            except OSError:
                pass
        running = self._running()
        why = f"{self.signal_name} received" if self.signal_name else "asked to stop"
        self.emit(
            "stopping",
            f"autohub work: {why}; waiting up to {self.grace:g} s for {len(running)} running tick(s)",
            signal=self.signal_name,
            running=len(running),
            grace=self.grace,
        )
        deadline = time.monotonic() + self.grace
        while self._running() and time.monotonic() < deadline and not self.hurry.is_set():
            self._reap()
            self.hurry.wait(min(0.2, max(0.0, deadline - time.monotonic())))
        left = self._running()
        for tick in left:
            self._terminate(tick)
        self._reap()
        self.emit("stopped", "autohub work: stopped", terminated=len(left))

    def _terminate(self, tick: TickProcess) -> None:
        """SIGTERM to the tick's runs (the tick records how they ended), else to the tick; then SIGKILL."""
        family = _descendants(tick.proc.pid)
        self.emit(
            "tick_terminated",
            f"autohub work: grace period over: terminating the tick for {_iso(tick.minute * 60)} "
            f"(pid {tick.proc.pid}) and {len(family)} process(es) it started",
            level="warning",
            pid=tick.proc.pid,
            processes=len(family),
        )
        for proc in family:
            _signal(proc, signal.SIGTERM)
        if family and _wait(tick.proc, KILL_AFTER):
            return
        kill_group(tick.proc.pid, signal.SIGTERM)  # a tick with nothing running, or one that did not end
        if _wait(tick.proc, KILL_AFTER):
            return
        for proc in [*_descendants(tick.proc.pid), *family]:  # runs it started meanwhile, too
            _signal(proc, signal.SIGKILL)
        kill_group(tick.proc.pid, signal.SIGKILL)
        _wait(tick.proc, KILL_AFTER)

    # --- output -------------------------------------------------------------------------------

    def emit(self, event: str, text: str, *, level: str = "info", **fields: Any) -> None:
        now = datetime.now(UTC).astimezone()
        if self.as_json:
            stamp = now.isoformat(timespec="milliseconds")
            line = json.dumps({"time": stamp, "level": level, "event": event, **fields})
        else:
            line = f"{now:%Y-%m-%d %H:%M:%S} {text}"
        with self.lock:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except (OSError, ValueError):  # stdout closed: keep working, silently
                pass


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).astimezone().isoformat(timespec="minutes")


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _signal(proc: Any, sig: int) -> None:
    import psutil

    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass




def _remove(path: Path | None) -> None:
    if path is None:
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        pass
