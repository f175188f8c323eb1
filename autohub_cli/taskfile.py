"""One task file -> a `TaskSpec` or a `TaskError`, read statically: the task's code is never run.

The frontmatter comes from a module docstring holding a `---` ... `---` block, or from a bare
`---` block at the top of the file (not valid Python: the worker blanks it out before running).
The schedule comes from `@repeat(EXPR)` on `start` or the `schedule` field; `EXPR` may hold only
literal arguments, because the tick reads it without importing the file.
"""

from __future__ import annotations

import ast
import difflib
import re
import warnings as python_warnings  # `warnings` names the task's own list below
from pathlib import Path
from typing import Any

from .frontmatter import BARE, strip_bare_frontmatter
from .schedule import Chain, ScheduleError, compile_chain
from .spec import TaskError, TaskSpec

FIELD_DEFAULTS: dict[str, Any] = {
    "title": None,  # the file stem
    "description": "",
    "dependencies": [],
    "python_version": "3.8",
    "enabled": True,
    "timeout": 300,
    "retry_count": 0,
    "retry_delay": 60,
    "schedule": None,
    "catchup": "latest",
    "max_overdue": 86400,
    "max_memory_mb": None,  # config scheduler.max_memory_usage
    "overlap": "skip",
    "isolated": False,
    "ping_url": None,
}
CATCHUP = ("latest", "all", "skip")
OVERLAP = ("skip", "allow")

_DOC_BLOCK = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)^---[ \t]*\r?$", re.DOTALL | re.MULTILINE)
_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")


class _Invalid(Exception):
    def __init__(self, line: int | None, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def parse_file(path: Path, text: str | None = None) -> TaskSpec | TaskError:
    """Read one task file; never raises for anything the file contains."""
    name = path.stem
    try:
        if text is None:
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return TaskError(name, str(path), f"{path}: cannot read the file: {exc}")
    warnings: list[str] = []
    try:
        return _parse(name, path, text, warnings)
    except _Invalid as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        return TaskError(name, str(path), f"{where}: {exc.what}", tuple(warnings))
    except (RecursionError, MemoryError):  # Python's own parser gives up on code nested this deep
        return TaskError(name, str(path), f"{path}: not valid Python: nested too deeply for Python to parse")


def _parse(name: str, path: Path, text: str, warnings: list[str]) -> TaskSpec:
    form, yaml_text, yaml_line = "none", None, 1
    bare = BARE.match(text)
    code = text
    if bare:
        form, yaml_text, yaml_line = "bare", bare.group(1), 2
        code = strip_bare_frontmatter(text)
    try:
        with python_warnings.catch_warnings():  # e.g. an invalid escape: the run shows it; reading is silent
            python_warnings.simplefilter("ignore")
            tree = ast.parse(code, filename=str(path))
    except SyntaxError as exc:
        hint = " (a bare --- frontmatter block must be the very first line)" if code.lstrip().startswith("---") else ""
        raise _Invalid(exc.lineno, f"not valid Python: {exc.msg}{hint}") from None
    if form == "none":
        doc = _module_docstring(tree)
        if doc is not None:
            value, line = doc
            block = _DOC_BLOCK.match(value)
            if block:
                form, yaml_text = "docstring", block.group(1)
                yaml_line = line + value[: block.start(1)].count("\n")
    meta = _load_yaml(yaml_text, yaml_line) if yaml_text is not None else {}
    values = _check_fields(meta, path, warnings, yaml_text or "", yaml_line)
    if "# /// script" in text:  # PEP 723 inline metadata: dependencies / requires-python
        from .deps_pep723 import ScriptMetadataError, apply_script_metadata

        try:
            apply_script_metadata(text, meta, values, warnings, path, _requirements)
        except ScriptMetadataError as exc:
            raise _Invalid(exc.line, exc.what) from None
    chain, chain_line = _schedule_from_decorator(tree)
    if values["schedule"] is not None:
        field_chain: Chain = (("cron", (values["schedule"],)),)
        field_line = _field_line("schedule", yaml_text or "", yaml_line)
        if chain is not None and not _same_schedule(_compile(chain, chain_line), _compile(field_chain, field_line)):
            raise _Invalid(
                chain_line,
                f"schedule: the frontmatter says {values['schedule']!r} but @repeat says "
                f"{_render(chain)}: keep one of them",
            )
        if chain is None:
            chain, chain_line = field_chain, field_line
    if chain is not None:
        _compile(chain, chain_line)  # raises with the line when the expression is invalid
    return TaskSpec(
        name=name,
        path=str(path),
        title=values["title"] or name,
        description=values["description"],
        dependencies=tuple(values["dependencies"]),
        python_version=values["python_version"],
        enabled=values["enabled"],
        timeout=values["timeout"],
        retry_count=values["retry_count"],
        retry_delay=values["retry_delay"],
        catchup=values["catchup"],
        max_overdue=values["max_overdue"],
        max_memory_mb=values["max_memory_mb"],
        overlap=values["overlap"],
        isolated=values["isolated"],
        ping_url=values["ping_url"],
        schedule=chain,
        frontmatter=form,
        warnings=tuple(warnings),
    )


def _module_docstring(tree: ast.Module) -> tuple[str, int] | None:
    if tree.body and isinstance(tree.body[0], ast.Expr):
        node = tree.body[0].value
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value, node.lineno
    return None


def _load_yaml(text: str, first_line: int) -> dict[str, Any]:
    from .config import load_yaml_text

    try:
        data = load_yaml_text(text)
    except Exception as exc:  # noqa: BLE001 - yaml.YAMLError, its C twin, and ValueError from bad dates
        mark = getattr(exc, "problem_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _Invalid(line, f"frontmatter: not valid YAML: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise _Invalid(first_line, f"frontmatter: expected a mapping of fields, found {type(data).__name__}")
    return data


def _check_fields(meta: dict[str, Any], path: Path, warnings: list[str], text: str, first: int) -> dict[str, Any]:
    values = dict(FIELD_DEFAULTS)
    for key, value in meta.items():
        if key not in FIELD_DEFAULTS:
            close = difflib.get_close_matches(str(key), FIELD_DEFAULTS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            warnings.append(f"{path}: unknown frontmatter field {key!r}{hint}; it is ignored")
            continue
        check, expected = _CHECKS[key]
        try:
            values[key] = check(value)
        except (TypeError, ValueError) as exc:
            detail = f" ({exc})" if str(exc) else ""
            at = _field_line(key, text, first)
            from .config import show

            raise _Invalid(at, f"{key}: expected {expected}, found {show(value)}{detail}") from None
    return values


def _field_line(key: str, text: str, first: int) -> int:
    """The file line of `key:` in the frontmatter block that starts at line `first`."""
    lines = text.splitlines()
    return next((first + i for i, ln in enumerate(lines) if ln.startswith(f"{key}:")), first)


def _int_at_least(lo: int) -> Any:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise ValueError
        return value

    return check


def _optional(check: Any) -> Any:
    return lambda value: None if value is None else check(value)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _one_of(*options: str) -> Any:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError
        return str(value)

    return check


def _requirements(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError
    from packaging.requirements import InvalidRequirement, Requirement

    for item in value:
        try:
            Requirement(item)
        except InvalidRequirement as exc:
            problem = str(exc).splitlines()[0] if str(exc) else "invalid"
            raise ValueError(f"{item!r} is not a PEP 508 requirement: {problem}") from None
    return list(value)


def _python_version(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(
            "YAML reads an unquoted version as a number, and 3.10 as 3.1: write it quoted, "
            f'"{"3.10" if value == 3.1 else value}"'
        )
    if not isinstance(value, str) or not _VERSION.match(value.strip()):
        raise ValueError
    return value.strip()


def _cron_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError
    return value.strip()


_CHECKS: dict[str, tuple[Any, str]] = {
    "title": (_optional(_text), "a string"),
    "description": (lambda v: "" if v is None else _text(v), "a string"),
    "dependencies": (_requirements, 'a list of requirement strings such as "requests>=2.25"'),
    "python_version": (_python_version, 'a version string such as "3.10"'),
    "enabled": (_flag, "true or false"),
    "timeout": (_int_at_least(1), "a whole number of seconds > 0"),
    "retry_count": (_int_at_least(0), "a whole number >= 0"),
    "retry_delay": (_int_at_least(0), "a whole number of seconds >= 0"),
    "schedule": (_optional(_cron_text), 'a cron expression such as "*/5 * * * *" or an alias such as "@hourly"'),
    "catchup": (_one_of(*CATCHUP), "one of latest, all, skip"),
    "max_overdue": (_int_at_least(1), "a whole number of seconds > 0"),
    "max_memory_mb": (_optional(_int_at_least(1)), "a whole number of MB > 0"),
    "overlap": (_one_of(*OVERLAP), "one of skip, allow"),
    "isolated": (_flag, "true or false"),
    "ping_url": (_optional(_text), "a URL string"),
}


# --- the schedule, read from the source --------------------------------------------------------


def _schedule_from_decorator(tree: ast.Module) -> tuple[Chain | None, int | None]:
    starts = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == "start"]
    if not starts:
        raise _Invalid(None, "no function named start(): a task file defines `def start():` at top level")
    found: Chain | None = None
    line = None
    for deco in starts[-1].decorator_list:
        if not (isinstance(deco, ast.Call) and _callee_name(deco.func) == "repeat"):
            continue
        if found is not None:
            raise _Invalid(deco.lineno, "@repeat: start() has more than one @repeat; keep one")
        if len(deco.args) != 1 or deco.keywords:
            raise _Invalid(deco.lineno, "@repeat: expected one schedule, e.g. @repeat(every(10).minutes)")
        found, line = _chain(deco.args[0], ast.unparse(deco.args[0])), deco.lineno
    return found, line


def _callee_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _chain(node: ast.expr, expr: str) -> Chain:
    if isinstance(node, ast.Attribute):
        return (*_chain(node.value, expr), (node.attr, None))
    if isinstance(node, ast.Call):
        if node.keywords:
            raise _Invalid(
                node.lineno, f"@repeat({expr}): keyword arguments are not supported; pass values by position"
            )
        args = tuple(_literal(a, expr) for a in node.args)
        if isinstance(node.func, ast.Name) or (
            isinstance(node.func, ast.Attribute) and node.func.attr in ("every", "cron") and _dotted(node.func.value)
        ):  # every(10) or a module's: decorators.every(10), task_scheduler.decorators.every(10)
            name = _callee_name(node.func) or ""
            if name == "every" and len(args) == 1 and type(args[0]) is int and args[0] == 1:
                args = ()  # every(1) is every(), as `decorators.every` records it at run time
            return ((name, args),)
        if isinstance(node.func, ast.Attribute):
            return (*_chain(node.func.value, expr), (node.func.attr, args))
    raise _Invalid(
        getattr(node, "lineno", None),
        f'@repeat({expr}): expected a schedule such as every(10).minutes or cron("*/5 * * * *")',
    )


def _dotted(node: ast.expr) -> bool:
    """`decorators` or `task_scheduler.decorators`: a module path, not a schedule."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


def _literal(node: ast.expr, expr: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _Invalid(
            node.lineno,
            f"@repeat({expr}): only literal arguments are allowed (the tick reads the schedule "
            f"without running the file), found {ast.unparse(node)!r}",
        ) from None


def _compile(chain: Chain, line: int | None) -> Any:
    from datetime import timezone

    try:
        return compile_chain(chain, timezone.utc)
    except ScheduleError as exc:
        raise _Invalid(line, f"schedule: {exc}") from None


def _same_schedule(a: Any, b: Any) -> bool:
    """Whether two compiled schedules have the same slots (read in UTC) and the same DST rule.

    The first slots of 2000, then the next slot after probes spread over 28 years (a full cycle
    of weekdays and leap years) at steps that drift through every hour, minute and weekday: two
    different schedules differ at some probe unless they differ only on rare minutes.
    """
    from datetime import datetime, timedelta, timezone

    if a.pattern.interval != b.pattern.interval:
        return False
    start = datetime(2000, 1, 1, tzinfo=timezone.utc)
    if a.next_n(start, 50) != b.next_n(start, 50):
        return False
    probe, step, end = start, timedelta(days=25, hours=13, minutes=7), datetime(2028, 1, 1, tzinfo=timezone.utc)
    while probe < end:
        if a.next_after(probe) != b.next_after(probe):
            return False
        probe += step
    return True


def _render(chain: Chain) -> str:
    from .schedule import render

    return render(chain)
