"""`autohub logs`: the output of the newest (or a given) run; --follow streams a task's new lines."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime, timezone

from typer.testing import CliRunner

from autohub_cli import logfiles
from autohub_cli.cli import app
from autohub_cli.cli_ops import follow_lines, last_matching
from autohub_cli.procs import current_owner
from autohub_cli.store import SQLiteStore

ENV = {"NO_COLOR": "1", "COLUMNS": "250"}
UTC = timezone.utc


def invoke(project, *args):
    return CliRunner().invoke(app, [*args, "--config", str(project.root)], env=ENV)


COUNTING = """
import os
slot = os.environ["AUTOHUB_SLOT"][11:16]
for i in range(5):
    print(f"{slot} line {i}")
"""


def test_logs_prints_the_newest_runs_output_and_n_limits_it(project):
    project.task("t", COUNTING, title="Counter")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    project.tick("2026-11-27T10:02:05Z")
    result = invoke(project, "logs", "t")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"10:02 line {i}" for i in range(5)]
    assert "slot 2026-11-27T10:02:00+00:00" in result.stderr and "success" in result.stderr
    assert invoke(project, "logs", "t", "-n", "2").stdout.splitlines() == ["10:02 line 3", "10:02 line 4"]


def test_logs_of_a_given_run_and_as_json(project):
    project.task("t", COUNTING)
    project.task("other")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    project.tick("2026-11-27T10:02:05Z")
    first = next(r for r in project.runs("t") if r["slot"][11:16] == "10:01")
    result = invoke(project, "logs", "t", "--run", str(first["id"]), "--json")
    data = json.loads(result.stdout)
    assert data["run"]["id"] == first["id"] and data["source"] == "run"
    assert data["lines"] == [f"10:01 line {i}" for i in range(5)]

    other = project.runs("other")[0]["id"]
    result = invoke(project, "logs", "t", "--run", str(other))
    assert result.exit_code == 1 and f"no run {other} of t" in result.stderr


def test_logs_of_a_skipped_slot_a_task_that_never_ran_and_an_unknown_task(project):
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    result = invoke(project, "logs", "t", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["note"] == "t has not run yet"
    project.tick("2026-11-27T10:03:05Z")
    skipped = next(r for r in project.history("t") if r["status"] == "skipped")
    result = invoke(project, "logs", "t", "--run", str(skipped["id"]))
    assert result.exit_code == 0 and "skipped slot" in result.stderr and result.stdout == ""
    result = invoke(project, "logs", "nope")
    assert result.exit_code == 1 and "unknown task 'nope'" in result.stderr


def test_a_running_run_shows_its_lines_so_far_from_tasks_log(project):
    project.task("t", title="Slow One")
    project.tick("2026-11-27T10:00:30Z")
    store = SQLiteStore(project.db)
    started = datetime.now(UTC)
    with store.transaction():
        run_id = store.insert_run("t", started, 1, "manual", "running", owner=current_owner(), now=started)
    store.mark_started(run_id, os.getpid(), started)
    store.close()
    logs = project.root / "logs"
    logfiles.append(logs, "tasks.log", logfiles.format_line("INFO", "Slow One", "old line", datetime(2020, 1, 1)))
    logfiles.append(logs, "tasks.log", logfiles.format_line("INFO", "Other", "not mine"))
    logfiles.append(logs, "tasks.log", logfiles.format_line("INFO", "Slow One", "step 1 of 3"))
    data = json.loads(invoke(project, "logs", "t", "--json").stdout)
    assert data["source"] == "tasks.log" and "running" in data["note"]
    assert [line.split("] ", 1)[1] for line in data["lines"]] == ["step 1 of 3"]


def test_last_matching_reads_backwards_across_blocks(tmp_path):
    path = tmp_path / "tasks.log"
    lines = []
    for i in range(5000):
        title = "A" if i % 3 == 0 else "B"
        lines.append(logfiles.format_line("INFO", title, f"message {i} " + "x" * 40, datetime(2026, 1, 1, 10, 0)))
    path.write_text("\n".join(lines) + "\n")
    found = last_matching(path, "A", 700)
    assert len(found) == 700
    assert found[-1].endswith("message 4998 " + "x" * 40)
    assert all("[A] " in line for line in found)
    assert last_matching(tmp_path / "missing.log", "A", 5) == []


def test_follow_yields_only_new_lines_of_the_task_and_survives_rotation(tmp_path):
    path = tmp_path / "tasks.log"
    path.write_text(logfiles.format_line("INFO", "T", "before following") + "\n")
    got: list[str] = []
    stop = threading.Event()

    def reader():
        for line in follow_lines(path, "T", stop=stop.is_set, poll=0.02):
            got.append(line.split("] ", 1)[1])

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.2)
    logfiles.append(tmp_path, "tasks.log", logfiles.format_line("INFO", "T", "one"))
    logfiles.append(tmp_path, "tasks.log", logfiles.format_line("INFO", "Other", "not mine"))
    logfiles.append(tmp_path, "tasks.log", logfiles.format_line("INFO", "T", "two\nthree"))
    time.sleep(0.2)
    os.rename(path, tmp_path / "tasks.log.2026-11-27")  # rotation
    logfiles.append(tmp_path, "tasks.log", logfiles.format_line("INFO", "T", "after rotation"))
    deadline = time.monotonic() + 5
    while len(got) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(5)
    assert got == ["one", "two", "three", "after rotation"]


def test_logs_follow_streams_new_lines_from_the_cli(project):
    project.task("t", title="Streamer")
    logs = project.root / "logs"
    logfiles.append(logs, "tasks.log", logfiles.format_line("INFO", "Streamer", "earlier"))

    def writer():
        time.sleep(0.5)
        logfiles.append(logs, "tasks.log", logfiles.format_line("INFO", "Streamer", "live line"))

    thread = threading.Thread(target=writer)
    thread.start()
    result = invoke(project, "logs", "t", "--follow", "--for", "1.5", "-n", "5", "--json")
    thread.join()
    assert result.exit_code == 0, result.output
    lines = [json.loads(x)["line"].split("] ", 1)[1] for x in result.stdout.splitlines()]
    assert lines == ["earlier", "live line"]
