"""PII detection in free text: Presidio's analyzer, built once, fed in batches.

Public API:

* :class:`PiiEngine` (``PiiEngine(entities)``): ``analyze(texts)`` gives the
  spans per text, ``entity_types(texts)`` the set of types found (the
  classifier's ValueScanner protocol), ``redact(texts)`` the texts with typed
  placeholders and the counts found by type.
* :func:`shared_engine`: the process's engine for a set of entities.
* :data:`SUPPORTED_ENTITIES`, :data:`DEFAULT_FREE_TEXT_ENTITIES`.

Importing this package is cheap: Presidio and spaCy load when the engine is
first asked for. See docs/pii.md for how it is built and what it costs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transforms.pii.entities import DEFAULT_FREE_TEXT_ENTITIES, SUPPORTED_ENTITIES

if TYPE_CHECKING:
    from transforms.pii.engine import Detection, PiiEngine, Redaction, shared_engine

_FROM_ENGINE = ("Detection", "PiiEngine", "Redaction", "shared_engine")


def __getattr__(name: str) -> Any:
    if name in _FROM_ENGINE:
        from transforms.pii import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'transforms.pii' has no attribute {name!r}")


__all__ = [
    "DEFAULT_FREE_TEXT_ENTITIES",
    "SUPPORTED_ENTITIES",
    "Detection",
    "PiiEngine",
    "Redaction",
    "shared_engine",
]
