"""Tick cost against Python's start-up floor: ratios measured side by side in one run.

    nox -s bench            # or: python bench/tick_bench.py [--rounds N] [--quick]

Each figure is the median of several paired, alternating runs of whole processes, so the machine's
state affects the tick and its floor alike. No figure here is asserted by a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
AUTOHUB = str(Path(PY).parent / "autohub")
TASK = '''"""
---
title: "Task {i}"
timeout: 60
---
"""
from autohub_cli import repeat, every


@repeat(every().day.at("03:17"))
def start():
    print("task {i}")
'''
NOOP = '''"""
---
title: "No-op {i}"
---
"""
from autohub_cli import repeat, every


@repeat(every(1).minutes)
def start():
    pass
'''
FIRST_LINE = '''"""
---
title: "Latency"
---
"""
import os, time
from autohub_cli import repeat, every


@repeat(every(1).minutes)
def start():
    open(os.path.join(os.environ["AUTOHUB_PROJECT_ROOT"], "first-line"), "w").write(repr(time.time()))
'''


def make_project(root: Path, count: int, template: str, **scheduler: object) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "tasks").mkdir()
    (root / "tasks").chmod(0o755)
    lines = ["scheduler:", "  timezone: UTC"] + [f"  {k}: {v}" for k, v in scheduler.items()]
    (root / "config" / "config.yaml").write_text("\n".join(lines) + "\n")
    for i in range(count):
        (root / "tasks" / f"task_{i:05d}.py").write_text(template.format(i=i))
    return root


def wall(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def paired(commands: dict[str, list[str]], cwd: Path, rounds: int) -> dict[str, float]:
    """Median wall time of each command, run alternately `rounds` times."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            samples[name].append(wall(cmd, cwd))
    return {name: statistics.median(times) for name, times in samples.items()}


def tick_cmd(minute: int) -> list[str]:
    return [AUTOHUB, "tick", "--now", f"2026-11-27T10:{minute:02d}:30Z"]


class Ticks:
    """Successive warm ticks, each a minute later, none due (the tasks run at 03:17)."""

    def __init__(self) -> None:
        self.minute = 0

    def next(self) -> list[str]:
        self.minute = (self.minute + 1) % 60
        return tick_cmd(self.minute)


def warm_tick(files: int, rounds: int, tmp: Path) -> dict[str, float]:
    root = make_project(tmp / f"warm{files}", files, TASK)
    subprocess.run(tick_cmd(0), cwd=root, check=True)  # first sight: parse and cache everything
    floors = {"import typer": [PY, "-c", "import typer"], "python -c pass": [PY, "-c", "pass"]}
    ticks, samples = Ticks(), {"tick": [], **{k: [] for k in floors}}
    for _ in range(rounds):
        samples["tick"].append(wall(ticks.next(), root))
        for name, cmd in floors.items():
            samples[name].append(wall(cmd, root))
    return {name: statistics.median(times) for name, times in samples.items()}


def cold_tick(files: int, rounds: int, tmp: Path) -> dict[str, float]:
    times, floor = [], []
    for r in range(rounds):
        root = make_project(tmp / f"cold{files}-{r}", files, TASK)
        times.append(wall(tick_cmd(0), root))
        floor.append(wall([PY, "-c", "import typer"], root))
    return {"tick": statistics.median(times), "import typer": statistics.median(floor)}


def dispatch_latency(rounds: int, tmp: Path) -> dict[str, float]:
    root = make_project(tmp / "latency", 1, FIRST_LINE)
    subprocess.run(tick_cmd(0), cwd=root, check=True)
    latencies, spawns = [], []
    for minute in range(1, rounds + 1):
        marker = root / "first-line"
        marker.unlink(missing_ok=True)
        start = time.time()
        subprocess.run(tick_cmd(minute), cwd=root, check=True)
        latencies.append(float(marker.read_text()) - start)
        spawns.append(wall([PY, "-c", "pass"], root))
    return {
        "tick start -> first line of start()": statistics.median(latencies),
        "python -c pass": statistics.median(spawns),
    }


def fan_out(tasks: int, tmp: Path) -> dict[str, float]:
    root = make_project(tmp / "fanout", tasks, NOOP, max_parallel=8)
    subprocess.run(tick_cmd(0), cwd=root, check=True)
    elapsed = wall(tick_cmd(1), root)
    db = root / "state" / "autohub.db"
    import sqlite3

    with sqlite3.connect(db) as conn:
        ran = conn.execute("SELECT count(*) FROM runs WHERE status = 'success'").fetchone()[0]
    return {"wall": elapsed, "ran": ran, "per second": ran / elapsed}


def peak_memory(files: int, tmp: Path) -> float:
    root = make_project(tmp / f"mem{files}", files, TASK)
    subprocess.run(tick_cmd(0), cwd=root, check=True)
    code = (
        "import resource, subprocess, sys;"
        f"subprocess.run({tick_cmd(1)!r}, check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([PY, "-c", code], cwd=root, check=True, capture_output=True, text=True).stdout
    return int(out.strip()) / 1024  # KB -> MB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and a smaller fan-out")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    results: dict[str, object] = {}
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="autohub-bench-") as name:
        tmp = Path(name)
        for files in (1000, 10000):
            r = warm_tick(files, rounds, tmp)
            results[f"warm_{files}"] = r
            rows.append(
                (
                    f"warm tick, nothing due, {files:,} files",
                    _ms(r["tick"]),
                    "import typer " + _ms(r["import typer"]),
                    _x(r["tick"], r["import typer"]),
                )
            )
            rows.append(("", "", "python -c pass " + _ms(r["python -c pass"]), _x(r["tick"], r["python -c pass"])))
        r = cold_tick(1000, max(1, rounds // 3), tmp)
        results["cold_1000"] = r
        rows.append(
            (
                "cold tick, first sight of 1,000 files",
                _ms(r["tick"]),
                "import typer " + _ms(r["import typer"]),
                _x(r["tick"], r["import typer"]),
            )
        )
        r = dispatch_latency(rounds, tmp)
        results["dispatch"] = r
        first, spawn = r["tick start -> first line of start()"], r["python -c pass"]
        rows.append(
            (
                "dispatch: tick start -> first line of start()",
                _ms(first),
                "python -c pass " + _ms(spawn),
                _x(first, spawn),
            )
        )
        r = fan_out(50 if args.quick else 200, tmp)
        results["fan_out"] = r
        rows.append(
            (
                f"fan-out: {int(r['ran'])} no-op tasks, max_parallel 8",
                _ms(r["wall"]),
                f"{r['per second']:.1f} tasks/s",
                "",
            )
        )
        mb = peak_memory(10000, tmp)
        results["peak_rss_mb_10000"] = mb
        rows.append(("peak resident memory, 10,000 files", f"{mb:.1f} MB", "target 60 MB", f"{mb / 60:.2f}x"))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("measure", "autohub", "floor", "ratio")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"\n(median of {rounds} paired runs; python {sys.version.split()[0]}; {os.cpu_count()} cores)")


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _x(value: float, floor: float) -> str:
    return f"{value / floor:.2f}x"


if __name__ == "__main__":
    main()
