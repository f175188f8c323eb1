"""Security (issue 6, part 6): files anyone can write are refused, secrets never reach a log or
the stored output, SQL is parameterised only, and nothing runs through a shell unless asked.

(`autohub doctor` warning about root is tested in tests/test_cli_doctor.py.)
"""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest
from faults import clean_stderr

from autohub_cli import secrets

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(REPO / "autohub_cli").glob("*.py"), *(REPO / "helpers").glob("*.py")])


# --- files anyone can write ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o757])
def test_a_tasks_folder_anyone_can_write_is_refused(project, mode):
    project.task("t", 'open("ran", "w").close()')
    (project.root / "tasks").chmod(mode)
    for now in ("2026-11-27T10:00:30Z", "2026-11-27T10:01:05Z"):
        proc = project.cli("tick", "--now", now)
        assert proc.returncode == 3, proc.stderr
        assert "any user can write to" in proc.stderr and "chmod o-w" in proc.stderr, proc.stderr
        assert str(project.root / "tasks") in proc.stderr and clean_stderr(proc.stderr)
    assert not (project.root / "ran").exists()
    (project.root / "tasks").chmod(0o755)  # fixed: the next tick runs again
    project.tick("2026-11-27T10:02:05Z")
    project.tick("2026-11-27T10:03:05Z")
    assert (project.root / "ran").exists()


def test_a_task_file_anyone_can_write_is_refused_and_the_others_run(project):
    project.task("good", 'print("good ran")')
    evil = project.task("shared", 'open("shared-ran", "w").close()')
    evil.chmod(0o666)
    project.tick("2026-11-27T10:00:30Z")
    proc = project.cli("tick", "--now", "2026-11-27T10:01:05Z")
    assert proc.returncode == 0
    assert f"{evil}: refusing a task file that any user can write to; fix it with: chmod o-w {evil}" in proc.stderr
    assert not (project.root / "shared-ran").exists()
    assert [r["task"] for r in project.runs()] == ["good"]
    validate = project.cli("validate")
    assert validate.returncode == 1 and "any user can write" in validate.stdout


@pytest.mark.parametrize("part", ["", "helpers", "config", "config/config.yaml"])
def test_a_project_folder_helpers_or_config_anyone_can_write_is_refused(project, part):
    """The project root is on every run's sys.path, tasks import helpers/, and config.yaml picks the
    interpreter (virtual_env.path): each is as good as a task file to someone who can write it."""
    (project.root / "helpers").mkdir()
    project.task("t", 'open("ran", "w").close()')
    target = project.root / part
    before = target.stat().st_mode
    target.chmod(before | 0o002)
    try:
        proc = project.cli("tick", "--now", "2026-11-27T10:00:30Z")
        assert proc.returncode == 3, proc.stderr
        assert f"{target}: refusing to run tasks" in proc.stderr and f"chmod o-w {target}" in proc.stderr
    finally:
        target.chmod(before)
    project.tick("2026-11-27T10:01:05Z")
    project.tick("2026-11-27T10:02:05Z")
    assert (project.root / "ran").exists()


# --- secrets masked ------------------------------------------------------------------------------

SECRETS_YAML = """\
api_keys:
  openai: "sk-live-1234567890abcdef"
  github: ghp_SECRETTOKEN42
smtp:
  host: mail.internal.example
  password: "hunter2 correct horse"
  port: 587
short: "abc"
pem: |
  -----BEGIN KEY-----
  MIIBVwIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7
  -----END KEY-----
tokens:
  - "token-in-a-list-99"
"""
LEAKY_TASK = """\
import sys, yaml
from helpers import log_info, log_error
s = yaml.safe_load(open("config/secrets.yaml"))
print("calling the API with", s["api_keys"]["openai"], "port", s["smtp"]["port"], "and", s["short"])
print("github says", s["api_keys"]["github"], file=sys.stderr)
log_info("mail via " + s["smtp"]["host"] + " with " + s["smtp"]["password"])
log_error("token " + s["tokens"][0] + " was refused")
print(s["pem"])
raise RuntimeError("login failed for " + s["smtp"]["password"])
"""
LEAKED = (
    "sk-live-1234567890abcdef",
    "ghp_SECRETTOKEN42",
    "hunter2",
    "token-in-a-list-99",
    "MIIBVwIBADANBgkq",
    "mail.internal.example",
)


def _project_with_secrets(project) -> None:
    shutil.copytree(REPO / "helpers", project.root / "helpers")
    path = project.root / "config" / "secrets.yaml"
    path.write_text(SECRETS_YAML)
    path.chmod(0o600)
    project.task("leaky", LEAKY_TASK, title="Leaky")


def test_secret_values_are_masked_in_logs_stored_output_and_reasons(project):
    _project_with_secrets(project)
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")
    (run,) = project.runs("leaky")
    assert run["status"] == "failed"
    tail, reason = project.query("SELECT output_tail, reason FROM runs WHERE task = 'leaky'")[0]
    logs = project.log("tasks.log") + project.log("errors.log") + project.log("scheduler.log")
    shown = project.cli("logs", "leaky").stdout
    for text in (tail, reason, logs, shown):
        for secret in LEAKED:
            assert secret not in text, f"{secret!r} leaked into: {text}"
    # what is not a secret is still there, and the masks show where secrets were
    assert "calling the API with *** port 587 and abc" in tail
    assert "github says ***" in tail and "mail via *** with ***" in logs
    assert "RuntimeError: login failed for ***" in project.log("errors.log")
    assert "login failed for ***" in reason
    assert tail.splitlines().count("***") == 3  # each line of the multi-line secret, on its own


def test_secret_values_are_masked_in_a_run_by_hand(project):
    _project_with_secrets(project)
    proc = project.cli("run", "leaky")
    assert proc.returncode == 1
    for secret in LEAKED:
        assert secret not in proc.stdout + proc.stderr
    assert "calling the API with ***" in proc.stdout


def test_secret_values_are_read_once_per_change_and_shorter_ones_are_left_alone(tmp_path):
    path = tmp_path / "config" / "secrets.yaml"
    path.parent.mkdir()
    assert secrets.mask(tmp_path, "no secrets file: unchanged") == "no secrets file: unchanged"
    path.write_text("a: longsecret\nb: longsecret-and-more\nc: 'yes'\nd: 12345\ne: [x1y2z3]\n")
    assert (
        secrets.mask(tmp_path, "longsecret-and-more / longsecret / yes / 12345 / x1y2z3")
        == "*** / *** / yes / 12345 / ***"
    )
    path.write_text("a: other-secret\n")  # an edit is seen (the cache is keyed by mtime and size)
    os.utime(path, ns=(1, 1))
    assert secrets.mask(tmp_path, "longsecret other-secret") == "longsecret ***"


def test_a_secrets_file_that_is_not_yaml_is_still_masked(tmp_path):
    path = tmp_path / "config" / "secrets.yaml"
    path.parent.mkdir()
    path.write_text("password: 'p@ss: w0rd\napi_key: abcdef123\n  broken: [\n")
    assert "abcdef123" not in secrets.mask(tmp_path, "key abcdef123")


# --- SQL is parameterised only ---------------------------------------------------------------------

# Names an f-string may put into SQL: constants of the module, and clauses built from fixed text and
# `?` placeholders only (each checked by hand; a new one must be argued for here).
SQL_SAFE_NAMES = {"marks", "clause", "where", "BUSY_TIMEOUT_MS", "SCHEMA_VERSION", "int(self.busy_ms)"}


def _sql_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "executemany", "executescript")
            and node.args
        ):
            yield node


def _interpolated(node: ast.expr, assigned: dict[str, ast.expr]) -> list[str]:
    """The expressions an SQL argument interpolates (f-string parts, % and .format arguments, +)."""
    if isinstance(node, ast.Name) and node.id in assigned:
        return _interpolated(assigned[node.id], assigned)
    if isinstance(node, ast.JoinedStr):
        return [ast.unparse(v.value) for v in node.values if isinstance(v, ast.FormattedValue)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return [ast.unparse(node.right)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [p for side in (node.left, node.right) for p in _joined(side, assigned)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return [ast.unparse(a) for a in node.args] + ["format"]
    if isinstance(node, (ast.Constant, ast.Name, ast.Attribute)):
        return []
    return [ast.unparse(node)]


def _joined(node: ast.expr, assigned: dict[str, ast.expr]) -> list[str]:
    """One operand of `+`: fixed text, or what it interpolates; anything else is a value glued in."""
    if isinstance(node, ast.Constant):
        return []
    if isinstance(node, (ast.JoinedStr, ast.BinOp, ast.Call)) or (isinstance(node, ast.Name) and node.id in assigned):
        return _interpolated(node, assigned)
    return [ast.unparse(node)]


def sql_problems(source: str, filename: str) -> list[str]:
    tree = ast.parse(source, filename)
    problems = []
    for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        assigned = {
            t.id: n.value
            for n in ast.walk(func)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for call in _sql_calls(func):
            for part in _interpolated(call.args[0], assigned):
                if part not in SQL_SAFE_NAMES:
                    problems.append(f"{filename}:{call.lineno}: SQL built from {part!r}: pass values as ? parameters")
    return problems


def test_sql_is_parameterised_only():
    problems = [p for path in SOURCES for p in sql_problems(path.read_text(), str(path.relative_to(REPO)))]
    assert problems == [], "\n".join(problems)


def test_the_sql_lint_catches_values_put_into_sql():
    bad = (
        "def f(db, name, n):\n"
        "    db.execute(f\"SELECT * FROM runs WHERE task = '{name}'\")\n"
        "    sql = 'DELETE FROM runs WHERE id = %s' % n\n"
        "    db.execute(sql)\n"
        "    db.execute('SELECT {}'.format(name))\n"
        "    db.execute('SELECT * FROM t WHERE a = ' + name)\n"
        "    db.execute('SELECT * FROM t WHERE a = ?', (name,))\n"
    )
    assert [p.split(": ", 1)[1] for p in sql_problems(bad, "x.py")] == [
        "SQL built from 'name': pass values as ? parameters",
        "SQL built from 'n': pass values as ? parameters",
        "SQL built from 'name': pass values as ? parameters",
        "SQL built from 'format': pass values as ? parameters",
        "SQL built from 'name': pass values as ? parameters",
    ]


# --- no shell unless asked -----------------------------------------------------------------------


def _shell_calls(source: str, filename: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
            found.append(f"{filename}:{node.lineno}: {name}")
        for kw in node.keywords:
            if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                # only the helper that exposes `shell=` to the task author may pass it on
                if not (filename.endswith("external_execution.py") and ast.unparse(kw.value) == "shell"):
                    found.append(f"{filename}:{node.lineno}: shell={ast.unparse(kw.value)}")
    return found


def test_nothing_runs_through_a_shell_unless_the_task_author_asks():
    found = [c for path in SOURCES for c in _shell_calls(path.read_text(), str(path.relative_to(REPO)))]
    assert found == [], "\n".join(found)
    assert _shell_calls("import os\nos.system('x')\nsubprocess.run('x', shell=True)\n", "y.py") == [
        "y.py:2: os.system",
        "y.py:3: shell=True",
    ]


def test_the_shell_is_off_by_default_in_the_helpers(tmp_path):
    import inspect

    from helpers import external_execution

    for name in ("execute_cli_command", "execute_script_with_retry"):
        func = getattr(external_execution, name, None)
        if func is not None and "shell" in inspect.signature(func).parameters:
            assert inspect.signature(func).parameters["shell"].default is False, name
    result = external_execution.execute_cli_command(["echo", "$HOME; echo injected"], cwd=tmp_path)
    assert result["stdout"] == "$HOME; echo injected\n"  # one argument, printed literally: nothing expanded or run
    result = external_execution.execute_cli_command("echo $HOME; echo injected", cwd=tmp_path)
    assert result["stdout"] == "$HOME; echo injected\n"  # a string is split, not given to a shell
