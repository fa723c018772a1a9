"""Read spec files (YAML, TOML, JSON) and validate them into an `EmmaSpec`.

Every failure is a `SpecError` naming the file, the location inside the spec and what to
change; parse errors carry the line and column the parser reported.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from emma_plugins.core.errors import SpecError, SpecIssue
from emma_plugins.core.plugins import PluginHost
from emma_plugins.spec.dynamic import spec_model
from emma_plugins.spec.issues import issues_from
from emma_plugins.spec.models import EmmaSpec

if TYPE_CHECKING:
    import yaml


@functools.cache
def _unique_key_loader() -> type[yaml.SafeLoader]:
    """Safe YAML loading that refuses a key given twice in one mapping (YAML keeps the last).

    Built on first use, so that ``import emma_plugins`` does not import yaml.
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    UniqueKeyLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, UniqueKeyLoader.construct_mapping
    )
    return UniqueKeyLoader


def _read_yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_unique_key_loader())  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ValueError(f"{where}{exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def _read_toml(text: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(str(exc)) from None


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _read_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


READERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    ".yaml": ("YAML", _read_yaml),
    ".yml": ("YAML", _read_yaml),
    ".toml": ("TOML", _read_toml),
    ".json": ("JSON", _read_json),
}


def _file_error(source: str, message: str) -> SpecError:
    return SpecError(f"{source}: {message}", source=source, issues=[SpecIssue("", message)])


def read_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw mapping in a spec file, chosen by extension; not yet validated."""
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        known = ", ".join(READERS)
        raise _file_error(source, f"unsupported extension {suffix or '(none)'!r}; use {known}")
    fmt, reader = READERS[suffix]
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _file_error(source, "spec file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _file_error(source, f"cannot read the spec file: {exc}") from None
    if not text.strip():
        raise _file_error(source, "the spec file is empty; start from examples/htru2.yaml")
    try:
        data = reader(text)
    except ValueError as exc:
        raise _file_error(source, f"not valid {fmt}: {exc}") from None
    if not isinstance(data, dict):
        raise _file_error(
            source,
            f"expected a mapping of sections (spec_version, modes, ...), found a "
            f"{type(data).__name__}",
        )
    return data


def parse_spec(
    data: Mapping[str, Any], *, source: str | None = None, host: PluginHost | None = None
) -> EmmaSpec:
    """Validate a spec given as a mapping; ``source`` names it in error messages.

    Kinds are checked against ``host``'s registries (default: the process-wide host, i.e.
    built-ins plus installed plugins).
    """
    model = spec_model(host)
    if not isinstance(data, Mapping):
        raise SpecError(
            f"{source or 'spec'}: a spec must be a mapping, got {type(data).__name__}",
            source=source,
        )
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        issues = issues_from(exc, model)
        raise SpecError(_summary(issues, source), issues=issues, source=source) from None


def load_spec(path: str | os.PathLike[str], *, host: PluginHost | None = None) -> EmmaSpec:
    """Read and validate a ``.yaml``/``.yml``, ``.toml`` or ``.json`` spec file."""
    return parse_spec(read_spec_file(path), source=str(path), host=host)


def _summary(issues: list[SpecIssue], source: str | None) -> str:
    name = source or "spec"
    count = f"{len(issues)} problem{'s' if len(issues) != 1 else ''}"
    lines = [f"{name}: invalid spec ({count})"]
    lines.extend(f"  {issue}" for issue in issues)
    return "\n".join(lines)
