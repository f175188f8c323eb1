"""A test hook, not a feature: `AUTOHUB_FAULT=<stage>` makes the process SIGKILL itself at that stage.

The reliability suite (tests/test_reliability_faults.py) and `bench/reliability.py` set it to prove
that a tick killed at any moment, as by a power cut or the OOM killer, neither loses nor doubles a
slot. The stages, in the order a tick passes them:

  before-claim   the catalog is loaded, nothing is claimed yet                       (tick.py)
  after-claim    the claim transaction has committed, no child has started            (tick.py)
  while-running  a run's child process has just started                              (runner.py)
  before-finish  a run has ended, its outcome is not written yet                     (executor.py)

Unset (always, outside the tests), a point costs one environment lookup.
"""

from __future__ import annotations

import os

ENV = "AUTOHUB_FAULT"
STAGES = ("before-claim", "after-claim", "while-running", "before-finish")


def point(name: str) -> None:
    """Die here, at once and without cleanup, when `$AUTOHUB_FAULT` names this stage."""
    if os.environ.get(ENV) == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
