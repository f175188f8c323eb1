"""Task dependencies: which environment a task runs in, what it lacks there, and installing it.

Three places a task can run in (see `deps_env.Env`):

* the shared environment: `virtual_env.path`, or the environment autohub runs in;
* an isolated environment `state/envs/<key>`, for a task with `isolated: true`, a task whose
  requirements clash with another task's (or with autohub's own), and a task that needs a newer
  Python than the shared one (built from an interpreter in `virtual_env.interpreters`). The key
  hashes the requirements, `python_version` and the interpreter, so tasks with the same set share
  one. It is layered: autohub_cli, helpers and autohub's packages import inside it, after its own.

The tick asks `ready(spec, settings)` before starting a run: a fast local check (installed
metadata + `packaging`, cached); when something is missing it installs first (`auto_install`,
once, under a file lock, bounded by `install_timeout`, logged to the scheduler log) or gives the
reason the run fails with. `autohub install-deps` is `install_deps(...)`; `status`/`doctor` use
`missing_requirements(spec, settings)`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .deps import HINT, at_least, needs_env, shared_python, version_tuple
from .deps_env import (
    MARKER_FILE,
    Cache,
    Env,
    digest,
    file_lock,
    has_autohub,
    missing_in,
    requirements_key,
    venv_python,
    write_layer,
)

AUTOHUB = "autohub itself"  # how autohub's own requirements are named in a clash report
RETRY_AFTER = 600  # seconds: after a failed automatic install, ticks wait this long before trying again

Event = Callable[[str, str, str], None]  # (kind, task, detail): check | install | line | done


# --- interpreters ---------------------------------------------------------------------------------------


def shared_env(settings: Any) -> Env:
    """The environment a task runs in unless it is isolated: `virtual_env.path`, else autohub's own."""
    _, folder, version = shared_python(settings)
    if folder is None:
        return Env("own", Path(sys.prefix), sys.executable, sys.executable, version, root=settings.root)
    return Env("shared", folder, venv_python(folder), sys.executable, version, root=settings.root)


def _interpreters(settings: Any) -> list[tuple[str, tuple[int, ...]]]:
    """Interpreters an isolated environment can be built from: autohub's own, then the configured ones."""
    found = [(sys.executable, tuple(sys.version_info[:3]))]
    for version, path in getattr(settings.virtual_env, "interpreters", ()) or ():
        found.append((str((settings.root / Path(path).expanduser())), version_tuple(version)))
    return found


def _base_for(need: tuple[int, ...], settings: Any) -> tuple[str, tuple[int, ...]] | None:
    """The oldest available interpreter at least as new as `need` (autohub's own first on a tie)."""
    fitting = [(p, v) for p, v in _interpreters(settings) if at_least(v, need) and os.path.exists(p)]
    return min(fitting, key=lambda pv: pv[1]) if fitting else None


def python_problem(spec: Any, settings: Any) -> str | None:
    """Why the task cannot run on any available interpreter, None when it can."""
    need = version_tuple(spec.python_version)
    if not spec.isolated and at_least(shared_env(settings).version, need):
        return None
    if _base_for(need, settings) is not None:
        return None
    have = shared_env(settings)
    configured = getattr(settings.virtual_env, "interpreters", ()) or ()
    missing = [f"{v} -> {p}" for v, p in configured if not os.path.exists(str(settings.root / Path(p).expanduser()))]
    note = f" (configured but not found: {', '.join(missing)})" if missing else ""
    return (
        f"{spec.path}: python_version: the task needs Python {spec.python_version} or newer, but tasks run with "
        f"Python {'.'.join(map(str, have.version))} ({have.python}){note}; install a newer Python and map it in "
        f'{settings.config_file} under virtual_env.interpreters, e.g. "{spec.python_version}": '
        f"/usr/bin/python{spec.python_version}"
    )


def python_problems(specs: Iterable[Any], settings: Any) -> dict[str, str]:
    """Task name -> why its python_version cannot be met, for the tasks that cannot (catalog check)."""
    problems: dict[str, str] = {}
    for spec in specs:
        problem = python_problem(spec, settings)
        if problem:
            problems[spec.name] = problem
    return problems


# --- which environment ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clash:
    package: str
    wants: tuple[tuple[str, str], ...]  # (task, requirement); the task AUTOHUB for autohub's own

    def describe(self) -> str:
        parts = [f"{'autohub itself' if t == AUTOHUB else 'task ' + t} wants {r}" for t, r in self.wants]
        return f"{self.package}: " + ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "wants": [list(w) for w in self.wants]}


@dataclass(frozen=True)
class Plan:
    """Which tasks leave the shared environment because of a clash, and what the shared one holds."""

    clashes: tuple[Clash, ...] = ()
    clashing: frozenset[str] = frozenset()
    shared: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (task, requirements) of tasks in the shared env

    def to_json(self) -> dict[str, Any]:
        return {
            "clashes": [c.to_json() for c in self.clashes],
            "clashing": sorted(self.clashing),
            "shared": [[t, list(r)] for t, r in self.shared],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            tuple(Clash(c["package"], tuple(tuple(w) for w in c["wants"])) for c in data["clashes"]),  # type: ignore[misc]
            frozenset(data["clashing"]),
            tuple((t, tuple(r)) for t, r in data["shared"]),
        )


def autohub_requirements() -> list[str]:
    """autohub's own runtime requirements (the shared environment must keep them met)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        found = requires("autohub") or []
    except PackageNotFoundError:
        return []
    return [r for r in found if ";" not in r or "extra" not in r.split(";", 1)[1]]  # not the extras


def _runs_shared(spec: Any, settings: Any) -> bool:
    return not spec.isolated and at_least(shared_env(settings).version, version_tuple(spec.python_version))


def plan_environments(specs: Iterable[Any], settings: Any, base: list[str] | None = None) -> Plan:
    """Find the clashes among the requirements of the tasks that would share an environment.

    Two tasks clash on a package when no version satisfies both (`foo<2` and `foo>=2`); both then
    run in isolated environments of their own, and the clash is reported naming both. A task
    that clashes with autohub's own requirements is isolated the same way (autohub stays).
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name

    marker_env = shared_env(settings).marker_environment()
    wanted: dict[str, dict[str, list[str]]] = {}  # package -> task -> requirement strings
    shared: list[tuple[str, tuple[str, ...]]] = []
    entries = [(AUTOHUB, autohub_requirements() if base is None else base)]
    for spec in sorted(specs, key=lambda s: s.name):
        if spec.dependencies and _runs_shared(spec, settings):
            entries.append((spec.name, list(spec.dependencies)))
            shared.append((spec.name, tuple(spec.dependencies)))
    for task, reqs in entries:
        for text in reqs:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.url or (req.marker is not None and not req.marker.evaluate({**marker_env, "extra": ""})):
                continue
            wanted.setdefault(canonicalize_name(req.name), {}).setdefault(task, []).append(text)
    clashes: list[Clash] = []
    clashing: set[str] = set()
    for package, by_task in sorted(wanted.items()):
        if len(by_task) < 2:
            continue
        sets = {t: _specifiers(rs) for t, rs in by_task.items()}
        if _compatible(list(sets.values()), SpecifierSet):
            continue
        tasks = sorted(by_task, key=lambda t: (t != AUTOHUB, t))
        involved = {a for a in tasks for b in tasks if a != b and not _compatible([sets[a], sets[b]], SpecifierSet)}
        if not involved:  # only all of them together leave no version
            involved = set(tasks)
        wants = tuple((t, r) for t in tasks if t in involved for r in by_task[t])
        clashes.append(Clash(package, wants))
        clashing |= involved - {AUTOHUB}
    return Plan(tuple(clashes), frozenset(clashing), tuple((t, r) for t, r in shared if t not in clashing))


def _specifiers(texts: list[str]) -> Any:
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    combined = SpecifierSet()
    for text in texts:
        combined &= Requirement(text).specifier
    return combined


def _compatible(sets: list[Any], specifier_set: Any) -> bool:
    """Whether some version satisfies every set: tried at each bound and just above and below it."""
    from packaging.version import InvalidVersion, Version

    combined = specifier_set()
    for s in sets:
        combined &= s
    if not str(combined):
        return True
    candidates = {Version("0"), Version("999999")}
    for spec in combined:
        if spec.operator == "===":
            return True  # arbitrary equality: nothing to compare; let the installer decide
        try:
            version = Version(spec.version.removesuffix(".*"))
        except InvalidVersion:
            return True
        release = version.release
        candidates.add(version)
        candidates.add(Version(".".join(map(str, (*release, 0, 0, 0, 0, 1)))))
        for i in range(len(release) - 1, -1, -1):
            if release[i] > 0:
                candidates.add(Version(".".join(map(str, (*release[:i], release[i] - 1, 999999)))))
                break
    return any(combined.contains(v, prereleases=True) for v in candidates)


def _state_dir(settings: Any) -> Path:
    return Path(settings.root) / "state"


def _fingerprint(settings: Any) -> str | None:
    """What the plan depends on: the task files (path, mtime, size), the config file, autohub's version."""
    from . import __version__
    from .catalog import CatalogError, task_files

    try:
        files = sorted((e.path, e.stat().st_mtime_ns, e.stat().st_size) for e in task_files(settings))
        config = os.stat(settings.config_file).st_mtime_ns
    except (CatalogError, OSError):
        return None
    return digest([__version__, str(settings.root), config, files], 24)


def cached_plan(settings: Any, cache: Cache) -> Plan:
    """The plan for the current task files: from the cache when they did not change, else computed."""
    key = _fingerprint(settings)
    if key is not None:
        entry = cache.section("plans").get(key)
        if isinstance(entry, dict):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                return Plan.from_json(entry["plan"])
    from .catalog import CatalogError, load_catalog

    try:
        catalog = load_catalog(settings, None, save=False)
    except CatalogError:
        return Plan()
    plan = plan_environments([s for s in catalog.specs.values() if s.enabled], settings)
    if key is not None:
        cache.put("plans", key, {"plan": plan.to_json(), "at": time.time()}, keep=8)
    return plan


def environment_for(spec: Any, settings: Any, plan: Plan | None = None, cache: Cache | None = None) -> Env:
    """The environment the task runs in."""
    need = version_tuple(spec.python_version)
    shared = shared_env(settings)
    isolate = spec.isolated or not at_least(shared.version, need)
    if not isolate and spec.dependencies:
        if plan is None:
            plan = cached_plan(settings, cache or Cache(_state_dir(settings)))
        isolate = spec.name in plan.clashing
    if not isolate:
        return shared
    base = _base_for(need, settings) or (sys.executable, tuple(sys.version_info[:3]))
    key = digest(
        {
            "requirements": requirements_key(spec.dependencies),
            "python_version": spec.python_version,
            "interpreter": os.path.realpath(base[0]),
        }
    )
    path = _state_dir(settings) / "envs" / key
    return Env("isolated", path, venv_python(path), base[0], base[1], key=key, root=settings.root)


def _env_ready(env: Env) -> bool:
    if env.kind == "own":
        return True
    if not env.exists():
        return False
    return env.layered() or (env.kind == "shared" and has_autohub(env))


# --- the public questions ----------------------------------------------------------------------------------


def python_for(spec: Any, settings: Any) -> str:
    """The interpreter that runs the task: its isolated environment's, else the shared one's.

    Never raises: when the environment cannot be worked out, it is the shared interpreter (or
    autohub's own when `virtual_env.path` does not exist yet), as before isolation existed.
    """
    try:
        env = environment_for(spec, settings) if needs_env(spec, settings) else shared_env(settings)
    except Exception:  # noqa: BLE001 - choosing an interpreter must not stop a run
        env = shared_env(settings)
    if env.kind == "isolated" or env.exists():
        return env.python
    return sys.executable


def missing_requirements(spec: Any, settings: Any) -> list[str]:
    """What the task lacks in its environment ([] when it is ready), without installing anything.

    For `status` and `doctor`: local and cached, a few `stat` calls when nothing changed.
    """
    if not needs_env(spec, settings):
        return []
    cache = Cache(_state_dir(settings))
    env = environment_for(spec, settings, cache=cache)
    missing = missing_in(env, spec.dependencies, cache)
    if not _env_ready(env):
        if env.kind == "shared" and env.exists():
            # an existing environment without autohub: the layer is added by the next install
            return missing or [f"{env.label} cannot import autohub_cli yet"]
        return missing or [f"{env.label} (not created yet)"]
    return missing


def environment_label(spec: Any, settings: Any) -> str:
    """Where the task runs, for people: "isolated environment state/envs/1a2b…" and the like."""
    try:
        return environment_for(spec, settings).label if needs_env(spec, settings) else shared_env(settings).label
    except Exception as exc:  # noqa: BLE001 - a label for a status line
        return f"unknown ({exc})"


def missing_reason(missing: list[str]) -> str:
    first, rest = missing[0], missing[1:]
    more = f" (also: {', '.join(rest)})" if rest else ""
    return f"missing dependency {first}{more}: {HINT}"


# --- tick time ---------------------------------------------------------------------------------------------


def ready(spec: Any, settings: Any) -> str | None:
    """None when the task can start; else why its run fails (without starting a process).

    With `virtual_env.auto_install` the missing requirements are installed first, once: under a
    lock per environment (racing ticks, and tasks of one tick, wait for one installer instead of
    starting another), within `install_timeout`, logged to the scheduler log. A failed automatic
    install is not retried for RETRY_AFTER seconds; `autohub install-deps` can always retry.
    """
    if not needs_env(spec, settings):
        return None
    reason: str | None
    try:
        cache = Cache(_state_dir(settings))
        env = environment_for(spec, settings, cache=cache)
        missing = missing_in(env, spec.dependencies, cache)
        if not missing and _env_ready(env):
            return None
        if not settings.virtual_env.auto_install:
            reason = missing_reason(missing or [f"{env.label} (not created yet)"])
        else:
            reason = _auto_install(spec, env, settings, cache)
    except Exception as exc:  # noqa: BLE001 - a broken check fails this run, not the tick
        reason = f"could not check the dependencies: {exc}; {HINT}"
    if reason is not None:
        _log(settings, "ERROR", f"{spec.name}: not started: {reason}", spec.title, errors=True)
    return reason


def _auto_install(spec: Any, env: Env, settings: Any, cache: Cache) -> str | None:
    timeout = float(settings.virtual_env.install_timeout)
    started = time.monotonic()
    with file_lock(_lock_path(env, settings), timeout) as locked:
        if not locked:
            return (
                f"missing dependency: another autohub process has been installing into {env.label} for over "
                f"{timeout:.0f} s (virtual_env.install_timeout); {HINT}"
            )
        missing = missing_in(env, spec.dependencies, cache, fresh=True)
        if not missing and _env_ready(env):
            return None  # installed by the process we waited for
        failure_key = digest([str(env.path), requirements_key(spec.dependencies)])
        failure = cache.section("failures").get(failure_key)
        if isinstance(failure, dict) and time.time() - float(failure.get("at", 0)) < RETRY_AFTER:
            ago = int(time.time() - float(failure["at"]))
            return (
                f"{_missing_prefix(missing)}the automatic install failed {ago} s ago ({failure.get('reason')}); "
                f"it is tried again after {RETRY_AFTER} s, or {HINT}"
            )
        what = ", ".join(missing) if missing else f"create {env.label}"
        _log(settings, "INFO", f"{spec.name}: installing {what} into {env.label} before its run")
        plan = cached_plan(settings, cache) if env.kind != "isolated" else None
        result = install_task(
            spec, env, settings, plan, timeout=max(1.0, timeout - (time.monotonic() - started)), on_line=None
        )
        missing = missing_in(env, spec.dependencies, cache, fresh=True)
        if result.ok and not missing and _env_ready(env):
            cache.put("failures", failure_key, None)
            _log(settings, "INFO", f"{spec.name}: installed into {env.label} in {time.monotonic() - started:.1f} s")
            return None
        why = result.reason or ("still missing after the install: " + ", ".join(missing))
        cache.put("failures", failure_key, {"at": time.time(), "reason": why})
        detail = "\n".join(result.tail[-15:])
        _log(
            settings,
            "ERROR",
            f"{spec.name}: installing into {env.label} failed: {why}" + (f"\n{detail}" if detail else ""),
        )
        return f"{_missing_prefix(missing)}the automatic install failed ({why}); {HINT}"


def _missing_prefix(missing: list[str]) -> str:
    if not missing:
        return ""
    rest = f" (also: {', '.join(missing[1:])})" if missing[1:] else ""
    return f"missing dependency {missing[0]}{rest}: "


def _lock_path(env: Env, settings: Any) -> Path:
    return _state_dir(settings) / "envs" / ".locks" / f"{env.key or digest(str(env.path))}.lock"


def _log(settings: Any, level: str, message: str, title: str | None = None, *, errors: bool = False) -> None:
    from . import logfiles

    if logfiles.level_enabled(level, settings.logging):
        logfiles.append(
            settings.logs_dir, settings.logging.file, logfiles.format_line(level, None, message), settings.logging
        )
    if errors:
        logfiles.append(settings.logs_dir, "errors.log", logfiles.format_line(level, title, message), settings.logging)


# --- installing ----------------------------------------------------------------------------------------------


def install_task(
    spec: Any,
    env: Env,
    settings: Any,
    plan: Plan | None,
    *,
    timeout: float,
    on_line: Callable[[str], None] | None,
    upgrade: bool = False,
) -> Any:
    """Create the environment when needed, then install the task's requirements into it.

    Call it holding the environment's lock. In a shared environment the other tasks' requirements
    (and autohub's) are passed as constraints, so installing one task's packages cannot quietly
    break another's: the install fails instead, naming the conflict.
    """
    from . import deps_install

    deadline = time.monotonic() + timeout
    preference = getattr(settings.virtual_env, "installer", "auto")
    try:
        if env.kind != "own" and not env.exists():
            if env.kind == "shared" and env.path.exists() and any(env.path.iterdir()):
                return deps_install.Result(
                    False,
                    f"virtual_env.path {env.path} exists but is not a virtual environment (no {env.python})",
                    (),
                    (),
                )
            made = deps_install.create(env, settings.root, timeout, on_line, preference)
            if not made.ok:
                return made
        elif env.kind != "own" and not env.layered() and not (env.kind == "shared" and has_autohub(env)):
            write_layer(env, settings.root)
        if not spec.dependencies:
            result = deps_install.Result(True, None, (), ())
        else:
            constraints = _constraints(spec, env, plan)
            with deps_install.constraints_file(sorted({line for line, _ in constraints})) as cfile:
                command = deps_install.install_command(
                    env,
                    spec.dependencies,
                    settings,
                    upgrade=upgrade,
                    constraints=cfile,
                    installer=deps_install.choose(preference),
                )
                result = deps_install.run(command, max(1.0, deadline - time.monotonic()), on_line, cwd=settings.root)
            if not result.ok and constraints:
                result = _explain_constraints(result, constraints)
    except deps_install.InstallerMissing as exc:
        return deps_install.Result(False, str(exc), (), ())
    if result.ok and env.kind == "isolated":
        _write_marker(env, spec)
    return result


def _constraints(spec: Any, env: Env, plan: Plan | None) -> list[tuple[str, str]]:
    """(constraint line, whose) for the other tasks' requirements in a shared environment, and autohub's."""
    if env.kind == "isolated" or plan is None:
        return []
    from packaging.requirements import InvalidRequirement, Requirement

    found: list[tuple[str, str]] = []
    sources = [(AUTOHUB, r) for r in autohub_requirements()]
    sources += [(f"task {task}", r) for task, reqs in plan.shared if task != spec.name for r in reqs]
    for whose, text in sources:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.url or not req.specifier:
            continue
        req.extras = set()  # a constraint cannot carry extras
        found.append((str(req), whose))
    return found


def _explain_constraints(result: Any, constraints: list[tuple[str, str]]) -> Any:
    """Say which tasks' requirements held the install back, when the installer's output names them."""
    from dataclasses import replace

    from packaging.requirements import Requirement

    said = " ".join(result.tail).lower()
    involved = []
    for line, whose in constraints:
        name = Requirement(line).name.lower()
        if name in said or name.replace("-", "_") in said:
            involved.append(f"{line} ({whose})")
    if not involved:
        return result
    note = (
        f"; the environment keeps other requirements met: {', '.join(dict.fromkeys(involved))} "
        "(give the task `isolated: true` to install it in an environment of its own)"
    )
    return replace(result, reason=(result.reason or "the install failed") + note)


def _write_marker(env: Env, spec: Any) -> None:
    data = {
        "requirements": requirements_key(spec.dependencies),
        "python_version": spec.python_version,
        "interpreter": env.base_python,
        "built_at": time.time(),
    }
    with contextlib.suppress(OSError):
        (env.path / MARKER_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


@dataclass
class TaskInstall:
    task: str
    environment: str
    requirements: tuple[str, ...]
    status: str  # satisfied | installed | would-install | failed | nothing
    missing: tuple[str, ...] = ()
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "environment": self.environment,
            "requirements": list(self.requirements),
            "status": self.status,
            "missing": list(self.missing),
            "reason": self.reason,
        }


@dataclass
class InstallReport:
    tasks: list[TaskInstall] = field(default_factory=list)
    clashes: list[Clash] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)  # isolated environments no enabled task uses any more

    @property
    def failed(self) -> list[TaskInstall]:
        return [t for t in self.tasks if t.status == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {
            "tasks": [t.to_json() for t in self.tasks],
            "clashes": [c.to_json() for c in self.clashes],
            "invalid": self.invalid,
            "unknown": self.unknown,
            "unused": self.unused,
        }


def install_deps(
    settings: Any,
    names: Iterable[str] = (),
    *,
    dry_run: bool = False,
    upgrade: bool = False,
    on_event: Event | None = None,
) -> InstallReport:
    """`autohub install-deps`: the requirements of the named tasks (default: every enabled task).

    Each task is checked first (a satisfied requirement is left alone unless `upgrade`), then
    installed into its environment with one installer run of its own, so a failure names its task
    and the other tasks still get theirs. At the end every task is checked again: a later install
    that broke an earlier task's requirements shows up as that task's failure.
    """
    from .catalog import load_catalog

    def event(kind: str, task: str, detail: str = "") -> None:
        if on_event:
            on_event(kind, task, detail)

    catalog = load_catalog(settings, None, save=False)
    names = list(dict.fromkeys(names))
    report = InstallReport(known=catalog.names())
    report.unknown = [n for n in names if n not in catalog.specs and n not in catalog.errors]
    report.invalid = {n: e.message for n, e in sorted(catalog.errors.items()) if not names or n in names}
    if names:
        chosen = [catalog.specs[n] for n in names if n in catalog.specs]
    else:
        chosen = [s for s in catalog.specs.values() if s.enabled and needs_env(s, settings)]
    population = {s.name: s for s in catalog.specs.values() if s.enabled}
    population.update({s.name: s for s in chosen})
    plan = plan_environments(population.values(), settings)
    report.clashes = list(plan.clashes)
    cache = Cache(_state_dir(settings), write=not dry_run)
    key = _fingerprint(settings)
    if key is not None and not dry_run and all(s.enabled for s in chosen):
        cache.put("plans", key, {"plan": plan.to_json(), "at": time.time()}, keep=8)
    placed = sorted(
        ((environment_for(s, settings, plan), s) for s in chosen), key=lambda es: (str(es[0].path), es[1].name)
    )
    timeout = float(settings.virtual_env.install_timeout)
    for env, spec in placed:
        entry = TaskInstall(spec.name, env.label, tuple(spec.dependencies), "satisfied")
        report.tasks.append(entry)
        if not needs_env(spec, settings):
            entry.status = "nothing"
            continue
        event("check", spec.name, env.label)
        missing = missing_in(env, spec.dependencies, cache, fresh=True)
        entry.missing = tuple(missing)
        if not missing and _env_ready(env) and not (upgrade and spec.dependencies):
            event("done", spec.name, "satisfied")
            continue
        if dry_run:
            entry.status = "would-install"
            if not missing and not _env_ready(env):
                entry.missing = (f"{env.label} (not created yet)",)
            event("done", spec.name, "would-install")
            continue
        if missing:
            doing = ", ".join(missing)
        elif not _env_ready(env):
            doing = f"(creating {env.label})"
        else:
            doing = "--upgrade " + ", ".join(spec.dependencies)
        event("install", spec.name, doing)
        with file_lock(_lock_path(env, settings), timeout) as locked:
            if not locked:
                entry.status, entry.reason = "failed", f"another autohub process is installing into {env.label}"
                event("done", spec.name, "failed")
                continue
            if not upgrade and not missing_in(env, spec.dependencies, cache, fresh=True) and _env_ready(env):
                entry.missing = ()
                event("done", spec.name, "satisfied")  # installed meanwhile, by the process we waited for
                continue
            result = install_task(
                spec,
                env,
                settings,
                plan,
                timeout=timeout,
                upgrade=upgrade,
                on_line=functools.partial(event, "line", spec.name),
            )
        left = missing_in(env, spec.dependencies, cache, fresh=True)
        entry.missing = tuple(left)
        if result.ok and not left and _env_ready(env):
            entry.status = "installed"
            cache.put("failures", digest([str(env.path), requirements_key(spec.dependencies)]), None)
            _log(settings, "INFO", f"install-deps: {spec.name}: installed into {env.label}")
        else:
            entry.status = "failed"
            entry.reason = result.reason or ("still missing after the install: " + ", ".join(left))
            _log(settings, "ERROR", f"install-deps: {spec.name}: {entry.reason}")
        event("done", spec.name, entry.status)
    if not dry_run:
        for (env, spec), entry in zip(placed, report.tasks, strict=True):
            if entry.status in ("satisfied", "installed") and spec.dependencies:
                left = missing_in(env, spec.dependencies, cache)
                if left:
                    entry.status, entry.missing = "failed", tuple(left)
                    entry.reason = "no longer satisfied after the other tasks' installs: " + ", ".join(left)
    if not names:
        used = {environment_for(s, settings, plan).path for s in population.values() if needs_env(s, settings)}
        envs = _state_dir(settings) / "envs"
        if envs.is_dir():
            found = [e for e in sorted(envs.iterdir()) if e.is_dir() and not e.name.startswith(".")]
            report.unused = [str(e.relative_to(settings.root)) for e in found if e not in used]
    return report
