"""helpers.config_loader: loading, dot paths, atomic saves, confinement to config/, secrets."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # the repo root holds autohub_cli/ and helpers/
    sys.path.insert(0, str(REPO))

import helpers  # noqa: E402
from helpers import config_loader  # noqa: E402


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "config.yaml").write_text("logging:\n  level: INFO\nname: main\n")
    monkeypatch.setenv("AUTOHUB_PROJECT_ROOT", str(root))
    for name in ("AUTOHUB_RUN_ID", "AUTOHUB_TASK_TITLE", "AUTOHUB_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return root


def test_project_root_comes_from_the_environment(project):
    assert helpers.get_project_root() == project.resolve()


def test_project_root_defaults_to_the_folder_holding_helpers(monkeypatch):
    monkeypatch.delenv("AUTOHUB_PROJECT_ROOT", raising=False)
    assert helpers.get_project_root() == Path(config_loader.__file__).resolve().parent.parent


def test_load_config_reads_the_main_config(project):
    assert helpers.load_config() == {"logging": {"level": "INFO"}, "name": "main"}


def test_a_missing_task_config_is_empty_not_the_main_config(project):
    assert helpers.load_config("my_task.yaml") == {}
    assert helpers.load_config("secrets.yaml") == {}


def test_an_empty_config_is_empty(project):
    (project / "config" / "empty.yaml").write_text("")
    assert helpers.load_config("empty.yaml") == {}


def test_invalid_yaml_logs_an_error_naming_the_file_and_gives_empty(project, capsys):
    (project / "config" / "broken.yaml").write_text("a: [unclosed\n")
    assert helpers.load_config("broken.yaml") == {}
    errors = (project / "logs" / "errors.log").read_text()
    assert "broken.yaml: not valid YAML" in errors
    assert "broken.yaml" in capsys.readouterr().err


def test_a_config_that_is_not_a_mapping_gives_empty(project):
    (project / "config" / "list.yaml").write_text("- a\n- b\n")
    assert helpers.load_config("list.yaml") == {}
    assert "expected a mapping" in (project / "logs" / "errors.log").read_text()


def test_get_config_value_follows_dot_paths_and_list_indexes(project):
    (project / "config" / "t.yaml").write_text(
        "api:\n  key: abc\n  nested: {deep: 1}\nservers:\n  - host: a\n  - host: b\ncodes:\n  404: missing\n"
    )
    assert helpers.get_config_value("api.key", "t.yaml") == "abc"
    assert helpers.get_config_value("api.nested.deep", "t.yaml") == 1
    assert helpers.get_config_value("servers.1.host", "t.yaml") == "b"
    assert helpers.get_config_value("codes.404", "t.yaml") == "missing"
    assert helpers.get_config_value("servers.5.host", "t.yaml", default="d") == "d"
    assert helpers.get_config_value("servers.x", "t.yaml", default="d") == "d"
    assert helpers.get_config_value("api.key.more", "t.yaml", default="d") == "d"
    assert helpers.get_config_value("nope", "t.yaml", default=30) == 30
    assert helpers.get_config_value("name") == "main"
    assert helpers.get_config_value("api.key", "missing.yaml", default="not-set") == "not-set"


def test_save_config_round_trips_and_leaves_no_temporary_file(project):
    data = {"setting": "value", "list": [1, 2], "nested": {"ü": "ß"}}
    assert helpers.save_config(data, "my_task.yaml") is True
    assert helpers.load_config("my_task.yaml") == data
    assert sorted(p.name for p in (project / "config").iterdir()) == ["config.yaml", "my_task.yaml"]


def test_save_config_keeps_the_old_file_when_the_data_cannot_be_dumped(project):
    target = project / "config" / "my_task.yaml"
    target.write_text("keep: me\n")
    assert helpers.save_config({"bad": object()}, "my_task.yaml") is False
    assert target.read_text() == "keep: me\n"
    assert sorted(p.name for p in (project / "config").iterdir()) == ["config.yaml", "my_task.yaml"]
    assert "my_task.yaml: cannot save" in (project / "logs" / "errors.log").read_text()


def test_save_config_keeps_the_old_file_when_the_rename_fails(project, monkeypatch):
    target = project / "config" / "my_task.yaml"
    target.write_text("keep: me\n")

    def fail(*args, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    assert helpers.save_config({"new": 1}, "my_task.yaml") is False
    monkeypatch.undo()
    assert target.read_text() == "keep: me\n"
    assert sorted(p.name for p in (project / "config").iterdir()) == ["config.yaml", "my_task.yaml"]


def test_save_config_keeps_permission_bits(project):
    target = project / "config" / "my_task.yaml"
    target.write_text("a: 1\n")
    target.chmod(0o640)
    assert helpers.save_config({"a": 2}, "my_task.yaml")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert helpers.save_config({"s": 1}, "secrets.yaml")
    assert stat.S_IMODE((project / "config" / "secrets.yaml").stat().st_mode) == 0o600


def test_list_config_files_lists_yaml_names_sorted(project):
    for name in ("b.yaml", "a.yaml", "notes.txt", "c.yml"):
        (project / "config" / name).write_text("")
    assert helpers.list_config_files() == ["a.yaml", "b.yaml", "config.yaml"]


@pytest.mark.parametrize("name", ["../outside.yaml", "sub/../../outside.yaml", "/etc/passwd", ""])
def test_config_names_are_confined_to_the_config_folder(project, name):
    (project / "outside.yaml").write_text("secret: 1\n")
    with pytest.raises(ValueError, match="config"):
        helpers.load_config(name)
    with pytest.raises(ValueError):
        helpers.save_config({"x": 1}, name)
    with pytest.raises(ValueError):
        helpers.get_config_value("secret", name)
    assert (project / "outside.yaml").read_text() == "secret: 1\n"


def test_a_readable_secrets_file_is_warned_about_once(project):
    secrets = project / "config" / "secrets.yaml"
    secrets.write_text("api:\n  key: k\n")
    secrets.chmod(0o644)
    assert helpers.get_config_value("api.key", "secrets.yaml") == "k"
    helpers.load_config("secrets.yaml")
    warnings = [line for line in (project / "logs" / "tasks.log").read_text().splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert "secrets.yaml is readable by group or others (mode 0644)" in warnings[0]


def test_a_private_secrets_file_is_not_warned_about(project):
    secrets = project / "config" / "secrets.yaml"
    secrets.write_text("api:\n  key: k\n")
    secrets.chmod(0o600)
    assert helpers.load_config("secrets.yaml") == {"api": {"key": "k"}}
    assert not (project / "logs" / "tasks.log").exists()
