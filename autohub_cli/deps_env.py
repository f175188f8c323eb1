"""Where a task's packages live, and whether they are there — read from the files on disk.

An `Env` is one of three places: autohub's own environment (`own`), the configured
`virtual_env.path` (`shared`), or an environment of its own under `state/envs/<key>` (`isolated`).
"Satisfied?" is answered without running pip: the `*.dist-info` folders of the environment's
site-packages give names and versions, their `METADATA` the requirements of each installed
distribution (followed transitively), and `packaging` compares. The answer is cached in
`state/deps-cache.json`, keyed by the requirements and the environment and checked against the
modification times of its site-packages folders: installing or removing anything there changes
them, so a warm check is a handful of `stat` calls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYER_FILE = "_autohub_layer.pth"  # in a task environment's site-packages: autohub_cli, helpers, autohub's packages
NO_LAYER = "AUTOHUB_NO_LAYER"  # set while installing, so the installer sees only the environment's own packages
MARKER_FILE = ".autohub-env.json"  # in an isolated environment: what it was built for
CACHE_FILE = "deps-cache.json"  # in state/
CACHE_FORMAT = 1
MAX_CHECKS = 256
MAX_PLANS = 8


@dataclass(frozen=True)
class Env:
    kind: str  # own | shared | isolated
    path: Path  # the environment's folder (sys.prefix for `own`)
    python: str  # the interpreter that runs tasks in it
    base_python: str  # the interpreter it is created from
    version: tuple[int, ...]  # the interpreter's version, (major, minor[, micro])
    key: str | None = None  # isolated: hash of requirements + python_version + interpreter
    root: Path | None = field(default=None, compare=False)  # the project root, for labels

    @property
    def label(self) -> str:
        if self.kind == "own":
            return f"autohub's environment ({self.path})"
        shown = self.path
        if self.root is not None:
            with contextlib.suppress(ValueError):
                shown = self.path.relative_to(self.root)
        return f"{'isolated environment' if self.kind == 'isolated' else 'environment'} {shown}"

    def exists(self) -> bool:
        return self.kind == "own" or os.path.exists(self.python)

    def site_packages(self) -> list[Path]:
        """The environment's own site-packages folders (the ones that exist, else the expected one)."""
        if self.kind == "own":
            import sysconfig

            paths = sysconfig.get_paths()
            return list(dict.fromkeys(Path(paths[k]) for k in ("purelib", "platlib")))
        found = sorted(self.path.glob("lib*/python*/site-packages")) + sorted(self.path.glob("Lib/site-packages"))
        if found:
            return list(dict.fromkeys(found))
        return [self.path / "lib" / f"python{self.version[0]}.{self.version[1]}" / "site-packages"]

    def search_dirs(self) -> list[str]:
        """Where installed distributions are looked up, in the interpreter's order.

        autohub's own environment: its `sys.path` (what `importlib.metadata` reads). Another
        environment: its own site-packages and the folders its `.pth` files add, but not the
        autohub layer (installs there run with the layer off, so they land in the environment).
        """
        if self.kind == "own":
            return [p for p in dict.fromkeys(sys.path) if p and os.path.isdir(p)]
        dirs: list[str] = []
        for site in self.site_packages():
            dirs.append(str(site))
            dirs.extend(_pth_dirs(site))
        return list(dict.fromkeys(dirs))

    def layered(self) -> bool:
        return self.kind == "own" or any((site / LAYER_FILE).exists() for site in self.site_packages())

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values of this environment's interpreter (the running one's, with its version)."""
        from packaging.markers import default_environment

        env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
        if self.kind != "own" and tuple(self.version[:2]) != sys.version_info[:2]:
            env["python_version"] = f"{self.version[0]}.{self.version[1]}"
            env["python_full_version"] = ".".join(str(p) for p in (*self.version, 0, 0)[:3])
        return env


def _pth_dirs(site: Path) -> list[str]:
    """Folders that `.pth` files in `site` add to sys.path (plain path lines; not autohub's layer)."""
    found: list[str] = []
    try:
        entries = sorted(e.name for e in os.scandir(site) if e.name.endswith(".pth") and e.name != LAYER_FILE)
    except OSError:
        return found
    for name in entries:
        try:
            lines = (site / name).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            line = line.strip()
            if not line or line.startswith(("#", "import ", "import\t")):
                continue
            folder = os.path.join(str(site), line)
            if os.path.isdir(folder):
                found.append(os.path.normpath(folder))
    return found


def venv_version(path: Path) -> tuple[int, ...] | None:
    """The interpreter version recorded in a virtual environment's `pyvenv.cfg` (venv and uv write it)."""
    try:
        text = (path / "pyvenv.cfg").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for key in ("version_info", "version"):
        match = re.search(rf"(?m)^\s*{key}\s*=\s*(\d+)\.(\d+)(?:\.(\d+))?", text)
        if match:
            return tuple(int(g) for g in match.groups() if g is not None)
    return None


def venv_python(path: Path) -> str:
    for candidate in (path / "bin" / "python", path / "Scripts" / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return str(path / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))


# --- installed distributions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    name: str  # canonical
    version: str
    meta: str  # the .dist-info / .egg-info path

    def requires(self) -> list[str]:
        """`Requires-Dist` of METADATA (or the egg-info `requires.txt`, as requirement strings)."""
        path = Path(self.meta)
        if path.suffix == ".dist-info":
            return _header_values(path / "METADATA", "Requires-Dist")
        return _egg_requires(path / "requires.txt") if path.is_dir() else []


def _header_values(path: Path, header: str) -> list[str]:
    values: list[str] = []
    prefix = header.lower() + ":"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # the headers end at the first blank line
                if line.lower().startswith(prefix):
                    values.append(line[len(prefix) :].strip())
    except OSError:
        pass
    return values


def _egg_requires(path: Path) -> list[str]:
    found: list[str] = []
    section = ""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        extra, _, marker = section.partition(":")
        parts = [f'extra == "{extra}"'] if extra else []
        if marker:
            parts.append(f"({marker})")
        found.append(line + (f"; {' and '.join(parts)}" if parts else ""))
    return found


def scan(dirs: Iterable[str]) -> dict[str, Dist]:
    """Canonical name -> the first distribution found along `dirs` (the one an import would see)."""
    from packaging.utils import canonicalize_name

    found: dict[str, Dist] = {}
    for folder in dirs:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            if name.endswith(".dist-info"):
                raw, _, version = name[: -len(".dist-info")].rpartition("-")
            elif name.endswith(".egg-info"):
                parts = name[: -len(".egg-info")].split("-")
                raw, version = parts[0], parts[1] if len(parts) > 1 else ""
            else:
                continue
            if not raw or not version:
                raw, version = _metadata_name_version(Path(entry.path))
                if not raw:
                    continue
            key = canonicalize_name(raw)
            if key not in found:
                found[key] = Dist(key, version, entry.path)
    return found


def _metadata_name_version(path: Path) -> tuple[str, str]:
    meta = path / "METADATA" if path.suffix == ".dist-info" else (path / "PKG-INFO" if path.is_dir() else path)
    names = _header_values(meta, "Name")
    versions = _header_values(meta, "Version")
    return (names[0] if names else ""), (versions[0] if versions else "")


def unmet(requirements: Iterable[str], dists: dict[str, Dist], marker_env: dict[str, str]) -> list[str]:
    """The requirements (and requirements of requirements) that the installed distributions do not meet.

    Each entry is the requirement as written, with what is wrong when it is installed in the
    wrong version and who needs it when it is not a direct requirement.
    """
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    missing: list[str] = []
    queue: list[tuple[str, str | None]] = [(r, None) for r in requirements]
    visited: set[tuple[str, frozenset[str]]] = set()
    reported: set[str] = set()
    while queue:
        text, needed_by = queue.pop(0)
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # a dependency's own metadata we cannot read is not the task's problem
        if req.marker is not None and not req.marker.evaluate({**marker_env, "extra": ""}):
            continue
        key = canonicalize_name(req.name)
        dist = dists.get(key)
        by = f", needed by {needed_by}" if needed_by else ""
        if dist is None:
            entry = f"{_plain(req)}{f' (needed by {needed_by})' if needed_by else ''}"
            if key not in reported:
                missing.append(entry)
                reported.add(key)
            continue
        if req.specifier:
            try:
                ok = req.specifier.contains(Version(dist.version), prereleases=True)
            except InvalidVersion:
                ok = False
            if not ok:
                if key + str(req.specifier) not in reported:
                    missing.append(f"{_plain(req)} (installed: {dist.version}{by})")
                    reported.add(key + str(req.specifier))
                continue
        extras = frozenset(canonicalize_name(e) for e in req.extras)
        if (key, extras) in visited:
            continue
        visited.add((key, extras))
        for sub in dist.requires():
            try:
                parsed = Requirement(sub)
            except InvalidRequirement:
                continue
            if parsed.marker is not None and not any(
                parsed.marker.evaluate({**marker_env, "extra": e}) for e in ("", *extras)
            ):
                continue
            parsed.marker = None
            queue.append((str(parsed), dist.name))
    return missing


def _plain(req: Any) -> str:
    """The requirement without its marker (it already applies here)."""
    text = req.name
    if req.extras:
        text += "[" + ",".join(sorted(req.extras)) + "]"
    if req.url:
        return f"{text} @ {req.url}"
    return text + str(req.specifier)


# --- the check cache ---------------------------------------------------------------------------------


def requirements_key(requirements: Iterable[str]) -> list[str]:
    """Requirement strings in a canonical order, spacing removed (a cache and env key, never parsed)."""
    return sorted({re.sub(r"\s+", "", r) for r in requirements})


def digest(data: Any, length: int = 16) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:length]


def _stamp(folder: str) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None


class Cache:
    """`state/deps-cache.json`: check results, environment plans and recent install failures.

    Read whole, replaced whole (write to a temporary file, then rename): readers never see half a
    file, and when two processes write at once one of them wins — it is only a cache.
    """

    def __init__(self, state_dir: Path, *, write: bool = True) -> None:
        self.path = state_dir / CACHE_FILE
        self.write = write
        self.data = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("format") == CACHE_FORMAT:
                for part in ("checks", "plans", "failures"):
                    if not isinstance(data.get(part), dict):
                        data[part] = {}
                return data
        except (OSError, ValueError):
            pass
        return {"format": CACHE_FORMAT, "checks": {}, "plans": {}, "failures": {}}

    def section(self, name: str) -> dict[str, Any]:
        return self.data[name]  # type: ignore[no-any-return]

    def put(self, name: str, key: str, value: Any, keep: int | None = None) -> None:
        fresh = self._load()  # merge into what is there now, not what was there when we started
        part = fresh[name]
        if value is None:
            part.pop(key, None)
        else:
            part[key] = value
        if keep is not None and len(part) > keep:
            for old in sorted(part, key=lambda k: part[k].get("at", 0))[: len(part) - keep]:
                del part[old]
        self.data = fresh
        self.save()

    def save(self) -> None:
        if not self.write:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{id(self)}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


def missing_in(env: Env, requirements: Iterable[str], cache: Cache, *, fresh: bool = False) -> list[str]:
    """What of `requirements` the environment lacks: [] when everything is installed in a fitting version."""
    reqs = requirements_key(requirements)
    if not reqs:
        return []
    key = digest([env.kind, str(env.path), env.python, reqs], 24)
    checks = cache.section("checks")
    entry = checks.get(key)
    if (
        not fresh
        and isinstance(entry, dict)
        and isinstance(entry.get("dirs"), dict)
        and all(_stamp(d) == s for d, s in entry["dirs"].items())
    ):
        return list(entry.get("missing", []))
    dirs = env.search_dirs()
    watched = list(dict.fromkeys([*(str(s) for s in env.site_packages()), *dirs]))
    stamps = {d: _stamp(d) for d in watched}  # before the scan: a change during it invalidates the entry
    missing = unmet(requirements, scan(dirs), env.marker_environment())
    cache.put("checks", key, {"dirs": stamps, "missing": missing, "at": time.time()}, keep=MAX_CHECKS)
    return missing


# --- layering --------------------------------------------------------------------------------------


def layer_dirs(root: Path) -> list[str]:
    """What a task environment borrows from autohub: the project root (for `helpers`), the folder
    holding `autohub_cli` (an editable install's source tree), and autohub's site-packages."""
    import sysconfig

    import autohub_cli

    paths = sysconfig.get_paths()
    found = [str(root), str(Path(autohub_cli.__file__).resolve().parent.parent)]
    found += [paths["purelib"], paths["platlib"]]
    return [os.path.normpath(p) for p in dict.fromkeys(found)]


def write_layer(env: Env, root: Path) -> None:
    """The `.pth` line that makes autohub_cli, helpers and autohub's packages importable in `env`.

    They come after the environment's own packages on sys.path, so its own versions win. The line
    does nothing while `AUTOHUB_NO_LAYER` is set (during installs: the installer must see only what
    is in the environment, or it would call a requirement satisfied by a package of autohub's).
    """
    dirs = layer_dirs(root)
    line = (
        f"import os, sys; os.environ.get({NO_LAYER!r}) or sys.path.extend([p for p in {dirs!r} if p not in sys.path])\n"
    )
    for site in env.site_packages():
        site.mkdir(parents=True, exist_ok=True)
        target = site / LAYER_FILE
        try:
            if target.read_text(encoding="utf-8") == line:
                continue
        except OSError:
            pass
        tmp = site / f".{LAYER_FILE}.{os.getpid()}.tmp"
        tmp.write_text(line, encoding="utf-8")
        os.replace(tmp, target)


def has_autohub(env: Env) -> bool:
    """Whether `autohub_cli` imports in the environment without a layer (autohub is installed in it)."""
    return any((site / "autohub_cli").is_dir() or any(site.glob("autohub-*.dist-info")) for site in env.site_packages())


# --- locks -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(path: Path, timeout: float) -> Iterator[bool]:
    """An exclusive `flock` on `path`, waited for at most `timeout` seconds; yields whether it was taken.

    `flock` belongs to the open file, so two threads of one tick exclude each other as two
    processes do.
    """
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield True
    finally:
        os.close(fd)  # releases the lock
