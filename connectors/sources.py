"""Reading event files in chunks, for backfills: JSON lines, Avro container files, Parquet.

Chunks keep memory bounded whatever the file size. JSON lines arrive as raw bytes
(validated like Kafka messages); Avro and Parquet rows arrive decoded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import fastavro
import pyarrow.parquet as pq

from citysieve.errors import ConfigurationError

Format = Literal["jsonl", "avro", "parquet"]
SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".avro": "avro",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class Chunk:
    """Consecutive input items; ``first`` is the 0-based index of the first in the file."""

    first: int
    raw: list[bytes] | None  # JSON lines
    records: list[dict[str, Any]] | None  # Avro / Parquet rows
    position: int  # bytes read so far (or rows, for Parquet), for progress

    def __len__(self) -> int:
        return len(self.raw if self.raw is not None else self.records or [])


def detect_format(path: Path, explicit: str | None = None) -> Format:
    if explicit:
        if explicit not in ("jsonl", "avro", "parquet"):
            raise ConfigurationError(f"--format must be jsonl, avro or parquet (got {explicit})")
        return explicit  # type: ignore[return-value]
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ConfigurationError(
            f"cannot tell the format of {path.name} from its extension; "
            "pass --format jsonl|avro|parquet"
        )
    return fmt


def input_size(path: Path, fmt: Format) -> int:
    """The progress total: rows for Parquet, bytes otherwise."""
    if fmt == "parquet":
        return int(pq.ParquetFile(path).metadata.num_rows)
    return path.stat().st_size


def read_chunks(path: Path, fmt: Format, size: int = 20_000) -> Iterator[Chunk]:
    if not path.exists():
        raise ConfigurationError(f"input file {path} does not exist")
    if fmt == "jsonl":
        yield from _jsonl(path, size)
    elif fmt == "avro":
        yield from _avro(path, size)
    else:
        yield from _parquet(path, size)


def _jsonl(path: Path, size: int) -> Iterator[Chunk]:
    with path.open("rb") as handle:
        first, lines, position = 0, [], 0
        for line in handle:
            position += len(line)
            stripped = line.rstrip(b"\r\n")
            if not stripped.strip():
                continue  # blank lines are layout, not events
            lines.append(stripped)
            if len(lines) >= size:
                yield Chunk(first, lines, None, position)
                first, lines = first + len(lines), []
        if lines:
            yield Chunk(first, lines, None, position)


def _avro(path: Path, size: int) -> Iterator[Chunk]:
    with path.open("rb") as handle:
        first, rows = 0, []
        for record in fastavro.reader(handle):
            rows.append(dict(record))  # type: ignore[arg-type]
            if len(rows) >= size:
                yield Chunk(first, None, rows, handle.tell())
                first, rows = first + len(rows), []
        if rows:
            yield Chunk(first, None, rows, handle.tell())


def _parquet(path: Path, size: int) -> Iterator[Chunk]:
    first = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
        rows = batch.to_pylist()
        yield Chunk(first, None, rows, first + len(rows))
        first += len(rows)
