"""``mask``: hide some characters of each value (``***-***-0199``), Presidio's ``mask``."""

from __future__ import annotations

import pyarrow as pa
from pydantic import Field

from transforms.operators.base import Operator, OperatorConfig, map_distinct


class MaskConfig(OperatorConfig):
    chars_to_mask: int = Field(ge=0, description="how many characters to hide")
    from_end: bool = False
    masking_char: str = Field(default="*", min_length=1, max_length=1)


class Mask(Operator[MaskConfig]):
    name = "mask"
    config_type = MaskConfig

    def operate(self, values: pa.Array) -> pa.Array:
        return map_distinct(values, self.mask)

    def mask(self, value: str) -> str:
        n = min(self.config.chars_to_mask, len(value))
        hidden = self.config.masking_char * n
        if self.config.from_end:
            return value[: len(value) - n] + hidden
        return hidden + value[n:]
