"""helpers.task_logging: where lines go, how they look, and which title they carry."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the repo root holds autohub_cli/ and helpers/
    sys.path.insert(0, str(REPO))

import helpers  # noqa: E402
from autohub_cli import logfiles  # noqa: E402

PREFIX = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text("logging:\n  level: INFO\n")
    (root / "tasks").mkdir()
    monkeypatch.setenv("AUTOHUB_PROJECT_ROOT", str(root))
    for name in ("AUTOHUB_RUN_ID", "AUTOHUB_TASK_TITLE", "AUTOHUB_CONFIG", "AUTOHUB_TASK"):
        monkeypatch.delenv(name, raising=False)
    return root


def tasks_log(root: Path) -> list[str]:
    path = root / "logs" / "tasks.log"
    return path.read_text().splitlines() if path.exists() else []


def errors_log(root: Path) -> list[str]:
    path = root / "logs" / "errors.log"
    return path.read_text().splitlines() if path.exists() else []


def load_task(path: Path):
    spec = importlib.util.spec_from_file_location(f"tasks.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- where lines go --------------------------------------------------------------------------


def test_info_goes_to_tasks_log_and_stderr_but_not_errors_log(project, capsys):
    helpers.log_info("hello", task_name="My Task")
    [line] = tasks_log(project)
    assert re.fullmatch(PREFIX + r" INFO \[My Task\] hello", line)
    assert errors_log(project) == []
    assert capsys.readouterr().err == line + "\n"


def test_errors_go_to_both_files(project):
    helpers.log_error("broken", task_name="T")
    helpers.log_critical("worse", task_name="T")
    assert [line.split(" ", 2)[2] for line in errors_log(project)] == ["ERROR [T] broken", "CRITICAL [T] worse"]
    assert tasks_log(project)[-2:] == errors_log(project)


def test_the_configured_level_filters_lines(project):
    (project / "config" / "config.yaml").write_text("logging:\n  level: WARNING\n")
    helpers.log_debug("d", task_name="T")
    helpers.log_info("i", task_name="T")
    helpers.log_warning("w", task_name="T")
    assert [line.split(" ", 2)[2] for line in tasks_log(project)] == ["WARNING [T] w"]


def test_debug_is_written_when_configured(project):
    (project / "config" / "config.yaml").write_text("logging:\n  level: DEBUG\n")
    helpers.log_debug("d", task_name="T")
    assert [line.split(" ", 2)[2] for line in tasks_log(project)] == ["DEBUG [T] d"]


def test_a_broken_config_still_logs_at_info(project):
    (project / "config" / "config.yaml").write_text("logging: [\n")
    helpers.log_debug("d", task_name="T")
    helpers.log_info("i", task_name="T")
    assert [line.split(" ", 2)[2] for line in tasks_log(project)] == ["INFO [T] i"]


def test_rotation_settings_from_the_config_apply(project):
    (project / "config" / "config.yaml").write_text("logging:\n  max_size: 300\n  rotation: size\n")
    for i in range(20):
        helpers.log_info(f"message {i}", task_name="T")
    assert list((project / "logs").glob("tasks.log.2*"))
    assert (project / "logs" / "tasks.log").stat().st_size <= 300


# --- how lines look --------------------------------------------------------------------------


def test_extras_render_as_key_value_suffixes(project):
    helpers.log_info("processed", task_name="T", count=3, source="api")
    helpers.log("raw", "WARNING", "T", extra_data={"a": 1})
    lines = tasks_log(project)
    assert lines[0].endswith("INFO [T] processed | count=3 | source=api")
    assert lines[1].endswith("WARNING [T] raw | a=1")


def test_an_unknown_level_is_logged_as_info_with_its_name(project):
    helpers.log("note this", level="notice", task_name="T")
    assert tasks_log(project)[0].endswith("INFO [T] [NOTICE] note this")


def test_a_multiline_message_prefixes_every_line(project):
    helpers.log_warning("one\ntwo", task_name="T")
    assert [line.split(" ", 2)[2] for line in tasks_log(project)] == ["WARNING [T] one", "WARNING [T] two"]


def _explode():
    raise ValueError("boom")


def test_exception_renders_the_passed_exceptions_own_traceback(project):
    try:
        _explode()
    except ValueError as exc:
        caught = exc
    try:
        raise KeyError("unrelated current exception")
    except KeyError:
        helpers.log_error("failed", task_name="T", exception=caught)
    lines = errors_log(project)
    assert lines[0].endswith("ERROR [T] failed | Exception: ValueError: boom")
    body = "\n".join(lines)
    assert "in _explode" in body and "ValueError: boom" in body
    assert "unrelated current exception" not in body
    assert all(re.match(PREFIX + r" ERROR \[T\] ", line) for line in lines)


def test_a_warning_with_an_exception_has_no_traceback(project):
    helpers.log("careful", "WARNING", "T", exception=OSError("disk"))
    [line] = tasks_log(project)
    assert line.endswith("WARNING [T] careful | Exception: OSError: disk")


def test_task_lifecycle_messages(project):
    helpers.log_task_start(task_name="T")
    helpers.log_task_complete(task_name="T", duration=5.2)
    helpers.log_task_complete(task_name="T")
    helpers.log_task_error("no data", task_name="T", exception=RuntimeError("x"))
    helpers.log_execution_result("fetch", True, {"rows": 3}, task_name="T")
    helpers.log_execution_result("upload", False, task_name="T")
    bodies = [line.split(" ", 2)[2] for line in tasks_log(project)]
    assert bodies[:6] == [
        "INFO [T] Task started",
        "INFO [T] Task completed successfully in 5.20s",
        "INFO [T] Task completed successfully",
        "ERROR [T] Task failed: no data | Exception: RuntimeError: x",
        "ERROR [T] RuntimeError: x",
        "INFO [T] fetch: SUCCESS | rows=3",
    ]
    assert bodies[-1] == "ERROR [T] upload: FAILED"


def test_structured_data_is_one_line_of_json(project):
    helpers.log_structured_data("sync", {"text": "a\nb\u2028c", "n": 1, "when": Path("/x")}, task_name="T")
    [line] = tasks_log(project)
    payload = json.loads(line.split("STRUCTURED_EVENT: ", 1)[1])
    assert payload["event_type"] == "sync"
    assert payload["data"] == {"text": "a\nb\u2028c", "n": 1, "when": "/x"}
    assert "timestamp" in payload


def test_create_task_logger_logs_under_its_name(project):
    logger = helpers.create_task_logger("Sub Job")
    logger.info("i", step=1)
    logger.warning("w")
    logger.error("e", exception=ValueError("v"))
    bodies = [line.split(" ", 2)[2] for line in tasks_log(project)]
    assert bodies[:3] == [
        "INFO [Sub Job] i | step=1",
        "WARNING [Sub Job] w",
        "ERROR [Sub Job] e | Exception: ValueError: v",
    ]


def test_aliases_and_exports():
    assert helpers.task_log is helpers.log
    assert helpers.task_info is helpers.log_info
    assert helpers.task_error is helpers.log_error
    assert set(helpers.__all__) >= {
        "load_config",
        "get_config_value",
        "save_config",
        "list_config_files",
        "get_project_root",
        "log",
        "log_info",
        "log_warning",
        "log_error",
        "log_debug",
        "log_critical",
        "log_task_start",
        "log_task_complete",
        "log_task_error",
        "log_execution_result",
        "log_structured_data",
        "create_task_logger",
        "task_log",
        "task_info",
        "task_error",
        "get_calling_task_name",
        "send_notification",
        "send_and_log_notification",
        "log_notification",
        "execute_python_script",
        "execute_cli_command",
        "process_execution_results",
        "execute_script_with_retry",
    }
    assert all(callable(getattr(helpers, name)) for name in helpers.__all__)


# --- which title -----------------------------------------------------------------------------

DOCSTRING_TASK = '''"""
---
title: "That Title"
description: "a task"
---
"""
from helpers import log_info, get_calling_task_name


def start():
    log_info("from the task")
    return get_calling_task_name()
'''


def test_the_run_title_from_the_environment_wins(project, monkeypatch):
    monkeypatch.setenv("AUTOHUB_TASK_TITLE", "Env Title")
    (project / "tasks" / "t.py").write_text(DOCSTRING_TASK)
    assert load_task(project / "tasks" / "t.py").start() == "Env Title"
    assert "INFO [Env Title] from the task" in tasks_log(project)[0]


def test_the_title_comes_from_the_calling_task_files_frontmatter(project):
    (project / "tasks" / "t.py").write_text(DOCSTRING_TASK)
    assert load_task(project / "tasks" / "t.py").start() == "That Title"
    assert "INFO [That Title] from the task" in tasks_log(project)[0]


def test_bare_frontmatter_is_read_too(project):
    """The runner executes such a file with the block stripped but under its own file name."""
    path = project / "tasks" / "bare.py"
    body = "from helpers import log_info\n\ndef start():\n    log_info('bare')\n"
    path.write_text('---\ntitle: "Bare Title"\n---\n' + body)
    namespace: dict = {}
    exec(compile("\n\n\n" + body, str(path), "exec"), namespace)
    namespace["start"]()
    assert "INFO [Bare Title] bare" in tasks_log(project)[0]


def test_a_task_without_a_title_uses_its_file_stem(project):
    (project / "tasks" / "plain_job.py").write_text(DOCSTRING_TASK.split('"""\n', 2)[2])
    assert load_task(project / "tasks" / "plain_job.py").start() == "plain_job"


def test_invalid_frontmatter_falls_back_to_the_stem(project):
    (project / "tasks" / "odd.py").write_text(DOCSTRING_TASK.replace('title: "That Title"', "title: [unclosed"))
    assert load_task(project / "tasks" / "odd.py").start() == "odd"


def test_code_outside_the_tasks_folder_is_unknown_task(project):
    assert helpers.get_calling_task_name() == "unknown_task"
    helpers.log_info("outside")
    assert "INFO [unknown_task] outside" in tasks_log(project)[0]


def test_a_task_run_by_hand_logs_under_its_title(tmp_path):
    """`python -c "import tasks.x as t; t.start()"` in a project with its own helpers/."""
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text("logging:\n  level: INFO\n")
    (root / "tasks").mkdir()
    (root / "tasks" / "hand.py").write_text(DOCSTRING_TASK)
    shutil.copytree(REPO / "helpers", root / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOHUB_")}
    env["PYTHONPATH"] = str(REPO)  # for autohub_cli; helpers/ and tasks/ come from the project
    done = subprocess.run(
        [sys.executable, "-c", "import tasks.hand as t; t.start()"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    [line] = tasks_log(root)
    assert re.fullmatch(PREFIX + r" INFO \[That Title\] from the task", line)
    assert line in done.stderr


# --- inside a run ----------------------------------------------------------------------------

IN_RUN = textwrap.dedent(
    """
    from helpers import log_info, log_error, log_debug, create_task_logger
    print("plain output", flush=True)
    log_info("hello\\nworld", rows=2)
    log_debug("details")
    try:
        raise ValueError("boom")
    except ValueError as exc:
        log_error("failed", exception=exc)
    create_task_logger("Sub").warning("from sub")
    create_task_logger("Run Title").info("same title")
    """
)


def test_inside_a_run_helpers_print_protocol_lines_and_write_no_file(project):
    env = {**os.environ, "AUTOHUB_RUN_ID": "42", "AUTOHUB_TASK_TITLE": "Run Title", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", IN_RUN], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert not (project / "logs").exists()
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "plain output"
    decoded = [logfiles.decode_run_line(line) for line in lines[1:]]
    assert None not in decoded
    assert decoded[:3] == [("INFO", "hello"), ("INFO", "world | rows=2"), ("DEBUG", "details")]
    errors = [message for level, message in decoded if level == "ERROR"]
    assert errors[0] == "failed | Exception: ValueError: boom"
    assert errors[-1] == "ValueError: boom"
    assert any("Traceback" in message for message in errors)
    assert decoded[-2:] == [("WARNING", "[Sub] from sub"), ("INFO", "same title")]
