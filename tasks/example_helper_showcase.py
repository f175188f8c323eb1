"""
---
title: "Helper Showcase"
description: >
  A tour of the helpers package in one task: every log level, task start and completion, results,
  structured events, a named logger, configuration, external commands and a notification. It uses
  the original project's import of the schedule DSL, which keeps working unchanged.
timeout: 120
---
"""

import sys
import time

from task_scheduler.decorators import every, repeat  # the original import: works in every run

from helpers import (
    create_task_logger,
    execute_cli_command,
    get_config_value,
    get_project_root,
    list_config_files,
    log,
    log_debug,
    log_execution_result,
    log_info,
    log_structured_data,
    log_task_complete,
    log_task_start,
    process_execution_results,
    send_notification,
)


@repeat(every().day.at("12:00"))
def start():
    started = time.monotonic()
    log_task_start()

    # Logging: levels, extra fields (rendered as " | key=value"), a logger with a name of its own.
    log_debug("Only written when logging.level is DEBUG")
    log_info("Logging with extra fields", project=get_project_root().name, python=sys.version.split()[0])
    log("An explicit level through log()", level="INFO")
    create_task_logger("showcase.sub-step").info("A line from a named logger")
    try:
        {}["missing"]
    except KeyError as exc:
        # an exception the task handles: a warning with its type and text (a traceback only at ERROR)
        log("Handled an expected error", level="WARNING", exception=exc)

    # Configuration: dot paths with defaults, the list of config files.
    log_info(f"tasks.directory = {get_config_value('tasks.directory', default='tasks')}")
    log_info(f"Config files: {', '.join(list_config_files())}")

    # External commands: argument lists, results as dicts, a summary.
    results = [
        execute_cli_command([sys.executable, "-c", "print('hello from a child process')"], timeout=30),
        execute_cli_command([sys.executable, "-c", "import sys; sys.exit(2)"], timeout=30),
    ]
    summary = process_execution_results(results)
    log_execution_result(
        "child processes",
        summary["successful_executions"] >= 1,
        {"succeeded": summary["successful_executions"], "failed": summary["failed_executions"]},
    )
    log_structured_data("showcase_summary", {"success_rate": summary["success_rate"], "outputs": summary["outputs"]})

    # A notification: shown on a desktop, logged instead on a headless machine; never raises.
    note = send_notification("autohub", "The helper showcase ran", urgency="low", app_name="autohub")
    log_info(f"Notification: success={note['success']}, method={note['method']}")

    log_task_complete(duration=time.monotonic() - started)
    return summary
