"""The classifier: the class of every field and of a whole record. Pure.

- A declared field takes the class its schema declares.
- A field that arrives but is not declared (schema drift in JSON input) is
  auto-classified from its name and a sample of its values: Private (or
  Confidential for high-risk types such as US_SSN) when PII is found, and
  Confidential when nothing is found, because unknown content is treated as the
  worst case. It is kept out of the anon and open tiers until it is declared,
  and an ``undeclared_field`` audit event says so, naming the PII *types*
  found, never a value.
- A record's class is at least its highest field class, and carrying a place,
  a time and a device or person key together raises it to at least Private.
  :func:`record_class` works on any set of field descriptors, so it applies to
  the raw schema, the anon record and the aggregate row alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from citysieve.policy.classes import Classification, Role
from citysieve.policy.model import DatasetSchema

UNDECLARED_FIELD: Final = "undeclared_field"
SAMPLE_LIMIT: Final = 50
_TEXT_LIMIT: Final = 1_000


class ValueScanner(Protocol):
    """Finds PII entity types in texts (the Presidio engine of ``transforms.pii`` is one)."""

    def entity_types(self, texts: Sequence[str]) -> set[str]: ...


# --- hints from a field's name --------------------------------------------------------------------

ACCOUNT_ID: Final = "ACCOUNT_ID"  # citysieve's name-hint type for user and account ids
NAME_HINTS: Final[dict[str, str]] = {
    **dict.fromkeys(("mac", "macaddr", "macaddress", "bssid"), "MAC_ADDRESS"),
    **dict.fromkeys(
        ("phone", "phonenumber", "mobile", "msisdn", "tel", "telephone"), "PHONE_NUMBER"
    ),
    **dict.fromkeys(("email", "emailaddress", "mail"), "EMAIL_ADDRESS"),
    **dict.fromkeys(("plate", "licenseplate", "numberplate", "lpn"), "US_LICENSE_PLATE"),
    **dict.fromkeys(
        ("name", "firstname", "lastname", "fullname", "surname", "givenname"), "PERSON"
    ),
    **dict.fromkeys(
        ("address", "addr", "street", "streetaddress", "homeaddress"), "STREET_ADDRESS"
    ),
    **dict.fromkeys(
        ("lat", "latitude", "lon", "lng", "longitude", "geo", "gps", "coords", "location"),
        "LOCATION",
    ),
    **dict.fromkeys(("ssn", "socialsecurity"), "US_SSN"),
    **dict.fromkeys(("imei", "imsi"), "IMEI"),
    **dict.fromkeys(("ip", "ipaddr", "ipaddress", "ipv4", "ipv6"), "IP_ADDRESS"),
    **dict.fromkeys(("user", "userid", "username", "account", "accountid", "customer"), ACCOUNT_ID),
    **dict.fromkeys(("card", "cardnumber", "creditcard"), "CREDIT_CARD"),
}
CONFIDENTIAL_TYPES: Final = frozenset(
    {
        "US_SSN",
        "US_ITIN",
        "US_PASSPORT",
        "US_DRIVER_LICENSE",
        "US_BANK_NUMBER",
        "IBAN_CODE",
        "CREDIT_CARD",
        "CRYPTO",
        "MEDICAL_LICENSE",
    }
)
PLACE_TYPES: Final = frozenset({"LOCATION", "STREET_ADDRESS"})
KEY_TYPES: Final = frozenset(
    {
        "MAC_ADDRESS",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "US_LICENSE_PLATE",
        "PERSON",
        "US_SSN",
        "IMEI",
        "IP_ADDRESS",
        "VIN",
        ACCOUNT_ID,
        "CREDIT_CARD",
    }
)
_PLACE_TOKENS: Final = frozenset({"h3", "zip", "zipcode", "postcode", "postal", "geohash"})
_TIME_TOKENS: Final = frozenset({"at", "time", "timestamp", "date", "datetime", "ts"})


def name_tokens(name: str) -> list[str]:
    """``reporterPhone_number`` -> ``["reporter", "phone", "number"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [token for token in re.split(r"[^a-z0-9]+", spaced.lower()) if token]


def name_hints(name: str) -> frozenset[str]:
    """PII types a field's name suggests (``mac_address`` -> MAC_ADDRESS, not also an address)."""
    tokens, found, index = name_tokens(name), set(), 0
    while index < len(tokens):
        pair = "".join(tokens[index : index + 2])
        if index + 1 < len(tokens) and pair in NAME_HINTS:
            found.add(NAME_HINTS[pair])
            index += 2
            continue
        if tokens[index] in NAME_HINTS:
            found.add(NAME_HINTS[tokens[index]])
        index += 1
    return frozenset(found)


# --- record class --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldDescriptor:
    """What the record class needs to know of a field. ``role`` is None for undeclared fields."""

    name: str
    classification: Classification
    role: Role | None = None
    pii_type: str | None = None

    @classmethod
    def from_avro(cls, field: Mapping[str, Any]) -> FieldDescriptor:
        role = field.get("role")
        return cls(
            name=str(field["name"]),
            classification=Classification(field.get("classification", "confidential")),
            role=Role(role) if role is not None else None,
            pii_type=field.get("pii_type"),
        )

    def _types(self, *, hints: bool) -> frozenset[str]:
        hinted = name_hints(self.name) if hints else frozenset()
        return hinted | ({self.pii_type} if self.pii_type else frozenset())

    @property
    def is_place(self) -> bool:
        if self._types(hints=True) & PLACE_TYPES:
            return True
        return not _PLACE_TOKENS.isdisjoint(name_tokens(self.name))

    @property
    def is_time(self) -> bool:
        if self.role is not None:
            return self.role is Role.TIME
        tokens = name_tokens(self.name)
        return bool(tokens) and tokens[-1] in _TIME_TOKENS

    @property
    def is_key(self) -> bool:
        """A device or person key: a direct identifier or, undeclared, a name or PII hinting one."""
        if self.role is not None:
            return self.role is Role.DIRECT_IDENTIFIER
        return bool(self._types(hints=True) & KEY_TYPES)


@dataclass(frozen=True)
class RecordClass:
    classification: Classification
    highest_field: Classification
    combination: tuple[str, str, str] | None = None  # (place, time, key) that raised it

    @property
    def reason(self) -> str:
        reason = f"highest field class {self.highest_field.value}"
        if self.combination is not None:
            place, time, key = self.combination
            reason += f"; place ({place}), time ({time}) and a key ({key}) together"
        return reason


def record_class(fields: Iterable[FieldDescriptor]) -> RecordClass:
    """At least the highest field class; place + time + device/person key -> at least Private."""
    fields = tuple(fields)
    highest = Classification.highest(f.classification for f in fields)
    place = next((f.name for f in fields if f.is_place), None)
    time = next((f.name for f in fields if f.is_time), None)
    key = next((f.name for f in fields if f.is_key), None)
    if place and time and key:
        combined = Classification.highest((highest, Classification.PRIVATE))
        return RecordClass(combined, highest, (place, time, key))
    return RecordClass(highest, highest)


def schema_record_class(avro_schema: Mapping[str, Any]) -> RecordClass:
    """The class of a record of ``avro_schema`` (a source, anon or aggregate schema)."""
    return record_class(FieldDescriptor.from_avro(field) for field in avro_schema["fields"])


# --- undeclared fields ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UndeclaredField:
    """An undeclared field's assigned class and the PII types found (never its values)."""

    dataset: str
    name: str
    classification: Classification
    pii_types: frozenset[str]

    def audit_event(self) -> dict[str, Any]:
        """The ``undeclared_field`` event for the audit stream (the caller adds ``at``)."""
        return {
            "type": UNDECLARED_FIELD,
            "dataset": self.dataset,
            "field": self.name,
            "classification": self.classification.value,
            "pii_types": sorted(self.pii_types),
            "action": "withheld from the anon and open tiers until declared in the schema",
        }

    @property
    def descriptor(self) -> FieldDescriptor:
        pii = min(self.pii_types) if len(self.pii_types) == 1 else None
        return FieldDescriptor(self.name, self.classification, None, pii)


def _texts(sample: Iterable[object]) -> list[str]:
    texts = []
    for value in sample:
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        texts.append(text[:_TEXT_LIMIT])
        if len(texts) == SAMPLE_LIMIT:
            break
    return texts


def classify_undeclared(
    dataset: str, name: str, sample: Iterable[object], scanner: ValueScanner | None = None
) -> UndeclaredField:
    """Class an undeclared field from its name and (with a scanner) a sample of its values."""
    found = set(name_hints(name))
    texts = _texts(sample)
    if scanner is not None and texts:
        found |= scanner.entity_types(texts)
    if not found or found & CONFIDENTIAL_TYPES:
        classification = Classification.CONFIDENTIAL
    else:
        classification = Classification.PRIVATE
    return UndeclaredField(dataset, name, classification, frozenset(found))


@dataclass(frozen=True)
class FieldClasses:
    """The classes of one batch's fields, declared and undeclared, and of its records."""

    declared: dict[str, Classification]
    undeclared: tuple[UndeclaredField, ...]
    record: RecordClass

    @property
    def withheld(self) -> frozenset[str]:
        """Fields kept out of the anon and open tiers (every undeclared one)."""
        return frozenset(field.name for field in self.undeclared)

    def audit_events(self) -> list[dict[str, Any]]:
        return [field.audit_event() for field in self.undeclared]


def classify_fields(
    schema: DatasetSchema,
    samples: Mapping[str, Iterable[object]],
    scanner: ValueScanner | None = None,
) -> FieldClasses:
    """Classes for the declared fields and for every undeclared name in ``samples``.

    ``samples`` maps field names seen in the input to some of their values
    (e.g. ``ParseResult.undeclared``); values of declared fields are not read.
    """
    declared = {field.name: field.classification for field in schema.fields}
    undeclared = tuple(
        classify_undeclared(schema.dataset, name, values, scanner)
        for name, values in sorted(samples.items())
        if name not in declared
    )
    descriptors = [
        FieldDescriptor(f.name, f.classification, f.role, f.pii_type) for f in schema.fields
    ]
    descriptors.extend(field.descriptor for field in undeclared)
    return FieldClasses(declared, undeclared, record_class(descriptors))
