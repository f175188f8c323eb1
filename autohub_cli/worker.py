"""The child process of a run: load one task file and call its `start()`.

Started by the runner as `python -m autohub_cli.worker TASK_FILE` with cwd = project root and the
AUTOHUB_* variables set. Exit status: 0 success, 1 an exception (traceback on stderr), or the
task's own `sys.exit` code.
"""

from __future__ import annotations

import os
import sys
import threading
import types


def install_aliases() -> None:
    """Task files written for the original layout import `task_scheduler.decorators`."""
    from autohub_cli import decorators

    legacy = types.ModuleType("task_scheduler")
    legacy.__path__ = []  # a package, so that `task_scheduler.decorators` resolves
    legacy.decorators = decorators  # type: ignore[attr-defined]
    sys.modules.setdefault("task_scheduler", legacy)
    sys.modules.setdefault("task_scheduler.decorators", decorators)


def watch_parent(interval: float = 0.5) -> None:
    """End the whole process group if the supervising tick dies, so no run outlives its owner.

    A tick that died between starting this process and this check has already left it with a new
    parent: $AUTOHUB_OWNER_PID (the tick's pid) tells, and the group ends before the task starts.
    """
    parent = os.getppid()
    owner = os.environ.get("AUTOHUB_OWNER_PID", "")
    if owner.isdigit() and _reparented(int(owner), parent):
        os.killpg(os.getpgid(0), 9)

    def watch() -> None:
        while True:
            threading.Event().wait(interval)
            if os.getppid() != parent:
                os.killpg(os.getpgid(0), 9)  # SIGKILL; the signal module is not worth importing

    threading.Thread(target=watch, name="autohub-parent-watch", daemon=True).start()


def _reparented(owner: int, parent: int) -> bool:
    """Whether the owner is gone and `parent` is whoever adopted us (an interpreter wrapper between
    the owner and us is a parent whose own parent is the owner)."""
    if owner == parent:
        return False
    try:
        with open(f"/proc/{parent}/stat", encoding="ascii", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1]) != owner
    except (OSError, ValueError, IndexError):  # no /proc: is the owner still there at all?
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            return True
        except OSError:
            pass
        return False


def load_task(path: str) -> types.ModuleType:
    from autohub_cli.frontmatter import strip_bare_frontmatter

    with open(path, encoding="utf-8") as f:
        code = strip_bare_frontmatter(f.read())
    stem = os.path.splitext(os.path.basename(path))[0]
    module = types.ModuleType(f"tasks.{stem}")
    module.__file__ = path
    sys.modules[module.__name__] = module
    exec(compile(code, path, "exec"), module.__dict__)  # noqa: S102 - running the task is the point
    return module


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = os.path.abspath(args[0])
    root = os.environ.get("AUTOHUB_PROJECT_ROOT") or os.path.dirname(os.path.dirname(path))
    sys.path.insert(0, root)
    install_aliases()
    if os.getpgid(0) == os.getpid():  # we lead our own group: only then is it ours to kill
        watch_parent()
    try:
        module = load_task(path)
        start = getattr(module, "start", None)
        if not callable(start):
            print(f"{path}: no function start() to call", file=sys.stderr)
            return 1
        result = start()
        if hasattr(result, "__await__"):  # async def start(): asyncio is imported only then
            import asyncio

            asyncio.run(_awaited(result))
    except SystemExit as exc:
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - the traceback is the run's failure report
        import traceback

        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


async def _awaited(awaitable: object) -> object:
    return await awaitable  # type: ignore[misc]


if __name__ == "__main__":
    sys.exit(main())
