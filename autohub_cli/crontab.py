"""The trigger: the crontab line that runs `autohub tick` every minute, and a systemd alternative.

The line is

    * * * * * cd <project> && <this autohub> tick >> <project>/logs/cron.log 2>&1 # autohub:<project>

with absolute paths (cron runs with a minimal environment) and a trailing comment that names the
project: that tag is how install finds the line again (never a duplicate, an old path is updated
in place) and how remove finds the only line it may delete.

The crontab is parsed with python-crontab, one line at a time, but it is NOT written back through
python-crontab's renderer: that renderer re-spaces other people's lines, turns lines it cannot
parse into `# DISABLED LINE` comments and rewrites `%` escapes. Every line autohub did not write is
written back byte for byte; only the tagged line is added, replaced or dropped.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TAG = "autohub:"
SCHEDULE = "* * * * *"
DAEMONS = ("cron", "crond", "cronie", "busybox-crond", "fcron", "dcron")
UNSAFE = re.compile(r"[%#\n\r]")


class CronError(Exception):
    """The crontab cannot be read or written; the message says why and what to do."""


def tag(settings: Any) -> str:
    return f"{TAG}{settings.root}"


def autohub_executable() -> str:
    """The absolute path of the `autohub` command running now (the one cron should run)."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "autohub" and argv0.is_file():
        return str(argv0.absolute())
    beside = Path(sys.executable).parent / "autohub"  # the venv's bin/ (not resolved: that would leave the venv)
    if beside.is_file():
        return str(beside.absolute())
    found = shutil.which("autohub")
    if found:
        return str(Path(found).absolute())
    return f"{shlex.quote(str(Path(sys.executable).absolute()))} -m autohub_cli"


def tick_command(settings: Any, executable: str | None = None) -> str:
    """The shell command of the line (before cron's `%` escaping)."""
    root = Path(settings.root)
    exe = executable or autohub_executable()
    exe_words = exe if " -m " in exe else shlex.quote(exe)
    config = ""
    if Path(settings.config_file) != root / "config" / "config.yaml":
        config = f" --config {shlex.quote(str(settings.config_file))}"
    log = shlex.quote(str(root / "logs" / "cron.log"))
    return f"cd {shlex.quote(str(root))} && {exe_words} tick{config} >> {log} 2>&1"


def expected_line(settings: Any, executable: str | None = None) -> str:
    return _render(tick_command(settings, executable), tag(settings))


def _render(command: str, comment: str) -> str:
    from crontab import CronItem

    item = CronItem(command=command, comment=comment)
    item.setall(SCHEDULE)
    return str(item.render()).strip()


def _parse(line: str) -> Any | None:
    """python-crontab's reading of one line, or None for blanks, variables and plain comments."""
    from crontab import CronItem, CronTab

    if not line.strip() or _is_variable(line):
        return None
    item = CronItem.from_line(line, cron=CronTab(tab=""))
    return item if item.is_valid() else None


def _is_variable(line: str) -> bool:
    return bool(re.match(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=", line))


@dataclass(frozen=True)
class CronState:
    available: bool  # a crontab could be read
    error: str | None
    line: str  # the line autohub would install
    ours: tuple[str, ...]  # tagged lines, as they are in the crontab
    others: tuple[str, ...]  # untagged lines that also run `autohub tick` for this project
    daemon_running: bool | None

    @property
    def installed(self) -> bool:
        """Something in the crontab runs the tick for this project (ours enabled, or a hand-written line)."""
        return any(not line.lstrip().startswith("#") for line in (*self.ours, *self.others))

    @property
    def current(self) -> bool:
        """Our line is there exactly as install would write it, once."""
        return list(self.ours) == [self.line]

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "error": self.error,
            "installed": self.installed,
            "current": self.current,
            "line": self.line,
            "ours": list(self.ours),
            "others": list(self.others),
            "daemon_running": self.daemon_running,
        }


def read_crontab() -> str | None:
    """The current user's crontab text; None when there is none. Raises CronError."""
    from crontab import CRON_COMMAND

    try:
        proc = subprocess.run([CRON_COMMAND, "-l"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise CronError(
            f"no crontab program ({CRON_COMMAND}): install cron (Debian/Ubuntu: apt-get install cron), "
            "or use a systemd timer: `autohub cron systemd`"
        ) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CronError(f"cannot run {CRON_COMMAND} -l: {exc}") from None
    if proc.returncode != 0:
        if "no crontab for" in proc.stderr:
            return None
        raise CronError(f"{CRON_COMMAND} -l failed: {proc.stderr.strip() or proc.returncode}")
    return proc.stdout


def write_crontab(text: str | None) -> None:
    """Install `text` as the current user's crontab; None or blank removes the crontab."""
    from crontab import CRON_COMMAND

    try:
        if text is None or not text.strip():
            proc = subprocess.run([CRON_COMMAND, "-r"], capture_output=True, text=True, timeout=30)
            if proc.returncode != 0 and "no crontab for" not in proc.stderr:
                raise CronError(f"{CRON_COMMAND} -r failed: {proc.stderr.strip()}")
            return
        proc = subprocess.run([CRON_COMMAND, "-"], input=text, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise CronError(f"no crontab program ({CRON_COMMAND}): install cron, or use `autohub cron systemd`") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CronError(f"cannot run {CRON_COMMAND}: {exc}") from None
    if proc.returncode != 0:
        raise CronError(f"{CRON_COMMAND} refused the new crontab: {proc.stderr.strip()}; nothing was changed")


def _split(text: str | None) -> list[str]:
    if not text:
        return []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _classify(lines: list[str], settings: Any) -> tuple[list[int], list[int]]:
    """Indexes of our tagged lines, and of untagged lines that run the tick for this project."""
    mine, others = [], []
    root = str(settings.root)
    quoted = shlex.quote(root)
    for i, line in enumerate(lines):
        item = _parse(line)
        if item is None:
            continue
        if item.comment == tag(settings):
            mine.append(i)
        elif item.is_enabled():
            command = str(item.command)
            if (
                "autohub" in command
                and re.search(r"\btick\b", command)
                and (f"cd {root} " in command or f"cd {quoted} " in command or f"--config {root}" in command)
            ):
                others.append(i)
    return mine, others


def read_state(settings: Any, executable: str | None = None, *, check_daemon: bool = True) -> CronState:
    line = expected_line(settings, executable)
    daemon = daemon_running() if check_daemon else None
    try:
        lines = _split(read_crontab())
    except CronError as exc:
        return CronState(False, str(exc), line, (), (), daemon)
    mine, others = _classify(lines, settings)
    return CronState(True, None, line, tuple(lines[i] for i in mine), tuple(lines[i] for i in others), daemon)


@contextmanager
def _exclusive() -> Iterator[None]:
    """One autohub at a time edits this user's crontab (read, change, write back), so that two
    installs for different projects at once cannot drop each other's line."""
    import fcntl

    path = Path(tempfile.gettempdir()) / f"autohub-crontab-{os.getuid()}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def install(settings: Any, executable: str | None = None) -> tuple[str, CronState]:
    """Add (or update in place) the tagged line. Returns (what happened, the state after).

    what happened: installed | updated | unchanged | hand-written (a line of the user's already runs
    the tick for this project: nothing added, so the tick does not run twice a minute).
    """
    root = str(settings.root)
    exe = executable or autohub_executable()
    if UNSAFE.search(root) or UNSAFE.search(exe) or UNSAFE.search(str(settings.config_file)):
        raise CronError(
            f"{root}: cron cannot run a path holding %, # or a line break; move the project "
            "or use a systemd timer: `autohub cron systemd`"
        )
    (Path(root) / "logs").mkdir(parents=True, exist_ok=True)  # `>> logs/cron.log` fails without it
    line = expected_line(settings, exe)
    with _exclusive():
        lines = _split(read_crontab())
        mine, others = _classify(lines, settings)
        if not mine and others:
            action = "hand-written"
        elif [lines[i] for i in mine] == [line]:
            action = "unchanged"
        else:
            if mine:
                new = [ln for i, ln in enumerate(lines) if i not in mine[1:]]
                new[mine[0]] = line
                action = "updated"
            else:
                new = [*lines, line]
                action = "installed"
            write_crontab("\n".join(new) + "\n")
    return action, read_state(settings, exe)


def remove(settings: Any) -> tuple[int, CronState]:
    """Drop the tagged line(s); every other line stays as it is. Returns (lines removed, state after)."""
    with _exclusive():
        lines = _split(read_crontab())
        mine, _ = _classify(lines, settings)
        if mine:
            keep = [ln for i, ln in enumerate(lines) if i not in mine]
            write_crontab("\n".join(keep) + "\n" if keep else None)
    return len(mine), read_state(settings)


def daemon_running() -> bool | None:
    """Is a cron daemon running on this host? None when processes cannot be listed."""
    try:
        import psutil

        for proc in psutil.process_iter(["name"]):
            if (proc.info.get("name") or "") in DAEMONS:
                return True
    except Exception:  # noqa: BLE001 - psutil.Error, or no /proc: unknown rather than wrong
        return None
    return False


# --- systemd ----------------------------------------------------------------------------------


def unit_name(settings: Any) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(settings.root).name).strip("-") or "project"
    return f"autohub-{slug}"


def systemd_units(settings: Any, executable: str | None = None, *, user_unit: bool = False) -> dict[str, str]:
    """A `.service` + `.timer` pair that runs the tick every minute, as the cron line would."""
    root = Path(settings.root)
    exe = executable or autohub_executable()
    args = [*(shlex.split(exe) if " -m " in exe else [exe]), "tick"]
    if Path(settings.config_file) != root / "config" / "config.yaml":
        args += ["--config", str(settings.config_file)]
    exec_start = " ".join(_systemd_quote(a) for a in args)
    log = str(root / "logs" / "cron.log").replace("%", "%%")
    folder = str(root).replace("%", "%%")
    name = unit_name(settings)
    user_line = ""
    if not user_unit:
        import getpass

        user_line = f"User={getpass.getuser()}\n"
    where = "~/.config/systemd/user" if user_unit else "/etc/systemd/system"
    enable = "systemctl --user" if user_unit else "sudo systemctl"
    service = (
        f"# {where}/{name}.service\n"
        "[Unit]\n"
        f"Description=autohub tick for {root}\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"{user_line}"
        f"WorkingDirectory={folder}\n"
        f"ExecStart={exec_start}\n"
        f"StandardOutput=append:{log}\n"
        f"StandardError=append:{log}\n"
    )
    timer = (
        f"# {where}/{name}.timer\n"
        f"# enable with: {enable} daemon-reload && {enable} enable --now {name}.timer\n"
        "[Unit]\n"
        f"Description=Run autohub tick every minute for {root}\n"
        "\n"
        "[Timer]\n"
        "OnCalendar=*-*-* *:*:00\n"
        "AccuracySec=1s\n"
        "# autohub catches up missed slots itself (catchup in each task): no Persistent=\n"
        "Persistent=false\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{name}.service": service, f"{name}.timer": timer}


def _systemd_quote(word: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", word) and "%" not in word:
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


def cron_log(settings: Any) -> Path:
    return Path(settings.root) / "logs" / "cron.log"


__all__ = [
    "CronError",
    "CronState",
    "autohub_executable",
    "daemon_running",
    "expected_line",
    "install",
    "read_state",
    "remove",
    "systemd_units",
    "tick_command",
]
