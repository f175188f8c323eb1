"""config/config.yaml: every key of autohub_cli/config.py, and every way it can be wrong (issue 3, item 3).

A wrong value is an error naming the file, the key path, what was expected and what was found; an
unknown key is a warning with a did-you-mean; the original daemon's keys are accepted and reported
as unused; the commands turn a bad config into one line and exit 3, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import AUTOHUB

from autohub_cli.config import (
    ConfigError,
    LoggingSettings,
    Settings,
    find_root,
    load_settings,
    parse_settings,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AUTOHUB_CONFIG", raising=False)
    folder = tmp_path / "proj"
    (folder / "config").mkdir(parents=True)
    (folder / "tasks").mkdir()
    (folder / "config" / "config.yaml").write_text("")
    return folder


def write(root: Path, text: str) -> Path:
    path = root / "config" / "config.yaml"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def load(root: Path, text: str) -> Settings:
    write(root, text)
    return load_settings(root)


def error(root: Path, text: str) -> str:
    write(root, text)
    with pytest.raises(ConfigError) as info:
        load_settings(root)
    message = str(info.value)
    assert "\n" not in message  # one line
    return message


def parse(data: dict) -> Settings:
    return parse_settings(data, root=Path("/p"), config_file=Path("/p/config/config.yaml"))


# --- what a good config gives ---------------------------------------------------------------------


def test_an_empty_file_gives_every_default(root):
    settings = load(root, "")
    assert settings.root == root and settings.config_file == root / "config" / "config.yaml"
    assert settings.scheduler.max_parallel == 4 and settings.scheduler.timezone is None
    assert settings.scheduler.max_catchup == 10 and settings.scheduler.max_memory_usage == 500
    assert settings.state.path == "state/autohub.db" and settings.state.url is None
    assert settings.logging == LoggingSettings()
    assert settings.tasks.include_example_tasks is False and settings.tasks.file_pattern == "*.py"
    assert settings.warnings == ()


def test_the_shipped_config_is_valid_and_quiet():
    settings = load_settings(REPO)
    assert settings.warnings == ()
    assert settings.logging.max_size == 10 * 1024 * 1024 and settings.logging.retention_days == 7


def test_every_key_with_a_good_value(root):
    settings = load(
        root,
        """
scheduler:
  timezone: Europe/Amsterdam
  max_parallel: 8
  max_catchup: 3
  max_memory_usage: 256
  history_days: 30
  ping_url: https://hc.example/ping/abc
state:
  path: db/x.db
  url: postgresql://u@h/db
database:
  backup_interval: 0
  backup_keep: 2
logging:
  level: debug
  file: sched.log
  max_size: 1.5 MB
  retention: 2 weeks
  rotation: SIZE
virtual_env:
  path: .venv
  auto_install: false
  index_url: https://mirror.example/simple
  install_timeout: 60
  find_links: wheels
  installer: pip
  interpreters:
    "3.12": /usr/bin/python3.12
tasks:
  directory: jobs
  file_pattern: "job_*.py"
  include_example_tasks: true
notify:
  on_failure: true
""",
    )
    assert settings.warnings == ()
    assert settings.scheduler.timezone == "Europe/Amsterdam" and settings.scheduler.max_parallel == 8
    assert settings.scheduler.ping_url == "https://hc.example/ping/abc" and settings.scheduler.history_days == 30
    assert settings.state_path == root / "db" / "x.db" and settings.state.url == "postgresql://u@h/db"
    assert settings.database.backup_interval == 0 and settings.database.backup_keep == 2
    assert settings.logging.level == "DEBUG" and settings.logging.rotation == "size"
    assert settings.logging.max_size == int(1.5 * 1024 * 1024) and settings.logging.retention_days == 14
    assert settings.virtual_env.auto_install is False and settings.virtual_env.find_links == ("wheels",)
    assert settings.virtual_env.interpreters == (("3.12", "/usr/bin/python3.12"),)
    assert settings.tasks_dir == root / "jobs" and settings.tasks.include_example_tasks is True
    assert settings.notify == {"on_failure": True}


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (2048, 2048),
        ("100", 100),
        ("10 MB", 10 * 1024**2),
        ("10mb", 10 * 1024**2),
        ("512 KiB", 512 * 1024),
        ("1G", 1024**3),
        ("3 b", 3),
    ],
)
def test_sizes(text, size):
    assert parse({"logging": {"max_size": text}}).logging.max_size == size


@pytest.mark.parametrize(
    ("text", "days"), [(3, 3), ("1 day", 1), ("7 days", 7), ("10d", 10), ("2 weeks", 14), ("1w", 7)]
)
def test_durations(text, days):
    assert parse({"logging": {"retention": text}}).logging.retention_days == days


def test_empty_sections_are_allowed():
    settings = parse({"scheduler": None, "logging": None, "notify": None})
    assert settings.scheduler.max_parallel == 4 and settings.notify == {}


# --- wrong values: errors naming the key path, what was expected and what was found ---------------

WRONG = [
    ("scheduler", "timezone", "Mars/Olympus", "an IANA time zone name"),
    ("scheduler", "timezone", "Europe", "an IANA time zone name"),  # a folder of the zone database
    ("scheduler", "timezone", 5, "an IANA time zone name"),
    ("scheduler", "max_parallel", "four", "an integer >= 1"),
    ("scheduler", "max_parallel", 0, "an integer >= 1"),
    ("scheduler", "max_parallel", True, "an integer >= 1"),
    ("scheduler", "max_parallel", 2.5, "an integer >= 1"),
    ("scheduler", "max_catchup", -1, "an integer >= 1"),
    ("scheduler", "max_memory_usage", "500 MB", "an integer number of MB >= 1"),
    ("scheduler", "history_days", 0, "an integer number of days >= 1"),
    ("scheduler", "ping_url", 42, "a URL string"),
    ("database", "backup_interval", -5, "an integer number of seconds >= 0"),
    ("database", "backup_keep", 0, "an integer >= 1"),
    ("state", "path", "", "a file path string"),
    ("state", "path", None, "a file path string"),
    ("state", "url", ["x"], "a database URL string"),
    ("logging", "level", "LOUD", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("logging", "file", 3, "a file name string"),
    ("logging", "max_size", "ten megabytes", 'a size such as "10 MB"'),
    ("logging", "max_size", "10 ib", 'a size such as "10 MB"'),
    ("logging", "max_size", 0, 'a size such as "10 MB"'),
    ("logging", "retention", "12 hours", 'a duration such as "7 days"'),
    ("logging", "retention", 0, 'a duration such as "7 days"'),
    ("logging", "rotation", "weekly", "one of daily, size, never"),
    ("virtual_env", "path", False, "a directory path string"),
    ("virtual_env", "auto_install", "yes please", "true or false"),
    ("virtual_env", "install_timeout", 0, "an integer number of seconds >= 1"),
    ("virtual_env", "find_links", [1, 2], "a folder or URL of wheels"),
    ("virtual_env", "installer", "conda", "one of auto, uv, pip"),
    ("virtual_env", "interpreters", ["/usr/bin/python3"], "a mapping of Python version to interpreter path"),
    ("tasks", "directory", 7, "a directory path string"),
    ("tasks", "file_pattern", "", 'a glob pattern such as "*.py"'),
    ("tasks", "include_example_tasks", "no", "true or false"),
]


@pytest.mark.parametrize(("section", "key", "value", "expected"), WRONG, ids=[f"{s}.{k}={v!r}" for s, k, v, _ in WRONG])
def test_a_wrong_value_names_the_key_the_expectation_and_the_value(section, key, value, expected):
    with pytest.raises(ConfigError) as info:
        parse({section: {key: value}})
    message = str(info.value)
    assert message.startswith(f"/p/config/config.yaml: {section}.{key}: expected {expected}")
    assert message.endswith(f", found {value!r}")


def test_a_wrong_value_in_the_file_names_the_file(root):
    message = error(root, "scheduler:\n  max_parallel: four\n")
    assert message == f"{root}/config/config.yaml: scheduler.max_parallel: expected an integer >= 1, found 'four'"


def test_an_unquoted_python_version_gets_a_hint(root):
    message = error(root, "virtual_env:\n  interpreters:\n    3.10: /usr/bin/python3.10\n")
    assert "virtual_env.interpreters: expected a mapping" in message
    assert 'write the version quoted: YAML reads 3.1 as a number, "3.10" as 3.1' in message


def test_a_section_that_is_not_a_mapping(root):
    assert error(root, "scheduler: 5\n").endswith("scheduler: expected a mapping, found int 5")
    assert error(root, "logging: [a, b]\n").endswith("logging: expected a mapping, found list ['a', 'b']")
    assert error(root, "notify: yes\n").endswith("notify: expected a mapping, found bool True")


# --- unknown and unused keys: warnings ------------------------------------------------------------


def test_an_unknown_key_is_warned_with_a_did_you_mean():
    settings = parse({"scheduler": {"max_paralel": 3, "colour": "blue"}})
    assert settings.scheduler.max_parallel == 4  # not applied
    assert settings.warnings == (
        "/p/config/config.yaml: unknown key 'scheduler.max_paralel' (did you mean 'max_parallel'?)",
        "/p/config/config.yaml: unknown key 'scheduler.colour'",
    )


def test_an_unknown_section_is_warned_with_a_did_you_mean():
    settings = parse({"schedular": {"max_parallel": 2}, "extras": {}})
    assert settings.warnings == (
        "/p/config/config.yaml: unknown section 'schedular' (did you mean 'scheduler'?)",
        "/p/config/config.yaml: unknown section 'extras'",
    )


@pytest.mark.parametrize("section", [1, True, None, 2.5])
def test_a_section_name_that_is_not_text_is_warned_about_not_a_crash(section):
    settings = parse({section: {"a": 1}})
    assert settings.warnings == (f"/p/config/config.yaml: unknown section {section!r}",)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("scheduler.loop_interval", "there is no loop"),
        ("scheduler.task_check_interval", "task files are read on every tick"),
        ("scheduler.memory_cleanup_interval", "each run is its own process"),
        ("tasks.reload_on_change", "task files are read on every tick"),
        ("database.path", "state.path"),
        ("virtual_env.python_executable", "virtual_env.path"),
    ],
)
def test_the_original_daemons_keys_are_accepted_and_reported_unused(path, why):
    section, key = path.split(".")
    settings = parse({section: {key: 10}})
    (warning,) = settings.warnings
    assert warning.startswith(f"/p/config/config.yaml: {path} is not used by autohub (")
    assert why in warning


def test_the_original_config_file_loads_with_only_unused_key_warnings(root):
    original = """
scheduler:
  loop_interval: 10
  task_check_interval: 5
  memory_cleanup_interval: 300
  max_memory_usage: 500
database:
  path: "data/scheduler.db"
  backup_interval: 3600
logging:
  level: "INFO"
  file: "scheduler.log"
  max_size: "10 MB"
  retention: "7 days"
  rotation: "daily"
virtual_env:
  path: "venv"
  python_executable: "python3"
tasks:
  directory: "tasks"
  file_pattern: "*.py"
  reload_on_change: true
  include_example_tasks: false
"""
    settings = load(root, original)
    assert len(settings.warnings) == 6
    assert all("is not used by autohub" in w for w in settings.warnings)
    assert settings.virtual_env.path == "venv" and settings.scheduler.max_memory_usage == 500


# --- the file itself ------------------------------------------------------------------------------


def test_bad_yaml(root):
    message = error(root, "scheduler:\n  max_parallel: [1\n")
    assert message.startswith(f"{root}/config/config.yaml: not valid YAML: ")
    assert "line" in message


def test_a_tab_indented_file(root):
    assert "not valid YAML" in error(root, "scheduler:\n\tmax_parallel: 2\n")


def test_a_top_level_that_is_not_a_mapping(root):
    assert error(root, "- scheduler\n- tasks\n").endswith(
        "expected a mapping of sections, found list ['scheduler', 'tasks']"
    )
    assert error(root, "just text\n").endswith("expected a mapping of sections, found str 'just text'")


def test_a_file_that_is_not_utf8(root):
    assert "cannot read" in error(root, b"scheduler:\n  timezone: \xff\xfe\n")


def test_python_tags_are_not_executed(root):
    assert "not valid YAML" in error(root, "scheduler: !!python/object/apply:os.system ['true']\n")


def test_missing_config_file_explicit_path(tmp_path):
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        find_root(tmp_path / "nope.yaml")


def test_a_folder_without_config(tmp_path):
    with pytest.raises(ConfigError, match=r"no config/config\.yaml in this directory"):
        find_root(tmp_path)


def test_no_project_above_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOHUB_CONFIG", raising=False)
    with pytest.raises(ConfigError) as info:
        find_root(cwd=tmp_path)
    assert "autohub init" in str(info.value) and "--config" in str(info.value)


def test_autohub_config_pointing_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOHUB_CONFIG", str(tmp_path / "gone" / "config.yaml"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings()


def test_the_root_is_found_by_walking_up_and_from_the_env(root, monkeypatch):
    deep = root / "tasks" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_root(cwd=deep) == root
    monkeypatch.setenv("AUTOHUB_CONFIG", str(root / "config" / "config.yaml"))
    assert find_root(cwd=Path("/")) == root


# --- the commands: one clear line, exit 3, no traceback -------------------------------------------

BAD = {
    "wrong type": (
        "scheduler:\n  max_parallel: four\n",
        "scheduler.max_parallel: expected an integer >= 1, found 'four'",
    ),
    "bad yaml": ("scheduler: [\n", "not valid YAML"),
    "not a mapping": ("- a\n", "expected a mapping of sections"),
    "section not a mapping": ("tasks: 3\n", "tasks: expected a mapping, found int 3"),
    "bad zone": ("scheduler:\n  timezone: Europe\n", "scheduler.timezone: expected an IANA time zone name"),
    "bad size": ("logging:\n  max_size: 10 ib\n", "logging.max_size: expected a size"),
}


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "300"}
    env.pop("AUTOHUB_CONFIG", None)
    return subprocess.run([AUTOHUB, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.parametrize("command", ["validate", "tick", "status", "history"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_commands_exit_3_with_one_line_on_a_bad_config(root, case, command):
    text, expected = BAD[case]
    write(root, text)
    proc = run(root, command)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("autohub: ") and str(root / "config" / "config.yaml") in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (root / "state" / "autohub.db").exists()  # nothing half-written


def test_commands_exit_3_outside_any_project(tmp_path):
    for command in ("validate", "tick"):
        proc = run(tmp_path, command)
        assert proc.returncode == 3
        assert proc.stderr.startswith("autohub: no config/config.yaml in ") and "Traceback" not in proc.stderr


def test_commands_exit_3_for_a_missing_config_option(root):
    proc = run(root, "validate", "--config", str(root / "other.yaml"))
    assert proc.returncode == 3 and "other.yaml: config file not found" in proc.stderr


def test_a_config_broken_after_a_good_tick_is_still_caught(root):
    """The tick caches the parsed config; an edit must never be hidden by that cache."""
    write(root, "scheduler:\n  timezone: UTC\n")
    assert run(root, "tick").returncode == 0
    write(root, "scheduler:\n  timezone: UTC\n  max_parallel: 0\n")
    proc = run(root, "tick")
    assert proc.returncode == 3 and "scheduler.max_parallel" in proc.stderr
    write(root, "scheduler:\n  timezone: UTC\n")
    assert run(root, "tick").returncode == 0


def test_validate_shows_config_warnings(root):
    write(root, "scheduler:\n  loop_interval: 10\n  max_paralel: 2\n")
    proc = run(root, "validate")
    assert proc.returncode == 0
    assert "warning: " in proc.stdout and "scheduler.loop_interval is not used by autohub" in proc.stdout
    assert "unknown key 'scheduler.max_paralel' (did you mean 'max_parallel'?)" in proc.stdout


@pytest.mark.parametrize("value", ["'[/x]'", "'[red]loud'"])
def test_a_value_that_looks_like_markup_is_shown_as_written(root, value):
    write(root, f"logging:\n  level: {value}\n")
    proc = run(root, "validate")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert f"found {value}" in proc.stderr
