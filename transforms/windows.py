"""k-anonymous tumbling windows: the pure core of the public aggregates.

Plain-words description for users: ``docs/windows.md``. In short:

* Tumbling event-time windows ``[start, start + window_s)`` aligned to the UTC epoch.
  The watermark is the largest event time seen (or given to :meth:`advance`); it
  never goes back. A window is *closed* once ``watermark >= end + lateness_s``.
* An event whose window was already closed when it arrived is *late*: it is not
  aggregated, only counted (see "Late events" below). Nothing is dropped silently.
* Groups: window x the H3 cell of every location group at ``finest_res`` x every other
  key at ladder level 0. A group is published only with at least ``k`` distinct
  subjects (never events). Below ``k`` it rolls up: the H3 cells (all location groups
  together) are coarsened one resolution at a time down to ``coarsest_res``, then the
  other keys one level at a time, in config order, each to ``"*"``. At each step
  only the *residual* (events of groups not yet published) is regrouped, so the
  published rows of a window are disjoint. What is below ``k`` at the last step is
  suppressed and counted.
* ``k=None``: the dataset has no subject; every group is published at the finest level.

Late events. A late event is counted against the window it belongs to, exactly once:

* if that window has not been emitted yet (it closed after the last
  :meth:`~WindowAggregator.advance`), the count rides with its :class:`ClosedWindow`
  (``stats.late_events``, included in ``stats.events_in``);
* if the window was already emitted, :meth:`~WindowAggregator.add` returns it as a
  :class:`LateEvents` item (the late stream: send it to the audit topic).

So for every window: ``published + suppressed + late == events_in`` within a
ClosedWindow, and the window's total is ``ClosedWindow.stats.events_in`` plus the
``LateEvents`` reported for it afterwards.

State. Per (window start, finest group key) the aggregator keeps a :class:`GroupEntry`:
event count, the set of subject pseudonyms, and per measure a mergeable running
aggregate (count, sum, min, max and a :class:`~transforms.sketch.QuantileSketch` when a
quantile is asked for); never raw values. :meth:`WindowAggregator.to_dict` /
:meth:`WindowAggregator.from_dict` give the whole state as a flat mapping of
JSON-able dicts, :meth:`WindowAggregator.drain_changes` the entries changed since the
last call (for a Faust table / changelog).

Time is never read from the wall clock here: it comes from the events and from
:meth:`WindowAggregator.advance`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeAlias

import h3
import pyarrow as pa
import pyarrow.compute as pc

from citysieve.errors import ConfigurationError, InputValidationError
from transforms.sketch import QuantileSketch

# --------------------------------------------------------------------------- config

STAR: Final = "*"
EVENT_TIME: Final = "event_time"
SUBJECT: Final = "subject"
META_KEY: Final = "meta"
STATE_VERSION: Final = 1

BASIC_AGGREGATES: Final = ("count", "sum", "mean", "min", "max")
_QUANTILE_RE: Final = re.compile(r"^p([1-9][0-9]?)$")
_NAME_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREFIX_RE: Final = re.compile(r"^prefix:([1-9][0-9]*)$")
_TOP_RE: Final = re.compile(r"^top:([1-9][0-9]*)(?::(.+))?$")
_US: Final = 1_000_000

KeyValue: TypeAlias = str | None
LevelSpec: TypeAlias = str | Mapping[str, str] | Callable[[str | None], str | None]
"""One generalization level of a key.

* ``"*"``: every value (None included) becomes ``"*"``;
* ``"prefix:N"``: the first N characters, then ``"*"`` when something was cut
  (``"10027"`` -> ``"100*"`` with ``prefix:3``);
* ``"top:N"`` or ``"top:N:<other>"``: the N values with the most events in the window
  (all its on-time events; ties broken by value) are kept, every other value becomes
  ``<other>`` (default ``"other"``);
* a mapping table ``{value: coarser value}``; values not in the table become ``"*"``;
* a callable ``f(value) -> coarser value``.

Every level is applied to the level-0 value (the value as it arrives). None (unknown)
stays None at every level except ``"*"``, for ``prefix``, ``top`` and mapping levels.
"""


@dataclass(frozen=True)
class TopN:
    """A ``top:N:<other>`` level: which values it keeps is decided per window."""

    n: int
    other: str

    def kept(self, events_by_value: Mapping[str, int]) -> frozenset[str]:
        """The N values with the most events (ties: the smaller value first)."""
        ranked = sorted(events_by_value.items(), key=lambda item: (-item[1], item[0]))
        return frozenset(value for value, _n in ranked[: self.n])


_Level: TypeAlias = Callable[[KeyValue], KeyValue] | TopN


def _compile_level(spec: LevelSpec, key: str) -> _Level:
    if isinstance(spec, str):
        if spec == STAR:
            return lambda _value: STAR
        top = _TOP_RE.match(spec)
        if top:
            return TopN(int(top.group(1)), top.group(2) or "other")
        match = _PREFIX_RE.match(spec)
        if match:
            n = int(match.group(1))
            return lambda value: (
                None if value is None else value if len(value) <= n else value[:n] + STAR
            )
        raise ConfigurationError(
            f"key '{key}': unknown generalization level '{spec}'; "
            "write '*', 'prefix:N', 'top:N[:other]', a mapping table or a function"
        )
    if isinstance(spec, Mapping):
        table = {str(k): str(v) for k, v in spec.items()}
        return lambda value: None if value is None else table.get(value, STAR)
    if callable(spec):
        return spec
    raise ConfigurationError(
        f"key '{key}': a generalization level must be a string, "
        f"a mapping or a function, got {type(spec).__name__}"
    )


def _describe_level(spec: LevelSpec) -> str:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, Mapping):
        return "map:" + json.dumps({str(k): str(v) for k, v in spec.items()}, sort_keys=True)
    return "fn:" + getattr(spec, "__qualname__", type(spec).__name__)


@dataclass(frozen=True)
class KeyLadder:
    """A quasi-identifier other than location, with its generalization ladder.

    ``levels`` are levels 1..n (level 0 is the value as it arrives, already
    generalized upstream). A final ``"*"`` is added when missing, so the last level
    always merges everything. Each level should be coarser than the one before (a
    hierarchy); the k guarantee and disjointness hold either way.
    """

    name: str
    levels: tuple[LevelSpec, ...] = (STAR,)
    _fns: tuple[_Level, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ConfigurationError(f"key name '{self.name}' is not a valid column name")
        levels = tuple(self.levels)
        if not levels or levels[-1] != STAR:
            levels = (*levels, STAR)
        object.__setattr__(self, "levels", levels)
        object.__setattr__(self, "_fns", tuple(_compile_level(spec, self.name) for spec in levels))

    @property
    def depth(self) -> int:
        """The index of the last level (``"*"``)."""
        return len(self.levels)

    def __hash__(self) -> int:
        # Mapping levels are not hashable; hash their canonical description instead.
        return hash((self.name, tuple(_describe_level(spec) for spec in self.levels)))

    def top_level(self, level: int) -> TopN | None:
        """The :class:`TopN` rule of ``level`` if it is a ``top:N`` level."""
        fn = self._fns[level - 1] if level > 0 else None
        return fn if isinstance(fn, TopN) else None

    def generalize(
        self, value: KeyValue, level: int, kept: frozenset[str] | None = None
    ) -> KeyValue:
        """The value at ``level`` (0: as it arrives; ``depth``: ``"*"``).

        ``kept``: for a ``top:N`` level, the values the window keeps (see :meth:`TopN.kept`).
        """
        if level == 0:
            return value
        fn = self._fns[level - 1]
        if isinstance(fn, TopN):
            if kept is None:
                raise ValueError(f"key '{self.name}' level {level} is top:N; pass kept values")
            return None if value is None else value if value in kept else fn.other
        return fn(value)


@dataclass(frozen=True)
class MeasureSpec:
    """A measure field and the aggregates published for it, as ``<field>_<agg>`` columns.

    Aggregates: ``count`` (non-null values), ``sum``, ``mean``, ``min``, ``max`` and
    quantiles ``p1`` .. ``p99`` (from a sketch, within the configured relative accuracy).
    """

    field: str
    aggs: tuple[str, ...] = ("count", "mean", "min", "max")

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.field):
            raise ConfigurationError(f"measure '{self.field}' is not a valid column name")
        object.__setattr__(self, "aggs", tuple(self.aggs))
        if not self.aggs:
            raise ConfigurationError(f"measure '{self.field}': list at least one aggregate")
        for agg in self.aggs:
            if agg not in BASIC_AGGREGATES and not _QUANTILE_RE.match(agg):
                raise ConfigurationError(
                    f"measure '{self.field}': unknown aggregate '{agg}'; "
                    f"use {', '.join(BASIC_AGGREGATES)} or p1..p99"
                )
        if len(set(self.aggs)) != len(self.aggs):
            raise ConfigurationError(f"measure '{self.field}': an aggregate is listed twice")

    @property
    def quantiles(self) -> tuple[tuple[str, float], ...]:
        """``(agg name, q)`` for each quantile aggregate."""
        out = []
        for agg in self.aggs:
            match = _QUANTILE_RE.match(agg)
            if match:
                out.append((agg, int(match.group(1)) / 100.0))
        return tuple(out)


@dataclass(frozen=True)
class LadderStep:
    """One roll-up step: the H3 resolution (None without location groups) and key levels."""

    resolution: int | None
    levels: tuple[int, ...]


@dataclass(frozen=True)
class WindowConfig:
    """How one dataset is windowed, grouped and rolled up. Built once, reused.

    * ``k``: minimum distinct subjects per published row; None: no subject, no k rule.
    * ``window_s`` / ``lateness_s``: window size and allowed lateness, in seconds.
    * ``locations``: names of the location groups; each record carries ``<name>_h3``,
      an H3 cell at ``finest_res`` (or None when unknown).
    * ``finest_res`` / ``coarsest_res``: the H3 roll-up range (inclusive).
    * ``keys``: other quasi-identifiers with their ladders, coarsened in this order.
    * ``measures``: aggregated fields.
    * ``rollup``: False suppresses every group below k at the finest level.
    * ``quantile_accuracy``: relative accuracy of quantile aggregates.
    """

    k: int | None
    window_s: int
    lateness_s: int = 0
    locations: tuple[str, ...] = ("location",)
    finest_res: int = 9
    coarsest_res: int = 7
    keys: tuple[KeyLadder, ...] = ()
    measures: tuple[MeasureSpec, ...] = ()
    rollup: bool = True
    quantile_accuracy: float = 0.01

    def __post_init__(self) -> None:
        for name in ("locations", "keys", "measures"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.k is not None and (
            isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1
        ):
            raise ConfigurationError(f"k must be a whole number >= 1 or None, got {self.k!r}")
        if isinstance(self.window_s, bool) or not isinstance(self.window_s, int):
            raise ConfigurationError("window_s must be a whole number of seconds")
        if self.window_s <= 0:
            raise ConfigurationError(f"window_s must be positive, got {self.window_s}")
        if not isinstance(self.lateness_s, int) or self.lateness_s < 0:
            raise ConfigurationError(
                f"lateness_s must be a whole number >= 0, got {self.lateness_s!r}"
            )
        if not 0 <= self.coarsest_res <= self.finest_res <= 15:
            raise ConfigurationError(
                "H3 resolutions must satisfy 0 <= coarsest_res <= finest_res <= 15, got "
                f"coarsest_res={self.coarsest_res}, finest_res={self.finest_res}"
            )
        if not 0.0 < self.quantile_accuracy < 0.5:
            raise ConfigurationError("quantile_accuracy must be between 0 and 0.5")
        for name in self.locations:
            if not _NAME_RE.match(name):
                raise ConfigurationError(f"location group '{name}' is not a valid column name")
        for key in self.keys:
            if not isinstance(key, KeyLadder):
                raise ConfigurationError("keys must be KeyLadder instances")
        for measure in self.measures:
            if not isinstance(measure, MeasureSpec):
                raise ConfigurationError("measures must be MeasureSpec instances")
        inputs = [
            *self.location_fields,
            *(key.name for key in self.keys),
            *(m.field for m in self.measures),
        ]
        dupes = sorted({n for n in inputs if inputs.count(n) > 1})
        if dupes or len(set(self.locations)) != len(self.locations):
            raise ConfigurationError(
                f"a field is used twice in the window config: {', '.join(dupes) or 'location'}"
            )
        outputs = self.output_columns
        clashes = sorted({n for n in outputs if outputs.count(n) > 1})
        if clashes:
            raise ConfigurationError(
                f"output columns clash: {', '.join(clashes)}; rename a key or measure"
            )
        taken = {EVENT_TIME, SUBJECT}
        bad = sorted(taken.intersection(inputs))
        if bad:
            raise ConfigurationError(f"'{bad[0]}' is reserved and cannot be a key or measure")

    # -- derived -------------------------------------------------------------------

    @property
    def location_fields(self) -> tuple[str, ...]:
        """Input field per location group: ``<name>_h3``."""
        return tuple(f"{name}_h3" for name in self.locations)

    @property
    def location_columns(self) -> tuple[tuple[str, str], ...]:
        """Output (cell, resolution) columns per location group.

        One group: ``h3_cell``/``h3_resolution``; several:
        ``<name>_h3_cell``/``<name>_h3_resolution``.
        """
        if len(self.locations) == 1:
            return (("h3_cell", "h3_resolution"),)
        return tuple((f"{n}_h3_cell", f"{n}_h3_resolution") for n in self.locations)

    @property
    def output_columns(self) -> list[str]:
        """Every column of a published row, in order."""
        cols = ["window_start", "window_end"]
        for cell, res in self.location_columns:
            cols += [cell, res]
        cols += [key.name for key in self.keys]
        cols.append("events")
        if self.k is not None:
            cols.append("subjects")
        for m in self.measures:
            cols += [f"{m.field}_{agg}" for agg in m.aggs]
        return cols

    @property
    def steps(self) -> tuple[LadderStep, ...]:
        """The roll-up ladder, finest first (only the first step when ``rollup`` is off)."""
        zeros = tuple(0 for _ in self.keys)
        if self.locations:
            steps = [
                LadderStep(res, zeros) for res in range(self.finest_res, self.coarsest_res - 1, -1)
            ]
        else:
            steps = [LadderStep(None, zeros)]
        last = steps[-1].resolution
        levels = list(zeros)
        for j, key in enumerate(self.keys):
            for level in range(1, key.depth + 1):
                levels[j] = level
                steps.append(LadderStep(last, tuple(levels)))
        if not self.rollup or self.k is None:
            return (steps[0],)
        return tuple(steps)

    def fingerprint(self) -> str:
        """Identifies the state layout; restoring state under another one is refused."""
        layout = {
            "version": STATE_VERSION,
            "k": self.k,
            "window_s": self.window_s,
            "locations": list(self.locations),
            "finest_res": self.finest_res,
            "keys": [key.name for key in self.keys],
            "measures": [[m.field, list(m.aggs)] for m in self.measures],
            "quantile_accuracy": self.quantile_accuracy,
        }
        text = json.dumps(layout, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe_generalization(self) -> dict[str, Any]:
        """The ladder in plain data (for ``datapackage.json`` and the notice)."""
        return {
            "h3": {"finest_res": self.finest_res, "coarsest_res": self.coarsest_res}
            if self.locations
            else None,
            "keys": {key.name: [_describe_level(s) for s in key.levels] for key in self.keys},
            "rollup": self.rollup,
        }


# --------------------------------------------------------------------------- state


@dataclass
class RunningAggregate:
    """Mergeable summary of one measure in one group: never the values themselves."""

    count: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    sketch: QuantileSketch | None = None

    def merge(self, other: RunningAggregate) -> None:
        self.count += other.count
        self.sum += other.sum
        if other.min is not None:
            self.min = other.min if self.min is None else min(self.min, other.min)
        if other.max is not None:
            self.max = other.max if self.max is None else max(self.max, other.max)
        if other.sketch is not None:
            if self.sketch is None:
                self.sketch = other.sketch.copy()
            else:
                self.sketch.merge(other.sketch)

    def copy(self) -> RunningAggregate:
        twin = RunningAggregate(self.count, self.sum, self.min, self.max)
        twin.sketch = self.sketch.copy() if self.sketch is not None else None
        return twin

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "count": self.count,
            "sum": self.sum,
            "min": self.min,
            "max": self.max,
        }
        if self.sketch is not None:
            out["sketch"] = self.sketch.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunningAggregate:
        sketch = data.get("sketch")
        return cls(
            count=int(data["count"]),
            sum=float(data["sum"]),
            min=None if data.get("min") is None else float(data["min"]),
            max=None if data.get("max") is None else float(data["max"]),
            sketch=None if sketch is None else QuantileSketch.from_dict(sketch),
        )


@dataclass
class GroupEntry:
    """State of one (window, finest group): events, subject pseudonyms, running aggregates."""

    events: int = 0
    subjects: set[str] = field(default_factory=set)
    measures: dict[str, RunningAggregate] = field(default_factory=dict)

    def merge(self, other: GroupEntry) -> None:
        self.events += other.events
        self.subjects |= other.subjects
        for name, agg in other.measures.items():
            mine = self.measures.get(name)
            if mine is None:
                self.measures[name] = agg.copy()
            else:
                mine.merge(agg)

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "subjects": sorted(self.subjects),
            "measures": {name: agg.to_dict() for name, agg in sorted(self.measures.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupEntry:
        return cls(
            events=int(data["events"]),
            subjects={str(s) for s in data.get("subjects", ())},
            measures={
                str(name): RunningAggregate.from_dict(agg)
                for name, agg in data.get("measures", {}).items()
            },
        )


GroupKey: TypeAlias = tuple[KeyValue, ...]
"""Finest group key: one H3 cell per location group, then one value per other key."""


def entry_key(window_start_s: int, key: GroupKey) -> str:
    """The state key of a group entry: a JSON array ``[window_start_s, cells..., keys...]``."""
    return json.dumps([window_start_s, *key], separators=(",", ":"), ensure_ascii=False)


def parse_entry_key(text: str) -> tuple[int, GroupKey]:
    parts = json.loads(text)
    return int(parts[0]), tuple(parts[1:])


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class WindowStats:
    """What happened to a window's events (every event counted once)."""

    events_in: int
    published_events: int
    suppressed_events: int
    suppressed_groups: int
    late_events: int
    rows: int

    def to_dict(self) -> dict[str, int]:
        return {
            "events_in": self.events_in,
            "published_events": self.published_events,
            "suppressed_events": self.suppressed_events,
            "suppressed_groups": self.suppressed_groups,
            "late_events": self.late_events,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class ClosedWindow:
    """One emitted window: its published rows (disjoint, each >= k subjects) and stats.

    Rows are dicts keyed by :attr:`WindowConfig.output_columns`, ordered by ladder step
    (finest first) then by key, so the same input always gives the same rows in the
    same order. ``rows`` may be empty (everything suppressed, or only late events).
    """

    window_start: datetime
    window_end: datetime
    rows: tuple[dict[str, Any], ...]
    stats: WindowStats


@dataclass(frozen=True)
class LateEvents:
    """Late events for a window that was already emitted (the late stream)."""

    window_start: datetime
    window_end: datetime
    events: int


# --------------------------------------------------------------------------- input


Records: TypeAlias = Iterable[Mapping[str, Any]] | pa.Table | pa.RecordBatch


def _to_us(value: datetime, what: str) -> int:
    if not isinstance(value, datetime):
        raise InputValidationError(
            "bad_event_time", f"{what} must be a datetime, got {type(value).__name__}"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputValidationError(
            "naive_event_time", f"{what} has no timezone; give times in UTC (tz-aware)"
        )
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _from_s(seconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _first_index(mask: pa.Array) -> int:
    return int(pc.index(mask, True).as_py())


def _column_from_records(rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    try:
        return [row[name] for row in rows]
    except KeyError:
        index = next(i for i, row in enumerate(rows) if name not in row)
        raise InputValidationError(
            "missing_field", f"record {index} has no field '{name}'"
        ) from None


# --------------------------------------------------------------------------- aggregator


class WindowAggregator:
    """Tumbling-window k-anonymous aggregation; see the module docstring for semantics."""

    def __init__(self, config: WindowConfig) -> None:
        self.config = config
        self._window_us = config.window_s * _US
        self._close_us = (config.window_s + config.lateness_s) * _US
        self._steps = config.steps
        self._sketched = {m.field for m in config.measures if m.quantiles}
        self._fingerprint = config.fingerprint()
        # State.
        self._windows: dict[int, dict[GroupKey, GroupEntry]] = {}
        self._pending_late: dict[int, int] = {}
        self._watermark_us: int | None = None
        self._forced_before_s: int | None = None  # close_all(): windows before this are closed
        self._emitted_before_s: int | None = None  # every window before this was emitted
        # Change tracking for drain_changes().
        self._dirty: set[tuple[int, GroupKey]] = set()
        self._deleted: set[tuple[int, GroupKey]] = set()
        self._meta_dirty = False

    # -- public --------------------------------------------------------------------

    @property
    def watermark(self) -> datetime | None:
        """The largest event time seen or given to :meth:`advance` (None before any)."""
        return None if self._watermark_us is None else _from_us(self._watermark_us)

    def open_windows(self) -> list[datetime]:
        """Starts of windows holding state or pending late counts, oldest first."""
        return [_from_s(s) for s in sorted(set(self._windows) | set(self._pending_late))]

    def add(self, records: Records) -> list[LateEvents]:
        """Aggregate a batch (dict records or an Arrow table/batch), in order.

        The whole batch is validated first; on :class:`InputValidationError` the state is
        unchanged. Returns the late events of this batch whose window was already emitted,
        one item per window (oldest first); late events of windows not emitted yet are
        reported with their :class:`ClosedWindow`.
        """
        table = self._normalize(records)
        if table.num_rows == 0:
            return []
        t = table.column("t").combine_chunks()
        w_us = pc.multiply(self._floor_div(t, self._window_us), self._window_us)
        # The watermark before each event: events are judged in arrival order.
        start = self._watermark_us if self._watermark_us is not None else -(2**62)
        running = pc.cumulative_max(t)
        before = pa.concat_arrays(
            [pa.array([start], pa.int64()), running.slice(0, len(running) - 1)]
        )
        before = pc.max_element_wise(before, pa.scalar(start, pa.int64()))
        late = pc.less_equal(pc.add(w_us, self._close_us), before)
        if self._forced_before_s is not None:
            forced = pc.less(w_us, self._forced_before_s * _US)
            late = pc.or_(late, forced)
        table = table.append_column("w", pc.divide(w_us, _US))
        reported = self._count_late(table.filter(late))
        self._aggregate(table.filter(pc.invert(late)))
        new_wm = int(pc.max(t).as_py())
        if self._watermark_us is None or new_wm > self._watermark_us:
            self._watermark_us = new_wm
            self._meta_dirty = True
        return reported

    def advance(self, watermark: datetime | None = None) -> list[ClosedWindow]:
        """Move the watermark (never back) and emit every closed window, oldest first."""
        if watermark is not None:
            us = _to_us(watermark, "watermark")
            if self._watermark_us is None or us > self._watermark_us:
                self._watermark_us = us
                self._meta_dirty = True
        return self._emit(self._closed_before_s())

    def close_all(self) -> list[ClosedWindow]:
        """End of input: emit every window; later events for them count as late."""
        starts = set(self._windows) | set(self._pending_late)
        if not starts:
            return []
        before = max(starts) + self.config.window_s
        if self._forced_before_s is None or before > self._forced_before_s:
            self._forced_before_s = before
            self._meta_dirty = True
        return self._emit(self._closed_before_s())

    # -- state (de)serialization ---------------------------------------------------

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The whole state as ``{"meta": {...}, entry_key: entry_dict, ...}`` (JSON-able)."""
        out: dict[str, dict[str, Any]] = {META_KEY: self._meta()}
        for ws in sorted(self._windows):
            for key, entry in self._windows[ws].items():
                out[entry_key(ws, key)] = entry.to_dict()
        return out

    @classmethod
    def from_dict(
        cls, config: WindowConfig, state: Mapping[str, Mapping[str, Any]]
    ) -> WindowAggregator:
        """Rebuild from :meth:`to_dict` output, or from a table kept by :meth:`drain_changes`."""
        agg = cls(config)
        meta = state.get(META_KEY)
        if meta is not None:
            if meta.get("config") != agg._fingerprint:
                raise ConfigurationError(
                    "the saved window state was written with a different window configuration "
                    "(k, window, locations, resolution, keys or measures changed); restore the "
                    "previous policy or reset the state (delete the table's changelog topic)"
                )
            agg._watermark_us = meta.get("watermark_us")
            agg._forced_before_s = meta.get("forced_before_s")
            agg._emitted_before_s = meta.get("emitted_before_s")
            agg._pending_late = {int(ws): int(n) for ws, n in meta.get("pending_late", {}).items()}
        for text, data in state.items():
            if text == META_KEY:
                continue
            ws, key = parse_entry_key(text)
            if len(key) != len(config.locations) + len(config.keys):
                raise ConfigurationError(f"state entry {text} does not fit the window config")
            agg._windows.setdefault(ws, {})[key] = GroupEntry.from_dict(data)
        return agg

    def drain_changes(self) -> dict[str, dict[str, Any] | None]:
        """Entries changed since the last call (None: delete the key), plus ``"meta"``.

        Applying every drained mapping in order to a key-value table (put, or delete on
        None) keeps the table equal to :meth:`to_dict`; :meth:`from_dict` rebuilds from it.
        """
        out: dict[str, dict[str, Any] | None] = {}
        for ws, key in sorted(self._deleted, key=_sortable_entry):
            out[entry_key(ws, key)] = None
        for ws, key in sorted(self._dirty, key=_sortable_entry):
            entry = self._windows.get(ws, {}).get(key)
            out[entry_key(ws, key)] = None if entry is None else entry.to_dict()
        if self._meta_dirty or out:
            out[META_KEY] = self._meta()
        self._dirty.clear()
        self._deleted.clear()
        self._meta_dirty = False
        return out

    def meta(self) -> dict[str, Any]:
        """Just the ``"meta"`` entry of :meth:`to_dict` (cheap: no group entries).

        Keys: ``config`` (fingerprint), ``watermark_us``, ``forced_before_s``,
        ``emitted_before_s`` (every window starting before it was emitted) and
        ``pending_late`` (``{window_start_s: count}``).
        """
        return self._meta()

    def _meta(self) -> dict[str, Any]:
        return {
            "config": self._fingerprint,
            "watermark_us": self._watermark_us,
            "forced_before_s": self._forced_before_s,
            "emitted_before_s": self._emitted_before_s,
            "pending_late": {str(ws): n for ws, n in sorted(self._pending_late.items())},
        }

    # -- input ---------------------------------------------------------------------

    def _normalize(self, records: Records) -> pa.Table:
        cfg = self.config
        names: list[tuple[str, str]] = [("t", EVENT_TIME)]
        if cfg.k is not None:
            names.append(("subject", SUBJECT))
        names += [(f"c{i}", f) for i, f in enumerate(cfg.location_fields)]
        names += [(f"k{i}", key.name) for i, key in enumerate(cfg.keys)]
        names += [(f"m{i}", m.field) for i, m in enumerate(cfg.measures)]
        if isinstance(records, pa.RecordBatch):
            records = pa.Table.from_batches([records])
        columns: dict[str, pa.Array | pa.ChunkedArray] = {}
        if isinstance(records, pa.Table):
            for internal, name in names:
                if name not in records.column_names:
                    raise InputValidationError("missing_field", f"the batch has no '{name}' column")
                columns[internal] = records.column(name)
            t = columns["t"]
            if not pa.types.is_timestamp(t.type) or t.type.tz is None:
                raise InputValidationError(
                    "naive_event_time",
                    f"'{EVENT_TIME}' must be a timezone-aware timestamp column, got {t.type}",
                )
            # Finer units are truncated to microseconds.
            columns["t"] = t.cast(pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())
        else:
            rows = records if isinstance(records, Sequence) else list(records)
            for internal, name in names:
                values = _column_from_records(rows, name)
                if internal == "t":
                    columns["t"] = pa.array(
                        [_to_us(v, f"record {i}: {EVENT_TIME}") for i, v in enumerate(values)],
                        pa.int64(),
                    )
                elif internal.startswith("m"):
                    columns[internal] = self._measure_array(values, name)
                else:
                    columns[internal] = pa.array(
                        [None if v is None else str(v) for v in values], pa.string()
                    )
        typed: dict[str, pa.ChunkedArray | pa.Array] = {}
        for (internal, name), col in zip(names, columns.values(), strict=True):
            target = pa.float64() if internal.startswith("m") else pa.string()
            try:
                typed[internal] = col if internal == "t" else col.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InputValidationError(
                    "bad_field_type", f"'{name}' cannot be read as {target}: {exc}"
                ) from None
        table = pa.table(typed)
        self._validate(table)
        return table

    @staticmethod
    def _measure_array(values: list[Any], name: str) -> pa.Array:
        try:
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        except (TypeError, ValueError) as exc:
            raise InputValidationError(
                "bad_measure", f"measure '{name}' holds a value that is not a number: {exc}"
            ) from None

    def _validate(self, table: pa.Table) -> None:
        cfg = self.config
        if table.num_rows == 0:
            return
        if table.column("t").null_count:
            index = _first_index(pc.is_null(table.column("t")))
            raise InputValidationError("missing_event_time", f"record {index} has no event time")
        if cfg.k is not None and table.column("subject").null_count:
            index = _first_index(pc.is_null(table.column("subject")))
            raise InputValidationError(
                "missing_subject",
                f"record {index} has no subject; every event of a dataset with k must carry "
                "its subject pseudonym",
            )
        for i, name in enumerate(cfg.location_fields):
            for cell in pc.unique(table.column(f"c{i}")).to_pylist():
                if cell is None:
                    continue
                if not h3.is_valid_cell(cell) or h3.get_resolution(cell) != cfg.finest_res:
                    raise InputValidationError(
                        "bad_h3_cell",
                        f"'{name}' value {cell!r} is not an H3 cell at resolution "
                        f"{cfg.finest_res}; cells must be computed at the finest resolution",
                    )
        for i, m in enumerate(cfg.measures):
            col = table.column(f"m{i}")
            bad = pc.and_(pc.is_valid(col), pc.invert(pc.is_finite(col)))
            if pc.any(bad).as_py():
                index = _first_index(bad.combine_chunks())
                raise InputValidationError(
                    "non_finite_measure",
                    f"record {index}: measure '{m.field}' is NaN or infinite; send null instead",
                )

    @staticmethod
    def _floor_div(values: pa.Array, divisor: int) -> pa.Array:
        """Floor division of int64 values (Arrow's integer divide truncates toward zero)."""
        q = pc.divide(values, divisor)
        over = pc.greater(pc.multiply(q, divisor), values)
        return pc.if_else(over, pc.subtract(q, 1), q)

    # -- aggregation ---------------------------------------------------------------

    def _group_columns(self) -> list[str]:
        cfg = self.config
        return [f"c{i}" for i in range(len(cfg.locations))] + [
            f"k{i}" for i in range(len(cfg.keys))
        ]

    def _count_late(self, late: pa.Table) -> list[LateEvents]:
        if late.num_rows == 0:
            return []
        counts = late.group_by(["w"], use_threads=False).aggregate([([], "count_all")])
        reported: list[LateEvents] = []
        for ws, n in sorted(
            zip(counts["w"].to_pylist(), counts["count_all"].to_pylist(), strict=True)
        ):
            if self._emitted_before_s is not None and ws < self._emitted_before_s:
                reported.append(LateEvents(_from_s(ws), _from_s(ws + self.config.window_s), int(n)))
            else:
                self._pending_late[ws] = self._pending_late.get(ws, 0) + int(n)
                self._meta_dirty = True
        return reported

    def _aggregate(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        cfg = self.config
        keys = ["w", *self._group_columns()]
        aggs: list[tuple[Any, str]] = [([], "count_all")]
        if cfg.k is not None:
            aggs.append(("subject", "distinct"))
        for i in range(len(cfg.measures)):
            aggs += [(f"m{i}", "count"), (f"m{i}", "sum"), (f"m{i}", "min"), (f"m{i}", "max")]
        grouped = table.group_by(keys, use_threads=False).aggregate(aggs)
        cols = {name: grouped.column(name).to_pylist() for name in grouped.column_names}
        touched: dict[tuple[int, GroupKey], GroupEntry] = {}
        for r in range(grouped.num_rows):
            ws = int(cols["w"][r])
            key: GroupKey = tuple(cols[name][r] for name in keys[1:])
            entry = GroupEntry(events=int(cols["count_all"][r]))
            if cfg.k is not None:
                entry.subjects = set(cols["subject_distinct"][r])
            for i, m in enumerate(cfg.measures):
                count = int(cols[f"m{i}_count"][r])
                entry.measures[m.field] = RunningAggregate(
                    count=count,
                    sum=float(cols[f"m{i}_sum"][r] or 0.0) if count else 0.0,
                    min=cols[f"m{i}_min"][r],
                    max=cols[f"m{i}_max"][r],
                    sketch=(
                        QuantileSketch(cfg.quantile_accuracy) if m.field in self._sketched else None
                    ),
                )
            touched[(ws, key)] = entry
        self._add_sketches(table, keys, touched)
        for (ws, key), entry in touched.items():
            groups = self._windows.setdefault(ws, {})
            existing = groups.get(key)
            if existing is None:
                groups[key] = entry
            else:
                existing.merge(entry)
            self._dirty.add((ws, key))
            self._deleted.discard((ws, key))

    def _add_sketches(
        self,
        table: pa.Table,
        keys: list[str],
        touched: dict[tuple[int, GroupKey], GroupEntry],
    ) -> None:
        """Bucket every quantile measure's values in columns, then count per group and bucket."""
        ln_gamma = QuantileSketch(self.config.quantile_accuracy).ln_gamma
        for i, m in enumerate(self.config.measures):
            if m.field not in self._sketched:
                continue
            values = table.filter(pc.is_valid(table.column(f"m{i}")))
            if values.num_rows == 0:
                continue
            col = values.column(f"m{i}")
            sign = pc.cast(pc.sign(col), pa.int8())
            magnitude = pc.abs(col)
            safe = pc.if_else(pc.equal(magnitude, 0.0), 1.0, magnitude)
            index = pc.cast(pc.ceil(pc.divide(pc.ln(safe), ln_gamma)), pa.int64())
            values = values.append_column("_sign", sign).append_column("_idx", index)
            counts = values.group_by([*keys, "_sign", "_idx"], use_threads=False).aggregate(
                [([], "count_all")]
            )
            cols = {name: counts.column(name).to_pylist() for name in counts.column_names}
            for r in range(counts.num_rows):
                key = tuple(cols[name][r] for name in keys[1:])
                entry = touched[(int(cols["w"][r]), key)]
                sketch = entry.measures[m.field].sketch
                if sketch is not None:
                    sketch.add_bucket(
                        int(cols["_sign"][r]), int(cols["_idx"][r]), int(cols["count_all"][r])
                    )

    # -- closing -------------------------------------------------------------------

    def _closed_before_s(self) -> int | None:
        """Windows starting before this many epoch seconds are closed (None: none yet)."""
        candidates = []
        if self._watermark_us is not None:
            # Closed iff start + window + lateness <= watermark.
            latest = (self._watermark_us - self._close_us) // self._window_us
            candidates.append((latest + 1) * self.config.window_s)
        if self._forced_before_s is not None:
            candidates.append(self._forced_before_s)
        return max(candidates) if candidates else None

    def _emit(self, before_s: int | None) -> list[ClosedWindow]:
        if before_s is None:
            return []
        starts = sorted(s for s in set(self._windows) | set(self._pending_late) if s < before_s)
        out = []
        for ws in starts:
            groups = self._windows.pop(ws, {})
            late = self._pending_late.pop(ws, 0)
            out.append(self._close_window(ws, groups, late))
            for key in groups:
                self._dirty.discard((ws, key))
                self._deleted.add((ws, key))
        if self._emitted_before_s is None or before_s > self._emitted_before_s:
            self._emitted_before_s = before_s
            self._meta_dirty = True
        if starts:
            self._meta_dirty = True
        return out

    def _close_window(
        self, ws: int, groups: Mapping[GroupKey, GroupEntry], late: int
    ) -> ClosedWindow:
        cfg = self.config
        start, end = _from_s(ws), _from_s(ws + cfg.window_s)
        residual: list[tuple[GroupKey, GroupEntry]] = sorted(
            groups.items(), key=lambda item: _sortable(item[0])
        )
        published: list[tuple[int, GroupKey, GroupEntry]] = []
        below_k = 0
        parents: dict[tuple[str, int], str] = {}
        kept = self._top_values(groups)
        for step_index, step in enumerate(self._steps):
            # Regroup only the residual; each member keeps its finest key for the next step.
            buckets: dict[GroupKey, list[tuple[GroupKey, GroupEntry]]] = {}
            for key, entry in residual:
                gkey = self._generalize(key, step, parents, kept)
                buckets.setdefault(gkey, []).append((key, entry))
            residual = []
            below_k = 0
            for gkey, members in buckets.items():
                subjects: set[str] = set().union(*(entry.subjects for _key, entry in members))
                if cfg.k is None or len(subjects) >= cfg.k:
                    merged = GroupEntry()
                    for _key, entry in members:
                        merged.merge(entry)
                    published.append((step_index, gkey, merged))
                else:
                    below_k += 1
                    residual.extend(members)
            if not residual:
                break
        published.sort(key=lambda item: (item[0], _sortable(item[1])))
        rows = tuple(
            self._row(start, end, self._steps[step_index], gkey, entry)
            for step_index, gkey, entry in published
        )
        published_events = sum(entry.events for _s, _g, entry in published)
        suppressed_events = sum(entry.events for _k, entry in residual)
        stats = WindowStats(
            events_in=published_events + suppressed_events + late,
            published_events=published_events,
            suppressed_events=suppressed_events,
            suppressed_groups=below_k if residual else 0,
            late_events=late,
            rows=len(rows),
        )
        return ClosedWindow(start, end, rows, stats)

    def _top_values(
        self, groups: Mapping[GroupKey, GroupEntry]
    ) -> dict[tuple[int, int], frozenset[str]]:
        """For every ``top:N`` level (key index, level): the values this window keeps."""
        n_loc = len(self.config.locations)
        kept: dict[tuple[int, int], frozenset[str]] = {}
        for j, ladder in enumerate(self.config.keys):
            rules = [(lv, ladder.top_level(lv)) for lv in range(1, ladder.depth + 1)]
            if not any(rule for _lv, rule in rules):
                continue
            events: dict[str, int] = {}
            for key, entry in groups.items():
                value = key[n_loc + j]
                if value is not None:
                    events[value] = events.get(value, 0) + entry.events
            for level, rule in rules:
                if rule is not None:
                    kept[(j, level)] = rule.kept(events)
        return kept

    def _generalize(
        self,
        key: GroupKey,
        step: LadderStep,
        parents: dict[tuple[str, int], str],
        kept: Mapping[tuple[int, int], frozenset[str]],
    ) -> GroupKey:
        n_loc = len(self.config.locations)
        out: list[KeyValue] = []
        for cell in key[:n_loc]:
            if cell is None or step.resolution is None or step.resolution == self.config.finest_res:
                out.append(cell)
                continue
            memo = (cell, step.resolution)
            parent = parents.get(memo)
            if parent is None:
                parent = str(h3.cell_to_parent(cell, step.resolution))
                parents[memo] = parent
            out.append(parent)
        for j, (ladder, value, level) in enumerate(
            zip(self.config.keys, key[n_loc:], step.levels, strict=True)
        ):
            out.append(ladder.generalize(value, level, kept.get((j, level))))
        return tuple(out)

    def _row(
        self,
        start: datetime,
        end: datetime,
        step: LadderStep,
        gkey: GroupKey,
        entry: GroupEntry,
    ) -> dict[str, Any]:
        cfg = self.config
        row: dict[str, Any] = {"window_start": start, "window_end": end}
        n_loc = len(cfg.locations)
        for (cell_col, res_col), cell in zip(cfg.location_columns, gkey[:n_loc], strict=True):
            row[cell_col] = cell
            row[res_col] = None if cell is None else step.resolution
        for ladder, value in zip(cfg.keys, gkey[n_loc:], strict=True):
            row[ladder.name] = value
        row["events"] = entry.events
        if cfg.k is not None:
            row["subjects"] = len(entry.subjects)
        for m in cfg.measures:
            agg = entry.measures.get(m.field, RunningAggregate())
            quantiles = dict(m.quantiles)
            for name in m.aggs:
                row[f"{m.field}_{name}"] = _aggregate_value(agg, name, quantiles.get(name))
        return row


def _aggregate_value(agg: RunningAggregate, name: str, q: float | None) -> float | int | None:
    if name == "count":
        return agg.count
    if agg.count == 0:
        return None
    if name == "sum":
        return agg.sum
    if name == "mean":
        return agg.sum / agg.count
    if name == "min":
        return agg.min
    if name == "max":
        return agg.max
    if q is not None and agg.sketch is not None:
        return agg.sketch.quantile(q)
    return math.nan  # pragma: no cover - config validation rules this out


def _sortable(key: GroupKey) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, v or "") for v in key)


def _sortable_entry(item: tuple[int, GroupKey]) -> tuple[int, tuple[tuple[bool, str], ...]]:
    return item[0], _sortable(item[1])
