"""Settings: find the project root, load `config/config.yaml`, validate it into frozen dataclasses.

Every problem is reported as a `ConfigError` naming the file, the key path, what was expected and
what was found; unknown keys and keys that only made sense for the original daemon become warnings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_RELATIVE = Path("config") / "config.yaml"


class ConfigError(Exception):
    """A configuration problem the user must fix; the message says where and how."""


@dataclass(frozen=True)
class SchedulerSettings:
    timezone: str | None = None  # IANA name; None = the system's local zone
    max_parallel: int = 4
    max_catchup: int = 10
    max_memory_usage: int = 500  # MB, the default per-task memory cap
    history_days: int = 90  # runs older than this are pruned
    ping_url: str | None = None  # pinged on every tick (a dead-man's switch for the cron line)


@dataclass(frozen=True)
class DatabaseSettings:
    backup_interval: int = 3600  # seconds; 0 disables backups
    backup_keep: int = 5


@dataclass(frozen=True)
class StateSettings:
    path: str = "state/autohub.db"
    url: str | None = None
    busy_timeout_ms: int = 15_000  # how long a tick waits for another process's write lock


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    file: str = "scheduler.log"
    max_size: int = 10 * 1024 * 1024  # bytes
    retention_days: int = 7
    rotation: str = "daily"  # daily | size | never


@dataclass(frozen=True)
class VirtualEnvSettings:
    path: str | None = None  # None = the environment autohub runs in
    python_executable: str = "python3"
    auto_install: bool = True
    index_url: str | None = None  # a package index URL, or a local folder of wheels (used with --no-index)
    install_timeout: int = 600
    find_links: tuple[str, ...] = ()  # extra folders/URLs of wheels (--find-links)
    installer: str = "auto"  # auto (uv when found, else pip) | uv | pip
    interpreters: tuple[tuple[str, str], ...] = ()  # ("3.12", "/usr/bin/python3.12"): for newer python_version


@dataclass(frozen=True)
class TasksSettings:
    directory: str = "tasks"
    file_pattern: str = "*.py"
    include_example_tasks: bool = False


@dataclass(frozen=True)
class FailureNotifySettings:
    """`notify.on_failure`: where the first failure of a streak, and the recovery after it, are announced."""

    desktop: bool = True  # a desktop notification (a log line on a machine with no display)
    apprise: tuple[str, ...] = ()  # apprise URLs (mail, Slack, ntfy, Telegram ...), used when apprise is installed
    recovery: bool = True  # also announce the first success after a failure streak
    lines: int = 10  # how many of the run's last output lines the message quotes


@dataclass(frozen=True)
class NotifySettings:
    """The `notify` section, validated (`Settings.notify` keeps the mapping as written)."""

    ping_url: str | None = None  # default ping URL of every task; {task} and {slug} are replaced
    ping_timeout: float = 5.0  # seconds a ping may take
    on_failure: FailureNotifySettings | None = None  # None: no failure notifications


@dataclass(frozen=True)
class Settings:
    root: Path
    config_file: Path
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    state: StateSettings = field(default_factory=StateSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    virtual_env: VirtualEnvSettings = field(default_factory=VirtualEnvSettings)
    tasks: TasksSettings = field(default_factory=TasksSettings)
    notify: dict[str, Any] = field(default_factory=dict)
    notifications: NotifySettings = field(default_factory=NotifySettings)  # `notify`, validated
    warnings: tuple[str, ...] = ()

    @property
    def tasks_dir(self) -> Path:
        return self.root / self.tasks.directory

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def state_path(self) -> Path:
        return self.root / self.state.path


# Keys of the original daemon's config that have no meaning without a daemon.
_UNUSED = {
    "scheduler.loop_interval": "there is no loop: cron starts a tick every minute",
    "scheduler.task_check_interval": "task files are read on every tick",
    "scheduler.memory_cleanup_interval": "each run is its own process, freed when it ends",
    "tasks.reload_on_change": "task files are read on every tick",
    "database.path": "autohub keeps its state at state.path (default state/autohub.db)",
    "virtual_env.python_executable": "tasks run with the interpreter of virtual_env.path, or autohub's own",
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+)\s*(days?|d|weeks?|w)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def find_root(explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None) -> Path:
    """The project root: `--config PATH`, then `$AUTOHUB_CONFIG`, then walk up from `cwd`."""
    given = explicit or os.environ.get("AUTOHUB_CONFIG")
    if given:
        path = Path(given).expanduser().resolve()
        if path.is_dir():
            candidate = path / CONFIG_RELATIVE
            if candidate.is_file():
                return path
            raise ConfigError(f"{path}: no {CONFIG_RELATIVE} in this directory")
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        # config/config.yaml -> project root is the folder above config/
        return path.parent.parent if path.parent.name == "config" else path.parent
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_RELATIVE).is_file():
            return folder
    raise ConfigError(
        f"no {CONFIG_RELATIVE} in {start} or any folder above it: run autohub inside a project, "
        "pass --config PATH, set $AUTOHUB_CONFIG, or create one with `autohub init DIR`"
    )


YAML_MAX_VALUES = 100_000  # more, from a few lines of text, is aliases of aliases ("billion laughs")


def load_yaml_text(text: str) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    stack, count = [data], 0  # walked with a cap: aliases may expand a small text exponentially
    while stack:
        count += 1
        if count > YAML_MAX_VALUES:
            raise ValueError(f"aliases (*name) expand it to more than {YAML_MAX_VALUES:,} values")
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return data


def show(value: Any) -> str:
    """repr() for a message, cut short: a value is quoted, not dumped back whole."""
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = 200
    short.maxlevel, short.maxlist, short.maxdict = 3, 8, 8
    return short.repr(value)


def load_settings(
    explicit: str | os.PathLike[str] | None = None, cwd: Path | None = None, *, cached: bool = False
) -> Settings:
    """Find and validate the project's settings.

    With `cached`, the parsed YAML is kept as JSON in state/.config-cache.json keyed by the file's
    mtime and size, so that a tick whose config did not change does not import the YAML library.
    """
    root = find_root(explicit, cwd)
    given = explicit or os.environ.get("AUTOHUB_CONFIG")
    config_file = Path(given).expanduser().resolve() if given and Path(given).is_file() else root / CONFIG_RELATIVE
    try:
        st = config_file.stat()
    except OSError as exc:
        raise ConfigError(f"{config_file}: cannot read ({exc.strerror})") from None
    key = [str(config_file), st.st_mtime_ns, st.st_size]
    cache = root / "state" / ".config-cache.json"
    data = _read_cache(cache, key) if cached else None
    if data is None:
        data = _read_config(config_file)
        if cached:
            _write_cache(cache, key, data)
    return parse_settings(data, root=root, config_file=config_file)


def _read_config(config_file: Path) -> dict[str, Any]:
    try:
        text = config_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_file}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = load_yaml_text(text)
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError and its C twin
        raise ConfigError(f"{config_file}: not valid YAML: {_one_line(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{config_file}: expected a mapping of sections, found {_kind(data)}")
    return data


def _read_cache(cache: Path, key: list[Any]) -> dict[str, Any] | None:
    import json

    try:
        blob = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(blob, dict) or blob.get("key") != key or not isinstance(blob.get("data"), dict):
        return None
    return blob["data"]


def _write_cache(cache: Path, key: list[Any], data: dict[str, Any]) -> None:
    """Best effort: only JSON-exact data is cached, and a failure to write costs nothing but speed."""
    import json

    try:
        text = json.dumps({"key": key, "data": data})
        if json.loads(text)["data"] != data:
            return
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, cache)
    except (OSError, TypeError, ValueError):
        pass


def parse_time(text: str, tz: Any) -> Any:
    """ISO-8601 text -> an aware UTC datetime; without an offset it is read in `tz`. ValueError if bad."""
    from datetime import datetime, timezone

    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value.astimezone(timezone.utc)


_SECTIONS: dict[str, type] = {
    "scheduler": SchedulerSettings,
    "database": DatabaseSettings,
    "state": StateSettings,
    "logging": LoggingSettings,
    "virtual_env": VirtualEnvSettings,
    "tasks": TasksSettings,
}

# key path -> (converter, expected description)
_FIELDS: dict[str, tuple[Any, str]] = {}


def _register() -> None:
    from . import deps as _deps  # the converters of the dependency keys

    def pos(lo: int) -> Any:
        return lambda v: _int(v, lo)

    spec: dict[str, tuple[Any, str]] = {
        "scheduler.timezone": (_timezone, "an IANA time zone name such as Europe/Amsterdam"),
        "scheduler.max_parallel": (pos(1), "an integer >= 1"),
        "scheduler.max_catchup": (pos(1), "an integer >= 1"),
        "scheduler.max_memory_usage": (pos(1), "an integer number of MB >= 1"),
        "scheduler.history_days": (pos(1), "an integer number of days >= 1"),
        "scheduler.ping_url": (_optional_str, "a URL string"),
        "database.backup_interval": (pos(0), "an integer number of seconds >= 0"),
        "database.backup_keep": (pos(1), "an integer >= 1"),
        "state.path": (_str, "a file path string"),
        "state.url": (_optional_str, "a database URL string"),
        "state.busy_timeout_ms": (pos(1), "an integer number of milliseconds >= 1"),
        "logging.level": (_level, "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        "logging.file": (_str, "a file name string"),
        "logging.max_size": (_size, 'a size such as "10 MB" or a number of bytes'),
        "logging.retention": (_days, 'a duration such as "7 days"'),
        "logging.rotation": (_choice("daily", "size", "never"), "one of daily, size, never"),
        "virtual_env.path": (_optional_str, "a directory path string"),
        "virtual_env.auto_install": (_bool, "true or false"),
        "virtual_env.index_url": (_optional_str, "a package index URL string"),
        "virtual_env.install_timeout": (pos(1), "an integer number of seconds >= 1"),
        "virtual_env.find_links": (_deps.config_find_links, "a folder or URL of wheels, or a list of them"),
        "virtual_env.installer": (_choice("auto", "uv", "pip"), "one of auto, uv, pip"),
        "virtual_env.interpreters": (
            _deps.config_interpreters,
            'a mapping of Python version to interpreter path, e.g. "3.12": /usr/bin/python3.12',
        ),
        "tasks.directory": (_str, "a directory path string"),
        "tasks.file_pattern": (_str, 'a glob pattern such as "*.py"'),
        "tasks.include_example_tasks": (_bool, "true or false"),
        "notify.ping_url": (_optional_str, "a URL string, where {task} and {slug} stand for the task's name"),
        "notify.ping_timeout": (_seconds, "a number of seconds > 0"),
        "notify.on_failure": (_on_failure, "true, false, or a mapping of desktop, apprise, recovery, lines"),
    }
    _FIELDS.update(spec)


# dataclass attribute for a config key whose name differs
_ATTR = {"logging.retention": "retention_days"}


def parse_settings(data: dict[str, Any], *, root: Path, config_file: Path) -> Settings:
    if not _FIELDS:
        _register()
    warnings: list[str] = []
    sections: dict[str, Any] = {}
    for section, value in data.items():
        if section == "notify":
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{config_file}: notify: expected a mapping, found {_kind(value)}")
            sections["notify"] = value or {}
            sections["notifications"] = _notify(value or {}, config_file, warnings)
            continue
        if section not in _SECTIONS:
            warnings.append(
                f"{config_file}: unknown section {section!r}{_did_you_mean(str(section), [*_SECTIONS, 'notify'])}"
            )
            continue
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{config_file}: {section}: expected a mapping, found {_kind(value)}")
        values: dict[str, Any] = {}
        for key, raw in value.items():
            path = f"{section}.{key}"
            if path in _UNUSED:
                warnings.append(f"{config_file}: {path} is not used by autohub ({_UNUSED[path]})")
                continue
            if path not in _FIELDS:
                known = [k.split(".", 1)[1] for k in _FIELDS if k.startswith(section + ".")]
                warnings.append(f"{config_file}: unknown key {path!r}{_did_you_mean(str(key), known)}")
                continue
            convert, expected = _FIELDS[path]
            try:
                values[_ATTR.get(path, str(key))] = convert(raw)
            except (TypeError, ValueError) as exc:
                why = f" ({exc})" if isinstance(exc, ValueError) and str(exc) else ""  # a converter's own hint
                raise ConfigError(f"{config_file}: {path}: expected {expected}, found {show(raw)}{why}") from None
        sections[section] = _SECTIONS[section](**values)
    return Settings(root=root, config_file=config_file, warnings=tuple(warnings), **sections)


def _did_you_mean(word: str, options: list[str]) -> str:
    import difflib  # only when there is something to suggest

    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {show(value)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _int(value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None else _str(value)


def _choice(*options: str) -> Any:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            raise ValueError
        return value.lower()

    return convert


def _level(value: Any) -> str:
    return _choice("debug", "info", "warning", "error", "critical")(value).upper()


def _timezone(value: Any) -> str | None:
    if value is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = _str(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise ValueError from None
    return name


def _size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    if unit[:1] not in _SIZE_UNITS:  # "10 ib": the pattern lets a bare "i" through
        raise ValueError
    size = int(number * _SIZE_UNITS[unit[:1]])
    if size <= 0:
        raise ValueError
    return size


def _days(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) <= 0:
        raise ValueError
    unit = (match.group(2) or "d").lower()
    return int(match.group(1)) * (7 if unit.startswith("w") else 1)


def resolve_timezone(settings: Settings) -> Any:
    """The scheduler's zone as a tzinfo: the configured IANA zone, else the system's local zone."""
    from zoneinfo import ZoneInfo

    if settings.scheduler.timezone:
        return ZoneInfo(settings.scheduler.timezone)
    return local_zone()


def local_zone() -> Any:
    """The system's zone: $TZ, the /etc/localtime link, /etc/timezone, then tzlocal; UTC if none."""
    from zoneinfo import ZoneInfo

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        with open("/etc/timezone", encoding="utf-8") as f:
            candidates.append(f.read().strip())
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except Exception:  # noqa: BLE001, S112 - not an IANA name: try the next source
                continue
    try:
        import tzlocal

        return tzlocal.get_localzone()
    except Exception:  # noqa: BLE001 - a machine with no zone configured is UTC
        return ZoneInfo("UTC")


def zone_name(tz: Any) -> str:
    return str(getattr(tz, "key", None) or tz)


# --- the notify section (monitoring) -------------------------------------------------------------


def _notify(data: dict[str, Any], config_file: Path, warnings: list[str]) -> NotifySettings:
    values: dict[str, Any] = {}
    known = [k.split(".", 1)[1] for k in _FIELDS if k.startswith("notify.")]
    for key, raw in data.items():
        path = f"notify.{key}"
        if path not in _FIELDS:
            warnings.append(f"{config_file}: unknown key {path!r}{_did_you_mean(str(key), known)}")
            continue
        convert, expected = _FIELDS[path]
        try:
            values[str(key)] = convert(raw)
        except (TypeError, ValueError) as exc:
            why = f" ({exc})" if str(exc) else ""
            raise ConfigError(f"{config_file}: {path}: expected {expected}, found {show(raw)}{why}") from None
    return NotifySettings(**values)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError
    return float(value)


_ON_FAILURE_KEYS = ("desktop", "apprise", "recovery", "lines")


def _on_failure(value: Any) -> FailureNotifySettings | None:
    """`true` (desktop only), `false` / null (off), or a mapping of desktop, apprise, recovery, lines."""
    if value is None or value is False:
        return None
    if value is True:
        return FailureNotifySettings()
    if not isinstance(value, dict):
        raise ValueError
    for key in value:
        if key not in _ON_FAILURE_KEYS:
            raise ValueError(f"unknown key {key!r}{_did_you_mean(str(key), list(_ON_FAILURE_KEYS))}")
    urls = value.get("apprise") or []
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not all(isinstance(u, str) and u.strip() for u in urls):
        raise ValueError("apprise: expected a URL string or a list of them")
    flags = {}
    for key in ("desktop", "recovery"):
        if not isinstance(value.get(key, True), bool):
            raise ValueError(f"{key}: expected true or false")
        flags[key] = value.get(key, True)
    lines = value.get("lines", FailureNotifySettings.lines)
    if isinstance(lines, bool) or not isinstance(lines, int) or lines < 0:
        raise ValueError("lines: expected a whole number >= 0")
    return FailureNotifySettings(apprise=tuple(u.strip() for u in urls), lines=lines, **flags)
