"""The detection engine: Presidio's analyzer, built once, fed in batches.

What makes it fast enough for a stream (perf/bench_pii.py measures each step
against plain Presidio on the same texts):

1. only the recognizers for the entities the policy asks for;
2. spaCy with NER only, run through ``nlp.pipe`` on the batch
   (:class:`transforms.pii.nlp.NerOnlySpacyEngine`), and not at all on texts
   that cannot hold a name (:func:`transforms.pii.nlp.might_hold_a_name`);
3. phone numbers matched for the US region only (plus any ``+`` number) instead
   of Presidio's eight regions;
4. an LRU cache of results, keyed by the text, for the values a stream repeats;
5. the replacement done here, once per text, from the resolved spans, instead
   of building anonymizer operators per entity per call.

Results never leave this module with the text they came from except as spans.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult

from transforms.pii.catalogue import check_entities, pattern_recognizers
from transforms.pii.entities import (
    DEFAULT_FREE_TEXT_ENTITIES,
    DEFAULT_SCORE_THRESHOLD,
    NER_ENTITIES,
)
from transforms.pii.names import CheckedSpacyRecognizer, PersonContextRecognizer
from transforms.pii.nlp import (
    DEFAULT_MODEL,
    LANGUAGE,
    NER_DEFAULT_SCORE,
    NerOnlySpacyEngine,
)

DEFAULT_CACHE_SIZE: Final = 16_384
# Presidio's analyzer logs the words around each match at DEBUG ("Context list
# is: maria gonzalez 212 ..."): PII in logs. Its logger never goes below WARNING.
PRESIDIO_LOGGER: Final = "presidio-analyzer"


@dataclass(frozen=True, slots=True)
class Detection:
    """One PII span found in a text: the type, the character offsets, the score."""

    entity_type: str
    start: int
    end: int
    score: float


@dataclass(slots=True)
class EngineStats:
    """Counters since the engine was built (counts only, never text)."""

    texts: int = 0
    cache_hits: int = 0
    analyzed: int = 0


@dataclass(frozen=True, slots=True)
class Redaction:
    """Texts with PII replaced by ``<TYPE>`` placeholders, and what was found, by type."""

    texts: list[str | None]
    found: Counter[str]


# Presidio's credit-card check takes any Luhn-valid run of 12-19 digits; when a
# more specific checksum (an IMEI) claims the same digits as strongly, it wins.
_LOSES_TIES: Final = frozenset({"CREDIT_CARD"})


def _precedence(detection: Detection) -> tuple[int, float, int, int]:
    # A pattern match (plate, address, phone) is more specific than an NER guess
    # over the same characters: spaCy tags "Main St" or "Taxi R90-SXS" PERSON.
    from_patterns = 0 if detection.entity_type in NER_ENTITIES else 1
    specific = 0 if detection.entity_type in _LOSES_TIES else 1
    return (from_patterns, detection.score, detection.end - detection.start, specific)


def resolve_overlaps(results: Iterable[Detection]) -> tuple[Detection, ...]:
    """Non-overlapping spans covering every character any result covered, in text order.

    Overlapping results merge into their union, so a placeholder never leaves
    part of a value behind. The union takes the type of the strongest member:
    pattern matches before NER entities, then the higher score, then the longer
    span (``123 Main St`` stays an address although spaCy calls ``Main St`` a
    person).
    """
    ordered = sorted(results, key=lambda d: (d.start, -d.end))
    merged: list[Detection] = []
    for current in ordered:
        if merged and current.start < merged[-1].end:
            previous = merged[-1]
            winner = max(previous, current, key=_precedence)
            merged[-1] = Detection(
                winner.entity_type,
                previous.start,
                max(previous.end, current.end),
                winner.score,
            )
        else:
            merged.append(current)
    return tuple(merged)


def replace_spans(text: str, detections: Sequence[Detection]) -> str:
    """``text`` with each (resolved, sorted) span replaced by ``<ENTITY_TYPE>``."""
    if not detections:
        return text
    parts: list[str] = []
    cursor = 0
    for detection in detections:
        parts.append(text[cursor : detection.start])
        parts.append(f"<{detection.entity_type}>")
        cursor = detection.end
    parts.append(text[cursor:])
    return "".join(parts)


class _LruCache:
    """A bounded mapping that forgets the least recently used text first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[str, tuple[Detection, ...]] = OrderedDict()

    def get(self, text: str) -> tuple[Detection, ...] | None:
        found = self._data.get(text)
        if found is not None:
            self._data.move_to_end(text)
        return found

    def put(self, text: str, detections: tuple[Detection, ...]) -> None:
        if self.size <= 0:
            return
        self._data[text] = detections
        self._data.move_to_end(text)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


class PiiEngine:
    """Presidio analyzer for a fixed set of entities; build once, call per batch.

    >>> engine = PiiEngine(["PERSON", "PHONE_NUMBER", "EMAIL_ADDRESS"])
    >>> engine.entity_types(["My name is Maria Gonzalez, call (212) 555-0199."])
    {'PERSON', 'PHONE_NUMBER'}

    ``entity_types`` is the ValueScanner protocol the field classifier uses.
    """

    def __init__(
        self,
        entities: Iterable[str] = DEFAULT_FREE_TEXT_ENTITIES,
        *,
        model: str = DEFAULT_MODEL,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        cache_size: int = DEFAULT_CACHE_SIZE,
        batch_size: int = 256,
        prefilter: bool = True,
    ) -> None:
        self.entities = check_entities(entities)
        self.score_threshold = score_threshold
        presidio_logger = logging.getLogger(PRESIDIO_LOGGER)
        presidio_logger.setLevel(max(presidio_logger.getEffectiveLevel(), logging.WARNING))
        self.nlp_engine = NerOnlySpacyEngine(
            self.entities, model=model, batch_size=batch_size, prefilter=prefilter
        )
        self.nlp_engine.load()
        recognizers = pattern_recognizers(self.entities)
        if self.nlp_engine.entities:
            recognizers.append(
                CheckedSpacyRecognizer(
                    supported_entities=sorted(self.nlp_engine.entities),
                    ner_strength=NER_DEFAULT_SCORE,
                )
            )
        if PersonContextRecognizer.ENTITY in self.entities:
            recognizers.append(PersonContextRecognizer())
        registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[LANGUAGE])
        self.analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=self.nlp_engine,
            supported_languages=[LANGUAGE],
            default_score_threshold=score_threshold,
        )
        self._entity_list = sorted(self.entities)
        self._cache = _LruCache(cache_size)
        self.stats = EngineStats()

    # --- detection -----------------------------------------------------------
    def analyze(self, texts: Sequence[str | None]) -> list[tuple[Detection, ...]]:
        """Resolved PII spans for each text (empty for None or blank), in input order."""
        self.stats.texts += len(texts)
        found: dict[str, tuple[Detection, ...]] = {}
        missing: list[str] = []
        for text in texts:
            if not text or text in found:
                continue
            cached = self._cache.get(text)
            if cached is None:
                found[text] = ()
                missing.append(text)
            else:
                self.stats.cache_hits += 1
                found[text] = cached
        if missing:
            self.stats.analyzed += len(missing)
            for text, artifacts in zip(missing, self.nlp_engine.artifacts(missing), strict=True):
                results = self.analyzer.analyze(
                    text=text,
                    language=LANGUAGE,
                    entities=self._entity_list,
                    nlp_artifacts=artifacts,
                    score_threshold=self.score_threshold,
                )
                detections = resolve_overlaps(_to_detections(results))
                found[text] = detections
                self._cache.put(text, detections)
        return [found[text] if text else () for text in texts]

    def entity_types(self, texts: Iterable[str | None]) -> set[str]:
        """The entity types present anywhere in ``texts`` (the classifier's ValueScanner)."""
        return {
            detection.entity_type
            for detections in self.analyze(list(texts))
            for detection in detections
        }

    # --- anonymization -------------------------------------------------------
    def redact(self, texts: Sequence[str | None]) -> Redaction:
        """Each text with its PII replaced by typed placeholders such as ``<PERSON>``."""
        found: Counter[str] = Counter()
        out: list[str | None] = []
        for text, detections in zip(texts, self.analyze(texts), strict=True):
            found.update(detection.entity_type for detection in detections)
            out.append(None if text is None else replace_spans(text, detections))
        return Redaction(out, found)


def _to_detections(results: Iterable[RecognizerResult]) -> list[Detection]:
    return [
        Detection(result.entity_type, result.start, result.end, result.score) for result in results
    ]


@functools.lru_cache(maxsize=8)
def shared_engine(
    entities: frozenset[str], score_threshold: float = DEFAULT_SCORE_THRESHOLD
) -> PiiEngine:
    """The process's engine for this set of entities (built on first use, then reused).

    Operators and the classifier ask here, so a worker loads spaCy once however
    many fields and datasets it serves.
    """
    return PiiEngine(entities, score_threshold=score_threshold)
