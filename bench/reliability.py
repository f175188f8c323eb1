"""Reliability report: load, races, faults and bad input, printed as one table.

    nox -s reliability        # or: python bench/reliability.py [--quick] [--tasks N] [--examples N]

It drives real `autohub tick` processes on throw-away projects, exactly as the reliability tests
do (it runs the same scenarios: tests/test_reliability_*.py and tests/faults.py), and adds the
figures the tests do not assert: how long the load took and how many inputs the fuzzers tried.
Every scenario ends with an audit of the state against a ledger the tasks write themselves; the
last row sums them. Exit status 1 when any scenario failed or any slot was lost or doubled.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import faults  # noqa: E402  (tests/faults.py)
from conftest import Project  # noqa: E402


@dataclass
class Tally:
    ran: int = 0
    passed: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def scenario(tally: Tally, name: str, func: Callable[..., Any], workdir: Path, **kwargs: Any) -> None:
    """Run one test scenario on a fresh project; count it as survived only if every check held."""
    folder = Path(tempfile.mkdtemp(prefix="case-", dir=workdir))
    params = inspect.signature(func).parameters
    if "project" in params:
        root = faults.new_project(folder / "proj")
        kwargs["project"] = Project(root)
    if "tmp_path" in params:
        kwargs["tmp_path"] = folder
    tally.ran += 1
    started = time.monotonic()
    try:
        func(**kwargs)
    except Exception as exc:  # a failed check or a crash: both are a failed scenario
        tally.failed.append(name)
        say(f"  FAIL  {name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        say(textwrap_indent(traceback.format_exc()))
        return
    tally.passed += 1
    say(f"  ok    {name} ({time.monotonic() - started:.1f} s)")


def textwrap_indent(text: str) -> str:
    return "\n".join("        " + line for line in text.splitlines()[-12:])


# --- load ----------------------------------------------------------------------------------------


def load(workdir: Path, tasks: int, parallel: int) -> dict[str, Any]:
    root = faults.new_project(
        workdir / "load",
        f"scheduler:\n  timezone: UTC\n  max_parallel: {parallel}\ndatabase:\n  backup_interval: 0\n",
    )
    names = [f"load_{i:04d}" for i in range(tasks)]
    for name in names:
        faults.ledger_task(root, name)
    first = faults.tick(root, "2026-11-27T10:00:30Z")
    if first.returncode != 0:
        raise RuntimeError(first.stderr)
    started = time.monotonic()
    procs = [
        faults.spawn_tick(root, "2026-11-27T10:01:02Z"),
        faults.spawn_tick(root, "2026-11-27T10:01:04Z", config=True, cwd=root.parent),  # a second cron line
    ]
    results = faults.finish(procs, timeout=1800)
    elapsed = time.monotonic() - started
    result = faults.audit(root, names, faults.minutes("2026-11-27T10:01:00Z", 1))
    locked = sum(err.count("locked") for _, _, err in results)
    failed_ticks = sum(1 for code, _, _ in results if code != 0)
    logged = sum(1 for line in (root / "logs" / "tasks.log").read_text().splitlines() if " ran load_" in line)
    return {
        "tasks": tasks,
        "ran_once": result.ran if result.ok else 0,
        "recorded": len(faults.query(root, "SELECT id FROM runs WHERE status = 'success' AND output_tail != ''")),
        "logged": logged,
        "seconds": elapsed,
        "locked": locked,
        "failed_ticks": failed_ticks,
        "integrity": faults.integrity(root),
        "ok": result.ok and result.ran == tasks and locked == 0 and failed_ticks == 0 and logged == tasks,
    }


# --- bad input -----------------------------------------------------------------------------------


def fuzz(examples: int, workdir: Path) -> tuple[dict[str, int], list[str]]:
    from hypothesis import HealthCheck, given, settings

    strategies = faults.strategies()
    tried: dict[str, int] = {}
    failures: list[str] = []
    folder = workdir / "fuzz"
    folder.mkdir()
    cases: list[tuple[str, str, Callable[[Any], Any], int]] = [
        ("task files (text)", "task_text", faults.check_task_text, examples),
        ("task files (bytes)", "task_bytes", lambda b: faults.check_task_bytes(b, folder), examples // 2),
        ("schedule chains", "chain", faults.check_chain, examples * 2),
        ("cron expressions", "cron", faults.check_cron, examples * 2),
        ("config mappings", "config_data", faults.check_config_data, examples),
        ("config files (bytes)", "config_bytes", lambda b: faults.check_config_bytes(b, folder), examples // 2),
    ]
    for label, key, check, count in cases:
        tried[label] = 0
        runner = settings(
            max_examples=count,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )(given(strategies[key])(counted(check, tried, label)))
        started = time.monotonic()
        try:
            runner()
        except Exception as exc:
            failures.append(f"{label}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            say(f"  FAIL  {label}: {failures[-1]}")
        else:
            say(f"  ok    {label}: {tried[label]} inputs ({time.monotonic() - started:.1f} s)")
    return tried, failures


def counted(check: Callable[[Any], Any], tried: dict[str, int], label: str) -> Callable[[Any], None]:
    def prop(value: Any) -> None:
        tried[label] += 1
        check(value)

    return prop


# --- the report ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (200 tasks, 200 inputs per fuzzer)")
    parser.add_argument("--tasks", type=int, default=None, help="tasks due at once in the load (default 1000)")
    parser.add_argument("--parallel", type=int, default=8, help="scheduler.max_parallel of the load (default 8)")
    parser.add_argument("--examples", type=int, default=None, help="inputs per fuzzer (default 1000)")
    args = parser.parse_args()
    tasks = args.tasks or (200 if args.quick else 1000)
    examples = args.examples or (200 if args.quick else 1000)

    import test_reliability_faults as tf
    import test_reliability_races as tr

    with tempfile.TemporaryDirectory(prefix="autohub-reliability-") as tmp:
        workdir = Path(tmp)
        say(f"load: {tasks} tasks due in one minute, max_parallel {args.parallel}")
        held = load(workdir, tasks, args.parallel)
        say(f"  {'ok  ' if held['ok'] else 'FAIL'}  {held['ran_once']}/{tasks} ran once in {held['seconds']:.1f} s")

        say("races")
        races = Tally()
        scenario(
            races,
            "10 ticks x 5 minutes x 50 tasks",
            tr.test_ten_ticks_racing_for_five_minutes_over_fifty_tasks,
            workdir,
        )
        scenario(
            races,
            "2 cron lines x 6 minutes x 10 tasks",
            tr.test_two_cron_lines_for_the_same_project_run_each_slot_once,
            workdir,
        )
        scenario(
            races,
            "next minute during slow runs (8 ticks)",
            tr.test_the_next_minute_starts_while_the_last_ones_runs_are_running,
            workdir,
        )

        say("faults")
        hurt = Tally()
        for stage in faults.STAGES:
            scenario(
                hurt,
                f"SIGKILL {stage}",
                tf.test_a_tick_killed_at_any_stage_loses_and_doubles_nothing,
                workdir,
                stage=stage,
            )
        scenario(
            hurt,
            "SIGKILL mid-run: the run ends too",
            tf.test_a_run_dies_with_its_tick_and_is_recorded_abandoned,
            workdir,
        )
        scenario(
            hurt,
            "SIGKILL as the child starts",
            tf.test_a_child_started_just_as_its_tick_dies_does_not_outlive_it,
            workdir,
        )
        scenario(
            hurt, "SIGKILL at random moments", tf.test_ticks_killed_at_random_moments_never_corrupt_or_double, workdir
        )
        mount = faults.can_mount()
        for name, func in (
            ("full disk: state and logs", tf.test_a_full_disk_under_state_and_logs_is_a_clear_error_and_recovers),
            (
                "full disk: filled by a task",
                tf.test_the_disk_filling_up_while_a_task_runs_is_a_clear_error_and_recovers,
            ),
            ("full disk: logs only", tf.test_a_full_log_disk_alone_does_not_stop_runs),
        ):
            if mount is None:
                scenario(hurt, name, func, workdir)
            else:
                hurt.skipped.append(f"{name} ({mount})")
        scenario(
            hurt,
            "database locked at start",
            tf.test_a_database_locked_past_the_busy_timeout_is_a_clear_error_and_the_next_tick_is_fine,
            workdir,
        )
        scenario(
            hurt,
            "database locked mid-run",
            tf.test_a_lock_taken_while_runs_are_running_is_a_clear_error_and_nothing_is_lost,
            workdir,
        )
        for how in ("garbage", "truncated", "pages", "header"):
            scenario(
                hurt,
                f"corrupt database ({how})",
                tf.test_a_corrupt_database_is_refused_clearly_and_never_recreated,
                workdir,
                how=how,
            )
        scenario(
            hurt,
            "doctor names the latest backup",
            tf.test_doctor_names_the_latest_backup_of_a_corrupt_database,
            workdir,
        )
        scenario(
            hurt, "clock back 1 h", tf.test_the_clock_set_back_an_hour_runs_no_slot_again_and_nothing_stalls, workdir
        )
        scenario(
            hurt,
            "clock back with a retry pending",
            tf.test_the_clock_set_back_keeps_a_pending_retry_and_runs_it_once,
            workdir,
        )
        scenario(hurt, "clock forward 4 h (suspend)", tf.test_a_forward_jump_is_downtime_handled_by_catchup, workdir)

        say(f"bad input: hypothesis, about {examples} inputs per fuzzer")
        tried, fuzz_failures = fuzz(examples, workdir)

    audits = faults.AUDITS
    slots = sum(a.slots for a in audits)
    lost = sum(len(a.lost) for a in audits)
    doubled = sum(len(a.doubled) for a in audits)
    other = sum(len(a.stuck) + len(a.unexplained) for a in audits)
    rate = held["tasks"] / held["seconds"] if held["seconds"] else 0.0
    racing_ticks = 10 * 5 + 2 * 6 + 4 * 2
    rows = [
        (
            "load held",
            f"{held['ran_once']:,} / {tasks:,}",
            f"{tasks:,} tasks due in one minute, max_parallel {args.parallel}, 2 cores, 2 ticks: each ran once, "
            f"{held['recorded']:,} recorded with output, {held['logged']:,} logged; {held['seconds']:.1f} s = "
            f'{rate:.1f} runs/s; "database is locked" seen {held["locked"]} times',
        ),
        (
            "races run",
            f"{races.passed} / {races.ran}",
            f"{racing_ticks} ticks racing: 10 at once x 5 minutes x 50 tasks; 2 cron lines x 6 minutes; "
            "the next minute's ticks during slow runs",
        ),
        (
            "faults survived",
            f"{hurt.passed} / {hurt.ran}",
            "SIGKILL at 4 stages + mid-run + as the child starts + at random moments; full disk x3; "
            "lock x2; corrupt database x4 (+ doctor); clock back x2, forward; integrity ok after each"
            + (f"; skipped: {', '.join(hurt.skipped)}" if hurt.skipped else ""),
        ),
        (
            "bad inputs tried",
            f"{sum(tried.values()):,}",
            "; ".join(f"{k} {v:,}" for k, v in tried.items()) + f"; unhandled: {len(fuzz_failures)}",
        ),
        (
            "slots lost or doubled",
            f"{lost + doubled}",
            f"over {slots:,} (task, slot) pairs audited against the tasks' own ledger; lost {lost}, doubled {doubled}"
            + (f", stuck or unexplained {other}" if other else ""),
        ),
    ]
    print("| check | result | what |")
    print("|---|---|---|")
    for name, result, what in rows:
        print(f"| {name} | {result} | {what} |")
    bad = not held["ok"] or races.failed or hurt.failed or fuzz_failures or lost or doubled or other
    if bad:
        say(f"FAILED: {races.failed + hurt.failed + fuzz_failures}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
