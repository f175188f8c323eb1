"""Installing task dependencies for real, with no network: tiny wheels written by the tests, served
from a local folder (`virtual_env.index_url: <folder>` means --no-index --find-links <folder>).

Every test here runs real installers and real child processes: they are marked slow (CI runs them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UV = shutil.which("uv") or (
    str(Path(sys.executable).parent / "uv") if (Path(sys.executable).parent / "uv").exists() else None
)

pytestmark = pytest.mark.slow


def make_wheel(folder: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel of a package `name` whose module says its version (`<name>.VERSION`)."""
    dist = name.replace("-", "_")
    files = {
        f"{dist}/__init__.py": f'VERSION = "{version}"\n',
        f"{dist}-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist}-{version}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: autohub-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = f"{dist}-{version}.dist-info/RECORD"
    lines = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(text.encode())}")
    files[record] = "\n".join([*lines, f"{record},,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return out


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    for version in ("1.0", "2.0", "3.0"):
        make_wheel(folder, "ahtiny", version)
    make_wheel(folder, "ahdep", "1.0", ("ahtiny>=1",))
    make_wheel(folder, "ahneedsnew", "1.0", ("ahtiny>=2",))
    return folder


@pytest.fixture
def deps_project(project, wheels):
    """The conftest project, with a virtual environment of its own and the local wheel folder as its index."""
    project.config(
        f"""
        scheduler:
          timezone: UTC
          max_parallel: 4
        virtual_env:
          path: venv
          index_url: {wheels}
          installer: pip
          install_timeout: 120
        """
    )
    return project


def site_packages(env: Path) -> Path:
    return next(env.glob("lib/python*/site-packages"))


def installed(env: Path, name: str) -> list[str]:
    """Versions of `name` installed in the environment (from its dist-info folders)."""
    return sorted(p.name.split("-")[1][: -len(".dist")] for p in site_packages(env).glob(f"{name}-*.dist-info"))


def install_deps(project, *args: str) -> subprocess.CompletedProcess[str]:
    return project.cli("install-deps", *args, timeout=300)


def report(project, *args: str) -> dict:
    proc = install_deps(project, "--json", *args)
    assert proc.stdout, proc.stderr
    return json.loads(proc.stdout)


def statuses(data: dict) -> dict[str, str]:
    return {t["task"]: t["status"] for t in data["tasks"]}


def install_lines(project) -> list[str]:
    return [ln for ln in project.log("scheduler.log").splitlines() if " before its run" in ln]


# --- install-deps --------------------------------------------------------------------------------------------


def test_install_deps_installs_and_then_leaves_a_satisfied_requirement_alone(deps_project, monkeypatch):
    p = deps_project
    task = p.task("fetch", "import ahtiny; print(ahtiny.VERSION)", dependencies=["ahtiny==2.0"])
    proc = install_deps(p)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "installed" in proc.stdout and "fetch" in proc.stdout
    assert "fetch: installing ahtiny==2.0" in proc.stderr  # the progress display, plain when not a terminal
    assert installed(p.root / "venv", "ahtiny") == ["2.0"]

    # like `requests>=2.25` with 2.31 installed: satisfied, kept, no installer started (3.0 is available)
    task.write_text(task.read_text().replace("ahtiny==2.0", "ahtiny>=1"))
    from typer.testing import CliRunner

    from autohub_cli import deps_install
    from autohub_cli.cli import app

    def no_installer(*args, **kwargs):
        raise AssertionError(f"an installer ran: {args}")

    with monkeypatch.context() as patched:
        patched.setattr(deps_install, "run", no_installer)
        patched.setattr(deps_install.subprocess, "Popen", no_installer)
        result = CliRunner().invoke(app, ["install-deps", "--config", str(p.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert statuses(data) == {"fetch": "satisfied"}
    assert installed(p.root / "venv", "ahtiny") == ["2.0"]

    # --upgrade takes the newest allowed version
    upgraded = report(p, "--upgrade")
    assert statuses(upgraded) == {"fetch": "installed"}
    assert installed(p.root / "venv", "ahtiny") == ["3.0"]


def test_dry_run_says_what_it_would_install_and_changes_nothing(deps_project):
    p = deps_project
    p.task("fetch", dependencies=["ahdep>=1"])
    p.task("alone", dependencies=["ahtiny"], isolated=True)
    proc = install_deps(p, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "would-install" in proc.stdout and "missing: ahdep>=1" in proc.stdout
    assert "dry run: nothing was installed" in proc.stdout
    assert not (p.root / "venv").exists() and not (p.root / "state" / "envs").exists()


def test_a_failed_install_names_its_task_and_does_not_block_the_others(deps_project):
    p = deps_project
    p.task("good", dependencies=["ahtiny>=1"])
    p.task("broken", dependencies=["ahmissing>=1"])
    proc = install_deps(p)
    assert proc.returncode == 1
    assert "failed" in proc.stdout and "broken" in proc.stdout
    assert "ahmissing" in proc.stdout  # the installer's own reason: no version of ahmissing>=1
    data = report(p)
    assert statuses(data) == {"good": "satisfied", "broken": "failed"}
    broken = next(t for t in data["tasks"] if t["task"] == "broken")
    assert "exited with code" in broken["reason"] and broken["missing"] == ["ahmissing>=1"]
    assert installed(p.root / "venv", "ahtiny") == ["3.0"]
    assert "install-deps: broken:" in p.log("scheduler.log")


def test_unknown_and_invalid_task_names_exit_1(deps_project):
    p = deps_project
    p.task("good", dependencies=["ahtiny>=1"])
    p.task("future", python_version="3.99")
    proc = install_deps(p, "nosuch", "future")
    assert proc.returncode == 1
    assert "unknown task 'nosuch'; known tasks: future, good" in proc.stderr
    assert "python_version: the task needs Python 3.99" in proc.stderr


def test_a_clash_is_reported_and_each_side_gets_its_own_environment(deps_project):
    p = deps_project
    p.task("old", "import ahtiny; print(ahtiny.VERSION)", dependencies=["ahtiny<2"])
    p.task("new", "import ahtiny; print(ahtiny.VERSION)", dependencies=["ahtiny>=2"])
    p.task("also_new", "import ahtiny; print(ahtiny.VERSION)", dependencies=["ahtiny>=2"])
    p.task("other", "import ahdep; print('dep', ahdep.VERSION)", dependencies=["ahdep"])
    proc = install_deps(p)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "clash ahtiny: task also_new wants ahtiny>=2, task new wants ahtiny>=2, task old wants ahtiny<2" in proc.stdout
    )
    data = report(p)
    assert data["clashes"] == [
        {"package": "ahtiny", "wants": [["also_new", "ahtiny>=2"], ["new", "ahtiny>=2"], ["old", "ahtiny<2"]]}
    ]
    where = {t["task"]: t["environment"] for t in data["tasks"]}
    assert where["new"] == where["also_new"] != where["old"]  # identical sets share one environment
    assert where["old"].startswith("isolated environment state/envs/") and where["other"] == "environment venv"
    envs = sorted((p.root / "state" / "envs").iterdir())
    envs = [e for e in envs if not e.name.startswith(".")]
    assert len(envs) == 2
    assert sorted(installed(e, "ahtiny")[0] for e in envs) == ["1.0", "3.0"]
    # and they run that way
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")
    assert {r["task"]: r["status"] for r in p.runs()} == {n: "success" for n in ("old", "new", "also_new", "other")}
    log = p.log("tasks.log")
    assert "[old] 1.0" in log and "[new] 3.0" in log and "[other] dep 1.0" in log


def test_installing_one_task_cannot_break_another_tasks_requirement(deps_project):
    """The other tasks' requirements are constraints: ahneedsnew needs ahtiny>=2, `keeper` pins ahtiny<2."""
    p = deps_project
    p.task("keeper", dependencies=["ahtiny<2"])
    p.task("greedy", dependencies=["ahneedsnew"])
    data = report(p)
    assert statuses(data) == {"keeper": "installed", "greedy": "failed"}
    assert installed(p.root / "venv", "ahtiny") == ["1.0"]
    greedy = next(t for t in data["tasks"] if t["task"] == "greedy")
    assert "conflicting requirements: ahneedsnew 1.0 depends on ahtiny>=2" in greedy["reason"]
    assert "the environment keeps other requirements met: ahtiny<2 (task keeper)" in greedy["reason"]


def test_a_pep723_task_installs_and_runs(deps_project):
    p = deps_project
    (p.root / "tasks" / "script.py").write_text(
        textwrap.dedent(
            """\
            # /// script
            # requires-python = ">=3.10"
            # dependencies = ["ahdep>=1"]
            # ///
            from autohub_cli import repeat, every

            @repeat(every(1).minutes)
            def start():
                import ahdep, ahtiny
                print("pep723", ahdep.VERSION, ahtiny.VERSION)
            """
        )
    )
    assert statuses(report(p)) == {"script": "installed"}
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")
    assert [r["status"] for r in p.runs("script")] == ["success"]
    assert "[script] pep723 1.0 3.0" in p.log("tasks.log")


# --- isolation ---------------------------------------------------------------------------------------------


def test_an_isolated_task_has_its_packages_and_still_imports_helpers_and_autohub_cli(deps_project):
    p = deps_project
    shutil.copytree(REPO / "helpers", p.root / "helpers")  # a project's own helpers/, as `autohub init` makes
    out = p.root / "seen.json"
    p.task(
        "alone",
        f"""
        import json, sys, ahtiny, helpers, autohub_cli
        from helpers import log_info
        log_info("inside")
        json.dump({{"prefix": sys.prefix, "ahtiny": ahtiny.__file__, "helpers": helpers.__file__,
                   "autohub_cli": autohub_cli.__file__}}, open({str(out)!r}, "w"))
        """,
        dependencies=["ahtiny==1.0"],
        isolated=True,
    )
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")  # the first run installs first (auto_install), then runs
    runs = p.runs("alone")
    assert [r["status"] for r in runs] == ["success"], runs
    seen = json.loads(out.read_text())
    env = Path(seen["prefix"])
    assert env.parent == p.root / "state" / "envs"
    assert Path(seen["ahtiny"]).is_relative_to(env)
    assert Path(seen["helpers"]).is_relative_to(p.root)
    assert "[alone] inside" in p.log("tasks.log")
    assert not (p.root / "venv").exists()  # nothing went into the shared environment
    assert json.loads((env / ".autohub-env.json").read_text())["requirements"] == ["ahtiny==1.0"]
    # the layer works without the runner's PYTHONPATH too: the environment's python on its own
    probe = "import autohub_cli.worker, helpers, ahtiny; print(ahtiny.VERSION)"
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(env / "bin" / "python"), "-c", probe], cwd="/", env=clean, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "1.0"


@pytest.mark.skipif(
    not Path("/root/.pyenv/versions/3.12.1/bin/python3.12").exists() or sys.version_info[:2] == (3, 12),
    reason="needs a second interpreter",
)
def test_a_task_for_a_newer_python_runs_on_the_configured_interpreter(deps_project, wheels):
    p = deps_project
    newer = "/root/.pyenv/versions/3.12.1/bin/python3.12"
    p.config(
        f"""
        scheduler:
          timezone: UTC
        virtual_env:
          path: venv
          index_url: {wheels}
          installer: pip
          interpreters:
            "3.12": {newer}
        """
    )
    p.task(
        "newer",
        "import sys, ahtiny; print('on', sys.version_info[:2], ahtiny.VERSION)",
        python_version="3.12",
        dependencies=["ahtiny"],
    )
    assert statuses(report(p)) == {"newer": "installed"}
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")
    assert "[newer] on (3, 12) 3.0" in p.log("tasks.log")


# --- at tick time --------------------------------------------------------------------------------------------


def test_without_auto_install_a_run_fails_with_the_reason_and_never_starts(deps_project, wheels):
    p = deps_project
    p.config(
        f"""
        scheduler:
          timezone: UTC
        virtual_env:
          path: venv
          index_url: {wheels}
          installer: pip
          auto_install: false
        """
    )
    started = p.root / "started"
    p.task("fetch", f"open({str(started)!r}, 'w').close(); import ahtiny", dependencies=["ahtiny>=1"])
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")
    runs = p.runs("fetch")
    assert [(r["status"], r["reason"]) for r in runs] == [
        ("failed", "missing dependency ahtiny>=1: run `autohub install-deps`")
    ]
    assert runs[0]["pid"] is None and not started.exists()
    assert "fetch: not started: missing dependency ahtiny>=1" in p.log("errors.log")
    assert install_lines(p) == []
    install_deps(p)
    p.tick("2026-11-27T10:02:05Z")
    assert [r["status"] for r in p.runs("fetch")] == ["failed", "success"]


def test_auto_install_installs_once_for_tasks_that_share_an_environment(deps_project):
    p = deps_project
    for name in ("one", "two", "three"):
        p.task(name, "import ahdep; print('ok')", dependencies=["ahdep>=1"])
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")  # three runs in parallel: one installs, the others wait for its lock
    assert sorted(r["status"] for r in p.runs()) == ["success"] * 3
    lines = install_lines(p)
    assert len(lines) == 1 and "installing ahdep>=1 into environment venv before its run" in lines[0]
    assert "installed into environment venv" in p.log("scheduler.log")
    p.tick("2026-11-27T10:02:05Z")
    assert len(install_lines(p)) == 1  # satisfied now: the fast path


def test_racing_processes_run_one_installer(deps_project):
    p = deps_project
    p.task("fetch", dependencies=["ahdep>=1"])
    script = textwrap.dedent(
        f"""
        from autohub_cli import deps
        from autohub_cli.catalog import load_catalog
        from autohub_cli.config import load_settings
        settings = load_settings({str(p.root)!r})
        spec = load_catalog(settings).specs["fetch"]
        print("reason:", deps.ready(spec, settings))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    assert outputs == ["reason: None\n"] * 3
    assert len(install_lines(p)) == 1
    assert installed(p.root / "venv", "ahdep") == ["1.0"]


def test_a_failed_automatic_install_fails_the_run_and_is_not_retried_every_minute(deps_project):
    p = deps_project
    p.task("broken", "import ahmissing", dependencies=["ahmissing>=1"])
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")
    p.tick("2026-11-27T10:02:05Z")
    runs = p.runs("broken")
    assert [r["status"] for r in runs] == ["failed", "failed"]
    assert runs[0]["reason"].startswith("missing dependency ahmissing>=1: the automatic install failed (")
    assert runs[0]["reason"].endswith("run `autohub install-deps`")
    assert "the automatic install failed" in runs[1]["reason"] and "s ago" in runs[1]["reason"]
    assert len(install_lines(p)) == 1
    assert "broken: installing into environment venv failed" in p.log("scheduler.log")


def test_the_installer_is_stopped_after_install_timeout(deps_project, monkeypatch):
    from autohub_cli import deps, deps_install
    from autohub_cli.catalog import load_catalog
    from autohub_cli.config import load_settings

    p = deps_project
    p.config(p.root.joinpath("config", "config.yaml").read_text().replace("install_timeout: 120", "install_timeout: 2"))
    p.task("slow", dependencies=["ahtiny"])
    monkeypatch.setattr(
        deps_install, "install_command", lambda *a, **k: [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    settings = load_settings(p.root)
    reason = deps.ready(load_catalog(settings).specs["slow"], settings)
    assert reason is not None
    assert "missing dependency ahtiny" in reason and "install_timeout (2 s)" in reason


@pytest.mark.skipif(UV is None, reason="uv is not installed")
def test_uv_builds_and_fills_the_environments(deps_project, wheels):
    p = deps_project
    p.config(p.root.joinpath("config", "config.yaml").read_text().replace("installer: pip", "installer: uv"))
    p.task("shared", "import ahdep; print('shared ok')", dependencies=["ahdep"])
    p.task("alone", "import ahtiny, helpers; print('alone', ahtiny.VERSION)", dependencies=["ahtiny<2"], isolated=True)
    path = os.pathsep.join([str(Path(UV).parent), os.environ.get("PATH", "")])
    proc = p.cli("install-deps", "--json", env={"PATH": path}, timeout=300)
    assert statuses(json.loads(proc.stdout)) == {"shared": "installed", "alone": "installed"}, proc.stderr
    assert "uv = " in (p.root / "venv" / "pyvenv.cfg").read_text()
    p.tick("2026-11-27T10:00:30Z")
    p.tick("2026-11-27T10:01:05Z")
    log = p.log("tasks.log")
    assert "[shared] shared ok" in log and "[alone] alone 1.0" in log


def test_two_racing_ticks_install_once(deps_project):
    """Tick 1 installs for `a`; tick 2 starts meanwhile, its `b` needs the same environment: it waits."""
    p = deps_project
    p.task("a", "import ahdep; print('a ok')", dependencies=["ahdep>=1"])
    p.task("b", "import ahdep; print('b ok')", schedule="every(2).minutes", dependencies=["ahdep>=1"])
    p.tick("2026-11-27T10:00:30Z")
    first = p.spawn_tick("2026-11-27T10:01:05Z")  # a's slot: installs (pip takes a few seconds)
    import time

    deadline = time.monotonic() + 60
    while "installing ahdep" not in p.log("scheduler.log") and time.monotonic() < deadline:
        time.sleep(0.05)
    second = p.spawn_tick("2026-11-27T10:02:05Z")  # b's slot (a's 10:02 is skipped: a is still running)
    for proc in (first, second):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    runs = {(r["task"], r["slot"][11:16]): r["status"] for r in p.runs()}
    assert runs[("a", "10:01")] == "success" and runs[("b", "10:02")] == "success"
    assert len(install_lines(p)) == 1
    assert "[a] a ok" in p.log("tasks.log") and "[b] b ok" in p.log("tasks.log")
    log = p.log("scheduler.log")  # the race happened: b came due while a's install was running
    assert log.index("b: run slot") < log.index("a: installed into environment venv")
