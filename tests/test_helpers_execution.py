"""helpers.external_execution: real child processes, timeouts, no shell unless asked, retries."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the repo root holds autohub_cli/ and helpers/
    sys.path.insert(0, str(REPO))

import helpers  # noqa: E402

SCRIPT_KEYS = {
    "success",
    "return_code",
    "stdout",
    "stderr",
    "execution_time",
    "script_path",
    "command",
    "error",
    "timestamp",
}
CLI_KEYS = SCRIPT_KEYS - {"script_path"}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text("logging:\n  level: INFO\n")
    monkeypatch.setenv("AUTOHUB_PROJECT_ROOT", str(root))
    for name in ("AUTOHUB_RUN_ID", "AUTOHUB_TASK_TITLE", "AUTOHUB_CONFIG"):
        monkeypatch.delenv(name, raising=False)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- execute_python_script -------------------------------------------------------------------


def test_a_script_runs_with_its_arguments(tmp_path):
    script = write(tmp_path / "s.py", "import sys\nprint(sys.argv[1:])\nprint('warn', file=sys.stderr)\n")
    result = helpers.execute_python_script(script, args=["a b", 3, Path("p")])
    assert set(result) == SCRIPT_KEYS
    assert result["success"] is True
    assert result["return_code"] == 0
    assert result["stdout"] == "['a b', '3', 'p']\n"
    assert result["stderr"] == "warn\n"
    assert result["error"] is None
    assert result["script_path"] == str(script)
    assert result["command"] == [sys.executable, str(script), "a b", "3", "p"]
    assert isinstance(result["execution_time"], float) and result["execution_time"] >= 0


def test_a_failing_script_reports_its_exit_code(tmp_path):
    script = write(tmp_path / "s.py", "import sys\nprint('oops', file=sys.stderr)\nsys.exit(3)\n")
    result = helpers.execute_python_script(script)
    assert result["success"] is False
    assert result["return_code"] == 3
    assert result["error"] == "exit code 3"
    assert result["stderr"] == "oops\n"


def test_a_missing_script_is_an_error_before_anything_starts(tmp_path):
    marker = tmp_path / "started"
    fake_python = write(tmp_path / "fake_python", f"#!/bin/sh\ntouch {marker}\n")
    fake_python.chmod(0o755)
    result = helpers.execute_python_script(tmp_path / "nope.py", python_executable=str(fake_python))
    assert set(result) == SCRIPT_KEYS
    assert result["success"] is False
    assert result["return_code"] is None
    assert result["error"] == f"script not found: {tmp_path / 'nope.py'}"
    assert not marker.exists()


def test_a_relative_script_is_found_from_cwd(tmp_path):
    write(tmp_path / "rel.py", "import os\nprint(os.getcwd())\n")
    result = helpers.execute_python_script("rel.py", cwd=tmp_path)
    assert result["success"] is True
    assert result["stdout"].strip() == str(tmp_path)


def test_a_missing_interpreter_is_an_error(tmp_path):
    script = write(tmp_path / "s.py", "pass\n")
    result = helpers.execute_python_script(script, python_executable=str(tmp_path / "no-python"))
    assert result["success"] is False
    assert result["return_code"] is None
    assert result["error"].startswith("command not found")


def test_env_is_merged_onto_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("INHERITED_VALUE", "yes")
    script = write(tmp_path / "s.py", "import os\nprint(os.environ['INHERITED_VALUE'], os.environ['EXTRA'])\n")
    result = helpers.execute_python_script(script, env={"EXTRA": 7})
    assert result["stdout"] == "yes 7\n"


def test_a_captured_child_does_not_speak_the_run_protocol(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOHUB_RUN_ID", "9")
    script = write(tmp_path / "s.py", "import os\nprint(os.environ.get('AUTOHUB_RUN_ID'))\n")
    assert helpers.execute_python_script(script)["stdout"] == "None\n"
    assert helpers.execute_cli_command([sys.executable, str(script)])["stdout"] == "None\n"


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_a_timeout_keeps_partial_output_and_stops_grandchildren(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)  # the helper must set it for the child
    script = write(
        tmp_path / "slow.py",
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print('started', child.pid)\n"  # no flush: the helper runs Python unbuffered
        "print('to stderr', file=sys.stderr)\n"
        "time.sleep(120)\n",
    )
    result = helpers.execute_python_script(script, timeout=2)
    assert result["success"] is False
    assert result["return_code"] is None
    assert result["error"] == "timed out after 2s"
    assert result["stdout"].startswith("started ")
    assert result["stderr"] == "to stderr\n"
    assert _wait_gone(int(result["stdout"].split()[1])), "the grandchild outlived the timeout"


# --- execute_cli_command ---------------------------------------------------------------------


def test_a_command_list_runs_without_a_shell(tmp_path):
    result = helpers.execute_cli_command(["echo", "; touch pwned", "$(touch pwned2)"], cwd=tmp_path)
    assert set(result) == CLI_KEYS
    assert result["success"] is True
    assert result["stdout"] == "; touch pwned $(touch pwned2)\n"
    assert result["command"] == ["echo", "; touch pwned", "$(touch pwned2)"]
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_a_command_string_is_split_not_given_to_a_shell(tmp_path):
    result = helpers.execute_cli_command("echo 'a  b' ; touch pwned", cwd=tmp_path)
    assert result["success"] is True
    assert result["stdout"] == "a  b ; touch pwned\n"
    assert not (tmp_path / "pwned").exists()


def test_shell_true_uses_the_shell_when_asked(tmp_path):
    result = helpers.execute_cli_command("echo hi > out.txt && cat out.txt", cwd=tmp_path, shell=True)
    assert result["success"] is True
    assert result["stdout"] == "hi\n"
    assert (tmp_path / "out.txt").exists()


def test_cli_errors_are_results_not_exceptions(tmp_path):
    missing = helpers.execute_cli_command(["definitely-not-a-command-xyz"])
    assert missing["success"] is False and missing["return_code"] is None
    assert missing["error"] == "command not found: definitely-not-a-command-xyz"
    unparsable = helpers.execute_cli_command("echo 'unclosed")
    assert unparsable["error"].startswith("cannot parse command")
    assert set(unparsable) == CLI_KEYS
    assert helpers.execute_cli_command("")["error"] == "empty command"
    no_dir = helpers.execute_cli_command(["ls"], cwd=tmp_path / "gone")
    assert no_dir["error"] == f"working directory not found: {tmp_path / 'gone'}"
    failing = helpers.execute_cli_command(["sh", "-c", "exit 4"])
    assert (failing["success"], failing["return_code"], failing["error"]) == (False, 4, "exit code 4")


def test_a_command_killed_by_a_signal_says_so():
    result = helpers.execute_cli_command(["sh", "-c", "kill -TERM $$"])
    assert result["return_code"] == -15
    assert result["error"] == "killed by signal 15"


def test_a_command_timeout_keeps_partial_output():
    result = helpers.execute_cli_command(["sh", "-c", "echo partial; sleep 120"], timeout=1)
    assert result["success"] is False
    assert result["return_code"] is None
    assert result["stdout"] == "partial\n"
    assert "timed out" in result["error"]


# --- process_execution_results ---------------------------------------------------------------


def test_process_execution_results_summarises(tmp_path):
    long_out = write(tmp_path / "long.py", "print('x' * 500)\n")
    ok = helpers.execute_python_script(long_out)
    bad = helpers.execute_cli_command(["sh", "-c", "exit 2"])
    summary = helpers.process_execution_results([ok, bad])
    assert summary["total_executions"] == 2
    assert summary["successful_executions"] == 1
    assert summary["failed_executions"] == 1
    assert summary["success_rate"] == 50.0
    assert summary["total_execution_time"] == pytest.approx(ok["execution_time"] + bad["execution_time"])
    assert summary["average_execution_time"] == pytest.approx(summary["total_execution_time"] / 2)
    assert summary["errors"] == [
        {"index": 1, "target": ["sh", "-c", "exit 2"], "error": "exit code 2", "return_code": 2}
    ]
    assert summary["outputs"][0] == {"index": 0, "target": str(long_out), "success": True, "stdout": "x" * 200}
    assert summary["outputs"][1]["success"] is False


def test_process_execution_results_of_nothing():
    summary = helpers.process_execution_results([])
    assert summary["total_executions"] == 0
    assert summary["success_rate"] == 0.0
    assert summary["average_execution_time"] == 0.0
    assert summary["errors"] == [] and summary["outputs"] == []


# --- execute_script_with_retry ---------------------------------------------------------------


def test_retry_until_success(tmp_path):
    counter = tmp_path / "count"
    script = write(
        tmp_path / "flaky.py",
        "import pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "print('attempt', n)\n"
        "sys.exit(0 if n >= 3 else 1)\n",
    )
    result = helpers.execute_script_with_retry(script, max_retries=5, retry_delay=0, timeout=30)
    assert result["final_success"] is True and result["success"] is True
    assert result["retry_attempts"] == 2
    assert [a["stdout"] for a in result["all_attempts"]] == ["attempt 1\n", "attempt 2\n", "attempt 3\n"]
    assert set(result) == SCRIPT_KEYS | {"retry_attempts", "all_attempts", "final_success"}


def test_retry_gives_up_after_max_retries(tmp_path):
    script = write(tmp_path / "fail.py", "import sys\nprint(sys.argv[1])\nsys.exit(1)\n")
    result = helpers.execute_script_with_retry(script, args=["arg"], max_retries=2, retry_delay=0, cwd=tmp_path)
    assert result["final_success"] is False
    assert result["retry_attempts"] == 2
    assert len(result["all_attempts"]) == 3
    assert all(a["stdout"] == "arg\n" for a in result["all_attempts"])
    assert result["error"] == "exit code 1"


def test_a_missing_script_is_not_retried(tmp_path):
    result = helpers.execute_script_with_retry(tmp_path / "nope.py", max_retries=3, retry_delay=0)
    assert result["retry_attempts"] == 0
    assert len(result["all_attempts"]) == 1
    assert result["final_success"] is False


def test_zero_retries_runs_once(tmp_path):
    script = write(tmp_path / "fail.py", "raise SystemExit(1)\n")
    result = helpers.execute_script_with_retry(script, max_retries=0, retry_delay=0)
    assert len(result["all_attempts"]) == 1


def test_nothing_in_a_child_environment_leaks_back():
    before = dict(os.environ)
    helpers.execute_cli_command(["true"], env={"ONLY_FOR_CHILD": "1"})
    assert dict(os.environ) == before
