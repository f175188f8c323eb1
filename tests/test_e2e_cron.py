"""End to end: the real cron daemon runs `autohub tick` from the line `autohub cron install` wrote.

Slow (two to three minutes of wall time): it waits for two consecutive minutes' ticks to run a task.
The crontab is saved first and must be exactly as it was at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from crontab_util import crontab_tests_lock, read_crontab
from typer.testing import CliRunner

from autohub_cli import crontab
from autohub_cli.cli import app

pytestmark = pytest.mark.slow

ENV = {"NO_COLOR": "1", "COLUMNS": "250"}
AUTOHUB = str(Path(sys.executable).parent / "autohub")
CRON = shutil.which("cron") or shutil.which("cron", path="/usr/sbin:/sbin:/usr/bin:/bin")
TIMEOUT = 200.0  # seconds: a tick in each of the next two minutes, plus cron noticing the new crontab


@pytest.fixture
def cron_daemon():
    if CRON is None:
        pytest.skip("no cron binary: install the Debian package `cron` (apt-get install cron)")
    if shutil.which("crontab") is None:
        pytest.skip("no crontab program: install the Debian package `cron`")
    if crontab.daemon_running():
        yield None
        return
    if os.geteuid() != 0:
        pytest.skip("the cron daemon is not running, and only root can start it")
    proc = subprocess.Popen([CRON, "-f"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    if proc.poll() is not None:
        pytest.fail(f"{CRON} -f exited at once ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def consecutive(slots: list[str]) -> tuple[str, str] | None:
    times = sorted(datetime.fromisoformat(s) for s in slots)
    for a, b in pairwise(times):
        if b - a == timedelta(minutes=1):
            return a.isoformat(), b.isoformat()
    return None


@pytest.fixture
def own_crontab():
    with crontab_tests_lock():
        yield


def test_cron_drives_the_tick_every_minute(project, own_crontab, cron_daemon):
    project.task("beat", 'import os\nprint("beat", os.environ["AUTOHUB_SLOT"])', title="Heartbeat")
    # a first tick sees the task now, so the tick of the very next minute runs it (no backlog rule)
    project.cli("tick", check=True)
    before = read_crontab()
    runner = CliRunner()
    config = ["--config", str(project.root)]
    try:
        result = runner.invoke(app, ["cron", "install", "--autohub", AUTOHUB, *config], env=ENV)
        assert result.exit_code == 0, result.output
        deadline = time.monotonic() + TIMEOUT
        pair = None
        while time.monotonic() < deadline:
            runs = [r for r in project.runs("beat") if r["status"] == "success" and r["trigger"] != "manual"]
            pair = consecutive([r["slot"] for r in runs])
            if pair:
                break
            time.sleep(3)
        cron_log = project.log("cron.log")
        assert pair, f"no two consecutive minutes' runs within {TIMEOUT:.0f} s; logs/cron.log:\n{cron_log}"
        assert "beat" in project.log("tasks.log") and "[Heartbeat]" in project.log("tasks.log")

        status = runner.invoke(app, ["status", "--json", *config], env=ENV)
        assert status.exit_code == 0, status.output
        data = json.loads(status.stdout)
        health = data["scheduler"]
        assert health["cron"]["installed"] and health["cron"]["current"]
        assert health["cron"]["daemon_running"] is True
        assert health["last_tick"]["ago_seconds"] < 120
        assert health["warnings"] == []
        (beat,) = data["tasks"]
        assert beat["last_run"]["status"] == "success" and beat["failure_streak"] == 0 and beat["overdue"] == 0
    finally:
        runner.invoke(app, ["cron", "remove", *config], env=ENV)
    after = read_crontab()
    assert (after or None) == (before or None) or (before is None and not (after or "").strip())
