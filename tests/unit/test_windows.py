"""Table-driven tests of the k-anonymous window aggregation (transforms/windows.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import h3
import pyarrow as pa
import pytest

from citysieve.errors import ConfigurationError, InputValidationError
from transforms.windows import (
    ClosedWindow,
    KeyLadder,
    LateEvents,
    MeasureSpec,
    Records,
    WindowAggregator,
    WindowConfig,
)

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
RES = 9
CELL = h3.latlng_to_cell(40.7128, -74.0060, RES)
PARENT = h3.cell_to_parent(CELL, RES - 1)
SIBLINGS = sorted(h3.cell_to_children(PARENT, RES))  # seven cells sharing PARENT
FAR = h3.latlng_to_cell(40.7580, -73.9855, RES)  # another part of town


def config(**overrides: Any) -> WindowConfig:
    base: dict[str, Any] = {
        "k": 3,
        "window_s": 60,
        "lateness_s": 0,
        "finest_res": RES,
        "coarsest_res": RES - 2,
    }
    base.update(overrides)
    return WindowConfig(**base)


def event(
    subject: str | None,
    cell: str | None = CELL,
    at: float = 0.0,
    **fields: Any,
) -> dict[str, Any]:
    record = {
        "event_time": T0 + timedelta(seconds=at),
        "subject": subject,
        "location_h3": cell,
    }
    record.update(fields)
    return record


def close(cfg: WindowConfig, records: Records) -> list[ClosedWindow]:
    agg = WindowAggregator(cfg)
    agg.add(records)
    return agg.close_all()


def only_window(cfg: WindowConfig, records: list[dict[str, Any]]) -> ClosedWindow:
    windows = close(cfg, records)
    assert len(windows) == 1
    return windows[0]


def keys_of(window: ClosedWindow) -> list[tuple[Any, ...]]:
    return [(r["h3_cell"], r["h3_resolution"], r["events"], r.get("subjects")) for r in window.rows]


# --------------------------------------------------------------------------- the k rule


@pytest.mark.parametrize(
    ("subjects", "expected_rows", "suppressed"),
    [
        pytest.param(["a", "b", "c"], [(CELL, RES, 3, 3)], 0, id="exactly_k_published"),
        pytest.param(["a", "b"], [], 2, id="k_minus_1_suppressed"),
        pytest.param(["a", "b", "c", "d"], [(CELL, RES, 4, 4)], 0, id="more_than_k"),
        pytest.param(["a"] * 10, [], 10, id="same_subject_10_times_counts_once"),
        pytest.param(["a"] * 10 + ["b", "c"], [(CELL, RES, 12, 3)], 0, id="events_not_subjects"),
    ],
)
def test_when_group_size_varies_then_k_distinct_subjects_decide(
    subjects: list[str], expected_rows: list[tuple[Any, ...]], suppressed: int
) -> None:
    # One cell, nowhere to roll up to: coarsest == finest.
    cfg = config(coarsest_res=RES)
    window = only_window(cfg, [event(s, at=i) for i, s in enumerate(subjects)])
    assert keys_of(window) == expected_rows
    assert window.stats.suppressed_events == suppressed
    assert window.stats.suppressed_groups == (1 if suppressed else 0)
    assert window.stats.events_in == len(subjects)
    assert window.stats.published_events + window.stats.suppressed_events == len(subjects)


def test_when_two_small_sibling_cells_then_rolled_up_to_parent() -> None:
    records = [event("a", SIBLINGS[0]), event("b", SIBLINGS[0]), event("c", SIBLINGS[1])]
    window = only_window(config(), records)
    assert keys_of(window) == [(PARENT, RES - 1, 3, 3)]
    assert window.stats.suppressed_events == 0


def test_when_one_cell_is_big_enough_then_only_the_residual_rolls_up() -> None:
    big = [event(s, SIBLINGS[0]) for s in "abc"]
    small = [event("d", SIBLINGS[1]), event("e", SIBLINGS[2]), event("a", SIBLINGS[2])]
    window = only_window(config(), big + small)
    # The parent row holds the three small-cell events only: rows are disjoint.
    assert keys_of(window) == [(SIBLINGS[0], RES, 3, 3), (PARENT, RES - 1, 3, 3)]
    assert sum(r["events"] for r in window.rows) == 6


def test_when_residual_stays_below_k_at_coarsest_then_suppressed_and_counted() -> None:
    big = [event(s, SIBLINGS[0]) for s in "abc"]
    lonely = [event("x", FAR), event("y", SIBLINGS[1])]
    window = only_window(config(), big + lonely)
    assert keys_of(window) == [(SIBLINGS[0], RES, 3, 3)]
    assert window.stats.suppressed_events == 2
    # At the coarsest level FAR and SIBLINGS[1] are two different cells, each below k.
    assert window.stats.suppressed_groups == 2


def test_when_rollup_is_off_then_small_siblings_are_suppressed() -> None:
    records = [event("a", SIBLINGS[0]), event("b", SIBLINGS[0]), event("c", SIBLINGS[1])]
    window = only_window(config(rollup=False), records)
    assert window.rows == ()
    assert window.stats.suppressed_events == 3
    assert window.stats.suppressed_groups == 2


def test_when_cells_are_exhausted_then_keys_roll_up_in_config_order() -> None:
    cfg = config(
        coarsest_res=RES,
        keys=(
            KeyLadder("make", ("prefix:1",)),
            KeyLadder("color", ({"navy": "blue", "sky": "blue"},)),
        ),
    )
    records = [
        event("a", make="bmw", color="navy"),
        event("b", make="bentley", color="navy"),
        event("c", make="buick", color="sky"),
        event("d", make="audi", color="sky"),
        event("e", make="audi", color="red"),
        event("f", make="ford", color="red"),
    ]
    window = only_window(config(k=2, coarsest_res=RES, keys=cfg.keys), records)
    rows = [(r["make"], r["color"], r["events"], r["subjects"]) for r in window.rows]
    # Step make=prefix:1: b*/navy has two subjects; b*/sky, a*/sky, a*/red, f*/red stay.
    # Step make=*: */sky (c, d) and */red (e, f) each reach k.
    assert rows == [("b*", "navy", 2, 2), ("*", "red", 2, 2), ("*", "sky", 2, 2)]
    assert window.stats.suppressed_events == 0


@pytest.mark.parametrize(
    ("spec", "expected", "suppressed"),
    [
        # bmw, fiat and kia tie with one event each: the smaller value (bmw) is kept and
        # stays alone below k; fiat and kia merge into "other".
        pytest.param("top:2", [("audi", 3, 3), ("other", 2, 2)], 1, id="top2_ties_by_value"),
        pytest.param("top:1:rest", [("audi", 3, 3), ("rest", 3, 3)], 0, id="top1_named_other"),
    ],
)
def test_when_top_n_level_then_the_windows_rare_values_merge_into_other(
    spec: str, expected: list[tuple[str, int, int]], suppressed: int
) -> None:
    cfg = config(k=2, coarsest_res=RES, keys=(KeyLadder("make", (spec,)),))
    makes = ["audi", "audi", "audi", "bmw", "fiat", "kia"]
    window = only_window(cfg, [event(f"s{i}", make=m) for i, m in enumerate(makes)])
    assert [(r["make"], r["events"], r["subjects"]) for r in window.rows] == expected
    assert window.stats.suppressed_events == suppressed


def test_when_key_is_null_then_it_stays_unknown_until_star() -> None:
    cfg = config(k=2, coarsest_res=RES, keys=(KeyLadder("make", ("prefix:1",)),))
    records = [event("a", make=None), event("b", make=None), event("c", make="audi")]
    window = only_window(cfg, records)
    assert [(r["make"], r["events"]) for r in window.rows] == [(None, 2)]
    assert window.stats.suppressed_events == 1


def test_when_no_subject_dataset_then_every_group_is_published_at_finest_level() -> None:
    cfg = config(k=None, keys=(KeyLadder("make", ("prefix:1",)),))
    records = [
        event(None, SIBLINGS[0], make="audi"),
        event(None, SIBLINGS[1], make="bmw"),
        event(None, SIBLINGS[1], make="bmw"),
    ]
    window = only_window(cfg, records)
    assert [(r["h3_cell"], r["h3_resolution"], r["make"], r["events"]) for r in window.rows] == [
        (SIBLINGS[0], RES, "audi", 1),
        (SIBLINGS[1], RES, "bmw", 2),
    ]
    assert all("subjects" not in r for r in window.rows)
    assert "subjects" not in cfg.output_columns


def test_when_location_is_unknown_then_null_cell_is_its_own_group() -> None:
    window = only_window(config(k=2), [event("a", None), event("b", None)])
    assert keys_of(window) == [(None, None, 2, 2)]


def test_when_origin_and_destination_then_both_roll_up_together() -> None:
    cfg = config(k=2, locations=("origin", "destination"))
    records = [
        {"event_time": T0, "subject": "a", "origin_h3": SIBLINGS[0], "destination_h3": FAR},
        {"event_time": T0, "subject": "b", "origin_h3": SIBLINGS[1], "destination_h3": FAR},
    ]
    window = only_window(cfg, records)
    assert window.rows == (
        {
            "window_start": T0,
            "window_end": T0 + timedelta(minutes=1),
            "origin_h3_cell": PARENT,
            "origin_h3_resolution": RES - 1,
            "destination_h3_cell": h3.cell_to_parent(FAR, RES - 1),
            "destination_h3_resolution": RES - 1,
            "events": 2,
            "subjects": 2,
        },
    )
    assert list(window.rows[0]) == cfg.output_columns


# --------------------------------------------------------------------------- measures


def test_when_measures_are_asked_then_exact_basics_and_p50_within_one_percent() -> None:
    cfg = config(
        k=2,
        coarsest_res=RES,
        measures=(MeasureSpec("pm25", ("count", "sum", "mean", "min", "max", "p50", "p90")),),
    )
    values = [float(v) for v in range(1, 102)]  # 1..101: p50 = 51, p90 = 91
    records = [event(f"s{i % 5}", at=i * 0.1, pm25=v) for i, v in enumerate(values)]
    records.append(event("s0", pm25=None))
    row = only_window(cfg, records).rows[0]
    assert row["events"] == 102
    assert row["pm25_count"] == 101
    assert row["pm25_sum"] == sum(values)
    assert row["pm25_mean"] == sum(values) / 101
    assert row["pm25_min"] == 1.0
    assert row["pm25_max"] == 101.0
    assert row["pm25_p50"] == pytest.approx(51.0, rel=0.01)
    assert row["pm25_p90"] == pytest.approx(91.0, rel=0.01)


def test_when_every_value_is_null_then_count_is_zero_and_the_rest_null() -> None:
    cfg = config(k=1, coarsest_res=RES, measures=(MeasureSpec("kwh", ("count", "mean", "p50")),))
    row = only_window(cfg, [event("a", kwh=None)]).rows[0]
    assert (row["kwh_count"], row["kwh_mean"], row["kwh_p50"]) == (0, None, None)


def test_when_groups_roll_up_then_measures_merge() -> None:
    cfg = config(measures=(MeasureSpec("speed", ("min", "max", "mean", "p50")),))
    records = [
        event("a", SIBLINGS[0], speed=10.0),
        event("b", SIBLINGS[1], speed=-20.0),
        event("c", SIBLINGS[2], speed=40.0),
    ]
    row = only_window(cfg, records).rows[0]
    assert (row["speed_min"], row["speed_max"], row["speed_mean"]) == (-20.0, 40.0, 10.0)
    assert row["speed_p50"] == pytest.approx(10.0, rel=0.01)


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("offset", "window_s", "expected_start"),
    [
        pytest.param(timedelta(0), 900, T0, id="on_the_edge"),
        pytest.param(timedelta(minutes=14, seconds=59.999999), 900, T0, id="last_microsecond"),
        pytest.param(timedelta(minutes=15), 900, T0 + timedelta(minutes=15), id="next_window"),
        pytest.param(timedelta(minutes=37), 3600, T0, id="hour_windows"),
        pytest.param(timedelta(hours=-9, minutes=1), 86_400, T0 - timedelta(hours=9), id="day"),
    ],
)
def test_when_events_arrive_then_windows_are_aligned_to_the_utc_epoch(
    offset: timedelta, window_s: int, expected_start: datetime
) -> None:
    window = only_window(config(k=1, window_s=window_s), [event("a", at=offset.total_seconds())])
    assert window.window_start == expected_start
    assert window.window_end == expected_start + timedelta(seconds=window_s)


def test_when_event_time_has_another_timezone_then_it_is_read_as_utc() -> None:
    paris = timezone(timedelta(hours=2))
    record = event("a")
    record["event_time"] = datetime(2024, 5, 6, 11, 0, 30, tzinfo=paris)  # 09:00:30Z
    assert only_window(config(k=1), [record]).window_start == T0


def test_when_watermark_passes_end_plus_lateness_then_window_closes() -> None:
    agg = WindowAggregator(config(k=1, lateness_s=30))
    agg.add([event("a", at=10)])
    assert agg.advance(T0 + timedelta(seconds=89, microseconds=999_999)) == []
    closed = agg.advance(T0 + timedelta(seconds=90))
    assert [w.window_start for w in closed] == [T0]
    assert agg.open_windows() == []


def test_when_advance_goes_back_then_watermark_does_not_move() -> None:
    agg = WindowAggregator(config(k=1))
    agg.add([event("a", at=300)])
    agg.advance(T0)
    assert agg.watermark == T0 + timedelta(seconds=300)


@pytest.mark.parametrize(
    ("advance_between", "in_window_stats", "in_late_stream"),
    [
        pytest.param(False, 1, 0, id="window_not_emitted_yet_counts_in_its_stats"),
        pytest.param(True, 0, 1, id="window_already_emitted_goes_to_late_stream"),
    ],
)
def test_when_event_arrives_after_its_window_closed_then_counted_late(
    advance_between: bool, in_window_stats: int, in_late_stream: int
) -> None:
    agg = WindowAggregator(config(k=1, lateness_s=10))
    agg.add([event("a", at=5), event("b", at=70)])  # watermark 70 >= 60 + 10: first closes
    emitted = agg.advance() if advance_between else []
    late = agg.add([event("c", at=20)])
    emitted += agg.advance() + agg.close_all()
    first = emitted[0]
    assert first.window_start == T0
    assert first.stats.late_events == in_window_stats
    assert first.stats.events_in == 1 + in_window_stats
    assert first.stats.published_events == 1  # the late event is never aggregated
    assert sum(item.events for item in late) == in_late_stream
    if in_late_stream:
        assert late == [LateEvents(T0, T0 + timedelta(minutes=1), 1)]


def test_when_events_in_one_batch_are_out_of_order_then_judged_in_arrival_order() -> None:
    agg = WindowAggregator(config(k=1, lateness_s=0))
    agg.add([event("a", at=5), event("b", at=60), event("c", at=6)])
    first = agg.advance()[0]
    assert (first.stats.published_events, first.stats.late_events) == (1, 1)


def test_when_close_all_then_later_events_for_those_windows_are_late() -> None:
    agg = WindowAggregator(config(k=1, lateness_s=3600))
    agg.add([event("a", at=5)])
    assert len(agg.close_all()) == 1
    assert agg.add([event("b", at=6)]) == [LateEvents(T0, T0 + timedelta(minutes=1), 1)]
    assert agg.close_all() == []


def test_when_only_late_events_before_emission_then_window_is_emitted_without_rows() -> None:
    agg = WindowAggregator(config(k=1))
    agg.add([event("a", at=600), event("b", at=5)])
    windows = agg.advance()
    assert [(w.window_start, w.rows, w.stats.late_events) for w in windows] == [(T0, (), 1)]


# --------------------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        pytest.param({"event_time": T0.replace(tzinfo=None)}, "naive_event_time", id="naive_time"),
        pytest.param({"event_time": "2024-05-06T09:00:00Z"}, "bad_event_time", id="string_time"),
        pytest.param({"subject": None}, "missing_subject", id="no_subject"),
        pytest.param({"location_h3": PARENT}, "bad_h3_cell", id="cell_at_wrong_resolution"),
        pytest.param({"location_h3": "not-a-cell"}, "bad_h3_cell", id="not_a_cell"),
        pytest.param({"pm25": float("nan")}, "non_finite_measure", id="nan_measure"),
        pytest.param({"pm25": "high"}, "bad_measure", id="text_measure"),
    ],
)
def test_when_a_record_is_invalid_then_batch_is_refused_and_state_untouched(
    record: dict[str, Any], reason: str
) -> None:
    agg = WindowAggregator(config(k=1, measures=(MeasureSpec("pm25", ("mean",)),)))
    agg.add([event("a", pm25=1.0)])
    before = agg.to_dict()
    bad = event("b", pm25=2.0)
    bad.update(record)
    with pytest.raises(InputValidationError) as info:
        agg.add([event("c", pm25=3.0), bad])
    assert info.value.reason == reason
    assert agg.to_dict() == before


def test_when_a_field_is_missing_then_refused_with_its_name() -> None:
    agg = WindowAggregator(config(k=1, keys=(KeyLadder("make"),)))
    with pytest.raises(InputValidationError, match="record 0 has no field 'make'"):
        agg.add([event("a")])


def test_when_input_is_arrow_then_same_rows_as_records() -> None:
    cfg = config(
        k=2, keys=(KeyLadder("make", ("prefix:1",)),), measures=(MeasureSpec("v", ("sum",)),)
    )
    records = [
        event(s, c, at=i * 7, make=m, v=float(i))
        for i, (s, c, m) in enumerate(
            [("a", SIBLINGS[0], "bmw"), ("b", SIBLINGS[0], "bmw"), ("c", SIBLINGS[1], "audi")] * 5
        )
    ]
    schema = pa.schema(
        [
            ("event_time", pa.timestamp("ms", tz="UTC")),
            ("subject", pa.string()),
            ("location_h3", pa.string()),
            ("make", pa.string()),
            ("v", pa.float32()),
            ("extra_ignored", pa.string()),
        ]
    )
    table = pa.Table.from_pylist(records, schema=schema)
    assert close(cfg, records) == close(cfg, table)
    agg = WindowAggregator(cfg)
    agg.add(table.to_batches()[0])
    assert agg.close_all() == close(cfg, records)


def test_when_arrow_time_is_naive_then_refused() -> None:
    table = pa.table(
        {"event_time": pa.array([0], pa.timestamp("us")), "subject": ["a"], "location_h3": [CELL]}
    )
    with pytest.raises(InputValidationError, match="timezone-aware"):
        WindowAggregator(config(k=1)).add(table)


def test_when_batch_is_empty_then_nothing_changes() -> None:
    agg = WindowAggregator(config())
    assert agg.add([]) == []
    assert agg.watermark is None
    assert agg.advance() == [] and agg.close_all() == []


# --------------------------------------------------------------------------- state


def test_when_state_is_saved_and_restored_then_output_is_the_same() -> None:
    cfg = config(k=2, measures=(MeasureSpec("speed", ("sum", "min", "p50")),))
    records = [
        event(s, c, at=i, speed=float(i))
        for i, (s, c) in enumerate([("a", SIBLINGS[0]), ("b", SIBLINGS[1]), ("c", FAR)] * 3)
    ]
    first = WindowAggregator(cfg)
    first.add(records[:5])
    state = json.loads(json.dumps(first.to_dict()))
    restored = WindowAggregator.from_dict(cfg, state)
    restored.add(records[5:])
    first.add(records[5:])
    assert restored.close_all() == first.close_all()


def test_when_state_holds_data_then_only_pseudonyms_counts_and_sketches() -> None:
    cfg = config(k=2, measures=(MeasureSpec("kwh", ("p50",)),))
    agg = WindowAggregator(cfg)
    agg.add([event("pseudo-1", kwh=123.456), event("pseudo-2", kwh=7.0)])
    entry = next(v for k, v in agg.to_dict().items() if k != "meta")
    assert set(entry) == {"events", "subjects", "measures"}
    assert set(entry["measures"]["kwh"]) == {"count", "sum", "min", "max", "sketch"}
    assert entry["subjects"] == ["pseudo-1", "pseudo-2"]
    # The sketch holds bucket indices and counts, not the values.
    assert all(isinstance(i, int) for i, _n in entry["measures"]["kwh"]["sketch"]["positive"])


def test_when_changes_are_drained_then_a_table_rebuilt_from_them_matches() -> None:
    cfg = config(k=1)
    agg = WindowAggregator(cfg)
    table: dict[str, Any] = {}

    def sync() -> None:
        for key, value in agg.drain_changes().items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value

    agg.add([event("a", at=1), event("b", CELL, at=61)])
    sync()
    assert table == agg.to_dict()
    assert len(agg.advance()) == 1  # watermark 61 >= 60: the first window closes
    agg.add([event("c", at=130)])
    assert len(agg.advance()) == 1  # watermark 130 >= 120: the second one too
    sync()
    assert table == agg.to_dict()
    assert len([k for k in table if k != "meta"]) == 1
    assert agg.drain_changes() == {}
    rebuilt = WindowAggregator.from_dict(cfg, table)
    assert rebuilt.close_all() == agg.close_all()


def test_when_state_comes_from_another_config_then_refused() -> None:
    agg = WindowAggregator(config(k=2))
    agg.add([event("a")])
    with pytest.raises(ConfigurationError, match="different window configuration"):
        WindowAggregator.from_dict(config(k=3), agg.to_dict())


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"k": 0}, "k must be", id="k_zero"),
        pytest.param({"k": True}, "k must be", id="k_bool"),
        pytest.param({"window_s": 0}, "window_s must be positive", id="window_zero"),
        pytest.param({"lateness_s": -1}, "lateness_s", id="negative_lateness"),
        pytest.param({"coarsest_res": 10}, "H3 resolutions", id="coarsest_finer_than_finest"),
        pytest.param({"finest_res": 16, "coarsest_res": 3}, "H3 resolutions", id="res_16"),
        pytest.param({"keys": (KeyLadder("events"),)}, "clash", id="key_named_events"),
        pytest.param(
            {"keys": (KeyLadder("make"),), "measures": (MeasureSpec("make", ("max",)),)},
            "used twice",
            id="field_twice",
        ),
        pytest.param({"keys": (KeyLadder("subject"),)}, "reserved", id="key_named_subject"),
    ],
)
def test_when_config_is_inconsistent_then_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        config(**overrides)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        pytest.param(lambda: MeasureSpec("v", ("median",)), "unknown aggregate", id="bad_agg"),
        pytest.param(lambda: MeasureSpec("v", ("p100",)), "unknown aggregate", id="p100"),
        pytest.param(lambda: MeasureSpec("v", ()), "at least one", id="no_agg"),
        pytest.param(
            lambda: KeyLadder("make", ("bottom:3",)), "unknown generalization", id="bottom"
        ),
        pytest.param(lambda: KeyLadder("make", ("top:0",)), "unknown generalization", id="top0"),
        pytest.param(lambda: KeyLadder("bad name"), "not a valid column", id="bad_name"),
    ],
)
def test_when_spec_is_bad_then_refused(build: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build()


def test_when_ladder_lacks_star_then_it_is_appended() -> None:
    ladder = KeyLadder("zip", ("prefix:3",))
    assert ladder.levels == ("prefix:3", "*")
    assert [ladder.generalize("10027", level) for level in range(3)] == ["10027", "100*", "*"]


def test_when_steps_are_listed_then_cells_coarsen_before_keys() -> None:
    cfg = config(coarsest_res=RES - 1, keys=(KeyLadder("a", ("prefix:1",)), KeyLadder("b")))
    assert [(s.resolution, s.levels) for s in cfg.steps] == [
        (RES, (0, 0)),
        (RES - 1, (0, 0)),
        (RES - 1, (1, 0)),
        (RES - 1, (2, 0)),
        (RES - 1, (2, 1)),
    ]
    assert len(config(rollup=False).steps) == 1


def test_when_docs_example_is_run_then_rows_are_a1_and_a() -> None:
    """The worked example of docs/windows.md."""
    a1, a2, a3 = SIBLINGS[0], SIBLINGS[1], SIBLINGS[2]
    records = [event(s, a1) for s in "xyz"]
    records += [event("u", a2), event("v", a2), event("w", a3), event("s", FAR)]
    window = only_window(config(k=3, coarsest_res=RES - 1), records)
    assert keys_of(window) == [(a1, RES, 3, 3), (PARENT, RES - 1, 3, 3)]
    assert (window.stats.suppressed_events, window.stats.suppressed_groups) == (1, 1)


def test_when_meta_is_asked_then_it_equals_the_meta_entry_of_the_state() -> None:
    agg = WindowAggregator(config(k=1))
    agg.add([event("a", at=1), event("b", at=125)])
    agg.advance()
    assert agg.meta() == agg.to_dict()["meta"]
    assert agg.meta()["emitted_before_s"] == int((T0 + timedelta(minutes=2)).timestamp())
    restored = WindowAggregator.from_dict(config(k=1), {"meta": agg.meta()})
    assert restored.watermark == agg.watermark
    assert restored.add([event("c", at=2)]) == [LateEvents(T0, T0 + timedelta(minutes=1), 1)]
