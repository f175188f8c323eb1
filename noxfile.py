"""Developer sessions: `nox -s tests`, `lint`, `typecheck`, `bench`, `e2e`."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, slow tests included (as CI runs it)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def e2e(session: nox.Session) -> None:
    """Only the slow end-to-end tests: real cron daemon, racing ticks, faults."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "autohub_cli", "helpers", "tests", "bench", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("mypy", "autohub_cli")


@nox.session
def bench(session: nox.Session) -> None:
    """Tick cost against Python's start-up floor, printed as ratios."""
    session.install("-e", ".")
    session.run("python", "bench/tick_bench.py", *session.posargs)


@nox.session
def reliability(session: nox.Session) -> None:
    """Load, races, faults and fuzzed input against real ticks, printed as one table (see docs/reliability.md)."""
    session.install("-e", ".[test]")
    session.run("python", "bench/reliability.py", *session.posargs)
