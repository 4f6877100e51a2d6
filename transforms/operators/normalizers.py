"""Identifier normalizers: one spelling per identifier before it is hashed.

A MAC seen as ``00:1A:2B:3C:4D:5E`` by one sensor and ``001a.2b3c.4d5e`` by
another is the same device, so it must get the same pseudonym. Each normalizer
maps a string to its canonical form; values that do not parse as the kind fall
back to ``text`` (trimmed, case-folded), so they still get a stable token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

_NOT_HEX = re.compile(r"[^0-9a-f]")
_NOT_DIGIT = re.compile(r"\D")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_MAC_SHAPE = re.compile(
    r"[0-9a-f]{2}([:-]?)(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}"
)


def text(value: str) -> str:
    """Trimmed and case-folded."""
    return value.strip().casefold()


def mac(value: str) -> str:
    """12 lower-case hex digits: ``00:1A:2B:3C:4D:5E``, ``00-1a-...``, ``001a.2b3c.4d5e`` agree."""
    lowered = value.strip().lower()
    if _MAC_SHAPE.fullmatch(lowered):
        return _NOT_HEX.sub("", lowered)
    return text(value)


def phone(value: str, default_country_code: str = "1") -> str:
    """E.164-like ``+<digits>``; 10-digit numbers are North American (``+1`` added)."""
    digits = _NOT_DIGIT.sub("", value)
    if not digits:
        return text(value)
    if len(digits) == 10 and not value.strip().startswith("+"):
        digits = default_country_code + digits
    return "+" + digits


def plate(value: str) -> str:
    """Upper-case letters and digits only: ``abc-1234`` and ``ABC 1234`` agree."""
    return _NOT_ALNUM.sub("", value.upper()) or text(value)


def email(value: str) -> str:
    """Trimmed and lower-cased."""
    return value.strip().lower()


def none(value: str) -> str:
    """Unchanged: the exact string is the identifier."""
    return value


NORMALIZERS: Final[dict[str, Callable[[str], str]]] = {
    "mac": mac,
    "phone": phone,
    "plate": plate,
    "email": email,
    "text": text,
    "none": none,
}
