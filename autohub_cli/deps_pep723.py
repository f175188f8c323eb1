"""PEP 723 inline script metadata: a `# /// script` block with `dependencies` and `requires-python`.

An alternative to the frontmatter fields `dependencies` and `python_version`, so a script that
already runs with `uv run` or `pipx run` keeps its one source of truth:

    # /// script
    # requires-python = ">=3.11"
    # dependencies = ["requests>=2.25"]
    # ///

`requires-python` is a version specifier; autohub keeps its lowest allowed version as the task's
`python_version` (upper bounds such as `<3.14` are not enforced, and say so in a warning).
Giving the same thing in both places is fine when they agree; when they differ the task is invalid.
Pure on text, like `taskfile`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# The reference regular expression of PEP 723.
BLOCK = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")
MARKER = "# /// script"


class ScriptMetadataError(Exception):
    """The block is malformed or disagrees with the frontmatter; `line` is 1-based or None."""

    def __init__(self, line: int | None, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def read_block(text: str) -> tuple[dict[str, Any], int] | None:
    """The parsed `script` block and its first line, None when the file has none."""
    if MARKER not in text:
        return None
    found = [m for m in BLOCK.finditer(text) if m.group("type") == "script"]
    if not found:
        line = text[: text.index(MARKER)].count("\n") + 1
        raise ScriptMetadataError(line, "# /// script: the block is not closed by a line `# ///`")
    match = found[0]
    line = text[: match.start()].count("\n") + 1
    if len(found) > 1:
        again = text[: found[1].start()].count("\n") + 1
        raise ScriptMetadataError(again, f"# /// script: a second script block (the first is at line {line}); keep one")
    body = "".join(
        part[2:] if part.startswith("# ") else part[1:] for part in match.group("content").splitlines(keepends=True)
    )
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ScriptMetadataError(
                line, "# /// script: reading it needs Python 3.11+ or the tomli package"
            ) from None
    try:
        data = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        raise ScriptMetadataError(line, f"# /// script: not valid TOML: {exc}") from None
    return data, line


def apply_script_metadata(
    text: str,
    meta: dict[str, Any],
    values: dict[str, Any],
    warnings: list[str],
    path: Any,
    check_requirements: Callable[[Any], list[str]],
) -> None:
    """Fill `values["dependencies"]` / `values["python_version"]` from the block, in place.

    `meta` is the raw frontmatter (to tell "given there" from "defaulted"); `check_requirements`
    is the frontmatter's own validator, so both sources accept and reject the same strings.
    """
    found = read_block(text)
    if found is None:
        return
    data, line = found
    if "dependencies" in data:
        try:
            deps = check_requirements(data["dependencies"])
        except (TypeError, ValueError) as exc:
            detail = f" ({exc})" if str(exc) else ""
            raise ScriptMetadataError(
                line,
                f"# /// script: dependencies: expected a list of requirement strings such as "
                f'"requests>=2.25", found {data["dependencies"]!r}{detail}',
            ) from None
        if "dependencies" in meta and sorted(values["dependencies"]) != sorted(deps):
            raise ScriptMetadataError(
                line,
                f"dependencies: the frontmatter says {values['dependencies']!r} but the # /// script block says "
                f"{deps!r}: keep one of them",
            )
        values["dependencies"] = deps
    if "requires-python" in data:
        minimum = lowest_python(data["requires-python"], line, warnings, path)
        if "python_version" in meta and _release(values["python_version"]) != _release(minimum):
            raise ScriptMetadataError(
                line,
                f"python_version: the frontmatter says {values['python_version']!r} but the # /// script block "
                f"says requires-python = {data['requires-python']!r}: keep one of them",
            )
        if "python_version" not in meta:
            values["python_version"] = minimum


def lowest_python(value: Any, line: int, warnings: list[str], path: Any) -> str:
    """The lowest Python version a `requires-python` specifier allows, as `python_version` text."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not isinstance(value, str):
        raise ScriptMetadataError(
            line, f'# /// script: requires-python: expected a string such as ">=3.11", found {value!r}'
        )
    try:
        specs = SpecifierSet(value)
    except InvalidSpecifier:
        raise ScriptMetadataError(
            line, f'# /// script: requires-python: expected a version specifier such as ">=3.11", found {value!r}'
        ) from None
    lows: list[tuple[int, ...]] = []
    ignored: list[str] = []
    for spec in specs:
        version = spec.version.removesuffix(".*")
        if spec.operator in (">=", ">", "~=", "==", "===") and re.fullmatch(r"\d+(\.\d+)*", version):
            lows.append(tuple(int(p) for p in version.split(".")[:3]))
        else:
            ignored.append(str(spec))
    if ignored:
        warnings.append(
            f"{path}: # /// script: requires-python {', '.join(sorted(ignored))} is not enforced; "
            "autohub only checks the lowest version it allows"
        )
    if not lows:
        return "3.8"
    return ".".join(str(p) for p in max(lows))


def _release(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in str(text).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)
