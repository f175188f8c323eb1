"""autohub_cli.decorators: `@repeat(every(...)...)` records the expression; the tick reads the same one."""

from __future__ import annotations

import asyncio
import inspect
import sys
import types
from datetime import timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autohub_cli import decorators  # noqa: E402
from autohub_cli.decorators import Job, cron, every, repeat  # noqa: E402
from autohub_cli.schedule import ScheduleError, compile_chain, render  # noqa: E402
from autohub_cli.taskfile import TaskError, TaskSpec, parse_file  # noqa: E402


def test_repeat_returns_the_function_unchanged_and_records_the_job():
    def start():
        return 42

    job = every(10).minutes
    marked = repeat(job)(start)
    assert marked is start
    assert marked() == 42
    assert start.autohub_schedule is job
    assert start.autohub_schedule.chain == (("every", (10,)), ("minutes", None))


def test_repeat_on_an_async_start():
    @repeat(every().hour.at(":15"))
    async def start():
        return "done"

    assert inspect.iscoroutinefunction(start)
    assert asyncio.run(start()) == "done"
    assert start.autohub_schedule.chain == (("every", ()), ("hour", None), ("at", (":15",)))


def test_repeat_keeps_name_doc_and_signature():
    def start(a, b=2):
        """Doc."""

    repeat(cron("@daily"))(start)
    assert (start.__name__, start.__doc__) == ("start", "Doc.")
    assert str(inspect.signature(start)) == "(a, b=2)"


@pytest.mark.parametrize(
    ("job", "chain"),
    [
        (every(10).minutes, (("every", (10,)), ("minutes", None))),
        (every().minute, (("every", ()), ("minute", None))),
        (every(1).minutes, (("every", ()), ("minutes", None))),  # every(1) is every()
        (every().day.at("10:30"), (("every", ()), ("day", None), ("at", ("10:30",)))),
        (
            every().monday.at("09:00", "Europe/Amsterdam"),
            (("every", ()), ("monday", None), ("at", ("09:00", "Europe/Amsterdam"))),
        ),
        (every(2).weeks, (("every", (2,)), ("weeks", None))),
        (cron("*/5 * * * *"), (("cron", ("*/5 * * * *",)),)),
        (every(True).minutes, (("every", (True,)), ("minutes", None))),  # kept as written: invalid later
        (every(1.0).minutes, (("every", (1.0,)), ("minutes", None))),
        (every(5).to(10).minutes, (("every", (5,)), ("to", (10,)), ("minutes", None))),
    ],
)
def test_jobs_record_their_chain(job, chain):
    assert job.chain == chain


def test_job_repr_is_the_expression():
    assert repr(every(10).minutes) == "every(10).minutes"
    assert repr(every().day.at("10:30", "Europe/Amsterdam")) == 'every().day.at("10:30", "Europe/Amsterdam")'
    assert repr(cron("0 9 * * MON-FRI")) == 'cron("0 9 * * MON-FRI")'


def test_jobs_are_immutable_steps():
    base = every(10)
    a, b = base.minutes, base.hours
    assert base.chain == (("every", (10,)),)
    assert a.chain != b.chain


def test_calling_a_step_twice_is_an_error():
    with pytest.raises(TypeError, match="already called"):
        every(10)(5)
    with pytest.raises(TypeError, match="already called"):
        every().day.at("10:30")("11:00")


def test_private_attributes_are_not_steps():
    job = every(10).minutes
    assert not hasattr(job, "_private")
    assert not hasattr(job, "__length_hint__")
    with pytest.raises(AttributeError):
        job.__deepcopy__
    assert isinstance(job.anything, Job)  # any public name is a step; compile_chain judges it


def test_runtime_jobs_compile_like_the_tick_reads_them():
    assert compile_chain(every(10).minutes.chain, timezone.utc).key == "every(10).minutes @ UTC"
    with pytest.raises(ScheduleError, match="whole number"):
        compile_chain(every(True).minutes.chain, timezone.utc)


# --- the same source text, read at run time and statically -------------------------------------

EXPRESSIONS = [
    "every(10).minutes",
    "every().minute",
    "every(1).minutes",
    "every(1).minute",
    "every(59).minutes",
    "every(10).seconds",
    "every().second",
    "every().hour",
    "every(2).hours",
    'every(6).hours.at(":45")',
    "every().day",
    'every().day.at("10:30")',
    'every(3).days.at("07:00")',
    "every().monday",
    'every().friday.at("17:45")',
    'every().sunday.at("02:30", "Europe/Amsterdam")',
    "every().week",
    'every(2).weeks.at("08:15")',
    'every().day.at("10:30", "America/New_York")',
    'cron("*/5 * * * *")',
    'cron("0 9 * JAN-MAR MON-FRI")',
    'cron("@hourly")',
    'cron("0 12 L * *")',
    "every(0x0A).minutes",
    "every(  10  ).minutes",
    "every(\n    10,\n).minutes",
    "every(10).minutes  # a comment",
]


def _source(header: str, expression: str, qualified: bool = False) -> str:
    if qualified:
        expression = expression.replace("every(", "decorators.every(").replace("cron(", "decorators.cron(")
        return f"{header}\n\n@decorators.repeat({expression}\n)\ndef start():\n    return 'ran'\n"
    return f"{header}\n\n@repeat({expression}\n)\ndef start():\n    return 'ran'\n"


def _run(source: str) -> types.FunctionType:
    namespace: dict = {}
    exec(compile(source, "task.py", "exec"), namespace)
    return namespace["start"]


@pytest.fixture
def legacy_modules(monkeypatch):
    """`task_scheduler.decorators` as the worker provides it to task files of the original layout."""
    package = types.ModuleType("task_scheduler")
    package.__path__ = []
    package.decorators = decorators
    monkeypatch.setitem(sys.modules, "task_scheduler", package)
    monkeypatch.setitem(sys.modules, "task_scheduler.decorators", decorators)


@pytest.mark.parametrize("expression", EXPRESSIONS)
@pytest.mark.parametrize(
    ("header", "qualified"),
    [
        ("from autohub_cli.decorators import repeat, every, cron", False),
        ("from task_scheduler.decorators import repeat, every, cron", False),
        ("from task_scheduler import decorators", True),
    ],
    ids=["autohub", "original", "module"],
)
def test_runtime_chain_equals_the_static_reading(tmp_path, legacy_modules, expression, header, qualified):
    source = _source(header, expression, qualified)
    start = _run(source)
    assert start() == "ran"
    static = parse_file(tmp_path / "task.py", source)
    assert isinstance(static, TaskSpec), static
    assert static.schedule == start.autohub_schedule.chain
    assert render(static.schedule) == repr(start.autohub_schedule)


INVALID = [
    "every(60).minutes",
    "every(5).minute",
    "every(7).seconds",
    "every(60).seconds",
    "every(5).to(10).minutes",
    'every(10).minutes.until("18:00")',
    'every().day.at("25:00")',
    'every().day.at("10:30", "Mars/Base")',
    'cron("* * * *")',
    'cron("@reboot")',
    "every(True).minutes",
    "every(1.0).minutes",
]


@pytest.mark.parametrize("expression", INVALID)
def test_an_invalid_expression_is_rejected_the_same_both_ways(tmp_path, expression):
    source = _source("from autohub_cli.decorators import repeat, every, cron", expression)
    start = _run(source)  # recording never fails: the tick is the judge
    with pytest.raises(ScheduleError) as caught:
        compile_chain(start.autohub_schedule.chain, timezone.utc)
    static = parse_file(tmp_path / "task.py", source)
    assert isinstance(static, TaskError), static
    assert static.message.endswith(f"schedule: {caught.value}")
