"""A small mergeable quantile sketch with a bounded relative error (DDSketch-style).

Window state must never hold the raw list of a measure's values (state is
replicated to Kafka changelog topics), so quantiles such as p50 or p90 come from
this sketch instead: a histogram over logarithmic buckets.

With relative accuracy ``a`` (default 1%), ``gamma = (1 + a) / (1 - a)`` and a
positive value ``v`` falls in bucket ``i = ceil(log(v) / log(gamma))``, the
interval ``(gamma**(i-1), gamma**i]``. The bucket is represented by
``2 * gamma**i / (gamma + 1)``, which is within ``a`` of every value in it (relative
error). Negative values use the same buckets on ``-v``; zero has its own counter.
So ``quantile(q)`` is within ``a`` of the exact lower quantile ``sorted(values)[floor(q *
(n - 1))]``.

Buckets are integers and counts, so two sketches merge exactly (bucket-wise sum)
and the merge is independent of order: the same values give the same sketch however
they were batched. The state is ``{bucket: count}``, which is JSON-able.

Memory: a sketch holds at most ``max_bins`` buckets per sign. With a = 1%,
2048 buckets span a ratio of about 10**17 between the smallest and largest value,
so collapsing (merging the buckets closest to zero, which loses accuracy for the
smallest magnitudes only) does not happen with real sensor data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

DEFAULT_RELATIVE_ACCURACY: Final = 0.01
DEFAULT_MAX_BINS: Final = 2048


class QuantileSketch:
    """Log-bucket histogram: ``add``, ``merge``, ``quantile``, ``to_dict``/``from_dict``."""

    __slots__ = (
        "_accuracy",
        "_ln_gamma",
        "count",
        "gamma",
        "max_bins",
        "negative",
        "positive",
        "zero",
    )

    def __init__(
        self,
        relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
        max_bins: int = DEFAULT_MAX_BINS,
    ) -> None:
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(
                f"relative_accuracy must be between 0 and 1 (exclusive), got {relative_accuracy}"
            )
        if max_bins < 16:
            raise ValueError(f"max_bins must be at least 16, got {max_bins}")
        self._accuracy = relative_accuracy
        self.gamma = (1.0 + relative_accuracy) / (1.0 - relative_accuracy)
        self._ln_gamma = math.log(self.gamma)
        self.max_bins = max_bins
        self.positive: dict[int, int] = {}
        self.negative: dict[int, int] = {}
        self.zero = 0
        self.count = 0

    @property
    def relative_accuracy(self) -> float:
        return self._accuracy

    @property
    def ln_gamma(self) -> float:
        """``log(gamma)``: bucket of a positive ``v`` is ``ceil(log(v) / ln_gamma)``."""
        return self._ln_gamma

    def bucket(self, magnitude: float) -> int:
        """The bucket index of a strictly positive magnitude."""
        return math.ceil(math.log(magnitude) / self._ln_gamma)

    def add(self, value: float, count: int = 1) -> None:
        if not math.isfinite(value):
            raise ValueError(f"a quantile sketch takes finite values only, got {value}")
        if count <= 0:
            return
        if value > 0.0:
            self.add_bucket(1, self.bucket(value), count)
        elif value < 0.0:
            self.add_bucket(-1, self.bucket(-value), count)
        else:
            self.add_bucket(0, 0, count)

    def add_bucket(self, sign: int, index: int, count: int) -> None:
        """Add ``count`` values already mapped to a bucket (used by columnar callers)."""
        if sign == 0:
            self.zero += count
        else:
            store = self.positive if sign > 0 else self.negative
            store[index] = store.get(index, 0) + count
            if len(store) > self.max_bins:
                self._collapse(store)
        self.count += count

    def merge(self, other: QuantileSketch) -> None:
        if other.relative_accuracy != self.relative_accuracy:
            raise ValueError("cannot merge quantile sketches with different accuracies")
        for index, n in other.positive.items():
            self.positive[index] = self.positive.get(index, 0) + n
        for index, n in other.negative.items():
            self.negative[index] = self.negative.get(index, 0) + n
        self.zero += other.zero
        self.count += other.count
        for store in (self.positive, self.negative):
            if len(store) > self.max_bins:
                self._collapse(store)

    def _collapse(self, store: dict[int, int]) -> None:
        """Fold the buckets nearest zero into one until at most ``max_bins`` remain."""
        indices = sorted(store)
        excess = len(indices) - self.max_bins
        keep = indices[excess]
        for index in indices[:excess]:
            store[keep] += store.pop(index)

    def _value(self, index: int) -> float:
        return 2.0 * self.gamma**index / (self.gamma + 1.0)

    def quantile(self, q: float) -> float | None:
        """The lower ``q``-quantile (0 <= q <= 1) within the relative accuracy; None if empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile must be between 0 and 1, got {q}")
        if self.count == 0:
            return None
        rank = math.floor(q * (self.count - 1))
        seen = 0
        # Ascending order of value: most negative first (largest magnitude), zero, positive.
        for index in sorted(self.negative, reverse=True):
            seen += self.negative[index]
            if seen > rank:
                return -self._value(index)
        seen += self.zero
        if seen > rank:
            return 0.0
        for index in sorted(self.positive):
            seen += self.positive[index]
            if seen > rank:
                return self._value(index)
        return self._value(max(self.positive))  # pragma: no cover - counts always add up

    def copy(self) -> QuantileSketch:
        twin = QuantileSketch(self.relative_accuracy, self.max_bins)
        twin.merge(self)
        return twin

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form; bucket lists are sorted so equal sketches give equal dicts."""
        return {
            "accuracy": self.relative_accuracy,
            "zero": self.zero,
            "positive": [[i, self.positive[i]] for i in sorted(self.positive)],
            "negative": [[i, self.negative[i]] for i in sorted(self.negative)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], max_bins: int = DEFAULT_MAX_BINS) -> QuantileSketch:
        sketch = cls(float(data["accuracy"]), max_bins)
        for index, n in data.get("positive", ()):
            sketch.add_bucket(1, int(index), int(n))
        for index, n in data.get("negative", ()):
            sketch.add_bucket(-1, int(index), int(n))
        sketch.add_bucket(0, 0, int(data.get("zero", 0)))
        return sketch

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileSketch):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"QuantileSketch(count={self.count}, accuracy={self.relative_accuracy:.4g}, "
            f"buckets={len(self.positive) + len(self.negative) + (1 if self.zero else 0)})"
        )
