"""Recognizers added or configured for the city's data: true and false cases, check digits."""

from __future__ import annotations

import pytest

from transforms.pii import PiiEngine
from transforms.pii.catalogue import PATTERN_RECOGNIZERS
from transforms.pii.checksums import luhn_valid, vin_check_digit_valid


@pytest.fixture(scope="module")
def patterns() -> PiiEngine:
    """Every pattern entity, no NER: spaCy's model is not even loaded."""
    return PiiEngine(list(PATTERN_RECOGNIZERS), cache_size=0)


def found(engine: PiiEngine, entity: str, text: str) -> list[str]:
    (detections,) = engine.analyze([text])
    return [text[d.start : d.end] for d in detections if d.entity_type == entity]


PLATES_FOUND = [
    ("Car with plate ABC-1234 blocking the hydrant", "ABC-1234"),
    ("white van GHX 4521 double parked", "GHX 4521"),
    ("the BMW KLM1234 parks here daily", "KLM1234"),
    ("NJ plate A12-BCD on the sidewalk", "A12-BCD"),
    ("California plate 7ABC123 abandoned", "7ABC123"),
    ("commercial truck 12345-MJ idling", "12345-MJ"),
    ("old plate HDL-163 rusting", "HDL-163"),
    ("plate abc1234 typed in lower case", "abc1234"),
    ("taxi ryw-4156 ran the light", "ryw-4156"),
    # letters that are not a plate when spaced apart ("APT 1234") are one's when joined
    ("NY commercial plate 50749MN in the bus lane", "50749MN"),
    ("commercial van plate 95544 MN idling", "95544 MN"),
    ("white Dodge, plate USA-4503, at the hydrant", "USA-4503"),
    ("NJ plates S07BUS for a month", "S07BUS"),
]
NOT_PLATES = [
    "Leak from APT 1234 upstairs",
    "there were 1234 people and 56 cars",
    "apartment 4B has no heat",
    "car alarm at 10am every day",
    "since 2019 nobody fixed it",
    "call 212-555-0199",
    "nothing fixed since JAN-2024",
    "meeting in ROOM 1234 tonight",
]


@pytest.mark.parametrize(("text", "plate"), PLATES_FOUND)
def test_when_text_holds_a_plate_then_it_is_found(
    patterns: PiiEngine, text: str, plate: str
) -> None:
    assert found(patterns, "US_LICENSE_PLATE", text) == [plate]


@pytest.mark.parametrize("text", NOT_PLATES)
def test_when_text_holds_no_plate_then_none_is_found(patterns: PiiEngine, text: str) -> None:
    assert found(patterns, "US_LICENSE_PLATE", text) == []


ADDRESSES_FOUND = [
    ("Noise at 123 Main St every night", "123 Main St"),
    (
        "lives at 31-15 Steinway Street, Queens, NY 11103 now",
        "31-15 Steinway Street, Queens, NY 11103",
    ),
    ("at 350 W 42nd St Apt 4B today", "350 W 42nd St Apt 4B"),
    ("pothole at 1 Broadway downtown", "1 Broadway"),
    ("near 900 Grand Concourse, Bronx", "900 Grand Concourse, Bronx"),
    ("behind 1772 East 116th Street", "1772 East 116th Street"),
    (
        "i live at 2651 pelham pkwy, apt 14f, brooklyn, ny 11215. heat",
        "2651 pelham pkwy, apt 14f, brooklyn, ny 11215",
    ),
    ("NEAR 371 UTICA AVENUE EVERY MORNING", "371 UTICA AVENUE"),
]
NOT_ADDRESSES = [
    "3 cars on the street all day",
    "wrong way on a 1 way street",
    "parked 2 blocks down the road",
    "Bus 12 on Main Street is late",
    "a 15 min walk from here",
    "Prospect Park West is flooded",
]


@pytest.mark.parametrize(("text", "address"), ADDRESSES_FOUND)
def test_when_text_holds_an_address_then_it_is_found(
    patterns: PiiEngine, text: str, address: str
) -> None:
    assert found(patterns, "STREET_ADDRESS", text) == [address]


@pytest.mark.parametrize("text", NOT_ADDRESSES)
def test_when_text_holds_no_address_then_none_is_found(patterns: PiiEngine, text: str) -> None:
    assert found(patterns, "STREET_ADDRESS", text) == []


@pytest.mark.parametrize(
    ("entity", "text", "expected"),
    [
        ("IMEI", "stolen phone IMEI 35-209900-176148-1", ["35-209900-176148-1"]),
        ("IMEI", "imei 352099001761481 reported", ["352099001761481"]),
        ("IMEI", "imei 352099001761482 (bad check digit)", []),
        ("IMEI", "code 000000000000000", []),
        ("VIN", "abandoned car VIN 1HGCM82633A004352", ["1HGCM82633A004352"]),
        ("VIN", "vin 1m8gdm9axkp042788 in lower case", ["1m8gdm9axkp042788"]),
        ("VIN", "VIN 1HGCM82633A004353 (bad check digit)", []),
        ("VIN", "code ABCDEFGHJKLMNPRST has no digit", []),
        ("MAC_ADDRESS", "device 00:1A:2B:3C:4D:5E seen", ["00:1A:2B:3C:4D:5E"]),
        ("MAC_ADDRESS", "device 00:1a:2b:3c:4d:5e seen", ["00:1a:2b:3c:4d:5e"]),
        ("MAC_ADDRESS", "device 00-1A-2B-3C-4D-5E seen", ["00-1A-2B-3C-4D-5E"]),
        ("MAC_ADDRESS", "device 001a.2b3c.4d5e seen", ["001a.2b3c.4d5e"]),
        ("MAC_ADDRESS", "device 001A.2B3C.4D5E seen", ["001A.2B3C.4D5E"]),
        ("MAC_ADDRESS", "broadcast FF:FF:FF:FF:FF:FF", []),
        ("MAC_ADDRESS", "five groups 00:1A:2B:3C:4D only", []),
        ("MAC_ADDRESS", "at 12:30:45 today", []),
        ("PHONE_NUMBER", "call me at (212) 555-0199 please", ["(212) 555-0199"]),
        ("PHONE_NUMBER", "call 212.555.0199 now", ["212.555.0199"]),
        ("PHONE_NUMBER", "reach +1 212 555 0199 pls", ["+1 212 555 0199"]),
        ("PHONE_NUMBER", "number 2125550199 ok", ["2125550199"]),
        ("PHONE_NUMBER", "cell 917-882-4410", ["917-882-4410"]),
        ("PHONE_NUMBER", "uk friend +44 20 7946 0958", ["+44 20 7946 0958"]),
        ("PHONE_NUMBER", "zip 11215 and apt 4B", []),
        ("PHONE_NUMBER", "version 1.2.3 costs $1,234.56", []),
        ("IP_ADDRESS", "from 192.168.1.20 today", ["192.168.1.20"]),
        ("IP_ADDRESS", "ipv6 2001:db8::8a2e:370:7334 seen", ["2001:db8::8a2e:370:7334"]),
        ("IP_ADDRESS", "link-local fe80::1 only", ["fe80::1"]),
        ("IP_ADDRESS", "not an ip 999.1.1.1", []),
        ("IP_ADDRESS", "version 1.2.3", []),
        ("EMAIL_ADDRESS", "write to ana.lopez@gmail.com today", ["ana.lopez@gmail.com"]),
        ("EMAIL_ADDRESS", "write to someone@city.nyc.gov", ["someone@city.nyc.gov"]),
        ("EMAIL_ADDRESS", "user@localhost is not an address", []),
        ("EMAIL_ADDRESS", "a@b.notarealsuffix is not either", []),
    ],
)
def test_when_pattern_entity_in_text_then_found_exactly(
    patterns: PiiEngine, entity: str, text: str, expected: list[str]
) -> None:
    assert found(patterns, entity, text) == expected


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("352099001761481", True),
        ("79927398713", True),
        ("352099001761482", False),
        ("79927398710", False),
        ("1", False),
        ("12a4", False),
    ],
)
def test_when_luhn_checked_then_only_valid_numbers_pass(digits: str, valid: bool) -> None:
    assert luhn_valid(digits) is valid


@pytest.mark.parametrize(
    ("vin", "valid"),
    [
        ("1HGCM82633A004352", True),
        ("1M8GDM9AXKP042788", True),
        ("11111111111111111", True),
        ("1HGCM82633A004353", False),
        ("1HGCM82633A00435", False),
        ("1HGCM82633AO04352", False),  # O is never in a VIN
    ],
)
def test_when_vin_checked_then_only_right_check_digit_passes(vin: str, valid: bool) -> None:
    assert vin_check_digit_valid(vin) is valid
