"""`autohub metrics`: Prometheus text, parsed back with prometheus_client's own parser."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from autohub_cli import metrics
from autohub_cli.config import load_settings

parser = pytest.importorskip("prometheus_client.parser")

UTC = timezone.utc


def parse(text: str) -> dict[str, dict[frozenset, float]]:
    """metric family name -> {frozenset of labels: value}; also checks the types and help lines."""
    out: dict[str, dict[frozenset, float]] = {}
    for family in parser.text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        assert family.documentation
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def value(parsed, name: str, **labels: str) -> float:
    return parsed[f"autohub_{name}"][frozenset(labels.items())]


def unix(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def busy(project):
    project.task("ok", 'print("fine")')
    path = project.root / "tasks" / "ok.py"  # a title with a quote and a backslash, verbatim
    path.write_text("r" + path.read_text().replace("---\n---", "---\ntitle: 'Say \"hi\" \\ there'\n---"))
    project.task("bad", 'raise RuntimeError("nope")')
    project.task("off", enabled=False)
    project.task("by_hand", schedule=None)
    (project.root / "tasks" / "broken.py").write_text("def start(:\n")
    for now in ("2026-11-27T10:00:30Z", "2026-11-27T10:01:05Z", "2026-11-27T10:02:05Z"):
        project.tick(now)
    return project


def test_every_metric_parses_back_with_the_right_values(busy):
    result = busy.cli("metrics", check=True)
    parsed = parse(result.stdout)
    ok = busy.runs("ok")
    assert [r["status"] for r in ok] == ["success", "success"]
    assert value(parsed, "task_runs", task="ok", status="success") == 2
    assert value(parsed, "task_runs", task="ok", status="failed") == 0
    assert value(parsed, "task_runs", task="bad", status="failed") == 2
    assert value(parsed, "task_runs", task="off", status="skipped") == 2
    assert value(parsed, "task_failure_streak", task="bad") == 2
    assert value(parsed, "task_failure_streak", task="ok") == 0
    assert value(parsed, "task_last_success_timestamp_seconds", task="ok") == pytest.approx(
        unix(ok[-1]["finished_at"]), abs=1e-3
    )
    assert frozenset({("task", "bad")}) not in parsed["autohub_task_last_success_timestamp_seconds"]
    assert value(parsed, "task_last_duration_seconds", task="ok") == pytest.approx(ok[-1]["duration"], abs=1e-3)
    assert value(parsed, "task_last_run_success", task="ok") == 1
    assert value(parsed, "task_last_run_success", task="bad") == 0
    states = {dict(k)["task"]: dict(k) for k in parsed["autohub_task_info"]}
    assert states["ok"]["title"] == 'Say "hi" \\ there'  # escaped and unescaped faithfully
    assert {n: s["state"] for n, s in states.items()} == {
        "ok": "enabled",
        "bad": "enabled",
        "off": "disabled",
        "by_hand": "manual",
        "broken": "invalid",
    }
    assert value(parsed, "tasks", state="enabled") == 2
    assert value(parsed, "task_enabled", task="off") == 0
    assert value(parsed, "scheduler_last_tick_timestamp_seconds") == unix("2026-11-27T10:02:05+00:00")
    assert value(parsed, "scheduler_last_tick_duration_seconds") > 0
    assert value(parsed, "scheduler_last_tick_success") == 1


def test_overdue_counts_slots_no_tick_handled(busy):
    settings = load_settings(busy.root)
    now = datetime(2026, 11, 27, 10, 7, 30, tzinfo=UTC)
    parsed = parse(metrics.render(metrics.collect(settings, now=now)))
    # 10:03 to 10:06 are older than the current minute (10:07) and no tick handled them
    assert value(parsed, "task_overdue_slots", task="ok") == 4
    assert value(parsed, "task_overdue_seconds", task="ok") == 270
    assert value(parsed, "task_overdue_slots", task="by_hand") == 0
    assert value(parsed, "task_next_slot_timestamp_seconds", task="ok") == unix("2026-11-27T10:08:00+00:00")


def test_an_empty_project_has_the_scheduler_families_and_no_samples(project):
    parsed = parse(project.cli("metrics", check=True).stdout)
    assert "autohub_scheduler_last_tick_timestamp_seconds" not in parsed  # no tick yet: no sample
    assert value(parsed, "tasks", state="enabled") == 0


def test_textfile_is_replaced_atomically(busy):
    target = busy.root / "textfile" / "autohub.prom"
    target.parent.mkdir()
    target.write_text("old\n")
    busy.cli("metrics", "--textfile", str(target), check=True)
    text = target.read_text()
    assert value(parse(text), "task_runs", task="ok", status="success") == 2
    assert os.listdir(target.parent) == ["autohub.prom"]  # no temporary file left behind


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "autohub.prom"
    target.write_text("old\n")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        metrics.write_atomically(target, "new\n")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["autohub.prom"]


def test_a_bad_config_is_exit_3(project):
    project.config("scheduler: [1]\n")
    result = project.cli("metrics")
    assert result.returncode == 3 and "scheduler" in result.stderr


def test_number_formatting():
    fam = metrics.Family("x", "gauge", "h\nmore")
    fam.add(float("nan"))
    fam.add(float("inf"), a="1")
    fam.add(3.0, b='q"\n')
    fam.add(0.25)
    text = metrics.render([fam])
    assert "# HELP x h\\nmore" in text
    assert "x NaN" in text and 'x{a="1"} +Inf' in text and 'x{b="q\\"\\n"} 3' in text and "x 0.25" in text
