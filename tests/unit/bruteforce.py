"""A deliberately naive re-implementation of the k-anonymous window semantics.

Written from the specification (docs/windows.md), not from transforms/windows.py:
it keeps every raw event in memory, walks them one at a time, and regroups lists of
events at every roll-up step. Slow and obvious on purpose, so the property tests can
compare the real aggregator's rows with it exactly. It reads only the plain fields of
a WindowConfig (k, window_s, lateness_s, locations, finest_res, coarsest_res, keys'
names and level specs, measures, rollup).

Operations replayed, in order:
* ``("add", [record, ...])``: events, judged late one at a time against the watermark
  before them;
* ``("advance", datetime | None)``: raise the watermark to that time (None: no change);
* ``("close_all", None)``: every window seen so far is closed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import h3

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(when: datetime) -> int:
    return (when - EPOCH) // timedelta(microseconds=1)


@dataclass
class Event:
    index: int  # position in the whole input, for tracking where it went
    window_start: int  # seconds
    subject: str | None
    cells: tuple[str | None, ...]
    keys: tuple[str | None, ...]
    values: dict[str, float | None]


@dataclass
class BruteRow:
    labels: dict[str, Any]  # window, cells, resolutions and keys, as the aggregator names them
    events: list[Event]

    @property
    def subjects(self) -> set[str | None]:
        return {e.subject for e in self.events}


@dataclass
class BruteWindow:
    window_start: int
    on_time: list[Event] = field(default_factory=list)
    late: int = 0
    rows: list[BruteRow] = field(default_factory=list)
    suppressed: list[Event] = field(default_factory=list)
    suppressed_groups: int = 0

    @property
    def events_in(self) -> int:
        return len(self.on_time) + self.late


def _level(spec: Any, value: str | None, top: set[str] | None = None) -> str | None:
    if spec == "*":
        return "*"
    if isinstance(spec, str) and spec.startswith("top:"):
        other = spec.split(":", 2)[2] if spec.count(":") == 2 else "other"
        assert top is not None
        if value is None:
            return None
        return value if value in top else other
    if isinstance(spec, str) and spec.startswith("prefix:"):
        n = int(spec.split(":")[1])
        if value is None:
            return None
        return value if len(value) <= n else value[:n] + "*"
    if isinstance(spec, Mapping):
        if value is None:
            return None
        return str(spec[value]) if value in spec else "*"
    return spec(value)


def _ladder(config: Any) -> list[tuple[int | None, list[int]]]:
    """Every roll-up step as (H3 resolution, level per key)."""
    n_keys = len(config.keys)
    if config.locations:
        resolutions: list[int | None] = list(range(config.finest_res, config.coarsest_res - 1, -1))
    else:
        resolutions = [None]
    steps: list[tuple[int | None, list[int]]] = [(r, [0] * n_keys) for r in resolutions]
    levels = [0] * n_keys
    for j, key in enumerate(config.keys):
        specs = list(key.levels)
        if specs[-1] != "*":
            specs.append("*")
        for level in range(1, len(specs) + 1):
            levels[j] = level
            steps.append((resolutions[-1], list(levels)))
    if config.k is None or not config.rollup:
        return steps[:1]
    return steps


def _specs(key: Any) -> list[Any]:
    specs = list(key.levels)
    if specs[-1] != "*":
        specs.append("*")
    return specs


def _top_values(config: Any, events: list[Event]) -> dict[str, set[str]]:
    """Per key name: the most frequent values of the window (for ``top:N`` levels)."""
    out: dict[str, set[str]] = {}
    for j, key in enumerate(config.keys):
        for spec in _specs(key):
            if isinstance(spec, str) and spec.startswith("top:"):
                n = int(spec.split(":")[1])
                counts: dict[str, int] = {}
                for e in events:
                    value = e.keys[j]
                    if value is not None:
                        counts[value] = counts.get(value, 0) + 1
                ranked = sorted(counts, key=lambda v: (-counts[v], v))
                out[key.name] = set(ranked[:n])
    return out


def _labels(
    config: Any, event: Event, step: tuple[int | None, list[int]], top: dict[str, set[str]]
) -> dict[str, Any]:
    resolution, levels = step
    labels: dict[str, Any] = {
        "window_start": EPOCH + timedelta(seconds=event.window_start),
        "window_end": EPOCH + timedelta(seconds=event.window_start + config.window_s),
    }
    single = len(config.locations) == 1
    for name, cell in zip(config.locations, event.cells, strict=True):
        cell_col = "h3_cell" if single else f"{name}_h3_cell"
        res_col = "h3_resolution" if single else f"{name}_h3_resolution"
        if cell is None:
            labels[cell_col], labels[res_col] = None, None
        else:
            assert resolution is not None
            parent = (
                cell if resolution == config.finest_res else h3.cell_to_parent(cell, resolution)
            )
            labels[cell_col], labels[res_col] = parent, resolution
    for key, value, level in zip(config.keys, event.keys, levels, strict=True):
        if level == 0:
            labels[key.name] = value
        else:
            labels[key.name] = _level(_specs(key)[level - 1], value, top.get(key.name))
    return labels


def replay(config: Any, ops: Sequence[tuple[str, Any]]) -> dict[int, BruteWindow]:
    """Every window touched by the input, keyed by its start in epoch seconds."""
    windows: dict[int, BruteWindow] = {}
    watermark: int | None = None
    forced_before: int | None = None
    index = 0
    for op, arg in ops:
        if op == "add":
            for record in arg:
                t = micros(record["event_time"])
                start = (t // (config.window_s * 1_000_000)) * config.window_s
                window = windows.setdefault(start, BruteWindow(start))
                end_plus_lateness = (start + config.window_s + config.lateness_s) * 1_000_000
                is_late = watermark is not None and end_plus_lateness <= watermark
                if forced_before is not None and start < forced_before:
                    is_late = True
                if is_late:
                    window.late += 1
                else:
                    window.on_time.append(
                        Event(
                            index=index,
                            window_start=start,
                            subject=record["subject"] if config.k is not None else None,
                            cells=tuple(record[f"{n}_h3"] for n in config.locations),
                            keys=tuple(
                                None if record[k.name] is None else str(record[k.name])
                                for k in config.keys
                            ),
                            values={m.field: record[m.field] for m in config.measures},
                        )
                    )
                index += 1
                watermark = t if watermark is None else max(watermark, t)
        elif op == "advance":
            if arg is not None:
                watermark = micros(arg) if watermark is None else max(watermark, micros(arg))
        elif op == "close_all":
            if windows:
                forced_before = max(windows) + config.window_s
        elif op not in ("save", "mirror"):  # saving and restoring state changes nothing
            raise ValueError(op)
    for window in windows.values():
        _roll_up(config, window)
    return windows


def _roll_up(config: Any, window: BruteWindow) -> None:
    remaining = list(window.on_time)
    top = _top_values(config, window.on_time)
    below = 0
    for step in _ladder(config):
        groups: dict[tuple[Any, ...], list[Event]] = {}
        label_of: dict[tuple[Any, ...], dict[str, Any]] = {}
        for event in remaining:
            labels = _labels(config, event, step, top)
            ident = tuple(sorted(labels.items(), key=lambda kv: kv[0]))
            groups.setdefault(ident, []).append(event)
            label_of[ident] = labels
        remaining = []
        below = 0
        for ident, events in groups.items():
            subjects = {e.subject for e in events}
            if config.k is None or len(subjects) >= config.k:
                window.rows.append(BruteRow(label_of[ident], events))
            else:
                below += 1
                remaining.extend(events)
    window.suppressed = remaining
    window.suppressed_groups = below if remaining else 0


def measure_values(row: BruteRow, measure: str) -> list[float]:
    return [e.values[measure] for e in row.events if e.values[measure] is not None]  # type: ignore[misc]


def exact_aggregate(values: list[float], agg: str) -> float | int | None:
    """The exact value of an aggregate (quantiles: lower nearest rank)."""
    if agg == "count":
        return len(values)
    if not values:
        return None
    if agg == "sum":
        return math.fsum(values)
    if agg == "mean":
        return math.fsum(values) / len(values)
    if agg == "min":
        return min(values)
    if agg == "max":
        return max(values)
    q = int(agg[1:]) / 100.0
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]
