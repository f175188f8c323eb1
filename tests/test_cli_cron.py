"""`autohub cron install | remove | show | systemd`, against the real `crontab` program.

Every test that touches the crontab saves it first and checks, at the end, that it is exactly as it
was: autohub must never change a line it did not write. Lines a test plants itself (to prove they
survive) are taken out again before that comparison.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from crontab_util import crontab_tests_lock, read_crontab
from typer.testing import CliRunner

from autohub_cli.cli import app

ENV = {"NO_COLOR": "1", "COLUMNS": "250"}
AUTOHUB = str(Path(sys.executable).parent / "autohub")
needs_crontab = pytest.mark.skipif(
    shutil.which("crontab") is None, reason="needs the crontab program (Debian package cron)"
)


def invoke(project, *args):
    return CliRunner().invoke(app, [*args, "--config", str(project.root)], env=ENV)


def write_crontab(text: str | None) -> None:
    if text is None or not text.strip():
        subprocess.run(["crontab", "-r"], capture_output=True)
    else:
        subprocess.run(["crontab", "-"], input=text, text=True, check=True)


class Crontab:
    def __init__(self, tmp_path: Path) -> None:
        self.before = read_crontab()
        self.old = (self.before or "").splitlines()  # the lines that were there before the test
        self.planted: list[str] = []
        self.ours = f"# autohub:{tmp_path}"  # the tag of every project this test makes

    def plant(self, *lines: str) -> None:
        """Add lines the way a user (not autohub) would; they are removed again at teardown."""
        current = read_crontab() or ""
        write_crontab(current + "".join(line + "\n" for line in lines))
        self.planted.extend(lines)

    def lines(self) -> list[str]:
        return (read_crontab() or "").splitlines()

    def new(self) -> list[str]:
        """The lines after those that were there before the test."""
        lines = self.lines()
        assert lines[: len(self.old)] == self.old, "a line that was there before the test changed"
        return lines[len(self.old) :]

    def clean(self) -> None:
        """Take out what this test wrote: its planted lines, and lines of its projects left by a failure."""
        lines = self.lines()
        keep = [line for line in lines if self.ours not in line]
        for line in self.planted:
            if line in keep:
                keep.remove(line)
        if keep != lines:
            text = "".join(line + "\n" for line in keep)
            write_crontab(text if text.strip() or self.before is not None else None)


@pytest.fixture
def cron_tab(tmp_path):
    with crontab_tests_lock():
        tab = Crontab(tmp_path)
        yield tab
        tab.clean()
        after = read_crontab()
    if after != tab.before and tab.before is None and after is not None and not after.strip():
        after = None  # an empty crontab and no crontab are the same thing
    assert after == tab.before, "the crontab was not left as it was"


def expected(project) -> str:
    root = project.root
    return f"* * * * * cd {root} && {AUTOHUB} tick >> {root}/logs/cron.log 2>&1 # autohub:{root}"


@needs_crontab
def test_install_is_idempotent_and_remove_takes_only_its_line(project, cron_tab):
    result = invoke(project, "cron", "install", "--autohub", AUTOHUB)
    assert result.exit_code == 0, result.output
    assert "installed" in result.stdout
    assert cron_tab.lines().count(expected(project)) == 1
    again = invoke(project, "cron", "install", "--autohub", AUTOHUB)
    assert again.exit_code == 0 and "already installed" in again.stdout
    assert cron_tab.lines().count(expected(project)) == 1
    shown = json.loads(invoke(project, "cron", "show", "--json", "--autohub", AUTOHUB).stdout)
    assert shown["installed"] and shown["current"] and shown["ours"] == [expected(project)]
    removed = invoke(project, "cron", "remove")
    assert removed.exit_code == 0 and "removed 1 line" in removed.stdout
    assert expected(project) not in cron_tab.lines()
    assert "no autohub line" in invoke(project, "cron", "remove").stdout


@needs_crontab
def test_other_lines_survive_byte_for_byte(project, cron_tab):
    theirs = [
        "# m h  dom mon dow   command",
        'MAILTO=""',
        "*/5  *  * * *   echo 50% done \\% ok   # spacing, escapes and a comment of their own",
        "  # an indented comment",
        "",
        "@reboot   /bin/true",
        "0 3 * * 1-5 cd /somewhere && autohub tick  # another project's hand-written line",
    ]
    cron_tab.plant(*theirs)
    assert cron_tab.new() == theirs
    assert invoke(project, "cron", "install", "--autohub", AUTOHUB).exit_code == 0
    assert cron_tab.new() == [*theirs, expected(project)]
    assert invoke(project, "cron", "remove").exit_code == 0
    assert cron_tab.new() == theirs


@needs_crontab
def test_install_updates_a_moved_installation_in_place(project, cron_tab):
    cron_tab.plant("# before")
    assert invoke(project, "cron", "install", "--autohub", "/old/venv/bin/autohub").exit_code == 0
    cron_tab.plant("# after")
    assert "/old/venv/bin/autohub" in cron_tab.new()[1]
    shown = json.loads(invoke(project, "cron", "show", "--json", "--autohub", AUTOHUB).stdout)
    assert shown["installed"] and not shown["current"]
    result = invoke(project, "cron", "install", "--autohub", AUTOHUB)
    assert result.exit_code == 0 and "updated" in result.stdout
    assert cron_tab.new() == ["# before", expected(project), "# after"]
    invoke(project, "cron", "remove")


@needs_crontab
def test_a_hand_written_line_for_this_project_is_not_duplicated_nor_removed(project, cron_tab):
    mine = f"* * * * * cd {project.root} && /usr/local/bin/autohub tick"
    cron_tab.plant(mine)
    result = invoke(project, "cron", "install", "--autohub", AUTOHUB)
    assert result.exit_code == 0 and "not written by autohub" in result.stdout
    assert cron_tab.lines().count(mine) == 1 and expected(project) not in cron_tab.lines()
    shown = json.loads(invoke(project, "cron", "show", "--json").stdout)
    assert shown["installed"] and shown["others"] == [mine] and shown["ours"] == []
    result = invoke(project, "cron", "remove")
    assert "left as it is" in result.stdout and mine in cron_tab.lines()


@needs_crontab
def test_two_projects_have_a_line_each(project, tmp_path, cron_tab):
    other = tmp_path / "second"
    (other / "config").mkdir(parents=True)
    (other / "config" / "config.yaml").write_text("scheduler:\n  timezone: UTC\n")
    run = CliRunner().invoke
    assert run(app, ["cron", "install", "--autohub", AUTOHUB, "--config", str(other)], env=ENV).exit_code == 0
    assert invoke(project, "cron", "install", "--autohub", AUTOHUB).exit_code == 0
    assert len([line for line in cron_tab.new() if "# autohub:" in line]) == 2
    assert (other / "logs").is_dir()  # `>> logs/cron.log` needs the folder
    invoke(project, "cron", "remove")
    (left,) = [line for line in cron_tab.new() if "# autohub:" in line]
    assert left.endswith(f"# autohub:{other}")
    run(app, ["cron", "remove", "--config", str(other)], env=ENV)


@needs_crontab
def test_the_installed_line_works_in_crons_minimal_environment(project, cron_tab):
    project.task("t")
    assert invoke(project, "cron", "install", "--autohub", AUTOHUB).exit_code == 0
    (line,) = [ln for ln in cron_tab.lines() if ln.endswith(f"# autohub:{project.root}")]
    command = line.split(" ", 5)[5].replace("\\%", "%")
    invoke(project, "cron", "remove")
    # what cron does: /bin/sh -c with HOME, LOGNAME, SHELL and PATH=/usr/bin:/bin, from the home folder
    env = {"HOME": "/root", "LOGNAME": "root", "SHELL": "/bin/sh", "PATH": "/usr/bin:/bin"}
    subprocess.run(["/bin/sh", "-c", command], env=env, cwd="/", check=True, timeout=120)
    with sqlite3.connect(project.db) as db:
        assert db.execute("SELECT count(*) FROM ticks WHERE error IS NULL").fetchone()[0] == 1
    assert (project.root / "logs" / "cron.log").exists()


@needs_crontab
def test_cron_show_without_a_line(project, cron_tab):
    result = invoke(project, "cron", "show", "--autohub", AUTOHUB)
    assert result.exit_code == 0 and "not installed" in result.stdout
    assert f"line: {expected(project)}" in result.stdout


def test_a_path_cron_cannot_express_is_refused(tmp_path):
    root = tmp_path / "100%"
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text("")
    result = CliRunner().invoke(app, ["cron", "install", "--config", str(root)], env=ENV)
    assert result.exit_code == 3 and "cron cannot run a path" in result.stderr


def test_systemd_units(project):
    result = invoke(project, "cron", "systemd", "--autohub", AUTOHUB)
    assert result.exit_code == 0, result.output
    out = result.stdout
    name = f"autohub-{project.root.name}"
    assert f"{name}.service" in out and f"{name}.timer" in out
    assert f"ExecStart={AUTOHUB} tick" in out
    assert f"WorkingDirectory={project.root}" in out
    assert f"StandardOutput=append:{project.root}/logs/cron.log" in out
    assert "OnCalendar=*-*-* *:*:00" in out and "Type=oneshot" in out and "WantedBy=timers.target" in out
    user = json.loads(invoke(project, "cron", "systemd", "--user", "--json", "--autohub", AUTOHUB).stdout)
    assert "User=" not in user[f"{name}.service"] and "systemctl --user" in user[f"{name}.timer"]
