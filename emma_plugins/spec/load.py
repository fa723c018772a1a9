"""Read spec files (YAML, TOML, JSON) and validate them into an `EmmaSpec`.

Every failure is a `SpecError` naming the file, the location inside the spec and what to
change; parse errors carry the line and column the parser reported.

A spec file is untrusted input, so reading it is bounded (docs/spec.md, "Limits"): at most
`MAX_SPEC_BYTES` bytes, collections nested at most `MAX_DEPTH` deep, and at most
`MAX_SPEC_VALUES` values once YAML aliases are expanded (a "billion laughs" alias bomb of
1 KB would otherwise expand to ~10^9 values in whatever walks the data next). Depth is
checked before parsing without recursion (a bracket scan for JSON and TOML, a counter in
the YAML composer), again on the parsed data, and a parser's `RecursionError` is turned
into the same message as a last resort.
"""

from __future__ import annotations

import functools
import json
import os
import re
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


#: Largest spec file read, in bytes (1 MiB); a spec describes a model, data live elsewhere.
MAX_SPEC_BYTES = 1 << 20
#: Deepest nesting of collections (mappings, lists, tables) in a spec file.
MAX_DEPTH = 64
#: Most values (collections and scalars) in a spec once YAML aliases are expanded.
MAX_SPEC_VALUES = 100_000


class SpecLimitError(ValueError):
    """A spec file goes beyond one of the reading limits (size, depth, expanded values)."""


def _too_deep(where: str = "") -> SpecLimitError:
    return SpecLimitError(
        f"{where}collections are nested more than {MAX_DEPTH} levels deep; spec files are "
        f"limited to {MAX_DEPTH} levels (a spec needs a handful)"
    )


def _too_many() -> SpecLimitError:
    return SpecLimitError(
        f"the spec holds more than {MAX_SPEC_VALUES} values (a YAML alias counts again each "
        f"time it is used); spec files are limited to {MAX_SPEC_VALUES} values"
    )


@functools.cache
def _unique_key_loader() -> type[yaml.SafeLoader]:
    """Safe YAML loading that refuses a key given twice in one mapping (YAML keeps the last)
    and collections nested deeper than `MAX_DEPTH` (checked while composing, so the
    composer's recursion stays shallow).

    Built on first use, so that ``import emma_plugins`` does not import yaml.
    """
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        _emma_depth = 0
        _emma_nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self._emma_nodes += 1  # stop a long file early; aliases are counted later
            if self._emma_nodes > MAX_SPEC_VALUES:
                raise _too_many()
            opens = self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent)
            if opens:
                self._emma_depth += 1
                if self._emma_depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise _too_deep(f"line {mark.line + 1}, column {mark.column + 1}: ")
            try:
                return super().compose_node(parent, index)
            finally:
                if opens:
                    self._emma_depth -= 1

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


#: Tokens of the scans before parsing: strings and comments (whose brackets and dots do
#: not count), brackets, and for TOML dots and bare words (key parts). Every alternative
#: matches in linear time, so the scan cannot be made slow by its input.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
_TOML_TOKENS = re.compile(
    r'"""(?:[^\\]|\\[\s\S])*?"""|\'\'\'[\s\S]*?\'\'\''
    r'|"(?:[^"\\\n]|\\.)*"?|\'[^\'\n]*\'?|#[^\n]*|[\[\]{}.]|[A-Za-z0-9_+:-]+'
)


def _line(text: str, position: int) -> str:
    return f"line {text.count(chr(10), 0, position) + 1}: "


def _check_bracket_depth(text: str, tokens: re.Pattern[str]) -> None:
    """Refuse text nested deeper than `MAX_DEPTH` before a recursive parser sees it.

    Brackets count one level each; for TOML so does each part of a dotted key (``a.b.c``,
    in a table header or a key), which tomllib also handles in quadratic time. Brackets
    and dots inside strings and comments do not count. Unbalanced brackets are left to
    the parser to report.
    """
    depth = parts = 0
    after_dot = False
    for match in tokens.finditer(text):
        token = match.group()
        first = token[0]
        if first in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(_line(text, match.start()))
            parts = 0
        elif first in "]}":
            depth, parts = max(depth - 1, 0), 0
        elif token == ".":
            after_dot = True
            continue
        elif first == "#":
            parts = 0
        else:  # a key part (or a value: values are never joined by dots)
            parts = parts + 1 if after_dot else 1
            if parts > MAX_DEPTH:
                raise _too_deep(f"{_line(text, match.start())}a dotted key: ")
        after_dot = False


def _read_toml(text: str) -> Any:
    _check_bracket_depth(text, _TOML_TOKENS)
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
    _check_bracket_depth(text, _JSON_TOKENS)
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


def check_spec_shape(data: Any) -> None:
    """Refuse data nested deeper than `MAX_DEPTH` or holding more than `MAX_SPEC_VALUES`
    values with every shared collection (a YAML alias) counted once per use.

    Walks without recursion and visits each distinct collection once, so an alias bomb
    costs as little to measure as it took to write; a collection that contains itself
    (a recursive YAML alias) is refused.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id -> (values, depth) of finished collections
    open_ids: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        item, children_done = stack.pop()
        if not isinstance(item, dict | list | tuple):
            continue
        key = id(item)
        children = list(item.keys()) + list(item.values()) if isinstance(item, dict) else item
        if children_done:
            open_ids.discard(key)
            values, depth = 1, 1
            for child in children:
                child_values, child_depth = sizes.get(id(child), (1, 0))
                values += child_values
                depth = max(depth, child_depth + 1)
            if depth > MAX_DEPTH:
                raise _too_deep()
            if values > MAX_SPEC_VALUES:
                raise _too_many()
            sizes[key] = (values, depth)
            continue
        if key in sizes:
            continue
        if key in open_ids:
            raise SpecLimitError(
                "a YAML alias refers to a collection that contains it; spec files cannot "
                "be recursive"
            )
        open_ids.add(key)
        stack.append((item, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def read_spec_text(text: str, suffix: str, source: str) -> dict[str, Any]:
    """The raw mapping in the text of a spec file of type ``suffix`` (``.yaml``, ...),
    parsed within the reading limits; not yet validated. ``source`` names it in errors."""
    if suffix not in READERS:
        known = ", ".join(READERS)
        raise _file_error(source, f"unsupported extension {suffix or '(none)'!r}; use {known}")
    fmt, reader = READERS[suffix]
    if len(text) > MAX_SPEC_BYTES or len(text.encode("utf-8")) > MAX_SPEC_BYTES:
        raise _file_error(source, _too_large())
    if not text.strip():
        raise _file_error(source, "the spec file is empty; start from examples/htru2.yaml")
    try:
        data = reader(text)
        check_spec_shape(data)
    except SpecLimitError as exc:
        raise _file_error(source, str(exc)) from None
    except RecursionError:  # a last resort: the scans above refuse deep nesting first
        raise _file_error(source, str(_too_deep())) from None
    except ValueError as exc:
        raise _file_error(source, f"not valid {fmt}: {exc}") from None
    if not isinstance(data, dict):
        raise _file_error(
            source,
            f"expected a mapping of sections (spec_version, modes, ...), found a "
            f"{type(data).__name__}",
        )
    return data


def _too_large() -> str:
    return (
        f"the spec file is larger than {MAX_SPEC_BYTES} bytes (1 MiB), the limit for spec "
        "files; a spec describes a model, its data belong in data files"
    )


def read_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw mapping in a spec file, chosen by extension; not yet validated.

    At most `MAX_SPEC_BYTES` are read, whatever the file claims to be (a FIFO, a device).
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        return read_spec_text("", suffix, source)  # refuses the extension
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise _file_error(source, "spec file not found") from None
    except OSError as exc:
        raise _file_error(source, f"cannot read the spec file: {exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise _file_error(source, _too_large())
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _file_error(source, f"cannot read the spec file: {exc}") from None
    return read_spec_text(text, suffix, source)


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
