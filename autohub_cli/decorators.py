"""The schedule DSL as task files use it: `@repeat(every(10).minutes)` on `def start()`.

At run time these only *record* the expression (no registry, no timers): the tick never imports a
task, it reads the same expression statically from the source (see `taskfile.py`), and
`autohub_cli.schedule.compile_chain` gives both readings one meaning.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and the schedule module are not needed to *record* an expression
    from collections.abc import Callable
    from typing import Any, TypeVar

    from .schedule import Chain

    F = TypeVar("F", bound=Callable[..., Any])


class Job:
    """A recorded schedule expression; `every(5).minutes.chain` is `(("every", (5,)), ("minutes", None))`."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def __getattr__(self, name: str) -> Job:
        if name.startswith("_"):
            raise AttributeError(name)
        return Job((*self.chain, (name, None)))

    def __call__(self, *args: Any) -> Job:
        name, previous = self.chain[-1]
        if previous is not None:
            raise TypeError(f"{name}(...) was already called")
        return Job((*self.chain[:-1], (name, args)))

    def __repr__(self) -> str:
        from .schedule import render

        return render(self.chain)


def every(interval: int = 1) -> Job:
    """`every(10).minutes`, `every().day.at("10:30")`, `every().monday.at("09:00", "Europe/Amsterdam")`."""
    # every(1) is recorded as every(), as the tick reads it; True or 1.0 stay as written (and invalid)
    return Job((("every", ()),)) if type(interval) is int and interval == 1 else Job((("every", (interval,)),))


def cron(expression: str) -> Job:
    """A standard five-field cron expression or an alias such as `@hourly`."""
    return Job((("cron", (expression,)),))


def repeat(job: Job) -> Callable[[F], F]:
    """Mark `start` with its schedule; the function itself is returned unchanged."""

    def mark(func: F) -> F:
        func.autohub_schedule = job  # type: ignore[attr-defined]
        return func

    return mark
