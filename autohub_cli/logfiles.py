"""The one place that writes log files, and the line protocol between helpers and the runner.

Many processes append to the same files at once (every run of every tick, and tasks run by
hand), so each line is written with one `os.write` on an `O_APPEND` descriptor: the kernel
places it at the end of the file in one piece, and no line is lost, torn or interleaved.
Rotation is the only step that needs mutual exclusion: it takes an `flock` on a sidecar file
`.<name>.lock`; a writer whose freshly opened file was renamed away meanwhile reopens the path.

Stdlib only and nothing heavy at import time: the runner and every helper call import this.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autohub_cli.config import LoggingSettings

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

# A line printed by a helper inside a run: `@@autohub:LEVEL:message`, one per message line.
RUN_PREFIX = "@@autohub:"

# How often a writer reopens because the file was rotated under it before writing regardless.
_ATTEMPTS = 5


def level_enabled(level: str, policy: LoggingSettings | None) -> bool:
    """Whether a line of `level` passes the configured threshold (INFO without a policy)."""
    threshold = LEVELS.get(policy.level.upper(), 20) if policy is not None else 20
    return LEVELS.get(level.upper(), 20) >= threshold


def format_line(level: str, title: str | None, message: str, when: datetime | None = None) -> str:
    """`2026-11-27 10:00:00,123 INFO [Title] message`, in local time.

    Every line of a multi-line message gets the full prefix, so `grep '[Title]'` finds a whole
    traceback and no line of the file is ever anonymous.
    """
    if when is None:
        when = datetime.now()
    elif when.tzinfo is not None:
        when = when.astimezone()
    head = f"{when:%Y-%m-%d %H:%M:%S},{when.microsecond // 1000:03d} {level.upper()} "
    if title is not None:
        head += "[" + " ".join(str(title).splitlines()) + "] "
    return "\n".join(head + line for line in str(message).splitlines() or [""])


def append(log_dir: Path, file_name: str, text: str, policy: LoggingSettings | None = None) -> None:
    """Append `text` and a newline to `log_dir/file_name`, rotating first when `policy` says so.

    Never raises for an OS error (full disk, permissions): a log that cannot be written must not
    kill a task or the tick, so the failure becomes one line on stderr instead.
    """
    path = Path(log_dir, file_name)
    data = (text + "\n").encode("utf-8", "backslashreplace")
    try:
        _append(path, data, policy)
    except OSError as exc:
        _report(f"could not write log {path}", exc)


def encode_run_line(level: str, message: str) -> str:
    """Protocol lines for one helper message (newline-joined, no trailing newline)."""
    prefix = f"{RUN_PREFIX}{level.upper()}:"
    return "\n".join(prefix + line for line in str(message).splitlines() or [""])


def decode_run_line(line: str) -> tuple[str, str] | None:
    """`(LEVEL, message)` for a protocol line, None for ordinary output."""
    line = line.rstrip("\r\n")
    if not line.startswith(RUN_PREFIX):
        return None
    level, sep, message = line[len(RUN_PREFIX) :].partition(":")
    if not sep or level not in LEVELS:
        return None
    return level, message


def _append(path: Path, data: bytes, policy: LoggingSettings | None) -> None:
    rotation = policy if policy is not None and policy.rotation in ("daily", "size") else None
    # daily rotation reads the file's first line through the same descriptor
    access = os.O_RDWR if rotation is not None and rotation.rotation == "daily" else os.O_WRONLY
    flags = access | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
    for attempt in range(_ATTEMPTS):
        try:
            fd = os.open(path, flags, 0o666)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o666)
        try:
            if attempt < _ATTEMPTS - 1:
                if rotation is not None and _due(fd, rotation, len(data)):
                    if _rotate(path, rotation, len(data)):
                        continue
                    rotation = None  # it failed: write to the file as it is rather than lose the line
                if not _is_current(fd, path):
                    continue
            _write_all(fd, data)
            return
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        # One write is atomic for O_APPEND. A short write only happens on a nearly full disk;
        # finishing the line keeps the next writer's line from being glued onto a torn one.
        view = view[os.write(fd, view) :]


def _is_current(fd: int, path: Path) -> bool:
    """False when another process renamed the file away between our open and now."""
    mine = os.fstat(fd)
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_ino, mine.st_dev) == (there.st_ino, there.st_dev)


def _due(fd: int, policy: LoggingSettings, incoming: int) -> bool:
    size = os.fstat(fd).st_size
    if size == 0:
        return False
    if size + incoming > policy.max_size:
        return True
    if policy.rotation != "daily":
        return False
    first = _first_day(fd)
    return first is not None and first < date.today()


def _first_day(fd: int) -> date | None:
    """The day of the file's first line, None when it does not start with a timestamp."""
    try:
        return date.fromisoformat(os.pread(fd, 10, 0).decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def _rotate(path: Path, policy: LoggingSettings, incoming: int) -> bool:
    """Rename the file to `<name>.<day>[.N]` and prune old siblings, under the sidecar lock.

    Returns False (after saying so on stderr) when rotation failed.
    """
    try:
        lock = os.open(
            path.with_name(f".{path.name}.lock"),
            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
            0o666,
        )
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return True
            try:
                # another writer may have rotated while we waited for the lock
                if not _due(fd, policy, incoming):
                    return True
                day = _first_day(fd) or date.today()
            finally:
                os.close(fd)
            os.rename(path, _free_name(path, day))
            _prune(path, policy.retention_days)
        finally:
            os.close(lock)  # releases the flock
    except OSError as exc:
        _report(f"could not rotate log {path}", exc)
        return False
    return True


def _free_name(path: Path, day: date) -> Path:
    base = f"{path.name}.{day.isoformat()}"
    candidate, n = path.with_name(base), 0
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{base}.{n}")
    return candidate


def _prune(path: Path, retention_days: int) -> None:
    """Delete rotated siblings whose newest line is older than `retention_days`."""
    cutoff = datetime.now().timestamp() - retention_days * 86400
    prefix = path.name + "."
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if _is_rotated(entry.name, prefix) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                with contextlib.suppress(FileNotFoundError):  # another writer pruned it first
                    os.unlink(entry.path)


def _is_rotated(name: str, prefix: str) -> bool:
    """`<prefix>YYYY-mm-dd` or `<prefix>YYYY-mm-dd.N`."""
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix) :]
    try:
        date.fromisoformat(rest[:10])
    except ValueError:
        return False
    suffix = rest[10:]
    return suffix == "" or (suffix[:1] == "." and suffix[1:].isdigit())


def _report(what: str, exc: OSError) -> None:
    try:
        sys.stderr.write(f"autohub: {what}: {exc.strerror or exc}\n")
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # no stderr, or it is closed
        pass
