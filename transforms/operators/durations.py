"""Durations in policies: ``900`` (seconds), ``"15m"``, ``"1h"``, ``"1d"``, ISO-8601 ``"PT15M"``."""

from __future__ import annotations

import re
from typing import Annotated, Final

from pydantic import BeforeValidator

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_SHORT = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$",
    re.IGNORECASE,
)


def parse_seconds(value: object) -> int:
    """Whole seconds in a duration; raises ValueError with the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as '15m'")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str):
        short = _SHORT.match(value)
        iso = _ISO.match(value.strip())
        if short:
            seconds = int(short.group(1)) * _UNITS[short.group(2).lower()]
        elif iso and any(iso.groupdict().values()):
            seconds = sum(int(n) * _UNITS[u] for u, n in iso.groupdict().items() if n)
        else:
            raise ValueError(
                f"'{value}' is not a duration; write seconds (900), '15m', '1h', '1d', '1w' "
                "or ISO-8601 such as 'PT15M'"
            )
    else:
        raise ValueError("a duration is a number of seconds or a string such as '15m'")
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return seconds


Seconds = Annotated[int, BeforeValidator(parse_seconds)]
