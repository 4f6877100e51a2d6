"""The few Avro field types a dataset schema may use, and small helpers over them.

A field is one of ``string``, ``int``, ``long``, ``float``, ``double``,
``boolean`` or a ``long`` with ``logicalType`` ``timestamp-micros`` /
``timestamp-millis``; optionally nullable as the union ``["null", T]``.
"""

from __future__ import annotations

from typing import Any, Final

PRIMITIVES: Final = frozenset({"string", "int", "long", "float", "double", "boolean"})
NUMERIC: Final = frozenset({"int", "long", "float", "double"})
TIMESTAMPS: Final = frozenset({"timestamp-micros", "timestamp-millis"})
TIMESTAMP_MICROS: Final = {"type": "long", "logicalType": "timestamp-micros"}
SUPPORTED_TYPES_HINT: Final = (
    'string, int, long, float, double, boolean or {"type": "long", "logicalType": '
    '"timestamp-micros"}, optionally nullable as ["null", T]'
)


def split_type(avro_type: Any) -> tuple[str, bool]:
    """``(base, nullable)``; base is a primitive name or a timestamp logical type.

    Raises ValueError for anything else (records, maps, enums, wider unions).
    """
    nullable = False
    if isinstance(avro_type, list):
        branches = [branch for branch in avro_type if branch != "null"]
        if len(branches) != 1 or len(avro_type) != 2:
            raise ValueError("only unions of null and one type are supported")
        avro_type, nullable = branches[0], True
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical in TIMESTAMPS and avro_type.get("type") == "long":
            return str(logical), nullable
        avro_type = avro_type.get("type") if logical is None else None
    if isinstance(avro_type, str) and avro_type in PRIMITIVES:
        return avro_type, nullable
    raise ValueError(f"type {avro_type!r} is not supported")


def is_numeric(avro_type: Any) -> bool:
    return split_type(avro_type)[0] in NUMERIC


def is_timestamp(avro_type: Any) -> bool:
    return split_type(avro_type)[0] in TIMESTAMPS


def is_nullable(avro_type: Any) -> bool:
    return split_type(avro_type)[1]


def nullable(avro_type: Any) -> Any:
    """``["null", T]`` (unchanged when it already is)."""
    if isinstance(avro_type, list):
        return avro_type
    return ["null", avro_type]


def like(source_type: Any, base: Any) -> Any:
    """``base``, made nullable when ``source_type`` is."""
    return nullable(base) if is_nullable(source_type) else base
