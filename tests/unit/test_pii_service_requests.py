"""Simulated 311 descriptions: nothing the simulator plants survives the engine's redaction.

The end-to-end stream test checks the same on the anonymized topic; this one
runs without a broker, on the engine the ``presidio`` operator uses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from connectors.simulator import Simulator
from transforms.pii import DEFAULT_FREE_TEXT_ENTITIES, shared_engine

START = datetime(2024, 5, 14, 8, 0, tzinfo=UTC)
EVENTS = 600


@pytest.mark.parametrize("seed", [7, 23])
def test_when_simulated_311_descriptions_are_redacted_then_no_planted_identifier_remains(
    seed: int,
) -> None:
    events = [e for e in Simulator("service_requests", seed=seed, start=START).events(EVENTS)]
    descriptions = [json.loads(e.value)["description"] for e in events if e.valid]
    identifiers = [e.identifiers for e in events if e.valid]
    redacted = shared_engine(frozenset(DEFAULT_FREE_TEXT_ENTITIES)).redact(descriptions).texts

    planted = [
        (identifier, after)
        for before, after, planted_here in zip(descriptions, redacted, identifiers, strict=True)
        if before
        for identifier in planted_here
        if identifier in before
    ]
    leaked = sorted({identifier for identifier, after in planted if after and identifier in after})
    assert len(planted) > EVENTS  # names, phones, emails, plates and addresses were planted
    assert leaked == []
