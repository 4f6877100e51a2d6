"""Wiring of the open tier: ``iot.anon.<d>`` -> k-anonymous windows -> ``iot.open.<d>`` -> sink.

Window agent (per dataset, per anon partition). State is kept in memory and is
*rebuilt by replay* after a restart instead of living in a changelog: the first
message of every open window is held unacknowledged (``Message.incref``), and Faust
commits only a contiguous acknowledged prefix, so the committed offset never passes
an event whose window is still open. A restarted worker re-reads from there and
rebuilds exactly the open windows. The anon topic is the durable log; nothing else
holds pseudonyms. Closing a window:

1. send its rows to ``iot.open.<d>`` (Avro, headers saying which window, source
   partition and offset range, row index and row count) and wait for the acks;
2. record a *mark* (aggregator watermark and which windows were emitted, plus the
   highest source offset handled) on the compacted ``iot.marks`` topic;
3. release the held message, so the offsets can be committed.

On restart the mark tells replayed events of already emitted windows apart from
genuinely late ones. A crash between 1 and 2 re-emits the same rows, which the sink
writes to the same file name.

Windows also close when a partition has been idle for ``idle_close_s`` (processing
time), so the last windows of a finished stream are published; later events for them
count as late.

Sink agent: buffers rows per window file until all ``row_count`` rows arrived (the
first message of the file held), writes the Parquet file atomically under a name made
of the window and the source offsets, audits the export, then releases the message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
import pyarrow as pa

from citysieve.clock import Clock
from citysieve.policy.derive import TierSchemas
from citysieve.policy.model import DatasetPolicy
from citysieve.settings import Settings
from connectors.audit import audit_event, encode_audit
from connectors.avro_wire import AvroDecoder, AvroEncoder
from connectors.kafka_io import read_topic
from connectors.sink import Destination, write_datapackage, write_window
from streams.app import deliver_all
from streams.backfill import datapackages
from transforms.open_tier import window_config, window_input
from transforms.pipeline import Output
from transforms.windows import ClosedWindow, WindowAggregator, WindowConfig

log = logging.getLogger(__name__)

H_WINDOW_START = "citysieve.window.start"
H_WINDOW_S = "citysieve.window.size_s"
H_PARTITION = "citysieve.source.partition"
H_FIRST = "citysieve.source.first_offset"
H_LAST = "citysieve.source.last_offset"
H_ROW = "citysieve.row.index"
H_ROWS = "citysieve.row.count"
FAULT_ENV = "CITYSIEVE_FAULT"  # fault injection for tests: "exit_after_sink_write"


def _event_hash(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


@dataclass
class _OpenWindow:
    held: Any  # the Faust message of the window's first event, held unacknowledged
    first: int
    last: int
    seen: set[int] = field(default_factory=set)  # event-id hashes, to drop duplicates


class PartitionWindows:
    """One anon partition's aggregator, held messages and replay mark."""

    def __init__(self, config: WindowConfig, mark: Mapping[str, Any] | None) -> None:
        meta = (mark or {}).get("meta")
        self.aggregator = (
            WindowAggregator.from_dict(config, {"meta": meta}) if meta else WindowAggregator(config)
        )
        self.replayed_through = int((mark or {}).get("offset", -1))
        # Windows starting before this were emitted before the restart (from the mark).
        self.emitted_before = int((meta or {}).get("emitted_before_s") or 0)
        self.windows: dict[int, _OpenWindow] = {}
        self.last_event_at = 0.0
        self.max_offset = -1


class WindowStage:
    """Per dataset: the window agent's logic, separated from Faust's iteration."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        policy: DatasetPolicy,
        schemas: TierSchemas,
        clock: Clock,
        idle_close_s: float,
    ) -> None:
        self.app = app
        self.settings = settings
        self.policy = policy
        self.dataset = policy.dataset
        self.schemas = schemas
        self.clock = clock
        self.idle_close_s = idle_close_s
        self.config = window_config(policy)
        self.decoder = AvroDecoder([schemas.anon_avro])
        self.encoder = AvroEncoder(schemas.open_avro)
        self.open_topic = settings.topic("open", self.dataset)
        self.audit_topic = settings.topic("audit")
        self.marks_topic = settings.topic("marks")
        self.partitions: dict[int, PartitionWindows] = {}
        self.lock = asyncio.Lock()

    def mark_key(self, partition: int) -> bytes:
        return f"{self.settings.app_id}/{self.dataset}/{partition}".encode()

    async def _open_partitions(self, partitions: set[int]) -> None:
        """State for partitions this worker has not seen yet, from their last marks.

        One read of ``iot.marks`` serves every new partition of the batch (after an
        assignment that is all of them), up to the end offsets of when it started.
        """
        new = partitions - self.partitions.keys()
        if not new:
            return
        marks = await read_topic(
            self.settings.bootstrap_servers or "",
            self.marks_topic,
            to_end=True,
            timeout_s=30,
            **self.settings.kafka_client_options(),
        )
        latest = {m.key: m.value for m in marks}
        for partition in new:
            value = latest.get(self.mark_key(partition))
            mark = json.loads(value) if value else None
            self.partitions[partition] = PartitionWindows(self.config, mark)

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked: their state is rebuilt by replay wherever they go."""
        for partition in partitions:
            self.partitions.pop(partition, None)

    async def handle(self, events: list[Any]) -> None:
        async with self.lock:
            by_partition: dict[int, list[Any]] = {}
            for event in events:
                by_partition.setdefault(event.message.partition, []).append(event)
            await self._open_partitions(set(by_partition))
            for partition, batch in by_partition.items():
                await self._handle_partition(partition, batch)

    async def _handle_partition(self, partition: int, events: list[Any]) -> None:
        state = self.partitions[partition]
        state.last_event_at = self.clock.monotonic()
        records = []
        for event in events:
            message = event.message
            state.max_offset = max(state.max_offset, message.offset)
            record = self.decoder.decode(message.value)
            start = self._window_start(record[self.policy.event_time])
            if message.offset <= state.replayed_through and start < state.emitted_before:
                continue  # replay of an event whose window was already published
            window = state.windows.get(start)
            if window is None:
                message.incref()  # hold the commit at this window's first event
                window = state.windows[start] = _OpenWindow(message, message.offset, message.offset)
            digest = _event_hash(record["event_id"])
            if digest in window.seen:
                continue  # an at-least-once duplicate from upstream: count it once
            window.seen.add(digest)
            window.first = min(window.first, message.offset)
            window.last = max(window.last, message.offset)
            records.append(record)
        if records:
            table = pa.Table.from_pylist(records, schema=self.schemas.anon_arrow)
            late = state.aggregator.add(window_input(self.policy, self.config, table))
            if late:
                await self._audit_late(partition, late)
        await self._emit(partition, state, state.aggregator.advance())
        self._release_closed(state)

    def _release_closed(self, state: PartitionWindows) -> None:
        """Release messages held for windows the aggregator no longer keeps open (late
        events of an emitted window): they are counted, nothing more will be published."""
        still_open = {int(w.timestamp()) for w in state.aggregator.open_windows()}
        for start in [s for s in state.windows if s not in still_open]:
            state.windows.pop(start).held.ack(self.app.consumer)

    async def close_idle(self) -> None:
        """Close the windows of partitions that received nothing for ``idle_close_s``."""
        async with self.lock:
            now = self.clock.monotonic()
            for partition, state in list(self.partitions.items()):
                if state.windows and now - state.last_event_at >= self.idle_close_s:
                    await self._emit(partition, state, state.aggregator.close_all())
                    self._release_closed(state)

    def _window_start(self, when: datetime) -> int:
        seconds = int(when.timestamp())
        return seconds - seconds % self.config.window_s

    async def _emit(
        self, partition: int, state: PartitionWindows, closed: list[ClosedWindow]
    ) -> None:
        """Publish closed windows, then mark them published, then let the commit pass them.

        The mark goes out only after every row of these windows was acknowledged: a mark
        is read on restart as "these windows are published", so it must never run ahead.
        """
        if not closed:
            return
        sends: list[tuple[str, Output]] = []
        released = []
        for window in closed:
            start = int(window.window_start.timestamp())
            held = state.windows.pop(start, None)
            first, last = (held.first, held.last) if held else (0, 0)
            sends += [
                (self.open_topic, self._row_output(window, partition, first, last, i, row))
                for i, row in enumerate(window.rows)
            ]
            summary = audit_event(
                "window_closed",
                self.clock.now(),
                dataset=self.dataset,
                window_start=window.window_start.isoformat(),
                partition=partition,
                **window.stats.to_dict(),
            )
            sends.append((self.audit_topic, Output(*encode_audit(summary))))
            if held is not None:
                released.append(held)
        await deliver_all(self.app, sends)
        mark = {"meta": state.aggregator.meta(), "offset": state.max_offset}
        await deliver_all(
            self.app,
            [(self.marks_topic, Output(self.mark_key(partition), json.dumps(mark).encode()))],
        )
        for held in released:
            held.held.ack(self.app.consumer)  # the commit may now pass these windows

    def _row_output(
        self, window: ClosedWindow, partition: int, first: int, last: int, index: int, row: Any
    ) -> Output:
        start = int(window.window_start.timestamp())
        headers = (
            (H_WINDOW_START, str(start).encode()),
            (H_WINDOW_S, str(self.config.window_s).encode()),
            (H_PARTITION, str(partition).encode()),
            (H_FIRST, str(first).encode()),
            (H_LAST, str(last).encode()),
            (H_ROW, str(index).encode()),
            (H_ROWS, str(len(window.rows)).encode()),
        )
        key = f"{start}/{partition}".encode()
        return Output(key, self.encoder.encode(row), headers)

    async def _audit_late(self, partition: int, late: list[Any]) -> None:
        events = [
            audit_event(
                "late_events",
                self.clock.now(),
                dataset=self.dataset,
                partition=partition,
                window_start=item.window_start.isoformat(),
                events=item.events,
            )
            for item in late
        ]
        await deliver_all(self.app, [(self.audit_topic, Output(*encode_audit(e))) for e in events])


@dataclass
class _PendingFile:
    held: Any
    rows: dict[int, dict[str, Any]]
    count: int


class SinkStage:
    """Per dataset: rows of ``iot.open.<d>`` to one Parquet file per window and offsets."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        policy: DatasetPolicy,
        schemas: TierSchemas,
        clock: Clock,
    ) -> None:
        self.app = app
        self.settings = settings
        self.dataset = policy.dataset
        self.schemas = schemas
        self.clock = clock
        self.decoder = AvroDecoder([schemas.open_avro])
        self.destination = Destination(settings.sink_url)
        self.pending: dict[tuple[int, int, int, int], _PendingFile] = {}
        self.audit_topic = settings.topic("audit")
        self.descriptor = datapackages(policy, schemas, window_config(policy))[0]
        self._described = False

    async def handle(self, events: list[Any]) -> None:
        for event in events:
            message = event.message
            headers = {k: v.decode() for k, v in message.headers}
            file_key = (
                int(headers[H_WINDOW_START]),
                int(headers[H_PARTITION]),
                int(headers[H_FIRST]),
                int(headers[H_LAST]),
            )
            pending = self.pending.get(file_key)
            if pending is None:
                message.incref()  # no commit past this row until its file is durable
                pending = self.pending[file_key] = _PendingFile(message, {}, int(headers[H_ROWS]))
            pending.rows[int(headers[H_ROW])] = self.decoder.decode(message.value)
            window_s = int(headers[H_WINDOW_S])
            if len(pending.rows) == pending.count:
                await self._write(file_key, window_s, self.pending.pop(file_key))

    async def _write(
        self, key: tuple[int, int, int, int], window_s: int, pending: _PendingFile
    ) -> None:
        start, partition, first, last = key
        rows = [pending.rows[i] for i in range(pending.count)]
        if not self._described:
            await asyncio.to_thread(
                write_datapackage, self.destination, self.dataset, self.descriptor
            )
            self._described = True
        path = await asyncio.to_thread(
            write_window,
            self.destination,
            self.dataset,
            rows,
            self.schemas.open_arrow,
            window_start=datetime.fromtimestamp(start, UTC),
            window_s=window_s,
            partition=partition,
            first_offset=first,
            last_offset=last,
        )
        if os.environ.get(FAULT_ENV) == "exit_after_sink_write":
            log.critical("fault injection: exiting after a sink write, before its commit")
            os._exit(86)
        export = audit_event(
            "export",
            self.clock.now(),
            dataset=self.dataset,
            file=path,
            rows=len(rows),
            window_start=datetime.fromtimestamp(start, UTC).isoformat(),
        )
        await deliver_all(self.app, [(self.audit_topic, Output(*encode_audit(export)))])
        pending.held.ack(self.app.consumer)
