"""Races (issue 6, part 2): many ticks at once, on one project, never lose or double a slot.

10 ticks racing x 5 consecutive minutes x 50 tasks; two cron lines for the same project; the next
minute's ticks starting while the last minute's runs are still running. Every (task, slot) ends
with exactly one row, and the ledger each task writes shows it executed at most once.
"""

from __future__ import annotations

import time

import pytest
from faults import (
    audit,
    clean_stderr,
    finish,
    integrity,
    ledger,
    ledger_task,
    minutes,
    query,
    spawn_tick,
    tick,
    write_config,
)

pytestmark = pytest.mark.slow

CONFIG = "scheduler:\n  timezone: UTC\n  max_parallel: 4\ndatabase:\n  backup_interval: 60\n  backup_keep: 3\n"


def test_ten_ticks_racing_for_five_minutes_over_fifty_tasks(project):
    root = project.root
    write_config(root, CONFIG)
    names = [f"race_{i:02d}" for i in range(50)]
    for name in names:
        ledger_task(root, name)
    assert tick(root, "2026-11-27T10:00:30Z").returncode == 0
    for minute in range(1, 6):
        # cron starts them within the same second or two; each has its own idea of "now"
        procs = [spawn_tick(root, f"2026-11-27T10:{minute:02d}:{i:02d}Z") for i in range(10)]
        for code, _out, err in finish(procs, timeout=600):
            assert code == 0 and clean_stderr(err) and "locked" not in err, err
    result = audit(root, names, minutes("2026-11-27T10:01:00Z", 5))
    assert result.ok and result.ran == 250, str(result)
    assert sum(ledger(root).values()) == 250
    assert integrity(root) == "ok"
    # the ticks agreed on one backup per interval, and each backup is a whole database
    backups = sorted((root / "state" / "backups").glob("*.db"))
    assert 1 <= len(backups) <= 3
    assert len({b.name[:-5] for b in backups}) == len(backups)  # never two in the same minute


def test_two_cron_lines_for_the_same_project_run_each_slot_once(project):
    """A common mistake: the project is in the crontab twice, once by folder, once by --config."""
    root = project.root
    write_config(root, CONFIG)
    names = [f"twice_{i}" for i in range(10)]
    for name in names:
        ledger_task(root, name, "every(2).minutes")
    assert tick(root, "2026-11-27T10:00:30Z").returncode == 0
    for minute in range(1, 7):
        now = f"2026-11-27T10:{minute:02d}:01Z"
        procs = [spawn_tick(root, now), spawn_tick(root, now, config=True, cwd=root.parent)]
        for code, _out, err in finish(procs, timeout=600):
            assert code == 0 and clean_stderr(err), err
    result = audit(root, names, ["2026-11-27T10:02:00", "2026-11-27T10:04:00", "2026-11-27T10:06:00"])
    assert result.ok and result.ran == 30, str(result)
    assert sum(ledger(root).values()) == 30


def test_the_next_minute_starts_while_the_last_ones_runs_are_running(project):
    """Slow runs: a tick of minute m+1 starts while minute m's runs are still going. overlap: skip
    records the slot as skipped; overlap: allow runs it alongside. Nothing doubles, nothing is lost."""
    root = project.root
    write_config(root, CONFIG)
    slow = "import time\ntime.sleep(2.5)\n"
    skip_names = [f"skip_{i}" for i in range(4)]
    allow_names = [f"allow_{i}" for i in range(4)]
    for name in skip_names:
        ledger_task(root, name, after=slow, overlap="skip")
    for name in allow_names:
        ledger_task(root, name, after=slow, overlap="allow")
    assert tick(root, "2026-11-27T10:00:30Z").returncode == 0
    procs = []
    for minute in range(1, 5):
        for second in (0, 1):
            procs.append(spawn_tick(root, f"2026-11-27T10:{minute:02d}:{second:02d}Z"))
        time.sleep(1.0)  # the next minute's ticks arrive while these runs sleep
    for code, _out, err in finish(procs, timeout=600):
        assert code == 0 and clean_stderr(err), err
    slots = minutes("2026-11-27T10:01:00Z", 4)
    result = audit(root, skip_names + allow_names, slots)
    assert result.ok, str(result)
    overlap_skips = query(root, "SELECT count(*) FROM runs WHERE reason LIKE 'overlap:%'")[0][0]
    assert overlap_skips > 0  # the race really happened
    assert not query(root, "SELECT task FROM runs WHERE reason LIKE 'overlap:%' AND task LIKE 'allow_%'")
    assert integrity(root) == "ok"
