"""The state database: tasks, runs and ticks, behind one small interface (`Store`).

SQLite in WAL mode with a busy timeout by default. Exactly-once is the database's job: a run or a
skip is a row keyed by (task, slot, attempt) under a unique index, inserted inside one
`BEGIN IMMEDIATE` transaction, so of any number of racing ticks exactly one inserts it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from .procs import Owner

UTC = timezone.utc
BUSY_TIMEOUT_MS = 15_000
LEASE = timedelta(seconds=120)  # how long a run is presumed alive without a heartbeat (other hosts)
OPEN = ("running", "pending")
FAILED = ("failed", "timeout", "killed", "crashed")


class StoreError(Exception):
    """The state database cannot be used; the message says why and what to do."""


def ts(dt: datetime | None) -> str | None:
    """Fixed-width UTC text, so that string order is time order."""
    return None if dt is None else dt.astimezone(UTC).isoformat(timespec="microseconds")


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 with its offset, for JSON output."""
    return None if dt is None else dt.isoformat()


def from_ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class TaskRow:
    name: str
    title: str
    schedule_key: str | None
    enabled: bool
    paused: bool
    cursor: datetime | None
    next_slot: datetime | None
    seen_at: datetime
    removed_at: datetime | None
    error: str | None


@dataclass(frozen=True)
class Run:
    id: int
    task: str
    slot: datetime
    attempt: int
    trigger: str
    status: str
    reason: str | None
    not_before: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    exit_code: int | None
    host: str | None
    pid: int | None
    owner: Owner | None
    lease_until: datetime | None
    output_tail: str | None

    def to_json(self) -> dict[str, Any]:

        return {
            "id": self.id,
            "task": self.task,
            "slot": iso(self.slot),
            "trigger": self.trigger,
            "attempt": self.attempt,
            "status": self.status,
            "reason": self.reason,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration": self.duration,
            "exit_code": self.exit_code,
            "host": self.host,
            "pid": self.pid,
            "not_before": iso(self.not_before),
        }


@dataclass(frozen=True)
class Outcome:
    status: str  # success | failed | timeout | killed | crashed
    reason: str | None
    exit_code: int | None
    started_at: datetime
    finished_at: datetime
    output_tail: str


@dataclass(frozen=True)
class TickRow:
    id: int
    started_at: datetime
    finished_at: datetime | None
    host: str
    pid: int
    boot_id: str
    monotonic: float
    boottime: float | None
    due: int
    ran: int
    skipped: int
    failed: int
    error: str | None


class Store(Protocol):
    """What the rest of autohub needs from a state database (SQLite now, PostgreSQL later)."""

    def transaction(self) -> Any: ...
    def tasks(self) -> dict[str, TaskRow]: ...
    def save_task(self, row: TaskRow) -> None: ...
    def open_runs(self) -> list[Run]: ...
    def insert_run(
        self, task: str, slot: datetime, attempt: int, trigger: str, status: str, **extra: Any
    ) -> int | None: ...
    def finish_run(self, run_id: int, outcome: Outcome) -> None: ...
    def history(self, task: str | None, limit: int) -> list[Run]: ...


_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE tasks (
        name TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        schedule_key TEXT,
        enabled INTEGER NOT NULL DEFAULT 1,
        paused INTEGER NOT NULL DEFAULT 0,
        cursor TEXT,
        next_slot TEXT,
        seen_at TEXT NOT NULL,
        removed_at TEXT,
        error TEXT
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        task TEXT NOT NULL,
        slot TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT,
        not_before TEXT,
        started_at TEXT,
        finished_at TEXT,
        duration REAL,
        exit_code INTEGER,
        host TEXT,
        pid INTEGER,
        owner_pid INTEGER,
        owner_start REAL,
        boot_id TEXT,
        lease_until TEXT,
        tick_id INTEGER,
        output_tail TEXT
    );
    CREATE UNIQUE INDEX runs_claim ON runs(task, slot, attempt) WHERE trigger != 'manual';
    CREATE INDEX runs_by_task ON runs(task, id);
    CREATE INDEX runs_open ON runs(status) WHERE status IN ('running', 'pending');
    CREATE TABLE ticks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        boot_id TEXT NOT NULL,
        monotonic REAL NOT NULL,
        due INTEGER NOT NULL DEFAULT 0,
        ran INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        error TEXT
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE parse_cache (
        path TEXT PRIMARY KEY,
        mtime_ns INTEGER NOT NULL,
        size INTEGER NOT NULL,
        result TEXT NOT NULL
    );
    """,
    # 2: CLOCK_BOOTTIME at each tick, so that `status` tells a suspend from a clock stepped forward
    """
    ALTER TABLE ticks ADD COLUMN boottime REAL
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)


def describe_sqlite_error(path: Path, exc: sqlite3.Error, busy_ms: int | None = None) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        waited = (BUSY_TIMEOUT_MS if busy_ms is None else busy_ms) / 1000
        return (
            f"{path}: the state database is locked by another process (waited {waited:g} s); "
            "try again, or find the process holding it with `fuser` / `lsof`"
        )
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (
            f"{path}: the state database is corrupt ({text}); nothing was changed. Move it aside and restore "
            "the newest copy from state/backups/ (`autohub doctor` names it)"
        )
    if "full" in text or ("disk I/O error" in text and _nearly_full(path)):  # a full tmpfs says "I/O error"
        return f"{path}: the disk is full ({text}); nothing was written. Free some space and the next tick recovers"
    if "readonly" in text or "unable to open" in text:
        return f"{path}: cannot write the state database ({text}); check the permissions of the file and its folder"
    return f"{path}: state database error: {text}"


def _nearly_full(path: Path) -> bool:
    import shutil

    try:
        return shutil.disk_usage(path.parent).free < 1024 * 1024
    except OSError:
        return False


class SQLiteStore:
    def __init__(self, path: Path, busy_timeout_ms: int | None = None) -> None:
        self.path = path
        self.busy_ms = BUSY_TIMEOUT_MS if busy_timeout_ms is None else busy_timeout_ms
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=self.busy_ms / 1000, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: cannot open the state database: {exc}") from None
        self.db.row_factory = sqlite3.Row
        self.lock = threading.RLock()  # the tick's threads share this connection, one statement at a time
        with self._guard():
            self.db.execute(f"PRAGMA busy_timeout = {int(self.busy_ms)}")
            if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()

    # --- plumbing -------------------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            with self.lock:
                yield
        except sqlite3.Error as exc:
            raise StoreError(describe_sqlite_error(self.path, exc, self.busy_ms)) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One writer at a time (BEGIN IMMEDIATE): what is read inside is what is written against."""
        with self._guard():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: the state database has schema version {version}, newer than this autohub "
                f"knows ({SCHEMA_VERSION}); upgrade autohub (pip install -U autohub) instead of downgrading"
            )
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(_MIGRATIONS[number]):
                    self.db.execute(statement)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def schema_version(self) -> int:
        with self._guard():
            return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> str:
        with self._guard():
            return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # --- tasks ----------------------------------------------------------------------------

    def tasks(self) -> dict[str, TaskRow]:
        with self._guard():
            rows = self.db.execute("SELECT * FROM tasks").fetchall()
        return {r["name"]: _task_row(r) for r in rows}

    def save_task(self, row: TaskRow) -> None:
        with self._guard():
            self.db.execute(
                "INSERT INTO tasks (name, title, schedule_key, enabled, paused, cursor, next_slot, seen_at,"
                " removed_at, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET title = excluded.title, schedule_key = excluded.schedule_key,"
                " enabled = excluded.enabled, paused = excluded.paused, cursor = excluded.cursor,"
                " next_slot = excluded.next_slot, seen_at = excluded.seen_at, removed_at = excluded.removed_at,"
                " error = excluded.error",
                (
                    row.name,
                    row.title,
                    row.schedule_key,
                    int(row.enabled),
                    int(row.paused),
                    ts(row.cursor),
                    ts(row.next_slot),
                    ts(row.seen_at),
                    ts(row.removed_at),
                    row.error,
                ),
            )

    def set_paused(self, names: list[str], paused: bool) -> int:
        with self._guard():
            marks = ",".join("?" * len(names))
            sql = f"UPDATE tasks SET paused = ? WHERE name IN ({marks})"  # noqa: S608 - only placeholders
            cur = self.db.execute(sql, (int(paused), *names))
            return cur.rowcount

    # --- runs -----------------------------------------------------------------------------

    def insert_run(
        self,
        task: str,
        slot: datetime,
        attempt: int,
        trigger: str,
        status: str,
        *,
        reason: str | None = None,
        owner: Owner | None = None,
        not_before: datetime | None = None,
        tick_id: int | None = None,
        now: datetime | None = None,
    ) -> int | None:
        """Insert a run (or a skip) unless its (task, slot, attempt) exists: returns its id, or None."""
        with self._guard():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO runs (task, slot, attempt, trigger, status, reason, not_before, host,"
                " owner_pid, owner_start, boot_id, lease_until, tick_id, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    task,
                    ts(slot),
                    attempt,
                    trigger,
                    status,
                    reason,
                    ts(not_before),
                    owner.host if owner else None,
                    owner.pid if owner else None,
                    owner.start if owner else None,
                    owner.boot_id if owner else None,
                    ts(now + LEASE) if owner and now else None,
                    tick_id,
                    ts(now) if status == "skipped" else None,
                ),
            )
            return cur.lastrowid if cur.rowcount == 1 else None

    def claim_pending(self, run_id: int, owner: Owner, now: datetime, tick_id: int | None) -> bool:
        """Take a pending retry for this owner; False when another tick took it first."""
        with self._guard():
            cur = self.db.execute(
                "UPDATE runs SET status = 'running', host = ?, owner_pid = ?, owner_start = ?, boot_id = ?,"
                " lease_until = ?, tick_id = ? WHERE id = ? AND status = 'pending'",
                (owner.host, owner.pid, owner.start, owner.boot_id, ts(now + LEASE), tick_id, run_id),
            )
            return cur.rowcount == 1

    def mark_started(self, run_id: int, pid: int, started_at: datetime) -> None:
        with self._guard():
            self.db.execute("UPDATE runs SET pid = ?, started_at = ? WHERE id = ?", (pid, ts(started_at), run_id))

    def heartbeat(self, run_ids: list[int], now: datetime) -> None:
        if not run_ids:
            return
        with self._guard():
            marks = ",".join("?" * len(run_ids))
            self.db.execute(
                f"UPDATE runs SET lease_until = ? WHERE status = 'running' AND id IN ({marks})",  # noqa: S608
                (ts(now + LEASE), *run_ids),
            )

    def finish_run(self, run_id: int, outcome: Outcome) -> None:
        duration = (outcome.finished_at - outcome.started_at).total_seconds()
        with self._guard():
            self.db.execute(
                "UPDATE runs SET status = ?, reason = ?, exit_code = ?, started_at = coalesce(started_at, ?),"
                " finished_at = ?, duration = ?, output_tail = ?, lease_until = NULL WHERE id = ?",
                (
                    outcome.status,
                    outcome.reason,
                    outcome.exit_code,
                    ts(outcome.started_at),
                    ts(outcome.finished_at),
                    round(duration, 3),
                    outcome.output_tail,
                    run_id,
                ),
            )

    def abandon(self, run_id: int, reason: str, now: datetime) -> None:
        with self._guard():
            self.db.execute(
                "UPDATE runs SET status = 'abandoned', reason = ?, finished_at = ?, lease_until = NULL"
                " WHERE id = ? AND status = 'running'",
                (reason, ts(now), run_id),
            )

    def open_runs(self) -> list[Run]:
        with self._guard():
            rows = self.db.execute("SELECT * FROM runs WHERE status IN ('running', 'pending') ORDER BY id").fetchall()
        return [_run(r) for r in rows]

    def run(self, run_id: int) -> Run | None:
        with self._guard():
            row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return _run(row) if row else None

    def history(self, task: str | None = None, limit: int = 20, *, include_skipped: bool = True) -> list[Run]:
        where, args = [], []
        if task:
            where.append("task = ?")
            args.append(task)
        if not include_skipped:
            where.append("status != 'skipped'")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._guard():
            sql = f"SELECT * FROM runs {clause} ORDER BY id DESC LIMIT ?"  # noqa: S608 - fixed clauses, values bound
            rows = self.db.execute(sql, (*args, limit)).fetchall()
        return [_run(r) for r in rows]

    def runs_between(self, task: str, start: datetime, end: datetime) -> list[Run]:
        with self._guard():
            rows = self.db.execute(
                "SELECT * FROM runs WHERE task = ? AND slot >= ? AND slot <= ? ORDER BY slot, attempt",
                (task, ts(start), ts(end)),
            ).fetchall()
        return [_run(r) for r in rows]

    def prune(self, before: datetime) -> int:
        with self._guard():
            cur = self.db.execute(
                "DELETE FROM runs WHERE finished_at < ? AND status NOT IN ('running', 'pending')", (ts(before),)
            )
            self.db.execute("DELETE FROM ticks WHERE started_at < ?", (ts(before),))
            return cur.rowcount

    # --- ticks ----------------------------------------------------------------------------

    def start_tick(self, owner: Owner, started_at: datetime, monotonic: float, boottime: float | None = None) -> int:
        with self._guard():
            cur = self.db.execute(
                "INSERT INTO ticks (started_at, host, pid, boot_id, monotonic, boottime) VALUES (?, ?, ?, ?, ?, ?)",
                (ts(started_at), owner.host, owner.pid, owner.boot_id, monotonic, boottime),
            )
            return int(cur.lastrowid or 0)

    def finish_tick(self, tick_id: int, finished_at: datetime, counts: dict[str, int], error: str | None) -> None:
        with self._guard():
            self.db.execute(
                "UPDATE ticks SET finished_at = ?, due = ?, ran = ?, skipped = ?, failed = ?, error = ? WHERE id = ?",
                (
                    ts(finished_at),
                    counts.get("due", 0),
                    counts.get("ran", 0),
                    counts.get("skipped", 0),
                    counts.get("failed", 0),
                    error,
                    tick_id,
                ),
            )

    def last_ticks(self, limit: int = 2) -> list[TickRow]:
        with self._guard():
            rows = self.db.execute("SELECT * FROM ticks ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [
            TickRow(
                r["id"],
                from_ts(r["started_at"]),  # type: ignore[arg-type]
                from_ts(r["finished_at"]),
                r["host"],
                r["pid"],
                r["boot_id"],
                r["monotonic"],
                r["boottime"],
                r["due"],
                r["ran"],
                r["skipped"],
                r["failed"],
                r["error"],
            )
            for r in rows
        ]

    def quiet_facts(self) -> tuple[str | None, str | None, int, int, datetime | None]:
        """(catalog fingerprint, zone, open runs, invalid tasks, earliest next slot) in one query."""
        with self._guard():
            row = self.db.execute(
                "SELECT (SELECT value FROM meta WHERE key = 'catalog'), (SELECT value FROM meta WHERE key = 'zone'),"
                " (SELECT count(*) FROM runs WHERE status IN ('running', 'pending')),"
                " (SELECT count(*) FROM tasks WHERE error IS NOT NULL AND removed_at IS NULL),"
                " (SELECT min(next_slot) FROM tasks WHERE removed_at IS NULL)"
            ).fetchone()
        return row[0], row[1], row[2], row[3], from_ts(row[4])

    # --- backups ------------------------------------------------------------------------

    def backup(self, folder: Path, keep: int, now: datetime) -> Path:
        """An online, consistent copy (SQLite's backup API) into `folder`; the oldest beyond `keep` go."""
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{self.path.stem}-{now.astimezone(UTC):%Y%m%d-%H%M%S}.db"
        partial = target.with_suffix(".db.partial")
        try:
            with self._guard():
                copy = sqlite3.connect(partial)
                try:
                    self.db.backup(copy)
                finally:
                    copy.close()
            partial.replace(target)  # a backup is either whole or absent
        finally:
            partial.unlink(missing_ok=True)
        for old in list_backups(folder)[keep:]:
            old.unlink(missing_ok=True)
        return target

    # --- small facts: the zone schedules were planned in, the last backup ------------------

    def meta(self, key: str) -> str | None:
        with self._guard():
            row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._guard():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- the parse cache ------------------------------------------------------------------

    def parse_cache(self) -> dict[str, tuple[int, int, str]]:
        with self._guard():
            rows = self.db.execute("SELECT path, mtime_ns, size, result FROM parse_cache").fetchall()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def save_parse_cache(self, entries: dict[str, tuple[int, int, str]], gone: list[str]) -> None:
        with self._guard():
            self.db.executemany(
                "INSERT OR REPLACE INTO parse_cache (path, mtime_ns, size, result) VALUES (?, ?, ?, ?)",
                [(p, m, s, r) for p, (m, s, r) in entries.items()],
            )
            self.db.executemany("DELETE FROM parse_cache WHERE path = ?", [(p,) for p in gone])

    # --- operator queries (status, explain, reset) ---

    def task_row(self, name: str) -> TaskRow | None:
        with self._guard():
            row = self.db.execute("SELECT * FROM tasks WHERE name = ?", (name,)).fetchone()
        return _task_row(row) if row else None

    def last_runs(self) -> dict[str, Run]:
        """Each task's newest run that started (not a skipped slot, not a pending retry)."""
        with self._guard():
            rows = self.db.execute(
                "SELECT * FROM runs WHERE id IN (SELECT max(id) FROM runs"
                " WHERE status NOT IN ('skipped', 'pending') GROUP BY task)"
            ).fetchall()
        return {r["task"]: _run(r) for r in rows}

    def newest_run(self, task: str) -> Run | None:
        with self._guard():
            row = self.db.execute(
                "SELECT * FROM runs WHERE task = ? AND status NOT IN ('skipped', 'pending') ORDER BY id DESC LIMIT 1",
                (task,),
            ).fetchone()
        return _run(row) if row else None

    def failure_streak(self, task: str, limit: int = 1000) -> int:
        """How many of the task's newest finished runs failed in a row (retries count as runs)."""
        with self._guard():
            rows = self.db.execute(
                "SELECT status FROM runs WHERE task = ? AND status NOT IN ('skipped', 'pending', 'running')"
                " ORDER BY id DESC LIMIT ?",
                (task, limit),
            ).fetchall()
        streak = 0
        for r in rows:
            if r[0] == "success":
                break
            streak += 1
        return streak

    def skips_before(self, task: str, slot: datetime, limit: int = 1) -> list[Run]:
        """The task's newest skipped rows whose slot is at or before `slot` (for overdue summaries)."""
        with self._guard():
            rows = self.db.execute(
                "SELECT * FROM runs WHERE task = ? AND status = 'skipped' AND slot <= ? ORDER BY slot DESC LIMIT ?",
                (task, ts(slot), limit),
            ).fetchall()
        return [_run(r) for r in rows]

    def ensure_task_row(self, name: str, title: str, now: datetime) -> bool:
        """A row for a task no tick has seen yet, so it can be paused; the next tick plans it as first seen."""
        with self._guard():
            cur = self.db.execute(
                "INSERT OR IGNORE INTO tasks (name, title, schedule_key, enabled, paused, cursor, next_slot, seen_at)"
                " VALUES (?, ?, NULL, 1, 0, NULL, ?, ?)",
                (name, title, ts(now), ts(now)),
            )
            return cur.rowcount == 1

    def set_cursor(self, name: str, cursor: datetime, next_slot: datetime | None) -> None:
        """`autohub reset`: the last handled slot moves to `cursor`; nothing else about the task changes."""
        with self._guard():
            self.db.execute(
                "UPDATE tasks SET cursor = ?, next_slot = ? WHERE name = ?", (ts(cursor), ts(next_slot), name)
            )

    def probe_write(self) -> None:
        """Prove the database accepts a write (file and folder permissions, disk), then undo it."""
        with self._guard():
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", ("doctor_probe", "1"))
            finally:
                self.db.execute("ROLLBACK")

    # --- monitoring queries ---

    def final_runs(self, task: str, limit: int = 1000) -> list[Run]:
        """The task's newest `limit` finished runs that ended their slot, newest claim first.

        A failed attempt that a retry followed did not end its slot and is left out, as are skipped
        slots and abandoned runs: what is left is the history that failure streaks are counted on.
        """
        with self._guard():
            rows = self.db.execute(
                "SELECT * FROM runs r WHERE r.task = ?"
                " AND r.status IN ('success', 'failed', 'timeout', 'killed', 'crashed')"
                " AND NOT EXISTS (SELECT 1 FROM runs n WHERE n.task = r.task AND n.slot = r.slot"
                " AND n.attempt > r.attempt AND n.trigger != 'manual' AND n.status != 'skipped')"
                " ORDER BY r.id DESC LIMIT ?",
                (task, limit),
            ).fetchall()
        return [_run(r) for r in rows]

    def run_counts(self) -> dict[str, dict[str, int]]:
        """task -> status -> how many rows the kept history holds."""
        with self._guard():
            rows = self.db.execute("SELECT task, status, count(*) FROM runs GROUP BY task, status").fetchall()
        out: dict[str, dict[str, int]] = {}
        for task, status, n in rows:
            out.setdefault(task, {})[status] = n
        return out

    def last_finished(self, status: str | None = None) -> dict[str, Run]:
        """Each task's newest finished run (that started: not a skipped slot), or newest with `status`."""
        where = "status = ?" if status else "status NOT IN ('skipped', 'pending', 'running')"
        with self._guard():
            sql = (
                "SELECT * FROM runs WHERE id IN (SELECT max(id) FROM runs"  # noqa: S608 - fixed clauses
                f" WHERE {where} AND finished_at IS NOT NULL GROUP BY task)"
            )
            rows = self.db.execute(sql, (status,) if status else ()).fetchall()
        return {r["task"]: _run(r) for r in rows}


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _task_row(r: sqlite3.Row) -> TaskRow:
    return TaskRow(
        name=r["name"],
        title=r["title"],
        schedule_key=r["schedule_key"],
        enabled=bool(r["enabled"]),
        paused=bool(r["paused"]),
        cursor=from_ts(r["cursor"]),
        next_slot=from_ts(r["next_slot"]),
        seen_at=from_ts(r["seen_at"]),  # type: ignore[arg-type]
        removed_at=from_ts(r["removed_at"]),
        error=r["error"],
    )


def _run(r: sqlite3.Row) -> Run:
    owner = None
    if r["owner_pid"] is not None:
        owner = Owner(r["host"], r["owner_pid"], r["owner_start"], r["boot_id"])
    return Run(
        id=r["id"],
        task=r["task"],
        slot=from_ts(r["slot"]),  # type: ignore[arg-type]
        attempt=r["attempt"],
        trigger=r["trigger"],
        status=r["status"],
        reason=r["reason"],
        not_before=from_ts(r["not_before"]),
        started_at=from_ts(r["started_at"]),
        finished_at=from_ts(r["finished_at"]),
        duration=r["duration"],
        exit_code=r["exit_code"],
        host=r["host"],
        pid=r["pid"],
        owner=owner,
        lease_until=from_ts(r["lease_until"]),
        output_tail=r["output_tail"],
    )


def list_backups(folder: Path) -> list[Path]:
    """Backups in `folder`, newest first."""
    return sorted(folder.glob("*.db"), key=lambda p: p.name, reverse=True) if folder.is_dir() else []


def backups_dir(settings: Any) -> Path:
    return Path(settings.state_path).parent / "backups"


def restore_backup(backup: Path, target: Path, now: datetime) -> Path | None:
    """Put `backup` in place of the state database; the file it replaces is kept beside it, renamed."""
    check = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        result = check.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.Error as exc:
        raise StoreError(f"{backup}: not a usable backup ({exc})") from None
    finally:
        check.close()
    if result != "ok":
        raise StoreError(f"{backup}: not a usable backup (integrity check: {result})")
    kept = None
    if target.exists():
        kept = target.with_name(f"{target.name}.replaced-{now.astimezone(UTC):%Y%m%d-%H%M%S}")
        target.replace(kept)
    for suffix in ("-wal", "-shm"):  # the old database's journal must not be applied to the restored one
        side = target.with_name(target.name + suffix)
        if side.exists():
            side.replace(side.with_name(f"{side.name}.replaced-{now.astimezone(UTC):%Y%m%d-%H%M%S}"))
    tmp = target.with_name(target.name + ".restoring")
    tmp.write_bytes(backup.read_bytes())
    tmp.replace(target)
    return kept


def open_store(settings: Any) -> SQLiteStore:
    if settings.state.url:
        raise StoreError(
            f"{settings.config_file}: state.url: only the built-in SQLite state is available in this version; "
            "remove state.url to use state.path"
        )
    return SQLiteStore(settings.state_path, getattr(settings.state, "busy_timeout_ms", None))
