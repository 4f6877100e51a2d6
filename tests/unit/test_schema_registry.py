"""Confluent framing with a registry: the schema is registered once and its id framed in."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from citysieve.errors import ConfigurationError
from connectors.avro_wire import AvroDecoder, AvroEncoder
from connectors.schema_registry import SchemaRegistry

SCHEMA = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "long"}]}


class _Registry(BaseHTTPRequestHandler):
    """Just enough of the registry's REST API: one subject, ids from 41."""

    schemas: dict[str, int] = {}  # noqa: RUF012 - test double state
    seen: list[tuple[str, dict[str, Any], str | None]] = []  # noqa: RUF012

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append((self.path, body, self.headers.get("Authorization")))
        if "bad" in self.path:
            self.send_response(409)
            self.end_headers()
            self.wfile.write(b'{"message": "incompatible"}')
            return
        schema_id = self.schemas.setdefault(body["schema"], 41 + len(self.schemas))
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": schema_id}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry_url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_when_registered_twice_then_same_id_and_confluent_framing(registry_url: str) -> None:
    registry = SchemaRegistry(registry_url, auth="svc:secret")
    first = registry.register("iot.anon.x-value", SCHEMA)
    assert registry.register("iot.anon.x-value", SCHEMA) == first
    path, body, auth = _Registry.seen[-1]
    assert path == "/subjects/iot.anon.x-value/versions"
    assert body["schemaType"] == "AVRO" and json.loads(body["schema"]) == SCHEMA
    assert auth is not None and auth.startswith("Basic ")

    data = AvroEncoder(SCHEMA, registry_id=first).encode({"x": 7})
    assert data[:1] == b"\x00" and struct.unpack(">I", data[1:5]) == (first,)
    assert AvroDecoder([], registry_ids={first: SCHEMA}).decode(data) == {"x": 7}


def test_when_registry_refuses_then_error_says_which_subject(registry_url: str) -> None:
    with pytest.raises(ConfigurationError, match=r"refused the schema for bad-value: HTTP 409"):
        SchemaRegistry(registry_url).register("bad-value", SCHEMA)


def test_when_registry_is_unreachable_then_error_says_what_to_set() -> None:
    with pytest.raises(ConfigurationError, match="CITYSIEVE_SCHEMA_REGISTRY_URL"):
        SchemaRegistry("http://127.0.0.1:9", timeout_s=1).register("s-value", SCHEMA)


def test_when_self_describing_then_fingerprint_frames_the_body() -> None:
    encoder = AvroEncoder(SCHEMA)
    data = encoder.encode({"x": 1})
    assert data[:2] == b"\xc3\x01" and data[2:10] == encoder.fingerprint
    assert AvroDecoder([SCHEMA]).decode(data) == {"x": 1}
