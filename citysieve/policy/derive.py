"""A dataset's output schemas, derived from its source schema and policy, never hand-written.

- :func:`anon_record_schema`: one anonymized record per event (``iot.anon.<dataset>``);
- :func:`aggregate_row_schema`: one k-anonymous aggregate row (``iot.open.<dataset>``);
- :func:`arrow_schema`: the Arrow schema of any of them, built once at start-up.

Every derived field carries ``doc``, ``classification`` (after the transform),
``role`` and ``unit`` where it has one, so the data dictionary comes with it.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import fastavro
import pyarrow as pa

from citysieve.errors import PolicyError
from citysieve.policy import avro
from citysieve.policy.classes import Classification, Role
from citysieve.policy.durations import humanize_duration
from citysieve.policy.model import (
    SUBJECT_PSEUDONYM,
    DatasetPolicy,
    FieldTreatment,
    Location,
)

ANON_NAMESPACE: Final = "citysieve.anon"
OPEN_NAMESPACE: Final = "citysieve.open"
_AGGREGATION_WORDS: Final = {
    "sum": "Sum of",
    "mean": "Mean of",
    "min": "Smallest",
    "max": "Largest",
}
_ARROW_TYPES: Final = {
    "string": pa.string(),
    "int": pa.int64(),
    "long": pa.int64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
    "timestamp-millis": pa.timestamp("us", tz="UTC"),
}


def _field(
    name: str,
    avro_type: Any,
    doc: str,
    classification: Classification,
    role: Role,
    unit: str | None = None,
) -> dict[str, Any]:
    field: dict[str, Any] = {
        "name": name,
        "type": avro_type,
        "doc": doc,
        "classification": classification.value,
        "role": role.value,
    }
    if unit:
        field["unit"] = unit
    if avro.is_nullable(avro_type):
        field["default"] = None
    return field


def _record(
    policy: DatasetPolicy, suffix: str, namespace: str, doc: str, fields: list[dict[str, Any]]
) -> dict[str, Any]:
    source_name = str(policy.source_schema.avro["name"]).rsplit(".", 1)[-1]
    record = {
        "type": "record",
        "name": f"{source_name}{suffix}",
        "namespace": namespace,
        "doc": doc,
        "citysieve.dataset": policy.dataset,
        "citysieve.tier": namespace.rsplit(".", 1)[-1],
        "fields": fields,
    }
    _check_derived(policy, record)
    return record


def _check_derived(policy: DatasetPolicy, record: dict[str, Any]) -> None:
    tier = record["citysieve.tier"]
    counts = Counter(field["name"] for field in record["fields"])
    twice = sorted(name for name, count in counts.items() if count > 1)
    if twice:
        raise PolicyError(
            f"the {tier} record would have two columns named '{twice[0]}'; rename the "
            "location group or the source field",
            path=str(policy.policy_path),
            field=twice[0],
        )
    fastavro.parse_schema(copy.deepcopy(record))


# --- the anonymized record ----------------------------------------------------------------------


def _subject_field(policy: DatasetPolicy) -> dict[str, Any]:
    epoch = policy.pseudonym_epoch
    period = humanize_duration(epoch) if epoch is not None else "period"
    return _field(
        SUBJECT_PSEUDONYM,
        "string",
        f"Keyed pseudonym (HMAC-SHA256) of the event's subject, the first non-null of "
        f"{', '.join(policy.subject)}. The key changes every {period}, so a pseudonym links "
        "events within one period only.",
        Classification.SENSITIVE,
        Role.DIRECT_IDENTIFIER,
    )


def _cell_field(policy: DatasetPolicy, location: Location) -> dict[str, Any]:
    lat = policy.source_schema.field(location.lat)
    lon = policy.source_schema.field(location.lon)
    assert lat is not None and lon is not None  # noqa: S101 - checked when the policy loaded
    source_class = Classification.highest((lat.classification, lon.classification))
    public = lat.role is Role.PUBLIC and lon.role is Role.PUBLIC
    return _field(
        location.cell_column,
        avro.like(lat.avro_type if lat.nullable else lon.avro_type, "string"),
        f"H3 cell (resolution {location.resolution}) holding the point ({location.lat}, "
        f"{location.lon}); the exact coordinates are not kept.",
        Classification.lowest((source_class, Classification.SENSITIVE)),
        Role.PUBLIC if public else Role.QUASI_IDENTIFIER,
    )


def _treated_field(treatment: FieldTreatment) -> dict[str, Any]:
    source, spec = treatment.field, treatment.spec
    assert spec is not None  # noqa: S101 - location members are handled by _cell_field
    kept = spec.operator == "keep"
    return _field(
        source.name,
        spec.output_type(source.avro_type),
        source.doc if kept else f"{source.doc.rstrip('.')}; {spec.describe()}.",
        treatment.classification_after,
        source.role,
        source.unit if spec.keeps_unit() or kept else None,
    )


def anon_record_schema(policy: DatasetPolicy) -> dict[str, Any]:
    """The Avro schema of ``iot.anon.<dataset>``: event_id, subject_pseudonym, treated fields."""
    locations = {location.name: location for location in policy.locations}
    fields: list[dict[str, Any]] = []
    for treatment in policy.treatments:
        if treatment.location is not None:
            location = locations.pop(treatment.location, None)
            if location is not None:
                fields.append(_cell_field(policy, location))
        elif not treatment.removed:
            fields.append(_treated_field(treatment))
        if treatment.field.name == "event_id" and policy.has_subject:
            fields.append(_subject_field(policy))
    doc = (
        f"{policy.title}, anonymized: one record per event, identifiers pseudonymized, "
        "free text cleaned, places and times coarsened."
    )
    record = _record(policy, "Anon", ANON_NAMESPACE, doc, fields)
    record["citysieve.subject"] = [SUBJECT_PSEUDONYM] if policy.has_subject else []
    return record


# --- the aggregate row --------------------------------------------------------------------------


def _window_fields(policy: DatasetPolicy) -> list[dict[str, Any]]:
    size = humanize_duration(policy.open.window.size)
    return [
        _field(
            "window_start",
            avro.TIMESTAMP_MICROS,
            f"Start of the window ({size} long, inclusive), UTC.",
            Classification.PUBLIC,
            Role.TIME,
        ),
        _field(
            "window_end",
            avro.TIMESTAMP_MICROS,
            f"End of the window ({size} long, exclusive), UTC.",
            Classification.PUBLIC,
            Role.TIME,
        ),
    ]


def _location_fields(policy: DatasetPolicy, location: Location) -> list[dict[str, Any]]:
    h3 = policy.open.h3
    assert h3 is not None  # noqa: S101 - required when there are locations
    where = "" if location.name == "location" else f" of the {location.name}"
    if policy.has_subject and h3.coarsest < h3.finest:
        cell_doc = (
            f"H3 cell{where}, at resolution {h3.finest} or, where fewer than k subjects were "
            f"there, a parent cell down to resolution {h3.coarsest}."
        )
        resolution_doc = f"H3 resolution of {location.cell_column} ({h3.coarsest} to {h3.finest})."
    else:
        cell_doc = f"H3 cell{where}, at resolution {h3.finest}."
        resolution_doc = f"H3 resolution of {location.cell_column} (always {h3.finest})."
    return [
        _field(
            location.cell_column, "string", cell_doc, Classification.PUBLIC, Role.QUASI_IDENTIFIER
        ),
        _field(
            location.resolution_column,
            "int",
            resolution_doc,
            Classification.PUBLIC,
            Role.QUASI_IDENTIFIER,
        ),
    ]


def _dimension_field(policy: DatasetPolicy, name: str) -> dict[str, Any]:
    source = policy.source_schema.field(name)
    assert source is not None  # noqa: S101 - checked when the policy loaded
    levels = " then ".join(level.describe() for level in policy.open.dimensions[name].levels)
    return _field(
        name,
        ["null", "string"],
        f"{source.doc} Generalized: {levels}.",
        Classification.PUBLIC,
        Role.QUASI_IDENTIFIER,
    )


def _count_fields(policy: DatasetPolicy) -> list[dict[str, Any]]:
    fields = [
        _field(
            "events",
            "long",
            "Number of events in the group.",
            Classification.PUBLIC,
            Role.MEASURE,
        )
    ]
    if policy.has_subject:
        fields.append(
            _field(
                "subjects",
                "long",
                f"Number of distinct subjects ({', '.join(policy.subject)}) in the group; "
                f"always at least k = {policy.open.k}.",
                Classification.PUBLIC,
                Role.MEASURE,
            )
        )
    return fields


def _measure_field(policy: DatasetPolicy, name: str, aggregation: str) -> dict[str, Any]:
    source = policy.source_schema.field(name)
    assert source is not None  # noqa: S101 - checked when the policy loaded
    column = f"{name}_{aggregation}"
    if aggregation == "count":
        doc = f"Number of events with a value of {name} ({source.doc})"
        return _field(column, "long", doc, Classification.PUBLIC, Role.MEASURE)
    words = _AGGREGATION_WORDS.get(aggregation) or f"{aggregation[1:]}th percentile of"
    return _field(
        column,
        ["null", "double"],
        f"{words} {name} in the group ({source.doc})",
        Classification.PUBLIC,
        Role.MEASURE,
        source.unit,
    )


def aggregate_row_schema(policy: DatasetPolicy) -> dict[str, Any]:
    """The Avro schema of ``iot.open.<dataset>``: window, cells, keys, counts, measures."""
    fields = _window_fields(policy)
    for location in policy.locations:
        fields.extend(_location_fields(policy, location))
    fields.extend(_dimension_field(policy, name) for name in policy.open.dimensions)
    fields.extend(_count_fields(policy))
    fields.extend(
        _measure_field(policy, name, aggregation)
        for name, aggregations in policy.open.measures.items()
        for aggregation in aggregations
    )
    k = f"k = {policy.open.k}" if policy.has_subject else "no personal data, so no k"
    doc = f"{policy.title}: aggregates per {humanize_duration(policy.open.window.size)} ({k})."
    record = _record(policy, "Aggregate", OPEN_NAMESPACE, doc, fields)
    record["citysieve.subject"] = []
    return record


# --- Arrow ----------------------------------------------------------------------------------------


def arrow_type(avro_type: Any) -> pa.DataType:
    """string, int64, float64, bool or timestamp('us', 'UTC') for a supported Avro field type."""
    return _ARROW_TYPES[avro.split_type(avro_type)[0]]


def _metadata(field: Mapping[str, Any]) -> dict[bytes, bytes]:
    """Arrow field metadata: the Avro ``doc`` as ``description`` (what Parquet readers and the
    sink's data dictionary look for), plus classification, role, unit and PII type."""
    keys = {"doc": "description", "classification": "classification", "role": "role"}
    keys |= {"unit": "unit", "pii_type": "pii_type"}
    return {
        name.encode(): str(field[key]).encode()
        for key, name in keys.items()
        if field.get(key) is not None
    }


def arrow_schema(avro_schema: Mapping[str, Any]) -> pa.Schema:
    """The Arrow schema of an Avro record; doc, classification, role and unit go to metadata."""
    fields = [
        pa.field(
            field["name"],
            arrow_type(field["type"]),
            nullable=avro.is_nullable(field["type"]),
            metadata=_metadata(field),
        )
        for field in avro_schema["fields"]
    ]
    metadata = {
        ("description" if key == "doc" else key).encode(): str(avro_schema[key]).encode()
        for key in ("doc", "citysieve.dataset", "citysieve.tier")
        if key in avro_schema
    }
    return pa.schema(fields, metadata=metadata)


@dataclass(frozen=True)
class TierSchemas:
    """A dataset's three record shapes, in Avro and Arrow, derived once at start-up."""

    raw_avro: dict[str, Any]
    anon_avro: dict[str, Any]
    open_avro: dict[str, Any]
    raw_arrow: pa.Schema
    anon_arrow: pa.Schema
    open_arrow: pa.Schema


def tier_schemas(policy: DatasetPolicy) -> TierSchemas:
    raw = copy.deepcopy(policy.source_schema.avro)
    anon = anon_record_schema(policy)
    open_row = aggregate_row_schema(policy)
    return TierSchemas(
        raw, anon, open_row, arrow_schema(raw), arrow_schema(anon), arrow_schema(open_row)
    )
