"""The bare `---` frontmatter block: found by the task-file reader, blanked out by the worker.

A module of its own (stdlib `re` only) so that a run's child process starts without importing
the task-file reader.
"""

from __future__ import annotations

import re

BARE = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)^---[ \t]*$", re.DOTALL | re.MULTILINE)


def strip_bare_frontmatter(text: str) -> str:
    """The file's Python code: a bare `---` block is blanked (keeping line numbers for tracebacks)."""
    match = BARE.match(text)
    if not match:
        return text
    return "\n" * text[: match.end()].count("\n") + text[match.end() :]
