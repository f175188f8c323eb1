"""Run Python scripts and commands from a task and get a result dict back; nothing here raises.

Differences from the original, on purpose:
- no shell unless asked: a list runs as is, a string is split with `shlex`, so an argument such
  as `"; rm -rf ~"` stays an argument;
- a missing script is reported as `script not found: …` before anything is started;
- on timeout the whole process group (grandchildren too) gets SIGTERM, then SIGKILL, and the
  output produced until then is kept; `return_code` is None;
- `env` is merged onto the current environment instead of replacing it;
- when the output is captured, the child does not inherit `AUTOHUB_RUN_ID`: its stdout comes back
  to the task, not to the runner, so helpers inside it log to the files directly;
- Python scripts run unbuffered (`PYTHONUNBUFFERED=1` unless `env` says otherwise), so what they
  printed before a timeout is not lost in their buffers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

# Seconds a timed-out process group gets between SIGTERM and SIGKILL, and to release its pipes after.
_TERM_GRACE = 2.0
_KILL_GRACE = 5.0


def execute_python_script(
    script_path: str | os.PathLike,
    args: Sequence[Any] | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float | None = 60,
    capture_output: bool = True,
    python_executable: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run `script_path` with `python_executable` (default: this interpreter).

    → `{success, return_code, stdout, stderr, execution_time, script_path, command, error, timestamp}`.
    A relative `script_path` is taken from `cwd` when one is given, as the child would.
    """
    script = Path(script_path)
    if not script.is_absolute() and cwd is not None:
        script = Path(cwd) / script
    if args is None:
        args = []
    elif isinstance(args, (str, os.PathLike)):
        args = [args]
    command = [
        python_executable or sys.executable,
        str(script),
        *(os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args),
    ]
    if not script.is_file():
        result = _result(error=f"script not found: {script}")
    else:
        environment = _environment(env, capture_output)
        environment.setdefault("PYTHONUNBUFFERED", "1")
        result = _run(
            command,
            shell=False,
            cwd=cwd,
            timeout=timeout,
            env=environment,
            capture_output=capture_output,
        )
    result.update(script_path=str(script), command=command)
    return result


def execute_cli_command(
    command: str | Sequence[Any],
    cwd: str | os.PathLike | None = None,
    timeout: float | None = 60,
    shell: bool = False,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run a command: a list as is, a string split like a shell would (but with no shell), or a
    string through `/bin/sh` only with `shell=True`.

    → `{success, return_code, stdout, stderr, execution_time, command, error, timestamp}`.
    """
    import shlex

    argv: str | list[str]
    if shell:
        argv = command if isinstance(command, str) else shlex.join(str(part) for part in command)
    elif isinstance(command, str):
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return _result(command=command, error=f"cannot parse command: {exc}")
    else:
        argv = [os.fspath(part) if isinstance(part, os.PathLike) else str(part) for part in command]
    if not argv:
        return _result(command=command, error="empty command")
    result = _run(
        argv,
        shell=shell,
        cwd=cwd,
        timeout=timeout,
        env=_environment(env, True),
        capture_output=True,
    )
    result["command"] = command
    return result


def process_execution_results(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Summarise several results: counts, success rate (percent), times, the failures, the output heads.

    → `{total_executions, successful_executions, failed_executions, success_rate,
    total_execution_time, average_execution_time, errors, outputs}`; `errors` lists each failure's
    index, target, error and return code, `outputs` each result's index, target, success and first
    200 characters of stdout.
    """
    total = len(results)
    errors, outputs, elapsed = [], [], 0.0
    for index, result in enumerate(results):
        result = result if isinstance(result, dict) else {"error": f"not an execution result: {result!r}"}
        target = result.get("script_path") or result.get("command")
        elapsed += float(result.get("execution_time") or 0.0)
        success = bool(result.get("success"))
        if not success:
            errors.append(
                {
                    "index": index,
                    "target": target,
                    "error": result.get("error"),
                    "return_code": result.get("return_code"),
                }
            )
        outputs.append(
            {
                "index": index,
                "target": target,
                "success": success,
                "stdout": (result.get("stdout") or "")[:200],
            }
        )
    successful = total - len(errors)
    return {
        "total_executions": total,
        "successful_executions": successful,
        "failed_executions": len(errors),
        "success_rate": round(successful / total * 100, 2) if total else 0.0,
        "total_execution_time": elapsed,
        "average_execution_time": elapsed / total if total else 0.0,
        "errors": errors,
        "outputs": outputs,
    }


def execute_script_with_retry(
    script_path: str | os.PathLike,
    args: Sequence[Any] | None = None,
    max_retries: int = 3,
    retry_delay: float = 5,
    **kw: Any,
) -> dict[str, Any]:
    """`execute_python_script`, retried up to `max_retries` times (so at most 1 + max_retries
    attempts) with `retry_delay` seconds between attempts; a missing script is not retried.

    → the last attempt's result plus `retry_attempts` (retries made), `all_attempts` (every
    result, oldest first) and `final_success`.
    """
    attempts: list[dict[str, Any]] = []
    for attempt in range(max(0, int(max_retries)) + 1):
        if attempt:
            time.sleep(max(0.0, float(retry_delay)))
        result = execute_python_script(script_path, args, **kw)
        attempts.append(result)
        if result["success"] or str(result["error"]).startswith("script not found"):
            break
    final = dict(attempts[-1])
    final.update(
        retry_attempts=len(attempts) - 1,
        all_attempts=attempts,
        final_success=final["success"],
    )
    return final


def _result(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "success": False,
        "return_code": None,
        "stdout": "",
        "stderr": "",
        "execution_time": 0.0,
        "error": None,
        "timestamp": datetime.now().isoformat(),
    }
    base.update(fields)
    return base


def _environment(env: dict[str, str] | None, captured: bool) -> dict[str, str]:
    merged = dict(os.environ)
    if captured:
        merged.pop("AUTOHUB_RUN_ID", None)
    if env:
        merged.update({str(key): str(value) for key, value in env.items()})
    return merged


def _run(
    argv: str | list[str],
    *,
    shell: bool,
    cwd: str | os.PathLike | None,
    timeout: float | None,
    env: dict[str, str],
    capture_output: bool,
) -> dict[str, Any]:
    import subprocess

    result = _result()
    started = time.monotonic()
    pipe = subprocess.PIPE if capture_output else None
    try:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            shell=shell,
            stdin=subprocess.DEVNULL,
            stdout=pipe,
            stderr=pipe,
            start_new_session=True,  # its own process group, so a timeout can stop grandchildren too
        )
    except (OSError, ValueError, TypeError) as exc:
        result["error"] = _start_error(argv, cwd, exc)
        return result
    stdout: bytes | None
    stderr: bytes | None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        stdout, stderr = _stop(process)
        timed_out = True
    result.update(
        execution_time=time.monotonic() - started,
        stdout=(stdout or b"").decode("utf-8", "replace"),
        stderr=(stderr or b"").decode("utf-8", "replace"),
    )
    if timed_out:
        result["error"] = f"timed out after {timeout}s"
    elif process.returncode == 0:
        result.update(success=True, return_code=0)
    else:
        code = process.returncode
        result.update(
            return_code=code,
            error=f"killed by signal {-code}" if code < 0 else f"exit code {code}",
        )
    return result


def _stop(process: Any) -> tuple[bytes | None, bytes | None]:
    """End a timed-out process group and collect all the output it produced."""
    import signal
    import subprocess

    partial: tuple[bytes | None, bytes | None] = (None, None)
    for sig, grace in ((signal.SIGTERM, _TERM_GRACE), (signal.SIGKILL, _KILL_GRACE)):
        with contextlib.suppress(OSError):  # the group is already gone
            os.killpg(process.pid, sig)
        try:
            return process.communicate(timeout=grace)
        except subprocess.TimeoutExpired as exc:
            partial = (exc.output, exc.stderr)
    # Something that left the group still holds the pipes: keep what was read and let go of them.
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    process.wait()
    return partial


def _start_error(argv: str | list[str], cwd: str | os.PathLike | None, exc: BaseException) -> str:
    program = argv if isinstance(argv, str) else argv[0]
    if isinstance(exc, FileNotFoundError):
        if cwd is not None and not Path(cwd).is_dir():
            return f"working directory not found: {cwd}"
        return f"command not found: {program}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {program}"
    return f"cannot start {program}: {exc}"
