"""``drop``: the field leaves the record; the record anonymizer omits the column."""

from __future__ import annotations

import pyarrow as pa

from transforms.operators.base import Operator, OperatorConfig, as_array


class DropConfig(OperatorConfig):
    """No parameters."""


class Drop(Operator[DropConfig]):
    name = "drop"
    config_type = DropConfig
    removes_field = True

    def operate(self, values: pa.Array) -> pa.Array:
        """All nulls, for callers that keep the column's place (the anonymizer removes it)."""
        array = as_array(values)
        return pa.nulls(len(array), array.type)

    def output_type(self, input_type: pa.DataType) -> pa.DataType:
        return input_type
