"""Sub-minute schedules: `every(N).seconds` slots served by a tick that stays to the end of its minute."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from autohub_cli.decorators import every
from autohub_cli.schedule import ScheduleError, compile_chain, is_sub_minute

UTC = timezone.utc


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- the schedule, pure ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30])
def test_slots_every_n_seconds_of_every_minute(n):
    schedule = compile_chain(every(n).seconds.chain if n != 1 else every().second.chain, UTC)
    assert is_sub_minute(schedule)
    start = utc("2026-11-27 10:00:00")
    slots = list(schedule.slots(start - timedelta(microseconds=1), start + timedelta(minutes=2)))
    assert slots[0] == start
    assert all(b - a == timedelta(seconds=n) for a, b in itertools.pairwise(slots))
    assert len(slots) == 2 * 60 // n + 1
    assert schedule.next_after(utc("2026-11-27 10:00:00.5")) == start + timedelta(seconds=n)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Europe/Amsterdam", "2024-10-27 00:58:00"),  # fall back at 01:00Z
        ("Europe/Amsterdam", "2024-03-31 00:58:00"),  # spring forward at 01:00Z
        ("America/New_York", "2024-11-03 05:58:00"),
        ("Australia/Lord_Howe", "2024-04-06 14:58:00"),  # a 30-minute shift
    ],
)
def test_dst_changes_nothing_no_duplicates_no_gaps(zone, start):
    schedule = compile_chain(every(15).seconds.chain, ZoneInfo(zone))
    t0 = utc(start)
    slots = list(schedule.slots(t0, t0 + timedelta(minutes=4)))
    assert slots == [t0 + timedelta(seconds=15 * k) for k in range(1, 17)]


@pytest.mark.parametrize(
    ("job", "needle"),
    [
        (every(7).seconds, "N dividing 60"),
        (every(45).seconds, "N dividing 60"),
        (every(0).seconds, "N dividing 60"),
        (every(60).seconds, "use every().minute"),
        (every(120).seconds, "use every(2).minutes"),
        (every(2).second, "every(2).seconds"),
        (every(10).seconds.at(":30"), ".at() does not apply"),
        (every(5).to(10).seconds, ".to()"),
    ],
)
def test_bad_seconds_schedules_are_rejected_with_the_valid_form(job, needle):
    with pytest.raises(ScheduleError) as caught:
        compile_chain(job.chain, UTC)
    assert needle in str(caught.value)


# --- the tick -------------------------------------------------------------------------------------


SLOT_TO_FILE = (
    "import os\n"
    "with open('slots.txt', 'a') as f:\n"
    "    f.write(os.environ['AUTOHUB_SLOT'] + '\\n')\n"
)


def slots_file(project) -> list[str]:
    path = project.root / "slots.txt"
    return [line[11:19] for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
def test_a_tick_serves_the_rest_of_its_minute(project):
    project.task("fast", SLOT_TO_FILE, schedule="every(5).seconds")
    project.tick("2026-11-27T10:00:59.5Z")  # first sight; the minute ends at once
    assert slots_file(project) == []
    project.tick("2026-11-27T10:01:41Z")
    assert slots_file(project) == ["10:01:40", "10:01:45", "10:01:50", "10:01:55"]
    rows = list(reversed(project.history("fast")))
    runs = [r for r in rows if r["status"] != "skipped"]
    assert [r["slot"][11:19] for r in runs] == ["10:01:40", "10:01:45", "10:01:50", "10:01:55"]
    assert all(r["status"] == "success" and r["trigger"] == "schedule" for r in runs)
    skipped = [r for r in rows if r["status"] == "skipped"]  # 10:01:00 to 10:01:35, missed while no tick ran
    assert len(skipped) == 8 and all("catchup is latest" in r["reason"] for r in skipped)
    assert "fast: run slot 2026-11-27T10:01:55+00:00 (schedule)" in project.log("scheduler.log")


@pytest.mark.slow
def test_sub_minute_slots_run_exactly_once_under_racing_ticks(project):
    project.config("scheduler:\n  timezone: UTC\n  max_parallel: 8\n")
    project.task("fast", SLOT_TO_FILE, schedule="every(2).seconds", overlap="allow")
    project.task("minutely", 'print("m")')
    project.tick("2026-11-27T10:00:59.5Z")
    ticks = [project.spawn_tick("2026-11-27T10:01:40Z") for _ in range(4)]
    for proc in ticks:
        _out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    expected = [f"10:01:{s:02d}" for s in range(40, 60, 2)]
    got = slots_file(project)
    assert sorted(got) == expected, Counter(got)  # each slot ran once: no duplicate, none missing
    rows = project.query("SELECT slot, attempt, count(*) FROM runs WHERE task = 'fast' GROUP BY slot, attempt")
    assert all(n == 1 for _, _, n in rows)
    ran = project.query("SELECT slot FROM runs WHERE task = 'fast' AND status = 'success' ORDER BY slot")
    assert [s[11:19] for (s,) in ran] == expected
    assert project.query("SELECT count(*) FROM runs WHERE task = 'minutely'") == [(1,)]
    tick_rows = project.query("SELECT count(*) FROM ticks WHERE error IS NULL AND finished_at IS NOT NULL")
    assert tick_rows == [(5,)]


def test_a_disabled_or_paused_task_keeps_the_tick_short_and_its_slots_recorded(project):
    project.task("fast", SLOT_TO_FILE, schedule="every(20).seconds", enabled=False)
    project.tick("2026-11-27T10:00:10Z")
    project.tick("2026-11-27T10:01:05Z")  # no loop: nothing of this task runs this minute
    assert slots_file(project) == []
    rows = project.history("fast")
    assert rows and all(r["status"] == "skipped" and r["reason"].startswith("disabled") for r in rows)
    assert max(r["slot"] for r in rows) <= "2026-11-27T10:01:00+00:00"


def test_a_paused_task_does_not_keep_the_tick(project):
    project.task("fast", SLOT_TO_FILE, schedule="every(20).seconds")
    project.tick("2026-11-27T10:00:59.5Z")
    project.cli("pause", "fast", check=True)
    project.tick("2026-11-27T10:01:05Z")
    assert slots_file(project) == []
    rows = project.history("fast")
    assert [r["slot"][11:19] for r in rows] == ["10:01:00"]
    assert rows[0]["status"] == "skipped" and rows[0]["reason"].startswith("paused")


def test_autohub_work_stopping_ends_the_claims(project, tmp_path):
    stop = tmp_path / "stop"
    stop.touch()
    project.task("fast", SLOT_TO_FILE, schedule="every(2).seconds")
    project.tick("2026-11-27T10:00:59.5Z")
    project.cli("tick", "--now", "2026-11-27T10:01:30Z", env={"AUTOHUB_STOP_FILE": str(stop)}, check=True)
    assert slots_file(project) == ["10:01:30"]  # the tick's own decision; no slot after it was claimed
    assert "autohub work is stopping" in project.log("scheduler.log")


def test_next_status_and_explain_show_sub_minute_slots(project):
    project.task("fast", 'print("x")', schedule="every(15).seconds")
    shown = json.loads(
        project.cli("next", "fast", "-n", "3", "--after", "2026-11-27T10:00:00Z", "--json", check=True).stdout
    )
    assert shown == ["2026-11-27T10:00:15+00:00", "2026-11-27T10:00:30+00:00", "2026-11-27T10:00:45+00:00"]
    assert "every 15 seconds" in project.cli("next", "fast", check=True).stdout
    status = json.loads(project.cli("status", "--json", "--now", "2026-11-27T10:00:05Z", check=True).stdout)
    [task] = status["tasks"]
    assert task["schedule"] == "every(15).seconds" and task["schedule_words"] == "every 15 seconds"
    assert task["next_slot"] == "2026-11-27T10:00:15+00:00"
    explained = project.cli("explain", "fast", "--json", "--now", "2026-11-27T10:00:05Z", check=True).stdout
    slots = [s["slot"] for s in json.loads(explained)["slots"]]
    assert "2026-11-27T10:00:15+00:00" in slots and "2026-11-27T10:00:00+00:00" in slots
    assert "2026-11-27T09:59:45+00:00" in slots
