"""Monitoring at the edges of a run: Healthchecks-style pings, failure and recovery notifications.

Pings follow the Healthchecks protocol (https://healthchecks.io/docs/http_api/), which Cronitor,
Uptime Kuma's push monitors and most dead-man's-switch services accept in the same shape:

- ``<url>/start?rid=<uuid>`` when a run starts;
- ``<url>?rid=<uuid>`` when it succeeded, ``<url>/<exit status>?rid=<uuid>`` when it failed with an
  exit status, ``<url>/fail?rid=<uuid>`` when it failed otherwise (timeout, memory cap, signal);
  the finish ping POSTs the tail of the run's output, which Healthchecks keeps as the ping's log.

The ``rid`` pairs a start with its finish even when runs overlap; Healthchecks requires it to be a
UUID, so it is derived from the run id (``run_uuid``), the same for every ping of one run.

A task's URL is its ``ping_url`` frontmatter field, else the config's ``notify.ping_url``; either may
hold ``{task}`` (the task's name, URL-quoted) and ``{slug}`` (lower-case, ``-`` for anything not a
letter or digit). ``scheduler.ping_url`` is pinged after every tick: a dead-man's switch for the
cron line itself.

Failure notifications (``notify.on_failure``) announce the first failure of a streak and, once, the
recovery after it. Streaks are counted on the runs table (``SQLiteStore.final_runs``): a failed
attempt that a retry follows does not count; the slot's last attempt does.

Nothing here may fail a run or a tick: every public function catches what goes wrong and writes it
to the scheduler log. Importing this module costs next to nothing; urllib, uuid and apprise are
imported only when something is actually sent.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import __version__, logfiles
from .store import FAILED

if TYPE_CHECKING:
    from datetime import datetime

    from .config import FailureNotifySettings, Settings
    from .runner import Job
    from .spec import TaskSpec
    from .store import Outcome, Run, SQLiteStore

BODY_LIMIT = 10_000  # bytes of output a finish ping carries (Healthchecks keeps up to 100 kB)
STREAK_LOOKBACK = 1000  # final runs (newest claims) examined to measure a streak
NOTIFY_TIMEOUT = 30.0  # seconds a desktop notification through the project's helpers may take


# --- URLs ---------------------------------------------------------------------------------------


def slug(name: str) -> str:
    """`Backup_Photos.v2` -> `backup-photos-v2`: lower-case, one `-` for each run of other characters."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "task"


def expand(template: str, task: str) -> str:
    """Replace `{task}` and `{slug}` in a ping URL template (other braces are left alone)."""
    from urllib.parse import quote

    return template.replace("{task}", quote(task, safe="")).replace("{slug}", slug(task))


def ping_base(spec: TaskSpec, settings: Settings) -> str | None:
    """The task's ping URL: its `ping_url` field, else `notify.ping_url`; None when neither is set."""
    template = spec.ping_url or settings.notifications.ping_url
    if not template or not template.strip():
        return None
    return expand(template.strip(), spec.name)


def run_uuid(settings: Settings, run_id: int) -> str:
    """The `rid` of a run: a UUID (as Healthchecks requires) derived from the host, state and run id."""
    import uuid

    from .procs import hostname

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"autohub://{hostname()}{settings.state_path}#run-{run_id}"))


def ping_url(base: str, suffix: str = "", rid: str | None = None) -> str:
    """`base` + `suffix` (e.g. `/start`) with `rid` added to its query, keeping any query it has."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(base)
    path = parts.path.rstrip("/") + suffix if suffix else parts.path
    query = parts.query
    if rid:
        query = f"{query}&rid={rid}" if query else f"rid={rid}"
    return urlunsplit((parts.scheme, parts.netloc, path, query, parts.fragment))


def finish_suffix(outcome: Outcome) -> str:
    """`` for a success, `/<exit status>` for a failure with one (1-255), else `/fail`."""
    if outcome.status == "success":
        return ""
    code = outcome.exit_code
    if code is not None and 1 <= code <= 255:
        return f"/{code}"
    return "/fail"


def send_ping(
    url: str, *, timeout: float, body: bytes | None = None, headers: dict[str, str] | None = None
) -> str | None:
    """GET the URL (POST when there is a body): None when it answered, else what went wrong."""
    import http.client
    import urllib.error
    import urllib.request

    if not url.lower().startswith(("http://", "https://")):
        return "not an http:// or https:// URL"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST" if body is not None else "GET",
        headers={
            "User-Agent": f"autohub/{__version__}",
            "Content-Type": "text/plain; charset=utf-8",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            response.read(65536)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return str(exc.reason)
    except (OSError, http.client.HTTPException, ValueError) as exc:  # a timeout is an OSError
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return None


# --- one run ------------------------------------------------------------------------------------


@dataclass
class RunWatch:
    """What `run_started` began for one run, for `run_finished` to complete."""

    settings: Settings
    job: Job
    base: str | None  # the ping URL, None when the task is not pinged
    rid: str | None
    start_ping: threading.Thread | None = None


def run_started(settings: Settings, job: Job) -> RunWatch | None:
    """The start ping, sent in the background so that a slow server never delays the run. Never raises."""
    try:
        base = ping_base(job.spec, settings)
        watch = RunWatch(settings, job, base, run_uuid(settings, job.run_id) if base else None)
        if base:
            url = ping_url(base, "/start", watch.rid)
            watch.start_ping = threading.Thread(
                target=_ping_and_log,
                args=(settings, job, "start", url, None),
                name=f"autohub-ping-{job.run_id}",
                daemon=True,
            )
            watch.start_ping.start()
        return watch
    except Exception as exc:  # noqa: BLE001 - monitoring must never fail a run
        _log(settings, "WARNING", f"{job.spec.name}: run {job.run_id}: monitoring failed at the start: {exc}")
        return None


def run_finished(watch: RunWatch | None, store: SQLiteStore, outcome: Outcome) -> None:
    """After the outcome is recorded: the finish ping, then a failure or recovery notification. Never raises."""
    if watch is None:
        return
    settings, job = watch.settings, watch.job
    try:
        if watch.base:
            if watch.start_ping is not None:  # the start ping goes out first, or not at all
                watch.start_ping.join(settings.notifications.ping_timeout + 5)
            url = ping_url(watch.base, finish_suffix(outcome), watch.rid)
            _ping_and_log(settings, job, outcome.status, url, _ping_body(outcome))
    except Exception as exc:  # noqa: BLE001 - monitoring must never fail a run
        _log(settings, "WARNING", f"{job.spec.name}: run {job.run_id}: the finish ping failed: {exc}")
    try:
        _notify_outcome(settings, store, job, outcome)
    except Exception as exc:  # noqa: BLE001
        _log(settings, "WARNING", f"{job.spec.name}: run {job.run_id}: the failure notification failed: {exc}")


def _ping_body(outcome: Outcome) -> bytes:
    text = outcome.output_tail or ""
    if outcome.status != "success":
        text = f"{outcome.status}: {outcome.reason or ''}\n{text}"
    return text.encode("utf-8", "replace")[-BODY_LIMIT:]


def _ping_and_log(settings: Settings, job: Job, what: str, url: str, body: bytes | None) -> None:
    try:
        problem = send_ping(
            url, timeout=settings.notifications.ping_timeout, body=body, headers={"X-Autohub-Run-Id": str(job.run_id)}
        )
    except Exception as exc:  # noqa: BLE001 - a ping must never fail a run
        problem = f"{type(exc).__name__}: {exc}"
    if problem:
        _log(
            settings,
            "WARNING",
            f"{job.spec.name}: run {job.run_id}: {what} ping to {url} failed ({problem}); the run is not affected",
        )


def ping_scheduler(settings: Settings, error: str | None) -> None:
    """`scheduler.ping_url` after a tick: the URL itself, or `<url>/fail` when the tick failed. Never raises."""
    try:
        base = (settings.scheduler.ping_url or "").strip()
        if not base:
            return
        url = ping_url(base, "/fail" if error else "")
        body = error.encode("utf-8", "replace")[-BODY_LIMIT:] if error else None
        problem = send_ping(url, timeout=settings.notifications.ping_timeout, body=body)
        if problem:
            _log(settings, "WARNING", f"scheduler ping to {url} failed ({problem})")
    except Exception as exc:  # noqa: BLE001 - the ping must never fail the tick
        _log(settings, "WARNING", f"scheduler ping failed: {exc}")


# --- failure and recovery notifications ---------------------------------------------------------


def _notify_outcome(settings: Settings, store: SQLiteStore, job: Job, outcome: Outcome) -> None:
    """One message when a failure streak starts, one when it ends; nothing in between."""
    options = settings.notifications.on_failure
    if options is None:
        return
    failed = outcome.status in FAILED
    if failed and job.attempt <= job.spec.retry_count:
        return  # a retry follows: the slot has not ended yet
    before = finished_before(store.final_runs(job.spec.name, STREAK_LOOKBACK), job.run_id, outcome.finished_at)
    was_failing = bool(before) and before[0].status in FAILED
    if failed and not was_failing:
        title, body = failure_message(settings, job, outcome, options.lines)
    elif not failed and was_failing and options.recovery:
        streak = _leading_failures(before)
        title, body = recovery_message(settings, job, outcome, streak)
    else:
        return
    deliver(settings, options, title, body, job.spec.name)


def finished_before(runs: list[Run], run_id: int, finished_at: datetime) -> list[Run]:
    """The runs that ended before this one, newest first: the order outcomes happened in.

    Finishing order, not claim order: of two overlapping runs that fail together, the one that
    finished second sees the first one's failure and stays quiet, whichever was claimed first.
    """
    mine = (finished_at, run_id)
    earlier = [r for r in runs if r.id != run_id and r.finished_at is not None and (r.finished_at, r.id) < mine]
    return sorted(earlier, key=lambda r: (r.finished_at, r.id), reverse=True)


def _leading_failures(runs: list[Run]) -> list[Run]:
    out = []
    for run in runs:
        if run.status not in FAILED:
            break
        out.append(run)
    return out


def _when(settings: Settings, dt: Any) -> str:
    from .config import resolve_timezone

    return str(dt.astimezone(resolve_timezone(settings)).strftime("%Y-%m-%d %H:%M:%S %Z"))


def failure_message(settings: Settings, job: Job, outcome: Outcome, lines: int) -> tuple[str, str]:
    spec = job.spec
    title = f"autohub: {spec.title} {outcome.status}"
    tries = f"attempt {job.attempt} of {spec.retry_count + 1}" if spec.retry_count else "no retries"
    body = [f"Task {spec.name} {outcome.status} at its {_when(settings, job.slot)} slot (run {job.run_id}, {tries})."]
    if outcome.reason:
        body.append(f"Reason: {outcome.reason}")
    tail = [line for line in (outcome.output_tail or "").splitlines() if line.strip()][-lines:] if lines else []
    if tail:
        body.append(f"Last {len(tail)} output line(s):")
        body.extend(f"  {line}" for line in tail)
    body.append(f"More: autohub logs {spec.name}. You are told again when it succeeds.")
    return title, "\n".join(body)


def recovery_message(settings: Settings, job: Job, outcome: Outcome, streak: list[Run]) -> tuple[str, str]:
    spec = job.spec
    title = f"autohub: {spec.title} recovered"
    count = f"{len(streak)}{'+' if len(streak) >= STREAK_LOOKBACK else ''}"
    since = f" since its {_when(settings, streak[-1].slot)} slot" if streak else ""
    body = (
        f"Task {spec.name} succeeded at its {_when(settings, job.slot)} slot (run {job.run_id}) "
        f"after {count} failed run(s){since}."
    )
    return title, body


def deliver(settings: Settings, options: FailureNotifySettings, title: str, body: str, task: str) -> None:
    """Send one message to every configured channel; the scheduler log keeps it whatever happens."""
    results = []
    if options.desktop:
        results.append(f"desktop: {desktop(settings, title, body)}")
    if options.apprise:
        results.append(f"apprise: {via_apprise(options.apprise, title, body)}")
    sent = "; ".join(results) or "no channel is enabled (notify.on_failure)"
    _log(settings, "WARNING", f"{task}: notification ({sent}): {title}\n{body}")


def desktop(settings: Settings, title: str, body: str) -> str:
    """Through the project's `helpers.send_notification` when the project has it, else directly."""
    if (settings.root / "helpers" / "system_notifications.py").is_file():
        return _desktop_via_helpers(settings, title, body)
    return _desktop_builtin(title, body)


_HELPER_SCRIPT = (
    "import json, sys\n"
    "from helpers import send_notification\n"
    "r = send_notification(sys.argv[1], sys.argv[2], urgency='critical', app_name='autohub')\n"
    "print(json.dumps({'method': r.get('method'), 'error': r.get('error')}))\n"
)


def _desktop_via_helpers(settings: Settings, title: str, body: str) -> str:
    """In a child process: the tick never imports the project's own code."""
    import json
    import subprocess

    env = dict(os.environ)
    env.pop("AUTOHUB_RUN_ID", None)
    env["AUTOHUB_TASK_TITLE"] = "autohub"
    env["AUTOHUB_PROJECT_ROOT"] = str(settings.root)
    env["PYTHONPATH"] = str(settings.root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _HELPER_SCRIPT, title, body],
            cwd=settings.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=NOTIFY_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"not shown ({exc})"
    try:
        result = json.loads(done.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, IndexError):
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"not shown (helpers.send_notification: {detail[-1] if detail else f'exit status {done.returncode}'})"
    if result.get("method") == "log":
        return f"not shown ({result.get('error')})"
    return f"shown ({result.get('method')})"


def _desktop_builtin(title: str, body: str) -> str:
    """notify-send (Linux) or osascript (macOS), else plyer; a machine with no display gets none."""
    import shutil
    import subprocess

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "not shown (no display: neither DISPLAY nor WAYLAND_DISPLAY is set)"
    argv = None
    if sys.platform.startswith("linux") and shutil.which("notify-send"):
        argv = ["notify-send", "-u", "critical", "-a", "autohub", "--", title, body]
    elif sys.platform == "darwin" and shutil.which("osascript"):
        script = "on run argv\ndisplay notification (item 2 of argv) with title (item 1 of argv)\nend run"
        argv = ["osascript", "-e", script, title, body]
    if argv is not None:
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"not shown ({argv[0]}: {exc})"
        if done.returncode != 0:
            return f"not shown ({argv[0]}: exit status {done.returncode})"
        return f"shown ({argv[0]})"
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from plyer import notification

            notification.notify(title=title, message=body, app_name="autohub", timeout=10)
    except Exception as exc:  # noqa: BLE001 - plyer raises anything from ImportError to NotImplementedError
        return f"not shown (plyer: {type(exc).__name__}: {exc})"
    return "shown (plyer)"


def via_apprise(urls: tuple[str, ...], title: str, body: str) -> str:
    """Send through apprise (mail, Slack, ntfy, Telegram ...) when it is installed."""
    try:
        import apprise  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "not sent: apprise is not installed (pip install apprise)"
    sender = apprise.Apprise()
    bad = [url for url in urls if not sender.add(url)]
    if len(bad) == len(urls):
        return f"not sent: apprise does not accept {'these URLs' if len(bad) > 1 else 'this URL'}"
    ok = sender.notify(title=title, body=body)
    note = f" ({len(bad)} URL(s) not accepted)" if bad else ""
    return ("sent" if ok else "failed (apprise could not deliver to every URL)") + note


# --- plumbing -----------------------------------------------------------------------------------


def _log(settings: Settings, level: str, message: str) -> None:
    if logfiles.level_enabled(level, settings.logging):
        logfiles.append(
            settings.logs_dir, settings.logging.file, logfiles.format_line(level, None, message), settings.logging
        )
