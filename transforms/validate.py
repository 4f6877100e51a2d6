"""Parse and validate raw events against their dataset's Avro schema.

Built once per dataset; a batch of raw byte strings in, typed records and
explicit rejections out. A rejection carries a short ``reason`` code (it travels
in DLQ headers) and a detail that names the field but never quotes its value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from citysieve.errors import InputValidationError

_TIMESTAMP_LOGICAL = ("timestamp-micros", "timestamp-millis")


class BytesDecoder(Protocol):
    def decode(self, data: bytes) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Rejection:
    index: int
    reason: str
    detail: str


@dataclass
class ParseResult:
    records: list[dict[str, Any]] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)  # position of each record in the input
    rejections: list[Rejection] = field(default_factory=list)
    undeclared: dict[str, list[Any]] = field(default_factory=dict)  # name -> sample values


@dataclass(frozen=True)
class _FieldCheck:
    name: str
    nullable: bool
    coerce: Callable[[Any], Any]
    minimum: float | None
    maximum: float | None


def _base_type(avro_type: Any) -> tuple[Any, bool]:
    """The non-null branch of a field type and whether null is allowed."""
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1:
            raise ValueError(f"unsupported union {avro_type!r}")
        return branches[0], "null" in avro_type
    return avro_type, False


class _BadTimestamp(TypeError):
    """A timestamp that does not parse: its own DLQ reason, ``bad_timestamp``."""


def _coerce_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00", 1))
        except ValueError as exc:
            raise _BadTimestamp("is not an ISO-8601 timestamp") from exc
    else:
        raise _BadTimestamp("should be an ISO-8601 timestamp string")
    if moment.tzinfo is None:
        raise _BadTimestamp("has no time zone (times are ISO-8601 UTC)")
    return moment.astimezone(UTC)


def _coerce_string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("should be a string")
    return value


def _coerce_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("should be an integer")
    return value


def _coerce_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("should be a number")
    number = float(value)
    if not math.isfinite(number):
        raise TypeError("should be a finite number")
    return number


def _coerce_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError("should be true or false")
    return value


def _coercer(avro_type: Any) -> Callable[[Any], Any]:
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") in _TIMESTAMP_LOGICAL:
            return _coerce_timestamp
        avro_type = avro_type.get("type")
    simple = {
        "string": _coerce_string,
        "int": _coerce_int,
        "long": _coerce_int,
        "float": _coerce_float,
        "double": _coerce_float,
        "boolean": _coerce_bool,
    }
    if avro_type not in simple:
        raise ValueError(f"unsupported Avro type {avro_type!r} in a raw schema")
    return simple[avro_type]


class EventParser:
    """Turns raw bytes (JSON in the reference form, or framed Avro) into typed records."""

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        avro: BytesDecoder | None = None,
        sample_size: int = 20,
    ) -> None:
        self.dataset = str(schema.get("citysieve.dataset", schema.get("name", "")))
        self._checks: list[_FieldCheck] = []
        for spec in schema["fields"]:
            base, nullable = _base_type(spec["type"])
            self._checks.append(
                _FieldCheck(
                    name=spec["name"],
                    nullable=nullable,
                    coerce=_coercer(base),
                    minimum=spec.get("minimum"),
                    maximum=spec.get("maximum"),
                )
            )
        self._declared = frozenset(c.name for c in self._checks)
        self._avro = avro
        self._sample_size = sample_size

    def parse_batch(self, values: Sequence[bytes | None]) -> ParseResult:
        """Raw message values (JSON in the reference form, or framed Avro) to records."""
        return self._parse(values, self._decode)

    def parse_records(self, payloads: Sequence[Mapping[str, Any]]) -> ParseResult:
        """Already-decoded records (from an Avro or Parquet file) to validated records."""
        return self._parse(payloads, dict)

    def _parse(self, items: Sequence[Any], decode: Callable[[Any], dict[str, Any]]) -> ParseResult:
        result = ParseResult()
        for index, item in enumerate(items):
            try:
                payload = decode(item)
                record = self._check(payload)
            except InputValidationError as exc:
                result.rejections.append(Rejection(index, exc.reason, exc.detail))
                continue
            result.records.append(record)
            result.indexes.append(index)
            for name in payload.keys() - self._declared:
                samples = result.undeclared.setdefault(name, [])
                if len(samples) < self._sample_size:
                    samples.append(payload[name])
        return result

    def _decode(self, raw: bytes | None) -> dict[str, Any]:
        if raw is None or not raw:
            raise InputValidationError("empty", "the message has no value")
        if raw[:1] in (b"\x00", b"\xc3") and self._avro is not None:
            return self._avro.decode(raw)
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputValidationError(
                "not_json", f"not valid JSON (line {getattr(exc, 'lineno', 1)})"
            ) from None
        if not isinstance(payload, dict):
            raise InputValidationError("not_an_object", "the JSON value is not an object")
        return payload

    def _check(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for check in self._checks:
            value = payload.get(check.name)
            if value is None:
                if not check.nullable:
                    raise InputValidationError(
                        "missing_field", f"required field '{check.name}' is missing or null"
                    )
                record[check.name] = None
                continue
            try:
                value = check.coerce(value)
            except _BadTimestamp as exc:
                raise InputValidationError("bad_timestamp", f"field '{check.name}' {exc}") from None
            except TypeError as exc:
                raise InputValidationError("wrong_type", f"field '{check.name}' {exc}") from None
            if check.minimum is not None and value < check.minimum:
                raise InputValidationError(
                    "out_of_range", f"field '{check.name}' is below {check.minimum}"
                )
            if check.maximum is not None and value > check.maximum:
                raise InputValidationError(
                    "out_of_range", f"field '{check.name}' is above {check.maximum}"
                )
            record[check.name] = value
        return record
