"""The stream's transforms on a file: per-event anon records and k-anonymous aggregates.

Same code path as the workers (parser, classifier, anonymizer, window aggregator,
Parquet sink), fed from a file in chunks so memory stays bounded:

* ``<out>/anon/<dataset>/date=YYYY-MM-DD/lines-<first>-<last>.parquet``: anon records,
  one file per input chunk and UTC date of the event time;
* ``<out>/public/<dataset>/date=YYYY-MM-DD/<window>-...parquet``: one file per window;
* both with ``datapackage.json``; rejected input in ``<out>/dlq/<dataset>.jsonl``
  (the original line or row, with the reason), never dropped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from citysieve.errors import InputValidationError
from citysieve.keys import KeyRing
from citysieve.policy.derive import TierSchemas, tier_schemas
from citysieve.policy.model import DatasetPolicy
from connectors.sink import (
    Destination,
    datapackage_descriptor,
    parquet_bytes,
    write_datapackage,
    write_window,
)
from connectors.sources import Chunk, Format, read_chunks
from transforms.open_tier import window_config, window_input
from transforms.pipeline import RawProcessor
from transforms.validate import ParseResult
from transforms.windows import ClosedWindow, WindowAggregator, WindowConfig


@dataclass
class BackfillReport:
    events_in: int = 0
    anon_records: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    pii_found: Counter[str] = field(default_factory=Counter)
    windows: int = 0
    rows_published: int = 0
    events_published: int = 0
    events_suppressed: int = 0
    groups_suppressed: int = 0
    events_late: int = 0
    files: list[str] = field(default_factory=list)
    undeclared: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "files"}
        out["files"] = len(self.files)
        return out


class Backfill:
    """Built once per dataset and output directory; :meth:`run` processes one input file."""

    def __init__(
        self,
        policy: DatasetPolicy,
        out: Path | str,
        *,
        keys: KeyRing,
        rollup: bool = True,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.policy = policy
        self.schemas = tier_schemas(policy)
        self.processor = RawProcessor(
            policy, keys=keys, encode=lambda _record: b"", schemas=self.schemas
        )
        self.config: WindowConfig = window_config(policy, rollup=rollup)
        self.aggregator = WindowAggregator(self.config)
        root = str(out).rstrip("/")
        self.anon = Destination(f"{root}/anon", storage_options)
        self.public = Destination(f"{root}/public", storage_options)
        self.dlq_path = (
            Path(root) / "dlq" / f"{policy.dataset}.jsonl" if "://" not in root else None
        )
        self.report = BackfillReport()
        self._dead_letters: list[str] = []  # this chunk's, written once per chunk
        self._window_lines: dict[int, tuple[int, int]] = {}  # window start (s) -> line range

    def run(
        self, path: Path, fmt: Format, *, progress: Callable[[int], None] | None = None
    ) -> BackfillReport:
        self._write_datapackages()
        if self.dlq_path is not None:
            self.dlq_path.unlink(missing_ok=True)  # a rerun rewrites, like every other output
        for chunk in read_chunks(path, fmt):
            self._chunk(chunk)
            self._flush_dead_letters()
            self._publish(self.aggregator.advance())
            if progress is not None:
                progress(chunk.position)
        self._publish(self.aggregator.close_all())
        return self.report

    # -- one chunk --------------------------------------------------------------------
    def _chunk(self, chunk: Chunk) -> None:
        parser = self.processor.parser
        parsed = (
            parser.parse_batch(list(chunk.raw))
            if chunk.raw is not None
            else parser.parse_records(chunk.records or [])
        )
        self.report.events_in += len(chunk)
        self._reject(chunk, parsed)
        self.report.undeclared.extend(self.processor.undeclared_audit(parsed.undeclared))
        if not parsed.records:
            return
        anon, lines = self._anonymize(chunk, parsed)
        if anon.num_rows == 0:
            return
        self.report.anon_records += anon.num_rows
        self._write_anon(anon, lines)
        self._track_windows(anon, lines)
        late = self.aggregator.add(window_input(self.policy, self.config, anon))
        self.report.events_late += sum(item.events for item in late)

    def _anonymize(self, chunk: Chunk, parsed: ParseResult) -> tuple[pa.Table, pa.Array]:
        """Anon records and their input line numbers; a record that fails goes to the DLQ."""
        lines = [chunk.first + i for i in parsed.indexes]
        try:
            batch, pii = self.processor.anonymize_records(parsed.records)
            self.report.pii_found.update(pii)
            return pa.Table.from_batches([batch]), pa.array(lines, pa.int64())
        except Exception:  # isolate the record(s) at fault, as the stream does
            batches, kept = [], []
            for line, record in zip(lines, parsed.records, strict=True):
                try:
                    batch, pii = self.processor.anonymize_records([record])
                except InputValidationError as exc:
                    self._dead(line, record, exc.reason, exc.detail)
                    continue
                self.report.pii_found.update(pii)
                batches.append(batch)
                kept.append(line)
            table = pa.Table.from_batches(batches, schema=self.schemas.anon_arrow)
            return table, pa.array(kept, pa.int64())

    def _reject(self, chunk: Chunk, parsed: ParseResult) -> None:
        for rejection in parsed.rejections:
            item: Any = (
                chunk.raw[rejection.index]
                if chunk.raw is not None
                else (chunk.records or [])[rejection.index]
            )
            self._dead(chunk.first + rejection.index, item, rejection.reason, rejection.detail)

    def _dead(self, line: int, item: Any, reason: str, detail: str) -> None:
        self.report.rejected[reason] += 1
        original = (
            item.decode("utf-8", "replace")
            if isinstance(item, bytes)
            else json.dumps(item, default=str)
        )
        entry = {"line": line, "reason": reason, "detail": detail, "original": original}
        self._dead_letters.append(json.dumps(entry) + "\n")

    def _flush_dead_letters(self) -> None:
        if not self._dead_letters or self.dlq_path is None:
            self._dead_letters.clear()
            return
        self.dlq_path.parent.mkdir(parents=True, exist_ok=True)
        with self.dlq_path.open("a", encoding="utf-8") as dlq:
            dlq.writelines(self._dead_letters)
        self._dead_letters.clear()

    # -- outputs ----------------------------------------------------------------------
    def _write_anon(self, anon: pa.Table, lines: pa.Array) -> None:
        times = anon.column(self.policy.event_time)
        dates = pc.strftime(times, format="%Y-%m-%d")
        for date in pc.unique(dates).to_pylist():
            mask = pc.equal(dates, date)
            part = anon.filter(mask)
            part_lines = lines.filter(mask)
            first, last = pc.min(part_lines).as_py(), pc.max(part_lines).as_py()
            relpath = f"{self.policy.dataset}/date={date}/lines-{first}-{last}.parquet"
            path = self.anon.write_atomic(relpath, parquet_bytes(part))
            self.report.files.append(path)

    def _track_windows(self, anon: pa.Table, lines: pa.Array) -> None:
        seconds = pc.divide(anon.column(self.policy.event_time).cast(pa.int64()), 1_000_000)
        starts = pc.multiply(
            pc.floor(pc.divide(seconds, self.config.window_s)), self.config.window_s
        )
        for start, line in zip(starts.cast(pa.int64()).to_pylist(), lines.to_pylist(), strict=True):
            low, high = self._window_lines.get(start, (line, line))
            self._window_lines[start] = (min(low, line), max(high, line))

    def _publish(self, closed: list[ClosedWindow]) -> None:
        for window in closed:
            stats = window.stats
            self.report.windows += 1
            self.report.rows_published += stats.rows
            self.report.events_published += stats.published_events
            self.report.events_suppressed += stats.suppressed_events
            self.report.groups_suppressed += stats.suppressed_groups
            self.report.events_late += stats.late_events
            start_s = int(window.window_start.timestamp())
            first, last = self._window_lines.pop(start_s, (0, 0))
            if not window.rows:
                continue
            path = write_window(
                self.public,
                self.policy.dataset,
                window.rows,
                self.schemas.open_arrow,
                window_start=window.window_start,
                window_s=self.config.window_s,
                partition=0,
                first_offset=first,
                last_offset=last,
            )
            self.report.files.append(path)

    def _write_datapackages(self) -> None:
        public, anon = datapackages(self.policy, self.schemas, self.config)
        self.report.files.append(write_datapackage(self.public, self.policy.dataset, public))
        self.report.files.append(write_datapackage(self.anon, self.policy.dataset, anon))


def datapackages(
    policy: DatasetPolicy, schemas: TierSchemas, config: WindowConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Frictionless descriptors of the public aggregates and of the anon records."""
    common: dict[str, Any] = {
        "title": policy.title,
        "purpose": policy.purpose,
        "licenses": [{"name": policy.open.licence}],
        "sources": [{"title": policy.collection.device}],
        "window": {
            "size_s": config.window_s,
            "lateness_s": config.lateness_s,
            "alignment": "UTC epoch",
        },
        "generalization": config.describe_generalization(),
    }
    public = datapackage_descriptor(
        policy.dataset,
        schemas.open_arrow,
        description=f"{policy.title}: k-anonymous aggregates (k = {policy.k}).",
        k=policy.k,
        **common,
    )
    anon = datapackage_descriptor(
        policy.dataset,
        schemas.anon_arrow,
        description=f"{policy.title}: one anonymized record per event (Sensitive: analysts only).",
        k=None,
        **common,
    )
    anon["resources"][0]["path"] = "date=*/lines-*.parquet"
    return public, anon
