"""From a dataset's policy and its anon records to the inputs and rows of the open tier.

Pure glue between the policy model and :mod:`transforms.windows`: the window
configuration a policy implies, the window input columns taken from an anon
batch (cells coarsened to the policy's finest resolution), and a closed window's
rows as an Arrow table in the aggregate-row schema derived from the Avro schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import h3
import pyarrow as pa

from citysieve.policy.model import (
    SUBJECT_PSEUDONYM,
    AllLevel,
    DatasetPolicy,
    IdentityLevel,
    PrefixLevel,
    RangeLevel,
    TopNLevel,
)
from transforms.windows import (
    EVENT_TIME,
    STAR,
    SUBJECT,
    ClosedWindow,
    KeyLadder,
    LevelSpec,
    MeasureSpec,
    WindowConfig,
)


def _range_level(width: float) -> Callable[[str | None], str | None]:
    def band(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            return STAR
        low = math.floor(number / width) * width
        return f"{low:g}-{low + width:g}"

    return band


def _level(level: object) -> LevelSpec | None:
    """The aggregator's spec for one policy level (None: the value as it arrives)."""
    if isinstance(level, IdentityLevel):
        return None
    if isinstance(level, PrefixLevel):
        return f"prefix:{level.length}"
    if isinstance(level, RangeLevel):
        return _range_level(level.width)
    if isinstance(level, AllLevel):
        return STAR
    if isinstance(level, TopNLevel):
        return f"top:{level.n}:{level.other}"
    raise TypeError(f"unknown level {level!r}")


def window_config(policy: DatasetPolicy, *, rollup: bool = True) -> WindowConfig:
    """The window, grouping and roll-up ladder the policy's open tier asks for."""
    open_tier = policy.open
    keys = []
    for name, dimension in open_tier.dimensions.items():
        levels = [spec for spec in map(_level, dimension.levels) if spec is not None]
        if not levels or levels[-1] != STAR:
            levels.append(STAR)  # every ladder ends with everything together
        keys.append(KeyLadder(name, tuple(levels)))
    measures = [MeasureSpec(name, tuple(aggs)) for name, aggs in open_tier.measures.items()]
    h3_levels = open_tier.h3
    return WindowConfig(
        k=open_tier.k,
        window_s=open_tier.window.size_seconds,
        lateness_s=open_tier.window.allowed_lateness_seconds,
        locations=tuple(loc.name for loc in policy.locations),
        finest_res=h3_levels.finest if h3_levels else 0,
        coarsest_res=h3_levels.coarsest if h3_levels else 0,
        keys=tuple(keys),
        measures=tuple(measures),
        rollup=rollup,
    )


def _parents(cells: pa.Array, resolution: int) -> pa.Array:
    """Each cell's ancestor at ``resolution`` (computed once per distinct cell)."""
    distinct: dict[str, str] = {}
    out: list[str | None] = []
    for cell in cells.to_pylist():
        if cell is None:
            out.append(None)
            continue
        parent = distinct.get(cell)
        if parent is None:
            parent = distinct[cell] = h3.cell_to_parent(cell, resolution)
        out.append(parent)
    return pa.array(out, pa.string())


def window_input(
    policy: DatasetPolicy, config: WindowConfig, anon: pa.RecordBatch | pa.Table
) -> pa.Table:
    """The columns :class:`~transforms.windows.WindowAggregator` reads, from anon records."""
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        EVENT_TIME: anon.column(policy.event_time),
    }
    if config.k is not None:
        columns[SUBJECT] = anon.column(SUBJECT_PSEUDONYM)
    for location, field in zip(policy.locations, config.location_fields, strict=True):
        cells = anon.column(location.cell_column)
        if isinstance(cells, pa.ChunkedArray):
            cells = cells.combine_chunks()
        columns[field] = _parents(cells, config.finest_res)
    for key in config.keys:
        columns[key.name] = anon.column(key.name)
    for measure in config.measures:
        columns[measure.field] = anon.column(measure.field)
    return pa.table(columns)


def rows_table(schema: pa.Schema, windows: Sequence[ClosedWindow]) -> pa.Table:
    """The published rows of closed windows, in the derived aggregate-row schema."""
    rows = [row for window in windows for row in window.rows]
    return pa.Table.from_pylist(rows, schema=schema)
