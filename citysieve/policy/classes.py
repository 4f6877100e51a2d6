"""Classifications, field roles and data tiers: the vocabulary every policy uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Classification(StrEnum):
    """The city's four data classes, from least to most restricted."""

    PUBLIC = "public"
    SENSITIVE = "sensitive"
    PRIVATE = "private"
    CONFIDENTIAL = "confidential"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def at_least(self, other: Classification) -> bool:
        return self.rank >= other.rank

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @classmethod
    def highest(cls, classes: Iterable[Classification]) -> Classification:
        """The most restricted of ``classes`` (Public for none)."""
        return max(classes, key=lambda c: c.rank, default=cls.PUBLIC)

    @classmethod
    def lowest(cls, classes: Iterable[Classification]) -> Classification:
        return min(classes, key=lambda c: c.rank, default=cls.PUBLIC)


_ORDER: Final = tuple(Classification)


class Role(StrEnum):
    """What a field is, which decides how it is treated (see docs/policies.md)."""

    DIRECT_IDENTIFIER = "direct_identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    SENSITIVE = "sensitive"
    MEASURE = "measure"
    FREE_TEXT = "free_text"
    PUBLIC = "public"
    TIME = "time"


class Tier(StrEnum):
    RAW = "raw"
    DLQ = "dlq"
    ANON = "anon"
    OPEN = "open"
    AUDIT = "audit"


@dataclass(frozen=True)
class TierInfo:
    """A tier's topic, the highest class it may carry and who may read it."""

    tier: Tier
    topic: str
    ceiling: Classification
    readers: str
    holds: str

    def topic_for(self, dataset: str) -> str:
        return self.topic.format(dataset=dataset)


TIERS: Final[dict[Tier, TierInfo]] = {
    Tier.RAW: TierInfo(
        Tier.RAW,
        "iot.raw.{dataset}",
        Classification.CONFIDENTIAL,
        "the pipeline only",
        "events as the sensors send them",
    ),
    Tier.DLQ: TierInfo(
        Tier.DLQ,
        "iot.dlq.{dataset}",
        Classification.CONFIDENTIAL,
        "the pipeline only",
        "events that failed validation, untouched, with the reason",
    ),
    Tier.ANON: TierInfo(
        Tier.ANON,
        "iot.anon.{dataset}",
        Classification.SENSITIVE,
        "the city's analysts",
        "one record per event, identifiers pseudonymized, places and times coarsened",
    ),
    Tier.OPEN: TierInfo(
        Tier.OPEN,
        "iot.open.{dataset}",
        Classification.PUBLIC,
        "everyone (open data)",
        "counts and statistics per time window and area, only for groups of at least k people",
    ),
    Tier.AUDIT: TierInfo(
        Tier.AUDIT,
        "iot.audit",
        Classification.PRIVATE,
        "the privacy officer",
        "exports, erasures, opt-outs, policy loads and suppression counts (no personal data)",
    ),
}
