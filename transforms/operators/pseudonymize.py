"""``pseudonymize``: keyed HMAC-SHA256 tokens that rotate with key epochs.

* Same identifier, same epoch, same token; new epoch, new token; without the key
  a token can be neither reversed nor recomputed (a plain hash of a MAC or a
  plate is reversed by enumerating the small identifier space).
* Identifiers are normalized first (:mod:`transforms.operators.normalizers`).
* Epochs align to UTC: ``epoch = floor(event_time_epoch_seconds / period)``, so
  windows whose size divides the period never straddle two epochs.
* Per-epoch key: ``HKDF-SHA256(master, salt=None, length=32,
  info=b"citysieve/pseudonym/" + dataset + b"/" + str(epoch))``.
* Token: the first 16 bytes of the HMAC in unpadded base64url (22 characters,
  URL-safe, nothing identifying in it; base64 is done in C, base32 in Python
  and was the slowest step of the structured path).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache, partial
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import AfterValidator, Field

from citysieve.errors import ConfigurationError, InputValidationError
from citysieve.keys import KeyRing
from transforms.operators.base import (
    Operator,
    OperatorConfig,
    as_strings,
    map_distinct,
    refuse_named_key,
)
from transforms.operators.durations import Seconds
from transforms.operators.normalizers import NORMALIZERS
from transforms.operators.timestamps import floor_to

TOKEN_BYTES = 16
INFO_PREFIX = b"citysieve/pseudonym/"
DEFAULT_PERIOD = 86_400
# The normalizer a field's PII type implies, when its spec names none.
NORMALIZER_FOR_PII_TYPE = {
    "MAC_ADDRESS": "mac",
    "PHONE_NUMBER": "phone",
    "US_LICENSE_PLATE": "plate",
    "EMAIL_ADDRESS": "email",
}


class PseudonymizeConfig(OperatorConfig):
    """``dataset`` is required (the record anonymizer fills it in); ``period`` is how
    often the key rotates (``P30D``, ``1d``, seconds, or ``never``)."""

    dataset: str = Field(min_length=1, description="dataset name, part of the key derivation")
    normalizer: Literal["mac", "phone", "plate", "email", "text", "none"] = "text"
    period: Seconds | Literal["never"] = DEFAULT_PERIOD
    key: Annotated[str | None, AfterValidator(refuse_named_key)] = None

    @property
    def period_seconds(self) -> int | None:
        return None if self.period == "never" else int(self.period)


def epoch_key(master: bytes, dataset: str, epoch: int) -> bytes:
    """The HMAC key of one epoch, derived from the master key."""
    info = INFO_PREFIX + dataset.encode() + b"/" + str(epoch).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def epoch_indexes(times: pa.Array, period_seconds: int) -> pa.Array:
    """``floor(epoch_seconds / period)`` per event time (timestamps or ISO-8601 strings)."""
    floored = floor_to(times, period_seconds)
    if floored.null_count:
        raise InputValidationError(
            "missing_time", "every event needs its time to pick its pseudonym epoch"
        )
    micros = pc.cast(floored, pa.int64())
    return pc.divide(micros, period_seconds * 1_000_000)


class Pseudonymize(Operator[PseudonymizeConfig]):
    name = "pseudonymize"
    config_type = PseudonymizeConfig

    def __init__(self, config: PseudonymizeConfig, keys: KeyRing) -> None:
        super().__init__(config)
        self._master = keys.pseudonym_key()
        self._normalize = NORMALIZERS[config.normalizer]
        self._hmac_for = lru_cache(maxsize=16)(self._new_hmac)

    @classmethod
    def from_config(cls, config: Any, keys: KeyRing | None) -> Pseudonymize:
        if keys is None:
            raise ConfigurationError(
                "pseudonymize needs keys: build it with keys=KeyRing.from_env()"
            )
        return cls(config, keys)

    def _new_hmac(self, epoch: int) -> Any:
        return hmac.new(
            epoch_key(self._master, self.config.dataset, epoch), digestmod=hashlib.sha256
        )

    def _token_in(self, epoch: int, value: str) -> str:
        return self.token(value, epoch)

    def token(self, value: str, epoch: int) -> str:
        """The token of one identifier in one epoch."""
        mac = self._hmac_for(epoch).copy()
        mac.update(self._normalize(value).encode())
        return base64.urlsafe_b64encode(mac.digest()[:TOKEN_BYTES]).decode("ascii").rstrip("=")

    def epochs_for(self, times: pa.Array) -> pa.Array | int:
        """Epoch indexes for these event times (0 throughout when the key never rotates)."""
        period = self.config.period_seconds
        return 0 if period is None else epoch_indexes(times, period)

    def operate(self, values: pa.Array, epochs: int | pa.Array | None = None) -> pa.Array:
        """Tokens for ``values``; ``epochs`` is one index for all or one per value."""
        if epochs is None:
            if self.config.period_seconds is not None:
                raise ConfigurationError(
                    "pseudonymize rotates its key every "
                    f"{self.config.period_seconds}s: pass epochs=op.epochs_for(event_times)"
                )
            epochs = 0
        if isinstance(epochs, int):
            return map_distinct(values, partial(self._token_in, epochs))
        strings = as_strings(values)
        epoch_array = pc.cast(epochs, pa.int64())
        if len(epoch_array) != len(strings):
            raise ValueError("epochs must have one entry per value")
        out = pa.nulls(len(strings), pa.string())
        for epoch in pc.unique(epoch_array).to_pylist():
            if epoch is None:
                raise InputValidationError("missing_time", "an event has no pseudonym epoch")
            selected = pc.equal(epoch_array, epoch)
            tokens = map_distinct(pc.filter(strings, selected), partial(self._token_in, epoch))
            out = pc.replace_with_mask(out, selected, tokens)
        return out
