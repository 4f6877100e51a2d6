"""Record anonymization: a plan of operators applied to a whole batch, column by column.

Built once per dataset from the policy's plan::

    anonymizer = RecordAnonymizer(
        {"mac": {"operator": "pseudonymize", "normalizer": "mac", "period": "1d"},
         "observed_at": {"operator": "generalize", "kind": "time_bucket", "size": "15m"},
         "rssi": {"operator": "keep"}},
        locations={"h3_cell": ("lat", "lon", 9)},
        keys=KeyRing.from_env(),
        time_field="observed_at",
        dataset="wifi_presence",
    )
    result = anonymizer.anonymize(batch)   # result.batch, result.stats

Fail-closed: a field that is neither in the plan nor used by a location group
does not reach the output (its name is listed in the stats). Fields with a
declared role go through their operator only; only ``presidio`` fields meet NLP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from citysieve.errors import ConfigurationError, PolicyError
from citysieve.keys import KeyRing
from transforms.operators import GeneralizeH3, Operator, PresidioRedact, Pseudonymize, build
from transforms.operators.h3_cell import H3Config
from transforms.operators.pseudonymize import NORMALIZER_FOR_PII_TYPE


@dataclass(frozen=True, slots=True)
class BatchStats:
    """What one batch went through: counts and field names, never values."""

    rows: int
    pii_found: dict[str, int] = field(default_factory=dict)
    fields_transformed: dict[str, str] = field(default_factory=dict)
    fields_dropped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "pii_found": dict(self.pii_found),
            "fields_transformed": dict(self.fields_transformed),
            "fields_dropped": list(self.fields_dropped),
        }


@dataclass(frozen=True, slots=True)
class AnonymizedBatch:
    batch: pa.RecordBatch
    stats: BatchStats


@dataclass(frozen=True, slots=True)
class _LocationGroup:
    output: str
    lat: str
    lon: str
    operator: GeneralizeH3


class RecordAnonymizer:
    """Applies a plan ``{field: operator spec}`` (+ location groups) to record batches.

    ``pii_types`` names the PII type of structured fields (``{"mac": "MAC_ADDRESS"}``);
    their non-null values are counted under that type in ``stats.pii_found``,
    next to the entities the ``presidio`` operator finds in free text.
    ``dataset`` and ``pseudonym_period`` (the policy's ``pseudonym_epoch``) are
    given to ``pseudonymize`` specs that do not name their own, and so is the
    normalizer that the field's PII type implies (MAC_ADDRESS: ``mac``, ...).
    ``output_schema``, when given (derived once from the Avro schema), is what
    every output batch is cast to.
    """

    def __init__(
        self,
        plan: Mapping[str, Mapping[str, Any]],
        *,
        locations: Mapping[str, tuple[str, str, int]] | None = None,
        keys: KeyRing | None = None,
        time_field: str | None = None,
        dataset: str | None = None,
        pii_types: Mapping[str, str] | None = None,
        pseudonym_period: int | str | None = None,
        output_schema: pa.Schema | None = None,
    ) -> None:
        self.time_field = time_field
        self.pii_types = dict(pii_types or {})
        self.output_schema = output_schema
        self.operators: dict[str, Operator[Any]] = {}
        for name, spec in plan.items():
            if spec.get("operator") == "pseudonymize":
                spec = self._pseudonym_defaults(name, spec, dataset, pseudonym_period)
            self.operators[name] = build(spec, keys=keys, field=name)
        self.locations = [
            _LocationGroup(output, lat, lon, GeneralizeH3(self._h3_config(output, resolution)))
            for output, (lat, lon, resolution) in (locations or {}).items()
        ]
        self._check_epochs()

    def _pseudonym_defaults(
        self,
        name: str,
        spec: Mapping[str, Any],
        dataset: str | None,
        period: int | str | None,
    ) -> Mapping[str, Any]:
        """Fill in what a policy says once per dataset: dataset, epoch period, normalizer."""
        filled = dict(spec)
        if dataset is not None:
            filled.setdefault("dataset", dataset)
        if period is not None:
            filled.setdefault("period", period)
        normalizer = NORMALIZER_FOR_PII_TYPE.get(self.pii_types.get(name, ""))
        if normalizer is not None:
            filled.setdefault("normalizer", normalizer)
        return filled

    @staticmethod
    def _h3_config(output: str, resolution: int) -> H3Config:
        if not isinstance(resolution, int) or not 0 <= resolution <= 15:
            raise PolicyError(f"H3 resolution must be 0..15 (got {resolution!r})", field=output)
        return H3Config(resolution=resolution)

    def _check_epochs(self) -> None:
        rotating = [
            name
            for name, op in self.operators.items()
            if isinstance(op, Pseudonymize) and op.config.period_seconds is not None
        ]
        if rotating and self.time_field is None:
            raise ConfigurationError(
                f"fields {rotating} are pseudonymized with rotating keys: give time_field, "
                "the event-time field that picks the key epoch"
            )

    # --- hot path ------------------------------------------------------------
    def anonymize(self, records: pa.RecordBatch | Sequence[Mapping[str, Any]]) -> AnonymizedBatch:
        """A new batch with every planned column transformed, and the batch's stats."""
        batch = self._as_batch(records)
        rows = batch.num_rows
        found: Counter[str] = Counter()
        names: list[str] = []
        columns: list[pa.Array] = []
        transformed: dict[str, str] = {}
        event_times = self._column(batch, self.time_field) if self.time_field else None

        for name, op in self.operators.items():
            values = self._column(batch, name)
            if name in self.pii_types:  # counted whatever the operator: dropped PII is PII found
                found[self.pii_types[name]] += len(values) - values.null_count
            if op.removes_field:
                transformed[name] = op.name
                continue
            if isinstance(op, PresidioRedact):
                column, counts = op.operate_with_counts(values)
                found.update(counts)
            elif isinstance(op, Pseudonymize):
                epochs = op.epochs_for(event_times) if event_times is not None else None
                column = op.operate(values, epochs)
            else:
                column = op.operate(values)
            names.append(name)
            columns.append(column)
            transformed[name] = op.name

        for group in self.locations:
            lat, lon = self._column(batch, group.lat), self._column(batch, group.lon)
            names.append(group.output)
            columns.append(group.operator.operate_pair(lat, lon))
            transformed[group.output] = f"h3(res {group.operator.config.resolution})"

        used = (
            set(self.operators) | {g.lat for g in self.locations} | {g.lon for g in self.locations}
        )
        dropped = tuple(n for n in batch.schema.names if n not in used)
        out = pa.RecordBatch.from_arrays(columns, names=names)
        if self.output_schema is not None:
            out = out.select(self.output_schema.names).cast(self.output_schema)
        stats = BatchStats(rows, dict(found), transformed, dropped)
        return AnonymizedBatch(out, stats)

    @staticmethod
    def _as_batch(records: pa.RecordBatch | Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
        if isinstance(records, pa.RecordBatch):
            return records
        # Convenience for tests and backfills; the stream hands in typed batches.
        return pa.RecordBatch.from_pylist(list(records))

    @staticmethod
    def _column(batch: pa.RecordBatch, name: str) -> pa.Array:
        """The named column; all nulls when no record in the batch carries the field."""
        index = batch.schema.get_field_index(name)
        if index < 0:
            return pa.nulls(batch.num_rows)
        return batch.column(index)
