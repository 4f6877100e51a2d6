"""``encrypt``: AES-256-GCM, for values the key holder must be able to read back.

Each value gets a fresh random 96-bit nonce; the output is
``base64(nonce + ciphertext + tag)``. ``context`` (for example the field name) is
bound as associated data, so a value cannot be moved to another field unnoticed.
:func:`decrypt` is the key holder's way back.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Annotated, Any

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AfterValidator, Field

from citysieve.errors import ConfigurationError, InputValidationError
from citysieve.keys import KeyRing
from transforms.operators.base import (
    Operator,
    OperatorConfig,
    as_strings,
    refuse_named_key,
)

NONCE_BYTES = 12
AAD_PREFIX = b"citysieve/encrypt/"


class EncryptConfig(OperatorConfig):
    context: str = Field(default="", description="bound as associated data, e.g. the field name")
    key: Annotated[str | None, AfterValidator(refuse_named_key)] = None


def _aad(context: str) -> bytes:
    return AAD_PREFIX + context.encode()


class Encrypt(Operator[EncryptConfig]):
    name = "encrypt"
    config_type = EncryptConfig

    def __init__(self, config: EncryptConfig, keys: KeyRing) -> None:
        super().__init__(config)
        self._aead = AESGCM(keys.encryption_key())
        self._aad = _aad(config.context)

    @classmethod
    def from_config(cls, config: Any, keys: KeyRing | None) -> Encrypt:
        if keys is None:
            raise ConfigurationError("encrypt needs keys: build it with keys=KeyRing.from_env()")
        return cls(config, keys)

    def encrypt(self, value: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), self._aad)
        return base64.b64encode(nonce + sealed).decode("ascii")

    def operate(self, values: pa.Array) -> pa.Array:
        # Per row on purpose: equal values must not give equal ciphertexts.
        return pa.array(
            [None if v is None else self.encrypt(v) for v in as_strings(values).to_pylist()],
            type=pa.string(),
        )


def decrypt(token: str, keys: KeyRing, *, context: str = "") -> str:
    """The plaintext of one ``encrypt`` output, for the holder of the encryption key."""
    try:
        raw = base64.b64decode(token, validate=True)
        plain = AESGCM(keys.encryption_key()).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(context)
        )
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise InputValidationError(
            "decrypt_failed", "wrong key or context, or the value was altered"
        ) from exc
    return plain.decode()
