"""Task dependencies without an installer: PEP 723, clashes, the "satisfied?" check and its cache,
the python_version rule and the tick-time reason. The installs themselves: test_deps_install.py."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from autohub_cli import deps, deps_core, deps_env
from autohub_cli.catalog import load_catalog
from autohub_cli.config import ConfigError, load_settings
from autohub_cli.taskfile import TaskError, TaskSpec, parse_file

PY = f"python{sys.version_info[0]}.{sys.version_info[1]}"


# --- helpers -------------------------------------------------------------------------------------


def make_project(root: Path, config: str = "") -> Path:
    for sub in ("config", "tasks", "state", "logs"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tasks", 0o755)
    (root / "config" / "config.yaml").write_text(textwrap.dedent(config) or "scheduler:\n  timezone: UTC\n")
    return root


def write_task(root: Path, name: str, head: str = "", body: str = "pass", **fields: object) -> Path:
    import json

    front = "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items())
    text = f'{head}"""\n---\n{front}---\n"""\n\ndef start():\n    {body}\n'
    path = root / "tasks" / f"{name}.py"
    path.write_text(text)
    return path


def fake_venv(folder: Path, version: tuple[int, int] = sys.version_info[:2]) -> Path:
    """A virtual environment as the files on disk see it (no interpreter run): pyvenv.cfg + site-packages."""
    site = folder / "lib" / f"python{version[0]}.{version[1]}" / "site-packages"
    site.mkdir(parents=True)
    (folder / "bin").mkdir()
    os.symlink(sys.executable, folder / "bin" / "python")
    (folder / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version[0]}.{version[1]}.0\n")
    return site


def install_fake(site: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
    meta = site / f"{name.replace('-', '_')}-{version}.dist-info"
    meta.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (meta / "METADATA").write_text("\n".join(lines) + "\n\nLong description: Requires-Dist: not-a-header\n")


def spec(name: str = "t", deps_: tuple[str, ...] = (), **kw: object) -> TaskSpec:
    return TaskSpec(name=name, path=f"/x/{name}.py", title=name, dependencies=deps_, **kw)  # type: ignore[arg-type]


# --- PEP 723 ---------------------------------------------------------------------------------------

PEP723 = """\
# /// script
# requires-python = ">=3.10"
# dependencies = [
#   "requests>=2.25",
#   "rich",
# ]
# ///
"""


def test_pep723_block_gives_dependencies_and_python_version(tmp_path):
    path = write_task(make_project(tmp_path), "fetch", head=PEP723)
    result = parse_file(path)
    assert isinstance(result, TaskSpec), result
    assert result.dependencies == ("requests>=2.25", "rich")
    assert result.python_version == "3.10"


def test_pep723_without_frontmatter_and_with_a_bare_block(tmp_path):
    root = make_project(tmp_path)
    plain = root / "tasks" / "plain.py"
    plain.write_text(PEP723 + "\ndef start():\n    pass\n")
    assert parse_file(plain).dependencies == ("requests>=2.25", "rich")  # type: ignore[union-attr]
    bare = root / "tasks" / "bare.py"
    bare.write_text("---\ntitle: Bare\n---\n" + PEP723 + "\ndef start():\n    pass\n")
    result = parse_file(bare)
    assert isinstance(result, TaskSpec) and result.title == "Bare" and result.python_version == "3.10"


def test_pep723_agreeing_with_the_frontmatter_is_fine_and_disagreeing_is_invalid(tmp_path):
    root = make_project(tmp_path)
    same = write_task(root, "same", head=PEP723, dependencies=["rich", "requests>=2.25"], python_version="3.10")
    assert isinstance(parse_file(same), TaskSpec)
    other = write_task(root, "other", head=PEP723, dependencies=["requests<2"])
    result = parse_file(other)
    assert isinstance(result, TaskError)
    assert "other.py:1:" in result.message and "keep one of them" in result.message
    older = write_task(root, "older", head=PEP723, python_version="3.9")
    assert "python_version" in parse_file(older).message  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ('# dependencies = ["not a requirement!!"]', "PEP 508"),
        ("# dependencies = 'requests'", "expected a list"),
        ("# requires-python = 3.10", "expected a string"),
        ('# requires-python = "three"', "version specifier"),
        ("# dependencies = [", "not valid TOML"),
    ],
)
def test_pep723_errors_name_the_block_and_the_field(tmp_path, block, expected):
    path = write_task(make_project(tmp_path), "bad", head=f"# /// script\n{block}\n# ///\n")
    result = parse_file(path)
    assert isinstance(result, TaskError), result
    assert expected in result.message and "bad.py:1" in result.message


def test_pep723_unclosed_block_is_invalid(tmp_path):
    path = write_task(make_project(tmp_path), "open", head='# /// script\n# dependencies = ["rich"]\n')
    assert "not closed" in parse_file(path).message  # type: ignore[union-attr]


def test_pep723_upper_bound_on_python_warns_and_keeps_the_lower_bound(tmp_path):
    head = '# /// script\n# requires-python = ">=3.9,<3.14,!=3.10.1"\n# ///\n'
    result = parse_file(write_task(make_project(tmp_path), "bounded", head=head))
    assert isinstance(result, TaskSpec) and result.python_version == "3.9"
    assert any("not enforced" in w and "<3.14" in w for w in result.warnings)


def test_pep723_other_block_types_are_ignored(tmp_path):
    head = '# /// pyproject\n# [run]\n# dependencies = ["x"]\n# ///\n'
    result = parse_file(write_task(make_project(tmp_path), "other", head=head))
    assert isinstance(result, TaskSpec) and result.dependencies == ()


# --- configuration -------------------------------------------------------------------------------------


def test_config_keys_for_dependencies(tmp_path):
    root = make_project(
        tmp_path,
        """
        virtual_env:
          index_url: wheels
          find_links: [more, https://example.org/wheels]
          installer: PIP
          interpreters:
            "3.13": /usr/bin/python3.13
            "3.12": /usr/bin/python3.12
        """,
    )
    venv = load_settings(root).virtual_env
    assert venv.find_links == ("more", "https://example.org/wheels")
    assert venv.installer == "pip"
    assert venv.interpreters == (("3.12", "/usr/bin/python3.12"), ("3.13", "/usr/bin/python3.13"))


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ("installer: conda", "virtual_env.installer"),
        ("interpreters: [/usr/bin/python3]", "virtual_env.interpreters"),
        ("interpreters: {3.12: /usr/bin/python3.12}", "virtual_env.interpreters"),
        ("find_links: 3", "virtual_env.find_links"),
    ],
)
def test_bad_dependency_config_is_refused_naming_the_key(tmp_path, snippet, key):
    root = make_project(tmp_path, f"virtual_env:\n  {snippet}\n")
    with pytest.raises(ConfigError, match=key):
        load_settings(root)


def test_index_options_local_folder_means_offline(tmp_path):
    from autohub_cli import deps_install

    root = make_project(tmp_path, "virtual_env:\n  index_url: wheels\n  find_links: extra\n")
    settings = load_settings(root)
    assert deps_install.index_options(settings, "pip") == [
        "--no-index",
        "--find-links",
        str(root / "wheels"),
        "--find-links",
        str(root / "extra"),
    ]
    root2 = make_project(tmp_path / "b", "virtual_env:\n  index_url: https://mirror.example/simple\n")
    assert deps_install.index_options(load_settings(root2), "uv") == ["--index-url", "https://mirror.example/simple"]


# --- clashes -------------------------------------------------------------------------------------------


def test_compatible_requirements_share_the_environment(tmp_path):
    settings = load_settings(make_project(tmp_path))
    plan = deps_core.plan_environments(
        [spec("a", ("foo>=1,<3",)), spec("b", ("foo>=2",)), spec("c", ("Foo[x]~=2.5",))], settings, base=[]
    )
    assert plan.clashes == () and plan.clashing == frozenset()
    assert [t for t, _ in plan.shared] == ["a", "b", "c"]


def test_clash_names_the_tasks_and_requirements_and_isolates_them(tmp_path):
    settings = load_settings(make_project(tmp_path))
    specs = [spec("a", ("foo<2", "bar")), spec("b", ("foo>=2",)), spec("c", ("bar>=1",))]
    plan = deps_core.plan_environments(specs, settings, base=[])
    assert len(plan.clashes) == 1
    clash = plan.clashes[0]
    assert clash.package == "foo" and clash.wants == (("a", "foo<2"), ("b", "foo>=2"))
    assert clash.describe() == "foo: task a wants foo<2, task b wants foo>=2"
    assert plan.clashing == {"a", "b"}
    assert [t for t, _ in plan.shared] == ["c"]
    assert deps_core.environment_for(specs[0], settings, plan).kind == "isolated"
    assert deps_core.environment_for(specs[2], settings, plan).kind == "own"


@pytest.mark.parametrize(
    ("a", "b", "clash"),
    [
        ("foo==1.0", "foo!=1.0", True),
        ("foo~=1.4", "foo<1.4", True),
        ("foo>1.0,<1.0.1", "foo>=1", False),
        ("foo==1.*", "foo>=1.9", False),
        ("foo==1.*", "foo>=2", True),
        ("foo<=2", "foo>=2", False),
        ("foo<2; python_version < '3'", "foo>=2", False),  # the marker does not apply here
        ("foo @ https://example.org/foo.whl", "foo>=2", False),
    ],
)
def test_clash_detection_cases(tmp_path, a, b, clash):
    settings = load_settings(make_project(tmp_path))
    plan = deps_core.plan_environments([spec("a", (a,)), spec("b", (b,))], settings, base=[])
    assert bool(plan.clashes) is clash


def test_a_task_clashing_with_autohubs_own_requirements_is_isolated(tmp_path):
    settings = load_settings(make_project(tmp_path))
    plan = deps_core.plan_environments([spec("old", ("typer<0.1",))], settings, base=["typer>=0.12", "rich>=13"])
    assert plan.clashing == {"old"}
    assert plan.clashes[0].describe() == "typer: autohub itself wants typer>=0.12, task old wants typer<0.1"


def test_isolated_and_newer_python_tasks_do_not_count_in_the_shared_plan(tmp_path):
    settings = load_settings(make_project(tmp_path))
    plan = deps_core.plan_environments(
        [spec("a", ("foo<2",)), spec("b", ("foo>=2",), isolated=True)], settings, base=[]
    )
    assert plan.clashes == ()


def test_isolated_environments_are_shared_by_identical_sets(tmp_path):
    settings = load_settings(make_project(tmp_path))
    one = deps_core.environment_for(spec("one", ("foo>=1", "bar"), isolated=True), settings)
    two = deps_core.environment_for(spec("two", ("bar", "foo >= 1"), isolated=True), settings)
    three = deps_core.environment_for(spec("three", ("foo>=1",), isolated=True), settings)
    four = deps_core.environment_for(spec("four", ("foo>=1", "bar"), isolated=True, python_version="3.9"), settings)
    assert one.path == two.path and one.path.parent == settings.root / "state" / "envs"
    assert len({one.path, three.path, four.path}) == 3


# --- "satisfied?" ------------------------------------------------------------------------------------


def test_installed_metadata_decides_what_is_missing(tmp_path):
    site = fake_venv(tmp_path / "venv")
    install_fake(site, "requests", "2.31.0", ("idna>=2", "urllib3<3", "PySocks!=1.5.7; extra == 'socks'"))
    install_fake(site, "idna", "3.6")
    install_fake(site, "urllib3", "3.0.0")
    install_fake(site, "typing_extensions", "4.9.0")
    dists = deps_env.scan([str(site)])
    assert dists["typing-extensions"].version == "4.9.0"
    from packaging.markers import default_environment

    env = default_environment()
    assert deps_env.unmet(["requests>=2.25"], dists, env) == ["urllib3<3 (installed: 3.0.0, needed by requests)"]
    assert deps_env.unmet(["typing-extensions>=4", "Typing_Extensions"], dists, env) == []
    assert deps_env.unmet(["requests>=3"], dists, env) == ["requests>=3 (installed: 2.31.0)"]
    assert deps_env.unmet(["requests[socks]>=2"], dists, env) == [
        "urllib3<3 (installed: 3.0.0, needed by requests)",
        "PySocks!=1.5.7 (needed by requests)",
    ]
    assert deps_env.unmet(["nothere; python_version < '3'", "alsonot"], dists, env) == ["alsonot"]


def make_settings(tmp_path: Path, extra: str = "") -> object:
    root = make_project(tmp_path / "proj", f"virtual_env:\n  path: venv\n{extra}")
    return load_settings(root)


def test_missing_requirements_and_the_tick_reason_without_auto_install(tmp_path):
    settings = make_settings(tmp_path, "  auto_install: false\n")
    site = fake_venv(settings.root / "venv")
    deps_env.write_layer(deps_core.shared_env(settings), settings.root)
    install_fake(site, "requests", "2.31.0")
    task = spec("fetch", ("requests>=2.25", "ahmissing>=1"))
    assert deps.missing_requirements(task, settings) == ["ahmissing>=1"]
    reason = deps.ready(task, settings)
    assert reason == "missing dependency ahmissing>=1: run `autohub install-deps`"
    assert (
        "fetch: not started: missing dependency ahmissing>=1" in (settings.root / "logs" / "scheduler.log").read_text()
    )
    assert "[fetch] fetch: not started" in (settings.root / "logs" / "errors.log").read_text()
    install_fake(site, "ahmissing", "1.0")
    assert deps.missing_requirements(task, settings) == []
    assert deps.ready(task, settings) is None
    assert deps.ready(spec("plain"), settings) is None


def test_the_check_is_cached_until_site_packages_changes(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)
    site = fake_venv(settings.root / "venv")
    deps_env.write_layer(deps_core.shared_env(settings), settings.root)
    install_fake(site, "requests", "2.31.0")
    scans = []
    real_scan = deps_env.scan
    monkeypatch.setattr(deps_env, "scan", lambda dirs: scans.append(dirs) or real_scan(dirs))
    task = spec("fetch", ("requests>=2.25",))
    assert deps.missing_requirements(task, settings) == []
    assert deps.missing_requirements(task, settings) == []
    assert deps.ready(task, settings) is None
    assert len(scans) == 1  # the second and third answers came from state/deps-cache.json
    assert (settings.root / "state" / "deps-cache.json").exists()
    os.utime(site, ns=(1, 1))  # as an install or uninstall would change it
    assert deps.missing_requirements(task, settings) == []
    assert len(scans) == 2


def test_a_task_without_requirements_costs_no_import(tmp_path):
    import subprocess

    root = make_project(tmp_path / "p")
    code = (
        "import sys\n"
        "from autohub_cli import deps\n"
        "from autohub_cli.config import load_settings\n"
        "from autohub_cli.taskfile import TaskSpec\n"
        f"s = load_settings({str(root)!r})\n"
        "t = TaskSpec(name='t', path='t.py', title='t')\n"
        "assert deps.ready(t, s) is None and deps.missing_requirements(t, s) == []\n"
        "assert deps.python_for(t, s) == sys.executable\n"
        "assert deps.python_problems([t], s) == {}\n"
        "heavy = [m for m in ('autohub_cli.deps_core', 'autohub_cli.deps_env', 'packaging') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)


# --- python_version -----------------------------------------------------------------------------------


def test_a_task_needing_a_newer_python_is_invalid_with_a_clear_message(tmp_path):
    root = make_project(tmp_path / "p")
    write_task(root, "future", python_version="3.99")
    write_task(root, "today", python_version="3.8")
    catalog = load_catalog(load_settings(root))
    assert "today" in catalog.specs and "future" not in catalog.specs
    message = catalog.errors["future"].message
    assert "future.py: python_version: the task needs Python 3.99 or newer" in message
    assert f"Python {sys.version_info[0]}.{sys.version_info[1]}" in message
    assert "virtual_env.interpreters" in message


def test_a_configured_interpreter_makes_it_valid_and_isolated(tmp_path):
    root = make_project(tmp_path / "p", f'virtual_env:\n  interpreters:\n    "3.99": {sys.executable}\n')
    write_task(root, "future", python_version="3.99")
    settings = load_settings(root)
    catalog = load_catalog(settings)
    assert "future" in catalog.specs
    env = deps_core.environment_for(catalog.specs["future"], settings)
    assert env.kind == "isolated" and env.base_python == sys.executable and env.version == (3, 99)
    assert deps.python_for(catalog.specs["future"], settings) == str(env.path / "bin" / "python")


def test_a_configured_interpreter_that_does_not_exist_is_named(tmp_path):
    root = make_project(tmp_path / "p", 'virtual_env:\n  interpreters:\n    "3.99": /nonexistent/python3.99\n')
    write_task(root, "future", python_version="3.99")
    message = load_catalog(load_settings(root)).errors["future"].message
    assert "configured but not found: 3.99 -> /nonexistent/python3.99" in message


def test_python_for_the_shared_environment(tmp_path):
    settings = make_settings(tmp_path)
    assert deps.python_for(spec("t"), settings) == sys.executable  # venv not created yet
    fake_venv(settings.root / "venv")
    assert deps.python_for(spec("t"), settings) == str(settings.root / "venv" / "bin" / "python")
    assert deps.python_for(settings) == str(settings.root / "venv" / "bin" / "python")  # no task: shared


def test_environment_label_for_status(tmp_path):
    settings = make_settings(tmp_path)
    assert deps.environment_label(spec("t"), settings) == "environment venv"
    label = deps.environment_label(spec("t", ("foo",), isolated=True), settings)
    assert label.startswith("isolated environment state/envs/")
