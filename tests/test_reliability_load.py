"""Load (issue 6, part 1): 1,000 tasks due in the same minute on a 2-core machine, max_parallel 8.

Each runs exactly once and is recorded (state row, output tail, log line); no "database is
locked" reaches the user, even with a second tick (a doubled cron line) and readers racing it.
The throughput is measured by `bench/reliability.py`; this test asserts correctness only.
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
    run,
    spawn_tick,
    tick,
    write_config,
)

pytestmark = pytest.mark.slow

TASKS = 1000


def test_a_thousand_tasks_due_in_the_same_minute_each_run_once_and_are_recorded(project):
    root = project.root
    write_config(root, "scheduler:\n  timezone: UTC\n  max_parallel: 8\ndatabase:\n  backup_interval: 0\n")
    names = [f"load_{i:04d}" for i in range(TASKS)]
    for name in names:
        ledger_task(root, name)
    first = tick(root, "2026-11-27T10:00:30Z")  # first seen: parsed and registered, nothing due yet
    assert first.returncode == 0 and clean_stderr(first.stderr), first.stderr

    ticks = [
        spawn_tick(root, "2026-11-27T10:01:02Z"),
        spawn_tick(root, "2026-11-27T10:01:04Z", config=True, cwd=root.parent),
    ]
    readers = []
    # people look at the state while the load runs: reads never wait for the writers (WAL)
    for _ in range(20):  # bounded: at most 20 looks
        if all(t.poll() is not None for t in ticks):
            break
        readers.append(run(root, "history", "--limit", "5", "--json", timeout=300))
        time.sleep(1.0)
    results = finish(ticks, timeout=900)

    for code, _out, err in results:
        assert code == 0, err
        assert "locked" not in err and clean_stderr(err), err
    for reader in readers:
        assert reader.returncode == 0 and "locked" not in reader.stderr, reader.stderr

    result = audit(root, names, minutes("2026-11-27T10:01:00Z", 1))
    assert result.ok and result.ran == TASKS, str(result)
    assert sum(ledger(root).values()) == TASKS  # each executed exactly once
    rows = query(root, "SELECT status, output_tail FROM runs WHERE trigger = 'schedule'")
    assert len(rows) == TASKS and {s for s, _ in rows} == {"success"}
    assert all(tail.startswith("ran load_") for _, tail in rows)
    logged = [line for line in project.log("tasks.log").splitlines() if " ran load_" in line]
    assert len(logged) == TASKS and len(set(logged)) == TASKS
    assert query(root, "SELECT count(*) FROM ticks WHERE finished_at IS NULL") == [(0,)]
    assert integrity(root) == "ok"
