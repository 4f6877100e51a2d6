"""k-anonymous window aggregation: cost, state and suppression, swept one parameter at a time.

    .venv/bin/python perf/bench_windows.py [--events 200000] [--seed 7] [--out perf/results]

Pure and in-process (no Kafka). Dataset: ``wifi_presence`` (subject: the device's
pseudonym), window configuration from its policy (``window_config``: k 5, 15-minute
windows, 5 minutes of allowed lateness, H3 resolution 9 rolled up to 7, ``rssi`` mean).

Input, fixed by the seed, built once per population size and shared by every point:

* 400 Wi-Fi sensors around 17 New York hubs in the five boroughs (Midtown, Downtown
  Brooklyn... weighted by how busy they are: busier hubs have more sensors), each
  placed about 400 m (one standard deviation) from its hub. With seed 7 they fall in
  227 resolution-9 cells, 87 at resolution 8 and 34 at resolution 7.
* ``devices`` devices with random locally administered MACs, all distinct. Device
  activity is Zipf-skewed (weight 1/rank, as in ``connectors/simulator.py``): a few
  devices are heard very often, most rarely; how many distinct devices the input
  actually holds is reported (``subjects_seen``). Each device has 1 to 3 habitual
  sensors, where 80 % of its events happen; the rest go to any sensor.
* Events arrive in event-time order as a Poisson stream of 10 events/s of
  simulated time (so ``--events`` sets the stream's length, not its density), with
  ``rssi`` ~ N(-71, 9) dBm.
* These raw records go through the real anon path once, untimed
  (``RawProcessor.parser.parse_records`` + ``anonymize_records``, dummy keys): HMAC
  subject pseudonyms, H3 resolution-10 cells, times bucketed to the minute. The anon
  batches (500 records each, the worker's batch size) are the bench's input.

Per point, timed (``time.process_time`` for CPU, ``time.perf_counter`` for events/s),
exactly what the window agent does per batch (``streams/windowing.py``):
``window_input`` (anon batch to window columns, cells to resolution 9) +
``WindowAggregator.add`` + ``advance``, then ``close_all`` at the end. One aggregator
sees every event (as ``citysieve anonymize`` does; the worker runs one per anon
partition, which suppresses more).

Reported per point: CPU microseconds per event (total and per phase), events per
second, peak state (entries held and bytes of ``json.dumps(to_dict())``, compact,
taken untimed just before each ``advance`` that closes a window and before
``close_all``: state only grows between closes, so that is its exact peak),
suppressed events / events in, rows published (and per H3 resolution), and the
smallest ``subjects`` of any published row (must be >= k).

Sweeps, around the policy's defaults (k 5, 15 minutes, 10,000 devices): k in 2, 5, 10,
20; window 1, 5, 15, 60 minutes; devices 1,000, 10,000, 100,000. The default point is
run once and appears in every sweep. Results: ``perf/results/windows-<date>.json``.
"""

# No ``from __future__ import annotations``: with string annotations, dataclasses look the
# module up in sys.modules, which fails when a harness loads this file by path without
# registering it there.
import argparse
import bisect
import gc
import itertools
import json
import os
import platform
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from citysieve.clock import SystemClock
from citysieve.keys import KeyRing
from citysieve.policy.loader import load_policy
from citysieve.policy.model import SUBJECT_PSEUDONYM, DatasetPolicy
from transforms.open_tier import window_config, window_input
from transforms.pipeline import RawProcessor
from transforms.windows import ClosedWindow, WindowAggregator, WindowConfig

ROOT: Final = Path(__file__).resolve().parent.parent
DATASET: Final = "wifi_presence"
BATCH: Final = 500  # the worker's default batch size (Settings.batch_size)
RATE_PER_S: Final = 10.0  # events per second of simulated time
SENSORS: Final = 400
SENSOR_SPREAD_M: Final = 400.0
HABIT_SHARE: Final = 0.8
ZIPF_S: Final = 1.0
START: Final = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)  # 08:00 in New York

K_VALUES: Final = (2, 5, 10, 20)
WINDOW_MINUTES: Final = (1, 5, 15, 60)
DEVICE_COUNTS: Final = (1_000, 10_000, 100_000)
DEFAULT_DEVICES: Final = 10_000

# Dummy keys (base64, 32 bytes): pseudonyms only need to be keyed HMACs of the right shape.
_KEYS_ENV: Final = {
    "CITYSIEVE_PSEUDONYM_KEY": "YmVuY2htYXJrLXBzZXVkb255bS1rZXktMzItYnl0ZXMtb2s=",
    "CITYSIEVE_ENCRYPTION_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}

# (name, lat, lon, weight): weight sets the hub's share of the sensors.
_HUBS: Final = (
    ("Times Square", 40.7580, -73.9855, 3),
    ("Grand Central", 40.7527, -73.9772, 3),
    ("Penn Station", 40.7506, -73.9935, 3),
    ("Union Square", 40.7359, -73.9906, 2),
    ("Financial District", 40.7069, -74.0113, 2),
    ("Downtown Brooklyn", 40.6928, -73.9903, 2),
    ("Columbus Circle", 40.7681, -73.9819, 1),
    ("Harlem 125th St", 40.8094, -73.9480, 1),
    ("Washington Heights", 40.8417, -73.9394, 1),
    ("Williamsburg", 40.7171, -73.9565, 1),
    ("Park Slope", 40.6710, -73.9814, 1),
    ("Long Island City", 40.7471, -73.9456, 1),
    ("Jackson Heights", 40.7557, -73.8831, 1),
    ("Flushing", 40.7580, -73.8303, 1),
    ("Jamaica", 40.7021, -73.8012, 1),
    ("Fordham", 40.8615, -73.8903, 1),
    ("St. George", 40.6437, -74.0736, 1),
)
_M_PER_DEG_LAT: Final = 111_320.0
_M_PER_DEG_LON: Final = 84_300.0  # at 40.75 degrees north


# --------------------------------------------------------------------------- input


@dataclass(frozen=True)
class Sensor:
    id: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Workload:
    """One population's anon batches, ready for the aggregator."""

    devices: int
    batches: tuple[pa.Table, ...]
    events: int
    subjects_seen: int


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random("/".join(map(str, ("bench-windows", seed, *parts))))


def make_sensors(seed: int) -> tuple[Sensor, ...]:
    """``SENSORS`` sensors spread around the hubs, in proportion to the hubs' weights."""
    rng = _rng(seed, "sensors")
    total = sum(weight for *_rest, weight in _HUBS)
    hubs = [hub for hub in _HUBS for _ in range(hub[3])]
    sensors = []
    for n in range(SENSORS):
        _name, lat, lon, _weight = hubs[n * total // SENSORS]
        sensors.append(
            Sensor(
                f"wifi-ap-{n + 1:04d}",
                round(lat + rng.gauss(0.0, SENSOR_SPREAD_M) / _M_PER_DEG_LAT, 6),
                round(lon + rng.gauss(0.0, SENSOR_SPREAD_M) / _M_PER_DEG_LON, 6),
            )
        )
    return tuple(sensors)


def _macs(rng: random.Random, devices: int) -> list[str]:
    """Distinct locally administered MACs, as phones that randomise theirs send."""
    out = []
    for low in rng.sample(range(2**40), devices):
        mac = (0x02 << 40) | low
        out.append(":".join(f"{(mac >> s) & 0xFF:02X}" for s in range(40, -8, -8)))
    return out


def raw_events(
    seed: int, devices: int, events: int, sensors: Sequence[Sensor]
) -> Iterator[dict[str, Any]]:
    """Raw wifi_presence records in event-time order (the reference JSON form)."""
    rng = _rng(seed, "events", devices)
    macs = _macs(_rng(seed, "macs", devices), devices)
    places = _rng(seed, "haunts", devices)
    haunts = [
        tuple(places.randrange(len(sensors)) for _ in range(places.randint(1, 3)))
        for _ in range(devices)
    ]
    cum = list(itertools.accumulate(1.0 / (rank**ZIPF_S) for rank in range(1, devices + 1)))
    t = 0.0
    for _ in range(events):
        t += rng.expovariate(RATE_PER_S)
        device = bisect.bisect_left(cum, rng.random() * cum[-1])
        where = (
            rng.choice(haunts[device])
            if rng.random() < HABIT_SHARE
            else rng.randrange(len(sensors))
        )
        sensor = sensors[where]
        yield {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "sensor_id": sensor.id,
            "observed_at": (START + timedelta(seconds=t)).isoformat(),
            "mac": macs[device],
            "rssi": round(min(-30.0, max(-98.0, rng.gauss(-71.0, 9.0)))),
            "lat": sensor.lat,
            "lon": sensor.lon,
        }


def anon_processor(policy: DatasetPolicy) -> RawProcessor:
    """The dataset's raw -> anon transform, with dummy keys (no environment change)."""
    return RawProcessor(policy, keys=KeyRing.from_env(_KEYS_ENV), encode=lambda _record: b"")


def make_workload(
    processor: RawProcessor, seed: int, devices: int, events: int, sensors: Sequence[Sensor]
) -> Workload:
    """Raw records through the real parse + anonymize, in batches of ``BATCH`` (untimed)."""
    stream = raw_events(seed, devices, events, sensors)
    batches = []
    while chunk := list(itertools.islice(stream, BATCH)):
        parsed = processor.parser.parse_records(chunk)
        if parsed.rejections:
            raise RuntimeError(f"generated records were rejected: {parsed.rejections[:3]}")
        anon, _pii = processor.anonymize_records(parsed.records)
        batches.append(pa.Table.from_batches([anon]))
    subjects = pa.chunked_array([b.column(SUBJECT_PSEUDONYM) for b in batches])
    seen = int(pc.count_distinct(subjects).as_py())
    return Workload(devices, tuple(batches), events, seen)


# --------------------------------------------------------------------------- one point


@dataclass(frozen=True)
class PointSpec:
    k: int
    window_s: int
    devices: int


@dataclass
class PhaseClock:
    """CPU and wall seconds spent per phase."""

    cpu: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    wall: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu[name] += time.process_time() - cpu
            self.wall[name] += time.perf_counter() - wall


@dataclass
class PeakState:
    entries: int = 0
    json_bytes: int = 0

    def observe(self, aggregator: WindowAggregator) -> None:
        state = aggregator.to_dict()
        size = len(json.dumps(state, separators=(",", ":")).encode())
        self.entries = max(self.entries, len(state) - 1)  # minus the "meta" entry
        self.json_bytes = max(self.json_bytes, size)


def _closes_a_window(aggregator: WindowAggregator, config: WindowConfig) -> bool:
    """Whether the next :meth:`advance` will emit (the oldest open window is closed)."""
    opened, watermark = aggregator.open_windows(), aggregator.watermark
    if not opened or watermark is None:
        return False
    closes_at = opened[0] + timedelta(seconds=config.window_s + config.lateness_s)
    return watermark >= closes_at


def aggregate(
    policy: DatasetPolicy, config: WindowConfig, workload: Workload
) -> tuple[list[ClosedWindow], PhaseClock, PeakState, int]:
    """Feed every batch as the window agent does; closed windows, timings, peak, late events."""
    aggregator = WindowAggregator(config)
    clock, peak = PhaseClock(), PeakState()
    closed: list[ClosedWindow] = []
    late = 0
    for batch in workload.batches:
        with clock.phase("input"):
            columns = window_input(policy, config, batch)
        with clock.phase("add"):
            late += sum(item.events for item in aggregator.add(columns))
        if _closes_a_window(aggregator, config):
            peak.observe(aggregator)  # untimed
        with clock.phase("close"):
            closed += aggregator.advance()
    peak.observe(aggregator)
    with clock.phase("close"):
        closed += aggregator.close_all()
    return closed, clock, peak, late


@dataclass(frozen=True)
class Point:
    """One point of a sweep: the swept parameter, its value, the configuration and figures."""

    sweep: str
    value: int
    k: int
    window_s: int
    devices: int
    events: int
    subjects_seen: int
    windows: int
    cpu_us_per_event: float
    input_us_per_event: float
    add_us_per_event: float
    close_us_per_event: float
    events_per_s: float
    peak_entries: int
    peak_state_bytes: int
    published_events: int
    suppressed_events: int
    late_events: int
    suppression_share: float
    suppressed_groups: int
    rows: int
    rows_by_resolution: dict[str, int]
    min_row_subjects: int | None


def run_point(
    policy: DatasetPolicy, spec: PointSpec, workload: Workload, sweep: str, value: int
) -> Point:
    """Aggregate ``workload`` under ``spec`` (the policy's config with k and window replaced)."""
    config = replace(window_config(policy), k=spec.k, window_s=spec.window_s)
    gc.collect()
    closed, clock, peak, late = aggregate(policy, config, workload)
    n = workload.events
    rows = [row for window in closed for row in window.rows]
    suppressed = sum(w.stats.suppressed_events for w in closed)
    events_in = sum(w.stats.events_in for w in closed) + late
    by_res = Counter(str(row["h3_resolution"]) for row in rows)

    def us(*phases: str) -> float:
        return round(sum(clock.cpu[p] for p in phases) / n * 1e6, 3)

    return Point(
        sweep=sweep,
        value=value,
        k=spec.k,
        window_s=spec.window_s,
        devices=spec.devices,
        events=n,
        subjects_seen=workload.subjects_seen,
        windows=len(closed),
        cpu_us_per_event=us("input", "add", "close"),
        input_us_per_event=us("input"),
        add_us_per_event=us("add"),
        close_us_per_event=us("close"),
        events_per_s=round(n / sum(clock.wall.values()), 1),
        peak_entries=peak.entries,
        peak_state_bytes=peak.json_bytes,
        published_events=sum(w.stats.published_events for w in closed),
        suppressed_events=suppressed,
        late_events=late + sum(w.stats.late_events for w in closed),
        suppression_share=round(suppressed / events_in, 6) if events_in else 0.0,
        suppressed_groups=sum(w.stats.suppressed_groups for w in closed),
        rows=len(rows),
        rows_by_resolution=dict(sorted(by_res.items(), reverse=True)),
        min_row_subjects=min((int(row["subjects"]) for row in rows), default=None),
    )


# --------------------------------------------------------------------------- sweeps


def sweep_plan(policy: DatasetPolicy) -> list[tuple[str, int, PointSpec]]:
    """(sweep, value, spec) for every point, one parameter moved from the defaults."""
    base = window_config(policy)
    k0 = base.k if base.k is not None else 5
    default = PointSpec(k0, base.window_s, DEFAULT_DEVICES)
    plan = [("k", k, replace(default, k=k)) for k in K_VALUES]
    plan += [("window_min", m, replace(default, window_s=m * 60)) for m in WINDOW_MINUTES]
    plan += [("devices", d, replace(default, devices=d)) for d in DEVICE_COUNTS]
    return plan


def _warm_up(policy: DatasetPolicy, workload: Workload) -> None:
    """First calls into Arrow kernels and H3 cost more; pay them outside the timings."""
    head = replace(workload, batches=workload.batches[:4], events=min(workload.events, 4 * BATCH))
    aggregate(policy, window_config(policy), head)


def run_sweeps(events: int = 200_000, seed: int = 7) -> dict[str, Any]:
    """Run every sweep on fixed seeded input; JSON-able results (``points`` plus the setup)."""
    if events < 1:
        raise ValueError(f"events must be at least 1, got {events}")
    policy = load_policy(DATASET)
    processor = anon_processor(policy)
    sensors = make_sensors(seed)
    plan = sweep_plan(policy)
    workloads = {
        devices: make_workload(processor, seed, devices, events, sensors)
        for devices in sorted({spec.devices for _s, _v, spec in plan})
    }
    _warm_up(policy, workloads[DEFAULT_DEVICES])
    done: dict[PointSpec, Point] = {}
    points = []
    for sweep, value, spec in plan:
        if spec not in done:
            done[spec] = run_point(policy, spec, workloads[spec.devices], sweep, value)
        points.append(asdict(replace(done[spec], sweep=sweep, value=value)))
    base = window_config(policy)
    return {
        "dataset": DATASET,
        "events": events,
        "seed": seed,
        "defaults": {"k": base.k, "window_s": base.window_s, "devices": DEFAULT_DEVICES},
        "config": {
            "lateness_s": base.lateness_s,
            "finest_res": base.finest_res,
            "coarsest_res": base.coarsest_res,
            "measures": [m.field for m in base.measures],
            "rollup": base.rollup,
        },
        "input": {
            "sensors": len(sensors),
            "hubs": len(_HUBS),
            "sensor_spread_m": SENSOR_SPREAD_M,
            "rate_per_s": RATE_PER_S,
            "simulated_s": round(events / RATE_PER_S),
            "zipf_s": ZIPF_S,
            "habit_share": HABIT_SHARE,
            "batch": BATCH,
            "start": START.isoformat(),
            "subjects_seen": {str(d): w.subjects_seen for d, w in workloads.items()},
        },
        "points": points,
    }


# --------------------------------------------------------------------------- CLI


def environment() -> dict[str, Any]:
    """Machine and library versions, for the results file."""
    return {
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": {name: version(name) for name in ("pyarrow", "h3")},
    }


_TITLES: Final = {
    "k": "k (window 15 min, 10,000 devices)",
    "window_min": "window, minutes (k 5, 10,000 devices)",
    "devices": "devices (k 5, window 15 min)",
}


def sweep_table(sweep: str, results: dict[str, Any]) -> Table:
    """One sweep's points as a table (CPU per event split into input/add/close)."""
    config = results["config"]
    resolutions = range(config["finest_res"], config["coarsest_res"] - 1, -1)
    table = Table(title=f"Sweep: {_TITLES.get(sweep, sweep)}")
    per_res = "rows " + "/".join(f"r{res}" for res in resolutions)
    columns = ("value", "CPU µs/ev", "in/add/close", "events/s", "windows", "peak entries",
               "peak state", "suppressed", "rows", per_res, "min subj",
               "subjects seen")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for p in results["points"]:
        if p["sweep"] != sweep:
            continue
        by_res = p["rows_by_resolution"]
        table.add_row(
            f"{p['value']:,}",
            f"{p['cpu_us_per_event']:.2f}",
            f"{p['input_us_per_event']:.2f}/{p['add_us_per_event']:.2f}"
            f"/{p['close_us_per_event']:.2f}",
            f"{p['events_per_s']:,.0f}",
            str(p["windows"]),
            f"{p['peak_entries']:,}",
            f"{p['peak_state_bytes'] / 1e6:.2f} MB",
            f"{p['suppression_share']:.2%}",
            f"{p['rows']:,}",
            "/".join(str(by_res.get(str(res), 0)) for res in resolutions),
            str(p["min_row_subjects"]),
            f"{p['subjects_seen']:,}",
        )
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per point")
    parser.add_argument("--seed", type=int, default=7, help="input seed")
    parser.add_argument("--out", type=Path, default=ROOT / "perf" / "results")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    began = time.perf_counter()
    results = run_sweeps(args.events, args.seed)
    for sweep in dict.fromkeys(p["sweep"] for p in results["points"]):
        console.print(sweep_table(sweep, results))
    now = SystemClock().now()
    document = {"benchmark": "windows", "date": now.isoformat(), **environment(), **results}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"windows-{now.date().isoformat()}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    console.print(f"wrote {path} in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
