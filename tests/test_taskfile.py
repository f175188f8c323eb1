"""autohub_cli.taskfile: frontmatter forms, field checks, the schedule read statically, and errors."""

from __future__ import annotations

import ast
import json
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autohub_cli.decorators import cron, every  # noqa: E402
from autohub_cli.taskfile import FIELD_DEFAULTS, TaskError, TaskSpec, parse_file, strip_bare_frontmatter  # noqa: E402

START = "def start():\n    pass\n"


def write(tmp_path: Path, text: str, name: str = "my_task") -> Path:
    tasks = tmp_path / "tasks"
    tasks.mkdir(exist_ok=True)
    path = tasks / f"{name}.py"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def parse(tmp_path: Path, text: str, name: str = "my_task") -> TaskSpec | TaskError:
    return parse_file(write(tmp_path, text, name))


def spec(tmp_path: Path, text: str, name: str = "my_task") -> TaskSpec:
    result = parse(tmp_path, text, name)
    assert isinstance(result, TaskSpec), result
    return result


def error(tmp_path: Path, text: str, name: str = "my_task") -> TaskError:
    result = parse(tmp_path, text, name)
    assert isinstance(result, TaskError), result
    return result


def docstring_task(fields: str, body: str = START) -> str:
    """A task whose frontmatter block starts on line 3 (line 1 `\"\"\"`, line 2 `---`)."""
    return f'"""\n---\n{textwrap.dedent(fields).strip()}\n---\n"""\n{body}'


# --- the three forms ----------------------------------------------------------------------------


def test_docstring_frontmatter(tmp_path):
    s = spec(
        tmp_path,
        '''
        """
        ---
        title: Daily Report
        description: Sends the report
        dependencies:
          - requests>=2.25
          - "pandas[excel]>=2; python_version >= '3.9'"
        python_version: "3.10"
        enabled: false
        timeout: 120
        retry_count: 3
        retry_delay: 30
        catchup: all
        max_overdue: 3600
        max_memory_mb: 512
        overlap: allow
        ---
        """
        from task_scheduler.decorators import repeat, every

        @repeat(every().day.at("10:30"))
        def start():
            print("hello")
        ''',
    )
    assert s.frontmatter == "docstring"
    assert s.name == "my_task"
    assert s.path.endswith("tasks/my_task.py")
    assert s.title == "Daily Report"
    assert s.description == "Sends the report"
    assert s.dependencies == ("requests>=2.25", "pandas[excel]>=2; python_version >= '3.9'")
    assert s.python_version == "3.10"
    assert s.enabled is False
    assert (s.timeout, s.retry_count, s.retry_delay) == (120, 3, 30)
    assert (s.catchup, s.max_overdue, s.max_memory_mb, s.overlap) == ("all", 3600, 512, "allow")
    assert s.schedule == (("every", ()), ("day", None), ("at", ("10:30",)))
    assert s.warnings == ()


def test_docstring_frontmatter_on_the_quote_line_and_single_quotes(tmp_path):
    s = spec(tmp_path, "'''---\ntitle: Inline\n---'''\n" + START)
    assert (s.frontmatter, s.title) == ("docstring", "Inline")
    s = spec(tmp_path, 'r"""\n---\ntitle: Raw\n---\n\nMore prose after the block.\n"""\n' + START)
    assert (s.frontmatter, s.title) == ("docstring", "Raw")


def test_bare_frontmatter(tmp_path):
    s = spec(
        tmp_path,
        """
        ---
        title: Bare
        timeout: 60
        ---
        from task_scheduler.decorators import repeat, every

        @repeat(every(5).minutes)
        def start():
            pass
        """,
    )
    assert s.frontmatter == "bare"
    assert (s.title, s.timeout) == ("Bare", 60)
    assert s.schedule == (("every", (5,)), ("minutes", None))


def test_bare_frontmatter_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom_task.py"
    path.write_text("\ufeff---\ntitle: BOM\n---\n" + START, encoding="utf-8")
    s = parse_file(path)
    assert isinstance(s, TaskSpec), s
    assert (s.frontmatter, s.title) == ("bare", "BOM")


def test_no_frontmatter_means_every_default(tmp_path):
    s = spec(tmp_path, START, name="cleanup_tmp")
    assert s == TaskSpec(name="cleanup_tmp", path=s.path, title="cleanup_tmp")
    assert s.frontmatter == "none"
    assert s.description == ""
    assert s.dependencies == ()
    assert s.python_version == "3.8"
    assert s.enabled is True
    assert s.timeout == 300
    assert s.retry_count == 0
    assert s.retry_delay == 60
    assert s.catchup == "latest"
    assert s.max_overdue == 86400
    assert s.max_memory_mb is None  # the config's scheduler.max_memory_usage applies
    assert s.overlap == "skip"
    assert s.schedule is None  # a manual task
    assert s.warnings == ()


def test_a_docstring_without_a_block_is_no_frontmatter(tmp_path):
    s = spec(tmp_path, '"""Just a docstring.\n\n---\ntitle: not frontmatter\n---\n"""\n' + START)
    assert (s.frontmatter, s.title) == ("none", "my_task")


def test_an_empty_block_and_null_values_give_defaults(tmp_path):
    assert spec(tmp_path, '"""\n---\n---\n"""\n' + START).title == "my_task"
    s = spec(tmp_path, docstring_task("title:\ndescription:\ndependencies:\nmax_memory_mb:\nschedule:"))
    assert (s.title, s.description, s.dependencies, s.max_memory_mb, s.schedule) == ("my_task", "", (), None, None)


def test_the_defaults_table_matches_the_spec():
    assert {k: FIELD_DEFAULTS[k] for k in ("description", "dependencies", "python_version", "enabled")} == {
        "description": "",
        "dependencies": [],
        "python_version": "3.8",
        "enabled": True,
    }
    assert (FIELD_DEFAULTS["timeout"], FIELD_DEFAULTS["retry_count"], FIELD_DEFAULTS["retry_delay"]) == (300, 0, 60)
    assert (FIELD_DEFAULTS["catchup"], FIELD_DEFAULTS["max_overdue"], FIELD_DEFAULTS["overlap"]) == (
        "latest",
        86400,
        "skip",
    )


# --- field types -------------------------------------------------------------------------------

DEPS = 'a list of requirement strings such as "requests>=2.25"'
CRON = 'a cron expression such as "*/5 * * * *" or an alias such as "@hourly"'


@pytest.mark.parametrize(
    ("line", "field", "expected", "found"),
    [
        ("title: 5", "title", "a string", "5"),
        ("title: [a, b]", "title", "a string", "['a', 'b']"),
        ("description: {a: 1}", "description", "a string", "{'a': 1}"),
        ("dependencies: requests", "dependencies", DEPS, "'requests'"),
        ("dependencies: [1, 2]", "dependencies", DEPS, "[1, 2]"),
        ("python_version: [3, 10]", "python_version", 'a version string such as "3.10"', "[3, 10]"),
        ('python_version: "three"', "python_version", 'a version string such as "3.10"', "'three'"),
        ('enabled: "yes"', "enabled", "true or false", "'yes'"),
        ("enabled: 1", "enabled", "true or false", "1"),
        ("timeout: 0", "timeout", "a whole number of seconds > 0", "0"),
        ("timeout: -5", "timeout", "a whole number of seconds > 0", "-5"),
        ('timeout: "300"', "timeout", "a whole number of seconds > 0", "'300'"),
        ("timeout: 1.5", "timeout", "a whole number of seconds > 0", "1.5"),
        ("timeout: true", "timeout", "a whole number of seconds > 0", "True"),
        ("retry_count: -1", "retry_count", "a whole number >= 0", "-1"),
        ("retry_count: three", "retry_count", "a whole number >= 0", "'three'"),
        ("retry_delay: -60", "retry_delay", "a whole number of seconds >= 0", "-60"),
        ("retry_delay: 1m", "retry_delay", "a whole number of seconds >= 0", "'1m'"),
        ("schedule: 5", "schedule", CRON, "5"),
        ('schedule: ""', "schedule", CRON, "''"),
        ("catchup: sometimes", "catchup", "one of latest, all, skip", "'sometimes'"),
        ("max_overdue: 0", "max_overdue", "a whole number of seconds > 0", "0"),
        ("max_memory_mb: 0", "max_memory_mb", "a whole number of MB > 0", "0"),
        ('max_memory_mb: "512"', "max_memory_mb", "a whole number of MB > 0", "'512'"),
        ("overlap: queue", "overlap", "one of skip, allow", "'queue'"),
    ],
)
def test_wrong_types_name_file_line_field_expected_and_found(tmp_path, line, field, expected, found):
    e = error(tmp_path, docstring_task(f"# a comment\n\n{line}"))
    path = str(tmp_path / "tasks" / "my_task.py")
    assert e.path == path
    assert e.name == "my_task"
    # the field is on line 5: `"""`, `---`, a comment, a blank line, the field
    assert e.message.startswith(f"{path}:5: {field}: expected {expected}, found {found}"), e.message


def test_the_line_of_a_bad_field_in_a_bare_block(tmp_path):
    e = error(tmp_path, "---\ntitle: x\n\n# a comment\ntimeout: never\n---\n" + START)
    assert e.message.startswith(f"{tmp_path / 'tasks' / 'my_task.py'}:5: timeout: expected")


def test_unquoted_python_version_310_is_a_clear_error(tmp_path):
    e = error(tmp_path, docstring_task("python_version: 3.10"))
    assert ":3: python_version: expected a version string" in e.message
    assert "found 3.1 " in e.message
    assert 'write it quoted, "3.10"' in e.message
    e = error(tmp_path, docstring_task("python_version: 3.9"))
    assert 'write it quoted, "3.9"' in e.message
    e = error(tmp_path, docstring_task("python_version: 3"))
    assert 'write it quoted, "3"' in e.message
    for good in ('"3.10"', "'3.12'", '"3"', '"3.11.4"'):
        assert spec(tmp_path, docstring_task(f"python_version: {good}")).python_version == good.strip("'\"")


def test_dependencies_must_be_pep_508(tmp_path):
    e = error(tmp_path, docstring_task('dependencies:\n  - "requests>=2"\n  - "not a requirement!!"'))
    assert ":3: dependencies: expected a list of requirement strings" in e.message
    assert "'not a requirement!!' is not a PEP 508 requirement" in e.message
    assert "\n" not in e.message
    ok = spec(
        tmp_path, docstring_task('dependencies: ["requests[socks]>=2.25,<3", "numpy; sys_platform == \'linux\'"]')
    )
    assert ok.dependencies == ("requests[socks]>=2.25,<3", "numpy; sys_platform == 'linux'")


def test_unknown_fields_warn_with_a_did_you_mean(tmp_path):
    s = spec(tmp_path, docstring_task("titel: Hello\nretry_cont: 2\nfavourite_colour: blue"))
    path = str(tmp_path / "tasks" / "my_task.py")
    assert s.title == "my_task"  # the misspelt field is ignored
    assert s.retry_count == 0
    assert s.warnings == (
        f"{path}: unknown frontmatter field 'titel' (did you mean 'title'?); it is ignored",
        f"{path}: unknown frontmatter field 'retry_cont' (did you mean 'retry_count'?); it is ignored",
        f"{path}: unknown frontmatter field 'favourite_colour'; it is ignored",
    )


def test_warnings_are_kept_on_an_invalid_task(tmp_path):
    e = error(tmp_path, docstring_task("timout: 5\ntimeout: 0"))
    assert "did you mean 'timeout'?" in e.warnings[0]


def test_invalid_yaml_and_a_non_mapping(tmp_path):
    e = error(tmp_path, docstring_task("title: x\n  bad: [\nenabled: true"))
    assert e.message.startswith(f"{tmp_path / 'tasks' / 'my_task.py'}:4: frontmatter: not valid YAML")
    e = error(tmp_path, docstring_task("- a\n- b"))
    assert "frontmatter: expected a mapping of fields, found list" in e.message
    e = error(tmp_path, docstring_task("when: 2024-13-45"))  # PyYAML raises ValueError for this date
    assert "frontmatter: not valid YAML" in e.message


# --- the schedule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("imports", "decorator"),
    [
        ("from autohub_cli.decorators import repeat, every", "@repeat(every(10).minutes)"),
        ("from task_scheduler.decorators import repeat, every", "@repeat(every(10).minutes)"),
        ("from task_scheduler import decorators", "@decorators.repeat(decorators.every(10).minutes)"),
        (
            "import task_scheduler.decorators",
            "@task_scheduler.decorators.repeat(task_scheduler.decorators.every(10).minutes)",
        ),
        ("from autohub_cli.decorators import repeat, every", "@repeat(every(10) . minutes)"),
    ],
)
def test_schedule_from_repeat(tmp_path, imports, decorator):
    s = spec(tmp_path, f"{imports}\n\n{decorator}\ndef start():\n    pass\n")
    assert s.schedule == (("every", (10,)), ("minutes", None))


def test_schedule_from_repeat_on_async_start(tmp_path):
    s = spec(
        tmp_path,
        """
        from task_scheduler.decorators import repeat, every

        @repeat(every().monday.at("09:00", "Europe/Amsterdam"))
        async def start():
            pass
        """,
    )
    assert s.schedule == (("every", ()), ("monday", None), ("at", ("09:00", "Europe/Amsterdam")))


def test_schedule_from_repeat_with_cron_and_other_decorators(tmp_path):
    s = spec(
        tmp_path,
        """
        import functools
        from autohub_cli.decorators import repeat, cron

        @functools.lru_cache
        @repeat(cron("*/5 9-17 * * MON-FRI"))
        @staticmethod
        def start():
            pass
        """,
    )
    assert s.schedule == (("cron", ("*/5 9-17 * * MON-FRI",)),)


def test_every_one_is_read_as_every(tmp_path):
    s = spec(tmp_path, "from x import repeat, every\n@repeat(every(1).minutes)\n" + START)
    assert s.schedule == (("every", ()), ("minutes", None))


def test_schedule_from_the_frontmatter_field(tmp_path):
    s = spec(tmp_path, docstring_task('schedule: "*/10 * * * *"'))
    assert s.schedule == (("cron", ("*/10 * * * *",)),)
    s = spec(tmp_path, docstring_task("schedule: '@daily'"))
    assert s.schedule == (("cron", ("@daily",)),)
    s = spec(tmp_path, "---\nschedule: 0 9 * * MON-FRI\n---\n" + START)
    assert s.schedule == (("cron", ("0 9 * * MON-FRI",)),)


@pytest.mark.parametrize(
    ("field", "decorator"),
    [
        ("*/10 * * * *", "every(10).minutes"),
        ("* * * * *", "every().minute"),
        ("* * * * *", "every(1).minutes"),
        ("@hourly", "every().hour"),
        ("0 * * * *", "every(1).hours"),
        ("30 */2 * * *", 'every(2).hours.at(":30")'),
        ("30 2 * * *", 'every().day.at("02:30")'),
        ("@daily", "every().day"),
        ("0 9 * * MON", 'every().monday.at("09:00")'),
        ("0 0 * * 1", "every().week"),
        ("*/5 * * * *", 'cron("*/5 * * * *")'),
    ],
)
def test_both_sources_equal_is_valid(tmp_path, field, decorator):
    s = spec(tmp_path, docstring_task(f'schedule: "{field}"', f"@repeat({decorator})\n{START}"))
    assert s.schedule == eval(decorator, {"every": every, "cron": cron}).chain  # the decorator's spelling


@pytest.mark.parametrize(
    ("field", "decorator"),
    [
        ("*/5 * * * *", "every(10).minutes"),
        ("0 0 * 1-6 *", "every().day"),  # the same for the first half of every year
        ("0 0 * * 1", "every(2).weeks"),
        ("*/10 0-22 * * *", "every(10).minutes"),
        ("0 0 */3 * *", "every(3).days"),  # day of month vs days since 1970
        ("30 2 * * *", 'every().day.at("02:30", "Europe/Amsterdam")'),
        ("0 0-23 * * *", "every().hour"),  # same instants in UTC, but a fixed hour runs once in a fall back
    ],
)
def test_both_sources_different_is_invalid(tmp_path, field, decorator):
    e = error(
        tmp_path, docstring_task(f'schedule: "{field}"', f"from x import repeat, every\n@repeat({decorator})\n{START}")
    )
    assert e.message.startswith(f"{tmp_path / 'tasks' / 'my_task.py'}:7: schedule: the frontmatter says {field!r}")
    assert f"@repeat says {decorator}" in e.message
    assert "keep one of them" in e.message


@pytest.mark.parametrize(
    ("decorator", "found"),
    [
        ("every(N).minutes", "N"),
        ("every(config.interval).minutes", "config.interval"),
        ("every().day.at(f'{HOUR}:00')", "{HOUR}:00"),
        ("every(int('5')).minutes", "int('5')"),
        ("cron(EXPR)", "EXPR"),
        ("every(5 + 5).minutes", "5 + 5"),
        ("every(*ARGS).minutes", "*ARGS"),
    ],
)
def test_non_literal_arguments_are_invalid(tmp_path, decorator, found):
    e = error(tmp_path, f"from x import repeat, every, cron\nN = 5\n\n@repeat({decorator})\n{START}")
    assert e.message.startswith(f"{tmp_path / 'tasks' / 'my_task.py'}:4: @repeat({decorator}): ")
    assert "only literal arguments are allowed" in e.message
    assert found in e.message.split(", found ", 1)[1]


def test_other_unreadable_schedules(tmp_path):
    e = error(tmp_path, 'from x import repeat, every\n@repeat(every(10).minutes.at(time=":30"))\n' + START)
    assert ":2: @repeat(" in e.message and "keyword arguments are not supported" in e.message
    e = error(tmp_path, "from x import repeat\n@repeat(SCHEDULE)\n" + START)
    assert ":2: @repeat(SCHEDULE): expected a schedule such as every(10).minutes" in e.message
    e = error(tmp_path, "from x import repeat, every\n@repeat(every(1).minutes, every(2).minutes)\n" + START)
    assert ":2: @repeat: expected one schedule" in e.message
    e = error(tmp_path, "from x import repeat, every\n@repeat(every(1).minutes)\n@repeat(every(2).minutes)\n" + START)
    assert ":3: @repeat: start() has more than one @repeat" in e.message


@pytest.mark.parametrize(
    ("decorator", "problem"),
    [
        ("every(60).minutes", "every(N).minutes needs 1 <= N <= 59, found 60"),
        ("every(7).seconds", "N dividing 60"),
        ("every(5).minute", "every(5).minutes"),
        ('every().day.at("25:00")', '"HH:MM"'),
        ("every(5).to(10).minutes", ".to()"),
        ('every(10).minutes.until("18:00")', ".until()"),
        ('cron("* * * *")', "expected 5 cron fields"),
        ('cron("@reboot")', "unknown alias"),
        ('cron("0 0 30 2 *")', "never matches"),
    ],
)
def test_an_invalid_expression_names_its_line(tmp_path, decorator, problem):
    e = error(tmp_path, f"from x import repeat, every, cron\n\n\n@repeat({decorator})\n{START}")
    assert e.message.startswith(f"{tmp_path / 'tasks' / 'my_task.py'}:4: schedule: {decorator}: "), e.message
    assert problem in e.message


def test_an_invalid_frontmatter_schedule_names_its_line(tmp_path):
    e = error(tmp_path, docstring_task('title: x\ndescription: y\nschedule: "0 0 30 2 *"'))
    assert e.message == f'{tmp_path / "tasks" / "my_task.py"}:5: schedule: cron("0 0 30 2 *"): it never matches a date'
    e = error(tmp_path, docstring_task('schedule: "@reboot"'))
    assert ':3: schedule: cron("@reboot"): unknown alias' in e.message


def test_no_start_is_invalid(tmp_path):
    e = error(tmp_path, "def main():\n    pass\n")
    where = tmp_path / "tasks" / "my_task.py"
    assert e.message == f"{where}: no function named start(): a task file defines `def start():` at top level"
    e = error(tmp_path, "class Task:\n    def start(self):\n        pass\n")
    assert "no function named start()" in e.message
    e = error(tmp_path, "start = lambda: None\n")
    assert "no function named start()" in e.message


def test_repeat_on_another_function_leaves_a_manual_task(tmp_path):
    s = spec(tmp_path, "from x import repeat, every\n@repeat(every(5).minutes)\ndef helper():\n    pass\n\n" + START)
    assert s.schedule is None


def test_the_last_start_wins_as_in_python(tmp_path):
    s = spec(
        tmp_path,
        "from x import repeat, every\n@repeat(every(5).minutes)\n" + START + "\n@repeat(every(7).minutes)\n" + START,
    )
    assert s.schedule == (("every", (7,)), ("minutes", None))


def test_a_syntax_error_names_its_line(tmp_path):
    e = error(tmp_path, '"""\n---\ntitle: x\n---\n"""\n\ndef start(:\n    pass\n')
    assert e.message.startswith(f"{tmp_path / 'tasks' / 'my_task.py'}:7: not valid Python:")
    # in a file with a bare block, the line is the file's own line
    e = error(tmp_path, "---\ntitle: x\ntimeout: 5\n---\nimport os\n\nif True\n    pass\n")
    assert ":7: not valid Python:" in e.message


def test_a_bare_block_that_is_not_first_is_a_syntax_error_with_a_hint(tmp_path):
    e = parse_file(tmp_path / "late.py", "\n---\ntitle: x\n---\n" + START)
    assert isinstance(e, TaskError)
    assert ":2: not valid Python" in e.message
    assert "a bare --- frontmatter block must be the very first line" in e.message


def test_unreadable_files_are_task_errors(tmp_path):
    path = tmp_path / "binary.py"
    path.write_bytes(b"\xff\xfe\x00 not utf-8")
    e = parse_file(path)
    assert isinstance(e, TaskError)
    assert e.message.startswith(f"{path}: cannot read the file")
    gone = parse_file(tmp_path / "missing.py")
    assert isinstance(gone, TaskError) and "cannot read the file" in gone.message


def test_original_style_task_file_parses_unchanged(tmp_path):
    s = spec(
        tmp_path,
        '''
        """
        ---
        title: "Example Task"
        description: "An example task from the original layout"
        dependencies:
          - "requests>=2.25.0"
        python_version: "3.8"
        enabled: true
        timeout: 300
        retry_count: 3
        retry_delay: 60
        ---
        """

        import requests
        from task_scheduler.decorators import repeat, every
        from helpers import log_info


        @repeat(every(10).minutes)
        def start():
            """Main task function."""
            log_info("Example task started")
            response = requests.get("https://httpbin.org/json", timeout=10)
            log_info(f"Status code: {response.status_code}")
        ''',
        name="example_task",
    )
    assert (s.title, s.retry_count, s.dependencies) == ("Example Task", 3, ("requests>=2.25.0",))
    assert s.schedule == (("every", (10,)), ("minutes", None))


# --- strip_bare_frontmatter ---------------------------------------------------------------------


def test_strip_bare_frontmatter_keeps_line_numbers():
    text = "---\ntitle: x\ntimeout: 5\n---\nimport os\n\ndef start():\n    raise ValueError(os.sep)\n"
    code = strip_bare_frontmatter(text)
    assert code.count("\n") == text.count("\n")
    assert code.splitlines()[:4] == ["", "", "", ""]
    assert code.splitlines()[4:] == text.splitlines()[4:]
    tree = ast.parse(code)
    assert [n.lineno for n in tree.body] == [5, 7]
    namespace: dict = {}
    exec(compile(code, "task.py", "exec"), namespace)
    with pytest.raises(ValueError) as caught:
        namespace["start"]()
    tb = caught.tb
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_lineno == 8  # a traceback points at the file's own line


def test_strip_bare_frontmatter_leaves_other_files_alone():
    for text in (START, '"""\n---\ntitle: x\n---\n"""\n' + START, "\n---\ntitle: x\n---\n", ""):
        assert strip_bare_frontmatter(text) == text


# --- serialisation --------------------------------------------------------------------------------


def test_taskspec_round_trips_through_json(tmp_path):
    s = spec(
        tmp_path,
        docstring_task(
            'title: T\ndependencies: ["requests>=2"]\nmax_memory_mb: 64\ntitel: typo',
            'from x import repeat, every\n@repeat(every().day.at("10:30", "Europe/Amsterdam"))\n' + START,
        ),
    )
    assert s.warnings  # the typo
    back = TaskSpec.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s
    assert back.warnings == s.warnings
    assert back.schedule == (("every", ()), ("day", None), ("at", ("10:30", "Europe/Amsterdam")))
    assert isinstance(back.dependencies, tuple)
    manual = spec(tmp_path, START)
    assert TaskSpec.from_dict(json.loads(json.dumps(manual.to_dict()))) == manual


def test_taskerror_round_trips_through_json(tmp_path):
    e = error(tmp_path, docstring_task("timout: 5\ntimeout: 0"))
    back = TaskError.from_dict(json.loads(json.dumps(e.to_dict())))
    assert back == e
    assert TaskError.from_dict({"name": "n", "path": "p", "message": "m"}) == TaskError("n", "p", "m")


def test_parse_file_takes_the_text_instead_of_reading(tmp_path):
    s = parse_file(tmp_path / "not_on_disk.py", docstring_task("title: Given"))
    assert isinstance(s, TaskSpec) and s.title == "Given" and s.name == "not_on_disk"
