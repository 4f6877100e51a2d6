"""Raw events to anonymized records for one dataset: the stream's transform, minus Kafka.

``RawProcessor.process`` takes a batch of raw messages and returns what the
agent must send: one anon record per valid event (keyed by the subject's
pseudonym), one dead letter per invalid event (bytes untouched, reason in
headers), and audit events (undeclared fields, batch statistics). It does no
I/O, so the whole path is testable without a broker; ``streams/app.py`` wires it
to topics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from citysieve.clock import Clock, SystemClock
from citysieve.errors import InputValidationError
from citysieve.keys import KeyRing
from citysieve.policy.derive import TierSchemas, tier_schemas
from citysieve.policy.model import SUBJECT_PSEUDONYM, DatasetPolicy
from transforms.anonymize import RecordAnonymizer
from transforms.classify import ValueScanner, classify_undeclared
from transforms.operators import Pseudonymize, build
from transforms.operators.pseudonymize import NORMALIZER_FOR_PII_TYPE
from transforms.validate import BytesDecoder, EventParser

HEADER_REASON = "citysieve.error.reason"
HEADER_DETAIL = "citysieve.error.detail"
HEADER_TOPIC = "citysieve.source.topic"
HEADER_PARTITION = "citysieve.source.partition"
HEADER_OFFSET = "citysieve.source.offset"
HEADER_FAILED_AT = "citysieve.failed_at"

Headers = tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class RawInput:
    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Output:
    key: bytes | None
    value: bytes | None
    headers: Headers = ()


@dataclass
class BatchOutcome:
    anon: list[Output] = field(default_factory=list)
    dead: list[Output] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    pii_found: Counter[str] = field(default_factory=Counter)
    dlq_reasons: Counter[str] = field(default_factory=Counter)


def avro_time_divisors(avro_schema: Mapping[str, Any]) -> dict[str, int]:
    """Fields holding an Avro timestamp, each with what divides microseconds into its unit."""
    divisors = {}
    for spec in avro_schema["fields"]:
        kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        for kind in kinds:
            logical = kind.get("logicalType") if isinstance(kind, dict) else None
            if logical == "timestamp-micros":
                divisors[spec["name"]] = 1
            elif logical == "timestamp-millis":
                divisors[spec["name"]] = 1000
    return divisors


def avro_rows(batch: pa.RecordBatch, time_divisors: Mapping[str, int]) -> list[dict[str, Any]]:
    """The batch's rows as dicts for the Avro encoder, timestamps as integers in Avro's unit.

    Same records as ``batch.to_pylist()``, without building a ``datetime`` per value
    that the encoder would turn straight back into an integer (a third of the encoding
    cost of a structured event).
    """
    names = batch.schema.names
    columns: list[list[Any]] = []
    for name in names:
        column = batch.column(name)
        divisor = time_divisors.get(name)
        if divisor is None or not pa.types.is_timestamp(column.type):
            columns.append(column.to_pylist())
            continue
        micros = column.cast(pa.timestamp("us", tz=column.type.tz)).cast(pa.int64())
        values = micros.to_pylist()
        if divisor != 1:
            values = [None if v is None else v // divisor for v in values]
        columns.append(values)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class SubjectPseudonymizer:
    """The subject's token: the first non-null subject field, pseudonymized with its normalizer.

    Every subject field uses the dataset's key and epoch, so a resident's phone
    gives the same token whether it is the subject or a pseudonymized field.
    """

    def __init__(self, policy: DatasetPolicy, keys: KeyRing) -> None:
        period = policy.pseudonym_epoch
        self.fields: list[tuple[str, Pseudonymize]] = []
        for name in policy.subject:
            source = policy.source_schema.field(name)
            normalizer = NORMALIZER_FOR_PII_TYPE.get((source.pii_type if source else None) or "")
            spec: dict[str, Any] = {
                "operator": "pseudonymize",
                "dataset": policy.dataset,
                "normalizer": normalizer or "text",
                "period": int(period.total_seconds()) if period is not None else "never",
            }
            op = build(spec, keys=keys, field=name)
            assert isinstance(op, Pseudonymize)  # noqa: S101 - the factory maps the name
            self.fields.append((name, op))
        self.time_field = policy.event_time

    def tokens(self, batch: pa.RecordBatch) -> pa.Array:
        times = batch.column(self.time_field)
        result: pa.Array | None = None
        for name, op in self.fields:
            values = batch.column(name)
            tokens = op.operate(values, op.epochs_for(times))
            result = tokens if result is None else pc.coalesce(result, tokens)
        assert result is not None  # noqa: S101 - only built for datasets with a subject
        return result


class RawProcessor:
    """Built once per dataset at start-up; ``process`` is the per-batch hot path."""

    def __init__(
        self,
        policy: DatasetPolicy,
        *,
        keys: KeyRing,
        encode: Callable[[Mapping[str, Any]], bytes],
        avro_input: BytesDecoder | None = None,
        scanner: ValueScanner | None = None,
        clock: Clock | None = None,
        schemas: TierSchemas | None = None,
    ) -> None:
        self.policy = policy
        self.dataset = policy.dataset
        self.schemas = schemas or tier_schemas(policy)
        self.clock = clock or SystemClock()
        self.parser = EventParser(self.schemas.raw_avro, avro=avro_input)
        self.anonymizer = RecordAnonymizer(
            policy.anon_operator_specs(),
            locations={
                loc.cell_column: (loc.lat, loc.lon, loc.resolution) for loc in policy.locations
            },
            keys=keys,
            time_field=policy.event_time,
            dataset=policy.dataset,
            pii_types={f.name: f.pii_type for f in policy.source_schema.fields if f.pii_type},
            pseudonym_period=(
                int(policy.pseudonym_epoch.total_seconds()) if policy.pseudonym_epoch else None
            ),
        )
        self.subject = SubjectPseudonymizer(policy, keys) if policy.has_subject else None
        self.encode = encode
        self.scanner = scanner
        self._reported_undeclared: set[str] = set()
        self._key_field = SUBJECT_PSEUDONYM if policy.has_subject else "event_id"
        self._time_divisors = avro_time_divisors(self.schemas.anon_avro)

    def process(self, batch: Sequence[RawInput]) -> BatchOutcome:
        outcome = BatchOutcome()
        failed_at = self.clock.now().isoformat().encode()
        parsed = self.parser.parse_batch([m.value for m in batch])
        for rejection in parsed.rejections:
            self._dead(
                outcome, batch[rejection.index], rejection.reason, rejection.detail, failed_at
            )
        outcome.audit.extend(self.undeclared_audit(parsed.undeclared))
        if parsed.records:
            try:
                self._anonymize(parsed.records, outcome)
            except Exception:
                # Isolate the record(s) at fault; the rest of the batch goes through.
                for index, record in zip(parsed.indexes, parsed.records, strict=True):
                    try:
                        self._anonymize([record], outcome)
                    except InputValidationError as exc:
                        self._dead(outcome, batch[index], exc.reason, exc.detail, failed_at)
                    except Exception as exc:  # a bug: keep the event, say which kind of error
                        detail = f"{type(exc).__name__} while anonymizing; see worker logs"
                        self._dead(outcome, batch[index], "internal_error", detail, failed_at)
        outcome.audit.append(self._stats(len(batch), outcome))
        return outcome

    def _dead(
        self, outcome: BatchOutcome, source: RawInput, reason: str, detail: str, at: bytes
    ) -> None:
        """A dead letter: the original key and bytes untouched, the reason in headers."""
        headers = (
            (HEADER_REASON, reason.encode()),
            (HEADER_DETAIL, detail.encode()),
            (HEADER_TOPIC, source.topic.encode()),
            (HEADER_PARTITION, str(source.partition).encode()),
            (HEADER_OFFSET, str(source.offset).encode()),
            (HEADER_FAILED_AT, at),
        )
        outcome.dead.append(Output(key=source.key, value=source.value, headers=headers))
        outcome.dlq_reasons[reason] += 1

    def anonymize_records(
        self, records: list[dict[str, Any]]
    ) -> tuple[pa.RecordBatch, dict[str, int]]:
        """Validated records to an anon-tier batch (the derived Arrow schema) and PII counts."""
        raw = pa.RecordBatch.from_pylist(records, schema=self.schemas.raw_arrow)
        result = self.anonymizer.anonymize(raw)
        out = result.batch
        if self.subject is not None:
            out = out.append_column(SUBJECT_PSEUDONYM, self.subject.tokens(raw))
        anon_schema = self.schemas.anon_arrow
        return out.select(anon_schema.names).cast(anon_schema), result.stats.pii_found

    def _anonymize(self, records: list[dict[str, Any]], outcome: BatchOutcome) -> None:
        """Anonymize and encode ``records``; appends to ``outcome`` only if all succeed."""
        out, pii_found = self.anonymize_records(records)
        keys = out.column(self._key_field).to_pylist()
        encoded = [
            Output(key=str(key).encode(), value=self.encode(row))
            for key, row in zip(keys, avro_rows(out, self._time_divisors), strict=True)
        ]
        outcome.anon.extend(encoded)
        outcome.pii_found.update(pii_found)

    def undeclared_audit(self, samples: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
        """Audit each undeclared field once per process; the field never reaches the output."""
        events = []
        for name in sorted(samples.keys() - self._reported_undeclared):
            found = classify_undeclared(self.dataset, name, samples[name], self.scanner)
            event = found.audit_event()
            event["at"] = self.clock.now().isoformat()
            events.append(event)
            self._reported_undeclared.add(name)
        return events

    def _stats(self, events_in: int, outcome: BatchOutcome) -> dict[str, Any]:
        return {
            "type": "batch_processed",
            "at": self.clock.now().isoformat(),
            "dataset": self.dataset,
            "events_in": events_in,
            "anon_out": len(outcome.anon),
            "dlq_out": len(outcome.dead),
            "dlq_reasons": dict(outcome.dlq_reasons),
            "pii_found": dict(outcome.pii_found),
        }
