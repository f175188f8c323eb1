"""Fault injection and bookkeeping for the reliability suite (tests/test_reliability_*.py) and
`bench/reliability.py`.

Everything here acts on a real project directory through real processes: the installed `autohub`
command, SIGKILL, a tmpfs mount that really fills up, a second process really holding the
database's write lock. The one hook inside autohub is `autohub_cli/faults.py`: a tick started
with `AUTOHUB_FAULT=<stage>` SIGKILLs itself at that stage.

The proof that nothing is lost or doubled is `audit`: every task in the project writes one line
per execution to `ledger.txt` (task, slot, attempt, pid) with a single O_APPEND write, and the
audit compares the ledger with the `runs` table slot by slot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc
AUTOHUB = shutil.which("autohub", path=str(Path(sys.executable).parent)) or "autohub"
STAGES = ("before-claim", "after-claim", "while-running", "before-finish")  # autohub_cli.faults.STAGES
LEDGER = "ledger.txt"

# The body of start() of a ledger task: one line per execution, written in one piece.
LEDGER_BODY = """\
import os
line = " ".join([os.environ["AUTOHUB_TASK"], os.environ["AUTOHUB_SLOT"], os.environ["AUTOHUB_ATTEMPT"], str(os.getpid())])
fd = os.open(os.path.join(os.environ["AUTOHUB_PROJECT_ROOT"], "ledger.txt"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, (line + "\\n").encode())
os.close(fd)
print("ran", os.environ["AUTOHUB_TASK"], os.environ["AUTOHUB_SLOT"])
"""


# --- a project -------------------------------------------------------------------------------


def new_project(root: Path, config: str = "scheduler:\n  timezone: UTC\n") -> Path:
    """A throw-away project (the same shape as the `project` fixture), for the benchmark."""
    for sub in ("config", "tasks", "state", "logs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tasks", 0o755)
    write_config(root, config)
    return root


def write_config(root: Path, text: str) -> None:
    (root / "config" / "config.yaml").write_text(textwrap.dedent(text))


def ledger_task(
    root: Path, name: str, schedule: str = "every(1).minutes", *, before: str = "", after: str = "", **fields: Any
) -> Path:
    """tasks/<name>.py that records each execution in the ledger; `before`/`after` wrap the record."""
    import json

    front = "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items())
    body = "import os\n" + textwrap.dedent(before) + LEDGER_BODY + textwrap.dedent(after)
    code = (
        f'"""\n---\n{front}---\n"""\nfrom autohub_cli import repeat, every, cron\n\n\n'
        f"@repeat({schedule})\ndef start():\n{textwrap.indent(body, '    ')}"
    )
    path = root / "tasks" / f"{name}.py"
    path.write_text(code)
    return path


# --- driving ticks ---------------------------------------------------------------------------


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AUTOHUB_FAULT", "AUTOHUB_CONFIG")}
    env.update(NO_COLOR="1", COLUMNS="200", **extra)
    return env


def fault_env(stage: str) -> dict[str, str]:
    return env_with(AUTOHUB_FAULT=stage)


def run(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed `autohub` command, in the project (or in `cwd`), as cron or a user runs it."""
    return subprocess.run(
        [AUTOHUB, *args],
        cwd=cwd or root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or env_with(),
        check=False,
    )


def tick(root: Path, now: str, *, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return run(root, "tick", "--now", now, env=env, timeout=timeout)


def spawn_tick(
    root: Path, now: str | None, *, env: dict[str, str] | None = None, cwd: Path | None = None, config: bool = False
) -> subprocess.Popen[str]:
    """A tick in the background. `config=True` runs it from `cwd` with --config, as a second cron line might."""
    args = [AUTOHUB, "tick"] + (["--config", str(root / "config" / "config.yaml")] if config else [])
    args += ["--now", now] if now else []
    return subprocess.Popen(
        args, cwd=cwd or root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or env_with()
    )


def finish(procs: list[subprocess.Popen[str]], timeout: float = 300) -> list[tuple[int, str, str]]:
    """Wait for every process (killing any that outlives `timeout`): [(returncode, stdout, stderr)]."""
    deadline = time.monotonic() + timeout
    out = []
    for proc in procs:
        try:
            stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            stderr += "\n[killed by the test: it outlived its time]"
        out.append((proc.returncode, stdout, stderr))
    return out


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not met within {timeout:.0f} s")


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


# --- the state, read directly ----------------------------------------------------------------


def query(root: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(root / "state" / "autohub.db", timeout=60)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def integrity(root: Path) -> str:
    """`PRAGMA integrity_check` of the state database, read-only (it neither creates nor repairs)."""
    path = root / "state" / "autohub.db"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        return "\n".join(str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall())
    finally:
        db.close()


def norm(slot: str) -> str:
    return datetime.fromisoformat(slot).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def ledger(root: Path) -> Counter[tuple[str, str, int]]:
    """How often each (task, slot, attempt) really executed."""
    path = root / LEDGER
    lines = path.read_text().splitlines() if path.exists() else []
    found: Counter[tuple[str, str, int]] = Counter()
    for line in lines:
        task, slot, attempt, _pid = line.split()
        found[(task, norm(slot), int(attempt))] += 1
    return found


def minutes(start: str, count: int) -> list[str]:
    """`count` consecutive minute slots from `start` (ISO), normalised as `audit` keys them."""
    first = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
    return [norm((first + timedelta(minutes=i)).isoformat()) for i in range(count)]


@dataclass
class Audit:
    slots: int = 0  # (task, slot) pairs checked
    ran: int = 0  # slots whose first attempt executed
    recorded: int = 0  # slots whose row says why it did not run (skipped / abandoned, with a reason)
    lost: list[str] = field(default_factory=list)  # no row at all
    doubled: list[str] = field(default_factory=list)  # two rows, or executed twice
    stuck: list[str] = field(default_factory=list)  # a row still `running`
    unexplained: list[str] = field(default_factory=list)  # row and ledger disagree, or no reason given

    @property
    def ok(self) -> bool:
        return not (self.lost or self.doubled or self.stuck or self.unexplained)

    def __str__(self) -> str:
        return (
            f"{self.slots} slots: {self.ran} ran, {self.recorded} recorded with a reason; lost {self.lost[:5]}, "
            f"doubled {self.doubled[:5]}, stuck {self.stuck[:5]}, unexplained {self.unexplained[:5]}"
        )


def audit(root: Path, tasks: list[str], slots: list[str], *, strict_run: bool = True) -> Audit:
    """Every (task, slot) has exactly one first-attempt row and executed at most once.

    A row that says `success` or `failed` must match one execution in the ledger; a `skipped` row
    must not have executed and must say why; an `abandoned` row (its tick died) may or may not have
    executed, but only once, and must say why. With `strict_run` a `success` row must have exactly
    one ledger line (set it False for tasks that do not write the ledger).
    """
    rows: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    for task, slot, status, reason in query(
        root, "SELECT task, slot, status, reason FROM runs WHERE trigger != 'manual' AND attempt = 1"
    ):
        rows.setdefault((task, norm(slot)), []).append((status, reason))
    executed = ledger(root)
    result = Audit()
    for task in tasks:
        for slot in slots:
            key = f"{task}@{slot}"
            result.slots += 1
            found = rows.get((task, slot), [])
            times = executed.get((task, slot, 1), 0)
            if times > 1 or len(found) > 1:
                result.doubled.append(f"{key}: {len(found)} rows, executed {times} times")
                continue
            if not found:
                (result.doubled if times else result.lost).append(f"{key}: no row (executed {times} times)")
                continue
            status, reason = found[0]
            if status in ("running", "pending"):
                result.stuck.append(f"{key}: {status}")
            elif status == "skipped":
                if times or not reason:
                    result.unexplained.append(f"{key}: skipped ({reason}) but executed {times} times")
                else:
                    result.recorded += 1
            elif status == "abandoned":
                if not reason:
                    result.unexplained.append(f"{key}: abandoned without a reason")
                else:
                    result.recorded += 1
            elif strict_run and status == "success" and times != 1:
                result.unexplained.append(f"{key}: success but executed {times} times")
            else:
                result.ran += 1
    # and nothing executed that has no slot in the list (a slot invented or run off-schedule)
    wanted = {(t, s) for t in tasks for s in slots}
    for task, slot, attempt in executed:
        if attempt == 1 and task in tasks and (task, slot) not in wanted and (task, slot) not in rows:
            result.doubled.append(f"{task}@{slot}: executed without a row")
    open_rows = query(root, "SELECT task, slot, status FROM runs WHERE status IN ('running', 'pending')")
    result.stuck.extend(f"{t}@{norm(s)}: {st}" for t, s, st in open_rows if st == "running")
    return result


# --- faults ----------------------------------------------------------------------------------


@contextlib.contextmanager
def hold_write_lock(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the database's write lock (BEGIN IMMEDIATE) until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"db = sqlite3.connect({str(db)!r}, isolation_level=None, timeout=60)\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "db.execute(\"INSERT OR REPLACE INTO meta (key, value) VALUES ('lock_holder', '1')\")\n"
            "print('locked', flush=True)\n"
            "sys.stdin.readline()\n"
            "db.execute('ROLLBACK')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        with contextlib.suppress(OSError, ValueError):
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
        try:
            holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


def can_mount() -> str | None:
    """None when tmpfs mounts work here, else why not (the tests skip with that reason)."""
    if not sys.platform.startswith("linux"):
        return "tmpfs mounts need Linux"
    if os.geteuid() != 0:
        return "mounting a small tmpfs needs root (run the suite as root, e.g. in CI's container)"
    probe = Path(f"/tmp/autohub-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            return f"mount -t tmpfs is not permitted here: {done.stderr.strip() or done.returncode}"
        subprocess.run(["umount", str(probe)], check=False)
        return None
    except OSError as exc:
        return f"cannot run mount: {exc}"
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of `size` over `folder` (keeping what was in it) and unmount it afterwards."""
    keep = folder.with_name(folder.name + ".before-mount")
    if folder.exists():
        folder.rename(keep)
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)], check=True)
    try:
        if keep.exists():
            for item in keep.iterdir():
                shutil.move(str(item), folder / item.name)
        yield folder
    finally:
        saved = folder.with_name(folder.name + ".after-mount")
        shutil.copytree(folder, saved, symlinks=True)
        for _ in range(50):  # a process that still has a file open there makes umount fail: retry briefly
            if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["umount", "-l", str(folder)], check=False)
        folder.rmdir()
        saved.rename(folder)
        if keep.exists():
            shutil.rmtree(keep)


def fill(folder: Path, name: str = "filler") -> Path:
    """Write zeros into `folder/name` until the disk is full (unbuffered: every byte that fits lands)."""
    path = folder / name
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = 1 << 20
        for _ in range(1 << 16):  # bounded; ends when even one byte does not fit
            try:
                os.write(fd, b"\0" * size)
            except OSError:
                if size == 1:
                    break
                size //= 2
    finally:
        os.close(fd)
    return path


def corrupt(db: Path, how: str) -> None:
    """Damage a database file the ways real crashes and bad disks do."""
    data = bytearray(db.read_bytes())
    if how == "garbage":
        db.write_bytes(b"autohub state, overwritten by something else " * 200)
    elif how == "truncated":
        db.write_bytes(bytes(data[: max(len(data) // 2, 4096 + 100)]))
    elif how == "pages":  # the header survives; every page after the first two is noise
        page = int.from_bytes(data[16:18], "big") or 65536
        for start in range(2 * page, len(data), page):
            data[start : start + page] = bytes((i * 37 + start) % 251 for i in range(min(page, len(data) - start)))
        db.write_bytes(bytes(data))
    elif how == "header":
        data[0:16] = b"NOT SQLITE AT AL"
        db.write_bytes(bytes(data))
    else:
        raise ValueError(how)


@contextlib.contextmanager
def alarm(seconds: int, what: str) -> Iterator[None]:
    """Turn a hang into a failure: SIGALRM after `seconds` raises in the main thread."""

    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"{what}: still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def clean_stderr(text: str) -> bool:
    """No traceback and no raw SQLite error reached the user."""
    return "Traceback" not in text and "sqlite3." not in text
