"""Reading a dataset's Avro schema and checking the citysieve attributes on it.

The record says which dataset it is (``citysieve.dataset``) and which fields
name the subject k counts (``citysieve.subject``); every field says its
``classification``, ``role``, ``doc`` and, where it holds PII, its ``pii_type``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import fastavro
from fastavro.schema import SchemaParseException, UnknownType

from citysieve.policy import avro
from citysieve.policy.classes import Classification, Role
from citysieve.policy.findings import Findings
from citysieve.policy.model import SUBJECT_PSEUDONYM, DatasetSchema, SchemaField
from citysieve.policy.sources import JsonDocument

_PII_TYPE: Final = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CLASSES: Final = ", ".join(c.value for c in Classification)
_ROLES: Final = ", ".join(r.value for r in Role)
_E = TypeVar("_E", Classification, Role)
RESERVED_NAMES: Final = frozenset(
    {SUBJECT_PSEUDONYM, "window_start", "window_end", "events", "subjects"}
)


def parse_schema(doc: JsonDocument, dataset: str, findings: Findings) -> DatasetSchema | None:
    """The validated schema, or None after recording why it is refused."""
    before = len(findings.errors)
    data = doc.data
    if not isinstance(data, dict) or data.get("type") != "record":
        findings.error(
            'a dataset schema is one Avro record: {"type": "record", "name": ..., "fields": [...]}',
            path=doc.path,
            line=1,
        )
        return None
    _check_avro(doc, findings)
    _check_dataset(doc, dataset, findings)
    subject = _subject(doc, findings)
    fields = tuple(
        parsed
        for raw in data.get("fields") or ()
        if (parsed := _field(doc, raw, findings)) is not None
    )
    if len(findings.errors) > before:
        return None
    schema = DatasetSchema(
        dataset=dataset,
        path=doc.path,
        avro=copy.deepcopy(data),
        subject=subject,
        subject_line=doc.key_line("citysieve.subject"),
        fields=fields,
    )
    _check_event_id(schema, doc, findings)
    _check_subject(schema, doc, findings)
    return schema if len(findings.errors) == before else None


def _check_avro(doc: JsonDocument, findings: Findings) -> None:
    try:
        fastavro.parse_schema(copy.deepcopy(doc.data))
    except (SchemaParseException, UnknownType, ValueError, TypeError, KeyError) as exc:
        findings.error(f"not a valid Avro schema ({exc}); fix it", path=doc.path, line=1)


def _check_dataset(doc: JsonDocument, dataset: str, findings: Findings) -> None:
    declared = doc.data.get("citysieve.dataset")
    if declared != dataset:
        findings.error(
            f'the schema declares "citysieve.dataset": {declared!r} but the policy of '
            f'\'{dataset}\' points at it; set "citysieve.dataset": "{dataset}"',
            path=doc.path,
            line=doc.key_line("citysieve.dataset") or 1,
        )


def _subject(doc: JsonDocument, findings: Findings) -> tuple[str, ...]:
    subject = doc.data.get("citysieve.subject")
    if not isinstance(subject, list) or not all(isinstance(name, str) for name in subject):
        findings.error(
            'add "citysieve.subject": the list of fields naming the person k counts, first '
            "non-null wins (an empty list when the dataset holds no personal data)",
            path=doc.path,
            line=doc.key_line("citysieve.subject") or 1,
        )
        return ()
    return tuple(subject)


def _field(doc: JsonDocument, raw: Any, findings: Findings) -> SchemaField | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        return None  # fastavro has already refused it
    name = raw["name"]
    line = doc.field_line(name)
    before = len(findings.errors)

    def refuse(message: str) -> None:
        findings.error(message, path=doc.path, line=line, field=name)

    if name in RESERVED_NAMES:
        refuse(f"'{name}' is a name citysieve gives to derived columns; rename the field")
    classification = _enum(raw, "classification", Classification, _CLASSES, refuse)
    role = _enum(raw, "role", Role, _ROLES, refuse)
    if not isinstance(raw.get("doc"), str) or not raw["doc"].strip():
        refuse('has no "doc"; describe the field in a sentence (it becomes the data dictionary)')
    try:
        avro.split_type(raw.get("type"))
    except ValueError as exc:
        refuse(f"{exc}; use {avro.SUPPORTED_TYPES_HINT}")
    pii_type = raw.get("pii_type")
    if pii_type is not None and not (isinstance(pii_type, str) and _PII_TYPE.match(pii_type)):
        refuse('"pii_type" should be a Presidio entity name such as PHONE_NUMBER or PERSON')
    if (
        isinstance(pii_type, str)
        and classification is not None
        and not classification.at_least(Classification.PRIVATE)
    ):
        refuse(
            f"holds PII ({pii_type}) but is classified {classification.value}; PII is at "
            'least private: set "classification": "private" (or "confidential")'
        )
    unit = raw.get("unit")
    if unit is not None and not isinstance(unit, str):
        refuse('"unit" should be a string such as "dBm" or "kWh"')
    if len(findings.errors) > before or classification is None or role is None:
        return None
    return SchemaField(
        name=name,
        avro_type=raw["type"],
        doc=raw["doc"].strip(),
        classification=classification,
        role=role,
        pii_type=pii_type,
        unit=unit,
        line=line,
    )


def _enum(
    raw: Mapping[str, Any], key: str, enum: type[_E], choices: str, refuse: Callable[[str], None]
) -> _E | None:
    value = raw.get(key)
    if value is None:
        refuse(f'has no "{key}"; add one of {choices}')
        return None
    try:
        return enum(value)
    except ValueError:
        refuse(f"unknown {key} {value!r}; use one of {choices}")
        return None


def _check_event_id(schema: DatasetSchema, doc: JsonDocument, findings: Findings) -> None:
    event_id = schema.field("event_id")
    if event_id is None or avro.split_type(event_id.avro_type) != ("string", False):
        findings.error(
            'needs an "event_id" field of type "string" (a unique id per event; the '
            "anonymized record keeps it)",
            path=doc.path,
            line=doc.key_line("fields") or 1,
        )


def _check_subject(schema: DatasetSchema, doc: JsonDocument, findings: Findings) -> None:
    line = schema.subject_line
    for name in schema.subject:
        subject_field = schema.field(name)
        if subject_field is None:
            findings.error(
                f"subject field '{name}' is not a field of this schema; fix "
                '"citysieve.subject" or add the field',
                path=doc.path,
                line=line,
                field=name,
            )
        elif subject_field.role is not Role.DIRECT_IDENTIFIER:
            findings.error(
                f"is a subject but has role {subject_field.role.value}; a subject is a "
                'person-linked key: set "role": "direct_identifier"',
                path=doc.path,
                line=subject_field.line,
                field=name,
            )
    last = schema.field(schema.subject[-1]) if schema.subject else None
    if last is not None and last.nullable:
        findings.error(
            "is the last subject field but is nullable, so an event could have no subject; "
            'end "citysieve.subject" with a field that is never null (e.g. the record\'s own id)',
            path=doc.path,
            line=line,
            field=last.name,
        )
