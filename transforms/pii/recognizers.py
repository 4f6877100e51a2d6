"""Recognizers the city's data needs that Presidio lacks, or has only in a slow form.

Each is a plain Presidio ``PatternRecognizer``: a few regular expressions, a
score, context words that raise the score, and a check (check digit, word list)
that throws candidates away. Case-sensitive where the shape of the entity is
(plates and street names are capitalized), so ``and 1234`` is not a plate.
"""

from __future__ import annotations

import re
from typing import ClassVar, Final

from presidio_analyzer import Pattern, PatternRecognizer
from presidio_analyzer.predefined_recognizers import EmailRecognizer

from transforms.pii.checksums import luhn_valid, vin_check_digit_valid
from transforms.pii.offline import has_public_suffix

CASE_SENSITIVE: Final = re.DOTALL | re.MULTILINE
CASE_INSENSITIVE: Final = re.DOTALL | re.MULTILINE | re.IGNORECASE


# Upper-case words that precede a number in complaints and are not plates ("APT 1234",
# "PS 123"). In a plate's own shape, glued or dashed to the digits, they are its letters
# ("USA-4503", NJ "S07BUS", NY commercial "50749MN").
_NOT_PLATE_WORDS: Final = (
    "APT STE NYC ZIP RM FL NO BLDG UNIT PS IS MS HS JHS EXT USA AVE RTE HWY CB BX BK MN "
    "QN SI PCT BUS FDNY NYPD DOT DEP DSNY ROOM SUITE FLOOR PIER EXIT GATE TERM ST RD PL "
    "DR LN CT"
)
# Never a plate's letters, spaced or not ("JAN-2024", "10:30PM").
_DATE_WORDS: Final = "AM PM JAN FEB MAR APR MAY JUN JUL AUG SEP SEPT OCT NOV DEC"


class CityPatternRecognizer(PatternRecognizer):
    """A pattern recognizer declared by class attributes: ENTITY, PATTERNS, CONTEXT, FLAGS."""

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[tuple[Pattern, ...]]
    CONTEXT: ClassVar[tuple[str, ...]]
    FLAGS: ClassVar[int] = CASE_SENSITIVE

    def __init__(self) -> None:
        super().__init__(
            supported_entity=self.ENTITY,
            name=type(self).__name__,
            patterns=list(self.PATTERNS),
            context=list(self.CONTEXT),
            global_regex_flags=self.FLAGS,
        )


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's email recognizer, checking the domain against the bundled suffix list."""

    def validate_result(self, pattern_text: str) -> bool:
        return has_public_suffix(pattern_text)


class UsLicensePlateRecognizer(CityPatternRecognizer):
    """US licence plates in free text, New York formats first.

    Strong shapes (NY passenger ``ABC-1234``, NJ ``A12-BCD``, CA ``7ABC123``,
    NY commercial ``12345-MJ``) score on their own; any other 4-8 character
    letters-and-digits token counts only next to a context word such as
    "plate" or "tag".
    """

    ENTITY = "US_LICENSE_PLATE"
    PATTERNS = (
        Pattern("NY passenger (ABC-1234)", r"\b[A-Z]{3}[- ]?\d{4}\b", 0.6),
        Pattern("NY older (ABC-123, 123-ABC)", r"\b(?:[A-Z]{3}[- ]\d{3}|\d{3}[- ][A-Z]{3})\b", 0.4),
        Pattern("NJ (A12-BCD)", r"\b[A-Z]\d{2}[- ]?[A-Z]{3}\b", 0.5),
        Pattern("CA (7ABC123)", r"\b\d[A-Z]{3}\d{3}\b", 0.5),
        Pattern("NY commercial (12345-MJ)", r"\b\d{5}[- ]?[A-Z]{2}\b", 0.4),
        Pattern(
            "generic plate, needs context",
            r"(?i)\b(?=[A-Z0-9-]{4,9}\b)(?=[A-Z-]*\d)(?=[0-9-]*[A-Z])[A-Z0-9]{1,5}-?[A-Z0-9]{1,5}\b",
            0.1,
        ),
    )
    CONTEXT = (
        "plate", "tag", "license", "licence", "registration",
        "car", "taxi", "cab", "truck", "van", "suv", "vehicle",
    )  # fmt: skip
    NOT_PLATES: Final = frozenset(_NOT_PLATE_WORDS.split())
    DATE_WORDS: Final = frozenset(_DATE_WORDS.split())
    _LETTERS = re.compile(r"[A-Za-z]+")
    # The strong patterns' shapes, unspaced ("USA-4503" yes, "APT 1234" no), and NY
    # commercial plates, which end in M and a letter ("12345 MN" is one, Manhattan or not).
    _PLATE_SHAPE = re.compile(
        r"[A-Z]{3}-?\d{4}|[A-Z]\d{2}-?[A-Z]{3}|\d[A-Z]{3}\d{3}|\d{5}-?[A-Z]{2}"
    )
    _COMMERCIAL = re.compile(r"\d{5}[- ]?M[A-Z]")

    def invalidate_result(self, pattern_text: str) -> bool:
        if pattern_text.isdigit():
            return True
        if self._COMMERCIAL.fullmatch(pattern_text):
            return False
        plate_shaped = self._PLATE_SHAPE.fullmatch(pattern_text) is not None
        return any(
            word.upper() in self.DATE_WORDS
            or (not plate_shaped and word.upper() in self.NOT_PLATES)
            for word in self._LETTERS.findall(pattern_text)
        )


_NUMBER = r"\d{1,6}(?:-\d{1,4})?[A-Za-z]?"
_DIRECTION = r"(?:(?i:north|south|east|west)|[NSEW]\.?|[NS][EW]\.?)"
_ORDINAL = r"\d{1,3}(?i:st|nd|rd|th)"
_CAPITALIZED_WORD = rf"(?:[A-Z][a-z'\.]+|{_ORDINAL})"
# Any-case street-name word: not a common word ("3 cars on the street" is no address).
_ANY_CASE_WORD = (
    r"(?:(?!(?:the|a|an|of|on|in|at|to|for|and|or|my|our|your|his|her|their|this|that|"
    r"every|each|some|no|by|from|near|with|one|way)\b)[a-z][a-z'\.]*|\d{1,3}(?:st|nd|rd|th))"
)
_STREET_TYPES = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|place|pl|drive|dr|lane|ln|court|ct|parkway|"
    "pkwy|terrace|ter|highway|hwy|expressway|expy|turnpike|tpke|square|sq|plaza|plz|circle|cir|"
    "concourse"
)
_NAMED_STREETS = (
    r"(?:Broadway|Bowery|Grand Concourse|Avenue (?:[A-Z]\b|of the Americas)|"
    r"Ocean Parkway|Eastern Parkway|Queens Boulevard|Park Row|Riverside Drive)"
)
_UNIT = (
    r"(?:,?\s+(?i:apt|apartment|unit|suite|ste|fl|floor|rm|room)\.?\s*#?\s*[A-Za-z0-9-]{1,6}"
    r"|\s*#\s?[A-Za-z0-9-]{1,6})"
)
_TAIL = (
    r"(?:,\s*(?:Brooklyn|Queens|Bronx|Manhattan|Staten Island|New York|"
    r"[A-Z][a-z]+(?:\s[A-Z][a-z]+)?(?=,\s*[A-Z]{2}\b))"
    r"(?:,?\s*[A-Z]{2})?(?:\s+\d{5}(?:-\d{4})?)?)"
)


def _street_address(word: str, *, any_case: bool) -> str:
    """Number, optional direction, one to four name words, street type, unit, city tail."""
    types = f"(?:{_STREET_TYPES})" if any_case else f"(?i:{_STREET_TYPES})"
    body = (
        rf"\b{_NUMBER}\s+(?:{_DIRECTION}\s+)?{word}(?:\s+{word}){{0,3}}\s+{types}\b"
        rf"(?:\s+{_DIRECTION}\b)?{_UNIT}?{_TAIL}?"
    )
    return f"(?i){body}" if any_case else body


class UsStreetAddressRecognizer(CityPatternRecognizer):
    """US street addresses: number, optional direction, street name, street type.

    Covers ``123 Main St``, ``31-15 Steinway Street``, ``350 W 42nd St Apt 4B``,
    ``1 Broadway``, ``900 Grand Concourse``, with an optional unit and
    ``, Brooklyn, NY 11215`` tail. Capitalized street names score higher; names
    typed in lower case or capitals count too unless a name word is a common
    word ("3 cars on the street" is not an address).
    """

    ENTITY = "STREET_ADDRESS"
    PATTERNS = (
        Pattern(
            "number + street name + street type",
            _street_address(_CAPITALIZED_WORD, any_case=False),
            0.6,
        ),
        Pattern(
            "number + named street",
            rf"\b{_NUMBER}\s+(?:{_DIRECTION}\s+)?{_NAMED_STREETS}{_UNIT}?{_TAIL}?",
            0.6,
        ),
        Pattern(
            "number + street name + street type, any case",
            _street_address(_ANY_CASE_WORD, any_case=True),
            0.4,
        ),
    )
    CONTEXT = ("address", "live", "lives", "located", "apartment", "building", "at")


class ImeiRecognizer(CityPatternRecognizer):
    """IMEI: 15 digits, optionally grouped ``AA-BBBBBB-CCCCCC-D``, with a valid Luhn digit.

    A Luhn-valid number whose first two digits are a GSMA reporting body
    (35, 86, 99, ...) scores 1.0, like a checksum-validated credit card.
    """

    ENTITY = "IMEI"
    PATTERNS = (
        Pattern("IMEI grouped", r"\b\d{2}[- ]\d{6}[- ]\d{6}[- ]\d\b", 0.5),
        Pattern("IMEI plain", r"\b\d{15}\b", 0.4),
    )
    CONTEXT = ("imei", "device", "phone", "handset", "serial")
    REPORTING_BODIES: Final = frozenset(
        {"01", "10", "30", "33", "35", "44", "45", "49", "50", "51", "52", "53", "54", "86",
         "91", "98", "99"}
    )  # fmt: skip
    _NOT_DIGIT = re.compile(r"\D")

    def invalidate_result(self, pattern_text: str) -> bool:
        digits = self._NOT_DIGIT.sub("", pattern_text)
        return len(digits) != 15 or not luhn_valid(digits) or len(set(digits)) == 1

    def validate_result(self, pattern_text: str) -> bool | None:
        digits = self._NOT_DIGIT.sub("", pattern_text)
        return True if digits[:2] in self.REPORTING_BODIES else None


class VinRecognizer(CityPatternRecognizer):
    """Vehicle identification numbers: 17 characters without I, O, Q, and a valid check digit."""

    ENTITY = "VIN"
    PATTERNS = (
        Pattern(
            "VIN",
            r"\b(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}\b",
            0.6,
        ),
    )
    CONTEXT = ("vin", "vehicle", "chassis")
    FLAGS = CASE_INSENSITIVE

    def invalidate_result(self, pattern_text: str) -> bool:
        return not vin_check_digit_valid(pattern_text)
