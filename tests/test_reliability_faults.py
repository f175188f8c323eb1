"""Faults (issue 6, part 3): a tick SIGKILLed at every stage, a full disk, a locked or corrupt
database, the clock jumping back and forth. After each: the next tick runs normally,
`PRAGMA integrity_check` says ok, and every slot either ran once or is recorded with a reason.

Real mechanisms only: the tick kills itself through the `AUTOHUB_FAULT` test hook
(autohub_cli/faults.py), disks are real tmpfs mounts that fill up, locks are held by another
process. Helpers: tests/faults.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest
from faults import (
    STAGES,
    audit,
    can_mount,
    clean_stderr,
    corrupt,
    fault_env,
    fill,
    hold_write_lock,
    integrity,
    ledger,
    ledger_task,
    minutes,
    pid_alive,
    query,
    small_disk,
    spawn_tick,
    tick,
    wait_for,
    worker_pids,
    write_config,
)

pytestmark = pytest.mark.slow

TASKS = ["alpha", "beta", "gamma"]
CONFIG = """\
scheduler:
  timezone: UTC
  max_parallel: 2
database:
  backup_interval: 0
"""


def _setup(project, config: str = CONFIG, tasks: list[str] = TASKS, **fields) -> None:
    write_config(project.root, config)
    for name in tasks:
        ledger_task(project.root, name, **fields)
    assert tick(project.root, "2026-11-27T10:00:30Z").returncode == 0  # first seen: no backlog


# --- SIGKILL of a tick at each stage -------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_a_tick_killed_at_any_stage_loses_and_doubles_nothing(project, stage):
    _setup(project)
    killed = tick(project.root, "2026-11-27T10:01:05Z", env=fault_env(stage))
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    assert integrity(project.root) == "ok"

    after = tick(project.root, "2026-11-27T10:02:05Z")
    assert after.returncode == 0 and clean_stderr(after.stderr), after.stderr
    assert integrity(project.root) == "ok"
    result = audit(project.root, TASKS, minutes("2026-11-27T10:01:00Z", 2))
    assert result.ok, str(result)
    statuses = dict(
        (
            (task, status)
            for task, status in query(
                project.root, "SELECT task, status FROM runs WHERE slot LIKE '2026-11-27T10:01%' AND attempt = 1"
            )
        )
    )
    if stage == "before-claim":  # nothing was claimed: the next tick sees an overdue slot and records it
        assert set(statuses.values()) == {"skipped"}
    elif stage == "after-claim":  # claimed, never started: abandoned, and nothing executed
        assert set(statuses.values()) == {"abandoned"}
        assert not [k for k in ledger(project.root) if k[1].startswith("2026-11-27T10:01")]
    else:
        assert "abandoned" in statuses.values()
    # the slot after the fault runs normally for every task
    assert sorted(t for t, s, a in ledger(project.root) if s == "2026-11-27T10:02:00") == TASKS


# the run of slot 10:01 records its pid and then sleeps (it is killed long before it wakes)
SLEEP_AT_10_01 = """\
if os.environ["AUTOHUB_SLOT"].startswith("2026-11-27T10:01"):
    open("started.pid", "w").write(str(os.getpid()))
    import time
    time.sleep(120)
"""


def test_a_run_dies_with_its_tick_and_is_recorded_abandoned(project):
    """The tick is SIGKILLed while its child is in the middle of the task: the child goes too."""
    _setup(project, tasks=["slow"], before=SLEEP_AT_10_01)
    proc = spawn_tick(project.root, "2026-11-27T10:01:05Z")
    pid_file = project.root / "started.pid"
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 60, "the task started")
    child = int(pid_file.read_text())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    wait_for(lambda: not pid_alive(child), 30, f"the orphaned run (pid {child}) ended with its tick")
    assert tick(project.root, "2026-11-27T10:02:05Z").returncode == 0
    rows = query(project.root, "SELECT status, reason FROM runs WHERE task = 'slow' ORDER BY slot")
    assert rows[0][0] == "abandoned" and f"pid {proc.pid}" in rows[0][1]
    assert ("slow", "2026-11-27T10:01:00", 1) not in ledger(project.root)  # it never got past its sleep
    assert integrity(project.root) == "ok"


def test_a_child_started_just_as_its_tick_dies_does_not_outlive_it(project):
    """`while-running` kills the tick right after the child is spawned, before the child can
    watch its parent: the child must still notice that its tick is gone (it used not to, and ran
    its task to the end as an orphan)."""
    _setup(project, tasks=["slow"], before=SLEEP_AT_10_01)
    killed = tick(project.root, "2026-11-27T10:01:05Z", env=fault_env("while-running"))
    assert killed.returncode == -signal.SIGKILL
    task_file = str(project.root / "tasks" / "slow.py")
    wait_for(lambda: not worker_pids(task_file), 30, "the run whose tick died ended too")
    assert tick(project.root, "2026-11-27T10:02:05Z").returncode == 0
    assert query(project.root, "SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
    assert ("slow", "2026-11-27T10:01:00", 1) not in ledger(project.root)


def test_ticks_killed_at_random_moments_never_corrupt_or_double(project):
    """A storm of SIGKILLs, each followed by a tick: at random moments (inside transactions too) in
    even minutes; in odd minutes once a run has started, so that the storm surely hits runs."""
    started = project.root / "started.txt"
    mark = (
        'with open("started.txt", "a") as f:\n'
        '    f.write(os.environ["AUTOHUB_SLOT"] + "\\n")\n'
        "import time\n"
        "time.sleep(0.3)\n"
    )
    _setup(project, config=CONFIG.replace("max_parallel: 2", "max_parallel: 3"), before=mark)
    rng = random.Random(6)
    for minute in range(1, 9):
        now = f"2026-11-27T10:{minute:02d}:05Z"
        procs = [spawn_tick(project.root, now) for _ in range(2)]
        if minute % 2:
            slot = f"2026-11-27T10:{minute:02d}:00"
            wait_for(
                lambda: (
                    slot in (started.read_text() if started.exists() else "")
                    or all(p.poll() is not None for p in procs)
                ),
                60,
                "a run started",
            )
            victims = procs
        else:
            time.sleep(rng.uniform(0.0, 1.2))
            victims = [p for p in procs if rng.random() < 0.8]
        for proc in victims:
            proc.kill()
        for proc in procs:
            proc.communicate(timeout=120)
        assert integrity(project.root) == "ok"
    final = tick(project.root, "2026-11-27T10:09:05Z")
    assert final.returncode == 0 and clean_stderr(final.stderr), final.stderr
    result = audit(project.root, TASKS, minutes("2026-11-27T10:01:00Z", 9))
    assert result.ok, str(result)
    assert query(project.root, "SELECT count(*) FROM runs WHERE status = 'abandoned'")[0][0] >= 3
    assert integrity(project.root) == "ok"


# --- a full disk ---------------------------------------------------------------------------------

MOUNT = can_mount()
needs_mount = pytest.mark.skipif(MOUNT is not None, reason=str(MOUNT))


@needs_mount
def test_a_full_disk_under_state_and_logs_is_a_clear_error_and_recovers(project):
    _setup(project)
    root = project.root
    with small_disk(root / "state", "2m") as state, small_disk(root / "logs", "512k") as logs:
        assert tick(root, "2026-11-27T10:01:05Z").returncode == 0  # room enough: all is well
        fill(logs)
        fill(state)
        full = tick(root, "2026-11-27T10:02:05Z")
        assert full.returncode == 3, (full.returncode, full.stdout, full.stderr)
        assert "disk is full" in full.stderr and clean_stderr(full.stderr), full.stderr
        assert "nothing was written" in full.stderr or "Free some space" in full.stderr
        # space returns: nothing is corrupt, and the next tick recovers without help
        (state / "filler").unlink()
        (logs / "filler").unlink()
        assert integrity(root) == "ok"
        again = tick(root, "2026-11-27T10:03:05Z")
        assert again.returncode == 0 and clean_stderr(again.stderr), again.stderr
        assert integrity(root) == "ok"
    result = audit(root, TASKS, minutes("2026-11-27T10:01:00Z", 3))
    assert result.ok, str(result)
    assert query(root, "SELECT count(*) FROM runs WHERE status = 'success' AND slot LIKE '%10:03:00%'") == [(3,)]


@needs_mount
def test_the_disk_filling_up_while_a_task_runs_is_a_clear_error_and_recovers(project):
    """A task fills the disk under state/: its outcome cannot be written, the tick says so and
    exits 3; once space returns the next tick records the run as abandoned and carries on."""
    hog = (
        'if not os.path.exists("hogged"):\n'
        '    open("hogged", "w").close()\n'
        '    with open("state/hog", "ab") as f:\n'
        "        try:\n"
        "            for _ in range(100000):\n"
        '                f.write(b"x" * 65536)\n'
        "                f.flush()\n"
        "        except OSError:\n"
        "            pass\n"
    )
    _setup(project, tasks=["hog"], after=hog)
    root = project.root
    with small_disk(root / "state", "2m") as state:
        full = tick(root, "2026-11-27T10:01:05Z")
        assert full.returncode == 3, (full.returncode, full.stderr)
        assert "disk is full" in full.stderr and clean_stderr(full.stderr), full.stderr
        (state / "hog").unlink()
        assert integrity(root) == "ok"
        again = tick(root, "2026-11-27T10:02:05Z")
        assert again.returncode == 0 and clean_stderr(again.stderr), again.stderr
        assert integrity(root) == "ok"
    result = audit(root, ["hog"], minutes("2026-11-27T10:01:00Z", 2))
    assert result.ok, str(result)


@needs_mount
def test_a_full_log_disk_alone_does_not_stop_runs(project):
    """logs/ full, state fine: runs still run and are recorded (output tail included); stderr says
    which log could not be written."""
    _setup(project)
    root = project.root
    with small_disk(root / "logs", "256k") as logs:
        fill(logs)
        done = tick(root, "2026-11-27T10:01:05Z")
        assert done.returncode == 0, done.stderr
        assert "could not write log" in done.stderr and "No space left" in done.stderr
        assert clean_stderr(done.stderr)
    tails = query(root, "SELECT output_tail FROM runs WHERE status = 'success'")
    assert len(tails) == 3 and all("ran" in t for (t,) in tails)


# --- a locked database ---------------------------------------------------------------------------


def test_a_database_locked_past_the_busy_timeout_is_a_clear_error_and_the_next_tick_is_fine(project):
    _setup(project, config=CONFIG + "state:\n  busy_timeout_ms: 400\n")
    with hold_write_lock(project.db):
        locked = tick(project.root, "2026-11-27T10:01:05Z")
    assert locked.returncode == 3, (locked.returncode, locked.stderr)
    assert "locked by another process (waited 0.4 s)" in locked.stderr and clean_stderr(locked.stderr)
    assert "fuser" in locked.stderr
    after = tick(project.root, "2026-11-27T10:02:05Z")
    assert after.returncode == 0 and clean_stderr(after.stderr), after.stderr
    assert integrity(project.root) == "ok"
    result = audit(project.root, TASKS, minutes("2026-11-27T10:01:00Z", 2))
    assert result.ok, str(result)


def test_a_lock_taken_while_runs_are_running_is_a_clear_error_and_nothing_is_lost(project):
    _setup(
        project,
        config=CONFIG + "state:\n  busy_timeout_ms: 400\n",
        tasks=["slow"],
        before='open("started", "w").close()\nimport time\ntime.sleep(1.5)\n',
    )
    proc = spawn_tick(project.root, "2026-11-27T10:01:05Z")
    wait_for(lambda: (project.root / "started").exists(), 60, "the task started")
    with hold_write_lock(project.db):
        _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, (proc.returncode, stderr)
    assert "locked by another process" in stderr and clean_stderr(stderr), stderr
    after = tick(project.root, "2026-11-27T10:02:05Z")
    assert after.returncode == 0 and clean_stderr(after.stderr), after.stderr
    result = audit(project.root, ["slow"], minutes("2026-11-27T10:01:00Z", 2))
    assert result.ok, str(result)
    assert integrity(project.root) == "ok"


# --- a corrupt database --------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["garbage", "truncated", "pages", "header"])
def test_a_corrupt_database_is_refused_clearly_and_never_recreated(project, how):
    _setup(project, config=CONFIG.replace("backup_interval: 0", "backup_interval: 60"))
    assert tick(project.root, "2026-11-27T10:01:05Z").returncode == 0
    assert tick(project.root, "2026-11-27T10:02:05Z").returncode == 0
    backups = sorted((project.root / "state" / "backups").glob("*.db"))
    assert backups, "backup_interval made no backup"
    corrupt(project.db, how)
    damaged = project.db.read_bytes()
    for args in (("tick", "--now", "2026-11-27T10:03:05Z"), ("history",), ("status",)):
        proc = project.cli(*args)
        assert proc.returncode == 3, (args, proc.returncode, proc.stdout, proc.stderr)
        assert "corrupt" in proc.stderr or "malformed" in proc.stderr, proc.stderr
        assert "state/backups" in proc.stderr and clean_stderr(proc.stderr), proc.stderr
        assert project.db.read_bytes() == damaged, f"autohub {args[0]} changed the damaged file"
    assert not ledger(project.root).get(("alpha", "2026-11-27T10:03:00", 1))
    # the way back: restore the newest backup, and the scheduler carries on
    restored = project.cli("restore")
    assert restored.returncode == 0 and backups[-1].name in restored.stdout, restored.stderr
    assert integrity(project.root) == "ok"
    assert tick(project.root, "2026-11-27T10:04:05Z").returncode == 0


def test_doctor_names_the_latest_backup_of_a_corrupt_database(project):
    _setup(project, config=CONFIG.replace("backup_interval: 0", "backup_interval: 60"))
    for minute in (1, 2, 3):
        assert tick(project.root, f"2026-11-27T10:0{minute}:05Z").returncode == 0
    newest = sorted((project.root / "state" / "backups").glob("*.db"))[-1]
    corrupt(project.db, "garbage")
    doctor = project.cli("doctor", "--json")
    assert doctor.returncode == 1, doctor.stderr
    (state,) = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "state"]
    assert state["status"] == "fail" and "corrupt" in state["detail"]
    assert str(newest) in state["fix"] and "autohub restore" in state["fix"], state
    assert project.db.read_bytes().startswith(b"autohub state, overwritten")  # doctor changed nothing


# --- the clock jumps -----------------------------------------------------------------------------


def test_the_clock_set_back_an_hour_runs_no_slot_again_and_nothing_stalls(project):
    _setup(project)
    for minute in (1, 2, 3):
        assert tick(project.root, f"2026-11-27T10:0{minute}:05Z").returncode == 0
    before = len(ledger(project.root))
    for minute in (3, 4, 30, 31, 59):  # an hour back, and the clock runs on towards the old "now"
        if minute == 30:  # a task file edited meanwhile is planned afresh: its cursor must hold too
            ledger_task(project.root, "alpha", title="Alpha, edited while the clock was behind")
        back = tick(project.root, f"2026-11-27T09:{minute:02d}:05Z")
        assert back.returncode == 0 and back.stderr == "", back.stderr
    assert len(ledger(project.root)) == before  # no slot ran again
    for minute in (4, 5):  # past the last handled slot: the schedule carries on at once
        assert tick(project.root, f"2026-11-27T10:0{minute}:05Z").returncode == 0
    result = audit(project.root, TASKS, minutes("2026-11-27T10:01:00Z", 5))
    assert result.ok and result.ran == 15, str(result)
    assert query(project.root, "SELECT count(*) FROM runs WHERE slot < '2026-11-27T10'") == [(0,)]


def test_the_clock_set_back_keeps_a_pending_retry_and_runs_it_once(project):
    write_config(project.root, CONFIG)
    ledger_task(project.root, "flaky", "every().hour", after="raise SystemExit(1)\n", retry_count=1, retry_delay=120)
    assert tick(project.root, "2026-11-27T09:59:30Z").returncode == 0
    assert tick(project.root, "2026-11-27T10:00:05Z").returncode == 0  # fails; the retry is due at ~10:02:05
    assert tick(project.root, "2026-11-27T09:30:05Z").returncode == 0  # the clock went back: not yet
    assert not [k for k in ledger(project.root) if k[2] == 2]
    assert query(project.root, "SELECT status FROM runs WHERE attempt = 2") == [("pending",)]
    assert tick(project.root, "2026-11-27T10:02:30Z").returncode == 0
    assert [k for k in ledger(project.root) if k[2] == 2] == [("flaky", "2026-11-27T10:00:00", 2)]
    assert query(project.root, "SELECT count(*) FROM runs WHERE status IN ('running', 'pending')") == [(0,)]


def test_a_forward_jump_is_downtime_handled_by_catchup(project):
    write_config(project.root, CONFIG)
    ledger_task(project.root, "latest", "every().hour", catchup="latest")
    ledger_task(project.root, "every_one", "every().hour", catchup="all")
    ledger_task(project.root, "skipper", "every().hour", catchup="skip")
    ledger_task(project.root, "minutely", catchup="latest")
    assert tick(project.root, "2026-11-27T09:59:30Z").returncode == 0
    assert tick(project.root, "2026-11-27T10:00:05Z").returncode == 0
    # suspended at 10:00, resumed at 14:00:20
    assert tick(project.root, "2026-11-27T14:00:20Z").returncode == 0
    hours = [f"2026-11-27T{h}:00:00" for h in (10, 11, 12, 13, 14)]
    ran = ledger(project.root)
    assert [s for t, s, a in ran if t == "latest"] == [hours[0], hours[-1]]
    assert sorted(s for t, s, a in ran if t == "every_one") == hours
    assert [s for t, s, a in ran if t == "skipper"] == [hours[0], hours[-1]]  # 14:00 is this minute
    for task in ("latest", "every_one", "skipper"):
        result = audit(project.root, [task], hours)
        assert result.ok and result.slots == 5, str(result)
    minute_slots = minutes("2026-11-27T10:00:00Z", 241)
    result = audit(project.root, ["minutely"], minute_slots)
    assert result.ok and result.ran == 2, str(result)  # 10:00, and 14:00 after the downtime
