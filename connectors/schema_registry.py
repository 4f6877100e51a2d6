"""A minimal Confluent Schema Registry client: register a value schema, get its id.

Only what the pipeline needs at start-up (``POST /subjects/<subject>/versions``);
records then carry the Confluent framing (see ``connectors.avro_wire``).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from citysieve.errors import ConfigurationError

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class SchemaRegistry:
    def __init__(self, url: str, *, auth: str | None = None, timeout_s: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"CITYSIEVE_SCHEMA_REGISTRY_URL must start with http:// or https:// (got {url!r})"
            )
        self.url = url.rstrip("/")
        self._auth = auth
        self.timeout_s = timeout_s

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register ``schema`` under ``subject`` (idempotent) and return its global id."""
        body = json.dumps({"schemaType": "AVRO", "schema": json.dumps(schema)}).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            f"{self.url}/subjects/{subject}/versions",
            data=body,
            method="POST",
            headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE},
        )
        if self._auth:
            token = base64.b64encode(self._auth.encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ConfigurationError(
                f"the schema registry refused the schema for {subject}: HTTP {exc.code} "
                f"{exc.read()[:300]!r}. Check compatibility settings for the subject."
            ) from None
        except (urllib.error.URLError, TimeoutError) as exc:
            raise ConfigurationError(
                f"the schema registry at {self.url} did not answer ({exc}); check "
                "CITYSIEVE_SCHEMA_REGISTRY_URL or unset it to use self-describing Avro"
            ) from None
        return int(answer["id"])
