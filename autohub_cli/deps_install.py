"""Running the installer: uv when it is there (or configured), else pip; creating environments.

Every installer run is one child process in its own process group, bounded by
`virtual_env.install_timeout` (the whole group is killed when it runs over), with its output
handed line by line to a callback (the progress display, the scheduler log) and its tail kept
for the error message.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .deps_env import NO_LAYER, Env, venv_python

LineSink = Callable[[str], None]
TAIL = 40
GRACE = 3.0


class InstallerMissing(Exception):
    """Neither uv nor pip can be used; the message says what to install."""


@dataclass(frozen=True)
class Result:
    ok: bool
    reason: str | None  # why it failed, in one line
    tail: tuple[str, ...]  # the last lines of the installer's output
    command: tuple[str, ...]


def find_uv() -> str | None:
    """uv next to autohub's interpreter (installed into its venv), else on PATH."""
    sibling = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return str(sibling)
    return shutil.which("uv")


def choose(preference: str) -> tuple[str, str | None]:
    """("uv", path) or ("pip", None) for `virtual_env.installer` auto | uv | pip."""
    if preference in ("auto", "uv"):
        uv = find_uv()
        if uv:
            return "uv", uv
        if preference == "uv":
            raise InstallerMissing(
                "virtual_env.installer is uv, but no uv was found next to autohub's Python or on PATH"
            )
    if importlib.util.find_spec("pip") is None:
        raise InstallerMissing(
            f"no installer: pip is not installed in autohub's environment ({sys.prefix}) and uv is not on PATH; "
            f"install one of them (`{sys.executable} -m ensurepip` or `pip install uv`)"
        )
    return "pip", None


def index_options(settings: Any, installer: str) -> list[str]:
    """--index-url / --no-index / --find-links from `virtual_env.index_url` and `virtual_env.find_links`.

    An `index_url` that is a local folder (no `scheme://`) is a folder of wheels: it is used with
    --no-index, which is how a machine without internet installs (an offline mirror).
    """
    venv = settings.virtual_env
    options: list[str] = []
    index = venv.index_url
    if index:
        if "://" in index:
            options += ["--index-url", index]
        else:
            options += ["--no-index", "--find-links", str(_local(settings.root, index))]
    for link in getattr(venv, "find_links", ()) or ():
        options += ["--find-links", link if "://" in link else str(_local(settings.root, link))]
    return options


def _local(root: Path, path: str) -> Path:
    return (root / Path(path).expanduser()).resolve()


def install_command(
    env: Env,
    requirements: Iterable[str],
    settings: Any,
    *,
    upgrade: bool = False,
    constraints: Path | None = None,
    installer: tuple[str, str | None] | None = None,
) -> list[str]:
    kind, uv = installer or choose(getattr(settings.virtual_env, "installer", "auto"))
    extra = index_options(settings, kind)
    if upgrade:
        extra.append("--upgrade")
    if constraints is not None:
        extra += ["--constraint", str(constraints)]
    reqs = list(requirements)
    if kind == "uv":
        assert uv is not None
        return [uv, "pip", "install", "--python", env.python, *extra, *reqs]
    base = ["--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    if env.kind == "own":
        return [sys.executable, "-m", "pip", "install", *base, *extra, *reqs]
    # autohub's pip drives the other interpreter (pip >= 22.3): the environment needs no pip of its own
    return [sys.executable, "-m", "pip", "--python", env.python, "install", *base, *extra, *reqs]


def create_command(env: Env, installer: tuple[str, str | None]) -> list[str]:
    kind, uv = installer
    if kind == "uv":
        assert uv is not None
        return [uv, "venv", "--python", env.base_python, str(env.path)]
    return [env.base_python, "-m", "venv", "--without-pip", str(env.path)]


def installer_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the installer must see the target environment, not autohub's path
    env.pop("VIRTUAL_ENV", None)
    env.update(
        {
            NO_LAYER: "1",
            "PYTHONUNBUFFERED": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
        }
    )
    return env


def run(command: list[str], timeout: float, on_line: LineSink | None = None, cwd: Path | None = None) -> Result:
    """Run one installer command to its end, or kill its process group after `timeout` seconds."""
    tail: deque[str] = deque(maxlen=TAIL)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=installer_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Result(False, f"could not start {command[0]}: {exc.strerror or exc}", (), tuple(command))

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                tail.append(line)
                if on_line:
                    with contextlib.suppress(Exception):
                        on_line(line)
        proc.stdout.close()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=max(0.1, timeout))
    except subprocess.TimeoutExpired:
        _kill(proc)
        reader.join(timeout=2)
        took = time.monotonic() - started
        return Result(
            False,
            f"the installer ran over virtual_env.install_timeout ({timeout:.0f} s) and was stopped after {took:.0f} s",
            tuple(tail),
            tuple(command),
        )
    reader.join(timeout=5)
    if code == 0:
        return Result(True, None, tuple(tail), tuple(command))
    return Result(
        False, f"{Path(command[0]).name} exited with code {code}: {_last_error(tail)}", tuple(tail), tuple(command)
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _last_error(tail: Iterable[str]) -> str:
    """The installer's own account of what went wrong, in one line.

    pip's conflict explanation ("The conflict is caused by: ..."), uv's `error:` with its `cause:`
    lines, else the last `ERROR:` line, else the last line.
    """
    lines = [ln.rstrip() for ln in tail if ln.strip()]
    for i, line in enumerate(lines):
        if line.strip() == "The conflict is caused by:":
            causes = []
            for follow in lines[i + 1 :]:
                if not follow.startswith((" ", "\t")):
                    break
                causes.append(follow.strip())
            if causes:
                return _clip("conflicting requirements: " + "; ".join(causes))
    for i in range(len(lines) - 1, -1, -1):
        low = lines[i].strip().lower()
        if low.startswith("error:") and "resolutionimpossible" not in low:
            found = lines[i].strip()
            if low.startswith("error: ") and not found.startswith("ERROR"):  # uv: error: ... / cause: ...
                more = [ln.strip().removeprefix("cause:").strip() for ln in lines[i + 1 :] if ln.startswith(" ")]
                found = ": ".join([found.removeprefix("error:").strip(), " ".join(more)]) if more else found
            return _clip(found)
    return _clip(lines[-1].strip() if lines else "no output")


def _clip(text: str, width: int = 400) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def create(env: Env, root: Path, timeout: float, on_line: LineSink | None = None, preference: str = "auto") -> Result:
    """Create the virtual environment at `env.path` (without pip: the installer drives it from outside)."""
    installer = choose(preference)
    if env.path.exists() and not os.path.exists(venv_python(env.path)):
        shutil.rmtree(env.path, ignore_errors=True)  # the remains of an interrupted build
    env.path.parent.mkdir(parents=True, exist_ok=True)
    result = run(create_command(env, installer), timeout, on_line, cwd=root)
    if not result.ok:
        return result
    from .deps_env import write_layer

    write_layer(env, root)
    return result


@contextlib.contextmanager
def constraints_file(lines: list[str]) -> Any:
    """A temporary `-c` file (None when there is nothing to constrain)."""
    if not lines:
        yield None
        return
    fd, name = tempfile.mkstemp(prefix="autohub-constraints-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        yield Path(name)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
