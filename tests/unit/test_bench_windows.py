"""The window sweeps (perf/bench_windows.py) on a small input: their figures must hold up.

No timing is asserted (benchmarks never are); what is checked is what the figures
mean: every event accounted for, published rows at least k subjects, suppression
a share that does not fall as k grows on the same input, and state that was measured.
"""

from __future__ import annotations

from typing import Any

import pytest

from perf.bench_windows import DEVICE_COUNTS, K_VALUES, WINDOW_MINUTES, run_sweeps


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return run_sweeps(events=5000, seed=7)


def _sweep(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in results["points"] if p["sweep"] == name]


def test_when_swept_then_every_value_of_every_sweep_has_a_point(
    results: dict[str, Any],
) -> None:
    assert [p["value"] for p in _sweep(results, "k")] == list(K_VALUES)
    assert [p["value"] for p in _sweep(results, "window_min")] == list(WINDOW_MINUTES)
    assert [p["value"] for p in _sweep(results, "devices")] == list(DEVICE_COUNTS)
    for p in _sweep(results, "window_min"):
        assert p["window_s"] == p["value"] * 60
    for p in _sweep(results, "k"):
        assert p["k"] == p["value"]


def test_when_aggregated_then_every_event_is_published_or_suppressed_once(
    results: dict[str, Any],
) -> None:
    for p in results["points"]:
        assert p["events"] == 5000
        assert p["late_events"] == 0  # the input is in event-time order
        assert p["published_events"] + p["suppressed_events"] == p["events"]
        assert 0.0 <= p["suppression_share"] <= 1.0
        assert p["suppression_share"] == pytest.approx(p["suppressed_events"] / p["events"])
        assert sum(p["rows_by_resolution"].values()) == p["rows"]


def test_when_rows_are_published_then_each_holds_at_least_k_subjects(
    results: dict[str, Any],
) -> None:
    for p in results["points"]:
        assert p["rows"] > 0, p
        assert p["min_row_subjects"] is not None
        assert p["min_row_subjects"] >= p["k"], p


def test_when_k_grows_then_the_suppressed_share_does_not_fall(results: dict[str, Any]) -> None:
    # Not a theorem (a larger k can merge groups that a smaller one left apart),
    # but on this skewed input a falling share would mean the bench or the ladder broke.
    shares = [p["suppression_share"] for p in _sweep(results, "k")]
    assert shares == sorted(shares)
    assert shares[-1] > shares[0]  # k 20 must suppress something k 2 publishes


def test_when_measured_then_cost_and_state_figures_are_positive(
    results: dict[str, Any],
) -> None:
    for p in results["points"]:
        for name in ("cpu_us_per_event", "add_us_per_event", "events_per_s", "windows"):
            assert p[name] > 0, (name, p)
        assert p["peak_entries"] > 0
        # Each entry holds at least one 22-character pseudonym in the JSON state.
        assert p["peak_state_bytes"] > 22 * p["peak_entries"]
        assert 0 < p["subjects_seen"] <= p["devices"]
