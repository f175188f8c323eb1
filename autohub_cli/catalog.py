"""The tasks directory -> specs and errors, with a parse cache keyed by (path, mtime, size).

On a warm tick the only per-file work is one `stat`: unchanged files are not read again.
"""

from __future__ import annotations

import fnmatch
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import Settings

if TYPE_CHECKING:
    from .spec import TaskError, TaskSpec

CACHE_FORMAT = f"{__version__}/1"


class CatalogError(Exception):
    """The tasks directory itself cannot be used."""


@dataclass(frozen=True)
class Catalog:
    specs: dict[str, TaskSpec]
    errors: dict[str, TaskError]
    changed: frozenset[str] = frozenset()  # names whose file was (re)read on this load
    # (fresh entries, vanished paths) for the parse cache; the tick saves them with its own writes
    cache_updates: tuple[dict[str, tuple[int, int, str]], list[str]] = ({}, [])

    def names(self) -> list[str]:
        return sorted({*self.specs, *self.errors})

    def warnings(self) -> list[str]:
        found = [w for s in self.specs.values() for w in s.warnings]
        return found + [w for e in self.errors.values() for w in e.warnings]


@dataclass(frozen=True)
class FileStat:
    path: str
    mtime_ns: int
    size: int
    mode: int


def scan(settings: Settings) -> list[FileStat]:
    """The task files and one `stat` of each: all a warm tick looks at when nothing changed."""
    out = []
    for entry in task_files(settings):
        st = entry.stat()
        out.append(FileStat(entry.path, st.st_mtime_ns, st.st_size, st.st_mode))
    return out


def fingerprint(files: list[FileStat]) -> str:
    """Changes when a task file is added, removed or modified."""
    import hashlib

    digest = hashlib.blake2b(digest_size=16)
    for f in sorted(files, key=lambda f: f.path):
        digest.update(f"{f.path}\0{f.mtime_ns}\0{f.size}\0{f.mode}\n".encode())
    return digest.hexdigest()


def task_files(settings: Settings) -> list[os.DirEntry[str]]:
    folder = settings.tasks_dir
    try:
        info = folder.stat()
    except FileNotFoundError:
        raise CatalogError(
            f"{folder}: the tasks directory does not exist (tasks.directory in {settings.config_file})"
        ) from None
    except OSError as exc:
        raise CatalogError(f"{folder}: cannot read the tasks directory: {exc.strerror}") from None
    if info.st_mode & stat.S_IWOTH:
        raise CatalogError(
            f"{folder}: refusing to run tasks from a directory that any user can write to "
            f"(anyone could make cron run their code); fix it with: chmod o-w {folder}"
        )
    # what else a run executes or obeys: modules on the project root (it is on sys.path), helpers/, the config
    for path, what in (
        (settings.root, "project folder"),
        (settings.root / "helpers", "helpers folder"),
        (settings.config_file.parent, "config folder"),
        (settings.config_file, "config file"),
    ):
        try:
            writable = path.stat().st_mode & stat.S_IWOTH
        except OSError:
            continue
        if writable:
            raise CatalogError(
                f"{path}: refusing to run tasks from a project whose {what} any user can write to "
                f"(anyone could make cron run their code); fix it with: chmod o-w {path}"
            )
    pattern = settings.tasks.file_pattern
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            if name.startswith(("_", ".")) or not fnmatch.fnmatch(name, pattern) or not name.endswith(".py"):
                continue
            if name.startswith("example_") and not settings.tasks.include_example_tasks:
                continue
            if entry.is_file():
                entries.append(entry)
    return entries


def load_catalog(
    settings: Settings, store: Any | None = None, *, files: list[FileStat] | None = None, save: bool = True
) -> Catalog:
    """Parse every task file, reusing the store's cache for files whose (mtime, size) did not change."""
    from .spec import TaskError, TaskSpec

    cache = store.parse_cache() if store is not None else {}
    fresh: dict[str, tuple[int, int, str]] = {}
    specs: dict[str, TaskSpec] = {}
    errors: dict[str, TaskError] = {}
    seen = set()
    for st in scan(settings) if files is None else files:
        path = st.path
        seen.add(path)
        if st.mode & stat.S_IWOTH:
            errors[Path(path).stem] = TaskError(
                Path(path).stem,
                path,
                f"{path}: refusing a task file that any user can write to; fix it with: chmod o-w {path}",
            )
            continue
        cached = cache.get(path)
        result: TaskSpec | TaskError | None = None
        if cached and cached[0] == st.mtime_ns and cached[1] == st.size:
            result = _decode(cached[2])
        if result is None:
            from .taskfile import parse_file  # the reader (ast, YAML) only for new or changed files

            result = parse_file(Path(path))
            fresh[path] = (st.mtime_ns, st.size, _encode(result))
        if isinstance(result, TaskSpec):
            specs[result.name] = result
        else:
            errors[result.name] = result
    gone = [p for p in cache if p not in seen]
    if store is not None and save and (fresh or gone):
        with store.transaction():
            store.save_parse_cache(fresh, gone)
    from .deps import python_problems  # a python_version no available interpreter meets: invalid

    for name, problem in python_problems(specs.values(), settings).items():
        errors[name] = TaskError(name, specs[name].path, problem, specs.pop(name).warnings)
    changed = frozenset(Path(p).stem for p in fresh)
    return Catalog(specs, errors, changed, (fresh, gone))


def _encode(result: TaskSpec | TaskError) -> str:
    from .spec import TaskSpec

    kind = "spec" if isinstance(result, TaskSpec) else "error"
    return json.dumps({"format": CACHE_FORMAT, "kind": kind, "data": result.to_dict()})


def _decode(text: str) -> TaskSpec | TaskError | None:
    from .spec import TaskError, TaskSpec

    try:
        blob = json.loads(text)
        if blob.get("format") != CACHE_FORMAT:
            return None
        if blob["kind"] == "spec":
            return TaskSpec.from_dict(blob["data"])
        return TaskError.from_dict(blob["data"])
    except (ValueError, KeyError, TypeError):
        return None
