"""Pings (Healthchecks style) against a real HTTP server on 127.0.0.1, through real ticks."""

from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from autohub_cli import monitor

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict] = []
        self.status = 200
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]


class Handler(BaseHTTPRequestHandler):
    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        server: Recorder = self.server  # type: ignore[assignment]
        with server.lock:
            server.requests.append(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": parse_qs(parts.query),
                    "body": body.decode("utf-8", "replace"),
                    "run_id": self.headers.get("X-Autohub-Run-Id"),
                    "at": time.monotonic(),
                }
            )
        self.send_response(server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    do_GET = _record
    do_POST = _record

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    srv = Recorder()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def silent_server():
    """Accepts connections (the kernel's backlog does) but never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def run_once(project, *extra):
    project.tick("2026-11-27T10:00:30Z")  # first sight: no backlog
    return project.tick("2026-11-27T10:01:05Z", *extra)


def test_start_then_success_each_with_the_runs_rid(project, server):
    project.task("backup_photos", 'print("copied 3 files")', ping_url=server.base + "/ping/{slug}")
    run_once(project)
    [run] = project.runs()
    assert run["status"] == "success"
    start, done = server.requests
    assert (start["method"], start["path"]) == ("GET", "/ping/backup-photos/start")
    assert (done["method"], done["path"]) == ("POST", "/ping/backup-photos")
    assert start["query"]["rid"] == done["query"]["rid"]
    assert UUID.match(start["query"]["rid"][0])
    assert start["run_id"] == done["run_id"] == str(run["id"])
    assert "copied 3 files" in done["body"]
    assert start["at"] <= done["at"]


def test_a_failure_pings_its_exit_status_with_the_output(project, server):
    project.task("broken", 'print("about to fail")\nraise SystemExit(3)', ping_url=server.base + "/p/{task}")
    run_once(project)
    assert project.runs()[0]["exit_code"] == 3
    assert server.paths() == ["/p/broken/start", "/p/broken/3"]
    assert "about to fail" in server.requests[1]["body"]
    assert server.requests[1]["body"].startswith("failed:")


def test_a_failure_without_an_exit_status_pings_fail(project, server):
    project.task("slow", "import time; time.sleep(30)", ping_url=server.base + "/p/slow", timeout=1)
    run_once(project)
    assert project.runs()[0]["status"] == "timeout"
    assert server.paths() == ["/p/slow/start", "/p/slow/fail"]
    assert server.requests[1]["body"].startswith("timeout:")


def test_a_default_template_in_config_and_the_frontmatter_winning(project, server):
    project.config(
        f"""
        scheduler:
          timezone: UTC
        notify:
          ping_url: "{server.base}/default/{{task}}?key=abc"
        """
    )
    project.task("Nightly_Report", 'print("r")')
    project.task("own", 'print("o")', ping_url=server.base + "/own")
    run_once(project)
    got = sorted((r["path"], r["query"].get("key", [None])[0]) for r in server.requests)
    assert got == [
        ("/default/Nightly_Report", "abc"),
        ("/default/Nightly_Report/start", "abc"),
        ("/own", None),
        ("/own/start", None),
    ]
    # each run's pings pair up by rid, and the two runs have different rids
    rids = {}
    for r in server.requests:
        rids.setdefault(r["path"].removesuffix("/start"), set()).add(r["query"]["rid"][0])
    assert all(len(v) == 1 for v in rids.values())
    assert len({next(iter(v)) for v in rids.values()}) == 2


def test_overlapping_runs_of_one_task_pair_up_by_rid(project, server):
    project.task("t", "import time; time.sleep(2)", ping_url=server.base + "/t", overlap="allow", catchup="all")
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:03:05Z")  # three slots, run one after the other by this tick
    runs = project.runs()
    assert len(runs) == 3
    by_rid: dict[str, list[str]] = {}
    for r in server.requests:
        by_rid.setdefault(r["query"]["rid"][0], []).append(r["path"])
    assert sorted(by_rid.values()) == [["/t/start", "/t"]] * 3


def test_an_unresponsive_server_never_fails_the_task(project, silent_server):
    project.config(
        f"""
        scheduler:
          timezone: UTC
          ping_url: "{silent_server}/tick"
        notify:
          ping_timeout: 1
        """
    )
    project.task("t", 'print("fine")', ping_url=silent_server + "/t")
    result = run_once(project, "--strict")
    assert result.returncode == 0, result.stderr
    [run] = project.runs()
    assert run["status"] == "success"
    log = project.log("scheduler.log")
    assert re.search(r"t: run \d+: start ping to .*/t/start\?rid=\S+ failed \(.*timed out.*\); the run is not", log)
    assert re.search(r"t: run \d+: success ping to .*/t\?rid=\S+ failed", log)
    assert "scheduler ping to" in log and "/tick failed" in log


def test_an_error_status_is_logged_not_raised(project, server):
    server.status = 500
    project.task("t", 'print("fine")', ping_url=server.base + "/t")
    run_once(project)
    assert project.runs()[0]["status"] == "success"
    assert "start ping to" in project.log("scheduler.log") and "HTTP 500" in project.log("scheduler.log")


def test_the_scheduler_is_pinged_after_every_tick_quiet_ones_too(project, server):
    project.config(
        f"""
        scheduler:
          timezone: UTC
          ping_url: "{server.base}/heartbeat"
        """
    )
    project.tick("2026-11-27T10:00:30Z")
    project.tick("2026-11-27T10:01:05Z")  # nothing at all to do: the fast path
    assert server.paths() == ["/heartbeat", "/heartbeat"]
    assert [r["method"] for r in server.requests] == ["GET", "GET"]
    # a dry run is not a tick
    project.cli("tick", "--dry-run", "--now", "2026-11-27T10:02:05Z", check=True)
    assert len(server.requests) == 2


def test_no_ping_url_means_no_network_and_no_monitor_on_the_quiet_path(project):
    project.tick("2026-11-27T10:00:30Z")
    code = (
        "import sys\n"
        "from autohub_cli.config import load_settings\n"
        "from autohub_cli.tick import run_tick\n"
        "run_tick(load_settings())\n"
        "print(sorted(m for m in sys.modules if m in ('urllib.request', 'autohub_cli.monitor', 'http.client')))\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the URL arithmetic, pure ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "suffix", "rid", "expected"),
    [
        ("https://hc-ping.com/abc", "/start", "r1", "https://hc-ping.com/abc/start?rid=r1"),
        ("https://hc-ping.com/abc/", "", "r1", "https://hc-ping.com/abc/?rid=r1"),
        ("https://hc-ping.com/abc/", "/fail", None, "https://hc-ping.com/abc/fail"),
        ("https://x.io/k/slug?create=1", "/3", "r", "https://x.io/k/slug/3?create=1&rid=r"),
    ],
)
def test_ping_url(base, suffix, rid, expected):
    assert monitor.ping_url(base, suffix, rid) == expected


def test_templates_and_slugs():
    assert monitor.slug("Backup_Photos.v2") == "backup-photos-v2"
    assert monitor.slug("__") == "task"
    assert monitor.expand("https://h/{slug}/{task}/{other}", "My Task") == "https://h/my-task/My%20Task/{other}"
