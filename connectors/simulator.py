"""Synthetic smart-city IoT events for every citysieve dataset.

Pure generation: no I/O, no wall clock, no global random state. A `Simulator`
is built from a seed, an injected start time and a rate, and yields `SimEvent`s
whose ``value`` is the raw bytes a sensor would send (the JSON reference form of
DESIGN.md, exactly its field names). The same arguments give the same bytes.

What makes the data worth testing a privacy pipeline against:

- Places: about twenty anchor points in Manhattan, Brooklyn and Queens. Sensors
  and cameras sit at fixed positions near them; their ids and positions are
  public (city-owned) and do not depend on the seed.
- Time: event times advance from the start at ``rate_per_s`` events per second
  of simulated time on average over a day; the instantaneous rate follows a
  per-dataset New York diurnal profile (rush hours busy, nights quiet).
  Periodic sources (air quality, smart meters) report at a flat rate.
- People recur: devices, vehicles, riders and 311 reporters are drawn from a
  population with Zipf-like weights, so a few recur a lot, and each has a few
  habitual places (home, work), as real quasi-identifier trails do. Meters are
  read in turn, so every meter recurs.
- Formats vary as in the field: each Wi-Fi sensor's firmware writes MACs in its
  own format (colon, dash, Cisco dotted, upper or lower case), so one device
  appears in several; each source writes timestamps with ``Z`` or ``+00:00``
  and its own precision; phones in free text come in several layouts.
- 311 descriptions carry PII the way residents write it (names of neighbours
  and landlords, phones, emails, plates, addresses) or none at all.
- A configurable share of events is malformed, one defect kind each (`DEFECTS`).
  Defects draw from their own random stream, so the well-formed events of a run
  with malformed events are the same as those of a run without.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import math
import random
import string
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol, TypeVar

from citysieve.errors import ConfigurationError

_T = TypeVar("_T")

DATASETS: Final[tuple[str, ...]] = (
    "wifi_presence",
    "alpr_reads",
    "air_quality",
    "service_requests",
    "micromobility_trips",
    "smart_meter",
)

# Reference field names, in the order events carry them (DESIGN.md).
FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "wifi_presence": ("event_id", "sensor_id", "observed_at", "mac", "rssi", "lat", "lon"),
    "alpr_reads": (
        "event_id",
        "camera_id",
        "observed_at",
        "plate",
        "plate_state",
        "vehicle_make",
        "vehicle_color",
        "speed_kmh",
        "lat",
        "lon",
    ),
    "air_quality": (
        "event_id",
        "sensor_id",
        "observed_at",
        "lat",
        "lon",
        "pm25",
        "no2",
        "temperature_c",
        "humidity",
    ),
    "service_requests": (
        "event_id",
        "request_id",
        "created_at",
        "category",
        "description",
        "reporter_name",
        "reporter_phone",
        "reporter_email",
        "address",
        "lat",
        "lon",
    ),
    "micromobility_trips": (
        "event_id",
        "trip_id",
        "provider",
        "vehicle_id",
        "rider_id",
        "started_at",
        "ended_at",
        "start_lat",
        "start_lon",
        "end_lat",
        "end_lon",
        "distance_m",
        "fare_usd",
    ),
    "smart_meter": ("event_id", "meter_id", "account_holder", "address", "zip", "read_at", "kwh"),
}

# Fields a well-formed event may carry as JSON null; every other field is always present.
# Fields a well-formed event may carry as JSON null (as the schemas in schemas/ declare);
# every other field is always present and never null.
NULLABLE: Final[Mapping[str, frozenset[str]]] = {
    "wifi_presence": frozenset(),
    "alpr_reads": frozenset({"plate_state", "vehicle_make", "vehicle_color", "speed_kmh"}),
    "air_quality": frozenset({"pm25", "no2", "temperature_c", "humidity"}),
    "service_requests": frozenset(
        {"description", "reporter_name", "reporter_phone", "reporter_email", "address"}
    ),
    "micromobility_trips": frozenset({"fare_usd"}),
    "smart_meter": frozenset(),
}
TIME_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "wifi_presence": ("observed_at",),
    "alpr_reads": ("observed_at",),
    "air_quality": ("observed_at",),
    "service_requests": ("created_at",),
    "micromobility_trips": ("started_at", "ended_at"),
    "smart_meter": ("read_at",),
}
LAT_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "wifi_presence": ("lat",),
    "alpr_reads": ("lat",),
    "air_quality": ("lat",),
    "service_requests": ("lat",),
    "micromobility_trips": ("start_lat", "end_lat"),
    "smart_meter": (),
}

# Kinds of malformed event. smart_meter has no latitude, so no lat_out_of_range.
DEFECTS: Final[tuple[str, ...]] = (
    "not_json",  # truncated bytes (may end inside a multi-byte UTF-8 character)
    "not_object",  # valid JSON, but an array of the values, a double-encoded string or null
    "missing_field",  # one non-nullable field left out (event_id included)
    "wrong_type",  # a number sent as text, e.g. rssi "strong"
    "bad_timestamp",  # a time field that is not ISO-8601 at all
    "lat_out_of_range",  # a latitude beyond +/-90
)

# The simulated city: everything lies inside this box (New York).
LAT_RANGE: Final = (40.70, 40.80)
LON_RANGE: Final = (-74.02, -73.93)


@dataclass(frozen=True)
class SimEvent:
    """One simulated message, as it would arrive on ``iot.raw.<dataset>``.

    ``event_id`` is the id the payload carries, or None when the payload has no
    readable top-level ``event_id`` (not JSON, not an object, or the id left
    out). ``identifiers`` are the raw PII strings planted in the event, exactly
    as written there (fields and free text), so tests can check none of them
    leaves the raw tier; a malformed event lists those of the event it was
    broken from, whether or not its bytes still hold all of them. ``key`` is a
    public sensor, camera or provider id, or None: never a personal identifier.
    ``event_time`` is the simulated time the event happened (for trips: when the
    trip ended).
    """

    dataset: str
    event_id: str | None
    value: bytes
    key: bytes | None
    valid: bool
    defect: str | None
    identifiers: tuple[str, ...]
    event_time: datetime


def _rng(*parts: object) -> random.Random:
    # Synthetic data, not security (S311). String seeds are hashed with SHA-512 by
    # random.Random, so they are stable across processes and PYTHONHASHSEED.
    return random.Random(":".join(str(p) for p in ("citysieve.simulator", *parts)))  # noqa: S311


# --- the city -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Anchor:
    name: str
    lat: float
    lon: float
    zip: str
    city: str
    streets: tuple[str, ...]


_ANCHORS: Final[tuple[_Anchor, ...]] = (
    _Anchor("Times Square", 40.7580, -73.9855, "10036", "New York",
            ("W 42nd St", "W 44th St", "Broadway", "8th Ave")),
    _Anchor("Grand Central", 40.7527, -73.9772, "10017", "New York",
            ("E 42nd St", "Lexington Ave", "Park Ave", "E 45th St")),
    _Anchor("Penn Station", 40.7506, -73.9935, "10001", "New York",
            ("W 34th St", "7th Ave", "W 31st St", "W 33rd St")),
    _Anchor("Union Square", 40.7359, -73.9906, "10003", "New York",
            ("E 14th St", "Broadway", "University Pl", "E 17th St")),
    _Anchor("Washington Square", 40.7308, -73.9973, "10012", "New York",
            ("Bleecker St", "W 4th St", "Thompson St", "Sullivan St")),
    _Anchor("City Hall", 40.7128, -74.0060, "10007", "New York",
            ("Chambers St", "Park Row", "Centre St", "Murray St")),
    _Anchor("Financial District", 40.7069, -74.0113, "10005", "New York",
            ("Wall St", "Broad St", "William St", "Pine St")),
    _Anchor("Chelsea", 40.7424, -74.0020, "10011", "New York",
            ("W 16th St", "9th Ave", "W 18th St", "8th Ave")),
    _Anchor("Columbus Circle", 40.7681, -73.9819, "10019", "New York",
            ("W 57th St", "W 58th St", "8th Ave", "W 56th St")),
    _Anchor("Lincoln Square", 40.7725, -73.9835, "10023", "New York",
            ("W 66th St", "Amsterdam Ave", "Columbus Ave", "W 64th St")),
    _Anchor("Yorkville", 40.7795, -73.9556, "10028", "New York",
            ("E 86th St", "Lexington Ave", "3rd Ave", "E 84th St")),
    _Anchor("Upper West Side", 40.7870, -73.9754, "10024", "New York",
            ("W 86th St", "Amsterdam Ave", "Broadway", "W 84th St")),
    _Anchor("East Harlem", 40.7950, -73.9440, "10029", "New York",
            ("E 103rd St", "Lexington Ave", "2nd Ave", "E 106th St")),
    _Anchor("Midtown East", 40.7590, -73.9680, "10022", "New York",
            ("E 57th St", "2nd Ave", "E 55th St", "1st Ave")),
    _Anchor("East Village", 40.7265, -73.9815, "10009", "New York",
            ("E 9th St", "Avenue A", "E 7th St", "1st Ave")),
    _Anchor("Lower East Side", 40.7185, -73.9880, "10002", "New York",
            ("Delancey St", "Orchard St", "Rivington St", "Essex St")),
    _Anchor("Hudson Yards", 40.7539, -74.0020, "10001", "New York",
            ("W 34th St", "10th Ave", "W 35th St", "11th Ave")),
    _Anchor("Williamsburg", 40.7171, -73.9565, "11211", "Brooklyn",
            ("Bedford Ave", "N 7th St", "Berry St", "Grand St")),
    _Anchor("Greenpoint", 40.7290, -73.9540, "11222", "Brooklyn",
            ("Manhattan Ave", "Nassau Ave", "Franklin St", "Greenpoint Ave")),
    _Anchor("Long Island City", 40.7471, -73.9456, "11101", "Long Island City",
            ("Jackson Ave", "44th Dr", "Court Sq", "Vernon Blvd")),
)  # fmt: skip

_M_PER_DEG_LAT: Final = 111_320.0
_M_PER_DEG_LON: Final = 111_320.0 * math.cos(math.radians(40.75))


def _near(rng: random.Random, lat: float, lon: float, metres: float) -> tuple[float, float]:
    """A point about ``metres`` (one standard deviation) from (lat, lon), inside the city box."""
    la = lat + rng.gauss(0.0, metres) / _M_PER_DEG_LAT
    lo = lon + rng.gauss(0.0, metres) / _M_PER_DEG_LON
    la = min(max(la, LAT_RANGE[0] + 1e-4), LAT_RANGE[1] - 1e-4)
    lo = min(max(lo, LON_RANGE[0] + 1e-4), LON_RANGE[1] - 1e-4)
    return round(la, 6), round(lo, 6)


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(a))


# --- time -----------------------------------------------------------------------------------

_TIME_STYLES: Final = ("z", "z_ms", "offset", "offset_us")


def _iso(t: datetime, style: str) -> str:
    """ISO-8601 UTC in one of the layouts sources send: ``Z`` or ``+00:00``, s/ms/us."""
    if style == "z":
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "z_ms":
        return f"{t.strftime('%Y-%m-%dT%H:%M:%S')}.{t.microsecond // 1000:03d}Z"
    if style == "offset":
        return t.replace(microsecond=0).isoformat()
    return t.isoformat(timespec="microseconds")


def _new_york_hour(t: datetime) -> float:
    """The local clock hour in New York as a float in [0, 24).

    US Eastern rules (since 2007) computed here rather than read from the system
    tz database, so the same seed gives the same bytes on every machine.
    """
    march1 = datetime(t.year, 3, 1, tzinfo=UTC)
    dst_start = march1 + timedelta(days=(6 - march1.weekday()) % 7 + 7, hours=7)
    nov1 = datetime(t.year, 11, 1, tzinfo=UTC)
    dst_end = nov1 + timedelta(days=(6 - nov1.weekday()) % 7, hours=6)
    local = t + timedelta(hours=-4 if dst_start <= t < dst_end else -5)
    return local.hour + local.minute / 60 + local.second / 3600


def _profile(*weights: float) -> tuple[float, ...]:
    """24 hourly weights (local time), scaled to a mean of 1."""
    if len(weights) != 24:
        raise ValueError(f"a daily profile needs 24 hourly weights, got {len(weights)}")
    mean = sum(weights) / 24
    return tuple(w / mean for w in weights)


def _at_hour(profile: Sequence[float], hour: float) -> float:
    i = int(hour) % 24
    frac = hour - int(hour)
    return profile[i] * (1 - frac) + profile[(i + 1) % 24] * frac


# fmt: off
_FLAT: Final = _profile(*([1.0] * 24))
_PEDESTRIANS: Final = _profile(0.20, 0.12, 0.08, 0.07, 0.10, 0.25, 0.70, 1.60, 2.20, 1.70, 1.30,
                               1.30, 1.45, 1.35, 1.25, 1.40, 1.80, 2.30, 2.10, 1.50, 1.10, 0.85,
                               0.60, 0.35)
_TRAFFIC: Final = _profile(0.30, 0.20, 0.15, 0.15, 0.25, 0.50, 1.10, 1.90, 2.00, 1.50, 1.20, 1.20,
                           1.25, 1.25, 1.35, 1.60, 1.95, 2.00, 1.60, 1.20, 0.95, 0.80, 0.60, 0.45)
_COMPLAINTS: Final = _profile(0.55, 0.40, 0.25, 0.15, 0.12, 0.15, 0.35, 0.70, 1.20, 1.50, 1.55,
                              1.50, 1.45, 1.40, 1.35, 1.30, 1.25, 1.20, 1.20, 1.20, 1.20, 1.15,
                              1.00, 0.80)
_TRIPS: Final = _profile(0.25, 0.15, 0.08, 0.05, 0.06, 0.20, 0.60, 1.50, 2.10, 1.40, 1.00, 1.10,
                         1.30, 1.25, 1.20, 1.40, 1.90, 2.40, 2.20, 1.60, 1.20, 0.95, 0.70, 0.45)
_HOUSEHOLD_LOAD: Final = _profile(0.55, 0.45, 0.40, 0.40, 0.40, 0.50, 0.80, 1.10, 1.00, 0.80,
                                  0.75, 0.75, 0.80, 0.80, 0.85, 0.95, 1.15, 1.50, 1.80, 1.90,
                                  1.80, 1.50, 1.10, 0.75)
# fmt: on


# --- people, devices, vehicles --------------------------------------------------------------

_FIRST_NAMES: Final = (
    "James", "Maria", "Michael", "Jennifer", "David", "Linda", "Robert", "Jessica", "Daniel",
    "Sarah", "Carlos", "Ana", "José", "Luis", "Rosa", "Wei", "Mei", "Jun", "Priya", "Rahul",
    "Aisha", "Mohammed", "Fatima", "Kwame", "Ngozi", "Dmitri", "Olga", "Sean", "Siobhan", "Kevin",
    "Angela", "Anthony", "Nicole", "Brian", "Emily", "Hannah", "Yusuf", "Tenzin", "Chloé", "Zoë",
    "Marcus", "Tiffany", "Jamal", "Keisha", "Giovanni", "Sofia", "Hyun", "Min-jun", "Elena", "Omar",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Smith", "Johnson", "Williams", "Brown", "Rodriguez", "Martinez", "Garcia", "Hernandez",
    "Lopez", "Gonzalez", "Perez", "Rivera", "Torres", "Nguyen", "Chen", "Wang", "Li", "Zhang",
    "Kim", "Park", "Patel", "Shah", "Singh", "Khan", "Ali", "Cohen", "Goldberg", "Friedman",
    "O'Brien", "Murphy", "Kelly", "Russo", "Esposito", "Romano", "Ivanov", "Kowalski", "Okafor",
    "Mensah", "Diallo", "Jackson", "Washington", "Thompson", "Núñez", "Peña", "Santiago",
    "García-López", "Haddad", "Nakamura", "Sato", "Fitzgerald",
)  # fmt: skip
_EMAIL_DOMAINS: Final = (
    "gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com",
    "icloud.com", "aol.com", "verizon.net", "protonmail.com",
)  # fmt: skip
# 555 exchanges: US-valid to phone-number parsers, but not handed out to subscribers.
_AREA_CODES: Final = ("212", "646", "917", "718", "347", "929", "332")
_PHONE_STYLES: Final = ("paren", "dash", "intl", "dot")

_MAC_STYLES: Final = (
    "colon_lower",
    "colon_upper",
    "dash_upper",
    "cisco_lower",
    "dash_lower",
    "cisco_upper",
)
# Organizationally unique identifiers of common phone, laptop and chipset makers.
_OUIS: Final = (
    0xF0189E, 0x3C22FB, 0xA483E7, 0x8CF5A3, 0x5C0A5B, 0xF4F5E8, 0x3CA9F4, 0xDCA632, 0x001A11,
    0xB827EB, 0xACDE48, 0x7C2EBD,
)  # fmt: skip

_MAKES: Final = (
    "TOYOTA", "HONDA", "FORD", "NISSAN", "CHEVROLET", "HYUNDAI", "BMW", "MERCEDES-BENZ", "JEEP",
    "SUBARU", "TESLA", "LEXUS", "KIA", "VOLKSWAGEN", "DODGE",
)  # fmt: skip
_MAKE_WEIGHTS: Final = (16, 14, 10, 9, 7, 6, 5, 5, 5, 4, 4, 3, 3, 3, 3)
_COLORS: Final = ("BLACK", "WHITE", "GRAY", "SILVER", "BLUE", "RED", "GREEN", "BROWN")
_COLOR_WEIGHTS: Final = (25, 22, 18, 14, 9, 8, 2, 2)
# (state, shape, weight): L = letter (no I, O, Q), D = digit, anything else literal.
_PLATE_SHAPES: Final = (
    ("NY", "LLLDDDD", 70),
    ("NY", "DDDDDM?", 6),  # commercial: 5 digits then M + letter
    ("NJ", "LDDLLL", 14),
    ("PA", "LLLDDDD", 5),
    ("CA", "DLLLDDD", 5),
)
_PLATE_LETTERS: Final = "ABCDEFGHJKLMNPRSTUVWXYZ"
_PLATE_CUM: Final = tuple(itertools.accumulate(w for *_, w in _PLATE_SHAPES))
_MAKE_CUM: Final = tuple(itertools.accumulate(_MAKE_WEIGHTS))
_COLOR_CUM: Final = tuple(itertools.accumulate(_COLOR_WEIGHTS))


@dataclass(frozen=True)
class _Address:
    anchor: int
    number: int
    street: str
    unit: str | None
    lat: float
    lon: float

    @property
    def street_line(self) -> str:
        line = f"{self.number} {self.street}"
        return f"{line} Apt {self.unit}" if self.unit else line

    @property
    def full(self) -> str:
        """The incident form 311 stores: no unit, with city, state and zip."""
        a = _ANCHORS[self.anchor]
        return f"{self.number} {self.street}, {a.city}, NY {a.zip}"


def _address(rng: random.Random, anchor: int, *, unit_share: float) -> _Address:
    a = _ANCHORS[anchor]
    unit = None
    if rng.random() < unit_share:
        unit = f"{rng.randint(1, 24)}{rng.choice('ABCDEFGH')}"
    lat, lon = _near(rng, a.lat, a.lon, 250.0)
    return _Address(anchor, rng.randint(1, 640), rng.choice(a.streets), unit, lat, lon)


@dataclass(frozen=True)
class _Person:
    first: str
    last: str
    phone: str  # ten digits
    email: str
    home: _Address

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _person(rng: random.Random) -> _Person:
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    f, ln = _ascii_word(first), _ascii_word(last)
    local = rng.choice(
        (
            f"{f}.{ln}",
            f"{f[0]}{ln}{rng.randint(1, 99)}",
            f"{f}{ln[0]}{rng.randint(70, 99)}",
            f"{f}_{ln}",
        )
    )
    phone = f"{rng.choice(_AREA_CODES)}555{rng.randint(100, 9999):04d}"
    home = _address(rng, rng.randrange(len(_ANCHORS)), unit_share=0.75)
    return _Person(first, last, phone, f"{local}@{rng.choice(_EMAIL_DOMAINS)}", home)


def _format_phone(digits: str, style: str) -> str:
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    if style == "paren":
        return f"({area}) {exchange}-{line}"
    if style == "dash":
        return f"{area}-{exchange}-{line}"
    if style == "intl":
        return f"+1 {area} {exchange} {line}"
    return f"{area}.{exchange}.{line}"


def _format_mac(mac: int, style: str) -> str:
    hexits = f"{mac:012x}"
    if style.startswith("cisco"):
        text = ".".join(hexits[i : i + 4] for i in range(0, 12, 4))
    else:
        sep = ":" if style.startswith("colon") else "-"
        text = sep.join(hexits[i : i + 2] for i in range(0, 12, 2))
    return text.upper() if style.endswith("upper") else text


@dataclass(frozen=True)
class _Device:
    mac: int
    haunts: tuple[int, ...]  # indices of the sensors it is usually near


@dataclass(frozen=True)
class _Vehicle:
    plate: str
    state: str
    shape: str
    make: str
    color: str
    haunts: tuple[int, ...]  # indices of the cameras it usually passes

    def as_written(self, rng: random.Random) -> str:
        """The plate as a resident types it: as issued, or with a dash or space."""
        split = {"LLLDDDD": 3, "LDDLLL": 3, "DDDDDM?": 5}.get(self.shape)
        if split is None or rng.random() < 0.55:
            return self.plate
        return f"{self.plate[:split]}{rng.choice('- ')}{self.plate[split:]}"


@dataclass(frozen=True)
class _Rider:
    rider_id: str
    provider: str
    member: bool
    home: int  # anchor indices
    work: int


@dataclass(frozen=True)
class _Meter:
    meter_id: str
    holder: _Person
    scale: float  # household size factor


_PROVIDERS: Final = ("citibike", "lime", "veo")
_PROVIDER_WEIGHTS: Final = (60, 28, 12)


class _Zipf:
    """Draws 0..n-1 with weight 1/(rank+1)^s: a few members recur a lot, most rarely."""

    def __init__(self, n: int, s: float = 1.0) -> None:
        self._cum = list(itertools.accumulate(1.0 / (k**s) for k in range(1, n + 1)))

    def pick(self, rng: random.Random) -> int:
        return bisect.bisect_left(self._cum, rng.random() * self._cum[-1])


class _Population:
    """Everyone and everything that recurs, built lazily from (seed, size).

    Each kind has its own random stream, so the same seed gives the same people
    whichever datasets are simulated; 311 reporters and meter account holders
    come from the same people.
    """

    def __init__(self, seed: int, size: int) -> None:
        self.seed = seed
        self.size = size

    @functools.cached_property
    def people(self) -> tuple[_Person, ...]:
        rng = _rng(self.seed, "people")
        return tuple(_person(rng) for _ in range(self.size))

    @functools.cached_property
    def devices(self) -> tuple[_Device, ...]:
        sensors = len(_WIFI_SITES)
        rng, places = _rng(self.seed, "devices"), _rng(self.seed, "devices", "haunts")
        out = []
        for _ in range(self.size):
            if rng.random() < 0.35:  # randomized, locally administered (as modern phones do)
                first = (rng.getrandbits(8) & 0xFC) | 0x02
                mac = (first << 40) | rng.getrandbits(40)
            else:
                mac = (rng.choice(_OUIS) << 24) | rng.getrandbits(24)
            haunts = tuple(places.randrange(sensors) for _ in range(places.randint(1, 3)))
            out.append(_Device(mac, haunts))
        return tuple(out)

    @functools.cached_property
    def vehicles(self) -> tuple[_Vehicle, ...]:
        cameras = len(_ALPR_SITES)
        rng, places = _rng(self.seed, "vehicles"), _rng(self.seed, "vehicles", "haunts")
        out = []
        for _ in range(self.size):
            state, shape, _ = rng.choices(_PLATE_SHAPES, cum_weights=_PLATE_CUM)[0]
            plate = "".join(
                rng.choice(_PLATE_LETTERS)
                if c == "L"
                else str(rng.randint(0, 9))
                if c == "D"
                else rng.choice("JKLMN")
                if c == "?"
                else c
                for c in shape
            )
            make = rng.choices(_MAKES, cum_weights=_MAKE_CUM)[0]
            color = rng.choices(_COLORS, cum_weights=_COLOR_CUM)[0]
            haunts = tuple(places.randrange(cameras) for _ in range(places.randint(1, 3)))
            out.append(_Vehicle(plate, state, shape, make, color, haunts))
        return tuple(out)

    @functools.cached_property
    def riders(self) -> tuple[_Rider, ...]:
        rng = _rng(self.seed, "riders")
        return tuple(
            _Rider(
                rider_id=f"r-{rng.getrandbits(48):012x}",
                provider=rng.choices(_PROVIDERS, weights=_PROVIDER_WEIGHTS)[0],
                member=rng.random() < 0.7,
                home=rng.randrange(len(_ANCHORS)),
                work=rng.randrange(len(_ANCHORS)),
            )
            for _ in range(self.size)
        )

    @functools.cached_property
    def meters(self) -> tuple[_Meter, ...]:
        rng = _rng(self.seed, "meters")
        return tuple(
            _Meter(f"CE{rng.randrange(10**8, 10**9)}", person, rng.uniform(0.5, 2.2))
            for person in self.people
        )


@functools.lru_cache(maxsize=4)
def _population(seed: int, size: int) -> _Population:
    """Shared between simulators of one run (it is immutable once built)."""
    return _Population(seed, size)


# --- sensors (public, seed-independent) -----------------------------------------------------


@dataclass(frozen=True)
class _Site:
    id: str
    lat: float
    lon: float
    time_style: str
    mac_style: str


def _sites(prefix: str, per_anchor: int) -> tuple[_Site, ...]:
    rng = _rng("sites", prefix)  # no seed: city-owned positions are the same in every run
    sites: list[_Site] = []
    for anchor in _ANCHORS:
        for _ in range(per_anchor):
            n = len(sites)
            lat, lon = _near(rng, anchor.lat, anchor.lon, 120.0)
            style = _TIME_STYLES[rng.randrange(len(_TIME_STYLES))]
            sites.append(_Site(f"{prefix}-{n + 1:03d}", lat, lon, style, _MAC_STYLES[n % 6]))
    return tuple(sites)


_WIFI_SITES: Final = _sites("wifi-ap", 2)
_ALPR_SITES: Final = _sites("alpr-cam", 1)
_AQ_SITES: Final = _sites("aq", 1)


# --- the datasets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Draft:
    record: dict[str, object]
    key: bytes | None
    identifiers: tuple[str, ...]


class _Source(Protocol):
    profile: tuple[float, ...]

    def draft(self, rng: random.Random, t: datetime, event_id: str) -> _Draft: ...


def _or_null(rng: random.Random, share: float, value: _T) -> _T | None:
    return None if rng.random() < share else value


def _habitual(rng: random.Random, haunts: Sequence[int], n: int, share: float = 0.8) -> int:
    return rng.choice(haunts) if rng.random() < share else rng.randrange(n)


class _WifiPresence:
    profile = _PEDESTRIANS

    def __init__(self, pop: _Population) -> None:
        self._sites = _WIFI_SITES
        self._devices = pop.devices
        self._zipf = _Zipf(len(self._devices))

    def draft(self, rng: random.Random, t: datetime, event_id: str) -> _Draft:
        device = self._devices[self._zipf.pick(rng)]
        site = self._sites[_habitual(rng, device.haunts, len(self._sites))]
        mac = _format_mac(device.mac, site.mac_style)
        record: dict[str, object] = {
            "event_id": event_id,
            "sensor_id": site.id,
            "observed_at": _iso(t, site.time_style),
            "mac": mac,
            "rssi": round(min(-30.0, max(-98.0, rng.gauss(-71.0, 9.0)))),
            "lat": site.lat,
            "lon": site.lon,
        }
        return _Draft(record, site.id.encode(), (mac,))


class _AlprReads:
    profile = _TRAFFIC

    def __init__(self, pop: _Population) -> None:
        self._sites = _ALPR_SITES
        self._vehicles = pop.vehicles
        self._zipf = _Zipf(len(self._vehicles))

    def draft(self, rng: random.Random, t: datetime, event_id: str) -> _Draft:
        vehicle = self._vehicles[self._zipf.pick(rng)]
        site = self._sites[_habitual(rng, vehicle.haunts, len(self._sites))]
        traffic = _at_hour(_TRAFFIC, _new_york_hour(t))  # busier streets are slower
        speed = max(3.0, rng.gauss(52.0 - 14.0 * traffic, 7.0))
        record: dict[str, object] = {
            "event_id": event_id,
            "camera_id": site.id,
            "observed_at": _iso(t, site.time_style),
            "plate": vehicle.plate,
            "plate_state": _or_null(rng, 0.02, vehicle.state),  # not read from the plate
            "vehicle_make": _or_null(rng, 0.04, vehicle.make),  # not recognized
            "vehicle_color": _or_null(rng, 0.03, vehicle.color),
            "speed_kmh": _or_null(rng, 0.05, round(speed, 1)),  # no radar fix
            "lat": site.lat,
            "lon": site.lon,
        }
        return _Draft(record, site.id.encode(), (vehicle.plate,))


class _AirQuality:
    """Sensors report in turn at a flat rate; pollution follows traffic, weather the season."""

    profile = _FLAT

    def __init__(self, pop: _Population) -> None:
        self._sites = _AQ_SITES
        rng = _rng("sites", "aq", "baselines")
        self._base = tuple((rng.uniform(5.0, 11.0), rng.uniform(14.0, 28.0)) for _ in self._sites)
        self._turn = 0

    def draft(self, rng: random.Random, t: datetime, event_id: str) -> _Draft:
        i = self._turn % len(self._sites)
        self._turn += 1
        site, (pm_base, no2_base) = self._sites[i], self._base[i]
        hour = _new_york_hour(t)
        traffic = _at_hour(_TRAFFIC, hour)
        season = math.sin(2 * math.pi * (t.timetuple().tm_yday - 110) / 365.0)
        daily = math.sin(2 * math.pi * (hour - 9.0) / 24.0)
        temperature = 13.0 + 11.0 * season + 4.0 * daily + rng.gauss(0.0, 0.8)
        humidity = min(99.0, max(15.0, 62.0 - 12.0 * daily + rng.gauss(0.0, 5.0)))
        pm, no2 = pm_base * (0.6 + 0.4 * traffic), no2_base * (0.4 + 0.6 * traffic)
        # Each channel drops out now and then (null), as low-cost sensors do.
        record: dict[str, object] = {
            "event_id": event_id,
            "sensor_id": site.id,
            "observed_at": _iso(t, site.time_style),
            "lat": site.lat,
            "lon": site.lon,
            "pm25": _or_null(rng, 0.015, round(max(0.5, pm * rng.gauss(1.0, 0.15)), 1)),
            "no2": _or_null(rng, 0.015, round(max(1.0, no2 * rng.gauss(1.0, 0.15)), 1)),
            "temperature_c": _or_null(rng, 0.015, round(temperature, 1)),
            "humidity": _or_null(rng, 0.015, round(humidity, 1)),
        }
        return _Draft(record, site.id.encode(), ())


# 311: category -> (weight, description templates). Slots in _PII_SLOTS plant PII.
_CATEGORIES: Final[Mapping[str, tuple[int, tuple[str, ...]]]] = {
    "Noise - Residential": (20, (
        "Loud music from the apartment above mine every night after midnight.",
        "My neighbor {name} plays loud music until 3am, the whole building can hear it.",
        "Party at {address} going on since 11pm, people yelling in the hallway.",
        "Dog barking all day in the unit next door. The owner, {name}, does not respond.",
    )),
    "Illegal Parking": (14, (
        "Car with plate {plate} parked in the bus stop on {street} since this morning.",
        "{color} {make}, plate {plate}, blocking the hydrant in front of {address} again.",
        "Vehicles double parked on {street} every morning, buses cannot get through.",
        "Commercial van ({state} plate {plate}) parked in the bike lane on {street}.",
    )),
    "Heat/Hot Water": (12, (
        "No heat in the building since Monday. Landlord {name} does not answer at {phone}.",
        "No hot water in my apartment for 3 days. Super's number is {phone}, email {email}.",
        "Radiators are cold in the whole building at {address}.",
    )),
    "Blocked Driveway": (9, (
        "Someone is blocking my driveway at {address}. Vehicle plate {plate}.",
        "A {color} {make} with plate {plate} is blocking the driveway, I cannot get to work.",
        "Driveway blocked at {address}, no plate visible.",
    )),
    "Noise - Street/Sidewalk": (8, (
        "Construction noise on {street} before 7am again.",
        "Group of people with a loud speaker outside {address} every night.",
        "Ice cream truck idling with its music on for hours on {street}.",
    )),
    "Street Condition": (7, (
        "Large pothole in front of {address}, it already damaged two cars.",
        "Pothole on {street} near the corner of {cross}.",
        "Road surface is broken on {street}, cyclists keep falling.",
    )),
    "Noise - Commercial": (5, (
        "Bar on {street} has music blasting past 2am on weeknights.",
        "The restaurant at {address} runs its exhaust fan all night. The manager is {name}.",
    )),
    "Dirty Condition": (6, (
        "Garbage not collected on {street} for a week.",
        "Overflowing litter basket at the corner of {street} and {cross}.",
        "The building at {address} leaves trash bags on the sidewalk. Owner is {name}.",
    )),
    "Street Light Condition": (5, (
        "Street light out at the corner of {street} and {cross}.",
        "Street light flickering all night on {street}.",
    )),
    "Rodent": (4, (
        "Rats running around the trash bags near {address}.",
        "Rat burrows in the tree pits on {street}.",
    )),
    "Abandoned Vehicle": (4, (
        "Abandoned {color} {make} with {state} plates {plate} has not moved in a month.",
        "Car with no plates and flat tires left on {street} for weeks.",
    )),
    "Graffiti": (3, (
        "Graffiti on the wall of the laundromat on {street}.",
        "Fresh graffiti on the building at {address}. The owner {name} can be reached at {email}.",
    )),
    "Water System": (3, (
        "Hydrant leaking on {street} near {cross}.",
        "Low water pressure in the building at {address}, call the super {name} at {phone}.",
    )),
}  # fmt: skip
_CONTACT: Final = (
    "Please call me back at {my_phone}.",
    "You can reach me at {my_email} if you need more details.",
    "Call {my_phone} or email {my_email}.",
    "I am {my_name} and I live at {my_address}.",
)
_PII_SLOTS: Final = frozenset(
    {"name", "phone", "email", "plate", "address", "my_name", "my_phone", "my_email", "my_address"}
)
_RESIDENTIAL: Final = frozenset({"Noise - Residential", "Heat/Hot Water", "Rodent"})
_FORMATTER: Final = string.Formatter()


def _render(template: str, slot: Callable[[str], str]) -> tuple[str, list[str]]:
    """Fill a template; returns the text and the PII values planted in it."""
    names = dict.fromkeys(f for _, f, _, _ in _FORMATTER.parse(template) if f)
    values = {name: slot(name) for name in names}
    text = template.format(**values)
    return text[0].upper() + text[1:], [v for k, v in values.items() if k in _PII_SLOTS]


class _ServiceRequests:
    profile = _COMPLAINTS

    def __init__(self, pop: _Population) -> None:
        self._people = pop.people
        self._vehicles = pop.vehicles  # the plates ALPR cameras read
        self._reporters = _Zipf(len(self._people))  # a few residents complain a lot
        self._categories = tuple(_CATEGORIES)
        self._weights = tuple(w for w, _ in _CATEGORIES.values())
        self._next_id = _rng(pop.seed, "311").randrange(40_000_000, 60_000_000)

    def draft(self, rng: random.Random, t: datetime, event_id: str) -> _Draft:
        reporter = self._people[self._reporters.pick(rng)]
        category = rng.choices(self._categories, weights=self._weights)[0]
        anchor = reporter.home.anchor if rng.random() < 0.7 else rng.randrange(len(_ANCHORS))
        if category in _RESIDENTIAL and rng.random() < 0.5:
            place = reporter.home
        else:
            place = _address(rng, anchor, unit_share=0.0)
        vehicle = self._vehicles[rng.randrange(len(self._vehicles))]
        other = self._people[rng.randrange(len(self._people))]
        streets = _ANCHORS[place.anchor].streets

        def slot(name: str) -> str:
            match name:
                case "name":
                    return other.name
                case "phone":
                    return _format_phone(other.phone, rng.choice(_PHONE_STYLES))
                case "email":
                    return other.email
                case "plate":
                    return vehicle.as_written(rng)
                case "address":
                    return f"{place.number} {place.street}"
                case "street":
                    return place.street
                case "cross":
                    return rng.choice([s for s in streets if s != place.street])
                case "make":  # as people write it: Toyota, Mercedes-Benz, BMW
                    return vehicle.make if len(vehicle.make) <= 3 else vehicle.make.title()
                case "color":
                    return vehicle.color.lower()
                case "state":
                    return vehicle.state
                case "my_name":
                    return reporter.name
                case "my_phone":
                    return _format_phone(reporter.phone, rng.choice(_PHONE_STYLES))
                case "my_email":
                    return reporter.email
                case "my_address":
                    return reporter.home.street_line
            raise KeyError(name)

        text, planted = _render(rng.choice(_CATEGORIES[category][1]), slot)
        if rng.random() < 0.25:  # even anonymous reporters write their contact into the text
            more, more_planted = _render(rng.choice(_CONTACT), slot)
            text = f"{text}{chr(10) if rng.random() < 0.3 else ' '}{more}"
            planted += more_planted

        anonymous = rng.random() < 0.22
        name = None if anonymous or rng.random() < 0.08 else reporter.name
        phone = None
        if not anonymous and rng.random() < 0.7:
            phone = _format_phone(reporter.phone, rng.choice(_PHONE_STYLES))
        email = None if anonymous or rng.random() < 0.45 else reporter.email
        self._next_id += rng.randint(1, 40)  # other boroughs' requests take numbers in between
        lat, lon = _near(rng, place.lat, place.lon, 30.0)
        address = _or_null(rng, 0.06, place.full)  # reported at a park or corner: no address
        description = _or_null(rng, 0.03, text)  # phoned in with no notes
        if description is None:
            planted = []
        record: dict[str, object] = {
            "event_id": event_id,
            "request_id": f"311-{self._next_id:08d}",
            "created_at": _iso(t, "z_ms"),
            "category": category,
            "description": description,
            "reporter_name": name,
            "reporter_phone": phone,
            "reporter_email": email,
            "address": address,
            "lat": lat,
            "lon": lon,
        }
        fields = [v for v in (name, phone, email, address) if v is not None]
        return _Draft(record, None, tuple(dict.fromkeys([*fields, *planted])))


class _MicromobilityTrips:
    """One event per finished trip; commuters ride home to work in the morning and back."""

    profile = _TRIPS
    _TIME_STYLE: Final = {"citibike": "z", "lime": "offset_us", "veo": "z_ms"}

    def __init__(self, pop: _Population) -> None:
        self._riders = pop.riders
        self._zipf = _Zipf(len(self._riders))
        rng = _rng(pop.seed, "fleet")
        fleet = max(20, pop.size // 3)
        self._fleet = {
            "citibike": tuple(f"CB-{rng.randint(10000, 99999)}" for _ in range(fleet)),
            "lime": tuple(
                f"LM-{''.join(rng.choice(_PLATE_LETTERS + '0123456789') for _ in range(6))}"
                for _ in range(fleet)
            ),
            "veo": tuple(f"VEO{rng.randint(10000, 99999)}" for _ in range(fleet)),
        }

    def draft(self, rng: random.Random, t: datetime, event_id: str) -> _Draft:
        rider = self._riders[self._zipf.pick(rng)]
        hour = _new_york_hour(t)
        n = len(_ANCHORS)
        if 7.0 <= hour < 11.0 and rng.random() < 0.7:
            origin, destination = rider.home, rider.work
        elif 16.0 <= hour < 21.0 and rng.random() < 0.7:
            origin, destination = rider.work, rider.home
        else:
            origin = rider.home if rng.random() < 0.5 else rng.randrange(n)
            destination = rng.randrange(n)
        a, b = _ANCHORS[origin], _ANCHORS[destination]
        start_lat, start_lon = _near(rng, a.lat, a.lon, 200.0)
        end_lat, end_lon = _near(rng, b.lat, b.lon, 200.0)
        distance = max(150.0, _metres(start_lat, start_lon, end_lat, end_lon) * 1.3)
        distance *= rng.uniform(1.0, 1.25)
        speed = rng.uniform(2.8, 5.0)  # m/s, about 10-18 km/h
        duration = max(60.0, distance / speed + rng.uniform(0.0, 120.0))
        minutes = math.ceil(duration / 60.0)
        if rider.provider == "citibike":
            fare = (
                0.18 * max(0, minutes - 45) if rider.member else 4.79 + 0.36 * max(0, minutes - 30)
            )
        else:
            fare = 1.0 + (0.49 if rider.provider == "lime" else 0.39) * minutes
        style = self._TIME_STYLE[rider.provider]
        record: dict[str, object] = {
            "event_id": event_id,
            "trip_id": f"trip-{rng.getrandbits(64):016x}",
            "provider": rider.provider,
            "vehicle_id": rng.choice(self._fleet[rider.provider]),
            "rider_id": rider.rider_id,
            "started_at": _iso(t - timedelta(seconds=duration), style),
            "ended_at": _iso(t, style),
            "start_lat": start_lat,
            "start_lon": start_lon,
            "end_lat": end_lat,
            "end_lon": end_lon,
            "distance_m": round(distance),
            "fare_usd": _or_null(rng, 0.03, round(fare, 2)),  # not settled yet
        }
        return _Draft(record, rider.provider.encode(), (rider.rider_id,))


class _SmartMeter:
    """Meters are read in turn (a fixed shuffled order); kwh is the interval's consumption."""

    profile = _FLAT

    def __init__(self, pop: _Population) -> None:
        self._meters = list(pop.meters)
        _rng(pop.seed, "meter-order").shuffle(self._meters)
        self._turn = 0

    def draft(self, rng: random.Random, t: datetime, event_id: str) -> _Draft:
        meter = self._meters[self._turn % len(self._meters)]
        self._turn += 1
        load = _at_hour(_HOUSEHOLD_LOAD, _new_york_hour(t))
        kwh = max(0.0, meter.scale * load * 0.11 + rng.gauss(0.0, 0.015))
        holder, address = meter.holder.name, meter.holder.home.street_line
        record: dict[str, object] = {
            "event_id": event_id,
            "meter_id": meter.meter_id,
            "account_holder": holder,
            "address": address,
            "zip": _ANCHORS[meter.holder.home.anchor].zip,
            "read_at": _iso(t, "offset"),
            "kwh": round(kwh, 3),
        }
        return _Draft(record, None, (meter.meter_id, holder, address))


_SOURCES: Final[Mapping[str, Callable[[_Population], _Source]]] = {
    "wifi_presence": _WifiPresence,
    "alpr_reads": _AlprReads,
    "air_quality": _AirQuality,
    "service_requests": _ServiceRequests,
    "micromobility_trips": _MicromobilityTrips,
    "smart_meter": _SmartMeter,
}


# --- malformed events -----------------------------------------------------------------------

_WRONG_TYPES: Final[Mapping[str, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "wifi_presence": (("rssi", ("strong", "weak", "-67 dBm")),),
    "alpr_reads": (("speed_kmh", ("fast", "n/a")), ("lat", ("40.75N",))),
    "air_quality": (("pm25", ("n/a", "ERR")), ("humidity", ("high",))),
    "service_requests": (("lat", ("unknown",)), ("lon", ("unknown",))),
    "micromobility_trips": (("distance_m", ("1.2 km",)), ("fare_usd", ("$3.45",))),
    "smart_meter": (("kwh", ("ERR", "--")),),
}
_BAD_TIMES: Final = ("2024-13-45T25:61:00Z", "not a timestamp", "", "31/02/2024 08:00", "yesterday")
_BAD_LATS: Final = (91.3, -90.5, 407.58, 180.0)


def _encode(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _corrupt(
    rng: random.Random, dataset: str, kinds: Sequence[str], record: Mapping[str, object]
) -> tuple[bytes, str, bool]:
    """A malformed version of ``record``: (bytes, defect kind, still carries its event_id)."""
    kind = rng.choice(kinds)
    broken = dict(record)
    if kind == "not_json":
        data = _encode(broken)
        return data[: rng.randint(1, len(data) - 1)], kind, False
    if kind == "not_object":
        shapes: tuple[object, ...] = (list(broken.values()), json.dumps(broken), None)
        return _encode(shapes[rng.randrange(len(shapes))]), kind, False
    if kind == "missing_field":
        field = rng.choice([f for f in FIELDS[dataset] if f not in NULLABLE[dataset]])
        del broken[field]
        return _encode(broken), kind, field != "event_id"
    if kind == "wrong_type":
        field, values = rng.choice(_WRONG_TYPES[dataset])
        broken[field] = rng.choice(values)
    elif kind == "bad_timestamp":
        broken[rng.choice(TIME_FIELDS[dataset])] = rng.choice(_BAD_TIMES)
    else:
        broken[rng.choice(LAT_FIELDS[dataset])] = rng.choice(_BAD_LATS)
    return _encode(broken), kind, True


# --- the simulator --------------------------------------------------------------------------


class Simulator:
    """Deterministic synthetic events of one dataset.

    ``rate_per_s`` is the mean number of events per second of simulated time
    over a day; ``population`` the number of devices, vehicles, riders, meters
    and residents that recur; ``malformed`` the share of events with a defect.
    Successive calls to `events` continue the same stream.
    """

    def __init__(
        self,
        dataset: str,
        *,
        seed: int = 7,
        start: datetime,
        rate_per_s: float = 5.0,
        population: int = 500,
        malformed: float = 0.0,
    ) -> None:
        if dataset not in DATASETS:
            raise ConfigurationError(
                f"unknown dataset '{dataset}': choose one of {', '.join(DATASETS)}"
            )
        if start.tzinfo is None or start.utcoffset() is None:
            raise ConfigurationError(
                "the start time must be timezone-aware: give it in UTC (e.g. ...T08:00:00Z)"
            )
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ConfigurationError(
                f"rate must be a positive number of events per second, got {rate_per_s}"
            )
        if population < 1:
            raise ConfigurationError(f"population must be at least 1, got {population}")
        if not 0.0 <= malformed <= 1.0:
            raise ConfigurationError(f"malformed is a share between 0 and 1, got {malformed}")
        self.dataset = dataset
        self._rng = _rng(seed, dataset, "events")
        self._defect_rng = _rng(seed, dataset, "defects")
        self._t = start.astimezone(UTC)
        self._rate = rate_per_s
        self._malformed = malformed
        self._source = _SOURCES[dataset](_population(seed, population))
        self._kinds = tuple(k for k in DEFECTS if k != "lat_out_of_range" or LAT_FIELDS[dataset])

    def events(self, n: int) -> Iterator[SimEvent]:
        """The next ``n`` events, in event-time order."""
        for _ in range(n):
            yield self._next()

    def _next(self) -> SimEvent:
        rng = self._rng
        factor = _at_hour(self._source.profile, _new_york_hour(self._t))
        self._t += timedelta(seconds=rng.expovariate(self._rate * factor))
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        draft = self._source.draft(rng, self._t, event_id)
        if self._defect_rng.random() >= self._malformed:
            return SimEvent(
                self.dataset,
                event_id,
                _encode(draft.record),
                draft.key,
                True,
                None,
                draft.identifiers,
                self._t,
            )
        value, defect, has_id = _corrupt(self._defect_rng, self.dataset, self._kinds, draft.record)
        return SimEvent(
            self.dataset,
            event_id if has_id else None,
            value,
            draft.key,
            False,
            defect,
            draft.identifiers,
            self._t,
        )
