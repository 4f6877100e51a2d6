"""``generalize`` kind ``h3``: a coordinate pair becomes the H3 cell holding it.

Location is two fields, so this operator takes the pair: ``operate_pair(lat,
lon)``, or ``operate`` on a struct column with ``lat`` and ``lon`` children.
Out-of-range or missing coordinates give null, never a wrong cell.
"""

from __future__ import annotations

import math
from typing import Literal

import h3
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from transforms.operators.base import Operator, OperatorConfig, as_array


class H3Config(OperatorConfig):
    kind: Literal["h3"] = "h3"
    resolution: int = Field(ge=0, le=15, description="H3 resolution, 0 (coarsest) to 15")


def _cell(lat: float | None, lon: float | None, resolution: int) -> str | None:
    if lat is None or lon is None or math.isnan(lat) or math.isnan(lon):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return str(h3.latlng_to_cell(lat, lon, resolution))


class GeneralizeH3(Operator[H3Config]):
    name = "generalize"
    config_type = H3Config

    def operate(self, values: pa.Array) -> pa.Array:
        """Cells for a struct column whose children are ``lat`` and ``lon``."""
        array = as_array(values)
        if not pa.types.is_struct(array.type):
            raise TypeError("generalize h3 takes a struct of (lat, lon); use operate_pair")
        lat = pc.struct_field(array, "lat")
        lon = pc.struct_field(array, "lon")
        cells = self.operate_pair(lat, lon)
        return pc.if_else(pc.is_null(array), pa.scalar(None, pa.string()), cells)

    def operate_pair(self, lat: pa.Array, lon: pa.Array) -> pa.Array:
        """One H3 cell (hex string) per (lat, lon); null where either is null or invalid."""
        lats = pc.cast(as_array(lat), pa.float64()).to_pylist()
        lons = pc.cast(as_array(lon), pa.float64()).to_pylist()
        if len(lats) != len(lons):
            raise ValueError("lat and lon must have the same length")
        resolution = self.config.resolution
        return pa.array(
            [_cell(a, b, resolution) for a, b in zip(lats, lons, strict=True)], type=pa.string()
        )
