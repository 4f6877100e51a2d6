"""The public sink: zstd Parquet files and a Frictionless data package, on any filesystem.

Two halves, kept apart:

* the *format* (:func:`rows_to_table`, :func:`parquet_bytes`): rows plus the caller's
  Arrow schema (derived once from Avro, never inferred from the rows) to deterministic
  zstd Parquet bytes, with every column's description, unit and classification in the
  Arrow field metadata (kept in the file's ``ARROW:schema``) and again, for readers that
  ignore Arrow metadata, as JSON in the file's key-value metadata (``citysieve.columns``);
* the *destination* (:class:`Destination`): any fsspec filesystem by URL (a local
  directory by default, ``s3://bucket/prefix`` and the like) with an atomic write.

Layout: ``<sink>/<dataset>/date=YYYY-MM-DD/<file>.parquet`` (the UTC date of the window
start) and ``<sink>/<dataset>/datapackage.json``. File names come from the window and
the source offsets (:func:`window_file_name`), so replaying the same input rewrites the
same file with the same bytes instead of adding rows.

Atomicity:

* local files: written to a hidden temporary name in the target directory
  (``.<name>.<random>.tmp``: the leading dot hides it from Parquet dataset readers),
  flushed and fsynced, renamed over the final name (``os.replace``), then the directory
  is fsynced, so the file is durable when the call returns;
* object stores (S3, GCS, Azure, memory): rename is a copy there, so the final key is
  written with one put (a single PUT, or a multipart upload that becomes visible only
  when it completes). Readers see the old object or the new one, never a part;
* other fsspec filesystems: temporary name in the same directory, then ``mv``.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from citysieve.errors import ConfigurationError

OBJECT_STORES: Final = frozenset(
    {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss", "memory"}
)
DATAPACKAGE: Final = "datapackage.json"
PARQUET_MEDIATYPE: Final = "application/vnd.apache.parquet"
COLUMNS_KEY: Final = b"citysieve.columns"
# Field metadata keys that describe a column (bytes, as Arrow stores them).
DESCRIPTION: Final = b"description"
UNIT: Final = b"unit"
CLASSIFICATION: Final = b"classification"

_DATASET_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

# --------------------------------------------------------------------------- format


def rows_to_table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table of exactly ``schema`` (column order and types from it).

    A row key the schema does not declare is refused rather than dropped: it means the
    schema and the aggregation config disagree.
    """
    names = set(schema.names)
    extra = sorted({key for row in rows for key in row if key not in names})
    if extra:
        raise ConfigurationError(
            f"rows carry columns the schema does not declare: {', '.join(extra)}; "
            "derive the Arrow schema from the same dataset config as the rows"
        )
    try:
        return pa.Table.from_pylist(list(rows), schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise ConfigurationError(f"rows do not fit the dataset schema: {exc}") from exc


def column_descriptions(schema: pa.Schema, *, required: bool = True) -> dict[str, dict[str, str]]:
    """``{column: {description, unit?, classification?}}`` from the fields' metadata."""
    out: dict[str, dict[str, str]] = {}
    missing = []
    for f in schema:
        meta = f.metadata or {}
        entry = {
            name: meta[key].decode()
            for name, key in (
                ("description", DESCRIPTION),
                ("unit", UNIT),
                ("classification", CLASSIFICATION),
            )
            if key in meta
        }
        if "description" not in entry:
            missing.append(f.name)
        out[f.name] = entry
    if required and missing:
        raise ConfigurationError(
            f"columns without a description: {', '.join(missing)}; every published column "
            "needs field metadata b'description' (the schema's Avro 'doc')"
        )
    return out


def parquet_bytes(
    table: pa.Table,
    *,
    metadata: Mapping[str, str] | None = None,
    require_descriptions: bool = True,
) -> bytes:
    """The table as zstd Parquet; the same table and metadata always give the same bytes.

    File key-value metadata: the schema's own metadata, then ``metadata``, then
    ``citysieve.columns`` (JSON of every column's description, unit, classification).
    """
    columns = column_descriptions(table.schema, required=require_descriptions)
    file_meta: dict[bytes, bytes] = dict(table.schema.metadata or {})
    for key, value in (metadata or {}).items():
        file_meta[key.encode()] = value.encode()
    file_meta[COLUMNS_KEY] = json.dumps(columns, sort_keys=True, ensure_ascii=False).encode()
    table = table.replace_schema_metadata(file_meta)
    buffer = io.BytesIO()
    # Everything that could vary between runs is pinned; pyarrow writes no timestamps.
    pq.write_table(
        table,
        buffer,
        compression="zstd",
        compression_level=3,
        version="2.6",
        data_page_version="1.0",
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
    )
    return buffer.getvalue()


# --------------------------------------------------------------------------- destination


class Destination:
    """A sink root on any fsspec filesystem, with atomic writes.

    ``url``: a local path (default), ``file://...``, ``s3://bucket/prefix``, ...
    ``storage_options`` go to the filesystem (for S3: ``key``, ``secret``,
    ``endpoint_url``, ``client_kwargs``...).
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = os.fspath(url)
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **dict(storage_options or {}))
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.local = "file" in protocols or "local" in protocols
        self.object_store = bool(OBJECT_STORES.intersection(protocols))

    def path(self, *parts: str) -> str:
        """The filesystem path of ``parts`` under the root."""
        root = self.root.rstrip("/")
        return "/".join([root, *parts]) if root else "/".join(parts)

    def display(self, path: str) -> str:
        """What to show users: a plain path for local files, a URL otherwise."""
        return path if self.local else str(self.fs.unstrip_protocol(path))

    def read_bytes(self, *parts: str) -> bytes:
        return bytes(self.fs.cat_file(self.path(*parts)))

    def write_atomic(self, relpath: str, data: bytes) -> str:
        """Write ``data`` at ``relpath`` so readers never see a partial file; return its path."""
        final = self.path(*relpath.split("/"))
        if self.local:
            _write_local(final, data)
        elif self.object_store:
            self.fs.pipe_file(final, data)
        else:
            directory, name = final.rsplit("/", 1)
            self.fs.makedirs(directory, exist_ok=True)
            temporary = f"{directory}/.{name}.{uuid.uuid4().hex}.tmp"
            try:
                self.fs.pipe_file(temporary, data)
                self.fs.mv(temporary, final)
            except BaseException:
                if self.fs.exists(temporary):
                    self.fs.rm(temporary)
                raise
        return self.display(final)


def _write_local(final: str, data: bytes) -> None:
    directory, name = os.path.split(final)
    created = _makedirs(directory)
    temporary = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, final)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_dir(directory)
    for made in created:  # a new directory's entry lives in its parent
        _fsync_dir(os.path.dirname(made))


def _makedirs(directory: str) -> list[str]:
    """Create ``directory`` and missing parents; return the ones created, deepest first."""
    missing = []
    current = directory
    while current and not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    os.makedirs(directory, exist_ok=True)
    return missing


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- layout


def _check_dataset(dataset: str) -> None:
    if not _DATASET_RE.match(dataset):
        raise ConfigurationError(
            f"dataset name '{dataset}' cannot be a directory name; use lower-case letters, "
            "digits, '_', '-' and '.'"
        )


def _utc(window_start: datetime) -> datetime:
    if window_start.tzinfo is None or window_start.utcoffset() is None:
        raise ConfigurationError("window_start must be a timezone-aware datetime (UTC)")
    return window_start.astimezone(UTC)


def window_file_name(
    window_start: datetime,
    window_s: int,
    partition: int,
    first_offset: int,
    last_offset: int,
) -> str:
    """``<start:%Y%m%dT%H%M%SZ>-<window_s>s-p<partition>-o<first>-<last>.parquet``."""
    window_start = _utc(window_start)
    if window_s <= 0 or partition < 0 or first_offset < 0 or last_offset < first_offset:
        raise ConfigurationError(
            "window file name needs window_s > 0, partition >= 0 and "
            f"0 <= first_offset <= last_offset (got {window_s}, {partition}, "
            f"{first_offset}, {last_offset})"
        )
    stamp = window_start.strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{window_s}s-p{partition}-o{first_offset}-{last_offset}.parquet"


def window_relpath(dataset: str, window_start: datetime, file_name: str) -> str:
    """``<dataset>/date=YYYY-MM-DD/<file_name>`` (date of the window start, UTC)."""
    _check_dataset(dataset)
    window_start = _utc(window_start)
    return f"{dataset}/date={window_start:%Y-%m-%d}/{file_name}"


def _destination(
    sink: str | os.PathLike[str] | Destination, storage_options: Mapping[str, Any] | None
) -> Destination:
    if isinstance(sink, Destination):
        if storage_options:
            raise ConfigurationError("pass storage_options to the Destination, not here")
        return sink
    return Destination(sink, storage_options)


def write_window(
    sink: str | os.PathLike[str] | Destination,
    dataset: str,
    rows: Sequence[Mapping[str, Any]],
    schema: pa.Schema,
    *,
    window_start: datetime,
    window_s: int,
    partition: int,
    first_offset: int,
    last_offset: int,
    metadata: Mapping[str, str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> str:
    """Write one window's rows as one Parquet file; return the path (URL if remote).

    The file name is a function of the arguments only, so writing the same window from
    the same offsets again replaces the file (same bytes for the same rows).
    ``metadata``: extra dataset-level key-value metadata for the file (strings).
    """
    destination = _destination(sink, storage_options)
    window_start = _utc(window_start)
    name = window_file_name(window_start, window_s, partition, first_offset, last_offset)
    relpath = window_relpath(dataset, window_start, name)
    provenance = {
        "citysieve.dataset": dataset,
        "citysieve.window_start": window_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "citysieve.window_s": str(window_s),
        "citysieve.source": f"partition={partition} offsets={first_offset}-{last_offset}",
    }
    provenance.update(metadata or {})
    data = parquet_bytes(rows_to_table(rows, schema), metadata=provenance)
    return destination.write_atomic(relpath, data)


# --------------------------------------------------------------------------- data package


def _table_schema_type(dtype: pa.DataType) -> dict[str, str]:
    if pa.types.is_boolean(dtype):
        return {"type": "boolean"}
    if pa.types.is_integer(dtype):
        return {"type": "integer"}
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return {"type": "number"}
    if pa.types.is_timestamp(dtype):
        return {"type": "datetime"}
    if pa.types.is_date(dtype):
        return {"type": "date"}
    if pa.types.is_time(dtype):
        return {"type": "time"}
    if pa.types.is_duration(dtype):
        return {"type": "duration"}
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return {"type": "array"}
    if pa.types.is_struct(dtype) or pa.types.is_map(dtype):
        return {"type": "object"}
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return {"type": "string", "format": "binary"}
    return {"type": "string"}


def frictionless_fields(schema: pa.Schema) -> list[dict[str, Any]]:
    """Table Schema fields from an Arrow schema whose fields carry b"description",
    b"unit" and b"classification" metadata. Refuses a field without a description."""
    described = column_descriptions(schema, required=True)
    fields = []
    for f in schema:
        entry: dict[str, Any] = {"name": f.name, **_table_schema_type(f.type)}
        entry["description"] = described[f.name]["description"]
        if "unit" in described[f.name]:
            entry["unit"] = described[f.name]["unit"]
        if "classification" in described[f.name]:
            entry["classification"] = described[f.name]["classification"]
        if not f.nullable:
            entry["constraints"] = {"required": True}
        fields.append(entry)
    return fields


def datapackage_descriptor(
    dataset: str,
    schema: pa.Schema,
    *,
    title: str,
    description: str,
    purpose: str,
    licenses: Sequence[Mapping[str, str]],
    sources: Sequence[Mapping[str, str]],
    k: int | None,
    window: Mapping[str, Any],
    generalization: Mapping[str, Any],
) -> dict[str, Any]:
    """A Frictionless Data Package descriptor for one public dataset.

    One tabular resource whose ``path`` is the pattern of the window files. Custom
    properties: ``purpose``, ``k`` (None: no personal data), ``window`` (e.g.
    ``{"size_s": 900, "lateness_s": 300, "alignment": "UTC epoch"}``) and
    ``generalization`` (the roll-up ladder), and per field ``unit`` and ``classification``.
    """
    _check_dataset(dataset)
    return {
        "profile": "tabular-data-package",
        "name": dataset,
        "title": title,
        "description": description,
        "purpose": purpose,
        "licenses": [dict(item) for item in licenses],
        "sources": [dict(item) for item in sources],
        "k": k,
        "window": dict(window),
        "generalization": dict(generalization),
        "resources": [
            {
                "profile": "tabular-data-resource",
                "name": dataset,
                "path": "date=*/*.parquet",
                "format": "parquet",
                "mediatype": PARQUET_MEDIATYPE,
                "description": (
                    "One Parquet file per window and source offset range, under "
                    "date=YYYY-MM-DD (UTC date of the window start)."
                ),
                "schema": {"fields": frictionless_fields(schema)},
            }
        ],
    }


def _check_descriptor(descriptor: Mapping[str, Any]) -> None:
    for key in ("name", "resources"):
        if key not in descriptor:
            raise ConfigurationError(f"datapackage descriptor has no '{key}'")
    for resource in descriptor["resources"]:
        fields = resource.get("schema", {}).get("fields")
        if not fields:
            raise ConfigurationError(
                f"resource '{resource.get('name')}' has no schema fields; build it with "
                "frictionless_fields(schema)"
            )
        undescribed = [f.get("name") for f in fields if not f.get("description")]
        if undescribed:
            raise ConfigurationError(
                f"fields without a description: {', '.join(map(str, undescribed))}"
            )


def write_datapackage(
    sink: str | os.PathLike[str] | Destination,
    dataset: str,
    descriptor: Mapping[str, Any],
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> str:
    """Write ``<sink>/<dataset>/datapackage.json`` atomically; return its path (URL if remote)."""
    _check_dataset(dataset)
    _check_descriptor(descriptor)
    try:
        text = json.dumps(descriptor, indent=2, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"datapackage descriptor is not plain JSON: {exc}") from exc
    destination = _destination(sink, storage_options)
    return destination.write_atomic(f"{dataset}/{DATAPACKAGE}", (text + "\n").encode())
