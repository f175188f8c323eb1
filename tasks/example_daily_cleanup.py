"""
---
title: "Daily Cleanup"
description: >
  Deletes this project's own old files and nothing else: rotated logs and notification logs in
  logs/ older than logging.retention, and the example tasks' output in data/example_*/ older than
  30 days. It never follows a symbolic link and never touches anything outside the project.
timeout: 300
---
"""

import os
import re
import time
from pathlib import Path

from autohub_cli import every, repeat
from helpers import get_config_value, get_project_root, log_info, log_structured_data, log_task_start, log_warning

DATA_KEEP_DAYS = 30  # output of the example tasks under data/example_*/

# (folder inside the project, file-name pattern, what it is); the age limit is logging.retention
LOG_RULES = (
    ("logs", re.compile(r".+\.log\.\d{4}-\d\d-\d\d(\.\d+)?$"), "rotated log"),  # tasks.log.2026-11-27[.1]
    ("logs", re.compile(r"notifications_\d{8}\.jsonl$"), "notification log"),
)


@repeat(every().day.at("03:30"))
def start(dry_run: bool = False):
    """Delete what is too old; with `dry_run=True` (by hand) only report what would go."""
    log_task_start()
    root = get_project_root().resolve()
    keep_days = retention_days(get_config_value("logging.retention", default="7 days"))
    now = time.time()
    deleted, freed, kept = [], 0, 0

    candidates = []
    for folder, pattern, kind in LOG_RULES:
        for path in files_in(root, root / folder, recursive=False):
            if pattern.match(path.name):
                candidates.append((path, kind, keep_days))
    data = root / "data"
    if data.is_dir() and not data.is_symlink():
        for sub in sorted(data.glob("example_*")):
            for path in files_in(root, sub, recursive=True):
                candidates.append((path, "example data", DATA_KEEP_DAYS))

    for path, kind, days in candidates:
        try:
            stat = path.lstat()
        except FileNotFoundError:  # gone meanwhile (log rotation prunes too)
            continue
        if now - stat.st_mtime < days * 86400:
            kept += 1
            continue
        shown = path.relative_to(root).as_posix()
        if not dry_run:
            try:
                path.unlink()
            except OSError as exc:
                log_warning(f"Could not delete {shown}: {exc.strerror or exc}")
                continue
        deleted.append(shown)
        freed += stat.st_size
        log_info(f"{'Would delete' if dry_run else 'Deleted'} {kind} {shown} (older than {days} days)")

    log_info(
        f"Cleanup {'(dry run) ' if dry_run else ''}done: {len(deleted)} files, {freed / 1024:.1f} KiB freed, "
        f"{kept} recent files kept"
    )
    log_structured_data(
        "cleanup",
        {"deleted": deleted, "bytes_freed": freed, "kept": kept, "dry_run": dry_run, "log_days": keep_days},
    )
    return {"deleted": deleted, "bytes_freed": freed, "kept": kept}


def files_in(root: Path, folder: Path, recursive: bool):
    """Regular files under `folder`, which must itself lie inside `root`; symbolic links are skipped."""
    if not folder.is_dir():
        return
    if folder.is_symlink() or not folder.resolve().is_relative_to(root):
        log_warning(f"Skipped {folder}: it leads outside the project")
        return
    for current, dirs, files in os.walk(folder, followlinks=False):
        here = Path(current)
        dirs[:] = [d for d in dirs if recursive and not (here / d).is_symlink()]
        for name in files:
            path = here / name
            if not path.is_symlink() and path.is_file():
                yield path


def retention_days(value) -> int:
    """`logging.retention` as days: 7, "7 days", "2 weeks"; 7 when it cannot be read."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = re.fullmatch(r"\s*(\d+)\s*(days?|d|weeks?|w)?\s*", str(value), re.IGNORECASE)
    if not match or int(match.group(1)) <= 0:
        return 7
    return int(match.group(1)) * (7 if (match.group(2) or "d").lower().startswith("w") else 1)
