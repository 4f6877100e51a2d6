"""The audit stream (``iot.audit``): exports, erasures, opt-outs, policy loads, corrections.

An audit event is a flat JSON object with ``type``, ``at`` (ISO-8601 UTC) and
``dataset`` where it applies. It carries counts, names and pseudonyms, never
raw personal data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any


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
