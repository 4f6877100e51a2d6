"""Which entities the engine can find, and the recognizer that finds each.

The engine loads only the recognizers for the entities a policy asks for. NER
entities (PERSON, LOCATION, NRP, DATE_TIME) come from spaCy through
:class:`presidio_analyzer.predefined_recognizers.SpacyRecognizer`; the rest
from pattern recognizers, Presidio's own where they serve and citysieve's
(:mod:`transforms.pii.recognizers`) where Presidio has none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from presidio_analyzer import EntityRecognizer
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    CryptoRecognizer,
    IbanRecognizer,
    IpRecognizer,
    MacAddressRecognizer,
    PhoneRecognizer,
    UrlRecognizer,
    UsBankRecognizer,
    UsItinRecognizer,
    UsLicenseRecognizer,
    UsPassportRecognizer,
    UsSsnRecognizer,
)

from citysieve.errors import PolicyError
from transforms.pii.entities import (  # noqa: F401 - names re-exported for callers
    DEFAULT_FREE_TEXT_ENTITIES,
    PATTERN_ENTITIES,
    SUPPORTED_ENTITIES,
    entity_problem,
)
from transforms.pii.recognizers import (
    ImeiRecognizer,
    OfflineEmailRecognizer,
    UsLicensePlateRecognizer,
    UsStreetAddressRecognizer,
    VinRecognizer,
)

# Residents of the city type US numbers; "+" numbers of any country are still
# found (libphonenumber parses them whatever the default region). Presidio's
# default tries eight regions, which costs eight passes per text.
PHONE_REGIONS: Final = ("US",)


def _phone() -> EntityRecognizer:
    return PhoneRecognizer(supported_regions=PHONE_REGIONS, leniency=1)


PATTERN_RECOGNIZERS: Final[dict[str, Callable[[], EntityRecognizer]]] = {
    "EMAIL_ADDRESS": OfflineEmailRecognizer,
    "PHONE_NUMBER": _phone,
    "IP_ADDRESS": IpRecognizer,
    "MAC_ADDRESS": MacAddressRecognizer,
    "URL": UrlRecognizer,
    "CREDIT_CARD": CreditCardRecognizer,
    "IBAN_CODE": IbanRecognizer,
    "CRYPTO": CryptoRecognizer,
    "US_SSN": UsSsnRecognizer,
    "US_ITIN": UsItinRecognizer,
    "US_PASSPORT": UsPassportRecognizer,
    "US_BANK_NUMBER": UsBankRecognizer,
    "US_DRIVER_LICENSE": UsLicenseRecognizer,
    UsLicensePlateRecognizer.ENTITY: UsLicensePlateRecognizer,
    UsStreetAddressRecognizer.ENTITY: UsStreetAddressRecognizer,
    ImeiRecognizer.ENTITY: ImeiRecognizer,
    VinRecognizer.ENTITY: VinRecognizer,
}

if frozenset(PATTERN_RECOGNIZERS) != PATTERN_ENTITIES:  # pragma: no cover - a coding slip
    raise RuntimeError("transforms.pii.entities.PATTERN_ENTITIES and the catalogue disagree")


def check_entities(entities: Iterable[str]) -> frozenset[str]:
    """The requested entity names, refused with a PolicyError if any is unknown."""
    requested = frozenset(entities)
    problem = entity_problem(requested)
    if problem:
        raise PolicyError(problem)
    return requested


def pattern_recognizers(entities: Iterable[str]) -> list[EntityRecognizer]:
    """One fresh recognizer per requested non-NER entity."""
    return [
        PATTERN_RECOGNIZERS[entity]()
        for entity in sorted(set(entities))
        if entity in PATTERN_RECOGNIZERS
    ]
