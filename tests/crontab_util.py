"""The user's crontab is shared by every test run on this machine: one crontab test at a time."""

from __future__ import annotations

import fcntl
import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def crontab_tests_lock() -> Iterator[None]:
    """One crontab test at a time on this machine, across test runs and xdist workers."""
    fd = os.open(
        Path(tempfile.gettempdir()) / f"autohub-crontab-tests-{os.getuid()}.lock", os.O_RDWR | os.O_CREAT, 0o600
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_crontab() -> str | None:
    proc = subprocess.run(["crontab", "-l"], capture_output=True, text=True)
    if proc.returncode == 0:
        return proc.stdout
    if "no crontab for" in proc.stderr:
        return None
    pytest.skip(f"cannot read this user's crontab: {proc.stderr.strip()}")
