"""ISO-8601 durations, the only way a policy writes a length of time.

Weeks, days, hours, minutes and seconds only: a year or a month has no fixed
length, so ``P1Y`` is refused with a hint to write ``P365D``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, PlainSerializer
from pydantic_core import PydanticCustomError

_PATTERN: Final = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_CALENDAR: Final = re.compile(r"^P(?:\d+Y)?(?:\d+M)?")
_UNITS: Final = (("D", 86_400), ("H", 3_600), ("M", 60), ("S", 1))
_WORDS: Final = (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1))


def parse_duration(text: str) -> timedelta:
    """``"P30D"`` -> 30 days. Raises ValueError with what to write instead."""
    match = _PATTERN.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        calendar = _CALENDAR.match(text)
        if calendar and calendar.group(0) != "P":
            raise ValueError(
                f"'{text}' uses years or months, which have no fixed length; "
                "write days instead (P365D, P30D)"
            )
        raise ValueError(f"'{text}' is not an ISO-8601 duration; write e.g. PT15M, PT24H or P30D")
    parts = {name: float(value) for name, value in match.groupdict(default="0").items()}
    return timedelta(**parts)


def format_duration(value: timedelta) -> str:
    """The shortest ISO-8601 form: 30 days -> ``P30D``, 90 minutes -> ``PT1H30M``."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "PT0S"
    days, rest = divmod(seconds, 86_400)
    text = f"P{days}D" if days else "P"
    if rest:
        text += "T"
        for unit, size in _UNITS[1:]:
            count, rest = divmod(rest, size)
            if count:
                text += f"{count}{unit}"
    return text


def humanize_duration(value: timedelta) -> str:
    """Words for the notice: ``P30D`` -> "30 days", ``PT90M`` -> "1 hour 30 minutes"."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "no time"
    words = []
    for word, size in _WORDS:
        count, seconds = divmod(seconds, size)
        if count:
            words.append(f"{count} {word}{'' if count == 1 else 's'}")
    text = " ".join(words)
    years = value.days / 365
    if value.days >= 730 and years.is_integer():
        text += f" ({int(years)} years)"
    return text


def _validate(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "iso_duration", "should be an ISO-8601 duration such as PT15M or P30D"
        )
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("iso_duration", str(exc)) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate),
    PlainSerializer(format_duration, return_type=str),
]
"""A policy duration: validated from an ISO-8601 string, written back the same way."""
