"""What every operator is: a small class built once from a frozen, validated config.

``operate(values)`` takes a whole column and returns a new one of the same
length; nulls stay null. Configs are pydantic models that forbid unknown keys,
so a misspelt parameter refuses the policy at start-up instead of being ignored.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from citysieve.keys import KeyRing


class OperatorConfig(BaseModel):
    """Base of every operator's parameters: frozen, unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def refuse_named_key(key: str | None) -> str | None:
    """``key:`` in a spec: only the default key exists (CITYSIEVE_*_KEY); say so."""
    if key not in (None, "default"):
        raise ValueError(
            "named keys are not supported: remove 'key' (the key comes from "
            "CITYSIEVE_PSEUDONYM_KEY / CITYSIEVE_ENCRYPTION_KEY or their _FILE variants)"
        )
    return key


C = TypeVar("C", bound=OperatorConfig)


class Operator(ABC, Generic[C]):
    """A column transform. Subclasses set ``name`` and ``config_type`` and implement ``operate``."""

    name: ClassVar[str]
    config_type: ClassVar[type[OperatorConfig]]
    # True for operators whose field leaves the record altogether (drop).
    removes_field: ClassVar[bool] = False

    def __init__(self, config: C) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: Any, keys: KeyRing | None) -> Operator[Any]:
        """Build from a validated config; operators that need keys override this."""
        return cls(config)

    @abstractmethod
    def operate(self, values: pa.Array) -> pa.Array:
        """The transformed column: same length, nulls kept null."""

    def output_type(self, input_type: pa.DataType) -> pa.DataType:
        """Arrow type of ``operate``'s result for an input column of ``input_type``."""
        return pa.string()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"


def as_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous Array from an Array or a ChunkedArray."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values


def as_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as UTF-8 strings (numbers and ids are cast), nulls kept."""
    array = as_array(values)
    if pa.types.is_string(array.type):
        return array
    if pa.types.is_large_string(array.type) or pa.types.is_dictionary(array.type):
        return pc.cast(array, pa.string())
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    return pc.cast(array, pa.string())


def map_distinct(values: pa.Array, function: Callable[[str], str | None]) -> pa.Array:
    """``function`` applied once per distinct non-null string, spread back over the column.

    Streams repeat values (the same device seen a thousand times a minute), so
    work per distinct value, not per row.
    """
    encoded = pc.dictionary_encode(as_strings(values))
    mapped = pa.array(
        [function(value) for value in encoded.dictionary.to_pylist()], type=pa.string()
    )
    return mapped.take(encoded.indices)
