"""Operator specs as a policy writes them: ``{operator: <name>, ...params}``.

This is the one place that knows, for each operator name, which parameters it
takes (checked when a policy loads, before ``transforms.operators.build`` turns
a spec into an operator), what the field looks like afterwards (its Avro type,
its classification) and how to say in plain words what happened to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from citysieve.policy import avro
from citysieve.policy.classes import Classification, Role
from citysieve.policy.durations import Duration, humanize_duration

OPERATOR_NAMES: Final = (
    "keep",
    "drop",
    "redact",
    "replace",
    "mask",
    "pseudonymize",
    "generalize",
    "encrypt",
    "presidio",
)
GENERALIZE_KINDS: Final = ("h3", "time_bucket", "range", "zip_prefix")

# What a role may be given in the anon tier; roles not listed take any operator.
ALLOWED_BY_ROLE: Final[dict[Role, tuple[str, ...]]] = {
    Role.DIRECT_IDENTIFIER: ("pseudonymize", "drop", "redact", "encrypt", "replace", "mask"),
    Role.FREE_TEXT: ("presidio", "drop", "redact", "replace"),
}


class OperatorSpecBase(BaseModel):
    """Common behaviour; each subclass is one operator name and its parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    operator: str

    # The class a value can have at most after this operator (None: unchanged).
    ceiling: ClassVar[Classification | None] = Classification.SENSITIVE
    # The source types it works on (base Avro types; None: any) and how to say so.
    accepts: ClassVar[frozenset[str] | None] = None
    accepts_words: ClassVar[str] = "any"

    @property
    def label(self) -> str:
        kind = getattr(self, "kind", None)
        return f"{self.operator} ({kind})" if kind else self.operator

    def accepts_type(self, source_type: Any) -> bool:
        return self.accepts is None or avro.split_type(source_type)[0] in self.accepts

    @property
    def removes_field(self) -> bool:
        return False

    def as_spec(self) -> dict[str, Any]:
        """The plain dict ``transforms.operators.build`` takes (durations as ISO strings)."""
        return self.model_dump(mode="json", exclude_none=True)

    def classification_after(self, declared: Classification) -> Classification:
        if self.ceiling is None:
            return declared
        return Classification.lowest((declared, self.ceiling))

    def output_type(self, source_type: Any) -> Any:
        """The Avro type of the field in the anonymized record."""
        return avro.like(source_type, "string")

    def keeps_unit(self) -> bool:
        return False

    def describe(self) -> str:
        raise NotImplementedError


class Keep(OperatorSpecBase):
    operator: Literal["keep"]
    ceiling: ClassVar[Classification | None] = None

    def output_type(self, source_type: Any) -> Any:
        return source_type

    def keeps_unit(self) -> bool:
        return True

    def describe(self) -> str:
        return "kept as is"


class Drop(OperatorSpecBase):
    operator: Literal["drop"]

    @property
    def removes_field(self) -> bool:
        return True

    def describe(self) -> str:
        return "removed"


class Redact(OperatorSpecBase):
    operator: Literal["redact"]
    ceiling: ClassVar[Classification | None] = Classification.PUBLIC

    def output_type(self, source_type: Any) -> Any:
        return avro.nullable(source_type)

    def describe(self) -> str:
        return "blanked out"


class Replace(OperatorSpecBase):
    operator: Literal["replace"]
    value: str
    ceiling: ClassVar[Classification | None] = Classification.PUBLIC

    def describe(self) -> str:
        return f"replaced by the fixed text '{self.value}'"


class Mask(OperatorSpecBase):
    operator: Literal["mask"]
    accepts: ClassVar[frozenset[str] | None] = frozenset({"string"})
    accepts_words: ClassVar[str] = "string"
    chars_to_mask: int = Field(ge=1)
    masking_char: str = Field(default="*", min_length=1, max_length=1)
    from_end: bool = False

    def describe(self) -> str:
        side = "last" if self.from_end else "first"
        return f"masked (the {side} {self.chars_to_mask} characters hidden)"


class Pseudonymize(OperatorSpecBase):
    operator: Literal["pseudonymize"]
    key: str | None = None

    def describe(self) -> str:
        return "replaced by a keyed pseudonym (HMAC-SHA256) that cannot be reversed"


class Encrypt(OperatorSpecBase):
    operator: Literal["encrypt"]
    key: str | None = None

    def describe(self) -> str:
        return "encrypted (AES-GCM); only the holder of the key can read it"


class Presidio(OperatorSpecBase):
    operator: Literal["presidio"]
    accepts: ClassVar[frozenset[str] | None] = frozenset({"string"})
    accepts_words: ClassVar[str] = "string"
    entities: tuple[str, ...] | None = Field(default=None, min_length=1)
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)

    def describe(self) -> str:
        return "personal details in the text replaced by placeholders such as <PERSON>"


class GeneralizeH3(OperatorSpecBase):
    operator: Literal["generalize"]
    kind: Literal["h3"]
    accepts: ClassVar[frozenset[str] | None] = avro.NUMERIC
    accepts_words: ClassVar[str] = "numeric (a lat/lon pair)"
    resolution: int = Field(ge=0, le=15)

    def describe(self) -> str:
        return f"replaced by the H3 cell (resolution {self.resolution}) that holds it"


class GeneralizeTimeBucket(OperatorSpecBase):
    operator: Literal["generalize"]
    kind: Literal["time_bucket"]
    accepts: ClassVar[frozenset[str] | None] = avro.TIMESTAMPS
    accepts_words: ClassVar[str] = "timestamp"
    size: Duration

    def output_type(self, source_type: Any) -> Any:
        return source_type

    def describe(self) -> str:
        return f"rounded down to a multiple of {humanize_duration(self.size)}"


class GeneralizeRange(OperatorSpecBase):
    operator: Literal["generalize"]
    kind: Literal["range"]
    accepts: ClassVar[frozenset[str] | None] = avro.NUMERIC
    accepts_words: ClassVar[str] = "numeric"
    width: float = Field(gt=0)

    def output_type(self, source_type: Any) -> Any:
        return source_type

    def keeps_unit(self) -> bool:
        return True

    def describe(self) -> str:
        return f"rounded down to a band {self.width:g} wide"


class GeneralizeZipPrefix(OperatorSpecBase):
    operator: Literal["generalize"]
    kind: Literal["zip_prefix"]
    accepts: ClassVar[frozenset[str] | None] = frozenset({"string"})
    accepts_words: ClassVar[str] = "string"
    length: int = Field(ge=1, le=5)

    def describe(self) -> str:
        return f"cut to its first {self.length} digits"


def _shorthand(value: Any) -> Any:
    """``drop`` is short for ``{operator: drop}``."""
    return {"operator": value} if isinstance(value, str) else value


Generalize = Annotated[
    GeneralizeH3 | GeneralizeTimeBucket | GeneralizeRange | GeneralizeZipPrefix,
    Field(discriminator="kind"),
]

OperatorSpec = Annotated[
    Keep | Drop | Redact | Replace | Mask | Pseudonymize | Encrypt | Presidio | Generalize,
    Field(discriminator="operator"),
    BeforeValidator(_shorthand),
]
"""A validated operator spec; ``spec.as_spec()`` is the dict for the operator factory."""

KEEP: Final = Keep(operator="keep")

# Operators given to a role when neither the field nor the policy's defaults name one.
# Direct identifiers, quasi-identifiers and free text have none: the policy must choose.
BUILTIN_ROLE_DEFAULTS: Final[Mapping[Role, OperatorSpecBase]] = {
    Role.PUBLIC: KEEP,
    Role.MEASURE: KEEP,
    Role.SENSITIVE: KEEP,
    Role.TIME: KEEP,
}
