"""`autohub init` and `autohub new`, through the installed command: SPEC §1, §2 and issue 3 item 5."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from conftest import AUTOHUB

from autohub_cli import scaffold
from autohub_cli.schedule import render

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.stem for p in (REPO / "tasks").glob("example_*.py"))


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    full_env.pop("AUTOHUB_CONFIG", None)
    return subprocess.run([AUTOHUB, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=full_env)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture
def made(tmp_path: Path) -> Path:
    """A project made by `autohub init`, in UTC."""
    root = tmp_path / "proj"
    ok(cli(tmp_path, "init", str(root)))
    config = root / "config" / "config.yaml"
    config.write_text(config.read_text().replace("timezone: null", "timezone: UTC"))
    return root


# --- init ------------------------------------------------------------------------------------------


def test_init_makes_a_complete_project_and_prints_next_steps(tmp_path):
    root = tmp_path / "new" / "proj"  # parents are created too
    out = ok(cli(tmp_path, "init", str(root))).stdout
    for folder in ("config", "helpers", "tasks", "state", "logs"):
        assert (root / folder).is_dir(), folder
    for rel in scaffold.template_files(REPO):
        assert (root / rel).read_bytes() == (REPO / rel).read_bytes(), rel
    assert sorted(p.stem for p in (root / "tasks").glob("*.py")) == EXAMPLES
    assert not (root / "config" / "secrets.yaml").exists()  # only the example: secrets are the user's
    assert not list(root.rglob("__pycache__"))
    ignored = (root / ".gitignore").read_text().splitlines()
    assert "config/secrets.yaml" in ignored and "/state/*" in ignored and "/logs/*" in ignored
    assert (root / "state" / ".gitkeep").exists() and (root / "logs" / ".gitkeep").exists()
    assert not (root / "tasks").stat().st_mode & 0o002
    # next steps: where to go, and the cron line for this very project
    assert "Next steps:" in out and "autohub validate" in out and "autohub new" in out
    assert f"* * * * * cd {root} && " in out and " tick" in out
    # a made project works at once: examples are off by default
    assert "0 valid, 0 invalid" in ok(cli(root, "validate")).stdout
    ok(cli(root, "tick"))
    assert (root / "state" / "autohub.db").exists()


def test_init_with_examples_switches_them_on_and_every_example_is_valid(tmp_path):
    root = tmp_path / "proj"
    out = ok(cli(tmp_path, "init", str(root), "--examples")).stdout
    assert "include_example_tasks: true" in (root / "config" / "config.yaml").read_text()
    assert "autohub run example_hello_world" in out
    report = json.loads(ok(cli(root, "validate", "--json")).stdout)
    assert report["valid"] == EXAMPLES and report["invalid"] == {}
    assert report["warnings"] == []


def test_init_with_examples_again_keeps_them_on_quietly(tmp_path):
    root = tmp_path / "proj"
    ok(cli(tmp_path, "init", str(root), "--examples"))
    out = ok(cli(tmp_path, "init", str(root), "--examples")).stdout
    assert "not switched on" not in out and "autohub run example_hello_world" in out


def test_init_in_the_current_folder_by_default(tmp_path):
    root = tmp_path / "here"
    root.mkdir()
    ok(cli(root, "init"))
    assert (root / "config" / "config.yaml").is_file() and (root / "helpers" / "__init__.py").is_file()


def test_init_twice_changes_nothing(made):
    before = {p: p.read_bytes() for p in made.rglob("*") if p.is_file()}
    out = ok(cli(made.parent, "init", str(made))).stdout
    assert "0 files written" in out
    after = {p: p.read_bytes() for p in made.rglob("*") if p.is_file()}
    assert after == before


def test_init_never_overwrites_a_users_files_and_says_which_it_skipped(tmp_path):
    root = tmp_path / "proj"
    (root / "config").mkdir(parents=True)
    (root / "tasks").mkdir()
    mine = "scheduler:\n  timezone: Europe/Amsterdam\n"
    (root / "config" / "config.yaml").write_text(mine)
    (root / "tasks" / "example_hello_world.py").write_text("# my edited copy\n")
    (root / "tasks" / "mine.py").write_text("def start():\n    pass\n")
    (root / ".gitignore").write_text("*.swp\n/logs/*\n")
    out = ok(cli(tmp_path, "init", str(root), "--examples")).stdout
    assert (root / "config" / "config.yaml").read_text() == mine
    assert (root / "tasks" / "example_hello_world.py").read_text() == "# my edited copy\n"
    assert (root / "tasks" / "mine.py").read_text() == "def start():\n    pass\n"
    assert "skipped   config/config.yaml" in out and "skipped   tasks/example_hello_world.py" in out
    assert "--force" in out
    assert "examples were not switched on" in out  # their config was kept, so --examples could not apply
    # .gitignore: their lines kept, ours appended once
    lines = (root / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["*.swp", "/logs/*"]
    assert lines.count("/logs/*") == 1 and "config/secrets.yaml" in lines
    assert (root / "helpers" / "__init__.py").is_file()  # the missing parts were still added


def test_init_force_replaces_but_keeps_the_users_file_as_bak(tmp_path):
    root = tmp_path / "proj"
    ok(cli(tmp_path, "init", str(root)))
    config = root / "config" / "config.yaml"
    config.write_text("# mine\n")
    (root / "config" / "config.yaml.bak").write_text("# an older backup\n")
    out = ok(cli(tmp_path, "init", str(root), "--force")).stdout
    assert config.read_bytes() == (REPO / "config" / "config.yaml").read_bytes()
    assert (root / "config" / "config.yaml.bak").read_text() == "# an older backup\n"  # never overwritten either
    assert (root / "config" / "config.yaml.bak.1").read_text() == "# mine\n"
    assert "config.yaml.bak.1" in out


def test_init_refuses_a_file_as_target(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    proc = cli(tmp_path, "init", str(target))
    assert proc.returncode == 2
    assert "is not a folder" in proc.stderr and "Traceback" not in proc.stderr
    assert target.read_text() == "x"


def test_init_json_report(tmp_path):
    root = tmp_path / "proj"
    report = json.loads(ok(cli(tmp_path, "init", str(root), "--json")).stdout)
    assert report["root"] == str(root) and report["gitignore"] == "created"
    assert sorted(report["created"]) == scaffold.template_files(REPO)
    assert report["skipped"] == [] and report["replaced"] == []


# --- new -------------------------------------------------------------------------------------------


def test_init_new_validate_run_round_trip(made):
    out = ok(cli(made, "new", "backup_photos", "--every", "10 minutes")).stdout
    path = made / "tasks" / "backup_photos.py"
    assert "created tasks/backup_photos.py" in out and "[Backup Photos]" in out
    assert "@repeat(every(10).minutes)" in path.read_text()
    assert "ok      backup_photos" in ok(cli(made, "validate")).stdout
    slots = json.loads(
        ok(cli(made, "next", "backup_photos", "-n", "2", "--after", "2026-11-27T10:01:00Z", "--json")).stdout
    )
    assert slots == ["2026-11-27T10:10:00+00:00", "2026-11-27T10:20:00+00:00"]
    ok(cli(made, "run", "backup_photos"))
    assert "INFO [Backup Photos] backup_photos ran" in (made / "logs" / "tasks.log").read_text()
    # and the tick schedules it: first sight, then its 10:10 slot
    ok(cli(made, "tick", "--now", "2026-11-27T10:05:00Z"))
    ok(cli(made, "tick", "--now", "2026-11-27T10:10:05Z"))
    rows = json.loads(ok(cli(made, "history", "backup_photos", "--json")).stdout)
    assert [(r["trigger"], r["status"]) for r in rows] == [("schedule", "success"), ("manual", "success")]


EVERY = {
    "10 minutes": "every(10).minutes",
    "every 5 minutes": "every(5).minutes",
    "1 minute": "every().minute",
    "minute": "every().minute",
    "2 hours": "every(2).hours",
    "hour": "every().hour",
    "hour at :15": 'every().hour.at(":15")',
    "3 hours at :30": 'every(3).hours.at(":30")',
    "day": "every().day",
    "day at 10:30": 'every().day.at("10:30")',
    "2 days at 06:00": 'every(2).days.at("06:00")',
    "Monday at 09:00": 'every().monday.at("09:00")',
    "sunday": "every().sunday",
    "fridays at 17:30": 'every().friday.at("17:30")',
    "week": "every().week",
    "2 weeks at 08:00": 'every(2).weeks.at("08:00")',
    "day at 10:30 Europe/Amsterdam": 'every().day.at("10:30", "Europe/Amsterdam")',
}


@pytest.mark.parametrize("words", sorted(EVERY))
def test_every_words_become_the_dsl(words):
    assert render(scaffold.parse_every(words)) == EVERY[words]


def test_every_form_written_by_new_passes_validate(made):
    for i, words in enumerate(sorted(EVERY)):
        ok(cli(made, "new", f"task{i}", "--every", words))
        assert f"@repeat({EVERY[words]})" in (made / "tasks" / f"task{i}.py").read_text()
    ok(cli(made, "new", "by_cron", "--cron", "*/5 9-17 * * mon-fri"))
    ok(cli(made, "new", "by_alias", "--cron", "@daily"))
    ok(cli(made, "new", "by_hand", "--manual"))
    ok(cli(made, "new", "default"))
    report = json.loads(ok(cli(made, "validate", "--json")).stdout)
    assert report["invalid"] == {} and report["warnings"] == []
    assert len(report["valid"]) == len(EVERY) + 4
    assert '@repeat(cron("*/5 9-17 * * mon-fri"))' in (made / "tasks" / "by_cron.py").read_text()
    assert "\n@repeat" not in (made / "tasks" / "by_hand.py").read_text()
    assert (
        f"@repeat({render(scaffold.parse_every(scaffold.DEFAULT_EVERY))})"
        in (made / "tasks" / "default.py").read_text()
    )
    proc = cli(made, "next", "by_hand")
    assert proc.returncode == 1 and "manual task" in proc.stderr


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("fortnight", "cannot read --every 'fortnight'"),
        ("10", "cannot read --every '10'"),
        ("10 seconds", "cannot read --every '10 seconds'"),
        ("61 minutes", "1 <= N <= 59"),
        ("24 hours", "1 <= N <= 23"),
        ("2 mondays", "a weekday runs every week"),
        ("day at 25:00", '"HH:MM"'),
        ("hour at 15", '":MM"'),
        ("minute at :30", "sub-minute"),
        ("day at 10:30 Mars/Olympus", "unknown time zone"),
    ],
)
def test_new_rejects_every_forms_it_cannot_read_with_a_clear_message(made, words, expected):
    proc = cli(made, "new", "job", "--every", words)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (made / "tasks" / "job.py").exists()


def test_new_message_for_an_unreadable_every_lists_the_valid_forms(made):
    proc = cli(made, "new", "job", "--every", "fortnight")
    assert '"10 minutes"' in proc.stderr and '"monday at 09:00"' in proc.stderr and "--cron" in proc.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("my-task", "try 'my_task'"),
        ("2fast", "try 'task_2fast'"),
        ("_private", "not a valid task name"),
        ("has space", "try 'has_space'"),
        ("sub/dir", "not a path"),
        ("class", "Python keyword"),
        ("example_mine", "example_"),
        ("", "not a valid task name"),
    ],
)
def test_new_rejects_names_that_cannot_be_tasks(made, name, expected):
    proc = cli(made, "new", name)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in (made / "tasks").iterdir()) == sorted(f"{e}.py" for e in EXAMPLES)


def test_new_accepts_a_name_with_py(made):
    ok(cli(made, "new", "report.py"))
    assert (made / "tasks" / "report.py").is_file()


def test_new_refuses_to_overwrite_an_existing_task(made):
    path = made / "tasks" / "mine.py"
    path.write_text("# precious\n")
    proc = cli(made, "new", "mine", "--every", "5 minutes")
    assert proc.returncode == 1
    assert "already exists" in proc.stderr and "nothing was written" in proc.stderr
    assert path.read_text() == "# precious\n"


def test_new_refuses_an_example_name_that_exists(made):
    proc = cli(made, "new", "example_hello_world")
    assert proc.returncode == 2
    assert (made / "tasks" / "example_hello_world.py").read_bytes() == (
        REPO / "tasks" / "example_hello_world.py"
    ).read_bytes()


def test_new_rejects_a_bad_cron_and_conflicting_options(made):
    proc = cli(made, "new", "job", "--cron", "61 * * * *")
    assert proc.returncode == 2 and "--cron '61 * * * *' is not valid" in proc.stderr
    proc = cli(made, "new", "job", "--cron", "* * *")
    assert proc.returncode == 2 and "expected 5 cron fields" in proc.stderr
    proc = cli(made, "new", "job", "--every", "hour", "--cron", "@daily")
    assert proc.returncode == 2 and "at most one of --every, --cron and --manual" in proc.stderr
    assert not (made / "tasks" / "job.py").exists()


def test_new_title_and_description_survive_quotes_and_backslashes(made):
    title = 'It\'s "quoted" \\ back'
    ok(cli(made, "new", "quoting", "--title", title, "--description", "a: b # not a comment"))
    from autohub_cli.taskfile import parse_file

    spec = parse_file(made / "tasks" / "quoting.py")
    assert spec.title == title and spec.description == "a: b # not a comment"
    ok(cli(made, "run", "quoting"))
    assert f"[{title}] quoting ran" in (made / "logs" / "tasks.log").read_text()


def test_new_rejects_a_multi_line_title(made):
    proc = cli(made, "new", "job", "--title", "two\nlines")
    assert proc.returncode == 2 and "one line" in proc.stderr


def test_new_outside_a_project_exits_3_with_one_line(tmp_path):
    proc = cli(tmp_path, "new", "job")
    assert proc.returncode == 3
    assert "autohub init" in proc.stderr and "Traceback" not in proc.stderr


def test_new_in_a_project_without_helpers_uses_print(project):
    ok(cli(project.root, "new", "plain", "--every", "minute"))
    text = (project.root / "tasks" / "plain.py").read_text()
    assert "from helpers" not in text and 'print("plain ran")' in text
    ok(cli(project.root, "run", "plain"))
    assert "[Plain] plain ran" in project.log("tasks.log")


def test_new_warns_when_the_file_pattern_would_hide_the_task(project):
    project.config("tasks:\n  file_pattern: 'job_*.py'\n")
    out = ok(cli(project.root, "new", "other")).stdout
    assert "does not match tasks.file_pattern" in out


def test_new_task_is_a_valid_python_module_that_runs_by_hand(made):
    ok(cli(made, "new", "by_hand_check", "--every", "day at 07:00"))
    proc = subprocess.run(
        [sys.executable, "-c", "import tasks.by_hand_check as t; t.start()"],
        cwd=made,
        capture_output=True,
        text=True,
        env={**os.environ, "AUTOHUB_PROJECT_ROOT": str(made)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "[By Hand Check] by_hand_check ran" in proc.stderr


# --- the template: one copy in the repository, the same files in the wheel --------------------------


def test_wheel_force_include_ships_exactly_the_files_init_copies():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapping = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    shipped = set()
    for source, target in mapping.items():
        assert target == f"autohub_cli/_project/{source}", (source, target)
        path = REPO / source
        if path.is_dir():
            shipped.update(rel for rel in scaffold.template_files(REPO) if rel.startswith(source + "/"))
        else:
            shipped.add(source)
    assert shipped == set(scaffold.template_files(REPO))


def test_the_source_checkout_is_the_template_of_an_editable_install():
    assert scaffold.template_root() in (REPO, REPO / "autohub_cli" / "_project")
    assert not (REPO / "autohub_cli" / "_project").exists(), "the template must not be copied into the repository"


@pytest.mark.slow
def test_an_installed_wheel_inits_from_its_packaged_template(tmp_path):
    """Build the wheel, install it (without dependencies: this venv has them) and init from it."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO), "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip()[-300:]}")
    (wheel,) = wheels.glob("autohub-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    packaged = target / "autohub_cli" / "_project"
    assert sorted(scaffold.template_files(packaged)) == scaffold.template_files(REPO)
    root = tmp_path / "proj"
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = (
        "import sys; from autohub_cli import scaffold; "
        "print(scaffold.template_root()); "
        "sys.argv = ['autohub', 'init', sys.argv[1], '--examples']; "
        "from autohub_cli.entry import main; main()"
    )
    proc = subprocess.run(  # cwd: not the repository, whose autohub_cli would come first on sys.path
        [sys.executable, "-c", code, str(root)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == str(packaged)
    for rel in scaffold.template_files(REPO):
        expected = (REPO / rel).read_bytes()
        if rel == "config/config.yaml":
            expected = expected.replace(b"include_example_tasks: false", b"include_example_tasks: true")
        assert (root / rel).read_bytes() == expected, rel
    report = json.loads(ok(cli(root, "validate", "--json")).stdout)
    assert report["valid"] == EXAMPLES
