"""Values from `config/secrets.yaml` never reach a log file or the stored output: they read `***`.

The runner passes every line a run prints (and every helper log line) through `masker(root)`
before it writes the line to logs/tasks.log or logs/errors.log, keeps it in the output tail that
`autohub logs` shows, or echoes it to `autohub run`'s terminal.

What counts as a secret: every string value in the file, at any depth (keys are not secrets), each
line of a multi-line value on its own, stripped. Values shorter than `MIN_LENGTH` are left alone:
masking "yes" or "25" would blank out ordinary words and numbers without hiding anything. A file
that is not valid YAML is still honoured: the value of each `key: value` line is masked.

The values are read once per tick (cached by the file's path, mtime and size), and only when the
file exists: a project without secrets pays one `stat`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

MASK = "***"
MIN_LENGTH = 4

_LINE = re.compile(r"^\s*(?:-\s+)?[^#\s:][^:]*:\s+(.+?)\s*$")  # `key: value` (fallback for invalid YAML)


def secrets_file(root: str | Path) -> Path:
    return Path(root) / "config" / "secrets.yaml"


def masker(root: str | Path) -> Callable[[str], str]:
    """A function that replaces every secret value in a line with `***` (the identity without secrets)."""
    path = secrets_file(root)
    try:
        st = path.stat()
    except OSError:
        return _same
    return _masker(str(path), st.st_mtime_ns, st.st_size)


def mask(root: str | Path, text: str) -> str:
    return masker(root)(text)


def load_values(path: Path) -> list[str]:
    """The secret strings of the file, longest first; [] when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[str] = []
    try:
        from .config import load_yaml_text

        _collect(load_yaml_text(text), found)
    except Exception:  # noqa: BLE001 - not YAML: fall back to the values of `key: value` lines
        found = [m.group(1).strip("'\"") for m in map(_LINE.match, text.splitlines()) if m]
    values = {line.strip() for value in found for line in value.splitlines()}
    return sorted((v for v in values if len(v) >= MIN_LENGTH), key=lambda v: (-len(v), v))


def _collect(data: Any, out: list[str]) -> None:
    if isinstance(data, str):
        out.append(data)
    elif isinstance(data, dict):
        for value in data.values():
            _collect(value, out)
    elif isinstance(data, (list, tuple)):
        for value in data:
            _collect(value, out)


@lru_cache(maxsize=8)
def _masker(path: str, mtime_ns: int, size: int) -> Callable[[str], str]:
    values = load_values(Path(path))
    if not values:
        return _same
    pattern = re.compile("|".join(map(re.escape, values)))  # longest first: the longest match wins

    def apply(line: str) -> str:
        return pattern.sub(MASK, line)

    return apply


def _same(line: str) -> str:
    return line
