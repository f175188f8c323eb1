"""autohub: a cron-driven Python task scheduler with no daemon."""

from .decorators import cron, every, repeat

__all__ = ["cron", "every", "repeat"]
__version__ = "0.1.0"
