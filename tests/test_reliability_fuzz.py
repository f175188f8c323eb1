"""Bad input, fuzzed (issue 6, part 5): hypothesis over the task-file parser, the schedule
expressions and the config loader. Never an unhandled exception; always autohub's own error with
a message that names the file (or the expression) and the problem. The properties and the input
strategies live in tests/faults.py, shared with `bench/reliability.py`, which runs them longer.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from faults import (
    check_chain,
    check_config_bytes,
    check_config_data,
    check_cron,
    check_task_bytes,
    check_task_text,
    strategies,
)
from hypothesis import HealthCheck, given, settings

S = strategies()
# The same inputs on every CI run (derandomize): a red build means the code changed, not the dice.
# `bench/reliability.py` draws fresh ones each time; what it finds becomes a plain case below.
QUIET = [HealthCheck.too_slow, HealthCheck.filter_too_much]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=QUIET, derandomize=True, database=None)
FAST = settings(max_examples=1500, deadline=None, suppress_health_check=QUIET, derandomize=True, database=None)


@FUZZ
@given(S["task_text"])
def test_task_files_of_any_text_give_a_spec_or_an_error_naming_the_file(text):
    check_task_text(text)


@FUZZ
@given(S["task_bytes"])
def test_task_files_of_any_bytes_give_a_spec_or_an_error_naming_the_file(data):
    with tempfile.TemporaryDirectory() as folder:
        check_task_bytes(data, Path(folder))


@FAST
@given(S["chain"])
def test_any_schedule_chain_compiles_or_says_why(chain):
    check_chain(chain)


@FAST
@given(S["cron"])
def test_any_cron_text_compiles_or_says_why(text):
    check_cron(text)


@FUZZ
@given(S["config_data"])
def test_any_config_mapping_gives_settings_or_an_error_naming_file_and_key(data):
    check_config_data(data)


@FUZZ
@given(S["config_bytes"])
def test_any_config_file_gives_settings_or_an_error_naming_the_file(data):
    with tempfile.TemporaryDirectory() as folder:
        check_config_bytes(data, Path(folder))


# --- regressions the fuzzers found (kept as plain cases so they never come back) ----------------


@pytest.mark.parametrize("zone", ["Europe", "America", "Etc"])
def test_a_zone_folder_in_at_is_an_invalid_task_not_a_crash(zone):
    """`.at("10:00", "Europe")`: ZoneInfo raised IsADirectoryError, which escaped parse_file and
    stopped the whole tick (every task) with exit 3."""
    text = (
        f'from autohub_cli import repeat, every\n\n@repeat(every().day.at("10:00", "{zone}"))\ndef start():\n    pass\n'
    )
    assert check_task_text(text) == "error"


def test_a_task_with_a_zone_folder_does_not_stop_the_other_tasks(project):
    project.task("good")
    project.task("bad", schedule='every().day.at("10:00", "Europe")')
    project.tick("2026-11-27T10:00:30Z")
    done = project.cli("tick", "--now", "2026-11-27T10:01:05Z")
    assert done.returncode == 0, done.stderr
    assert "bad.py" in done.stderr and "unknown time zone" in done.stderr
    assert [r["task"] for r in project.runs()] == ["good"]


@pytest.mark.parametrize(
    "data",
    [
        b"scheduler:\n  timezone: Europe\n",
        b"\xff\xfe\x00",
        b"scheduler: [",
        b"a: &a [*a]\n",
        b"scheduler: !!python/object/apply:os.system ['true']\n",
    ],
)
def test_config_files_seen_in_the_wild(data, tmp_path):
    assert check_config_bytes(data, tmp_path) == "error" or data.startswith(b"a:")


@pytest.mark.parametrize("expr", ["1+" * 100_000 + "1", "-" * 100_000 + "1"])
def test_code_nested_deeper_than_python_parses_is_an_invalid_task_not_a_crash(expr):
    """RecursionError / MemoryError from Python's parser escaped parse_file (and stopped the tick)."""
    text = f"x = {expr}\n\ndef start():\n    pass\n"
    assert check_task_text(text) == "error"


def test_a_task_nested_too_deeply_does_not_stop_the_other_tasks(project):
    project.task("good")
    (project.root / "tasks" / "generated.py").write_text("x = " + "1+" * 100_000 + "1\n\ndef start():\n    pass\n")
    project.tick("2026-11-27T10:00:30Z")
    done = project.cli("tick", "--now", "2026-11-27T10:01:05Z")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert "generated.py: not valid Python: nested too deeply" in done.stderr
    assert [r["task"] for r in project.runs()] == ["good"]


def _laughs(key: str, width: int = 10, depth: int = 5) -> str:
    """YAML aliases of aliases: 6 short lines that expand to width**(depth+1) values (10**6 here)."""
    names = [f"l{i}" for i in range(depth + 1)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
    lines += [f"{n}: &{n} [{', '.join(['*' + p] * width)}]" for p, n in zip(names, names[1:])]  # noqa: RUF007
    return "\n".join(lines) + f"\n{key}: *{names[-1]}\n"


@pytest.mark.parametrize("key", ["title", "dependencies"])
def test_yaml_aliases_of_aliases_in_a_frontmatter_are_refused_not_expanded(key):
    """A frontmatter of a few lines expanded to millions of values: the tick walked them (and dumped
    them into the error message); with 9 levels of 9 it never finished, holding every later tick."""
    text = f'"""\n---\n{_laughs(key)}---\n"""\ndef start():\n    pass\n'
    from autohub_cli.taskfile import parse_file

    result = parse_file(Path("/p/tasks/laughs.py"), text)
    assert result.message.startswith("/p/tasks/laughs.py:3: frontmatter: not valid YAML")
    assert "aliases" in result.message and len(result.message) < 300, result.message[:300]


def test_yaml_aliases_of_aliases_in_the_config_are_refused_not_expanded(tmp_path):
    lines = "".join(f"  {line}\n" for line in _laughs("timezone").splitlines())
    data = f"scheduler:\n{lines}".encode()
    assert check_config_bytes(data, tmp_path) == "error"
    from autohub_cli.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="not valid YAML: aliases"):
        load_settings(str(tmp_path))
    assert not (tmp_path / "state" / ".config-cache.json").exists()  # nothing expanded into the cache


def test_a_long_value_is_quoted_short_in_the_message(tmp_path):
    data = ("scheduler:\n  timezone: [" + ", ".join(f"zone{i}" for i in range(5000)) + "]\n").encode()
    from autohub_cli.config import ConfigError, load_settings

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_settings(str(tmp_path))
    assert "scheduler.timezone: expected an IANA time zone name" in str(info.value)
    assert "['zone0', 'zone1'" in str(info.value) and len(str(info.value)) < 500
