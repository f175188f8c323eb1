"""Logging for task code: `log_info("…")` and friends, with the task's title on every line.

Where lines go:
- inside a scheduled run (`$AUTOHUB_RUN_ID` is set) a helper writes no file: it prints
  `@@autohub:LEVEL:message` lines to stdout and the runner, which captures that stream anyway,
  files them under the task's title, applies the configured level, routes errors to
  `logs/errors.log` and keeps them in the run's output tail;
- outside a run (a task started by hand) lines at or above `logging.level` go to
  `logs/tasks.log`, ERROR and CRITICAL also to `logs/errors.log`, and every line to stderr.

The title is the explicit `task_name`, else `$AUTOHUB_TASK_TITLE` (set for every run), else the
frontmatter `title` of the calling file in the tasks folder (so `import tasks.x; x.start()` by
hand logs under the right name), else "unknown_task".
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from types import FrameType
from typing import Any

from autohub_cli import logfiles

from .config_loader import get_project_root

UNKNOWN_TASK = "unknown_task"


def log(
    message: Any,
    level: str = "INFO",
    task_name: str | None = None,
    extra_data: dict | None = None,
    exception: BaseException | None = None,
) -> None:
    """Log one message. `extra_data` renders as ` | key=value`; `exception` adds its type and text,
    and at ERROR or CRITICAL its own traceback (not whatever exception is being handled now)."""
    level_name = str(level).upper()
    text = str(message)
    if level_name not in logfiles.LEVELS:
        text, level_name = f"[{level_name}] {text}", "INFO"
    text += _render_extras(extra_data)
    if exception is not None:
        text += f" | Exception: {type(exception).__name__}: {exception}"
        if logfiles.LEVELS[level_name] >= logfiles.LEVELS["ERROR"]:
            import traceback

            lines = traceback.format_exception(type(exception), exception, exception.__traceback__)
            text += "\n" + "".join(lines).rstrip("\n")
    _emit(level_name, task_name, text)


def log_debug(message: Any, task_name: str | None = None, **extra: Any) -> None:
    log(message, "DEBUG", task_name, extra_data=extra)


def log_info(message: Any, task_name: str | None = None, **extra: Any) -> None:
    log(message, "INFO", task_name, extra_data=extra)


def log_warning(message: Any, task_name: str | None = None, **extra: Any) -> None:
    log(message, "WARNING", task_name, extra_data=extra)


def log_error(
    message: Any,
    task_name: str | None = None,
    exception: BaseException | None = None,
    **extra: Any,
) -> None:
    log(message, "ERROR", task_name, extra_data=extra, exception=exception)


def log_critical(
    message: Any,
    task_name: str | None = None,
    exception: BaseException | None = None,
    **extra: Any,
) -> None:
    log(message, "CRITICAL", task_name, extra_data=extra, exception=exception)


def log_task_start(task_name: str | None = None, **kw: Any) -> None:
    log("Task started", "INFO", task_name, extra_data=kw)


def log_task_complete(task_name: str | None = None, duration: float | None = None, **kw: Any) -> None:
    suffix = ""
    if isinstance(duration, (int, float)):
        suffix = f" in {duration:.2f}s"
    elif duration is not None:
        suffix = f" in {duration}"
    log(f"Task completed successfully{suffix}", "INFO", task_name, extra_data=kw)


def log_task_error(
    error_message: Any,
    task_name: str | None = None,
    exception: BaseException | None = None,
    **kw: Any,
) -> None:
    log(
        f"Task failed: {error_message}",
        "ERROR",
        task_name,
        extra_data=kw,
        exception=exception,
    )


def log_execution_result(
    operation: str,
    success: bool,
    details: dict | None = None,
    task_name: str | None = None,
) -> None:
    """`op: SUCCESS` at INFO or `op: FAILED` at ERROR, with `details` as ` | key=value`."""
    outcome, level = ("SUCCESS", "INFO") if success else ("FAILED", "ERROR")
    log(f"{operation}: {outcome}", level, task_name, extra_data=details)


def log_structured_data(event_type: str, data: Any, task_name: str | None = None, level: str = "INFO") -> None:
    """`STRUCTURED_EVENT: {"event_type", "timestamp", "data"}` as one line of JSON for machines to grep.

    ASCII-escaped, so no character in `data` can split the line.
    """
    import json

    payload = {
        "event_type": event_type,
        "timestamp": datetime.now().isoformat(),
        "data": data,
    }
    log(f"STRUCTURED_EVENT: {json.dumps(payload, default=str)}", level, task_name)


class TaskLogger:
    """What `create_task_logger(name)` returns: the level methods, always under `name`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def debug(self, message: Any, **extra: Any) -> None:
        log(message, "DEBUG", self.name, extra_data=extra)

    def info(self, message: Any, **extra: Any) -> None:
        log(message, "INFO", self.name, extra_data=extra)

    def warning(self, message: Any, **extra: Any) -> None:
        log(message, "WARNING", self.name, extra_data=extra)

    def error(self, message: Any, exception: BaseException | None = None, **extra: Any) -> None:
        log(message, "ERROR", self.name, extra_data=extra, exception=exception)

    def critical(self, message: Any, exception: BaseException | None = None, **extra: Any) -> None:
        log(message, "CRITICAL", self.name, extra_data=extra, exception=exception)


def create_task_logger(name: str) -> TaskLogger:
    return TaskLogger(name)


task_log = log
task_info = log_info
task_error = log_error


def get_calling_task_name() -> str:
    """The title log lines get without an explicit `task_name` (see the module docstring)."""
    given = os.environ.get("AUTOHUB_TASK_TITLE")
    if given:
        return given
    root = get_project_root()
    settings = _settings(root)
    tasks_dir = os.path.realpath(settings.tasks_dir if settings is not None else root / "tasks") + os.sep
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        file_name = frame.f_code.co_filename
        if not file_name.startswith("<"):
            real = os.path.realpath(file_name)
            if real.startswith(tasks_dir):
                return _file_title(real)
        frame = frame.f_back
    return UNKNOWN_TASK


def _emit(level: str, task_name: str | None, text: str) -> None:
    if os.environ.get("AUTOHUB_RUN_ID"):
        # The runner files protocol lines under the run's title; keep a different explicit name visible.
        if task_name and task_name != os.environ.get("AUTOHUB_TASK_TITLE"):
            text = f"[{task_name}] {text}"
        _write(sys.stdout, logfiles.encode_run_line(level, text))
        return
    title = str(task_name) if task_name else get_calling_task_name()
    root = get_project_root()
    settings = _settings(root)
    policy = settings.logging if settings is not None else None
    if not logfiles.level_enabled(level, policy):
        return
    line = logfiles.format_line(level, title, text)
    logs = root / "logs"
    logfiles.append(logs, "tasks.log", line, policy)
    if logfiles.LEVELS[level] >= logfiles.LEVELS["ERROR"]:
        logfiles.append(logs, "errors.log", line, policy)
    _write(sys.stderr, line)


def _render_extras(extra: Any) -> str:
    if not extra:
        return ""
    if not isinstance(extra, dict):
        return f" | extra_data={extra}"
    return "".join(f" | {key}={value}" for key, value in extra.items())


def _write(stream: Any, text: str) -> None:
    try:
        stream.write(text + "\n")
        stream.flush()
    except (AttributeError, OSError, ValueError):  # no stream, or a closed one
        pass


def _settings(root: Path) -> Any:
    """The project's settings, reread only when config.yaml changes; None when unusable (level INFO)."""
    try:
        stamp = (root / "config" / "config.yaml").stat().st_mtime_ns
    except OSError:
        return None
    return _load_settings(str(root), stamp)


@lru_cache(maxsize=8)
def _load_settings(root: str, _stamp: int) -> Any:
    try:
        from autohub_cli.config import load_settings

        return load_settings(root)
    except Exception:  # noqa: BLE001 - a broken config must not stop a task from logging
        return None


def _file_title(path: str) -> str:
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return Path(path).stem
    return _frontmatter_title(path, stamp)


@lru_cache(maxsize=64)
def _frontmatter_title(path: str, _stamp: int) -> str:
    stem = Path(path).stem
    try:
        with open(path, encoding="utf-8") as handle:
            block = _frontmatter_block(handle.read())
    except (OSError, UnicodeDecodeError):
        return stem
    if block is None:
        return stem
    import yaml

    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError:
        return stem
    title = data.get("title") if isinstance(data, dict) else None
    return str(title).strip() if title is not None and str(title).strip() else stem


def _frontmatter_block(text: str) -> str | None:
    """The YAML between the first two `---` lines, inside a leading docstring or bare at the top."""
    lines = text.lstrip("\ufeff").splitlines()
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        i += 1
    if i < len(lines) and lines[i].strip().lstrip("rRuU") in ('"""', "'''"):
        i += 1
    if i >= len(lines) or lines[i].strip() != "---":
        return None
    for j in range(i + 1, len(lines)):
        if lines[j].strip() == "---":
            return "\n".join(lines[i + 1 : j])
    return None
