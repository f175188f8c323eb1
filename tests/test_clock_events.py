"""Telling a suspend from a clock stepped forward, from what two ticks recorded (status)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from autohub_cli.status import Mark, clock_events

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def marks(wall_gap: float, mono_gap: float, boot_gap: float | None) -> list[Mark]:
    a = Mark(T0, 1000.0, "boot", "host", 1, None if boot_gap is None else 5000.0)
    b = Mark(
        T0 + timedelta(seconds=wall_gap),
        1000.0 + mono_gap,
        "boot",
        "host",
        2,
        None if boot_gap is None else 5000.0 + boot_gap,
    )
    return [a, b]


def test_a_host_asleep_between_ticks_is_a_suspend():
    # 2 hours passed on the wall clock; the host was up for 60 s of it and asleep for the rest
    events = clock_events(marks(7260, 60, 7260))
    assert [e.kind for e in events] == ["suspend"]


def test_a_wall_clock_stepped_forward_while_awake_is_a_jump():
    # the same 2 hours on the wall clock, but boot time advanced only as much as monotonic time
    events = clock_events(marks(7260, 60, 60))
    assert [e.kind for e in events] == ["clock-forward"]
    assert "jumped forward" in events[0].message


def test_a_wall_clock_set_back_is_reported():
    events = clock_events(marks(60 - 3600, 60, 60))
    assert [e.kind for e in events] == ["clock-back"]


def test_ticks_a_minute_apart_are_quiet():
    assert clock_events(marks(60, 60, 60)) == []
