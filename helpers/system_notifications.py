"""Desktop notifications that degrade to a log line: none of these functions raise.

Scheduled tasks usually run from cron, with no display. There a notification cannot be shown,
so `send_notification` says so in its result (`method: "log"`) and writes the notification to
the task log instead of failing the task.

Backend: on Linux `notify-send` and on macOS `osascript` when installed, given the title and
message as separate arguments (no shell, no quoting to get wrong, text starting with `-` is not
read as an option) and judged by their exit status; otherwise plyer (imported only when needed).
plyer is not tried after a failed `notify-send`: without python-dbus its Linux backend runs
`notify-send` again and ignores the exit status, so it would report the failure as a success.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from autohub_cli import logfiles

from .config_loader import get_project_root
from .task_logging import log_info

_URGENCIES = ("low", "normal", "critical")


def send_notification(
    title: str,
    message: str,
    timeout: int = 5,
    icon: str | None = None,
    urgency: str = "normal",
    app_name: str = "Task Scheduler",
) -> dict[str, Any]:
    """Show a desktop notification → `{success, method, error, timestamp}`."""
    result: dict[str, Any] = {
        "success": False,
        "method": None,
        "error": None,
        "timestamp": datetime.now().isoformat(),
    }
    try:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            reason = "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
        else:
            method, attempt = _backend()
            error = attempt(str(title), str(message), timeout, icon, urgency, app_name)
            if error is None:
                result.update(success=True, method=method)
                return result
            reason = f"{method}: {error}"
    except Exception as exc:  # noqa: BLE001 - a notification must never fail a task
        reason = f"{type(exc).__name__}: {exc}"
    result.update(method="log", error=reason)
    log_info(f"Notification not shown ({reason}): {title}: {message}")
    return result


def log_notification(
    title: str,
    message: str,
    result: dict[str, Any],
    log_dir: str | os.PathLike | None = None,
) -> Path:
    """Append the notification and its outcome as one JSON line to `notifications_YYYYMMDD.jsonl`.

    The folder defaults to `<project>/logs`; a relative `log_dir` is taken from the project root,
    not the working directory, so the file lands in the same place however the task was started.
    """
    folder = get_project_root() / (log_dir if log_dir is not None else "logs")
    path = folder / f"notifications_{datetime.now():%Y%m%d}.jsonl"
    result = result if isinstance(result, dict) else {}
    entry = {
        "timestamp": datetime.now().isoformat(),
        "title": title,
        "message": message,
        "success": result.get("success"),
        "method": result.get("method"),
        "error": result.get("error"),
    }
    logfiles.append(folder, path.name, json.dumps(entry, default=str))
    return path


def send_and_log_notification(
    title: str,
    message: str,
    timeout: int = 5,
    urgency: str = "normal",
    app_name: str = "Task Scheduler",
    log_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """`send_notification`, then `log_notification`; the result gains `log_file`."""
    result = send_notification(title, message, timeout=timeout, urgency=urgency, app_name=app_name)
    result["log_file"] = str(log_notification(title, message, result, log_dir))
    return result


def _backend() -> tuple[str, Any]:
    if sys.platform.startswith("linux") and shutil.which("notify-send"):
        return "notify-send", _notify_send
    if sys.platform == "darwin" and shutil.which("osascript"):
        return "osascript", _osascript
    return "plyer", _plyer


def _notify_send(
    title: str,
    message: str,
    timeout: int,
    icon: str | None,
    urgency: str,
    app_name: str,
) -> str | None:
    argv = [
        "notify-send",
        "-u",
        urgency if urgency in _URGENCIES else "normal",
        "-t",
        str(int(timeout * 1000)),
    ]
    argv += ["-a", app_name]
    if icon:
        argv += ["-i", str(icon)]
    return _command([*argv, "--", title, message])


def _osascript(
    title: str,
    message: str,
    timeout: int,
    icon: str | None,
    urgency: str,
    app_name: str,
) -> str | None:
    # The texts arrive as `argv`, so no AppleScript string escaping is involved.
    script = [
        "on run argv",
        "display notification (item 2 of argv) with title (item 1 of argv)",
        "end run",
    ]
    argv = ["osascript"]
    for line in script:
        argv += ["-e", line]
    return _command([*argv, title, message])


def _command(argv: list[str]) -> str | None:
    import subprocess

    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        return f"exit status {done.returncode}" + (f": {detail}" if detail else "")
    return None


def _plyer(
    title: str,
    message: str,
    timeout: int,
    icon: str | None,
    urgency: str,
    app_name: str,
) -> str | None:
    import warnings

    try:
        with warnings.catch_warnings():
            # plyer warns about missing backends; the result says so instead
            warnings.simplefilter("ignore")
            from plyer import notification

            notification.notify(
                title=title,
                message=message,
                app_name=app_name,
                app_icon=icon or "",
                timeout=timeout,
            )
    except Exception as exc:  # noqa: BLE001 - plyer raises anything from ImportError to NotImplementedError
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None
