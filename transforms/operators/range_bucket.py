"""``generalize`` kind ``range``: numbers become ranges such as ``"10-20"``.

Either a ``width`` (``10`` gives ``0-10``, ``10-20``, ...; a range holds its
lower bound, not its upper) or explicit ``edges`` (``[0, 18, 65]`` gives
``<0``, ``0-18``, ``18-65``, ``65+``).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from transforms.operators.base import Operator, OperatorConfig, as_array


class RangeConfig(OperatorConfig):
    kind: Literal["range"] = "range"
    width: float | None = Field(default=None, gt=0)
    edges: tuple[float, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> RangeConfig:
        if (self.width is None) == (self.edges is None):
            raise ValueError("give either width (e.g. 10) or edges (e.g. [0, 18, 65])")
        if self.edges is not None and list(self.edges) != sorted(set(self.edges)):
            raise ValueError("edges must be strictly increasing")
        return self


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class GeneralizeRange(Operator[RangeConfig]):
    name = "generalize"
    config_type = RangeConfig

    def __init__(self, config: RangeConfig) -> None:
        super().__init__(config)
        if config.edges is not None:
            edges = config.edges
            self._labels = pa.array(
                [f"<{_number(edges[0])}"]
                + [f"{_number(a)}-{_number(b)}" for a, b in pairwise(edges)]
                + [f"{_number(edges[-1])}+"]
            )

    def operate(self, values: pa.Array) -> pa.Array:
        numbers = pc.cast(as_array(values), pa.float64())
        valid = pc.and_(pc.is_valid(numbers), pc.invert(pc.is_nan(numbers)))
        filled = pc.fill_null(numbers, 0.0).to_numpy(zero_copy_only=False)
        if self.config.edges is not None:
            index = np.searchsorted(np.asarray(self.config.edges), filled, side="right")
            labels = self._labels.take(pa.array(index))
        else:
            width = float(self.config.width or 1.0)
            low = np.floor(filled / width) * width
            labels = pa.array(
                [f"{_number(a)}-{_number(a + width)}" for a in low.tolist()], type=pa.string()
            )
        return pc.if_else(valid, labels, pa.scalar(None, pa.string()))
