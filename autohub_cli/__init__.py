"""autohub: a cron-driven Python task scheduler with no daemon.

Task files import the schedule DSL from here: `from autohub_cli import repeat, every, cron`.
The names load on first use, so the tick and a task's child process pay nothing for them.
"""

from __future__ import annotations

__all__ = ["cron", "every", "repeat"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:  # PEP 562: no import cost until a name is used
    if name in __all__:
        from . import decorators

        return getattr(decorators, name)
    raise AttributeError(f"module 'autohub_cli' has no attribute {name!r}")
