"""Property tests of the k-anonymous windows against the brute-force checker.

Random events (subjects from small pools so many groups fall below k, cells around a
few base points, times over ten windows, out of order, with late events), fed in
random batches with random watermark moves and state save/restore in between.
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import h3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.bruteforce import BruteWindow, exact_aggregate, measure_values, replay
from transforms.windows import (
    ClosedWindow,
    KeyLadder,
    LateEvents,
    MeasureSpec,
    WindowAggregator,
    WindowConfig,
)

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
BASES = [(40.7128, -74.0060), (40.7306, -73.9866), (40.7580, -73.9855)]
FINEST = 9
CELLS = sorted(
    {c for lat, lng in BASES for c in h3.grid_disk(h3.latlng_to_cell(lat, lng, FINEST), 1)}
)
NEAR = [sorted(h3.grid_disk(h3.latlng_to_cell(lat, lng, FINEST), 1)) for lat, lng in BASES]
MAKES = ["audi", "bmw", "bentley", "ford", "fiat", None]
SPEED = MeasureSpec("speed", ("count", "sum", "mean", "min", "max", "p50", "p90"))

CONFIGS = {
    "k3_cells_and_make": WindowConfig(
        k=3,
        window_s=60,
        lateness_s=30,
        finest_res=FINEST,
        coarsest_res=7,
        keys=(KeyLadder("make", ("prefix:1",)),),
        measures=(SPEED,),
    ),
    "k2_no_lateness": WindowConfig(
        k=2,
        window_s=60,
        lateness_s=0,
        finest_res=FINEST,
        coarsest_res=8,
        keys=(KeyLadder("make", ({"audi": "de", "bmw": "de", "ford": "us"},)),),
        measures=(SPEED,),
    ),
    "k4_rollup_off": WindowConfig(
        k=4,
        window_s=120,
        lateness_s=60,
        finest_res=FINEST,
        coarsest_res=6,
        keys=(KeyLadder("make"),),
        measures=(SPEED,),
        rollup=False,
    ),
    "k2_origin_destination": WindowConfig(
        k=2,
        window_s=60,
        lateness_s=15,
        locations=("origin", "destination"),
        finest_res=FINEST,
        coarsest_res=7,
        measures=(SPEED,),
    ),
    "no_subject": WindowConfig(
        k=None,
        window_s=60,
        lateness_s=30,
        finest_res=FINEST,
        coarsest_res=7,
        keys=(KeyLadder("make", ("prefix:2",)),),
        measures=(SPEED,),
    ),
    "k2_top_makes_then_prefix": WindowConfig(
        k=2,
        window_s=60,
        lateness_s=0,
        finest_res=FINEST,
        coarsest_res=8,
        keys=(KeyLadder("make", ("top:2", "prefix:1")), KeyLadder("color", ("top:1:rare",))),
        measures=(SPEED,),
    ),
    "k1": WindowConfig(k=1, window_s=90, lateness_s=0, finest_res=FINEST, coarsest_res=9),
}

speeds = st.one_of(
    st.none(),
    st.sampled_from([0.0, -3.5, 12.0]),
    st.floats(min_value=0.5, max_value=150.0, allow_nan=False),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[WindowConfig, list[tuple[str, Any]]]:
    name = draw(st.sampled_from(sorted(CONFIGS)))
    config = CONFIGS[name]
    pool = [f"p{i}" for i in range(draw(st.integers(1, 7)))]
    # Cells near one base point (siblings that roll up together) or near all of them.
    near = draw(st.sampled_from([NEAR[0], NEAR[1], [*CELLS, None]]))
    cells = draw(st.lists(st.sampled_from(near), min_size=1, max_size=6, unique=True))
    span = draw(st.sampled_from([90, 240, 600]))
    # Some times exactly where a window closes (end + lateness) or one microsecond before.
    closes = [
        T0 + timedelta(seconds=start + config.window_s + config.lateness_s, microseconds=-d)
        for start in range(0, span, config.window_s)
        for d in (0, 1)
    ]
    times = st.one_of(
        st.builds(
            lambda s, us: T0 + timedelta(seconds=s, microseconds=us),
            st.integers(0, span - 1),
            st.sampled_from([0, 7, 999_999]),
        ),
        st.sampled_from(closes),
    )
    n = draw(st.integers(0, 70))
    records = []
    for _ in range(n):
        record: dict[str, Any] = {
            "event_time": draw(times),
            "subject": draw(st.sampled_from(pool)),
            "make": draw(st.sampled_from(MAKES)),
            "color": draw(st.sampled_from(["red", "blue", "black", None])),
            "speed": draw(speeds),
        }
        for loc in config.location_fields:
            record[loc] = draw(st.sampled_from(cells))
        records.append(record)
    # Mostly moving forward, with some jumps back: out-of-order and late events.
    if draw(st.booleans()):
        records.sort(key=lambda r: r["event_time"])
        swaps = draw(st.lists(st.tuples(st.integers(0, 69), st.integers(0, 69)), max_size=8))
        for i, j in swaps:
            if i < n and j < n:
                records[i], records[j] = records[j], records[i]
    ops: list[tuple[str, Any]] = []
    i = 0
    while i < n:
        size = draw(st.integers(1, 15))
        ops.append(("add", records[i : i + size]))
        i += size
        move = draw(st.sampled_from(["none", "advance", "advance_to", "save", "mirror"]))
        if move == "advance":
            ops.append(("advance", None))
        elif move == "advance_to":
            ops.append(("advance", T0 + timedelta(seconds=draw(st.integers(0, 700)))))
        elif move in ("save", "mirror"):
            ops.append((move, None))
    ops.append(("close_all", None))
    return config, ops


def run_aggregator(
    config: WindowConfig, ops: list[tuple[str, Any]]
) -> tuple[list[ClosedWindow], list[LateEvents]]:
    agg = WindowAggregator(config)
    mirror: dict[str, Any] = {}
    closed: list[ClosedWindow] = []
    late: list[LateEvents] = []
    for op, arg in ops:
        if op == "add":
            late += agg.add(arg)
        elif op == "advance":
            closed += agg.advance(arg)
            # Exactly the closed windows were emitted: what stays open is not closed yet.
            wm = agg.watermark
            assert wm is not None or not agg.open_windows()
            for start in agg.open_windows():
                end = start + timedelta(seconds=config.window_s)
                assert wm is not None and end + timedelta(seconds=config.lateness_s) > wm
        elif op == "close_all":
            closed += agg.close_all()
        elif op == "save":
            # Whole state through JSON, as a changelog would carry it.
            agg = WindowAggregator.from_dict(config, json.loads(json.dumps(agg.to_dict())))
            mirror = json.loads(json.dumps(agg.to_dict()))  # the table it was restored from
        elif op == "mirror":
            # Incremental changes applied to a key-value table, then rebuilt from the table.
            for key, value in json.loads(json.dumps(agg.drain_changes())).items():
                if value is None:
                    mirror.pop(key, None)
                else:
                    mirror[key] = value
            assert mirror == json.loads(json.dumps(agg.to_dict()))
            agg = WindowAggregator.from_dict(config, mirror)
            mirror = json.loads(json.dumps(agg.to_dict()))
            agg.drain_changes()
    return closed, late


def _label_key(row: dict[str, Any], config: WindowConfig) -> tuple[Any, ...]:
    names = ["window_start"]
    for cell, res in config.location_columns:
        names += [cell, res]
    names += [k.name for k in config.keys]
    return tuple((v is None, str(v)) for v in (row[n] for n in names))


def check_window(config: WindowConfig, window: ClosedWindow, brute: BruteWindow) -> None:
    k = config.k
    stats = window.stats
    # Every published row has at least k distinct subjects.
    for row in window.rows:
        if k is None:
            assert "subjects" not in row
        else:
            assert row["subjects"] >= k
    # Disjoint rows: the rows' events add up exactly to what was published.
    assert sum(row["events"] for row in window.rows) == stats.published_events
    assert stats.rows == len(window.rows)
    # The brute force assigns every on-time event to one row or to suppression.
    assigned = [e.index for r in brute.rows for e in r.events] + [e.index for e in brute.suppressed]
    assert sorted(assigned) == sorted(e.index for e in brute.on_time)
    # Same rows, same subjects and events, same suppression.
    assert stats.suppressed_events == len(brute.suppressed)
    assert stats.suppressed_groups == brute.suppressed_groups
    assert stats.published_events + stats.suppressed_events + stats.late_events == stats.events_in
    mine = sorted(window.rows, key=lambda r: (_label_key(r, config), r["events"]))
    theirs = sorted(brute.rows, key=lambda r: (_label_key(r.labels, config), len(r.events)))
    assert len(mine) == len(theirs)
    for row, expected in zip(mine, theirs, strict=True):
        for name, value in expected.labels.items():
            assert row[name] == value, name
        assert row["window_end"] == expected.labels["window_end"]
        assert row["events"] == len(expected.events)
        if k is not None:
            assert row["subjects"] == len(expected.subjects)
            assert len(expected.subjects) >= k
        for m in config.measures:
            values = measure_values(expected, m.field)
            for agg in m.aggs:
                got, want = row[f"{m.field}_{agg}"], exact_aggregate(values, agg)
                if want is None or agg in ("count", "min", "max"):
                    assert got == want, (agg, got, want)
                elif agg in ("sum", "mean"):
                    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), (agg, got, want)
                else:
                    assert math.isclose(got, want, rel_tol=config.quantile_accuracy + 1e-12), (
                        agg,
                        got,
                        want,
                    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_when_random_events_then_rows_match_brute_force_and_keep_k(
    scenario: tuple[WindowConfig, list[tuple[str, Any]]],
) -> None:
    config, ops = scenario
    closed, late = run_aggregator(config, ops)
    expected = replay(config, ops)

    # Every window is emitted once; late events of emitted windows come in the late stream.
    starts = [w.window_start for w in closed]
    assert len(starts) == len(set(starts))
    assert starts == sorted(starts)
    late_after: dict[datetime, int] = defaultdict(int)
    for item in late:
        assert item.window_end - item.window_start == timedelta(seconds=config.window_s)
        late_after[item.window_start] += item.events

    by_start = {w.window_start: w for w in closed}
    for start_s, brute in expected.items():
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=start_s)
        window = by_start.pop(start, None)
        if window is None:
            # Only late events, all after the window's emission (or none at all).
            assert not brute.on_time
            assert late_after.pop(start, 0) == brute.late
            continue
        assert window.window_end - window.window_start == timedelta(seconds=config.window_s)
        # Each event counted exactly once: in the window's stats or in the late stream.
        assert window.stats.events_in + late_after.pop(start, 0) == brute.events_in
        assert (
            window.stats.late_events + sum(i.events for i in late if i.window_start == start)
            == brute.late
        )
        check_window(config, window, brute)
    assert not by_start, "a window was emitted that the input never touched"
    assert not late_after


def _records(n: int, seed: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append(
            {
                "event_time": T0 + timedelta(seconds=(i * 37 + seed) % 600),
                "subject": f"p{(i * 7 + seed) % 5}",
                "location_h3": CELLS[(i * 3 + seed) % len(CELLS)],
                "make": MAKES[(i + seed) % len(MAKES)],
                "speed": float((i * 13) % 50) if i % 4 else None,
            }
        )
    return out


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 1000), st.lists(st.integers(1, 30), min_size=1, max_size=8))
def test_when_batches_differ_then_rows_are_the_same(seed: int, sizes: list[int]) -> None:
    """Without explicit watermarks, how the input is batched never changes the output."""
    config = CONFIGS["k3_cells_and_make"]
    records = _records(120, seed)
    whole = WindowAggregator(config)
    whole.add(records)
    expected = whole.close_all()
    batched = WindowAggregator(config)
    i = 0
    got: list[ClosedWindow] = []
    for size in itertools.cycle(sizes):
        if i >= len(records):
            break
        batched.add(records[i : i + size])
        got += batched.advance()
        i += size
    got += batched.close_all()

    def on_time(windows: list[ClosedWindow]) -> dict[datetime, ClosedWindow]:
        # Windows holding only late events may or may not be emitted, depending on
        # whether their late events came before or after the window was emitted.
        return {w.window_start: w for w in windows if w.stats.events_in > w.stats.late_events}

    mine, theirs = on_time(got), on_time(expected)
    assert sorted(mine) == sorted(theirs)
    for start, a in mine.items():
        b = theirs[start]
        assert a.stats.suppressed_events == b.stats.suppressed_events
        assert a.rows == b.rows
