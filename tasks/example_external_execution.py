"""
---
title: "External Execution"
description: >
  Runs commands and a Python script from a task with the execution helpers: argument lists (no
  shell, so nothing in an argument is ever interpreted), a timeout that keeps the partial output,
  failures reported in the result instead of raised, and a summary of all results.
timeout: 120
---
"""

import sys

from autohub_cli import every, repeat
from helpers import (
    execute_cli_command,
    execute_python_script,
    get_project_root,
    log_execution_result,
    log_info,
    log_structured_data,
    process_execution_results,
)

SCRIPT = """\
import sys
name, times = sys.argv[1], int(sys.argv[2])
for i in range(times):
    print(f"greeting {i + 1} of {times}: hello, {name}")
"""


@repeat(every(30).minutes)
def start():
    folder = get_project_root() / "data" / "example_external_execution"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "greet.py"
    script.write_text(SCRIPT, encoding="utf-8")

    # Commands that must work: if one fails, the run fails (and shows up in `autohub history`).
    checked = {
        "python --version": execute_cli_command([sys.executable, "--version"], timeout=30),
        # An argument list goes to the program as is: no shell ever sees the ";" or the "~".
        "literal argument": execute_cli_command(
            [sys.executable, "-c", "import sys; print('argument:', sys.argv[1])", "hello; rm -rf ~"],
            timeout=30,
        ),
        "greet.py": execute_python_script(script, args=["autohub", 3], cwd=folder, timeout=30),
    }
    for label, result in checked.items():
        log_execution_result(label, result["success"], {"return_code": result["return_code"]})
        for line in (result["stdout"] or result["stderr"] or "").splitlines():
            log_info(f"{label} | {line}")

    # Failures on purpose, to show what their results look like: nothing here raises.
    failing = execute_cli_command([sys.executable, "-c", "raise SystemExit(3)"], timeout=30)
    log_info(f"A failing command: success={failing['success']}, return_code={failing['return_code']}")
    slow = execute_cli_command(
        [sys.executable, "-c", "import time; print('started', flush=True); time.sleep(60)"],
        timeout=1,
    )
    log_info(f"A command over its timeout: error={slow['error']!r}, output kept: {slow['stdout'].strip()!r}")

    summary = process_execution_results([*checked.values(), failing, slow])
    log_info(
        f"{summary['successful_executions']} of {summary['total_executions']} succeeded "
        f"({summary['success_rate']}%) in {summary['total_execution_time']:.2f} s"
    )
    log_structured_data(
        "execution_summary",
        {key: summary[key] for key in ("total_executions", "successful_executions", "failed_executions", "errors")},
    )
    broken = [label for label, result in checked.items() if not result["success"]]
    if broken:
        raise RuntimeError(f"commands that should work failed: {', '.join(broken)}")
    return summary
