"""The state database: schema, exactly-once claims, and clear failures (SPEC §6)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest

from autohub_cli.procs import current_owner
from autohub_cli.store import SCHEMA_VERSION, SQLiteStore, StoreError

UTC = timezone.utc
SLOT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_new_database_is_wal_with_the_current_schema(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    assert store.schema_version() == SCHEMA_VERSION
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    store.close()


def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this autohub knows"):
        SQLiteStore(path)


def test_each_slot_is_claimed_once(tmp_path):
    store = SQLiteStore(tmp_path / "s.db")
    owner = current_owner()
    first = store.insert_run("t", SLOT, 1, "schedule", "running", owner=owner, now=SLOT)
    again = store.insert_run("t", SLOT, 1, "schedule", "running", owner=owner, now=SLOT)
    skip = store.insert_run("t", SLOT, 1, "overdue", "skipped", reason="x", now=SLOT)
    retry = store.insert_run("t", SLOT, 2, "retry", "pending", not_before=SLOT)
    manual = [store.insert_run("t", SLOT, 1, "manual", "running", owner=owner, now=SLOT) for _ in range(2)]
    assert first is not None and again is None and skip is None and retry is not None
    assert None not in manual and manual[0] != manual[1]  # manual runs never take a slot
    assert store.claim_pending(retry, owner, SLOT, None) is True
    assert store.claim_pending(retry, owner, SLOT, None) is False
    store.close()


def test_a_corrupt_database_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database, it is a user's precious file" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        SQLiteStore(path)
    assert "corrupt" in str(info.value) and "state/backups" in str(info.value)
    assert path.read_bytes() == before


def test_a_locked_database_gives_a_clear_error(tmp_path, monkeypatch):
    import autohub_cli.store as store_module

    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sqlite3, time; db = sqlite3.connect({str(path)!r}, isolation_level=None);"
            "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)
        started = time.monotonic()
        with pytest.raises(StoreError, match="locked by another process"):
            store = SQLiteStore(path)
            with store.transaction():
                pass
        assert time.monotonic() - started < 20
    finally:
        holder.kill()
        holder.wait()
    store = SQLiteStore(path)  # and once the other process is gone, all is well
    with store.transaction():
        pass
    store.close()


def test_tick_and_history_on_a_corrupt_database_exit_3_without_traceback(project):
    project.task("t")
    project.db.write_bytes(b"garbage" * 1000)
    for args in (("tick",), ("history",)):
        proc = project.cli(*args)
        assert proc.returncode == 3
        assert "corrupt" in proc.stderr and "Traceback" not in proc.stderr
    assert project.db.read_bytes() == b"garbage" * 1000


def test_backups_are_taken_kept_and_restored(project):
    project.config("scheduler:\n  timezone: UTC\ndatabase:\n  backup_interval: 3600\n  backup_keep: 2\n")
    project.task("t")
    for hour in ("10", "11", "12"):
        project.tick(f"2026-11-27T{hour}:00:30Z")
        project.tick(f"2026-11-27T{hour}:01:05Z")  # not another backup within the hour
    backups = sorted((project.root / "state" / "backups").glob("*.db"))
    assert [b.name for b in backups] == ["autohub-20261127-110030.db", "autohub-20261127-120030.db"]
    runs_before = len(project.history())
    project.db.write_bytes(b"corrupted by a power cut" * 100)
    assert project.cli("history").returncode == 3
    proc = project.cli("restore", check=True)
    assert "autohub-20261127-120030.db" in proc.stdout
    kept = list((project.root / "state").glob("autohub.db.replaced-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"corrupted by a power cut" * 100
    restored = project.history()
    assert 0 < len(restored) <= runs_before
    assert project.query("PRAGMA integrity_check") == [("ok",)]
    project.tick("2026-11-27T12:05:05Z")  # and the scheduler carries on


def test_a_version_1_database_is_migrated_forward_keeping_its_data(tmp_path):
    import autohub_cli.store as store_module

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for statement in store_module._statements(store_module._MIGRATIONS[0]):
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO ticks (started_at, host, pid, boot_id, monotonic)"
        " VALUES ('2026-11-27T10:00:00.000000+00:00', 'h', 1, 'b', 1.0)"
    )
    db.commit()
    db.close()
    store = SQLiteStore(path)
    assert store.schema_version() == SCHEMA_VERSION == 2
    (tick,) = store.last_ticks(1)
    assert tick.host == "h" and tick.boottime is None
    store.close()
