"""`autohub doctor`: every precondition of a working scheduler, each with its fix.

A check passes, warns (worth knowing, nothing is broken) or fails (something will not run). Checks
that need what a failed check would have given (settings, the task list) are skipped.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc
PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
DISK_FAIL = 50 * 1024 * 1024
DISK_WARN = 500 * 1024 * 1024


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | warn | fail | skip
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def run_checks(config: Path | None, *, now: datetime | None = None) -> list[Check]:
    from .config import ConfigError, load_settings

    now = (now or datetime.now(UTC)).astimezone(UTC)
    checks: list[Check] = []
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        checks.append(
            Check("config", FAIL, str(exc), "fix the file as the message says, then run `autohub doctor` again")
        )
        names = ("tasks", "dependencies", "state", "cron", "last tick", "secrets", "disk")
        checks.extend(Check(n, SKIP, "needs a valid config") for n in names)
        checks.append(_user())
        return checks
    if settings.warnings:
        checks.append(
            Check(
                "config",
                WARN,
                f"{settings.config_file}: " + "; ".join(settings.warnings),
                "remove or rename the keys named",
            )
        )
    else:
        checks.append(Check("config", PASS, f"{settings.config_file} is valid"))
    catalog, tasks_check = _tasks(settings)
    checks.append(tasks_check)
    checks.append(
        _dependencies(settings, catalog) if catalog is not None else Check("dependencies", SKIP, "needs the task list")
    )
    state_check, ticks = _state(settings)
    checks.append(state_check)
    scheduled = 0
    if catalog is not None:
        scheduled = sum(1 for s in catalog.specs.values() if s.schedule is not None and s.enabled)
    recent = (
        ticks is not None
        and len(ticks) > 0
        and timedelta(seconds=-5) <= now - ticks[0].started_at <= timedelta(minutes=2)
    )
    checks.append(_cron(settings, recent))
    checks.append(
        _last_tick(ticks, now, scheduled) if ticks is not None else Check("last tick", SKIP, "needs the state database")
    )
    checks.append(_secrets(settings))
    checks.append(_user())
    checks.append(_disk(settings))
    return checks


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)


def _tasks(settings: Any) -> tuple[Any, Check]:
    from .catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(settings)
    except CatalogError as exc:
        return None, Check("tasks", FAIL, str(exc), "fix the tasks directory as the message says")
    if catalog.errors:
        detail = "; ".join(e.message for _, e in sorted(catalog.errors.items()))
        return catalog, Check(
            "tasks",
            FAIL,
            f"{len(catalog.errors)} invalid of {len(catalog.names())}: {detail}",
            "fix each file as its message says; `autohub validate` checks again",
        )
    warnings = catalog.warnings()
    if warnings:
        return catalog, Check(
            "tasks", WARN, f"{len(catalog.specs)} valid; " + "; ".join(warnings), "fix the fields named"
        )
    if not catalog.specs:
        return catalog, Check(
            "tasks", WARN, f"no task files in {settings.tasks_dir}", f"add a task: {settings.tasks_dir}/my_task.py"
        )
    return catalog, Check("tasks", PASS, f"{len(catalog.specs)} task(s), all valid")


def _dependencies(settings: Any, catalog: Any) -> Check:
    """Each task's requirements in the environment it runs in: the tick's own check, which installs nothing."""
    from .deps import environment_label, missing_requirements

    problems, needing = [], []
    for name, spec in sorted(catalog.specs.items()):
        missing = missing_requirements(spec, settings)
        if missing:
            problems.append(f"{name} lacks {', '.join(missing)} in {environment_label(spec, settings)}")
            needing.append(name)
    if problems:
        return Check("dependencies", FAIL, "; ".join(problems), f"autohub install-deps {' '.join(needing)}")
    count = sum(len(s.dependencies) for s in catalog.specs.values())
    return Check("dependencies", PASS, f"{count} requirement(s) of {len(catalog.specs)} task(s) satisfied")


def _restore_hint(settings: Any) -> str:
    from .store import backups_dir, list_backups

    newest = next(iter(list_backups(backups_dir(settings))), None)
    if newest is None:
        return f"no backup in {backups_dir(settings)}: move the file aside; the next tick starts a new state"
    return f"restore the newest backup, {newest}: autohub restore (the damaged file is kept beside it)"


def _state(settings: Any) -> tuple[Check, list[Any] | None]:
    from .store import SCHEMA_VERSION, StoreError, open_store

    path = settings.state_path
    try:
        store = open_store(settings)
    except StoreError as exc:
        fix = _restore_hint(settings) if "corrupt" in str(exc) else "fix it as the message says"
        return Check("state", FAIL, str(exc), fix), None
    try:
        version = store.schema_version()
        integrity = store.integrity_check()
        if integrity != "ok":
            return Check(
                "state",
                FAIL,
                f"{path}: integrity check failed: {integrity}",
                _restore_hint(settings),
            ), None
        store.probe_write()
        ticks = store.last_ticks(1)
    except StoreError as exc:
        return Check("state", FAIL, str(exc), f"check the permissions of {path} and {path.parent}"), None
    finally:
        store.close()
    if version != SCHEMA_VERSION:
        return Check(
            "state", FAIL, f"{path}: schema {version}, this autohub uses {SCHEMA_VERSION}", "upgrade autohub"
        ), ticks
    return Check("state", PASS, f"{path}: writable, schema {version}, integrity ok"), ticks


def _cron(settings: Any, recent: bool) -> Check:
    from . import crontab

    state = crontab.read_state(settings)
    if not state.available:
        if recent:
            return Check("cron", WARN, f"no crontab ({state.error}), but ticks are running (a systemd timer?)")
        return Check(
            "cron", FAIL, state.error or "no crontab", "install cron, or `autohub cron systemd` for a systemd timer"
        )
    if not state.installed:
        if recent:
            return Check(
                "cron",
                WARN,
                "no cron line for this project in this user's crontab, but ticks are running "
                "(another user's crontab or a systemd timer?)",
            )
        return Check("cron", FAIL, "no cron line runs `autohub tick` for this project", "autohub cron install")
    if state.daemon_running is False:
        return Check(
            "cron",
            FAIL,
            "the cron line is installed but no cron daemon is running",
            "start it: `systemctl start cron` (or `service cron start`)",
        )
    if state.ours and not state.current:
        return Check(
            "cron",
            WARN,
            f"the cron line differs from what install writes now: {state.ours[0]}",
            "autohub cron install (updates it in place)",
        )
    line = (state.ours or state.others)[0]
    return Check("cron", PASS, f"installed: {line}")


def _last_tick(ticks: list[Any], now: datetime, scheduled: int) -> Check:
    from .status import human_duration

    if not ticks:
        status = FAIL if scheduled else WARN
        return Check(
            "last tick",
            status,
            "no tick has run yet",
            "autohub cron install, then wait a minute; logs/cron.log shows what the tick printed",
        )
    t = ticks[0]
    ago = (now - t.started_at).total_seconds()
    where = f"{human_duration(ago)} ago on {t.host}"
    if t.error:
        return Check(
            "last tick", FAIL, f"the last tick ({where}) failed: {t.error}", "see logs/cron.log and the scheduler log"
        )
    if ago > 120 and scheduled:
        return Check(
            "last tick",
            FAIL,
            f"the last tick was {where}: the trigger has stopped",
            "check `autohub cron show`, the cron daemon, and logs/cron.log",
        )
    if ago < -5:
        return Check(
            "last tick",
            WARN,
            f"the last tick is recorded {human_duration(-ago)} in the future on {t.host}",
            "check this host's clock (timedatectl)",
        )
    return Check("last tick", PASS, f"{where}" + ("" if ago <= 120 else " (no task is scheduled)"))


def _secrets(settings: Any) -> Check:
    path = settings.root / "config" / "secrets.yaml"
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        return Check("secrets", PASS, f"no {path.name}")
    except OSError as exc:
        return Check("secrets", FAIL, f"{path}: {exc.strerror}", f"check the permissions of {path}")
    if mode & 0o077:
        return Check(
            "secrets",
            FAIL,
            f"{path} is readable by {'others' if mode & 0o004 else 'its group'} (mode {mode:o})",
            f"chmod 600 {path}",
        )
    gitignore = settings.root / ".gitignore"
    if (settings.root / ".git").exists() and (
        not gitignore.is_file() or "secrets.yaml" not in gitignore.read_text(errors="replace")
    ):
        return Check("secrets", WARN, f"{path} is not listed in .gitignore", f"echo config/secrets.yaml >> {gitignore}")
    return Check("secrets", PASS, f"{path} is private (mode {mode:o})")


def _user() -> Check:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Check(
            "user",
            WARN,
            "running as root: tasks run as root too",
            "run autohub from an unprivileged user's crontab (`crontab -e` as that user, then `autohub cron install`)",
        )
    return Check("user", PASS, "not running as root")


def _disk(settings: Any) -> Check:
    problems, notes, status = [], [], PASS
    for label, folder in (("state", settings.state_path.parent), ("logs", settings.logs_dir)):
        if not folder.is_dir():
            problems.append(f"{label}: {folder} does not exist")
            status = FAIL
            continue
        if not os.access(folder, os.W_OK | os.X_OK):
            problems.append(f"{label}: {folder} is not writable by this user")
            status = FAIL
            continue
        free = shutil.disk_usage(folder).free
        notes.append(f"{label}: {free // (1024 * 1024)} MB free")
        if free < DISK_FAIL:
            problems.append(f"{label}: only {free // (1024 * 1024)} MB free on {folder}")
            status = FAIL
        elif free < DISK_WARN:
            problems.append(f"{label}: {free // (1024 * 1024)} MB free on {folder}")
            status = WARN if status == PASS else status
    if problems:
        return Check(
            "disk",
            status,
            "; ".join(problems),
            f"create the folders (mkdir -p {settings.state_path.parent} {settings.logs_dir}), "
            "fix their owner, or free space",
        )
    return Check("disk", PASS, "; ".join(notes))
