"""Avro on the wire: how anonymized records are framed on Kafka.

Two framings, chosen by whether a schema registry is configured:

* **Self-describing (default)**: Avro *single-object encoding* from the Avro
  specification: ``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint of
  the writer schema's canonical form, then the Avro binary body. The writer
  schemas are published at start-up on the compacted topic ``iot.schemas``
  (key: the fingerprint in hex, value: the schema JSON) and can be printed with
  ``citysieve policy schema <dataset> --tier anon``. See docs/wire-format.md.
* **Confluent Schema Registry** (``CITYSIEVE_SCHEMA_REGISTRY_URL``): ``00``, the
  4-byte big-endian schema id, then the Avro binary body; the schema is
  registered under ``<topic>-value``.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from citysieve.errors import InputValidationError

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


def schema_fingerprint(schema: Mapping[str, Any]) -> bytes:
    """The CRC-64-AVRO fingerprint (8 bytes, little-endian) of a schema's canonical form."""
    canonical = to_parsing_canonical_form(parse_schema(dict(schema)))
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


class AvroEncoder:
    """Encodes records of one schema; built once per output topic."""

    def __init__(self, schema: Mapping[str, Any], *, registry_id: int | None = None) -> None:
        self.schema = dict(schema)
        self._parsed = parse_schema(self.schema)
        self.fingerprint = schema_fingerprint(self.schema)
        if registry_id is None:
            self._prefix = SINGLE_OBJECT_MAGIC + self.fingerprint
        else:
            self._prefix = CONFLUENT_MAGIC + struct.pack(">I", registry_id)

    def encode(self, record: Mapping[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(self._prefix)
        schemaless_writer(buf, self._parsed, record)
        return buf.getvalue()

    def schema_json(self) -> str:
        return json.dumps(self.schema, separators=(",", ":"), sort_keys=True)


class AvroDecoder:
    """Decodes either framing, given the writer schemas it may meet."""

    def __init__(
        self,
        schemas: list[Mapping[str, Any]],
        *,
        registry_ids: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> None:
        self._by_fingerprint = {schema_fingerprint(s): parse_schema(dict(s)) for s in schemas}
        self._by_id = {i: parse_schema(dict(s)) for i, s in (registry_ids or {}).items()}

    def decode(self, data: bytes) -> dict[str, Any]:
        if data[:2] == SINGLE_OBJECT_MAGIC:
            parsed = self._by_fingerprint.get(data[2:10])
            body = data[10:]
            if parsed is None:
                raise InputValidationError(
                    "unknown_schema",
                    f"Avro single-object fingerprint {data[2:10].hex()} matches no known schema",
                )
        elif data[:1] == CONFLUENT_MAGIC and len(data) >= 5:
            (schema_id,) = struct.unpack(">I", data[1:5])
            parsed = self._by_id.get(schema_id)
            body = data[5:]
            if parsed is None:
                raise InputValidationError(
                    "unknown_schema", f"schema registry id {schema_id} is not known here"
                )
        else:
            raise InputValidationError("not_avro", "bytes carry no Avro framing")
        try:
            record = schemaless_reader(io.BytesIO(body), parsed, None)
        except Exception as exc:
            raise InputValidationError("bad_avro", f"Avro body does not decode: {exc}") from exc
        if not isinstance(record, dict):
            raise InputValidationError("bad_avro", "Avro body is not a record")
        return record
