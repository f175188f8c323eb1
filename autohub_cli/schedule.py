"""Schedules: the `every(...)` / `cron(...)` DSL compiled into slot arithmetic, with the DST rules.

A schedule is a pattern over *wall-clock* times in a zone (e.g. "minute % 10 == 0", "10:30 on
Mondays"), turned into *instants* by two rules from the contract:

- a wall time that does not exist (spring forward) fires once, at the first instant after the gap;
- a wall time that exists twice (fall back) fires at both instants for interval schedules
  (`every(N).minutes`, `every(N).hours`, cron with `*` in the hour field: they follow real time) and
  at the first one only for fixed times of day (`.day.at`, weekdays, cron with a fixed hour).

A slot's identity is its UTC instant. Everything here is pure: time is passed in.

A schedule expression is a *chain* of calls and attribute reads, e.g. `every(10).minutes` is
`(("every", (10,)), ("minutes", None))`. Task files build chains at run time with
`autohub_cli.decorators`; the tick reads the same chain statically from the source.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

UTC = timezone.utc
_CRONITERS = threading.local()  # expression -> croniter, per thread (see CronPattern.next_wall)
MINUTE = timedelta(minutes=1)
# How far ahead `next_after` looks for a backward transition (fall back), after which wall times
# already passed come round again. It must exceed the largest backward shift of any real zone:
# most are 1 h, but Antarctica/Vostok went from +07 to +00 on 1994-01-31 and Alaska moved back a
# whole day in 1867. No zone has two offset changes within this span, so comparing the offsets at
# its two ends finds the shift.
_MAX_SHIFT = timedelta(hours=25)
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH_MONDAY = date(1969, 12, 29)  # Monday of the week holding 1970-01-01

Call = tuple[str, "tuple[Any, ...] | None"]
Chain = tuple[Call, ...]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CRON_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
VALID_FORMS = (
    "every(N).minutes (1-59), every().minute, every(N).hours (1-23), every().hour, "
    'every().hour.at(":MM"), every(N).days, every().day.at("HH:MM"), every().monday.at("HH:MM"), '
    'every(N).weeks, .at("HH:MM", "Area/City"), cron("*/5 * * * *"), '
    "every(N).seconds (N dividing 60: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30), every().second"
)
SECOND_STEPS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)  # N of every(N).seconds: the divisors of 60


class ScheduleError(ValueError):
    """An expression that is not a valid schedule; the message shows it and the valid form."""


# ---------------------------------------------------------------------------------------------
# Wall-clock patterns


def _floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def _hm(h: int, m: int) -> str:
    return f"{h:02d}:{m:02d}"


@dataclass(frozen=True)
class MinuteStep:
    n: int
    interval = True

    def next_wall(self, c: datetime) -> datetime:
        s = _floor_minute(c) + MINUTE
        m = -(-s.minute // self.n) * self.n
        if m >= 60:
            return s.replace(minute=0) + timedelta(hours=1)
        return s.replace(minute=m)

    def describe(self) -> str:
        if self.n == 1:
            return "every minute"
        marks = ", ".join(f":{m:02d}" for m in range(0, 60, self.n))
        return f"every {self.n} minutes at {_abbrev(marks)}"


@dataclass(frozen=True)
class HourStep:
    n: int
    minute: int = 0
    interval = True

    def next_wall(self, c: datetime) -> datetime:
        s = _floor_minute(c) + MINUTE
        for h in range(s.hour, 24):
            if h % self.n == 0 and (h > s.hour or self.minute >= s.minute):
                return s.replace(hour=h, minute=self.minute)
        return datetime.combine(s.date() + timedelta(days=1), datetime.min.time()).replace(minute=self.minute)

    def describe(self) -> str:
        if self.n == 1:
            return f"every hour at :{self.minute:02d}"
        marks = ", ".join(_hm(h, self.minute) for h in range(0, 24, self.n))
        return f"every {self.n} hours at {_abbrev(marks)}"


@dataclass(frozen=True)
class DayStep:
    n: int
    hour: int = 0
    minute: int = 0
    interval = False

    def next_wall(self, c: datetime) -> datetime:
        d = c.date()
        if (d - _EPOCH_DAY).days % self.n or self._at(d) <= c:
            d += timedelta(days=1)
            d += timedelta(days=-(d - _EPOCH_DAY).days % self.n)
        return self._at(d)

    def _at(self, d: date) -> datetime:
        return datetime(d.year, d.month, d.day, self.hour, self.minute)

    def describe(self) -> str:
        every = "every day" if self.n == 1 else f"every {self.n} days"
        return f"{every} at {_hm(self.hour, self.minute)}"


@dataclass(frozen=True)
class Weekday:
    weekday: int  # Monday = 0
    hour: int = 0
    minute: int = 0
    interval = False

    def next_wall(self, c: datetime) -> datetime:
        d = c.date()
        if d.weekday() != self.weekday or self._at(d) <= c:
            d += timedelta(days=1)
            d += timedelta(days=(self.weekday - d.weekday()) % 7)
        return self._at(d)

    def _at(self, d: date) -> datetime:
        return datetime(d.year, d.month, d.day, self.hour, self.minute)

    def describe(self) -> str:
        return f"every {WEEKDAYS[self.weekday].capitalize()} at {_hm(self.hour, self.minute)}"


@dataclass(frozen=True)
class WeekStep:
    n: int
    hour: int = 0
    minute: int = 0
    interval = False

    def next_wall(self, c: datetime) -> datetime:
        monday = c.date() - timedelta(days=c.date().weekday())
        if ((monday - _EPOCH_MONDAY).days // 7) % self.n or self._at(monday) <= c:
            monday += timedelta(days=7)
            monday += timedelta(days=7 * (-((monday - _EPOCH_MONDAY).days // 7) % self.n))
        return self._at(monday)

    def _at(self, d: date) -> datetime:
        return datetime(d.year, d.month, d.day, self.hour, self.minute)

    def describe(self) -> str:
        every = "every week" if self.n == 1 else f"every {self.n} weeks"
        return f"{every} on Monday at {_hm(self.hour, self.minute)}"


@dataclass(frozen=True)
class CronPattern:
    expression: str  # five fields, aliases already expanded

    @property
    def interval(self) -> bool:  # type: ignore[override]
        # Vixie cron's rule: a job with a wildcard hour follows real time, a fixed hour runs once.
        return self.expression.split()[1].startswith("*")

    def next_wall(self, c: datetime) -> datetime:
        # croniter only ever sees naive wall times: given aware datetimes it fires a fixed time
        # twice at a fall back. Parsing the expression costs most of a call, so each thread keeps
        # one croniter per expression and moves it.
        cache: dict[str, Any] = _CRONITERS.__dict__
        it = cache.get(self.expression)
        start = _floor_minute(c)
        if it is None:
            from croniter import croniter

            it = cache[self.expression] = croniter(self.expression, start)
        else:
            it.set_current(start, force=True)
        nxt: datetime = it.get_next(datetime)
        return nxt

    def describe(self) -> str:
        return f"cron {self.expression}"


@dataclass(frozen=True)
class SecondStep:
    """`every(N).seconds`, N dividing 60: at each second s of every minute with s % N == 0.

    It follows real time, as every interval schedule does, so there is nothing for DST to do:
    `Schedule.next_after` asks `next_instant` instead of walking wall times. (In a zone whose UTC
    offset is a whole number of minutes, as every zone's has been since 1972, a wall-clock second
    is the UTC second; a historic offset with seconds shifts the slots with it.)
    """

    n: int
    interval = True

    def next_wall(self, c: datetime) -> datetime:
        s = c.replace(microsecond=0) + timedelta(seconds=1)
        second = -(-s.second // self.n) * self.n
        return s.replace(second=0) + MINUTE if second >= 60 else s.replace(second=second)

    def next_instant(self, t: datetime, tz: tzinfo) -> datetime:
        """The first slot strictly after the aware instant `t`, in UTC."""
        since = t.astimezone(UTC) - _EPOCH
        whole = since.days * 86400 + since.seconds  # the second holding t: exact, no float
        shift = int(_offset(t, tz).total_seconds())
        return _EPOCH + timedelta(seconds=whole + self.n - (whole + shift) % self.n)

    def describe(self) -> str:
        return "every second" if self.n == 1 else f"every {self.n} seconds"


Pattern = MinuteStep | HourStep | DayStep | Weekday | WeekStep | CronPattern | SecondStep
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_sub_minute(schedule: Schedule) -> bool:
    """Whether the schedule has several slots a minute (`every(N).seconds`)."""
    return isinstance(schedule.pattern, SecondStep)


def _abbrev(marks: str, keep: int = 4) -> str:
    parts = marks.split(", ")
    return marks if len(parts) <= keep + 1 else ", ".join(parts[:keep]) + " …"


# ---------------------------------------------------------------------------------------------
# Wall clock -> instants


def _wall(t: datetime, tz: tzinfo) -> datetime:
    return t.astimezone(tz).replace(tzinfo=None)


def instants(c: datetime, tz: tzinfo, *, interval: bool) -> list[datetime]:
    """The UTC instants at which the wall time `c` (naive) fires in `tz`, per the DST rules."""
    first = c.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = c.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    lo, hi = min(first, second), max(first, second)
    if _wall(lo, tz) == c and _wall(hi, tz) == c:  # exists twice: fall back
        return [lo, hi] if interval else [lo]
    # does not exist: the first instant after the gap, i.e. the first whose wall time passes c
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) > c:
            hi_s = mid
        else:
            lo_s = mid + 1
    return [datetime.fromtimestamp(lo_s, UTC)]


@dataclass(frozen=True)
class Schedule:
    pattern: Pattern
    tz: tzinfo
    text: str  # the expression as written, normalised (e.g. `every(10).minutes`)
    zone_given: bool = False  # True when `.at(..., zone)` fixed the zone

    @property
    def key(self) -> str:
        """Identity for "did the schedule change?": the expression and the zone it is read in."""
        return f"{self.text} @ {getattr(self.tz, 'key', str(self.tz))}"

    def next_after(self, t: datetime) -> datetime:
        """The first slot strictly after the aware instant `t`, as an aware UTC datetime."""
        if isinstance(self.pattern, SecondStep):  # real time: no wall clock to walk
            return self.pattern.next_instant(t, self.tz)
        t = t.astimezone(UTC)
        w = _wall(t, self.tz)
        # A backward transition just ahead means wall times before `w` come round again: that
        # happens when a shift of D lies less than D ahead.
        here = _offset(t, self.tz)
        drop = here - _offset(t + _MAX_SHIFT, self.tz)
        drop = max(timedelta(0), here - _offset(t + drop, self.tz)) if drop > timedelta(0) else timedelta(0)
        c = w - drop - MINUTE
        best: datetime | None = None
        while True:
            c = self.pattern.next_wall(c)
            for instant in instants(c, self.tz, interval=self.pattern.interval):
                if instant > t and (best is None or instant < best):
                    best = instant
            if best is not None and (not drop or c > w + drop):
                return best

    def slots(self, after: datetime, until: datetime) -> Iterator[datetime]:
        """Slots in (after, until], oldest first."""
        t = after
        while True:
            t = self.next_after(t)
            if t > until:
                return
            yield t

    def next_n(self, after: datetime, n: int) -> list[datetime]:
        out, t = [], after
        for _ in range(n):
            t = self.next_after(t)
            out.append(t)
        return out

    def describe(self) -> str:
        words = self.pattern.describe()
        return f"{words} ({getattr(self.tz, 'key', self.tz)})" if self.zone_given else words


def _offset(t: datetime, tz: tzinfo) -> timedelta:
    return t.astimezone(tz).utcoffset() or timedelta(0)


# ---------------------------------------------------------------------------------------------
# Chain -> Schedule


def render(chain: Chain) -> str:
    """`(("every", (10,)), ("minutes", None))` -> `every(10).minutes`."""
    parts = []
    for name, args in chain:
        parts.append(name if args is None else f"{name}({', '.join(_lit(a) for a in args)})")
    return ".".join(parts)


def _lit(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def compile_chain(chain: Chain, default_tz: tzinfo) -> Schedule:
    text = render(chain)

    def fail(problem: str) -> ScheduleError:
        return ScheduleError(f"{text}: {problem}")

    if not chain:
        raise ScheduleError("empty schedule expression")
    head, args = chain[0]
    if head == "cron":
        if args is None or len(args) != 1 or not isinstance(args[0], str) or len(chain) != 1:
            raise fail('expected cron("<five cron fields>"), e.g. cron("*/5 * * * *")')
        return compile_cron(args[0], default_tz, text=text)
    if head != "every" or args is None:
        raise fail(f"a schedule starts with every(...) or cron(...); valid forms: {VALID_FORMS}")
    if len(args) > 1:
        raise fail("every() takes one whole number, e.g. every(10).minutes")
    n = args[0] if args else 1
    if isinstance(n, bool) or not isinstance(n, int):
        raise fail(f"every(N) needs a whole number N, e.g. every(10).minutes, found {_lit(n)}")
    for name, _ in chain[1:]:  # wherever they stand: `every(5).to(10).minutes`, `.minutes.until(...)`
        if name == "to":
            raise fail(".to() picks a random time in a range; a slot must be a fixed instant: use every(N).minutes")
        if name == "until":
            raise fail(".until() is not supported: stop a task with `enabled: false` in its frontmatter")
        if name in ("do", "tag"):
            raise fail(
                f".{name}() belongs to the schedule library's job registry; @repeat(...) needs only the schedule"
            )
    if len(chain) < 2 or chain[1][1] is not None:
        raise fail(f"every(N) must be followed by a unit such as .minutes; valid forms: {VALID_FORMS}")
    unit = chain[1][0]
    rest = chain[2:]
    at: tuple[Any, ...] | None = None
    for name, call_args in rest:
        if name == "at" and call_args is not None and at is None:
            at = call_args
        else:
            raise fail(f"unexpected .{name} after .{unit}; valid forms: {VALID_FORMS}")
    tz, zone_given = default_tz, False
    if at is not None and len(at) == 2:
        tz, zone_given = _zone(at[1], fail), True
    elif at is not None and len(at) != 1:
        raise fail('.at() takes a time and optionally a zone: .at("10:30") or .at("10:30", "Europe/Amsterdam")')
    when = at[0] if at else None
    if when is not None and not isinstance(when, str):
        raise fail(f'.at() needs a time string such as "10:30", found {_lit(when)}')

    singular = unit[:-1] if unit.endswith("s") else unit
    plural = singular + "s"
    if singular == "second":
        return Schedule(_second_step(n, unit, when, fail), tz, text, zone_given)
    if singular in _LIMITS:
        top, longer = _LIMITS[singular]
        if not 1 <= n <= top:
            raise fail(f"every(N).{plural} needs 1 <= N <= {top}, found {n}{longer}")
        if unit == singular and n != 1:
            raise fail(f".{unit} is for every().{unit}; for N > 1 use every({n}).{plural}")
    pattern: Pattern
    if singular == "minute":
        if when is not None:
            raise fail(".at() on a minute schedule would set seconds: sub-minute times are not supported")
        pattern = MinuteStep(n)
    elif singular == "hour":
        minute = 0 if when is None else _minute_of_hour(when, fail)
        pattern = HourStep(n, minute)
    elif singular == "day":
        pattern = DayStep(n, *_time_of_day(when, fail))
    elif singular == "week":
        pattern = WeekStep(n, *_time_of_day(when, fail))
    elif unit in WEEKDAYS:
        if n != 1:
            raise fail(f"every({n}).{unit} is not supported: a weekday runs every week; use every().{unit}")
        pattern = Weekday(WEEKDAYS.index(unit), *_time_of_day(when, fail))
    else:
        raise fail(f"unknown unit .{unit}; valid forms: {VALID_FORMS}")
    return Schedule(pattern, tz, text, zone_given)


_LIMITS = {  # unit: (largest N, advice past it)
    "minute": (59, "; for longer intervals use every(N).hours"),
    "hour": (23, "; for longer intervals use every(N).days"),
    "day": (3660, ""),
    "week": (520, ""),
}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::(00))?$")
_MM = re.compile(r"^:([0-5]\d)$")


def _second_step(n: int, unit: str, when: str | None, fail: Any) -> SecondStep:
    """`every(N).seconds`: sub-minute slots, which the tick serves by staying alive to the end of its minute."""
    if when is not None:
        raise fail(".at() does not apply to a seconds schedule: its slots are every N seconds of every minute")
    if unit == "second" and n != 1:
        raise fail(f".second is for every().second; for N > 1 use every({n}).seconds")
    if n % 60 == 0 and n > 0:
        minutes = "every().minute" if n == 60 else f"every({n // 60}).minutes"
        raise fail(f"every({n}).seconds is not a sub-minute schedule: use {minutes}")
    if n not in SECOND_STEPS:
        steps = ", ".join(map(str, SECOND_STEPS))
        raise fail(f"every(N).seconds needs N dividing 60 ({steps}) so that every minute has the same slots, found {n}")
    return SecondStep(n)


def _time_of_day(when: str | None, fail: Any) -> tuple[int, int]:
    if when is None:
        return 0, 0
    match = _HHMM.match(when)
    if not match:
        raise fail(f'.at() needs "HH:MM" (00:00 to 23:59) for this unit, found "{when}"')
    return int(match.group(1)), int(match.group(2))


def _minute_of_hour(when: str, fail: Any) -> int:
    match = _MM.match(when)
    if not match:
        raise fail(f'.at() on an hour schedule needs ":MM" (":00" to ":59"), found "{when}"')
    return int(match.group(1))


def _zone(name: Any, fail: Any) -> tzinfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str):
        raise fail(f'the zone in .at() must be an IANA name such as "Europe/Amsterdam", found {_lit(name)}')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, such as "Europe"
        raise fail(f'unknown time zone "{name}": expected an IANA name such as "Europe/Amsterdam"') from None


def compile_cron(expression: str, default_tz: tzinfo, *, text: str | None = None) -> Schedule:
    """A 5-field cron expression or `@hourly`-style alias."""
    shown = text or expression
    raw = expression.strip()
    fields = CRON_ALIASES.get(raw.lower(), raw)
    if raw.startswith("@") and raw.lower() not in CRON_ALIASES:
        raise ScheduleError(f"{shown}: unknown alias; expected one of {', '.join(CRON_ALIASES)}")
    if len(fields.split()) != 5:
        raise ScheduleError(
            f"{shown}: expected 5 cron fields (minute hour day-of-month month day-of-week), found {len(fields.split())}"
        )
    from croniter import croniter

    try:
        croniter(fields, datetime(2000, 1, 1)).get_next(datetime)
    except (ValueError, KeyError) as exc:  # croniter's errors derive from ValueError
        problem = "it never matches a date" if "find next date" in str(exc) else f"invalid: {exc}"
        raise ScheduleError(f"{shown}: {problem}") from None
    return Schedule(CronPattern(" ".join(fields.split())), default_tz, text or f'cron("{raw}")')
