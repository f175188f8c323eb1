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
import itertools
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
env = os.environ
line = " ".join([env["AUTOHUB_TASK"], env["AUTOHUB_SLOT"], env["AUTOHUB_ATTEMPT"], str(os.getpid())])
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


def tick(
    root: Path, now: str, *, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
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


def worker_pids(task_file: str) -> list[int]:
    """Live worker processes running `task_file` (what a dead tick must not leave behind)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            cmd = proc.info["cmdline"] or []
            if proc.info["status"] != psutil.STATUS_ZOMBIE and "autohub_cli.worker" in cmd and task_file in cmd:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


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


AUDITS: list[Audit] = []  # every audit this process made: bench/reliability.py sums them


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
    AUDITS.append(result)
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


# --- bad input: what the fuzzers feed, and what must hold for each input ------------------------
#
# Each `check_*` takes one input and fails (AssertionError) unless autohub answered with a result
# or with its own error type whose message names the file and the problem. Any other exception
# escapes, and that is a bug: hypothesis then shrinks the input to the smallest that shows it.

FUZZ_ROOT = Path("/nonexistent/autohub-fuzz")  # parse_file and parse_settings are given text, never read it
FUZZ_CONFIG = FUZZ_ROOT / "config" / "config.yaml"
MESSAGE_MAX = 5000  # an error message says what is wrong; it may quote the input, but never amplify it


def short_enough(message: str, given: Any) -> bool:
    """A message may quote the input (an expression, twice at most) but not expand it (an alias bomb)."""
    return len(message) < MESSAGE_MAX + 3 * len(given)


VALID_TASKS = (
    '"""\n---\ntitle: Backup\ntimeout: 60\nretry_count: 2\ncatchup: all\n---\n"""\n'
    "from autohub_cli import repeat, every\n\n\n@repeat(every(10).minutes)\ndef start():\n    print('hi')\n",
    '---\ntitle: Bare\nschedule: "*/5 * * * *"\nenabled: true\n---\nimport os\n\n\ndef start():\n    pass\n',
    '"""\n---\ndependencies: ["requests>=2.25"]\npython_version: "3.10"\n---\n"""\n'
    'from task_scheduler.decorators import repeat, every\n\n\n@repeat(every().day.at("10:30", "Europe/Amsterdam"))\n'
    "async def start():\n    return 1\n",
    '"""Plain docstring, no frontmatter."""\nfrom autohub_cli import repeat, cron\n\n\n'
    '@repeat(cron("0 9 * * mon-fri"))\ndef start():\n    pass\n',
    '# /// script\n# dependencies = ["rich"]\n# requires-python = ">=3.9"\n# ///\n'
    'from autohub_cli import repeat, every\n\n\n@repeat(every(2).hours.at(":15"))\ndef start():\n    pass\n',
    '"""\n---\nschedule: "@hourly"\nmax_overdue: 600\noverlap: allow\nmax_memory_mb: 100\n---\n"""\n'
    "\ndef start():\n    pass\n",
)

CHAIN_NAMES = (
    "every",
    "cron",
    "second",
    "seconds",
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "at",
    "to",
    "until",
    "do",
    "tag",
)
CRON_PIECES = (
    "*",
    "*/5",
    "*/0",
    "0",
    "59",
    "60",
    "23",
    "24",
    "1-5",
    "5-1",
    "1-31/2",
    "L",
    "W",
    "15W",
    "LW",
    "5L",
    "mon#2",
    "mon#6",
    "?",
    "jan",
    "JAN-MAR",
    "mon-fri",
    "sun",
    "7",
    "8",
    "-1",
    "1,2,3",
    ",",
    "",
    "*/99999999999999999999",
    "0x10",
    "½",
    "\x00",
)
TIME_TEXTS = ("10:30", "24:00", "23:59", ":15", ":60", "9:5", "10:30:00", "10:30:01", "", "noon", "10:30 ", "٠١:٠٠")
ZONES = (
    "UTC",
    "Europe/Amsterdam",
    "Europe",
    "America",
    "Etc/GMT+14",
    "../etc/passwd",
    "/etc/localtime",
    "",
    "\x00",
    "Nope/Nope",
)


def strategies() -> Any:
    """The hypothesis strategies, built on first use (hypothesis is a test dependency only)."""
    from hypothesis import strategies as st

    scalar = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True),
        st.text(max_size=30),
        st.sampled_from(TIME_TEXTS + ZONES + CRON_PIECES),
        st.dates(),
    )
    value = st.recursive(
        scalar,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(
                st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.none()), inner, max_size=4
            ),
        ),
        max_leaves=12,
    )
    literal = st.one_of(
        st.integers(min_value=-(2**40), max_value=2**40),
        st.sampled_from(TIME_TEXTS + ZONES),
        st.text(max_size=12),
        st.floats(allow_nan=False),
        st.booleans(),
        st.none(),
        st.binary(max_size=4),
        st.tuples(st.integers(0, 60)),
        st.lists(st.integers(0, 60), max_size=2),
    )
    call = st.tuples(
        st.one_of(st.sampled_from(CHAIN_NAMES), st.text(max_size=8)),
        st.one_of(st.none(), st.lists(literal, max_size=3).map(tuple)),
    )
    number = st.one_of(st.integers(-2, 70), st.sampled_from((0, 1, 59, 60, 23, 24, 3660, 3661, 2**63)), literal)
    at_args = st.one_of(
        st.tuples(st.sampled_from(TIME_TEXTS), st.sampled_from(ZONES)),
        st.tuples(st.sampled_from(TIME_TEXTS)),
        st.tuples(st.sampled_from(TIME_TEXTS), literal),
        st.lists(literal, max_size=3).map(tuple),
    )
    shaped = st.builds(  # the shape of a real schedule: every(N).unit[.at(...)], so the deep checks are reached
        lambda n, unit, at: (("every", n), (unit, None)) + ((("at", at),) if at is not None else ()),
        st.one_of(st.just(()), number.map(lambda v: (v,))),
        st.sampled_from(CHAIN_NAMES[2:19]),
        st.one_of(st.none(), at_args),
    )
    chain = st.one_of(shaped, st.lists(call, max_size=5).map(tuple))
    cron_text = st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(CRON_PIECES), min_size=3, max_size=7).map(" ".join),
        st.sampled_from(("@hourly", "@DAILY", "@reboot", "@every 5m", "@", " @weekly ", "@yearly\n")),
    )
    from autohub_cli.taskfile import FIELD_DEFAULTS

    frontmatter = st.dictionaries(
        st.one_of(st.sampled_from(sorted(FIELD_DEFAULTS)), st.text(max_size=12)), value, max_size=6
    )

    def expression_text(parts: list[tuple[str, list[Any] | None]]) -> str:
        return ".".join(n if a is None else f"{n}({', '.join(map(repr, a))})" for n, a in parts) or "every"

    expression = st.one_of(
        shaped.map(lambda c: expression_text([(n, None if a is None else list(a)) for n, a in c])),
        st.lists(
            st.tuples(st.sampled_from(CHAIN_NAMES), st.one_of(st.none(), st.lists(literal, max_size=2))), max_size=4
        ).map(expression_text),
    )

    @st.composite
    def task_from_parts(draw: Any) -> str:
        import yaml

        meta = draw(frontmatter)
        try:
            block = yaml.safe_dump(meta, allow_unicode=True) if meta else ""
        except yaml.YAMLError:
            block = repr(meta)
        deco = draw(st.one_of(st.none(), expression, st.text(max_size=30)))
        form = draw(st.sampled_from(("docstring", "bare", "none")))
        head = {"docstring": f'"""\n---\n{block}---\n"""\n', "bare": f"---\n{block}---\n", "none": ""}[form]
        decorator = f"@repeat({deco})\n" if deco is not None else ""
        return f"{head}from autohub_cli import repeat, every, cron\n\n{decorator}def start():\n    pass\n"

    @st.composite
    def mutated_task(draw: Any) -> str:
        text = draw(st.sampled_from(VALID_TASKS))
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(("delete", "insert", "replace", "duplicate", "swap", "truncate")))
            at = draw(st.integers(0, max(len(text) - 1, 0)))
            if op == "delete":
                text = text[:at] + text[at + draw(st.integers(1, 20)) :]
            elif op == "insert":
                text = (
                    text[:at]
                    + draw(
                        st.one_of(
                            st.text(max_size=10),
                            st.sampled_from(("---", '"""', "\n", ":", "@repeat(", "\t", "\r\n", "\x00")),
                        )
                    )
                    + text[at:]
                )
            elif op == "replace":
                text = text[:at] + draw(st.characters()) + text[at + 1 :]
            elif op in ("duplicate", "swap"):
                lines = text.splitlines(keepends=True) or [""]
                i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
                if op == "duplicate":
                    lines.insert(i, lines[j])
                else:
                    lines[i], lines[j] = lines[j], lines[i]
                text = "".join(lines)
            else:
                text = text[:at]
        return text

    # machine-written code: an expression nested or chained deeper than Python's parser goes
    deep_task = st.builds(
        lambda n, op, where: where.replace("EXPR", op[0] * n + "1" + op[1] * n),
        st.integers(1, 120_000),
        st.sampled_from((("-", ""), ("1+", ""), ("not ", ""), ("(", ")"), ("[", "]"), ("f(", ")"), ("x.", ""))),
        st.sampled_from(
            ("x = EXPR\ndef start():\n    pass\n", "@repeat(every(EXPR).minutes)\ndef start():\n    pass\n")
        ),
    )

    # YAML whose aliases repeat aliases ("billion laughs"): tiny text, a huge value once expanded
    def laughs(width: int, depth: int, key: str) -> str:
        names = [f"l{i}" for i in range(depth + 1)]
        lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
        lines += [f"{n}: &{n} [{', '.join(['*' + p] * width)}]" for p, n in itertools.pairwise(names)]
        return "\n".join(lines) + f"\n{key}: *{names[-1]}\n"

    # at most 10**6 values: enough to show a blow-up, small enough that finding it cannot hang the suite
    bomb = st.builds(laughs, st.integers(2, 10), st.integers(1, 5), st.sampled_from(("title", "dependencies", "x")))
    bomb_task = bomb.map(lambda y: f'"""\n---\n{y}---\n"""\ndef start():\n    pass\n')
    bomb_config = st.builds(
        lambda width, depth, where: (
            f"{where[0]}:\n" + "".join(f"  {line}\n" for line in laughs(width, depth, where[1]).splitlines())
        ),
        st.integers(2, 10),
        st.integers(1, 5),
        st.sampled_from(
            (("scheduler", "timezone"), ("virtual_env", "find_links"), ("notify", "on_failure"), ("extra", "x"))
        ),
    )
    config_keys: dict[str, list[str]] = {}
    from autohub_cli import config as config_module

    if not config_module._FIELDS:
        config_module._register()
    for key in config_module._FIELDS:
        section, name = key.split(".", 1)
        config_keys.setdefault(section, []).append(name)
    config_keys.setdefault("notify", [])
    config_data = st.dictionaries(
        st.one_of(st.sampled_from(sorted(config_keys)), st.text(max_size=10)),
        st.one_of(
            value,
            st.dictionaries(
                st.one_of(
                    st.sampled_from(sorted({n for names in config_keys.values() for n in names})), st.text(max_size=8)
                ),
                value,
                max_size=5,
            ),
        ),
        max_size=5,
    )
    config_text = st.one_of(
        st.binary(max_size=200),
        bomb_config.map(str.encode),
        config_data.map(lambda d: _yaml_or_repr(d).encode("utf-8", "surrogatepass")),
        st.sampled_from(
            (
                b"",
                b"\xff\xfe",
                b"scheduler: [",
                b"- a\n- b\n",
                b"scheduler:\n  timezone: Europe\n",
                b"\x00",
                b"a: &a [*a]\n",
                b"scheduler: !!python/object:os.system {}\n",
                b"!!binary AAAA\n",
                "é: ü\n".encode("latin-1"),
            )
        ),
    )
    return {
        "chain": chain,
        "cron": cron_text,
        "task_text": st.one_of(st.text(max_size=300), mutated_task(), task_from_parts(), deep_task, bomb_task),
        "task_bytes": st.binary(max_size=200),
        "config_data": config_data,
        "config_bytes": config_text,
    }


def _yaml_or_repr(data: Any) -> str:
    import yaml

    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return repr(data)


def check_task_text(text: str, name: str = "fuzzed") -> str:
    """parse_file on any text: a spec, or an error that starts with the file's path and says more."""
    from autohub_cli.catalog import _decode, _encode
    from autohub_cli.taskfile import TaskError, TaskSpec, parse_file

    path = FUZZ_ROOT / "tasks" / f"{name}.py"
    with alarm(30, f"parse_file of {len(text)} characters"):
        result = parse_file(path, text)
    assert isinstance(result, (TaskSpec, TaskError)), result
    if isinstance(result, TaskError):
        assert result.message.startswith(str(path)), result.message
        assert len(result.message) > len(str(path)) + 5, result.message
        assert short_enough(result.message, text), f"a message of {len(result.message):,} characters"
    assert _decode(_encode(result)) == result, "the parse cache does not give the same result back"
    return "error" if isinstance(result, TaskError) else "spec"


def check_task_bytes(data: bytes, folder: Path) -> str:
    """parse_file on a file of any bytes (not UTF-8 included)."""
    from autohub_cli.taskfile import TaskError, TaskSpec, parse_file

    path = folder / "tasks" / "raw.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    result = parse_file(path)
    assert isinstance(result, (TaskSpec, TaskError))
    if isinstance(result, TaskError):
        assert result.message.startswith(str(path)), result.message
    return "error" if isinstance(result, TaskError) else "spec"


def _check_schedule(schedule: Any) -> None:
    start = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a DST change in Europe
    with alarm(20, f"next_after of {schedule.text}"):
        t = start
        for _ in range(3):
            nxt = schedule.next_after(t)
            assert nxt > t and nxt.tzinfo is not None, (schedule.text, t, nxt)
            t = nxt
    assert isinstance(schedule.key, str) and isinstance(schedule.describe(), str)


def check_chain(chain: Any) -> str:
    """compile_chain on any chain: a schedule whose slots move forward, or a ScheduleError that shows the expression."""
    from autohub_cli.schedule import ScheduleError, compile_chain

    try:
        schedule = compile_chain(chain, UTC)
    except ScheduleError as exc:
        assert str(exc).strip(), "an empty error message"
        return "error"
    _check_schedule(schedule)
    return "schedule"


def check_cron(text: str) -> str:
    from autohub_cli.schedule import ScheduleError, compile_cron

    try:
        schedule = compile_cron(text, UTC)
    except ScheduleError as exc:
        assert str(exc).strip(), "an empty error message"
        return "error"
    _check_schedule(schedule)
    return "schedule"


def check_config_data(data: Any) -> str:
    """parse_settings on any mapping: settings, or a ConfigError naming the file, the key and what was expected."""
    from autohub_cli.config import ConfigError, Settings, parse_settings

    try:
        settings = parse_settings(data, root=FUZZ_ROOT, config_file=FUZZ_CONFIG)
    except ConfigError as exc:
        assert str(exc).startswith(str(FUZZ_CONFIG)), str(exc)
        assert "expected" in str(exc), str(exc)
        assert short_enough(str(exc), repr(data)), f"a message of {len(str(exc)):,} characters"
        return "error"
    assert isinstance(settings, Settings)
    assert all(w.startswith(str(FUZZ_CONFIG)) for w in settings.warnings), settings.warnings
    return "settings"


def check_config_bytes(data: bytes, folder: Path) -> str:
    """load_settings on a config file of any bytes, with and without the config cache."""
    from autohub_cli.config import ConfigError, Settings, load_settings

    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(exist_ok=True)
    path = folder / "config" / "config.yaml"
    path.write_bytes(data)
    (folder / "state" / ".config-cache.json").unlink(missing_ok=True)  # a new file, not an edit of the last
    outcome = set()
    for cached in (False, True, True):  # the second cached load reads the cache the first wrote
        try:
            with alarm(30, f"load_settings of {len(data)} bytes"):
                settings = load_settings(str(folder), cached=cached)
        except ConfigError as exc:
            assert str(path) in str(exc), str(exc)
            assert short_enough(str(exc), data), f"a message of {len(str(exc)):,} characters"
            outcome.add("error")
        else:
            assert isinstance(settings, Settings)
            outcome.add("settings")
    assert len(outcome) == 1, f"the config cache changed the answer: {outcome}"
    return outcome.pop()
