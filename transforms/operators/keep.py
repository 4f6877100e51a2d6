"""``keep``: the column passes through unchanged (public or already safe fields)."""

from __future__ import annotations

import pyarrow as pa

from transforms.operators.base import Operator, OperatorConfig, as_array


class KeepConfig(OperatorConfig):
    """No parameters."""


class Keep(Operator[KeepConfig]):
    name = "keep"
    config_type = KeepConfig

    def operate(self, values: pa.Array) -> pa.Array:
        return as_array(values)

    def output_type(self, input_type: pa.DataType) -> pa.DataType:
        return input_type
