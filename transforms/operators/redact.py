"""``redact``: the value is removed but the field stays (Presidio's ``redact``).

Strings become empty strings; other types become null. Nulls stay null, so
"was there a value" survives, never what it was.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from transforms.operators.base import Operator, OperatorConfig, as_array


class RedactConfig(OperatorConfig):
    """No parameters."""


class Redact(Operator[RedactConfig]):
    name = "redact"
    config_type = RedactConfig

    def operate(self, values: pa.Array) -> pa.Array:
        array = as_array(values)
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            return pc.if_else(
                pc.is_null(array), pa.scalar(None, array.type), pa.scalar("", array.type)
            )
        return pa.nulls(len(array), array.type)

    def output_type(self, input_type: pa.DataType) -> pa.DataType:
        return input_type
