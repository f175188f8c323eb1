"""`autohub doctor`: each check passes or fails with its fix; exit 1 on any failure."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

from autohub_cli import crontab
from autohub_cli.cli import app

ENV = {"NO_COLOR": "1", "COLUMNS": "250"}


def invoke(project, *args):
    return CliRunner().invoke(app, [*args, "--config", str(project.root)], env=ENV)


def checks(project):
    result = invoke(project, "doctor", "--json")
    data = json.loads(result.stdout)
    return result.exit_code, data, {c["name"]: c for c in data["checks"]}


@pytest.fixture
def cron_installed(monkeypatch):
    """The crontab as doctor would find it on a machine where the line is installed and cron runs."""

    def state(settings, executable=None, **kw):
        line = crontab.expected_line(settings, executable or "/venv/bin/autohub")
        return crontab.CronState(True, None, line, (line,), (), True)

    monkeypatch.setattr(crontab, "read_state", state)


def test_a_healthy_project_passes(project, cron_installed):
    project.task("t", dependencies=["packaging>=20"])
    assert project.cli("tick").returncode == 0  # a real tick, now
    code, data, by_name = checks(project)
    assert code == 0, data
    assert data["ok"] is True
    assert list(by_name) == ["config", "tasks", "dependencies", "state", "cron", "last tick", "secrets", "user", "disk"]
    for name in ("config", "tasks", "dependencies", "state", "cron", "last tick", "secrets", "disk"):
        assert by_name[name]["status"] == "pass", by_name[name]
    assert "schema" in by_name["state"]["detail"] and "writable" in by_name["state"]["detail"]
    expected_user = "warn" if os.geteuid() == 0 else "pass"
    assert by_name["user"]["status"] == expected_user
    table = invoke(project, "doctor")
    assert table.exit_code == 0 and "all checks passed" in table.stdout


def test_each_failure_names_its_fix(project, monkeypatch):
    monkeypatch.setattr(crontab, "read_state", lambda s, e=None, **kw: crontab.CronState(True, None, "l", (), (), True))
    project.task("ok")
    project.task("needs", dependencies=["surely-not-installed-package-xyz>=1"])
    (project.root / "tasks" / "broken.py").write_text('"""\n---\ntimeout: soon\n---\n"""\ndef start():\n    pass\n')
    secrets = project.root / "config" / "secrets.yaml"
    secrets.write_text("token: x\n")
    secrets.chmod(0o644)
    project.tick("2020-11-27T10:00:30Z")  # long ago
    code, data, by_name = checks(project)
    assert code == 1 and data["ok"] is False
    assert by_name["tasks"]["status"] == "fail" and "broken.py" in by_name["tasks"]["detail"]
    assert by_name["dependencies"]["status"] == "fail"
    assert "surely-not-installed-package-xyz" in by_name["dependencies"]["detail"]
    assert by_name["dependencies"]["fix"] == "autohub install-deps needs"
    assert by_name["cron"]["status"] == "fail" and by_name["cron"]["fix"] == "autohub cron install"
    assert by_name["last tick"]["status"] == "fail"
    assert by_name["secrets"]["status"] == "fail" and by_name["secrets"]["fix"] == f"chmod 600 {secrets}"
    table = invoke(project, "doctor")
    assert table.exit_code == 1
    assert "chmod 600" in table.stdout and "some checks failed" in table.stdout


def test_a_bad_config_fails_and_skips_what_depends_on_it(project):
    project.config("scheduler:\n  max_parallel: lots\n")
    code, _, by_name = checks(project)
    assert code == 1
    assert by_name["config"]["status"] == "fail" and "max_parallel" in by_name["config"]["detail"]
    assert by_name["state"]["status"] == "skip" and by_name["cron"]["status"] == "skip"


def test_an_unwritable_state_folder_fails(project, cron_installed):
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    project.task("t")
    project.cli("tick")
    (project.root / "logs").chmod(0o500)
    try:
        code, _, by_name = checks(project)
    finally:
        (project.root / "logs").chmod(0o755)
    assert code == 1 and by_name["disk"]["status"] == "fail" and "not writable" in by_name["disk"]["detail"]


def test_a_missing_logs_folder_fails_the_disk_check(project, cron_installed):
    project.task("t")
    project.cli("tick")
    shutil.rmtree(project.root / "logs")
    code, _, by_name = checks(project)
    assert code == 1 and by_name["disk"]["status"] == "fail" and "does not exist" in by_name["disk"]["detail"]


def test_a_corrupt_state_names_the_newest_backup(project):
    project.config("scheduler:\n  timezone: UTC\ndatabase:\n  backup_interval: 60\n")
    project.task("t")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:02:30Z")
    project.db.write_bytes(b"not a database" * 100)
    code, _, by_name = checks(project)
    assert code == 1 and by_name["state"]["status"] == "fail"
    assert "autohub-20261127-100230.db" in by_name["state"]["fix"] and "autohub restore" in by_name["state"]["fix"]
