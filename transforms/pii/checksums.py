"""Check digits used to confirm a pattern match before it is reported.

A regular expression finds candidates; the check digit throws away most of the
numbers that merely look like an IMEI or a VIN (9 in 10 random candidates fail).
"""

from __future__ import annotations

_VIN_TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9, at least two) passes the Luhn mod-10 check."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def vin_check_digit_valid(vin: str) -> bool:
    """True when a 17-character VIN carries the right check digit (position 9).

    North American VINs (ISO 3779 with the 49 CFR 565 check digit). The letters
    I, O and Q never occur in a VIN.
    """
    vin = vin.upper()
    if len(vin) != 17:
        return False
    total = 0
    for char, weight in zip(vin, _VIN_WEIGHTS, strict=True):
        value = _VIN_TRANSLITERATION.get(char)
        if value is None:
            return False
        total += value * weight
    remainder = total % 11
    expected = "X" if remainder == 10 else str(remainder)
    return vin[8] == expected
