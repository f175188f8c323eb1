"""autohub_cli.schedule: the DSL table of SPEC §3, rejections, DST rules, and properties over zones.

Expected slots are written out as literal UTC instants, worked out by hand from the calendar and the
zones' rules (not copied from the code's output). Day counts used below: 2024-01-01 is day 19723
since 1970-01-01 and a Monday in week 2818 counted from the epoch week (Monday 1969-12-29).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autohub_cli import schedule as schedule_module  # noqa: E402
from autohub_cli.decorators import Job, cron, every  # noqa: E402
from autohub_cli.schedule import (  # noqa: E402
    CronPattern,
    Schedule,
    ScheduleError,
    compile_chain,
    compile_cron,
    instants,
    render,
)

UTC = timezone.utc
MIN = timedelta(minutes=1)
AMS, NYC, LHI = "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe"


def utc(text: str) -> datetime:
    """`utc("2024-05-01 10:30")`: an aware UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def utcs(*texts: str) -> list[datetime]:
    return [utc(t) for t in texts]


def sched(job: Job, zone: str = "UTC") -> Schedule:
    return compile_chain(job.chain, ZoneInfo(zone))


def first(job: Job | Schedule, after: str, n: int, zone: str = "UTC") -> list[datetime]:
    s = job if isinstance(job, Schedule) else sched(job, zone)
    return s.next_n(utc(after), n)


# --- SPEC §3, row by row (zone UTC unless said) --------------------------------------------------


@pytest.mark.parametrize(
    ("job", "after", "expected"),
    [
        (every().minute, "2024-05-01 10:03", ["10:04", "10:05", "10:06"]),
        (every(1).minutes, "2024-05-01 10:03", ["10:04", "10:05", "10:06"]),
        (every(10).minutes, "2024-05-01 10:03", ["10:10", "10:20", "10:30"]),
        (every(10).minutes, "2024-05-01 10:10", ["10:20", "10:30", "10:40"]),  # strictly after
        (every(7).minutes, "2024-05-01 10:50", ["10:56", "11:00", "11:07"]),  # m % 7 == 0, restarting at :00
        (every(15).minutes, "2024-05-01 10:45:30", ["11:00", "11:15", "11:30"]),
        (every(59).minutes, "2024-05-01 10:00", ["10:59", "11:00", "11:59"]),
    ],
)
def test_every_n_minutes_is_cron_step_over_the_minute_of_the_hour(job, after, expected):
    assert first(job, after, 3) == [utc(f"2024-05-01 {hm}") for hm in expected]


@pytest.mark.parametrize("n", range(1, 60))
def test_every_n_minutes_for_every_n_matches_cron_step(n):
    ours = first(every(n).minutes, "2024-05-01 10:00:30", 2 * (60 // n) + 2)
    theirs = first(compile_cron(f"*/{n} * * * *", UTC), "2024-05-01 10:00:30", len(ours))
    assert ours == theirs
    assert all(t.minute % n == 0 and t.second == 0 for t in ours)


def test_every_n_hours_and_at_minute():
    assert first(every().hour, "2024-05-01 10:00", 2) == utcs("2024-05-01 11:00", "2024-05-01 12:00")
    assert first(every(1).hours, "2024-05-01 10:59", 1) == utcs("2024-05-01 11:00")
    assert first(every(5).hours, "2024-05-01 16:00", 4) == utcs(
        "2024-05-01 20:00", "2024-05-02 00:00", "2024-05-02 05:00", "2024-05-02 10:00"
    )
    assert first(every().hour.at(":15"), "2024-05-01 10:15", 2) == utcs("2024-05-01 11:15", "2024-05-01 12:15")
    assert first(every().hour.at(":15"), "2024-05-01 10:14", 1) == utcs("2024-05-01 10:15")
    assert first(every(6).hours.at(":45"), "2024-05-01 07:00", 4) == utcs(
        "2024-05-01 12:45", "2024-05-01 18:45", "2024-05-02 00:45", "2024-05-02 06:45"
    )
    assert first(every(23).hours, "2024-05-01 01:00", 3) == utcs(
        "2024-05-01 23:00", "2024-05-02 00:00", "2024-05-02 23:00"
    )


def test_every_n_days_counts_days_since_the_epoch():
    # 2024-01-01 is day 19723: 19723 % 3 == 1, so days 19725, 19728, 19731 are Jan 3, 6, 9.
    assert first(every(3).days, "2024-01-01 00:00", 3) == utcs(
        "2024-01-03 00:00", "2024-01-06 00:00", "2024-01-09 00:00"
    )
    # 19723 % 7 == 4: day 19726 (a Thursday, like 1970-01-01) and a week later.
    assert first(every(7).days, "2024-01-01 00:00", 2) == utcs("2024-01-04 00:00", "2024-01-11 00:00")
    assert first(every(3).days.at("10:30"), "2024-01-03 10:30", 2) == utcs("2024-01-06 10:30", "2024-01-09 10:30")
    assert first(every(3).days.at("10:30"), "2024-01-03 10:29", 1) == utcs("2024-01-03 10:30")
    assert first(every(1).days, "1970-01-01 00:00", 1) == utcs("1970-01-02 00:00")
    assert first(every(2).days, "1969-12-31 23:59", 2) == utcs("1970-01-01 00:00", "1970-01-03 00:00")


def test_every_day_and_every_day_at():
    assert first(every().day, "2024-05-01 00:00", 2) == utcs("2024-05-02 00:00", "2024-05-03 00:00")
    assert first(every().day.at("10:30"), "2024-05-01 10:30", 2) == utcs("2024-05-02 10:30", "2024-05-03 10:30")
    assert first(every().day.at("10:30"), "2024-05-01 10:29:59", 1) == utcs("2024-05-01 10:30")
    assert first(every().day.at("9:05"), "2024-05-01 10:00", 1) == utcs("2024-05-02 09:05")
    assert first(every().day.at("23:59:00"), "2024-12-31 23:59", 1) == utcs("2025-01-01 23:59")
    assert first(every().day.at("00:00"), "2024-02-28 12:00", 2) == utcs("2024-02-29 00:00", "2024-03-01 00:00")


@pytest.mark.parametrize(
    ("day", "expected"),  # from Wednesday 2024-05-01 12:00, at 09:00
    [
        ("monday", "2024-05-06 09:00"),
        ("tuesday", "2024-05-07 09:00"),
        ("wednesday", "2024-05-08 09:00"),  # today's 09:00 has passed
        ("thursday", "2024-05-02 09:00"),
        ("friday", "2024-05-03 09:00"),
        ("saturday", "2024-05-04 09:00"),
        ("sunday", "2024-05-05 09:00"),
    ],
)
def test_each_weekday_at(day, expected):
    job = getattr(every(), day).at("09:00")
    nxt = first(job, "2024-05-01 12:00", 2)
    assert nxt == [utc(expected), utc(expected) + timedelta(days=7)]


def test_weekday_without_at_is_midnight_and_same_day_counts_before_the_time():
    assert first(every().sunday, "2024-05-01 12:00", 1) == utcs("2024-05-05 00:00")
    assert first(every().wednesday.at("13:00"), "2024-05-01 12:00", 1) == utcs("2024-05-01 13:00")


def test_every_week_and_every_n_weeks_are_mondays_counted_from_the_epoch_week():
    assert first(every().week, "2024-05-01 00:00", 2) == utcs("2024-05-06 00:00", "2024-05-13 00:00")
    assert first(every(1).weeks.at("08:15"), "2024-05-06 08:15", 1) == utcs("2024-05-13 08:15")
    # Monday 2024-05-06 is week 2836 (even).
    assert first(every(2).weeks, "2024-05-01 00:00", 3) == utcs(
        "2024-05-06 00:00", "2024-05-20 00:00", "2024-06-03 00:00"
    )
    # 2836 % 3 == 1: weeks 2838 and 2841 are May 20 and June 10.
    assert first(every(3).weeks.at("08:15"), "2024-05-01 00:00", 2) == utcs("2024-05-20 08:15", "2024-06-10 08:15")
    # The epoch week itself (Monday 1969-12-29) is week 0.
    assert first(every(2).weeks, "1969-12-28 00:00", 2) == utcs("1969-12-29 00:00", "1970-01-12 00:00")


def test_at_with_a_zone_overrides_the_default_zone():
    job = every().day.at("10:30", "Europe/Amsterdam")
    for default in ("UTC", "America/New_York", "Asia/Tokyo"):
        s = sched(job, default)
        assert s.zone_given
        assert s.tz.key == "Europe/Amsterdam"
        # CEST (+02) in May, CET (+01) in January
        assert s.next_n(utc("2024-05-01 00:00"), 2) == utcs("2024-05-01 08:30", "2024-05-02 08:30")
        assert s.next_n(utc("2024-01-10 00:00"), 1) == utcs("2024-01-10 09:30")
    s = sched(every().monday.at("09:00", "America/New_York"), "Europe/Amsterdam")
    assert s.next_n(utc("2024-05-01 00:00"), 1) == utcs("2024-05-06 13:00")  # EDT, -04
    s = sched(every(2).hours.at(":30", "Asia/Kolkata"))  # +05:30: local 00:30 is 19:00 UTC
    assert s.next_n(utc("2024-05-01 18:00"), 2) == utcs("2024-05-01 19:00", "2024-05-01 21:00")


def test_default_zone_applies_without_an_override():
    s = sched(every().day.at("10:30"), "America/New_York")
    assert not s.zone_given
    assert s.next_n(utc("2024-05-01 00:00"), 1) == utcs("2024-05-01 14:30")


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # names and ranges: Jan-Mar, Mon-Fri. From a Friday in March the next match is next January.
        (
            "0 9 * JAN-MAR MON-FRI",
            "2024-03-29 10:00",
            ["2025-01-01 09:00", "2025-01-02 09:00", "2025-01-03 09:00", "2025-01-06 09:00"],
        ),
        ("0 9 * jan-mar mon-fri", "2024-03-29 10:00", ["2025-01-01 09:00"]),
        ("*/20 8-10 * * *", "2024-05-01 10:50", ["2024-05-02 08:00", "2024-05-02 08:20", "2024-05-02 08:40"]),
        (
            "5-10/2 * * * *",
            "2024-05-01 10:00",
            ["2024-05-01 10:05", "2024-05-01 10:07", "2024-05-01 10:09", "2024-05-01 11:05"],
        ),
        ("0,30 */12 * * *", "2024-05-01 00:00", ["2024-05-01 00:30", "2024-05-01 12:00", "2024-05-01 12:30"]),
        ("15 14 1 * *", "2024-05-01 14:15", ["2024-06-01 14:15", "2024-07-01 14:15"]),
        # L: the last day of the month (leap February)
        ("0 12 L * *", "2024-02-01 00:00", ["2024-02-29 12:00", "2024-03-31 12:00", "2024-04-30 12:00"]),
        # W: the nearest weekday, never leaving the month. 2024-06-15 is a Saturday, 2024-09-15 a Sunday,
        # 2024-06-01 a Saturday (so 1W is Monday June 3, not Friday May 31).
        ("0 9 15W * *", "2024-06-01 00:00", ["2024-06-14 09:00", "2024-07-15 09:00"]),
        ("0 9 15W * *", "2024-09-01 00:00", ["2024-09-16 09:00"]),
        ("0 9 1W * *", "2024-05-02 00:00", ["2024-06-03 09:00", "2024-07-01 09:00"]),
        # #: the n-th weekday of the month. Fridays of May 2024: 3, 10, 17, 24, 31.
        ("0 9 * * 5#3", "2024-05-01 00:00", ["2024-05-17 09:00", "2024-06-21 09:00"]),
        ("0 9 * * FRI#2", "2024-05-01 00:00", ["2024-05-10 09:00", "2024-06-14 09:00"]),
        ("0 9 * * L5", "2024-05-01 00:00", ["2024-05-31 09:00", "2024-06-28 09:00"]),  # last Friday
        # day of month OR day of week when both are restricted (Vixie cron)
        (
            "0 9 13 * FRI",
            "2024-05-01 00:00",
            ["2024-05-03 09:00", "2024-05-10 09:00", "2024-05-13 09:00", "2024-05-17 09:00"],
        ),
        ("0 0 * * 7", "2024-05-01 00:00", ["2024-05-05 00:00"]),  # 7 is Sunday too
        ("0 0 29 2 *", "2024-03-01 00:00", ["2028-02-29 00:00"]),
        # aliases
        ("@hourly", "2024-05-01 10:30", ["2024-05-01 11:00", "2024-05-01 12:00"]),
        ("@daily", "2024-05-01 10:30", ["2024-05-02 00:00", "2024-05-03 00:00"]),
        ("@midnight", "2024-05-01 10:30", ["2024-05-02 00:00"]),
        ("@weekly", "2024-05-01 10:30", ["2024-05-05 00:00", "2024-05-12 00:00"]),  # Sundays
        ("@monthly", "2024-05-01 10:30", ["2024-06-01 00:00", "2024-07-01 00:00"]),
        ("@yearly", "2024-05-01 10:30", ["2025-01-01 00:00", "2026-01-01 00:00"]),
        ("@annually", "2024-05-01 10:30", ["2025-01-01 00:00"]),
        ("@DAILY", "2024-05-01 10:30", ["2024-05-02 00:00"]),
    ],
)
def test_cron_expressions(expression, after, expected):
    assert first(cron(expression), after, len(expected)) == [utc(e) for e in expected]
    # the same text as a frontmatter `schedule:` field
    assert first(compile_cron(expression, UTC), after, len(expected)) == [utc(e) for e in expected]


def test_frontmatter_schedule_strings_are_trimmed_and_keep_their_text():
    s = compile_cron("  */5   * * * *  ", UTC)
    assert s.pattern == CronPattern("*/5 * * * *")
    assert s.text == 'cron("*/5   * * * *")'
    assert s.next_n(utc("2024-05-01 10:01"), 2) == utcs("2024-05-01 10:05", "2024-05-01 10:10")
    assert compile_cron("@daily", ZoneInfo("Europe/Amsterdam")).next_n(utc("2024-05-01 10:00"), 1) == utcs(
        "2024-05-01 22:00"
    )


def test_cron_in_a_zone():
    s = compile_cron("0 9 * * MON-FRI", ZoneInfo("America/New_York"))
    assert s.next_n(utc("2024-05-03 14:00"), 2) == utcs("2024-05-06 13:00", "2024-05-07 13:00")


def test_render_describe_and_key():
    job = every().day.at("10:30", "Europe/Amsterdam")
    assert render(job.chain) == 'every().day.at("10:30", "Europe/Amsterdam")'
    assert repr(every(10).minutes) == "every(10).minutes"
    s = sched(job, "UTC")
    assert s.describe() == "every day at 10:30 (Europe/Amsterdam)"
    assert s.key == 'every().day.at("10:30", "Europe/Amsterdam") @ Europe/Amsterdam'
    assert sched(every(10).minutes, "Asia/Tokyo").key == "every(10).minutes @ Asia/Tokyo"
    assert sched(every(10).minutes).describe() == "every 10 minutes at :00, :10, :20, :30 …"
    assert sched(every().minute).describe() == "every minute"
    assert sched(every(6).hours.at(":05")).describe() == "every 6 hours at 00:05, 06:05, 12:05, 18:05"
    assert sched(every().hour).describe() == "every hour at :00"
    assert sched(every(2).weeks.at("08:00")).describe() == "every 2 weeks on Monday at 08:00"
    assert sched(every().friday.at("17:45")).describe() == "every Friday at 17:45"
    assert sched(cron("@hourly")).describe() == "cron 0 * * * *"
    # the key tells schedule edits apart, and zones apart
    assert sched(every(10).minutes, "UTC").key != sched(every(5).minutes, "UTC").key
    assert sched(every(10).minutes, "UTC").key != sched(every(10).minutes, "Europe/Amsterdam").key


def test_slots_is_half_open_and_oldest_first():
    s = sched(every(10).minutes)
    assert list(s.slots(utc("2024-05-01 10:00"), utc("2024-05-01 10:30"))) == utcs(
        "2024-05-01 10:10", "2024-05-01 10:20", "2024-05-01 10:30"
    )
    assert list(s.slots(utc("2024-05-01 10:00"), utc("2024-05-01 10:09"))) == []


def test_next_after_accepts_any_aware_datetime():
    s = sched(every(10).minutes)
    tokyo = datetime(2024, 5, 1, 19, 5, tzinfo=ZoneInfo("Asia/Tokyo"))  # 10:05 UTC
    assert s.next_after(tokyo) == utc("2024-05-01 10:10")
    assert s.next_after(tokyo).tzinfo is UTC


# --- rejections -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("job", "shown", "advice"),
    [
        (every(0).minutes, "every(0).minutes", "1 <= N <= 59"),
        (every(60).minutes, "every(60).minutes", "1 <= N <= 59"),
        (every(-1).minutes, "every(-1).minutes", "1 <= N <= 59"),
        (every(24).hours, "every(24).hours", "1 <= N <= 23"),
        (every(0).hours, "every(0).hours", "1 <= N <= 23"),
        (every(0).days, "every(0).days", "1 <= N"),
        (every(0).weeks, "every(0).weeks", "1 <= N"),
        (every(5).minute, "every(5).minute", "every(5).minutes"),
        (every(2).hour, "every(2).hour", "every(2).hours"),
        (every(3).day, "every(3).day", "every(3).days"),
        (every(2).week, "every(2).week", "every(2).weeks"),
        # sub-minute slots exist only for N dividing 60, so that every minute has the same slots
        (every(7).seconds, "every(7).seconds", "N dividing 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)"),
        (every(45).seconds, "every(45).seconds", "N dividing 60"),
        (every(0).seconds, "every(0).seconds", "N dividing 60"),
        (every(60).seconds, "every(60).seconds", "use every().minute"),
        (every(120).seconds, "every(120).seconds", "use every(2).minutes"),
        (every(5).second, "every(5).second", "every(5).seconds"),
        (every(10).seconds.at(":30"), 'every(10).seconds.at(":30")', "every N seconds of every minute"),
        (every(5).to(10).minutes, "every(5).to(10).minutes", "every(N).minutes"),
        (every(10).minutes.until("18:00"), 'every(10).minutes.until("18:00")', "enabled: false"),
        (every().day.at("25:00"), 'every().day.at("25:00")', '"HH:MM"'),
        (every().day.at("10:60"), 'every().day.at("10:60")', '"HH:MM"'),
        (every().day.at("10:30:15"), 'every().day.at("10:30:15")', '"HH:MM"'),
        (every().day.at("10h30"), 'every().day.at("10h30")', '"HH:MM"'),
        (every().day.at(1030), "every().day.at(1030)", '"10:30"'),
        (every().monday.at("7pm"), 'every().monday.at("7pm")', '"HH:MM"'),
        (every().hour.at("10:30"), 'every().hour.at("10:30")', '":MM"'),
        (every().hour.at(":60"), 'every().hour.at(":60")', '":MM"'),
        (every().minute.at(":30"), 'every().minute.at(":30")', "sub-minute"),
        (every().day.at("10:30", "Mars/Olympus_Mons"), "Mars/Olympus_Mons", "Europe/Amsterdam"),
        (
            every().day.at("10:30", "Europe/Amsterdam", "x"),
            'every().day.at("10:30", "Europe/Amsterdam", "x")',
            '.at("10:30")',
        ),
        (every(2).monday, "every(2).monday", "every().monday"),
        (every().fortnight, "every().fortnight", "every(N).minutes"),
        (every(10), "every(10)", "every(N).minutes"),
        (every(1.5).minutes, "every(1.5).minutes", "whole number"),
        (every("5").minutes, 'every("5").minutes', "whole number"),
        (every(True).minutes, "every(True).minutes", "whole number"),
        (every(10).minutes.do(print), "every(10).minutes.do(", "@repeat"),
        (every().day.at("10:30").at("11:30"), 'every().day.at("10:30").at("11:30")', "valid forms"),
        (cron("* * * *"), 'cron("* * * *")', "5 cron fields (minute hour day-of-month month day-of-week)"),
        (cron("* * * * * *"), 'cron("* * * * * *")', "5 cron fields"),
        (cron("@reboot"), 'cron("@reboot")', "@hourly"),
        (cron("0 0 30 2 *"), 'cron("0 0 30 2 *")', "never matches"),
        (cron("0 0 31 4,6,9,11 *"), 'cron("0 0 31 4,6,9,11 *")', "never matches"),
        (cron("60 * * * *"), 'cron("60 * * * *")', "invalid"),
        (cron("* * * * 8"), 'cron("* * * * 8")', "invalid"),
        (cron("0 0 * FOO *"), 'cron("0 0 * FOO *")', "invalid"),
        (Job((("cron", (5,)),)), "cron(5)", 'cron("*/5 * * * *")'),
        (Job((("hourly", None),)), "hourly", "every(N).minutes"),
    ],
)
def test_rejections_show_the_expression_and_the_valid_form(job, shown, advice):
    with pytest.raises(ScheduleError) as caught:
        compile_chain(job.chain, UTC)
    message = str(caught.value)
    assert shown in message
    assert advice in message


def test_sub_minute_slots_are_real_seconds_never_rounded():
    # every(N).seconds is supported (the tick serves the rest of its minute): slots are exact seconds.
    assert first(every(10).seconds, "2024-05-01 10:00:05", 7) == utcs(
        "2024-05-01 10:00:10",
        "2024-05-01 10:00:20",
        "2024-05-01 10:00:30",
        "2024-05-01 10:00:40",
        "2024-05-01 10:00:50",
        "2024-05-01 10:01:00",
        "2024-05-01 10:01:10",
    )
    assert first(every().second, "2024-05-01 10:00:59.5", 2) == utcs("2024-05-01 10:01:00", "2024-05-01 10:01:01")
    assert first(every(1).seconds, "2024-05-01 10:00:59", 1) == utcs("2024-05-01 10:01:00")
    assert first(every(30).seconds, "2024-05-01 10:00:30", 2) == utcs("2024-05-01 10:01:00", "2024-05-01 10:01:30")
    assert sched(every(15).seconds).describe() == "every 15 seconds"
    assert schedule_module.is_sub_minute(sched(every(15).seconds))
    assert not schedule_module.is_sub_minute(sched(every().minute))


@pytest.mark.parametrize(
    ("zone", "after"),
    [(AMS, "2024-03-31 00:59:20"), (AMS, "2024-10-27 00:59:20"), (NYC, "2024-11-03 05:59:20")],
)
def test_sub_minute_slots_follow_real_time_across_dst(zone, after):
    got = first(every(20).seconds, after, 4, zone)
    assert got == [utc(after) + timedelta(seconds=20 * k) for k in range(1, 5)]


def test_empty_chain_is_rejected():
    with pytest.raises(ScheduleError, match="empty"):
        compile_chain((), UTC)


@pytest.mark.parametrize("expression", ["@reboot", "* * * *", "* * * * * *", "0 0 30 2 *", "", "   "])
def test_frontmatter_cron_rejections(expression):
    with pytest.raises(ScheduleError) as caught:
        compile_cron(expression, UTC)
    assert expression.strip() in str(caught.value)


def test_largest_valid_n_is_accepted():
    for job in (every(59).minutes, every(23).hours, every(3660).days, every(520).weeks, every(1).minute):
        compile_chain(job.chain, UTC)
    for job in (every(3661).days, every(521).weeks):
        with pytest.raises(ScheduleError, match="1 <= N"):
            compile_chain(job.chain, UTC)


# --- DST: the two rules of SPEC §3 ----------------------------------------------------------------
#
# Europe/Amsterdam 2024: 03-31 01:00Z 02:00 CET -> 03:00 CEST; 10-27 01:00Z 03:00 CEST -> 02:00 CET.
# America/New_York 2024: 03-10 07:00Z 02:00 EST -> 03:00 EDT; 11-03 06:00Z 02:00 EDT -> 01:00 EST.
# Australia/Lord_Howe 2024 (30-minute shift): 04-06 15:00Z 02:00 (+11) -> 01:30 (+10:30);
#   10-05 15:30Z 02:00 (+10:30) -> 02:30 (+11).


FIXED_0230 = [every().day.at("02:30"), cron("30 2 * * *")]


def render_ids(job: Job) -> str:
    return render(job.chain)


@pytest.mark.parametrize("job", FIXED_0230, ids=render_ids)
def test_amsterdam_spring_forward_fixed_time_runs_once_after_the_gap(job):
    assert first(job, "2024-03-29 12:00", 3, AMS) == utcs(
        "2024-03-30 01:30",  # 02:30 CET
        "2024-03-31 01:00",  # 02:30 does not exist: 03:00 CEST, the first instant after the gap
        "2024-04-01 00:30",  # 02:30 CEST
    )


@pytest.mark.parametrize("job", FIXED_0230, ids=render_ids)
def test_amsterdam_fall_back_fixed_time_runs_at_the_first_occurrence_only(job):
    assert first(job, "2024-10-25 12:00", 3, AMS) == utcs(
        "2024-10-26 00:30",  # 02:30 CEST
        "2024-10-27 00:30",  # 02:30 CEST; not again at 01:30Z (02:30 CET)
        "2024-10-28 01:30",  # 02:30 CET
    )
    # from between the two occurrences, the next slot is the next day
    assert first(job, "2024-10-27 00:45", 1, AMS) == utcs("2024-10-28 01:30")
    assert first(job, "2024-10-27 01:29", 1, AMS) == utcs("2024-10-28 01:30")


@pytest.mark.parametrize("job", [every().day.at("02:30"), cron("30 2 * * *")], ids=render_ids)
def test_new_york_spring_forward_fixed_time(job):
    assert first(job, "2024-03-08 12:00", 3, NYC) == utcs(
        "2024-03-09 07:30",  # 02:30 EST
        "2024-03-10 07:00",  # no 02:30: 03:00 EDT
        "2024-03-11 06:30",  # 02:30 EDT
    )


@pytest.mark.parametrize("job", [every().day.at("01:30"), cron("30 1 * * *")], ids=render_ids)
def test_new_york_fall_back_fixed_time(job):
    assert first(job, "2024-11-01 12:00", 3, NYC) == utcs(
        "2024-11-02 05:30",  # 01:30 EDT
        "2024-11-03 05:30",  # 01:30 EDT only, not 06:30Z (01:30 EST)
        "2024-11-04 06:30",  # 01:30 EST
    )
    # 02:30 exists once on the fall-back day in New York (the repeated hour is 01:00-02:00)
    assert first(every().day.at("02:30"), "2024-11-02 12:00", 2, NYC) == utcs("2024-11-03 07:30", "2024-11-04 07:30")


def test_weekday_at_a_nonexistent_and_a_repeated_time():
    # 2024-03-31, 2024-10-27, 2024-03-10 and 2024-11-03 are Sundays.
    assert first(every().sunday.at("02:30"), "2024-03-25 00:00", 2, AMS) == utcs("2024-03-31 01:00", "2024-04-07 00:30")
    assert first(every().sunday.at("02:30"), "2024-10-21 00:00", 2, AMS) == utcs("2024-10-27 00:30", "2024-11-03 01:30")
    assert first(every().sunday.at("02:30"), "2024-03-04 00:00", 2, NYC) == utcs("2024-03-10 07:00", "2024-03-17 06:30")
    assert first(every().sunday.at("01:30"), "2024-10-28 00:00", 2, NYC) == utcs("2024-11-03 05:30", "2024-11-10 06:30")
    assert first(every().week.at("02:30"), "2024-03-25 12:00", 1, AMS) == utcs("2024-04-01 00:30")


def test_lord_howe_half_hour_shift_fixed_time():
    # spring: 02:15 does not exist on 2024-10-06, it runs at 02:30 (+11), the first instant after the gap
    assert first(every().day.at("02:15"), "2024-10-04 12:00", 3, LHI) == utcs(
        "2024-10-04 15:45", "2024-10-05 15:30", "2024-10-06 15:15"
    )
    # fall: 01:45 happens at 14:45Z (+11) and again at 15:15Z (+10:30): first only
    assert first(every().day.at("01:45"), "2024-04-05 12:00", 3, LHI) == utcs(
        "2024-04-05 14:45", "2024-04-06 14:45", "2024-04-07 15:15"
    )
    assert first(cron("45 1 * * *"), "2024-04-05 12:00", 3, LHI) == utcs(
        "2024-04-05 14:45", "2024-04-06 14:45", "2024-04-07 15:15"
    )


def _steps(instants: list[datetime]) -> set[timedelta]:
    return {b - a for a, b in itertools.pairwise(instants)}


@pytest.mark.parametrize(
    ("zone", "after", "n"),
    [
        (AMS, "2024-03-31 00:25", 10),  # spring forward at 01:00Z
        (AMS, "2024-10-27 00:25", 16),  # fall back at 01:00Z
        (NYC, "2024-03-10 06:25", 10),  # spring forward at 07:00Z
        (NYC, "2024-11-03 05:25", 16),  # fall back at 06:00Z
        (LHI, "2024-10-05 14:55", 10),  # spring forward (30 min) at 15:30Z
        (LHI, "2024-04-06 14:25", 16),  # fall back (30 min) at 15:00Z
    ],
)
def test_every_10_minutes_follows_real_time_across_both_transitions(zone, after, n):
    start = utc(after)
    expected = [start + timedelta(minutes=5 + 10 * k) for k in range(n)]
    assert first(every(10).minutes, after, n, zone) == expected


def test_every_10_minutes_amsterdam_fall_back_runs_both_real_instants_of_the_repeated_hour():
    got = first(every(10).minutes, "2024-10-26 23:55", 14, AMS)
    assert got == [utc("2024-10-27 00:00") + timedelta(minutes=10 * k) for k in range(14)]
    walls = [t.astimezone(ZoneInfo(AMS)).strftime("%H:%M%z") for t in got]
    assert walls[:7] == [
        "02:00+0200",
        "02:10+0200",
        "02:20+0200",
        "02:30+0200",
        "02:40+0200",
        "02:50+0200",
        "02:00+0100",
    ]
    assert walls[7:] == [
        "02:10+0100",
        "02:20+0100",
        "02:30+0100",
        "02:40+0100",
        "02:50+0100",
        "03:00+0100",
        "03:10+0100",
    ]


@pytest.mark.parametrize(
    ("zone", "after", "expected"),
    [
        (AMS, "2024-03-30 22:30", ["2024-03-30 23:00", "2024-03-31 00:00", "2024-03-31 01:00", "2024-03-31 02:00"]),
        (AMS, "2024-10-26 22:30", ["2024-10-26 23:00", "2024-10-27 00:00", "2024-10-27 01:00", "2024-10-27 02:00"]),
        (NYC, "2024-03-10 04:30", ["2024-03-10 05:00", "2024-03-10 06:00", "2024-03-10 07:00", "2024-03-10 08:00"]),
        (NYC, "2024-11-03 03:30", ["2024-11-03 04:00", "2024-11-03 05:00", "2024-11-03 06:00", "2024-11-03 07:00"]),
    ],
)
@pytest.mark.parametrize("job", [every(1).hours, every().hour, cron("0 * * * *"), cron("@hourly")], ids=render_ids)
def test_every_hour_follows_real_time_across_both_transitions(zone, after, expected, job):
    assert first(job, after, 4, zone) == [utc(e) for e in expected]


@pytest.mark.parametrize(
    ("zone", "after"),
    [(AMS, "2024-03-31 00:05"), (AMS, "2024-10-26 23:50"), (NYC, "2024-03-10 06:05"), (NYC, "2024-11-03 04:50")],
)
def test_cron_every_15_minutes_has_no_duplicate_and_no_gap(zone, after):
    got = first(cron("*/15 * * * *"), after, 12, zone)
    assert got[0] == utc(after) + timedelta(minutes=10)
    assert _steps(got) == {timedelta(minutes=15)}


def test_interval_with_a_step_that_does_not_divide_the_shift():
    # every 7 minutes in Lord Howe's 30-minute gap: walls 02:03 ... 02:28 do not exist and run once, at
    # 02:30 (+11) = 15:30Z, the first instant after the gap; then 02:35 (+11).
    assert first(every(7).minutes, "2024-10-05 15:20", 3, LHI) == utcs(
        "2024-10-05 15:26", "2024-10-05 15:30", "2024-10-05 15:35"
    )
    # fall back: 01:56 (+11) = 14:56Z, then the clock reads 01:30 again: 01:35 (+10:30) = 15:05Z
    assert first(every(7).minutes, "2024-04-06 14:50", 4, LHI) == utcs(
        "2024-04-06 14:56", "2024-04-06 15:05", "2024-04-06 15:12", "2024-04-06 15:19"
    )


def test_every_n_hours_at_minute_across_the_gap():
    # every 2 hours at :30 in New York: 02:30 does not exist on 2024-03-10 -> 03:00 EDT (07:00Z)
    assert first(every(2).hours.at(":30"), "2024-03-10 05:00", 3, NYC) == utcs(
        "2024-03-10 05:30", "2024-03-10 07:00", "2024-03-10 08:30"
    )


def test_instants_helper():
    ams = ZoneInfo(AMS)
    assert instants(datetime(2024, 10, 27, 2, 30), ams, interval=True) == utcs("2024-10-27 00:30", "2024-10-27 01:30")
    assert instants(datetime(2024, 10, 27, 2, 30), ams, interval=False) == utcs("2024-10-27 00:30")
    assert instants(datetime(2024, 3, 31, 2, 30), ams, interval=True) == utcs("2024-03-31 01:00")
    assert instants(datetime(2024, 3, 31, 2, 30), ams, interval=False) == utcs("2024-03-31 01:00")
    assert instants(datetime(2024, 5, 1, 2, 30), ams, interval=True) == utcs("2024-05-01 00:30")


def test_a_backward_shift_larger_than_three_hours():
    # Antarctica/Vostok went from +07 to +00 at 1994-01-31 17:00Z: the wall clock fell back 7 hours,
    # from 1994-02-01 00:00 to 1994-01-31 17:00. Interval slots at walls 18:00 and 00:00 (every 6 h):
    # 18:00 happens at 11:00Z (+07) and again at 18:00Z (+00); 00:00 on Feb 1 only at 00:00Z.
    vostok = "Antarctica/Vostok"
    for after in ("1994-01-31 11:30", "1994-01-31 13:30", "1994-01-31 16:30"):
        assert first(every(6).hours, after, 2, vostok) == utcs("1994-01-31 18:00", "1994-02-01 00:00")
    # a fixed time runs at the first occurrence only
    assert first(every().day.at("18:00"), "1994-01-31 10:00", 2, vostok) == utcs("1994-01-31 11:00", "1994-02-01 18:00")


def test_a_day_that_does_not_exist():
    # Pacific/Apia skipped 2011-12-30 (from -10 to +14 at 2011-12-30 10:00Z): the daily 10:00 of the
    # missing day runs at the first instant after the gap, 2011-12-31 00:00 (+14).
    assert first(every().day.at("10:00"), "2011-12-28 00:00", 4, "Pacific/Apia") == utcs(
        "2011-12-28 20:00",  # 10:00 (-10) on the 28th
        "2011-12-29 20:00",  # and on the 29th
        "2011-12-30 10:00",  # the 30th never was: 00:00 (+14) on the 31st
        "2011-12-30 20:00",  # 10:00 (+14) on the 31st
    )


def test_a_zone_with_a_sub_minute_offset():
    # Africa/Monrovia was -00:44:30 until 1972-01-07: wall-clock minutes fall on :30 seconds UTC.
    assert first(every(15).minutes, "1971-06-01 12:00", 2, "Africa/Monrovia") == utcs(
        "1971-06-01 12:14:30", "1971-06-01 12:29:30"
    )


def test_croniter_alone_is_not_trusted_at_the_fall_back(monkeypatch):
    """Our design runs croniter on naive wall times only; the DST rules are ours.

    Given tz-aware datetimes, croniter 7 fires a fixed-hour job twice on the fall-back day, once at each
    occurrence of the repeated wall time: `30 2 * * *` in Amsterdam at both 00:30Z and 01:30Z on
    2024-10-27, `30 1 * * *` in New York at both 05:30Z and 06:30Z on 2024-11-03. The contract (and
    Vixie cron) runs a fixed time once, at the first occurrence.
    """
    import croniter as croniter_module

    def aware(expression: str, zone: str, after: str, n: int) -> list[datetime]:
        it = croniter_module.croniter(expression, utc(after).astimezone(ZoneInfo(zone)))
        return [it.get_next(datetime).astimezone(UTC) for _ in range(n)]

    assert aware("30 2 * * *", AMS, "2024-10-26 12:00", 3) == utcs(
        "2024-10-27 00:30", "2024-10-27 01:30", "2024-10-28 01:30"
    )
    assert aware("30 1 * * *", NYC, "2024-11-02 12:00", 3) == utcs(
        "2024-11-03 05:30", "2024-11-03 06:30", "2024-11-04 06:30"
    )

    seen = []
    real_init, real_set = croniter_module.croniter.__init__, croniter_module.croniter.set_current

    def spy_init(self, expr, start_time=None, *args, **kwargs):
        seen.append(start_time)
        real_init(self, expr, start_time, *args, **kwargs)

    def spy_set(self, start_time, *args, **kwargs):
        seen.append(start_time)
        return real_set(self, start_time, *args, **kwargs)

    monkeypatch.setattr(croniter_module.croniter, "__init__", spy_init)
    monkeypatch.setattr(croniter_module.croniter, "set_current", spy_set)
    schedule_module._CRONITERS.__dict__.clear()
    assert first(cron("30 2 * * *"), "2024-10-26 12:00", 3, AMS) == utcs(
        "2024-10-27 00:30", "2024-10-28 01:30", "2024-10-29 01:30"
    )
    assert first(cron("30 1 * * *"), "2024-11-02 12:00", 3, NYC) == utcs(
        "2024-11-03 05:30", "2024-11-04 06:30", "2024-11-05 06:30"
    )
    starts = [s for s in seen if s is not None]  # croniter's own __init__ calls set_current(None)
    assert starts, "croniter was not used"
    assert all(isinstance(s, datetime) and s.tzinfo is None for s in starts), starts
    schedule_module._CRONITERS.__dict__.clear()


def test_reused_croniter_matches_a_fresh_one():
    from croniter import croniter

    pattern = CronPattern("0 9 * * 5#3")
    for start in (
        datetime(2024, 5, 17, 9, 0),
        datetime(2024, 1, 1),
        datetime(2024, 5, 17, 8, 59, 59),
        datetime(2023, 12, 31),
    ):
        assert pattern.next_wall(start) == croniter("0 9 * * 5#3", start.replace(second=0)).get_next(datetime)


# --- properties over zones and years --------------------------------------------------------------


def _loads(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True


ZONES = sorted(z for z in available_timezones() if _loads(z))
LO, HI = datetime(1971, 1, 1, tzinfo=UTC), datetime(2037, 12, 31, tzinfo=UTC)
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _offset(t: datetime, tz: ZoneInfo) -> timedelta:
    return t.astimezone(tz).utcoffset() or timedelta(0)


@functools.lru_cache(maxsize=4096)
def _transitions(zone: str, year: int) -> tuple[datetime, ...]:
    """The offset changes of `zone` in `year` (weekly samples, then bisection to the second)."""
    tz = ZoneInfo(zone)
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    points = [start + k * 7 * 86400 for k in range(54)]
    found = []
    for a, b in itertools.pairwise(points):
        ta, tb = (datetime.fromtimestamp(x, UTC) for x in (a, b))
        if _offset(ta, tz) != _offset(tb, tz):
            lo, hi = a, b
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(datetime.fromtimestamp(mid, UTC), tz) == _offset(ta, tz):
                    lo = mid
                else:
                    hi = mid
            found.append(datetime.fromtimestamp(hi, UTC))
    return tuple(found)


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[str, datetime]:
    """A zone and an instant in 1971-2037; most of the time within 4 hours of one of its transitions."""
    zone = draw(st.sampled_from(ZONES))
    year = draw(st.integers(1971, 2037))
    near = _transitions(zone, year)
    if near and draw(st.integers(0, 3)):
        t = draw(st.sampled_from(near)) + timedelta(seconds=draw(st.integers(-4 * 3600, 4 * 3600)))
    else:
        t = datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 365 * 86400)))
    if draw(st.booleans()):
        t = t.replace(second=0)  # often exactly on a minute, where slots are
    return zone, t


HHMM = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
WEEKDAY = st.sampled_from(["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"])


def _cron_field(values: st.SearchStrategy[int], top: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just("*"),
        st.integers(2, max(2, top // 2)).map(lambda n: f"*/{n}"),
        values.map(str),
        st.lists(values, min_size=2, max_size=3, unique=True).map(lambda v: ",".join(map(str, sorted(v)))),
        st.tuples(values, values).map(lambda ab: f"{min(ab)}-{max(ab)}"),
    )


CRON = st.one_of(
    st.builds(
        lambda mi, h, dom, mon, dow: f"{mi} {h} {dom} {mon} {dow}",
        _cron_field(st.integers(0, 59), 59),
        _cron_field(st.integers(0, 23), 23),
        st.one_of(st.just("*"), st.just("L"), st.integers(1, 28).map(str), st.integers(1, 28).map(lambda d: f"{d}W")),
        st.one_of(st.just("*"), st.just("*/3"), st.just("JAN-JUN"), st.integers(1, 12).map(str)),
        st.one_of(
            st.just("*"),
            st.just("MON-FRI"),
            st.integers(0, 6).map(str),
            st.builds(lambda d, k: f"{d}#{k}", st.integers(0, 6), st.integers(1, 4)),
        ),
    ),
    st.sampled_from(["@hourly", "@daily", "@weekly", "@monthly", "@yearly"]),
)

# (job, the longest possible wait for the next slot). DST can lengthen a wait by the size of a forward
# jump (at most a day, Pacific/Apia 2011), hence the margin.
MARGIN = timedelta(days=2)
EXPRESSIONS = st.one_of(
    st.integers(1, 59).map(lambda n: (every(n).minutes, timedelta(hours=1))),
    st.just((every().minute, timedelta(minutes=1))),
    st.integers(1, 23).map(lambda n: (every(n).hours, timedelta(days=1))),
    st.builds(lambda n, m: (every(n).hours.at(f":{m:02d}"), timedelta(days=1)), st.integers(1, 23), st.integers(0, 59)),
    st.integers(1, 40).map(lambda n: (every(n).days, timedelta(days=n))),
    st.builds(lambda n, at: (every(n).days.at(at), timedelta(days=n)), st.integers(1, 10), HHMM),
    st.builds(lambda at: (every().day.at(at), timedelta(days=1)), HHMM),
    st.builds(lambda d: (getattr(every(), d), timedelta(days=7)), WEEKDAY),
    st.builds(lambda d, at: (getattr(every(), d).at(at), timedelta(days=7)), WEEKDAY, HHMM),
    st.integers(1, 5).map(lambda n: (every(n).weeks, timedelta(weeks=n))),
    st.builds(lambda n, at: (every(n).weeks.at(at), timedelta(weeks=n)), st.integers(1, 5), HHMM),
    CRON.map(lambda e: (cron(e), timedelta(days=366))),
    st.sampled_from(schedule_module.SECOND_STEPS).map(lambda n: (every(n).seconds, timedelta(seconds=n))),
)


class _Counted:
    """A pattern that counts the wall times it is asked for, to show that next_after is bounded."""

    def __init__(self, inner) -> None:
        self.inner, self.calls = inner, 0
        self.interval = inner.interval

    def next_wall(self, c: datetime) -> datetime:
        self.calls += 1
        return self.inner.next_wall(c)


def _compiled(job: Job, zone: str) -> Schedule:
    try:
        return compile_chain(job.chain, ZoneInfo(zone))
    except ScheduleError:  # a generated cron that never matches (e.g. 30W in February only)
        assume(False)
        raise


@PROPS
@given(EXPRESSIONS, zone_and_instant())
def test_next_after_is_strictly_later_and_bounded(expr, case):
    (job, longest), (zone, t) = expr, case
    s = _compiled(job, zone)
    counted = _Counted(s.pattern)
    if schedule_module.is_sub_minute(s):  # computed from the instant, no wall times walked
        nxt = s.next_after(t)
    else:
        nxt = dataclasses.replace(s, pattern=counted).next_after(t)
    assert nxt > t
    assert nxt - t <= longest + MARGIN
    assert nxt.tzinfo is UTC
    # a handful of wall times, at most a scan over a 7-hour fall back minute by minute
    assert counted.calls <= 2 * 7 * 60 + 10


@PROPS
@given(EXPRESSIONS, zone_and_instant(), st.integers(1, 6 * 3600))
def test_slots_are_strictly_increasing_and_do_not_depend_on_the_start(expr, case, shift):
    (job, _), (zone, t) = expr, case
    s = _compiled(job, zone)
    got = list(itertools.islice(s.slots(t, t + timedelta(days=3)), 40))
    assert all(a < b for a, b in itertools.pairwise(got))
    assert len(set(got)) == len(got)
    assert all(t < x <= t + timedelta(days=3) for x in got)
    # starting later (between slots, or on one) gives the same slots from there on
    later = t + timedelta(seconds=shift)
    if got and later < got[-1]:
        tail = [x for x in got if x > later]
        assert list(itertools.islice(s.slots(later, got[-1]), len(tail))) == tail
    # each slot is found again from just before it
    for x in got[:5]:
        assert s.next_after(x - timedelta(seconds=1)) == x


def _interval_oracle(matches, tz: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """Step UTC minute by minute: a minute is a slot when its local wall time matches, or when it is
    the first instant after a gap that swallowed a matching wall time."""
    out = []
    u = after.replace(second=0, microsecond=0) + MIN
    while u <= until:
        wall = u.astimezone(tz).replace(tzinfo=None)
        before = (u - MIN).astimezone(tz).replace(tzinfo=None)
        if matches(wall):
            out.append(u)
        elif wall - before > MIN:
            skipped = before + MIN
            while skipped < wall and not matches(skipped):
                skipped += MIN
            if skipped < wall:
                out.append(u)
        u += MIN
    return out


INTERVALS = st.one_of(
    st.integers(1, 59).map(lambda n: (every(n).minutes, lambda w, n=n: w.minute % n == 0)),
    # croniter is ~50 times slower than the native patterns: every-minute cron is left to the tests above
    st.integers(2, 59).map(lambda n: (cron(f"*/{n} * * * *"), lambda w, n=n: w.minute % n == 0)),
    st.builds(
        lambda n, m: (every(n).hours.at(f":{m:02d}"), lambda w, n=n, m=m: w.hour % n == 0 and w.minute == m),
        st.integers(1, 6),
        st.integers(0, 59),
    ),
)


def _whole_minute_offsets(zone: str, t: datetime) -> bool:
    return zone != "Africa/Monrovia" or t >= datetime(1972, 2, 1, tzinfo=UTC)


@PROPS
@given(INTERVALS, zone_and_instant())
def test_interval_slots_equal_a_minute_by_minute_oracle(expr, case):
    (job, matches), (zone, t) = expr, case
    assume(_whole_minute_offsets(zone, t))
    tz = ZoneInfo(zone)
    after, until = t - timedelta(hours=3), t + timedelta(hours=3)
    assert list(compile_chain(job.chain, tz).slots(after, until)) == _interval_oracle(matches, tz, after, until)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(schedule_module.SECOND_STEPS), zone_and_instant())
def test_seconds_slots_equal_a_second_by_second_oracle(n, case):
    """every(N).seconds: each real second whose wall-clock second is a multiple of N, across DST too."""
    zone, t = case
    assume(_whole_minute_offsets(zone, t))
    tz = ZoneInfo(zone)
    after, until = t - timedelta(minutes=5), t + timedelta(minutes=5)
    expected, u = [], after.replace(microsecond=0) + timedelta(seconds=1)
    while u <= until:
        if u.astimezone(tz).second % n == 0:
            expected.append(u)
        u += timedelta(seconds=1)
    assert list(compile_chain(every(n).seconds.chain, tz).slots(after, until)) == expected


def _first_at_or_after(tz: ZoneInfo, wall: datetime) -> datetime:
    """The first whole UTC minute whose wall time in `tz` is `wall` or later (brute force)."""
    u = wall.replace(tzinfo=UTC) - timedelta(hours=15)  # no zone is more than 14 h ahead of UTC
    while u.astimezone(tz).replace(tzinfo=None) < wall:
        u += MIN
    return u


FIXED = st.one_of(
    st.builds(lambda at: (every().day.at(at), at, lambda d: True), HHMM),
    st.builds(lambda at: (cron(f"{int(at[3:])} {int(at[:2])} * * *"), at, lambda d: True), HHMM),
    st.builds(
        lambda n, at: (every(n).days.at(at), at, lambda d, n=n: (d - date(1970, 1, 1)).days % n == 0),
        st.integers(2, 3),
        HHMM,
    ),
    st.builds(
        lambda i, at: (getattr(every(), schedule_module.WEEKDAYS[i]).at(at), at, lambda d, i=i: d.weekday() == i),
        st.integers(0, 6),
        HHMM,
    ),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FIXED, zone_and_instant())
def test_fixed_time_equals_first_instant_at_or_after_the_wall_time(expr, case):
    """A fixed time of day runs at the first instant whose wall clock reads that time or later: the
    first occurrence of a repeated time, the end of the gap for a missing one."""
    (job, at, on_day), (zone, t) = expr, case
    assume(_whole_minute_offsets(zone, t))
    tz = ZoneInfo(zone)
    hh, mm = int(at[:2]), int(at[3:])
    # The slot of a day moves forward with the day, so the first day whose slot is after t holds the
    # next slot.
    d = t.astimezone(tz).date() - timedelta(days=2)
    while True:
        if on_day(d):
            slot = _first_at_or_after(tz, datetime(d.year, d.month, d.day, hh, mm))
            if slot > t:
                break
        d += timedelta(days=1)
    assert compile_chain(job.chain, tz).next_after(t) == slot


@settings(max_examples=100, deadline=None)
@given(CRON, st.datetimes(datetime(1971, 1, 1), datetime(2037, 12, 31)))
def test_cron_pattern_reusing_croniter_equals_a_fresh_croniter(expression, wall):
    from croniter import croniter

    try:
        s = compile_cron(expression, UTC)
    except ScheduleError:
        assume(False)
        raise
    expected = croniter(s.pattern.expression, wall.replace(second=0, microsecond=0)).get_next(datetime)
    assert s.pattern.next_wall(wall) == expected
