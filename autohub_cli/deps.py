"""Task dependencies: the questions the rest of autohub asks, answered cheaply.

A task with no `dependencies`, no `isolated: true` and a `python_version` the shared interpreter
meets costs nothing here: no import beyond this module, no file read. Everything else is in
`deps_core` (which environment, what is missing, installing), loaded only when needed:

* `ready(spec, settings)` — the tick, before a run: None, or the reason the run fails (with
  `virtual_env.auto_install` the missing packages are installed first, once, under a lock).
* `python_for(spec, settings)` — the runner: the interpreter of the task's environment.
* `missing_requirements(spec, settings)` — `status` / `doctor`: what is missing, nothing installed.
* `python_problems(specs, settings)` — the catalog: tasks whose `python_version` no available
  interpreter meets (they are invalid, with a message saying how to configure one).
* `install_deps(settings, names, ...)` — `autohub install-deps`.

The environments themselves: autohub's own (or `virtual_env.path`), and isolated ones under
`state/envs/<hash>`; see `deps_core`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

HINT = "run `autohub install-deps`"


# --- configuration values (config.py validates its keys with these) ----------------------------------


def config_find_links(value: Any) -> tuple[str, ...]:
    """`virtual_env.find_links`: one folder/URL of wheels or a list of them."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError
    return tuple(v.strip() for v in items)


def config_interpreters(value: Any) -> tuple[tuple[str, str], ...]:
    """`virtual_env.interpreters`: a mapping of Python version ("3.12") to an interpreter path."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ValueError
    found = []
    for version, path in value.items():
        if isinstance(version, float):
            raise ValueError(f'write the version quoted: YAML reads {version} as a number, "3.10" as 3.1')
        if not isinstance(version, str) or not is_version(version) or not isinstance(path, str) or not path.strip():
            raise ValueError
        found.append((version.strip(), path.strip()))
    return tuple(sorted(found, key=lambda vp: version_tuple(vp[0])))


# --- versions -----------------------------------------------------------------------------------------


def is_version(text: str) -> bool:
    parts = text.strip().split(".")
    return 1 <= len(parts) <= 3 and all(p.isdigit() for p in parts)


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in str(text).strip().split("."))


def at_least(have: tuple[int, ...], need: tuple[int, ...]) -> bool:
    width = max(len(have), len(need), 3)
    return tuple(have) + (0,) * (width - len(have)) >= tuple(need) + (0,) * (width - len(need))


def shared_python(settings: Any) -> tuple[str, Path | None, tuple[int, ...]]:
    """(interpreter, venv folder or None, version) of the shared environment.

    `virtual_env.path` when set (its version from `pyvenv.cfg`; autohub's own until it exists,
    as it is created from autohub's interpreter), else the environment autohub runs in.
    """
    if not settings.virtual_env.path:
        return sys.executable, None, tuple(sys.version_info[:3])
    folder = (Path(settings.root) / Path(settings.virtual_env.path).expanduser()).resolve()
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    return str(python), folder, _venv_version(folder) or tuple(sys.version_info[:3])


def _venv_version(folder: Path) -> tuple[int, ...] | None:
    try:
        text = (folder / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip()
    for key in ("version_info", "version"):
        parts = found.get(key, "").split(".")[:3]
        digits = [p for p in parts if p.isdigit()]
        if len(digits) >= 2 and len(digits) == len(parts):
            return tuple(int(p) for p in digits)
    return None


def needs_env(spec: Any, settings: Any) -> bool:
    """Whether the task needs anything of this module: requirements, isolation or another interpreter."""
    if spec.dependencies or spec.isolated:
        return True
    need = version_tuple(spec.python_version)
    if at_least(tuple(sys.version_info[:3]), need) and not settings.virtual_env.path:
        return False
    return not at_least(shared_python(settings)[2], need)


# --- the questions ------------------------------------------------------------------------------------


def python_for(spec: Any, settings: Any = None) -> str:
    """The interpreter that runs the task: its environment's (isolated, `virtual_env.path`, or autohub's).

    Never raises. `python_for(settings)` (no task) answers for the shared environment.
    """
    if settings is None:  # the shared interpreter: python_for(settings)
        spec, settings = None, spec
    if spec is not None and needs_env(spec, settings):
        from . import deps_core

        return deps_core.python_for(spec, settings)
    python, _, _ = shared_python(settings)
    return python if os.path.exists(python) else sys.executable


def ready(spec: Any, settings: Any) -> str | None:
    """None when the task can start; else the reason its run fails without being started.

    With `virtual_env.auto_install` (the default) what is missing is installed first: once, under a
    lock per environment, within `install_timeout`, logged to the scheduler log. Otherwise the
    reason is "missing dependency X: run `autohub install-deps`".
    """
    if not needs_env(spec, settings):
        return None
    from . import deps_core

    return deps_core.ready(spec, settings)


def missing_requirements(spec: Any, settings: Any) -> list[str]:
    """What the task lacks in its environment, [] when it is ready. Local and cached; installs nothing."""
    if not needs_env(spec, settings):
        return []
    from . import deps_core

    try:
        return deps_core.missing_requirements(spec, settings)
    except Exception as exc:  # noqa: BLE001 - an operator view must not crash on one task
        return [f"(could not check: {exc})"]


def environment_label(spec: Any, settings: Any) -> str:
    """Where the task runs, for people: "autohub's environment (...)", "isolated environment state/envs/…"."""
    from . import deps_core

    return deps_core.environment_label(spec, settings)


def python_problems(specs: Any, settings: Any) -> dict[str, str]:
    """Task name -> why no available interpreter meets its `python_version` (only for those that fail)."""
    own = tuple(sys.version_info[:3])
    doubtful = [s for s in specs if not at_least(own, version_tuple(s.python_version))]  # the usual: none
    if doubtful and settings.virtual_env.path:
        shared = shared_python(settings)[2]
        doubtful = [s for s in doubtful if s.isolated or not at_least(shared, version_tuple(s.python_version))]
    if not doubtful:
        return {}
    from . import deps_core

    return deps_core.python_problems(doubtful, settings)


def install_deps(settings: Any, names: Any = (), **options: Any) -> Any:
    """`autohub install-deps`; see `deps_core.install_deps`."""
    from . import deps_core

    return deps_core.install_deps(settings, names, **options)
