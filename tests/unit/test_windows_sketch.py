"""The quantile sketch behind p50/p90 window aggregates (transforms/sketch.py)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.sketch import QuantileSketch

values = st.lists(
    st.one_of(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, 1.0, -1.0]),
    ),
    min_size=1,
    max_size=300,
)
quantiles = st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0])


def exact(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[math.floor(q * (len(ordered) - 1))]


@settings(max_examples=150, deadline=None)
@given(values, quantiles)
def test_when_values_are_added_then_quantile_is_within_relative_accuracy(
    xs: list[float], q: float
) -> None:
    sketch = QuantileSketch(0.01)
    for x in xs:
        sketch.add(x)
    got, want = sketch.quantile(q), exact(xs, q)
    assert got is not None
    assert abs(got - want) <= 0.01 * abs(want) + 1e-300


@settings(max_examples=100, deadline=None)
@given(values, values)
def test_when_sketches_merge_then_same_as_one_sketch_of_all_values(
    a: list[float], b: list[float]
) -> None:
    left, right, whole = QuantileSketch(), QuantileSketch(), QuantileSketch()
    for x in a:
        left.add(x)
        whole.add(x)
    for x in b:
        right.add(x)
        whole.add(x)
    left.merge(right)
    assert left == whole
    assert QuantileSketch.from_dict(json.loads(json.dumps(left.to_dict()))) == whole


def test_when_empty_then_quantile_is_none() -> None:
    assert QuantileSketch().quantile(0.5) is None


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.add(float("inf")), id="infinite_value"),
        pytest.param(lambda s: s.quantile(1.5), id="quantile_above_one"),
        pytest.param(lambda s: s.merge(QuantileSketch(0.05)), id="other_accuracy"),
    ],
)
def test_when_misused_then_value_error(call: object) -> None:
    with pytest.raises(ValueError):
        call(QuantileSketch(0.01))  # type: ignore[operator]


def test_when_buckets_exceed_the_limit_then_smallest_magnitudes_collapse() -> None:
    sketch = QuantileSketch(0.01, max_bins=16)
    for exponent in range(40):
        sketch.add(2.0**exponent)
    assert len(sketch.positive) == 16
    assert sketch.count == 40
    assert sketch.quantile(1.0) == pytest.approx(2.0**39, rel=0.01)
