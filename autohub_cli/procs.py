"""Who owns a run, and is that owner still alive? The one answer to "is this run still running?".

A run is owned by the tick (or `autohub run`) process that supervises it. On this host the owner
is alive when its pid exists with the same start time in the same boot (a reused pid or a reboot
do not count); on another host, when its lease has not expired.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    start: float  # process start time, in clock ticks since boot (Linux) or epoch seconds (psutil)
    boot_id: str


@lru_cache(maxsize=1)
def boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        import psutil

        return str(int(psutil.boot_time()))


def hostname() -> str:
    return os.uname().nodename  # what socket.gethostname() returns, without importing socket


def process_start(pid: int) -> float | None:
    """The process's start time, or None when no such process exists."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
        # field 22 (starttime) counted after the parenthesised command name, which may hold spaces
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie has finished its work
            return None
        return float(fields[19])
    except FileNotFoundError:
        return None
    except OSError:
        pass
    try:
        import psutil

        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess and friends
        return None


def current_owner() -> Owner:
    pid = os.getpid()
    return Owner(hostname(), pid, process_start(pid) or 0.0, boot_id())


def owner_alive(owner: Owner) -> bool:
    """Only meaningful for owners on this host; callers use the lease for other hosts."""
    if owner.boot_id != boot_id():
        return False
    start = process_start(owner.pid)
    return start is not None and abs(start - owner.start) < 1e-6


def run_alive(owner: Owner | None, lease_until: datetime | None, now: datetime) -> bool:
    """Is the run with this owner still running? Pid + start time here; the lease elsewhere."""
    if owner is None:
        return False
    if owner.host == hostname():
        return owner_alive(owner)
    return lease_until is not None and lease_until > now
