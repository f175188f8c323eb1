"""Backups (issue 6, part 4), beyond tests/test_store.py's taken-kept-restored: a damaged backup is
never restored over a working database, and a backup taken while other processes write is whole.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

from faults import integrity, ledger_task, tick, write_config

from autohub_cli.store import SQLiteStore, list_backups

UTC = timezone.utc


def test_restore_refuses_a_damaged_backup_and_changes_nothing(project):
    write_config(project.root, "scheduler:\n  timezone: UTC\ndatabase:\n  backup_interval: 60\n")
    ledger_task(project.root, "t")
    for now in ("2026-11-27T10:00:30Z", "2026-11-27T10:01:05Z"):
        assert tick(project.root, now).returncode == 0
    (newest,) = list_backups(project.root / "state" / "backups")
    newest.write_bytes(newest.read_bytes()[:3000])  # cut short, as by a full disk or a copy interrupted
    before = project.db.read_bytes()
    proc = project.cli("restore")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert str(newest) in proc.stderr and "not a usable backup" in proc.stderr and "Traceback" not in proc.stderr
    assert project.db.read_bytes() == before
    assert not list((project.root / "state").glob("*.replaced-*"))
    assert integrity(project.root) == "ok"


def test_a_backup_taken_while_others_write_is_whole(tmp_path):
    path = tmp_path / "state" / "autohub.db"
    store = SQLiteStore(path)
    store.close()
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"db = sqlite3.connect({str(path)!r}, isolation_level=None, timeout=60)\n"
            "print('writing', flush=True)\n"
            "for i in range(3000):\n"
            "    db.execute('BEGIN IMMEDIATE')\n"
            '    db.execute("INSERT INTO runs (task, slot, trigger, status, output_tail)"\n'
            "               \" VALUES (?, ?, 'schedule', 'success', ?)\",\n"
            "               (f't{i % 7}', f'2026-11-27T{i:06d}', 'x' * 500))\n"
            "    db.execute('COMMIT')\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "writing"
        store = SQLiteStore(path)
        copies = [store.backup(tmp_path / "backups", 10, datetime(2026, 11, 27, 10, i, tzinfo=UTC)) for i in range(5)]
        store.close()
    finally:
        writer.wait(timeout=300)
    assert writer.returncode == 0
    counts = []
    for copy in copies:
        db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            counts.append(db.execute("SELECT count(*) FROM runs").fetchone()[0])
        finally:
            db.close()
    assert counts == sorted(counts)  # each a consistent moment, in order
    assert not list((tmp_path / "backups").glob("*.partial"))
