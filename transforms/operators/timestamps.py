"""Event times as UTC timestamps, whatever form they arrive in."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from citysieve.errors import InputValidationError
from transforms.operators.base import as_array

UTC_MICROS = pa.timestamp("us", tz="UTC")


def as_utc_timestamps(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``timestamp[us, UTC]`` from timestamps or ISO-8601 strings with an offset (``Z``).

    Naive timestamps (no time zone) are refused: citysieve never guesses a zone.
    """
    array = as_array(values)
    if pa.types.is_timestamp(array.type):
        if array.type.tz is None:
            raise InputValidationError(
                "naive_timestamp", "event times must carry a time zone (use UTC)"
            )
        return pc.cast(array, UTC_MICROS)
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        try:
            return pc.cast(array, UTC_MICROS)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputValidationError(
                "bad_timestamp", "event times must be ISO-8601 with an offset, e.g. ...Z"
            ) from exc
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), UTC_MICROS)
    raise InputValidationError("bad_timestamp", f"event times of type {array.type} are not times")


def floor_to(values: pa.Array, seconds: int) -> pa.Array:
    """UTC timestamps floored to a multiple of ``seconds`` counted from the Unix epoch."""
    return pc.floor_temporal(as_utc_timestamps(values), multiple=seconds, unit="second")
