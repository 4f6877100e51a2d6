"""The PII entity names the engine knows, and its defaults (importing this loads no NLP)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

# spaCy (OntoNotes) labels to Presidio entity names, as in Presidio's default config.
NER_LABELS: Final = {
    "PERSON": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "NORP": "NRP",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
NER_ENTITIES: Final = frozenset(NER_LABELS.values())

# Found by pattern recognizers (transforms.pii.catalogue maps each to its recognizer).
PATTERN_ENTITIES: Final = frozenset(
    {
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "IP_ADDRESS",
        "MAC_ADDRESS",
        "URL",
        "CREDIT_CARD",
        "IBAN_CODE",
        "CRYPTO",
        "US_SSN",
        "US_ITIN",
        "US_PASSPORT",
        "US_BANK_NUMBER",
        "US_DRIVER_LICENSE",
        "US_LICENSE_PLATE",
        "STREET_ADDRESS",
        "IMEI",
        "VIN",
    }
)
SUPPORTED_ENTITIES: Final = PATTERN_ENTITIES | NER_ENTITIES

# Results scoring below this are dropped (Presidio's phone matches score 0.4;
# weak patterns, such as a plate shape with no "plate" nearby, 0.1).
DEFAULT_SCORE_THRESHOLD: Final = 0.35

# What a free-text field is scanned for when its policy names no entities.
DEFAULT_FREE_TEXT_ENTITIES: Final = (
    "PERSON",
    "PHONE_NUMBER",
    "EMAIL_ADDRESS",
    "US_LICENSE_PLATE",
    "STREET_ADDRESS",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "IMEI",
    "VIN",
    "US_SSN",
    "CREDIT_CARD",
)


def entity_problem(entities: Iterable[str]) -> str | None:
    """What is wrong with a list of entity names, or None when every name is known."""
    requested = frozenset(entities)
    if not requested:
        return "the list of entities to detect is empty; name at least one"
    unknown = sorted(requested - SUPPORTED_ENTITIES)
    if unknown:
        return f"unknown PII entities {unknown}; use some of {sorted(SUPPORTED_ENTITIES)}"
    return None
