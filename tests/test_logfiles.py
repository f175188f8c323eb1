"""autohub_cli.logfiles: line format, run protocol, appends, rotation, and many writers at once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the repo root holds autohub_cli/ and helpers/
    sys.path.insert(0, str(REPO))

from autohub_cli import logfiles  # noqa: E402
from autohub_cli.config import LoggingSettings  # noqa: E402

WHEN = datetime(2026, 11, 27, 10, 0, 0, 123456)


# --- format_line -----------------------------------------------------------------------------


def test_format_line_has_millisecond_timestamp_level_and_title():
    assert logfiles.format_line("info", "Title", "message", WHEN) == "2026-11-27 10:00:00,123 INFO [Title] message"


def test_format_line_without_title_has_no_brackets():
    assert logfiles.format_line("ERROR", None, "message", WHEN) == "2026-11-27 10:00:00,123 ERROR message"


def test_format_line_prefixes_every_line_of_a_multiline_message():
    text = logfiles.format_line("ERROR", "T", "first\nsecond\r\nthird\n", WHEN)
    assert text.split("\n") == [
        "2026-11-27 10:00:00,123 ERROR [T] first",
        "2026-11-27 10:00:00,123 ERROR [T] second",
        "2026-11-27 10:00:00,123 ERROR [T] third",
    ]


def test_format_line_keeps_an_empty_message_as_one_line():
    assert logfiles.format_line("INFO", "T", "", WHEN) == "2026-11-27 10:00:00,123 INFO [T] "


def test_format_line_converts_an_aware_time_to_local_time():
    aware = datetime(2026, 11, 27, 10, 0, 0, 5000, tzinfo=timezone.utc)
    local = aware.astimezone()
    expected = f"{local:%Y-%m-%d %H:%M:%S},005 INFO x"
    assert logfiles.format_line("INFO", None, "x", aware) == expected


def test_format_line_defaults_to_now():
    before = datetime.now().replace(microsecond=0)
    line = logfiles.format_line("INFO", None, "x")
    stamp = datetime.strptime(line.split(",")[0], "%Y-%m-%d %H:%M:%S")
    assert before - timedelta(seconds=1) <= stamp <= datetime.now()


def test_level_enabled_follows_the_policy_and_defaults_to_info():
    warning = LoggingSettings(level="WARNING")
    assert not logfiles.level_enabled("INFO", warning)
    assert logfiles.level_enabled("WARNING", warning)
    assert logfiles.level_enabled("critical", warning)
    assert not logfiles.level_enabled("DEBUG", None)
    assert logfiles.level_enabled("INFO", None)
    assert logfiles.level_enabled("DEBUG", LoggingSettings(level="DEBUG"))


# --- run protocol ----------------------------------------------------------------------------


def test_run_protocol_round_trips_a_multiline_message():
    encoded = logfiles.encode_run_line("error", "Traceback:\n  File x\nValueError: boom")
    lines = encoded.split("\n")
    assert all(line.startswith(logfiles.RUN_PREFIX) for line in lines)
    decoded = [logfiles.decode_run_line(line + "\n") for line in lines]
    assert decoded == [("ERROR", "Traceback:"), ("ERROR", "  File x"), ("ERROR", "ValueError: boom")]


def test_decode_run_line_ignores_ordinary_output_and_unknown_levels():
    assert logfiles.decode_run_line("hello") is None
    assert logfiles.decode_run_line("@@autohub:NOTALEVEL:x") is None
    assert logfiles.decode_run_line("@@autohub:INFO") is None
    assert logfiles.decode_run_line("@@autohub:INFO:") == ("INFO", "")


def test_a_message_cannot_forge_another_level():
    encoded = logfiles.encode_run_line("INFO", "@@autohub:CRITICAL:fake")
    assert logfiles.decode_run_line(encoded) == ("INFO", "@@autohub:CRITICAL:fake")


# --- append ----------------------------------------------------------------------------------


def test_append_creates_the_folder_and_appends_lines(tmp_path):
    logs = tmp_path / "deep" / "logs"
    logfiles.append(logs, "tasks.log", "one")
    logfiles.append(logs, "tasks.log", "two\nthree")
    assert (logs / "tasks.log").read_text() == "one\ntwo\nthree\n"


def test_append_never_raises_when_the_folder_cannot_exist(tmp_path, capsys):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    logfiles.append(blocker / "logs", "tasks.log", "lost")
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "could not write log" in err and "tasks.log" in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full to simulate a full disk")
def test_append_never_raises_on_a_full_disk(capsys):
    logfiles.append(Path("/dev"), "full", "lost")
    err = capsys.readouterr().err
    assert "could not write log /dev/full" in err
    assert "No space left" in err


def test_a_writer_reopens_when_the_file_was_rotated_after_it_opened(tmp_path, monkeypatch):
    """Simulates another process renaming the file between our open and our write."""
    target = tmp_path / "tasks.log"
    target.write_text("old\n")
    real_open = os.open
    moved = tmp_path / "tasks.log.moved"

    def open_then_rotate(path, flags, mode=0o777, **kw):
        fd = real_open(path, flags, mode, **kw)
        if Path(path) == target and not moved.exists():
            os.rename(target, moved)
        return fd

    monkeypatch.setattr(os, "open", open_then_rotate)
    logfiles.append(tmp_path, "tasks.log", "new")
    monkeypatch.undo()
    assert moved.read_text() == "old\n"
    assert target.read_text() == "new\n"


# --- rotation --------------------------------------------------------------------------------


def _line(i: int, when: datetime | None = None) -> str:
    return logfiles.format_line("INFO", "T", f"line {i:04d}", when)


def test_size_rotation_renames_to_dated_siblings_and_keeps_every_line(tmp_path):
    policy = LoggingSettings(max_size=400, rotation="size")
    for i in range(40):
        logfiles.append(tmp_path, "tasks.log", _line(i), policy)
    today = date.today().isoformat()
    siblings = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("tasks.log."))
    assert f"tasks.log.{today}" in siblings
    assert f"tasks.log.{today}.1" in siblings
    numbered = sorted(tmp_path.glob(f"tasks.log.{today}.*"), key=lambda p: int(p.suffix[1:]))
    everything = []
    for path in [tmp_path / f"tasks.log.{today}", *numbered, tmp_path / "tasks.log"]:
        assert path.stat().st_size <= 400
        everything += path.read_text().splitlines()
    assert [line[-9:] for line in everything] == [f"line {i:04d}" for i in range(40)]


def test_never_rotation_lets_the_file_grow(tmp_path):
    policy = LoggingSettings(max_size=100, rotation="never")
    for i in range(20):
        logfiles.append(tmp_path, "tasks.log", _line(i), policy)
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["tasks.log"]
    assert len((tmp_path / "tasks.log").read_text().splitlines()) == 20


def test_daily_rotation_starts_a_new_file_on_a_new_day(tmp_path):
    yesterday = datetime.now() - timedelta(days=1)
    log = tmp_path / "tasks.log"
    log.write_text(_line(1, yesterday) + "\n" + _line(2, yesterday) + "\n")
    logfiles.append(tmp_path, "tasks.log", _line(3), LoggingSettings(rotation="daily"))
    rotated = tmp_path / f"tasks.log.{yesterday.date().isoformat()}"
    assert rotated.read_text().count("\n") == 2
    assert [line[-9:] for line in log.read_text().splitlines()] == ["line 0003"]


def test_daily_rotation_keeps_todays_file(tmp_path):
    log = tmp_path / "tasks.log"
    log.write_text(_line(1) + "\n")
    logfiles.append(tmp_path, "tasks.log", _line(2), LoggingSettings(rotation="daily"))
    assert len(log.read_text().splitlines()) == 2
    assert not list(tmp_path.glob("tasks.log.*"))


def test_size_rotation_ignores_the_day(tmp_path):
    yesterday = datetime.now() - timedelta(days=1)
    log = tmp_path / "tasks.log"
    log.write_text(_line(1, yesterday) + "\n")
    logfiles.append(tmp_path, "tasks.log", _line(2), LoggingSettings(rotation="size"))
    assert len(log.read_text().splitlines()) == 2


def test_rotation_deletes_siblings_older_than_retention(tmp_path):
    old = tmp_path / "tasks.log.2020-01-01"
    recent = tmp_path / "tasks.log.2020-01-02.3"
    unrelated = tmp_path / "other.log.2020-01-01"
    not_rotated = tmp_path / "tasks.log.backup"
    for path in (old, recent, unrelated, not_rotated):
        path.write_text("x\n")
    long_ago = time.time() - 30 * 86400
    for path in (old, unrelated, not_rotated):
        os.utime(path, (long_ago, long_ago))
    os.utime(recent, (time.time() - 2 * 86400,) * 2)
    (tmp_path / "tasks.log").write_text(_line(1) + "\n")
    logfiles.append(tmp_path, "tasks.log", _line(2), LoggingSettings(max_size=10, retention_days=7, rotation="size"))
    assert not old.exists()
    assert recent.exists() and unrelated.exists() and not_rotated.exists()
    assert (tmp_path / f"tasks.log.{date.today().isoformat()}").exists()


def test_rotation_takes_the_sidecar_lock(tmp_path):
    """While another process holds the lock, rotation waits; the writer still finishes after."""
    (tmp_path / "tasks.log").write_text(_line(1) + "\n")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys, time
                fd = os.open({str(tmp_path / ".tasks.log.lock")!r}, os.O_RDWR | os.O_CREAT)
                fcntl.flock(fd, fcntl.LOCK_EX)
                print("locked", flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code = textwrap.dedent(
            f"""
            from pathlib import Path
            from autohub_cli import logfiles
            from autohub_cli.config import LoggingSettings
            policy = LoggingSettings(max_size=10, rotation="size")
            logfiles.append(Path({str(tmp_path)!r}), "tasks.log", "second", policy)
            """
        )
        writer = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)})
        with pytest.raises(subprocess.TimeoutExpired):
            writer.wait(timeout=1)
        assert not list(tmp_path.glob("tasks.log.2*"))
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert writer.wait(timeout=30) == 0
    assert (tmp_path / "tasks.log").read_text() == "second\n"
    assert len(list(tmp_path.glob("tasks.log.2*"))) == 1


# --- many processes at once ------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from autohub_cli import logfiles
    from autohub_cli.config import LoggingSettings

    log_dir, worker, count, go = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    policy = LoggingSettings(max_size=64 * 1024, retention_days=7, rotation="size")
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(count):
        message = f"line {i:05d} " + "x" * (i % 97) + " end"
        logfiles.append(log_dir, "tasks.log", logfiles.format_line("INFO", f"w{worker}", message), policy)
    """
)
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \[w(\d+)\] line (\d{5}) (x*) end$")


def test_concurrent_writers_with_rotation_lose_and_tear_nothing(tmp_path):
    workers, count = 8, 2000
    logs = tmp_path / "logs"
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(logs), str(w), str(count), str(go)], env=env)
        for w in range(workers)
    ]
    go.write_text("")
    assert [p.wait(timeout=300) for p in procs] == [0] * workers

    files = [p for p in logs.iterdir() if p.name == "tasks.log" or p.name.startswith("tasks.log.")]
    assert len(files) > 5, "rotation must have happened while the writers were running"
    seen: dict[tuple[int, int], int] = {}
    for path in files:
        data = path.read_bytes()
        assert data.endswith(b"\n")
        for line in data.decode("utf-8").split("\n")[:-1]:
            match = LINE.match(line)
            assert match, f"torn or interleaved line in {path.name}: {line!r}"
            worker, i = int(match.group(1)), int(match.group(2))
            assert len(match.group(3)) == i % 97, f"line with a wrong body: {line!r}"
            seen[(worker, i)] = seen.get((worker, i), 0) + 1
    assert sum(seen.values()) == workers * count, "a line was lost or duplicated"
    assert set(seen) == {(w, i) for w in range(workers) for i in range(count)}
