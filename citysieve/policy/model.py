"""The policy model: a dataset's schema (fields, classes, roles) and its policy file.

Everything is frozen and refuses unknown keys. :class:`PolicyDocument` is the
YAML file as written; :class:`DatasetPolicy` is that file joined with its
validated schema and the operator resolved for every field, which is what the
pipeline runs on. docs/policies.md describes every key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from citysieve.policy import avro
from citysieve.policy.classes import TIERS, Classification, Role, Tier
from citysieve.policy.durations import Duration, humanize_duration
from citysieve.policy.operators import (
    GeneralizeH3,
    OperatorSpec,
    OperatorSpecBase,
)

DATASET_NAME: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_QUANTILE: Final = re.compile(r"^p([1-9][0-9]?)$")
PLAIN_AGGREGATIONS: Final = ("count", "sum", "mean", "min", "max")
SUBJECT_PSEUDONYM: Final = "subject_pseudonym"


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- the schema side -------------------------------------------------------------------------


class SchemaField(FrozenModel):
    """One field of a dataset's Avro schema, with the citysieve attributes it carries."""

    name: str
    avro_type: Any
    doc: str
    classification: Classification
    role: Role
    pii_type: str | None = None
    unit: str | None = None
    line: int | None = None

    @property
    def nullable(self) -> bool:
        return avro.is_nullable(self.avro_type)


class DatasetSchema(FrozenModel):
    """A dataset's source schema (``schemas/<dataset>.avsc``), validated."""

    dataset: str
    path: Path
    avro: dict[str, Any]
    subject: tuple[str, ...]
    subject_line: int | None = None
    fields: tuple[SchemaField, ...]

    def field(self, name: str) -> SchemaField | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


# --- the policy file ---------------------------------------------------------------------------


class Collection(FrozenModel):
    what: str
    how: str
    device: str
    placement: str


class Contact(FrozenModel):
    name: str
    email: str
    url: str | None = None


class OptOut(FrozenModel):
    allowed: bool
    how: str | None = None
    reason: str | None = None


class Erasure(FrozenModel):
    how: str


class LocationGroup(FrozenModel):
    lat: str
    lon: str
    resolution: int = Field(ge=0, le=15)


class AnonTier(FrozenModel):
    locations: dict[str, LocationGroup] = Field(default_factory=dict)
    defaults: dict[Role, OperatorSpec] = Field(default_factory=dict)
    fields: dict[str, OperatorSpec] = Field(default_factory=dict)


class Window(FrozenModel):
    size: Duration
    allowed_lateness: Duration

    @property
    def size_seconds(self) -> int:
        return int(self.size.total_seconds())

    @property
    def allowed_lateness_seconds(self) -> int:
        return int(self.allowed_lateness.total_seconds())


class H3Levels(FrozenModel):
    finest: int = Field(ge=0, le=15)
    coarsest: int = Field(ge=0, le=15)

    @property
    def resolutions(self) -> tuple[int, ...]:
        """Finest first, the order a small group rolls up in."""
        return tuple(range(self.finest, self.coarsest - 1, -1))


class LevelBase(FrozenModel):
    kind: str

    @property
    def generalizes(self) -> bool:
        return True

    def describe(self) -> str:
        raise NotImplementedError


class IdentityLevel(LevelBase):
    kind: Literal["identity"]

    @property
    def generalizes(self) -> bool:
        return False

    def describe(self) -> str:
        return "as is"


class TopNLevel(LevelBase):
    kind: Literal["top_n"]
    n: int = Field(ge=1)
    other: str = "other"

    def describe(self) -> str:
        return f"the {self.n} most common values, the rest as '{self.other}'"


class PrefixLevel(LevelBase):
    kind: Literal["prefix"]
    length: int = Field(ge=1)

    def describe(self) -> str:
        return f"first {self.length} characters"


class RangeLevel(LevelBase):
    kind: Literal["range"]
    width: float = Field(gt=0)

    def describe(self) -> str:
        return f"bands {self.width:g} wide"


class AllLevel(LevelBase):
    kind: Literal["all"]
    label: str = "*"

    def describe(self) -> str:
        return f"all together ('{self.label}')"


def _level_shorthand(value: Any) -> Any:
    """``all`` is short for ``{kind: all}``."""
    return {"kind": value} if isinstance(value, str) else value


Level = Annotated[
    IdentityLevel | TopNLevel | PrefixLevel | RangeLevel | AllLevel,
    Field(discriminator="kind"),
    BeforeValidator(_level_shorthand),
]


class Dimension(FrozenModel):
    """A quasi-identifier published as a grouping key, with its roll-up levels (finest first)."""

    levels: tuple[Level, ...] = Field(min_length=1)


def _check_aggregation(name: str) -> str:
    if name in PLAIN_AGGREGATIONS or _QUANTILE.match(name):
        return name
    raise PydanticCustomError(
        "aggregation",
        "unknown aggregation '{name}'; use count, sum, mean, min, max or a quantile p1 .. p99",
        {"name": name},
    )


Aggregation = Annotated[str, AfterValidator(_check_aggregation)]


class OpenTier(FrozenModel):
    k: int | None = None
    window: Window
    h3: H3Levels | None = None
    dimensions: dict[str, Dimension] = Field(default_factory=dict)
    measures: dict[str, tuple[Aggregation, ...]] = Field(default_factory=dict)
    licence: str


class Retention(FrozenModel):
    raw: Duration
    dlq: Duration
    anon: Duration
    open: Duration
    audit: Duration

    def duration(self, tier: Tier | str) -> timedelta:
        value: timedelta = getattr(self, Tier(tier).value)
        return value

    def seconds(self, tier: Tier | str) -> int:
        return int(self.duration(tier).total_seconds())

    def as_seconds(self) -> dict[Tier, int]:
        return {tier: self.seconds(tier) for tier in Tier}


class Topics(FrozenModel):
    partitions: int = Field(ge=1)


class PolicyDocument(FrozenModel):
    """One ``policies/<dataset>.yaml`` file as written."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True)

    dataset: str
    schema_file: str = Field(alias="schema")
    title: str
    purpose: str
    collection: Collection
    legal_basis: str
    contact: Contact
    opt_out: OptOut
    erasure: Erasure
    pseudonym_epoch: Duration | None = None
    event_time: str
    anon: AnonTier
    open: OpenTier
    retention: Retention
    topics: Topics


# --- the policy the pipeline runs on -----------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """A lat/lon pair of the source replaced by one H3 cell (``h3_cell`` or ``<name>_h3_cell``)."""

    name: str
    lat: str
    lon: str
    resolution: int

    @property
    def prefix(self) -> str:
        return "" if self.name == "location" else f"{self.name}_"

    @property
    def cell_column(self) -> str:
        return f"{self.prefix}h3_cell"

    @property
    def resolution_column(self) -> str:
        return f"{self.prefix}h3_resolution"

    @property
    def spec(self) -> GeneralizeH3:
        """The operator that turns the pair into the anon tier's cell."""
        return GeneralizeH3(operator="generalize", kind="h3", resolution=self.resolution)


@dataclass(frozen=True)
class FieldTreatment:
    """What the anon tier does with one source field, and where that was decided."""

    field: SchemaField
    spec: OperatorSpecBase | None
    decided_by: str  # "anon.fields", "anon.defaults", "built-in default" or "anon.locations.<g>"
    location: str | None = None

    @property
    def removed(self) -> bool:
        """Not in the anon record as itself (dropped, or folded into a location cell)."""
        return self.location is not None or (self.spec is not None and self.spec.removes_field)

    @property
    def classification_after(self) -> Classification:
        if self.spec is None:
            return self.field.classification
        return self.spec.classification_after(self.field.classification)

    def describe(self) -> str:
        if self.location is not None:
            return f"replaced by the H3 cell of '{self.location}'"
        assert self.spec is not None  # noqa: S101 - a treatment has a spec or a location
        return self.spec.describe()


class DatasetPolicy(PolicyDocument):
    """A dataset's policy joined with its validated schema: what the pipeline runs on."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, arbitrary_types_allowed=True
    )

    policy_path: Path
    source_schema: DatasetSchema
    treatments: tuple[FieldTreatment, ...]

    @property
    def schema_path(self) -> Path:
        return self.source_schema.path

    @property
    def subject(self) -> tuple[str, ...]:
        """Subject fields in order; an event's subject is the first that is not null."""
        return self.source_schema.subject

    @property
    def has_subject(self) -> bool:
        return bool(self.subject)

    @property
    def k(self) -> int | None:
        return self.open.k

    @property
    def locations(self) -> tuple[Location, ...]:
        return tuple(
            Location(name, group.lat, group.lon, group.resolution)
            for name, group in self.anon.locations.items()
        )

    def treatment(self, field: str) -> FieldTreatment:
        for treatment in self.treatments:
            if treatment.field.name == field:
                return treatment
        raise KeyError(field)

    def anon_operator_specs(self) -> dict[str, dict[str, Any]]:
        """Field -> spec dict for ``transforms.operators.build``; location pairs excluded."""
        return {t.field.name: t.spec.as_spec() for t in self.treatments if t.spec is not None}

    def topic(self, tier: Tier | str) -> str:
        return TIERS[Tier(tier)].topic_for(self.dataset)

    def retention_seconds(self) -> dict[Tier, int]:
        return self.retention.as_seconds()

    def describe_window(self) -> str:
        window = self.open.window
        return (
            f"{humanize_duration(window.size)} windows, "
            f"late events accepted for {humanize_duration(window.allowed_lateness)}"
        )
