"""Reading policy YAML and schema JSON while remembering where each key was written.

Every refusal names a file and a line, so the readers here keep, next to the
parsed data, the line of each mapping key (YAML) or field name (Avro JSON).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from citysieve.errors import PolicyError

KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class YamlDocument:
    """A YAML file's data and the line of every key and sequence item, by key path."""

    path: Path
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line(self, *keys: object) -> int | None:
        """The line of ``keys`` or, when it is not written, of its nearest written parent."""
        path = tuple(str(key) for key in keys)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def read_yaml(path: Path) -> YamlDocument:
    """Parse ``path`` safely; refuse syntax errors and duplicate keys with their line."""
    text = _read_text(path)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(path, None, {})
        lines: dict[KeyPath, int] = {(): node.start_mark.line + 1}
        _record_lines(node, (), lines, path)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "syntax error"
        raise PolicyError(
            f"not valid YAML ({problem}); fix the syntax", path=str(path), line=line
        ) from None
    finally:
        loader.dispose()
    return YamlDocument(path, data, lines)


def _record_lines(node: yaml.Node, at: KeyPath, lines: dict[KeyPath, int], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(key_node.value)
            here = (*at, key)
            line = key_node.start_mark.line + 1
            if here in lines and key != "<<":
                raise PolicyError(
                    f"key '{key}' is written twice (first on line {lines[here]}); keep one",
                    path=str(path),
                    line=line,
                )
            lines[here] = line
            _record_lines(value_node, here, lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*at, str(index))
            lines[here] = item.start_mark.line + 1
            _record_lines(item, here, lines, path)


@dataclass(frozen=True)
class JsonDocument:
    """An Avro schema file's data and text, to find the line a field is declared on."""

    path: Path
    text: str
    data: Any

    def key_line(self, key: str) -> int | None:
        match = re.search(rf'"{re.escape(key)}"\s*:', self.text)
        return _line_at(self.text, match.start()) if match else None

    def field_line(self, name: str) -> int | None:
        """The line of ``"name": "<name>"`` inside the record's ``"fields"``."""
        fields_at = self.text.find('"fields"')
        pattern = re.compile(rf'"name"\s*:\s*"{re.escape(name)}"')
        match = pattern.search(self.text, max(fields_at, 0))
        return _line_at(self.text, match.start()) if match else None


def read_json(path: Path) -> JsonDocument:
    text = _read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(
            f"not valid JSON ({exc.msg}); fix the syntax", path=str(path), line=exc.lineno
        ) from None
    return JsonDocument(path, text, data)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError("file not found; check the path", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the file ({exc}); check it", path=str(path)) from None


def _line_at(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1
