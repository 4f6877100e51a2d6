"""Secret keys for pseudonyms and encryption, loaded from the environment.

=============================  =========================================================
variable                       holds
=============================  =========================================================
``CITYSIEVE_PSEUDONYM_KEY``    master key for keyed HMAC pseudonyms, base64 or hex,
                               at least 32 bytes once decoded
``CITYSIEVE_PSEUDONYM_KEY_FILE``  path of a file holding that key (a mounted Kubernetes
                               Secret); text (base64 or hex) or the raw bytes
``CITYSIEVE_ENCRYPTION_KEY``   AES-256-GCM key for the ``encrypt`` operator, base64 or
                               hex, exactly 32 bytes once decoded
``CITYSIEVE_ENCRYPTION_KEY_FILE``  path of a file holding that key
=============================  =========================================================

Set the variable or its ``_FILE`` twin, not both. A value made only of hex
digits (even length) is read as hex; anything else as base64 (standard or
URL-safe); prefix it with ``hex:`` or ``base64:`` to say which. Generate one
with ``python -c "import secrets; print(secrets.token_hex(32))"``.

Keys never appear in ``repr``, ``str`` or logs: they are held as pydantic
``SecretBytes`` and shown as ``<set>`` / ``<missing>``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import SecretBytes

from citysieve.errors import ConfigurationError

PSEUDONYM_KEY_VAR: Final = "CITYSIEVE_PSEUDONYM_KEY"
ENCRYPTION_KEY_VAR: Final = "CITYSIEVE_ENCRYPTION_KEY"
MIN_PSEUDONYM_KEY_BYTES: Final = 32
ENCRYPTION_KEY_BYTES: Final = 32
_HEX = re.compile(r"[0-9a-fA-F]+")
_HOW_TO_MAKE = 'generate one with: python -c "import secrets; print(secrets.token_hex(32))"'


def decode_key_text(text: str, *, variable: str) -> bytes:
    """Bytes of a key written as hex or base64 (optionally prefixed ``hex:``/``base64:``)."""
    value = text.strip()
    try:
        if value.startswith("hex:"):
            return bytes.fromhex(value[4:])
        if value.startswith("base64:"):
            return _b64decode(value[7:])
        if _HEX.fullmatch(value) and len(value) % 2 == 0:
            return bytes.fromhex(value)
        return _b64decode(value)
    except (ValueError, binascii.Error) as exc:
        raise ConfigurationError(f"{variable} is neither hex nor base64; {_HOW_TO_MAKE}") from exc


def _b64decode(value: str) -> bytes:
    padded = value + "=" * (-len(value) % 4)
    if "-" in value or "_" in value:
        return base64.urlsafe_b64decode(padded)
    return base64.b64decode(padded, validate=True)


def _read_key_file(path_text: str, *, variable: str) -> bytes:
    path = Path(path_text)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(
            f"{variable}_FILE={path_text} cannot be read ({exc.strerror}); "
            "point it at the mounted secret file"
        ) from exc
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return raw  # raw key bytes
    if not text:
        raise ConfigurationError(f"{variable}_FILE={path_text} is empty; write the key into it")
    return decode_key_text(text, variable=f"{variable}_FILE")


def _load(environ: Mapping[str, str], variable: str) -> bytes | None:
    inline = environ.get(variable)
    file_path = environ.get(f"{variable}_FILE")
    if inline and file_path:
        raise ConfigurationError(f"set {variable} or {variable}_FILE, not both")
    if inline:
        return decode_key_text(inline, variable=variable)
    if file_path:
        return _read_key_file(file_path, variable=variable)
    return None


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The process's keys. Build with :meth:`from_env` (or :meth:`for_demo` in the demo)."""

    pseudonym: SecretBytes | None = None
    encryption: SecretBytes | None = None
    ephemeral: bool = False

    def __post_init__(self) -> None:
        if self.pseudonym is not None and (
            len(self.pseudonym.get_secret_value()) < MIN_PSEUDONYM_KEY_BYTES
        ):
            raise ConfigurationError(
                f"{PSEUDONYM_KEY_VAR} is too short: it needs at least "
                f"{MIN_PSEUDONYM_KEY_BYTES} bytes once decoded; {_HOW_TO_MAKE}"
            )
        if self.encryption is not None and (
            len(self.encryption.get_secret_value()) != ENCRYPTION_KEY_BYTES
        ):
            raise ConfigurationError(
                f"{ENCRYPTION_KEY_VAR} must be exactly {ENCRYPTION_KEY_BYTES} bytes "
                f"(AES-256) once decoded; {_HOW_TO_MAKE}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        """Keys from ``CITYSIEVE_*_KEY`` or ``CITYSIEVE_*_KEY_FILE``; absent keys stay None.

        A key that is set but unreadable, badly encoded or too short is refused
        here; a key that is absent is refused only when an operator needs it.
        """
        env = os.environ if environ is None else environ
        pseudonym = _load(env, PSEUDONYM_KEY_VAR)
        encryption = _load(env, ENCRYPTION_KEY_VAR)
        return cls(
            pseudonym=None if pseudonym is None else SecretBytes(pseudonym),
            encryption=None if encryption is None else SecretBytes(encryption),
        )

    @classmethod
    def for_demo(cls) -> KeyRing:
        """Random keys that live as long as the process. FOR THE DEMO ONLY.

        Pseudonyms made with them cannot be linked across restarts, and nothing
        encrypted with them can be decrypted once the process is gone.
        """
        return cls(
            pseudonym=SecretBytes(secrets.token_bytes(MIN_PSEUDONYM_KEY_BYTES)),
            encryption=SecretBytes(secrets.token_bytes(ENCRYPTION_KEY_BYTES)),
            ephemeral=True,
        )

    def pseudonym_key(self) -> bytes:
        """The pseudonym master key, or a ConfigurationError saying which variable to set."""
        if self.pseudonym is None:
            raise ConfigurationError(
                f"no pseudonym key: set {PSEUDONYM_KEY_VAR} (base64 or hex, at least "
                f"{MIN_PSEUDONYM_KEY_BYTES} bytes) or {PSEUDONYM_KEY_VAR}_FILE; {_HOW_TO_MAKE}"
            )
        return self.pseudonym.get_secret_value()

    def encryption_key(self) -> bytes:
        """The AES-256 key, or a ConfigurationError saying which variable to set."""
        if self.encryption is None:
            raise ConfigurationError(
                f"no encryption key: set {ENCRYPTION_KEY_VAR} (base64 or hex, exactly "
                f"{ENCRYPTION_KEY_BYTES} bytes) or {ENCRYPTION_KEY_VAR}_FILE; {_HOW_TO_MAKE}"
            )
        return self.encryption.get_secret_value()

    def __repr__(self) -> str:
        def shown(key: SecretBytes | None) -> str:
            return "<missing>" if key is None else "<set>"

        demo = ", ephemeral=True" if self.ephemeral else ""
        return (
            f"KeyRing(pseudonym={shown(self.pseudonym)}, encryption={shown(self.encryption)}{demo})"
        )

    __str__ = __repr__
