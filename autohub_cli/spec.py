"""A task as the rest of autohub sees it: `TaskSpec` (valid) or `TaskError` (invalid), both plain data.

Kept apart from the reader (`taskfile.py`, which needs `ast` and YAML) so that a tick that finds
its specs in the parse cache imports only this.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .schedule import Chain


@dataclass(frozen=True)
class TaskSpec:
    name: str
    path: str
    title: str
    description: str = ""
    dependencies: tuple[str, ...] = ()
    python_version: str = "3.8"
    enabled: bool = True
    timeout: int = 300
    retry_count: int = 0
    retry_delay: int = 60
    catchup: str = "latest"
    max_overdue: int = 86400
    max_memory_mb: int | None = None
    overlap: str = "skip"
    isolated: bool = False
    ping_url: str | None = None
    schedule: Chain | None = None  # None: a manual task
    frontmatter: str = "none"  # docstring | bare | none
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        data = dict(data)
        data["dependencies"] = tuple(data["dependencies"])
        data["warnings"] = tuple(data["warnings"])
        if data["schedule"] is not None:
            data["schedule"] = tuple((n, None if a is None else tuple(a)) for n, a in data["schedule"])
        return cls(**data)


@dataclass(frozen=True)
class TaskError:
    name: str
    path: str
    message: str  # "file:line: field: expected X, found Y"
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskError:
        return cls(data["name"], data["path"], data["message"], tuple(data.get("warnings", ())))
