"""The rules a policy and its schema must satisfy together, each refusal saying what to change.

Structure (types, required and unknown keys, operator names and parameters) is
checked by the pydantic model; these are the rules that need both files: which
operator each field ends up with, whether a tier would carry a field above its
class, whether the open tier's k, window, cells and keys are safe.
docs/policies.md lists them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from citysieve.policy import avro
from citysieve.policy.classes import TIERS, Classification, Role, Tier
from citysieve.policy.durations import format_duration
from citysieve.policy.findings import Findings
from citysieve.policy.model import (
    DATASET_NAME,
    AllLevel,
    DatasetSchema,
    FieldTreatment,
    IdentityLevel,
    LevelBase,
    PolicyDocument,
    PrefixLevel,
    RangeLevel,
    SchemaField,
)
from citysieve.policy.operators import (
    ALLOWED_BY_ROLE,
    BUILTIN_ROLE_DEFAULTS,
    GeneralizeH3,
    GeneralizeTimeBucket,
    OperatorSpecBase,
    Pseudonymize,
)
from citysieve.policy.sources import YamlDocument

ANON_CEILING: Final = TIERS[Tier.ANON].ceiling
_ROLE_WORDS: Final = {
    Role.DIRECT_IDENTIFIER: "a direct identifier",
    Role.QUASI_IDENTIFIER: "a quasi-identifier",
    Role.SENSITIVE: "a sensitive value",
    Role.MEASURE: "a measure",
    Role.FREE_TEXT: "free text",
    Role.PUBLIC: "a public field",
    Role.TIME: "a time",
}
_NEVER_PUBLISHED_KEYS: Final = {
    Role.DIRECT_IDENTIFIER: "it identifies a person or device",
    Role.FREE_TEXT: "it is free text",
    Role.TIME: "time is published as the window",
}
_AGGREGATED_ROLES: Final = (Role.MEASURE, Role.SENSITIVE)


@dataclass(frozen=True)
class _Context:
    src: YamlDocument
    doc: PolicyDocument
    schema: DatasetSchema
    findings: Findings

    def error(self, message: str, *keys: object, field: str | None = None) -> None:
        self.findings.error(message, path=self.src.path, line=self.src.line(*keys), field=field)

    def warn(self, message: str, *keys: object, field: str | None = None) -> None:
        self.findings.warn(message, path=self.src.path, line=self.src.line(*keys), field=field)

    def not_in_schema(self, name: str, *keys: object) -> None:
        self.error(
            f"is not a field of {self.schema.path.name}; fix the name or remove it",
            *keys,
            field=name,
        )


def check_policy(
    src: YamlDocument, doc: PolicyDocument, schema: DatasetSchema, findings: Findings
) -> tuple[FieldTreatment, ...] | None:
    """The treatment of every source field, or None after recording why the policy is refused."""
    ctx = _Context(src, doc, schema, findings)
    before = len(findings.errors)
    _check_dataset_name(ctx)
    members = _location_members(ctx)
    _check_field_operators(ctx, members)
    treated = [_treat(ctx, field, members) for field in schema.fields]
    treatments = {t.field.name: t for t in treated if t is not None}
    _check_event_time(ctx, treatments)
    _check_subject(ctx, treatments.values())
    _check_window_and_cells(ctx)
    _check_dimensions(ctx, treatments, members)
    _check_measures(ctx, treatments)
    _check_retention(ctx)
    _check_opt_out(ctx)
    if len(findings.errors) > before:
        return None
    return tuple(treatments.values())


def _check_dataset_name(ctx: _Context) -> None:
    if not DATASET_NAME.match(ctx.doc.dataset):
        ctx.error(
            f"dataset name '{ctx.doc.dataset}' is not usable in topic names; use lower-case "
            "letters, digits and underscores, starting with a letter",
            "dataset",
        )


# --- the anon tier ----------------------------------------------------------------------------


def _location_members(ctx: _Context) -> dict[str, str]:
    """Field name -> the location group that folds it into an H3 cell."""
    members: dict[str, str] = {}
    for group, pair in ctx.doc.anon.locations.items():
        keys = ("anon", "locations", group)
        if not DATASET_NAME.match(group):
            ctx.error(
                f"location group name '{group}' becomes a column name; use lower-case letters, "
                "digits and underscores",
                *keys,
            )
        for axis in ("lat", "lon"):
            name = getattr(pair, axis)
            field = ctx.schema.field(name)
            if field is None:
                ctx.not_in_schema(name, *keys, axis)
            elif not avro.is_numeric(field.avro_type):
                ctx.error(
                    f"is the {axis} of location group '{group}' but is not a number; "
                    "a pair is two numeric fields in degrees",
                    *keys,
                    axis,
                    field=name,
                )
            elif name in members:
                ctx.error(
                    f"is already in location group '{members[name]}'; a field belongs to one group",
                    *keys,
                    axis,
                    field=name,
                )
            else:
                members[name] = group
    return members


def _check_field_operators(ctx: _Context, members: dict[str, str]) -> None:
    for name, spec in ctx.doc.anon.fields.items():
        keys = ("anon", "fields", name)
        if ctx.schema.field(name) is None:
            ctx.not_in_schema(name, *keys)
        elif name in members:
            ctx.error(
                f"is part of location group '{members[name]}', which replaces the pair by "
                "its H3 cell; remove this operator",
                *keys,
                field=name,
            )
        elif isinstance(spec, GeneralizeH3):
            ctx.error(
                "generalize kind h3 turns a lat/lon pair into a cell; declare the pair "
                "under anon.locations instead",
                *keys,
                field=name,
            )


def _choose(
    ctx: _Context, field: SchemaField
) -> tuple[OperatorSpecBase | None, tuple[str, ...], str]:
    """The operator for ``field`` (field, then role default, then built-in) and where it is."""
    anon = ctx.doc.anon
    if field.name in anon.fields:
        return anon.fields[field.name], ("anon", "fields", field.name), "anon.fields"
    if field.role in anon.defaults:
        keys = ("anon", "defaults", field.role.value)
        return anon.defaults[field.role], keys, "anon.defaults"
    builtin = BUILTIN_ROLE_DEFAULTS.get(field.role)
    return builtin, ("anon", "fields"), f"built-in default for role {field.role.value}"


def _missing_operator(field: SchemaField) -> str:
    name = field.name
    if field.role is Role.DIRECT_IDENTIFIER:
        return (
            f"is a direct identifier with no operator; add `{name}: {{operator: pseudonymize}}` "
            "under anon.fields (or drop, redact, encrypt, replace, mask)"
        )
    if field.role is Role.FREE_TEXT:
        return f"is free text with no operator; add `{name}: {{operator: presidio}}` (or drop)"
    return (
        f"is a quasi-identifier with no operator; under anon.fields generalize it "
        f"(e.g. `{name}: {{operator: generalize, kind: range, width: 10}}`), keep or drop it, "
        "or pair it under anon.locations"
    )


def _treat(ctx: _Context, field: SchemaField, members: dict[str, str]) -> FieldTreatment | None:
    if field.name in members:
        group = members[field.name]
        return FieldTreatment(field, None, f"anon.locations.{group}", location=group)
    spec, keys, decided_by = _choose(ctx, field)
    if spec is None:
        ctx.error(_missing_operator(field), "anon", "fields", field=field.name)
        return None
    allowed = ALLOWED_BY_ROLE.get(field.role)
    if allowed is not None and spec.operator not in allowed:
        ctx.error(
            f"is {_ROLE_WORDS[field.role]}, which '{spec.operator}' ({decided_by}) would let "
            f"through; use {_or_list(allowed)}",
            *keys,
            field=field.name,
        )
        return None
    if not spec.accepts_type(field.avro_type):
        base = avro.split_type(field.avro_type)[0]
        ctx.error(
            f"'{spec.label}' works on {spec.accepts_words} fields and this one is {base}; "
            "choose another operator",
            *keys,
            field=field.name,
        )
        return None
    treatment = FieldTreatment(field, spec, decided_by)
    after = treatment.classification_after
    if not treatment.removed and after.rank > ANON_CEILING.rank:
        ctx.error(
            f"is classified {after.value} and would reach the anon tier (at most "
            f"{ANON_CEILING.value}) {spec.describe()} ({decided_by}); pseudonymize, "
            "generalize, mask or drop it under anon.fields",
            *keys,
            field=field.name,
        )
    return treatment


def _check_event_time(ctx: _Context, treatments: dict[str, FieldTreatment]) -> None:
    name = ctx.doc.event_time
    field = ctx.schema.field(name)
    if field is None:
        ctx.not_in_schema(name, "event_time")
        return
    if field.role is not Role.TIME or not avro.is_timestamp(field.avro_type):
        ctx.error(
            f"is the event_time but has role {field.role.value}; name a timestamp field "
            "with role time",
            "event_time",
            field=name,
        )
        return
    treatment = treatments.get(name)
    if treatment is None:
        return
    keys = ("anon", "fields", name)
    if treatment.removed:
        ctx.error(
            "is the event_time, which the open tier's windows need from the anon record; "
            "keep it or bucket it (generalize kind time_bucket)",
            *keys,
            field=name,
        )
    elif isinstance(treatment.spec, GeneralizeTimeBucket):
        bucket, window = treatment.spec.size, ctx.doc.open.window.size
        if bucket.total_seconds() <= 0 or window % bucket:
            ctx.error(
                f"is bucketed to {format_duration(bucket)}, which does not divide the "
                f"{format_duration(window)} window, so a bucket could span two windows; "
                "use a bucket size that divides open.window.size",
                *keys,
                field=name,
            )


# --- subject, k and pseudonyms ----------------------------------------------------------------


def _check_subject(ctx: _Context, treatments: Iterable[FieldTreatment]) -> None:
    doc, subject = ctx.doc, ctx.schema.subject
    k = doc.open.k
    if subject and k is None:
        ctx.error(
            f"the dataset has a subject ({', '.join(subject)}), so open.k is required; "
            "set `k:` to 2 or more (the least number of distinct subjects a published "
            "group holds)",
            "open",
        )
    elif not subject and k is not None:
        ctx.error(
            'k counts distinct subjects but the schema names none ("citysieve.subject" is '
            "empty); remove open.k or declare a subject",
            "open",
            "k",
        )
    elif k is not None and k < 2:
        ctx.error(
            f"k is {k}, and a group of fewer than 2 subjects is one identifiable person; "
            "set open.k to 2 or more (5 or more is usual)",
            "open",
            "k",
        )
    pseudonymizes = any(isinstance(t.spec, Pseudonymize) for t in treatments)
    if subject or pseudonymizes:
        _check_epoch(ctx)


def _check_epoch(ctx: _Context) -> None:
    epoch, window = ctx.doc.pseudonym_epoch, ctx.doc.open.window.size
    if epoch is None or epoch.total_seconds() <= 0:
        ctx.error(
            "pseudonyms need a key rotation period; add `pseudonym_epoch: P30D` (how long "
            "one pseudonym stays the same)",
            "pseudonym_epoch",
        )
    elif window.total_seconds() > 0 and epoch % window:
        ctx.error(
            f"a {format_duration(epoch)} key period is not a whole number of "
            f"{format_duration(window)} windows, so a window could straddle a key change and "
            "count one subject twice; make pseudonym_epoch a multiple of open.window.size",
            "pseudonym_epoch",
        )


# --- the open tier ----------------------------------------------------------------------------


def _check_window_and_cells(ctx: _Context) -> None:
    open_tier, locations = ctx.doc.open, ctx.doc.anon.locations
    if open_tier.window.size.total_seconds() <= 0:
        ctx.error(
            "the window size is zero; set a positive duration such as PT15M",
            "open",
            "window",
            "size",
        )
    h3 = open_tier.h3
    if h3 is None:
        if locations:
            ctx.error(
                "the anon tier has location groups, so the open tier needs "
                "`h3: {finest: N, coarsest: M}` (the cell sizes it may publish)",
                "open",
            )
        return
    if not locations:
        ctx.error(
            "there is no location group under anon.locations, so no cell to publish; "
            "remove open.h3 or add a group",
            "open",
            "h3",
        )
    if h3.finest < h3.coarsest:
        ctx.error(
            f"finest resolution {h3.finest} is coarser than coarsest {h3.coarsest}; finest "
            "must be >= coarsest (a higher H3 resolution is a smaller cell)",
            "open",
            "h3",
            "finest",
        )
    for group, pair in locations.items():
        if h3.finest > pair.resolution:
            ctx.error(
                f"finest resolution {h3.finest} is finer than the anon tier's cell of '{group}' "
                f"(resolution {pair.resolution}), which the open tier is computed from; lower "
                f"open.h3.finest to {pair.resolution} or raise "
                f"anon.locations.{group}.resolution",
                "open",
                "h3",
                "finest",
            )


def _check_dimensions(
    ctx: _Context, treatments: dict[str, FieldTreatment], members: dict[str, str]
) -> None:
    for name, dimension in ctx.doc.open.dimensions.items():
        keys = ("open", "dimensions", name)
        field = ctx.schema.field(name)
        if field is None:
            ctx.not_in_schema(name, *keys)
        elif name in members:
            ctx.error(
                f"is part of location group '{members[name]}', which is published as its "
                "H3 cell; remove this dimension",
                *keys,
                field=name,
            )
        elif field.role in _NEVER_PUBLISHED_KEYS:
            ctx.error(
                f"cannot be a published key: {_NEVER_PUBLISHED_KEYS[field.role]}; "
                "remove this dimension",
                *keys,
                field=name,
            )
        elif _carried(ctx, treatments, field, keys):
            _check_levels(ctx, field, dimension.levels, keys)


def _carried(
    ctx: _Context,
    treatments: dict[str, FieldTreatment],
    field: SchemaField,
    keys: tuple[str, ...],
) -> bool:
    """Whether the anon record, which the open tier is computed from, carries ``field``."""
    treatment = treatments.get(field.name)
    if treatment is not None and treatment.removed:
        ctx.error(
            "is dropped from the anon record, which the open tier is computed from; keep or "
            "generalize it under anon.fields, or do not publish it",
            *keys,
            field=field.name,
        )
        return False
    return treatment is not None


def _check_levels(
    ctx: _Context, field: SchemaField, levels: tuple[LevelBase, ...], keys: tuple[str, ...]
) -> None:
    name, base = field.name, avro.split_type(field.avro_type)[0]
    for index, level in enumerate(levels):
        at = (*keys, "levels", index)
        if isinstance(level, IdentityLevel) and field.classification is not Classification.PUBLIC:
            ctx.error(
                f"is classified {field.classification.value}, and level 'identity' would "
                "publish it as it is; a field above public cannot pass to the open tier "
                "unchanged: use top_n, prefix, range or all",
                *at,
                field=name,
            )
        elif isinstance(level, IdentityLevel) and index > 0:
            ctx.error("level 'identity' can only be the first (finest) level", *at, field=name)
        elif isinstance(level, AllLevel) and index < len(levels) - 1:
            ctx.error("level 'all' can only be the last (coarsest) level", *at, field=name)
        elif isinstance(level, PrefixLevel) and base != "string":
            ctx.error(f"level 'prefix' needs a string field; this one is {base}", *at, field=name)
        elif isinstance(level, RangeLevel) and base not in avro.NUMERIC:
            ctx.error(f"level 'range' needs a numeric field; this one is {base}", *at, field=name)
    _check_level_order(ctx, name, levels, keys)
    if field.role is Role.QUASI_IDENTIFIER and not any(level.generalizes for level in levels):
        ctx.error(
            "is a quasi-identifier published as it is; add a coarser level such as `all` "
            "so that small groups can roll up",
            *keys,
            field=name,
        )


def _check_level_order(
    ctx: _Context, name: str, levels: tuple[LevelBase, ...], keys: tuple[str, ...]
) -> None:
    prefixes = [level.length for level in levels if isinstance(level, PrefixLevel)]
    widths = [level.width for level in levels if isinstance(level, RangeLevel)]
    coarser_prefixes = all(a > b for a, b in itertools.pairwise(prefixes))
    coarser_widths = all(b > a and (b / a).is_integer() for a, b in itertools.pairwise(widths))
    if not (coarser_prefixes and coarser_widths):
        ctx.error(
            "levels go from finest to coarsest: prefix lengths must shrink and range widths "
            "must grow by whole multiples; reorder them",
            *keys,
            "levels",
            field=name,
        )


def _check_measures(ctx: _Context, treatments: dict[str, FieldTreatment]) -> None:
    for name, aggregations in ctx.doc.open.measures.items():
        keys = ("open", "measures", name)
        field = ctx.schema.field(name)
        if field is None:
            ctx.not_in_schema(name, *keys)
        elif field.role not in _AGGREGATED_ROLES or not avro.is_numeric(field.avro_type):
            ctx.error(
                f"is {_ROLE_WORDS[field.role]}; only numeric measure and sensitive fields are "
                "aggregated (publish a quasi-identifier as a dimension)",
                *keys,
                field=name,
            )
        elif not aggregations:
            ctx.error(
                "lists no aggregation; add some of count, sum, mean, min, max, p50, p90",
                *keys,
                field=name,
            )
        elif len(set(aggregations)) < len(aggregations):
            ctx.error("lists an aggregation twice; keep one of each", *keys, field=name)
        else:
            _carried(ctx, treatments, field, keys)


# --- retention and residents' rights ------------------------------------------------------------


def _check_retention(ctx: _Context) -> None:
    retention = ctx.doc.retention
    for tier in Tier:
        if retention.seconds(tier) <= 0:
            ctx.error(
                f"the {tier.value} tier keeps data for no time; set how long, e.g. P30D",
                "retention",
                tier.value,
            )
    anon = retention.duration(Tier.ANON)
    for tier in (Tier.RAW, Tier.DLQ):
        kept = retention.duration(tier)
        if kept > anon:
            ctx.error(
                f"the {tier.value} tier (confidential) would keep events for "
                f"{format_duration(kept)}, longer than their anonymized form "
                f"({format_duration(anon)}); keep {tier.value} no longer than anon",
                "retention",
                tier.value,
            )
    if retention.dlq > retention.raw:
        ctx.warn(
            f"the DLQ keeps untouched raw events for {format_duration(retention.dlq)}, longer "
            f"than the raw tier ({format_duration(retention.raw)}); shorten it unless "
            "operators need the time to replay failures",
            "retention",
            "dlq",
        )


def _check_opt_out(ctx: _Context) -> None:
    opt_out = ctx.doc.opt_out
    if opt_out.allowed and not opt_out.how:
        ctx.error("opt-out is allowed; say in `how` how residents opt out", "opt_out")
    if not opt_out.allowed and not opt_out.reason:
        ctx.error("opt-out is not allowed; say why in `reason`", "opt_out")


def _or_list(names: Iterable[str]) -> str:
    items = list(names)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"
