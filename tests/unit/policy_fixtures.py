"""A small valid dataset ("tiny") to break in policy tests, and helpers to locate lines."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

TS = {"type": "long", "logicalType": "timestamp-micros"}


def _field(name: str, type_: Any, cls: str, role: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "doc": f"The {name}.",
        "classification": cls,
        "role": role,
        **extra,
    }


TINY_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Tiny",
    "namespace": "citysieve.raw",
    "doc": "A tiny test dataset.",
    "citysieve.dataset": "tiny",
    "citysieve.subject": ["mac"],
    "fields": [
        _field("event_id", "string", "public", "public"),
        _field("sensor_id", "string", "public", "public"),
        _field("observed_at", TS, "sensitive", "time"),
        _field("mac", "string", "private", "direct_identifier", pii_type="MAC_ADDRESS"),
        _field("note", ["null", "string"], "private", "free_text", default=None),
        _field("zip", "string", "sensitive", "quasi_identifier"),
        _field("reading", "double", "public", "measure", unit="ppm"),
        _field("lat", "double", "sensitive", "quasi_identifier"),
        _field("lon", "double", "sensitive", "quasi_identifier"),
    ],
}

TINY_POLICY = """\
dataset: tiny
schema: tiny.avsc
title: Tiny
purpose: Test the loader.
collection: {what: Readings., how: Sensors., device: A sensor., placement: Poles.}
legal_basis: Test programme.
contact: {name: Privacy office, email: privacy@city.example}
opt_out: {allowed: true, how: Ask.}
erasure: {how: Ask.}
pseudonym_epoch: P30D
event_time: observed_at
anon:
  locations:
    location: {lat: lat, lon: lon, resolution: 10}
  fields:
    mac: {operator: pseudonymize}
    note: {operator: presidio}
    zip: {operator: generalize, kind: zip_prefix, length: 5}
    observed_at: {operator: generalize, kind: time_bucket, size: PT1M}
open:
  k: 5
  window: {size: PT15M, allowed_lateness: PT5M}
  h3: {finest: 9, coarsest: 7}
  dimensions:
    zip:
      levels: [{kind: prefix, length: 3}, all]
  measures:
    reading: [mean, max]
  licence: CC-BY-4.0
retention:
  raw: PT24H
  dlq: PT24H
  anon: P30D
  open: P3650D
  audit: P3650D
topics:
  partitions: 1
"""

SchemaEdit = Callable[[dict[str, Any]], None]


def set_field(name: str, **changes: Any) -> SchemaEdit:
    """A schema edit that changes (or, with None, removes) attributes of one field."""

    def edit(schema: dict[str, Any]) -> None:
        field = next(f for f in schema["fields"] if f["name"] == name)
        for key, value in changes.items():
            if value is None:
                field.pop(key, None)
            else:
                field[key] = value

    return edit


def set_record(**changes: Any) -> SchemaEdit:
    def edit(schema: dict[str, Any]) -> None:
        schema.update({key.replace("__", "."): value for key, value in changes.items()})

    return edit


def write_dataset(
    root: Path,
    policy: str = TINY_POLICY,
    schema_edits: tuple[SchemaEdit, ...] = (),
) -> tuple[Path, Path]:
    """``root/policies/tiny.yaml`` and ``root/schemas/tiny.avsc``; returns both paths."""
    schema = copy.deepcopy(TINY_SCHEMA)
    for edit in schema_edits:
        edit(schema)
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "schemas").mkdir(parents=True, exist_ok=True)
    policy_path = root / "policies" / "tiny.yaml"
    schema_path = root / "schemas" / "tiny.avsc"
    policy_path.write_text(policy, encoding="utf-8")
    schema_path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return policy_path, schema_path


def line_of(path: Path, needle: str) -> int:
    """The 1-based number of the first line containing ``needle`` (being it, if it ends in \\n)."""
    whole = needle.endswith("\n")
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if (text == needle[:-1]) if whole else (needle in text):
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def edit_policy(*replacements: tuple[str, str]) -> str:
    text = TINY_POLICY
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text
