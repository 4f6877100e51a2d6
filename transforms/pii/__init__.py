"""PII detection in free text: Presidio's analyzer, built once, fed in batches.

Public API:

* :class:`PiiEngine` (``PiiEngine(entities)``): ``analyze(texts)`` gives the
  spans per text, ``entity_types(texts)`` the set of types found (the
  classifier's ValueScanner protocol), ``redact(texts)`` the texts with typed
  placeholders and the counts found by type.
* :func:`shared_engine`: the process's engine for a set of entities.
* :data:`SUPPORTED_ENTITIES`, :data:`DEFAULT_FREE_TEXT_ENTITIES`.

See docs/pii.md for how it is built and what it costs.
"""

from transforms.pii.catalogue import DEFAULT_FREE_TEXT_ENTITIES, SUPPORTED_ENTITIES
from transforms.pii.engine import Detection, PiiEngine, Redaction, shared_engine

__all__ = [
    "DEFAULT_FREE_TEXT_ENTITIES",
    "SUPPORTED_ENTITIES",
    "Detection",
    "PiiEngine",
    "Redaction",
    "shared_engine",
]
