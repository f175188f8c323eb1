"""Shared fixtures: a throw-away autohub project and ways to drive it as a user would."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

AUTOHUB = shutil.which("autohub", path=str(Path(sys.executable).parent)) or "autohub"


@dataclass
class Project:
    root: Path

    @property
    def db(self) -> Path:
        return self.root / "state" / "autohub.db"

    def config(self, text: str) -> None:
        (self.root / "config" / "config.yaml").write_text(textwrap.dedent(text))

    def task(
        self,
        name: str,
        body: str = 'print("ran")',
        *,
        schedule: str | None = "every(1).minutes",
        imports: str = "",
        is_async: bool = False,
        **fields: Any,
    ) -> Path:
        """Write tasks/<name>.py with docstring frontmatter; `body` is the body of start()."""
        front = "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items())
        deco = f"@repeat({schedule})\n" if schedule else ""
        code = (
            f'"""\n---\n{front}---\n"""\nfrom autohub_cli import repeat, every, cron\n{imports}\n\n'
            f"{deco}{'async ' if is_async else ''}def start():\n{textwrap.indent(textwrap.dedent(body), '    ')}\n"
        )
        path = self.root / "tasks" / f"{name}.py"
        path.write_text(code)
        return path

    def cli(
        self, *args: str, check: bool = False, timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed `autohub` command in the project, as cron or a user would."""
        full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
        proc = subprocess.run(
            [AUTOHUB, *args], cwd=self.root, capture_output=True, text=True, timeout=timeout, env=full_env
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"autohub {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def tick(self, now: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.cli("tick", "--now", now, *extra, check=not extra or "--strict" not in extra)

    def spawn_tick(self, now: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [AUTOHUB, "tick", "--now", now], cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def history(self, task: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        args = ["history", "--json", "--limit", str(limit)] + ([task] if task else [])
        return json.loads(self.cli(*args, check=True).stdout)

    def runs(self, task: str | None = None) -> list[dict[str, Any]]:
        """History oldest first, without skipped slots."""
        return [r for r in reversed(self.history(task)) if r["status"] != "skipped"]

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db) as db:
            return db.execute(sql, args).fetchall()

    def log(self, name: str) -> str:
        path = self.root / "logs" / name
        return path.read_text() if path.exists() else ""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    for sub in ("config", "tasks", "state", "logs"):
        (root / sub).mkdir(parents=True)
    os.chmod(root / "tasks", 0o755)
    p = Project(root)
    p.config(
        """
        scheduler:
          timezone: UTC
          max_parallel: 4
        """
    )
    return p
