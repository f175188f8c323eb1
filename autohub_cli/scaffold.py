"""`autohub init` and `autohub new`: the logic, without the command line.

`init` copies the project template: `helpers/`, `config/config.yaml`, `config/secrets.yaml.example`,
the example tasks and their config files. An installed wheel carries that template under
`autohub_cli/_project` (mapped there from the repository by `force-include` in pyproject.toml, so the
repository holds one copy only); an editable install or a source checkout copies from the
repository itself, the folder above this package.

Neither command ever destroys a file the user has: `init` skips every existing file that differs
(with `force` it replaces it and keeps the old one as `<name>.bak`), and `new` refuses an existing
task file.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"

# What `init` copies, relative to the template root. pyproject.toml's force-include must ship the
# same files in the wheel (tests/test_scaffold.py checks that they agree).
HELPERS = "helpers"
PROJECT_FILES = (
    "config/config.yaml",
    "config/secrets.yaml.example",
    "config/example_config_usage.yaml",
    "config/example_system_monitor.yaml",
)
EXAMPLE_TASKS = "tasks/example_*.py"
FOLDERS = ("config", "helpers", "tasks", "state", "logs")
KEEP_FILES = ("state/.gitkeep", "logs/.gitkeep")  # so that git keeps the empty folders
GITIGNORE = ".gitignore"

# exit codes of the command line (see cli.py)
FAILED, USAGE, ENVIRONMENT = 1, 2, 3


class ScaffoldError(Exception):
    """The command could not do what was asked; `code` is the exit status."""

    def __init__(self, message: str, code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code


# --- the template ----------------------------------------------------------------------------------


def template_root() -> Path:
    """`autohub_cli/_project` in an installed wheel, else the source checkout above the package."""
    packaged = PACKAGE / "_project"
    if packaged.is_dir():
        return packaged
    checkout = PACKAGE.parent
    if (checkout / HELPERS / "__init__.py").is_file() and (checkout / "config" / "config.yaml").is_file():
        return checkout
    raise ScaffoldError(
        f"the project template is missing: neither {packaged} nor a source checkout at {checkout} holds it; "
        "reinstall autohub",
        ENVIRONMENT,
    )


def template_files(root: Path | None = None) -> list[str]:
    """The files `init` copies, as paths relative to the template root (forward slashes), sorted."""
    root = template_root() if root is None else root
    found: set[str] = set()
    for current, dirs, files in os.walk(root / HELPERS):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
        for name in files:
            if not name.endswith((".pyc", ".pyo")) and not name.startswith("."):
                found.add((Path(current) / name).relative_to(root).as_posix())
    for rel in PROJECT_FILES:
        if (root / rel).is_file():
            found.add(rel)
    found.update(p.relative_to(root).as_posix() for p in root.glob(EXAMPLE_TASKS) if p.is_file())
    return sorted(found)


# --- init ------------------------------------------------------------------------------------------


@dataclass
class InitReport:
    root: Path
    template: Path
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # already there with the same content
    skipped: list[str] = field(default_factory=list)  # already there and different: left alone
    replaced: list[tuple[str, str]] = field(default_factory=list)  # (file, its backup) with force
    gitignore: str = ""  # created | updated | unchanged | skipped
    examples: bool = False  # the project's config has include_example_tasks: true

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "template": str(self.template),
            "created": self.created,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "replaced": [{"file": f, "backup": b} for f, b in self.replaced],
            "gitignore": self.gitignore,
            "examples": self.examples,
        }


def init_project(target: str | os.PathLike[str], *, force: bool = False, examples: bool = False) -> InitReport:
    """Make (or complete) a project in `target`; existing files that differ are kept unless `force`."""
    root = Path(target).expanduser().absolute()
    if root.exists() and not root.is_dir():
        raise ScaffoldError(f"{root} exists and is not a folder", USAGE)
    source = template_root()
    report = InitReport(root=root, template=source)
    try:
        root.mkdir(parents=True, exist_ok=True)
        for folder in FOLDERS:
            path = root / folder
            if path.exists() and not path.is_dir():
                raise ScaffoldError(f"{path} exists and is not a folder: move it away and run init again", FAILED)
            path.mkdir(exist_ok=True)
            _no_world_write(path)  # autohub refuses a tasks folder anyone can write to
        for rel in template_files(source):
            data = (source / rel).read_bytes()
            if rel == "config/config.yaml" and examples:
                data = _enable_examples(data)
            _place(root, rel, data, force, report)
        config = root / "config" / "config.yaml"
        report.examples = config.is_file() and bool(_EXAMPLES_ON.search(config.read_bytes()))
        for rel in KEEP_FILES:
            if not (root / rel).exists():
                _write_new(root / rel, b"")
        report.gitignore = _merge_gitignore(root / GITIGNORE)
    except OSError as exc:
        raise ScaffoldError(f"{exc.filename or root}: {exc.strerror or exc}", ENVIRONMENT) from None
    return report


def _place(root: Path, rel: str, data: bytes, force: bool, report: InitReport) -> None:
    dest = root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not os.path.lexists(dest):
        _write_new(dest, data)
        report.created.append(rel)
        return
    if dest.is_file() and not dest.is_symlink() and dest.read_bytes() == data:
        report.unchanged.append(rel)
        return
    if not force or dest.is_dir():
        report.skipped.append(rel)
        return
    backup = _free_name(dest, ".bak")
    os.replace(dest, backup)  # the user's file (or link) survives, renamed
    _write_new(dest, data)
    report.replaced.append((rel, backup.relative_to(root).as_posix()))


def _free_name(path: Path, suffix: str) -> Path:
    candidate, n = path.with_name(path.name + suffix), 0
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.name}{suffix}.{n}")
    return candidate


def _write_new(path: Path, data: bytes) -> None:
    """Write a file that does not exist yet, atomically, readable by all and writable by its owner only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _file_mode() -> int:
    """0o644 under the usual umask; never writable by others, whatever the umask says."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask & ~0o002


def _no_world_write(path: Path) -> None:
    mode = path.stat().st_mode & 0o7777
    if mode & 0o002:
        os.chmod(path, mode & ~0o002)


_EXAMPLES_OFF = re.compile(rb"^(\s*include_example_tasks:\s*)false\b", re.MULTILINE)
_EXAMPLES_ON = re.compile(rb"^\s*include_example_tasks:\s*true\b", re.MULTILINE)


def _enable_examples(data: bytes) -> bytes:
    return _EXAMPLES_OFF.sub(rb"\1true", data, count=1)


def _merge_gitignore(path: Path) -> str:
    """Create the project's .gitignore, or append the lines it lacks; a user's lines are never changed."""
    wanted = (TEMPLATES / "gitignore").read_text(encoding="utf-8")
    if not os.path.lexists(path):
        _write_new(path, wanted.encode("utf-8"))
        return "created"
    if not path.is_file():
        return "skipped"
    have = path.read_text(encoding="utf-8", errors="replace")
    present = {line.strip() for line in have.splitlines()}
    missing = [line for line in wanted.splitlines() if line.strip() and not line.startswith("#")]
    missing = [line for line in missing if line.strip() not in present]
    if not missing:
        return "unchanged"
    addition = ("" if have.endswith("\n") or not have else "\n") + "# added by autohub init\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(addition + "\n".join(missing) + "\n")
    return "updated"


def next_steps(report: InitReport) -> list[str]:
    """What to do after init, as lines for the terminal."""
    import shlex

    where = shlex.quote(str(report.root))
    lines = [
        f"cd {where}",
        "autohub validate                           # check the task files",
        'autohub new my_task --every "10 minutes"   # write a task from the template',
    ]
    if report.examples:
        lines.append("autohub run example_hello_world            # run an example now")
    else:
        lines.append("# to try the examples: set tasks.include_example_tasks: true in config/config.yaml")
    lines += [
        "autohub cron install                       # cron runs `autohub tick` every minute; or add with crontab -e:",
        cron_line(report.root),
    ]
    return lines


def cron_line(root: Path) -> str:
    """The crontab line for this project (the same one `autohub cron install` writes)."""
    try:
        from .config import load_settings
        from .crontab import SCHEDULE, tick_command

        return f"{SCHEDULE} {tick_command(load_settings(root))}"
    except Exception:  # noqa: BLE001 - a hint only: fall back to the plain form
        import shlex
        import sys

        exe = shutil.which("autohub") or str(Path(sys.executable).with_name("autohub"))
        return f"* * * * * cd {shlex.quote(str(root))} && {shlex.quote(exe)} tick"


# --- new -------------------------------------------------------------------------------------------

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EVERY = re.compile(
    r"^(?:every\s+)?(?:(?P<n>\d+)\s*)?(?P<unit>minutes?|mins?|hours?|days?|weeks?|"
    + "|".join(f"{d}s?" for d in _WEEKDAYS)
    + r")(?:\s+at\s+(?P<at>\S+)(?:\s+(?P<zone>[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+|UTC))?)?$",
    re.IGNORECASE,
)
EVERY_FORMS = (
    '"N minutes" (1-59), "N hours" (1-23) [at :MM], "N days" [at HH:MM], "N weeks" [at HH:MM], '
    '"WEEKDAY" [at HH:MM]; N may be left out for 1, and "at HH:MM" may end with a zone such as '
    'Europe/Amsterdam. Examples: "10 minutes", "2 hours", "hour at :15", "day at 10:30", "monday at 09:00"'
)
DEFAULT_EVERY = "hour"


@dataclass
class NewReport:
    path: Path
    name: str
    title: str
    schedule: str | None  # the expression written, e.g. every(10).minutes; None for a manual task
    describe: str  # "every 10 minutes at :00, :10 …", or "manual: runs only with `autohub run`"
    warnings: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    """The task's file stem from NAME or NAME.py; ScaffoldError (usage) when it cannot be a task name."""
    stem = name[:-3] if name.endswith(".py") else name
    if "/" in stem or os.sep in stem:
        raise ScaffoldError(f"{name!r}: give a task name, not a path: the file is written to the tasks folder", USAGE)
    if not _NAME.match(stem):
        hint = re.sub(r"[^A-Za-z0-9_]+", "_", stem).strip("_")
        if hint and not hint[0].isalpha():
            hint = f"task_{hint}"
        suggestion = f"; try {hint!r}" if hint and _NAME.match(hint) else ""
        raise ScaffoldError(
            f"{name!r} is not a valid task name: use letters, digits and _, starting with a letter "
            f"(the file becomes tasks/NAME.py, importable as tasks.NAME){suggestion}",
            USAGE,
        )
    if keyword.iskeyword(stem) or keyword.issoftkeyword(stem):
        raise ScaffoldError(
            f"{stem!r} is a Python keyword, so `import tasks.{stem}` would fail: choose another name", USAGE
        )
    if stem.startswith("example_"):
        raise ScaffoldError(
            f"{stem!r}: names starting with example_ are for the example tasks, which run only with "
            "tasks.include_example_tasks: true; choose another name",
            USAGE,
        )
    return stem


def parse_every(text: str) -> Any:
    """`"10 minutes"` -> the chain of `every(10).minutes`; ScaffoldError (usage) for anything else."""
    from .schedule import ScheduleError, render

    match = _EVERY.match(" ".join(str(text).split()))
    if not match:
        raise ScaffoldError(f"cannot read --every {text!r}: expected {EVERY_FORMS}; or use --cron EXPR", USAGE)
    raw_unit = match.group("unit").lower()
    n = int(match.group("n")) if match.group("n") is not None else 1
    if raw_unit.rstrip("s") in _WEEKDAYS:
        unit = raw_unit.rstrip("s")
        if match.group("n") is not None and n != 1:
            raise ScaffoldError(f"--every {text!r}: a weekday runs every week; write {unit!r} or use --cron", USAGE)
        chain: tuple[Any, ...] = (("every", ()), (unit, None))
    else:
        singular = {"min": "minute", "mins": "minute"}.get(raw_unit, raw_unit.rstrip("s"))
        unit = singular if n == 1 else singular + "s"
        chain = (("every", () if n == 1 else (n,)), (unit, None))
    if match.group("at"):
        at_args = (match.group("at"),) if not match.group("zone") else (match.group("at"), match.group("zone"))
        chain = (*chain, ("at", at_args))
    try:
        _compile(chain)
    except ScheduleError as exc:
        raise ScaffoldError(f"--every {text!r} gives {render(chain)}, which is not valid: {exc}", USAGE) from None
    return chain


def parse_cron(expression: str) -> Any:
    """`"*/5 * * * *"` -> the chain of `cron("*/5 * * * *")`; ScaffoldError (usage) when invalid."""
    from .schedule import ScheduleError

    text = " ".join(str(expression).split())
    chain = (("cron", (text,)),)
    if not text or any(c in text for c in '"\\'):
        raise ScaffoldError(f"--cron {expression!r}: expected five cron fields such as '*/5 * * * *'", USAGE)
    try:
        _compile(chain)
    except ScheduleError as exc:
        raise ScaffoldError(f"--cron {expression!r} is not valid: {exc}", USAGE) from None
    return chain


def _compile(chain: Any) -> Any:
    from zoneinfo import ZoneInfo

    from .schedule import compile_chain

    return compile_chain(chain, ZoneInfo("UTC"))


def default_title(stem: str) -> str:
    """`backup_photos` -> `Backup Photos`."""
    words = [w for w in stem.split("_") if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or stem


def new_task(
    settings: Any,
    name: str,
    *,
    every: str | None = None,
    cron: str | None = None,
    manual: bool = False,
    title: str | None = None,
    description: str | None = None,
) -> NewReport:
    """Write `tasks/NAME.py` from the template; never overwrites a file."""
    from .schedule import render

    if sum(x is not None and x is not False for x in (every, cron, manual or None)) > 1:
        raise ScaffoldError("give at most one of --every, --cron and --manual", USAGE)
    stem = check_name(name)
    title = default_title(stem) if title is None else title
    description = "" if description is None else description
    for label, text in (("--title", title), ("--description", description)):
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise ScaffoldError(f"{label} must be one line of text without control characters", USAGE)
    if not title.strip():
        raise ScaffoldError("--title must not be empty", USAGE)

    chain = None
    if cron is not None:
        chain = parse_cron(cron)
    elif not manual:
        chain = parse_every(DEFAULT_EVERY if every is None else every)

    tasks_dir = Path(settings.tasks_dir)
    if not tasks_dir.is_dir():
        raise ScaffoldError(
            f"{tasks_dir}: the tasks folder does not exist (tasks.directory in {settings.config_file})", ENVIRONMENT
        )
    path = tasks_dir / f"{stem}.py"
    if os.path.lexists(path):
        raise ScaffoldError(f"{path} already exists: edit it, or choose another name (nothing was written)", FAILED)

    has_helpers = (Path(settings.root) / HELPERS / "__init__.py").is_file()
    text = render_task(stem, title, description, chain, has_helpers)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 & ~0o002)
    except FileExistsError:
        raise ScaffoldError(
            f"{path} already exists: edit it, or choose another name (nothing was written)", FAILED
        ) from None
    except OSError as exc:
        raise ScaffoldError(f"{path}: cannot write ({exc.strerror or exc})", ENVIRONMENT) from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)

    from .taskfile import TaskError, parse_file

    parsed = parse_file(path)
    if isinstance(parsed, TaskError):  # the template and the reader disagree: a bug, never leave a broken file
        path.unlink()
        raise ScaffoldError(
            f"internal error: the generated task is invalid ({parsed.message}); nothing was written", ENVIRONMENT
        )
    report = NewReport(
        path=path,
        name=stem,
        title=parsed.title,
        schedule=render(chain) if chain is not None else None,
        describe=_compile(chain).describe() if chain is not None else "manual: runs only with `autohub run`",
    )
    import fnmatch

    if not fnmatch.fnmatch(path.name, settings.tasks.file_pattern):
        report.warnings.append(
            f"{path.name} does not match tasks.file_pattern {settings.tasks.file_pattern!r}: the tick will not see it"
        )
    return report


def render_task(stem: str, title: str, description: str, chain: Any, has_helpers: bool) -> str:
    """The text of a new task file."""
    from .schedule import render

    imports = []
    if chain is not None:
        imports.append(f"from autohub_cli import {'cron' if chain[0][0] == 'cron' else 'every'}, repeat")
    if has_helpers:
        imports.append("from helpers import log_info")
    if chain is None:
        decorator = ""
        doc = f"Runs only when started by hand: `autohub run {stem}` (add @repeat(...) to schedule it)."
    else:
        literal = f"cron({json.dumps(chain[0][1][0])})" if chain[0][0] == "cron" else render(chain)
        decorator = f"@repeat({literal})\n"
        doc = f"Called by `autohub tick` at each slot, or now by `autohub run {stem}`."
    call = "log_info" if has_helpers else "print"
    body = f'{call}("{stem} ran")  # logs/tasks.log: … INFO [title] {stem} ran'
    template = Template((TEMPLATES / "task.py.tmpl").read_text(encoding="utf-8"))
    return template.substitute(
        title=_yaml_in_docstring(title),
        description=_yaml_in_docstring(description),
        imports="\n\n" + "\n".join(imports) + "\n" if imports else "\n",
        decorator=decorator,
        doc=doc,
        body=body,
    )


def _yaml_in_docstring(text: str) -> str:
    """A YAML single-quoted scalar, escaped for a (non-raw) Python docstring."""
    quoted = "'" + text.replace("'", "''") + "'"
    return quoted.replace("\\", "\\\\").replace('"', '\\"')
