"""Seeded 311-style complaint texts with planted PII and the exact spans planted.

Used by perf/bench_pii.py. Names, phones in the formats residents type, emails,
plates (NY, NJ, CA, commercial) and street addresses are planted into complaint
templates; about a quarter of the texts hold no PII, a few are typed all in
lower case or all in capitals, as real complaints are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PERSON = "PERSON"
PHONE = "PHONE_NUMBER"
EMAIL = "EMAIL_ADDRESS"
PLATE = "US_LICENSE_PLATE"
ADDRESS = "STREET_ADDRESS"
PLANTED_TYPES = (PERSON, PHONE, EMAIL, PLATE, ADDRESS)


@dataclass(frozen=True)
class Span:
    entity_type: str
    start: int
    end: int


@dataclass(frozen=True)
class Sample:
    text: str
    spans: tuple[Span, ...]


FIRST = (
    "Maria",
    "James",
    "Wei",
    "Aisha",
    "John",
    "Priya",
    "Carlos",
    "Fatima",
    "Michael",
    "Yuki",
    "Olga",
    "David",
    "Mei",
    "Kwame",
    "Sarah",
    "Luis",
    "Ana",
    "Robert",
    "Jennifer",
    "Ahmed",
    "Rosa",
    "Daniel",
    "Linda",
    "Jamal",
    "Elena",
    "Kevin",
    "Grace",
    "Tomás",
    "Nadia",
    "Patrick",
    "Lakshmi",
    "Brian",
    "Chen",
    "Deborah",
    "Miguel",
    "Svetlana",
    "Marcus",
    "Hannah",
    "Ibrahim",
    "Joseph",
    "Keisha",
    "Dmitri",
    "Sofia",
    "William",
    "Esperanza",
    "Tyrone",
    "Rachel",
    "Omar",
)
LAST = (
    "Gonzalez",
    "Smith",
    "Chen",
    "Bello",
    "O'Brien",
    "Patel",
    "Rodriguez",
    "Khan",
    "Johnson",
    "Tanaka",
    "Ivanova",
    "Williams",
    "Li",
    "Mensah",
    "Cohen",
    "Hernandez",
    "Lopez",
    "Brown",
    "Davis",
    "Hassan",
    "Martinez",
    "Kim",
    "Nguyen",
    "Washington",
    "Petrov",
    "Murphy",
    "Park",
    "García",
    "Haddad",
    "Kowalski",
    "Reddy",
    "Sullivan",
    "Wong",
    "Goldberg",
    "Ramirez",
    "Volkova",
    "Jackson",
    "Friedman",
    "Abdullah",
    "Russo",
    "Thompson",
    "Morales",
    "Singh",
)
AREA_CODES = ("212", "718", "917", "646", "347", "929", "332")
EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "hotmail.com",
    "aol.com",
    "outlook.com",
    "nyc.rr.com",
    "verizon.net",
    "icloud.com",
    "optonline.net",
)
PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
STREETS = (
    "Main St",
    "Flatbush Ave",
    "Atlantic Avenue",
    "Bedford Ave",
    "Ocean Ave",
    "Nostrand Avenue",
    "Steinway St",
    "Jamaica Ave",
    "Amsterdam Ave",
    "Lexington Avenue",
    "Grand St",
    "Court St",
    "Myrtle Ave",
    "Roosevelt Avenue",
    "Victory Blvd",
    "Fordham Rd",
    "Pelham Pkwy",
    "Hylan Blvd",
    "Richmond Terrace",
    "Bay Ridge Parkway",
    "Linden Blvd",
    "Malcolm X Blvd",
    "Eastern Pkwy",
    "Utica Avenue",
    "Kings Highway",
    "Queens Blvd",
    "Northern Blvd",
    "Union Street",
    "Dekalb Ave",
    "Fulton Street",
    "Broadway",
    "Grand Concourse",
    "Ocean Parkway",
)
DIRECTIONS = ("W", "E", "West", "East")
BOROUGH_TAILS = (
    ", Brooklyn, NY 11215",
    ", Bronx, NY 10458",
    ", New York, NY 10027",
    ", Queens, NY 11372",
    ", Staten Island, NY 10301",
    ", Brooklyn",
    ", Queens",
)

# Templates: literal text with slots {name} {first} {phone} {email} {plate} {address}.
TEMPLATES = (
    "My name is {name} and I live at {address}. The heat has been off since Monday, "
    "please call {phone}.",
    "Loud music from the apartment above me at {address} every night until 3am.",
    "Car with plate {plate} has been parked in front of the hydrant for two days.",
    "{name} reported a pothole on the corner, contact at {email}.",
    "Please have someone call me back at {phone}, this is the third time I report "
    "the broken streetlight.",
    "Illegal dumping behind {address}, a white van plate {plate} drops trash every Tuesday night.",
    "Landlord {name} refuses to fix the leak in my ceiling. Reach me at {phone} or {email}.",
    "Blocked driveway at {address} by a black SUV, license plate {plate}.",
    "Noise from the construction site at {address} starting at 6am on weekends.",
    "I am {name}, my number is {phone}. Rats in the backyard of the building.",
    "Email me at {email} when the sidewalk is repaired.",
    "Double parked truck {plate} blocking the bike lane near {address} every morning.",
    "Homeless encampment near {address}, concerned neighbor {name} ({phone}).",
    "Follow up for {name}: text {phone}.",
    "The super, {name}, says the boiler is broken at {address}.",
    "Abandoned vehicle with NY plates {plate} on the street for 3 weeks.",
    "Please contact {name} at {email} or {phone} regarding the tree that fell on my car.",
    "Taxi {plate} ran a red light at {address} and almost hit my kid.",
    "{name} called about no hot water in the building.",
    "Graffiti on the wall of {address}, owner is {name}.",
    "my neighbor {first} keeps blocking the entrance with bikes, call {phone}",
    "Sidewalk cracked in front of {address}, someone tripped yesterday. Contact {email}.",
    "Ask for {first} at the front desk, she saw the {plate} hit the pole.",
    "Water leaking from the ceiling at {address}. Tenant {name}, {phone}, {email}.",
    "Bus stop shelter glass smashed near {address}.",
)
NO_PII = (
    "Street light out on the corner for two weeks.",
    "Pothole on the Brooklyn Bridge approach is getting worse.",
    "Loud party next door every weekend, please send someone.",
    "Overflowing trash cans at the park entrance.",
    "Water main break flooding the intersection.",
    "Dead tree branch hanging over the sidewalk near Prospect Park.",
    "Noise from the bar downstairs after 2am on Fridays.",
    "Broken parking meter, takes coins but gives no time.",
    "Sanitation missed our pickup again this Thursday.",
    "Dog off leash in Central Park every morning.",
    "Heat not working in the whole building since Sunday.",
    "Ice on the sidewalk, someone slipped this morning.",
    "Traffic signal stuck on red at the intersection for an hour.",
    "Rats everywhere near the subway entrance at night.",
    "The bike lane on Queens Boulevard is blocked by delivery trucks all day.",
    "Fire hydrant open and spraying water since noon.",
    "Smell of gas in the hallway, please check.",
    "Car alarm going off for hours on our block.",
)


class _Planter:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def name(self) -> str:
        return f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"

    def first(self) -> str:
        return self.rng.choice(FIRST)

    def phone(self) -> str:
        rng = self.rng
        area = rng.choice(AREA_CODES)
        exchange = f"{rng.randint(2, 9)}{rng.randint(0, 9)}{rng.randint(2, 9)}"
        line = f"{rng.randint(0, 9999):04d}"
        form = rng.choice(
            (
                "({a}) {e}-{l}",
                "{a}.{e}.{l}",
                "+1 {a} {e} {l}",
                "{a}{e}{l}",
                "{a}-{e}-{l}",
                "{a} {e} {l}",
                "1-{a}-{e}-{l}",
            )
        )
        return form.format(a=area, e=exchange, l=line)

    def email(self) -> str:
        rng = self.rng
        first, last = rng.choice(FIRST).lower(), rng.choice(LAST).lower().replace("'", "")
        local = rng.choice(
            (
                f"{first}.{last}",
                f"{first[0]}{last}{rng.randint(1, 99)}",
                f"{first}{rng.randint(70, 99)}",
            )
        )
        return f"{local}@{rng.choice(EMAIL_DOMAINS)}"

    def _letters(self, n: int) -> str:
        return "".join(self.rng.choice(PLATE_LETTERS) for _ in range(n))

    def _digits(self, n: int) -> str:
        return "".join(str(self.rng.randint(0, 9)) for _ in range(n))

    def plate(self) -> str:
        rng = self.rng
        kind = rng.random()
        if kind < 0.6:  # NY passenger
            return f"{self._letters(3)}{rng.choice(('-', '', ' '))}{self._digits(4)}"
        if kind < 0.7:  # NJ
            return f"{self._letters(1)}{self._digits(2)}-{self._letters(3)}"
        if kind < 0.8:  # CA
            return f"{rng.randint(1, 9)}{self._letters(3)}{self._digits(3)}"
        if kind < 0.9:  # NY commercial
            return f"{self._digits(5)}-{self._letters(2)}"
        return f"{self._letters(3)}-{self._digits(3)}"  # older NY

    def address(self) -> str:
        rng = self.rng
        number = (
            f"{rng.randint(10, 250)}-{rng.randint(1, 99):02d}"
            if rng.random() < 0.15
            else str(rng.randint(1, 2999))
        )
        if rng.random() < 0.3:
            ordinal = rng.randint(1, 220)
            suffix = (
                "th"
                if 10 <= ordinal % 100 <= 20
                else {1: "st", 2: "nd", 3: "rd"}.get(ordinal % 10, "th")
            )
            street = (
                f"{rng.choice(DIRECTIONS)} {ordinal}{suffix} {rng.choice(('St', 'Street', 'Ave'))}"
            )
        else:
            street = rng.choice(STREETS)
        address = f"{number} {street}"
        if rng.random() < 0.25:
            address += f", Apt {rng.randint(1, 20)}{rng.choice('ABCDEFGH')}"
        if rng.random() < 0.3:
            address += rng.choice(BOROUGH_TAILS)
        return address


_SLOT_TYPES = {
    "name": PERSON,
    "first": PERSON,
    "phone": PHONE,
    "email": EMAIL,
    "plate": PLATE,
    "address": ADDRESS,
}


def _fill(template: str, planter: _Planter) -> Sample:
    text_parts: list[str] = []
    spans: list[Span] = []
    cursor = 0
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        slot, _, rest = after.partition("}")
        text_parts.append(before)
        cursor += len(before)
        value = getattr(planter, slot)()
        spans.append(Span(_SLOT_TYPES[slot], cursor, cursor + len(value)))
        text_parts.append(value)
        cursor += len(value)
    text_parts.append(rest)
    return Sample("".join(text_parts), tuple(spans))


def make_corpus(n: int, seed: int) -> list[Sample]:
    """``n`` complaint texts; the same ``seed`` gives the same texts and spans."""
    rng = random.Random(seed)
    planter = _Planter(rng)
    samples: list[Sample] = []
    for _ in range(n):
        if rng.random() < 0.25:
            sample = Sample(rng.choice(NO_PII), ())
        else:
            sample = _fill(rng.choice(TEMPLATES), planter)
        case = rng.random()
        if case < 0.04:
            sample = Sample(sample.text.lower(), sample.spans)
        elif case < 0.07:
            sample = Sample(sample.text.upper(), sample.spans)
        samples.append(sample)
    return samples
