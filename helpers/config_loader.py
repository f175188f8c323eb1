"""Task configuration: YAML files in `<project>/config/`, read and written by name.

Differences from the original, on purpose:
- a missing file gives `{}` (the original returned the scheduler's fallback dict, even for
  `secrets.yaml`, so a task could not tell "no config" from "config");
- a file that is not valid YAML, or not a mapping, is logged as an error and gives `{}`, so a
  typo in one task's config never crashes the task at import time;
- names are confined to `config/` (`../x` raises ValueError);
- `save_config` is atomic: readers see the old file or the new one, never half of either;
- a `secrets.yaml` readable by group or others is warned about, once per process.
"""

from __future__ import annotations

import contextlib
import os
import stat
from functools import cache
from pathlib import Path
from typing import Any

SECRETS = "secrets.yaml"


def get_project_root() -> Path:
    """`$AUTOHUB_PROJECT_ROOT` (set for every run), else the folder that holds `helpers/`."""
    given = os.environ.get("AUTOHUB_PROJECT_ROOT")
    if given:
        return Path(given).expanduser().resolve()
    return Path(__file__).resolve().parent.parent


def load_config(config_name: str = "config.yaml") -> dict:
    """The mapping in `config/<config_name>`; `{}` when it is missing, empty or unreadable."""
    path = _config_path(config_name)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        _log_error(f"config {path}: cannot read ({exc})")
        return {}
    if path.name == SECRETS:
        _check_secrets_mode(path)
    import yaml

    try:
        # the C loader is several times faster than the pure-Python one
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        _log_error(f"config {path}: not valid YAML: {' '.join(str(exc).split())}")
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        _log_error(f"config {path}: expected a mapping at the top, found {type(data).__name__}")
        return {}
    return data


def get_config_value(key_path: str, config_name: str = "config.yaml", default: Any = None) -> Any:
    """`a.b.c` looks up nested keys; a numeric part indexes a list (`servers.0.host`)."""
    value: Any = load_config(config_name)
    for part in str(key_path).split("."):
        if isinstance(value, dict):
            if part in value:
                value = value[part]
            elif part.lstrip("-").isdigit() and int(part) in value:  # a YAML number key
                value = value[int(part)]
            else:
                return default
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return default
    return value


def save_config(data: Any, config_name: str = "config.yaml") -> bool:
    """Write `data` as YAML to `config/<config_name>` atomically; False (and an error logged) on failure.

    The YAML is produced before any file is touched, then written to a temporary file in the
    same folder, fsynced and renamed over the target: a crash or an unserialisable value leaves
    the old file intact. An existing file keeps its permission bits; a new `secrets.yaml` is 0600.
    """
    path = _config_path(config_name)
    import yaml

    try:
        text = yaml.safe_dump(
            data,
            indent=2,
            default_flow_style=False,
            sort_keys=False,
            allow_unicode=True,
        )
    except yaml.YAMLError as exc:
        _log_error(f"config {path}: cannot save: {exc}")
        return False
    target = path.resolve() if path.is_symlink() else path
    tmp_name = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = 0o600 if target.name == SECRETS else 0o644
        import tempfile  # imported here: it costs more than the rest of the helpers

        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
        tmp_name = None
        _fsync_dir(target.parent)
    except OSError as exc:
        _log_error(f"config {path}: cannot save: {exc}")
        return False
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return True


def list_config_files() -> list[str]:
    """Names of the `*.yaml` files in `config/`, sorted."""
    folder = get_project_root() / "config"
    try:
        return sorted(p.name for p in folder.iterdir() if p.suffix == ".yaml" and p.is_file())
    except OSError:
        return []


def _config_path(config_name: str) -> Path:
    name = Path(os.fspath(config_name))
    if not str(config_name) or name.is_absolute() or ".." in name.parts:
        raise ValueError(f"config name {config_name!r} must be a file name inside the config/ folder")
    return get_project_root() / "config" / name


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; some file systems cannot open a directory, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_secrets_mode(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        _warn_readable_secrets(str(path), mode)


@cache
def _warn_readable_secrets(path: str, mode: int) -> None:
    """Cached so the warning appears once per process (and again only if the mode changes)."""
    from .task_logging import log_warning

    log_warning(f"{path} is readable by group or others (mode {mode:04o}): run chmod 600 {path}")


def _log_error(message: str) -> None:
    from .task_logging import log_error

    log_error(message)
