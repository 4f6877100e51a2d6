"""The audit stream (``iot.audit``): exports, erasures, opt-outs, policy loads, corrections.

An audit event is a flat JSON object with ``type``, ``at`` (ISO-8601 UTC) and
``dataset`` where it applies. It carries counts, names and pseudonyms, never
raw personal data.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.kafka_io import read_topic


def audit_event(
    kind: str, at: datetime, *, dataset: str | None = None, **details: Any
) -> dict[str, Any]:
    if at.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    event: dict[str, Any] = {"type": kind, "at": at.isoformat()}
    if dataset is not None:
        event["dataset"] = dataset
    event.update(details)
    return event


def encode_audit(event: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """Key (the dataset, or the type) and value (compact JSON) for ``iot.audit``."""
    key = str(event.get("dataset") or event["type"]).encode()
    return key, json.dumps(event, separators=(",", ":"), default=str).encode()


@dataclass
class OpenTierCounts:
    windows: int = 0
    windows_with_rows: int = 0
    rows: int = 0
    published: int = 0
    suppressed: int = 0
    late: int = 0
    exports: int = 0

    def add_window(self, event: dict[str, Any]) -> None:
        self.windows += 1
        self.windows_with_rows += int(event["rows"] > 0)
        self.rows += int(event["rows"])
        self.published += int(event["published_events"])
        self.suppressed += int(event["suppressed_events"])
        self.late += int(event["late_events"])

    @property
    def windowed(self) -> int:
        """Anon records accounted for by the open tier."""
        return self.published + self.suppressed + self.late


@dataclass
class AuditSummary:
    """What the audit stream says happened, per dataset: for the demo and the tests."""

    pii_found: Counter[str] = field(default_factory=Counter)
    undeclared: list[str] = field(default_factory=list)
    open_tier: dict[str, OpenTierCounts] = field(default_factory=dict)


async def summarize_audit(bootstrap: str, topic: str) -> AuditSummary:
    """Read ``iot.audit`` from the beginning and add up its events."""
    summary = AuditSummary()
    for message in await read_topic(bootstrap, topic, idle_s=0.3):
        event = json.loads(message.value or b"{}")
        kind, dataset = event.get("type"), event.get("dataset")
        counts = summary.open_tier.setdefault(dataset, OpenTierCounts()) if dataset else None
        if kind == "batch_processed":
            summary.pii_found.update(event.get("pii_found", {}))
        elif kind == "undeclared_field":
            summary.undeclared.append(f"{dataset}.{event['field']}")
        elif kind == "window_closed" and counts is not None:
            counts.add_window(event)
        elif kind == "late_events" and counts is not None:
            counts.late += int(event["events"])
        elif kind == "export" and counts is not None:
            counts.exports += 1
    return summary
