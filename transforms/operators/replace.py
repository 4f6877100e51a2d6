"""``replace``: every value becomes one placeholder, typed (``<PHONE_NUMBER>``) or given.

``value: "n/a"`` gives that fixed text; ``entity_type: PHONE_NUMBER`` gives
``<PHONE_NUMBER>``; neither gives ``<REDACTED>``.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from transforms.operators.base import Operator, OperatorConfig, as_array


class ReplaceConfig(OperatorConfig):
    value: str | None = None
    entity_type: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$")

    @model_validator(mode="after")
    def _one_of(self) -> ReplaceConfig:
        if self.entity_type is not None and self.value is not None:
            raise ValueError("give value or entity_type, not both")
        return self

    @property
    def placeholder(self) -> str:
        if self.value is not None:
            return self.value
        return f"<{self.entity_type or 'REDACTED'}>"


class Replace(Operator[ReplaceConfig]):
    name = "replace"
    config_type = ReplaceConfig

    def operate(self, values: pa.Array) -> pa.Array:
        array = as_array(values)
        return pc.if_else(
            pc.is_null(array), pa.scalar(None, pa.string()), pa.scalar(self.config.placeholder)
        )
