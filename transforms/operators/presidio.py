"""``presidio``: free text with its PII replaced by typed placeholders (``<PERSON>``).

Runs the process's shared :class:`transforms.pii.PiiEngine` for the requested
entities (built on first use, then reused by every field and dataset).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pyarrow as pa
from pydantic import Field, field_validator

from transforms.operators.base import Operator, OperatorConfig, as_strings
from transforms.pii.entities import (
    DEFAULT_FREE_TEXT_ENTITIES,
    DEFAULT_SCORE_THRESHOLD,
    entity_problem,
)

if TYPE_CHECKING:
    from transforms.pii.engine import PiiEngine


class PresidioConfig(OperatorConfig):
    entities: tuple[str, ...] = DEFAULT_FREE_TEXT_ENTITIES
    score_threshold: float = Field(default=DEFAULT_SCORE_THRESHOLD, ge=0.0, le=1.0)

    @field_validator("entities")
    @classmethod
    def _known(cls, entities: tuple[str, ...]) -> tuple[str, ...]:
        problem = entity_problem(entities)
        if problem:
            raise ValueError(problem)
        return tuple(sorted(set(entities)))


class PresidioRedact(Operator[PresidioConfig]):
    name = "presidio"
    config_type = PresidioConfig

    def __init__(self, config: PresidioConfig, engine: PiiEngine | None = None) -> None:
        super().__init__(config)
        if engine is None:
            from transforms.pii.engine import shared_engine  # loads Presidio and spaCy

            engine = shared_engine(frozenset(config.entities), config.score_threshold)
        self.engine = engine

    def operate(self, values: pa.Array) -> pa.Array:
        return self.operate_with_counts(values)[0]

    def operate_with_counts(self, values: pa.Array) -> tuple[pa.Array, Counter[str]]:
        """The redacted column and the entities found, by type (counts only)."""
        redaction = self.engine.redact(as_strings(values).to_pylist())
        return pa.array(redaction.texts, type=pa.string()), redaction.found
