"""The policy loader: shipped policies load; every refusal says file, line, field and fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from citysieve.errors import PolicyError
from citysieve.policy import (
    Tier,
    audit_retention_seconds,
    check_policies,
    load_policies,
    load_policy,
)
from tests.unit.policy_fixtures import (
    TINY_POLICY,
    SchemaEdit,
    edit_policy,
    line_of,
    set_field,
    set_record,
    write_dataset,
)

SHIPPED = (
    "air_quality",
    "alpr_reads",
    "micromobility_trips",
    "service_requests",
    "smart_meter",
    "wifi_presence",
)
ROLES = "direct_identifier, quasi_identifier, sensitive, measure, free_text, public, time"
OPERATORS = "keep, drop, redact, replace, mask, pseudonymize, encrypt, presidio, generalize"


@dataclass(frozen=True)
class Refusal:
    """A broken dataset and the exact message a user sees."""

    policy: str
    message: str
    where: str = "policy"  # which file the message points at
    needle: str | None = None  # the text on the line it points at (None: no line)
    field: str | None = None
    schema_edits: tuple[SchemaEdit, ...] = ()
    consequences: int = 0  # further errors that follow from this one


REFUSALS = {
    # --- schema attributes
    "unknown_role": Refusal(
        TINY_POLICY,
        f"unknown role 'identifier'; use one of {ROLES}",
        where="schema",
        needle='"name": "mac"',
        field="mac",
        schema_edits=(set_field("mac", role="identifier"),),
    ),
    "missing_classification": Refusal(
        TINY_POLICY,
        'has no "classification"; add one of public, sensitive, private, confidential',
        where="schema",
        needle='"name": "reading"',
        field="reading",
        schema_edits=(set_field("reading", classification=None),),
    ),
    "missing_role": Refusal(
        TINY_POLICY,
        f'has no "role"; add one of {ROLES}',
        where="schema",
        needle='"name": "reading"',
        field="reading",
        schema_edits=(set_field("reading", role=None),),
    ),
    "missing_doc": Refusal(
        TINY_POLICY,
        'has no "doc"; describe the field in a sentence (it becomes the data dictionary)',
        where="schema",
        needle='"name": "reading"',
        field="reading",
        schema_edits=(set_field("reading", doc=None),),
    ),
    "pii_below_private": Refusal(
        TINY_POLICY,
        "holds PII (MAC_ADDRESS) but is classified public; PII is at least private: "
        'set "classification": "private" (or "confidential")',
        where="schema",
        needle='"name": "mac"',
        field="mac",
        schema_edits=(set_field("mac", classification="public"),),
    ),
    "unsupported_type": Refusal(
        TINY_POLICY,
        "type 'bytes' is not supported; use string, int, long, float, double, boolean or "
        '{"type": "long", "logicalType": "timestamp-micros"}, optionally nullable as '
        '["null", T]',
        where="schema",
        needle='"name": "sensor_id"',
        field="sensor_id",
        schema_edits=(set_field("sensor_id", type="bytes"),),
    ),
    "subject_not_a_field": Refusal(
        TINY_POLICY,
        "subject field 'device' is not a field of this schema; fix \"citysieve.subject\" "
        "or add the field",
        where="schema",
        needle='"citysieve.subject"',
        field="device",
        schema_edits=(set_record(citysieve__subject=["device"]),),
    ),
    "subject_not_direct_identifier": Refusal(
        TINY_POLICY,
        "is a subject but has role public; a subject is a person-linked key: set "
        '"role": "direct_identifier"',
        where="schema",
        needle='"name": "sensor_id"',
        field="sensor_id",
        schema_edits=(set_record(citysieve__subject=["mac", "sensor_id"]),),
    ),
    "last_subject_nullable": Refusal(
        TINY_POLICY,
        "is the last subject field but is nullable, so an event could have no subject; end "
        '"citysieve.subject" with a field that is never null (e.g. the record\'s own id)',
        where="schema",
        needle='"citysieve.subject"',
        field="mac",
        schema_edits=(set_field("mac", type=["null", "string"], default=None),),
    ),
    "dataset_mismatch": Refusal(
        TINY_POLICY,
        "the schema declares \"citysieve.dataset\": 'other' but the policy of 'tiny' points "
        'at it; set "citysieve.dataset": "tiny"',
        where="schema",
        needle='"citysieve.dataset"',
        schema_edits=(set_record(citysieve__dataset="other"),),
    ),
    # --- structure of the policy file
    "unknown_key": Refusal(
        edit_policy(("  k: 5\n", "  k: 5\n  kk: 5\n")),
        "unknown key 'kk'; did you mean 'k'? remove it or fix its spelling "
        "(allowed: k, window, h3, dimensions, measures, licence)",
        needle="  kk: 5",
    ),
    "unknown_top_level_key": Refusal(
        edit_policy(("title: Tiny\n", "title: Tiny\ncolour: blue\n")),
        "unknown key 'colour'; remove it or fix its spelling (allowed: dataset, schema, title, "
        "purpose, collection, legal_basis, contact, opt_out, erasure, pseudonym_epoch, "
        "event_time, anon, open, retention, topics)",
        needle="colour: blue",
    ),
    "unknown_operator_param": Refusal(
        edit_policy(("mac: {operator: pseudonymize}", "mac: {operator: pseudonymize, salt: x}")),
        "unknown key 'salt'; remove it or fix its spelling (allowed: operator, key)",
        needle="mac: {operator",
        field="mac",
    ),
    "unknown_operator": Refusal(
        edit_policy(("mac: {operator: pseudonymize}", "mac: {operator: hash}")),
        f"unknown operator 'hash'; use one of {OPERATORS}",
        needle="mac: {operator",
        field="mac",
    ),
    "unknown_generalize_kind": Refusal(
        edit_policy(("kind: zip_prefix, length: 5", "kind: zip5")),
        "unknown kind 'zip5'; use one of h3, time_bucket, range, zip_prefix",
        needle="zip: {operator",
        field="zip",
    ),
    "operator_param_missing": Refusal(
        edit_policy(("mac: {operator: pseudonymize}", "mac: {operator: mask}")),
        "`anon.fields.mac` is missing the key 'chars_to_mask'; add it (see docs/policies.md)",
        needle="mac: {operator",
        field="mac",
    ),
    "unknown_role_default": Refusal(
        edit_policy(("  fields:\n", "  defaults:\n    identifier: drop\n  fields:\n")),
        f"unknown role 'identifier'; use one of {ROLES}",
        needle="identifier: drop",
    ),
    "retention_missing": Refusal(
        edit_policy(("  audit: P3650D\n", "")),
        "the retention of the audit tier is missing; add `audit:` under retention with an "
        "ISO-8601 duration such as P30D",
        needle="retention:",
    ),
    "calendar_duration": Refusal(
        edit_policy(("  anon: P30D", "  anon: P1M")),
        "`retention.anon`: 'P1M' uses years or months, which have no fixed length; write "
        "days instead (P365D, P30D)",
        needle="  anon: P1M",
    ),
    "duplicate_key": Refusal(
        edit_policy(("title: Tiny\n", "title: Tiny\ntitle: Tiny again\n")),
        "key 'title' is written twice (first on line 3); keep one",
        needle="title: Tiny again",
    ),
    "not_yaml": Refusal(
        edit_policy(("purpose: Test the loader.", "purpose: [unclosed")),
        "not valid YAML (expected ',' or ']', but got ':'); fix the syntax",
        needle="collection:",
    ),
    "schema_not_found": Refusal(
        edit_policy(("schema: tiny.avsc", "schema: nope.avsc")),
        "schema file 'nope.avsc' not found next to the policy, in a schemas/ directory beside "
        "the policies, or in {shipped}; add it or fix `schema:`",
        needle="schema: nope.avsc",
    ),
    # --- anon tier
    "direct_identifier_without_operator": Refusal(
        edit_policy(("    mac: {operator: pseudonymize}\n", "")),
        "is a direct identifier with no operator; add `mac: {operator: pseudonymize}` under "
        "anon.fields (or drop, redact, encrypt, replace, mask)",
        needle="  fields:",
        field="mac",
    ),
    "direct_identifier_kept": Refusal(
        edit_policy(("mac: {operator: pseudonymize}", "mac: {operator: keep}")),
        "is a direct identifier, which 'keep' (anon.fields) would let through; use "
        "pseudonymize, drop, redact, encrypt, replace or mask",
        needle="mac: {operator",
        field="mac",
    ),
    "direct_identifier_default_kept": Refusal(
        edit_policy(
            ("    mac: {operator: pseudonymize}\n", ""),
            ("  fields:\n", "  defaults:\n    direct_identifier: keep\n  fields:\n"),
        ),
        "is a direct identifier, which 'keep' (anon.defaults) would let through; use "
        "pseudonymize, drop, redact, encrypt, replace or mask",
        needle="direct_identifier: keep",
        field="mac",
    ),
    "free_text_without_presidio": Refusal(
        edit_policy(("note: {operator: presidio}", "note: {operator: keep}")),
        "is free text, which 'keep' (anon.fields) would let through; use presidio, drop, "
        "redact or replace",
        needle="note: {operator",
        field="note",
    ),
    "free_text_without_operator": Refusal(
        edit_policy(("    note: {operator: presidio}\n", "")),
        "is free text with no operator; add `note: {operator: presidio}` (or drop)",
        needle="  fields:",
        field="note",
    ),
    "quasi_identifier_without_operator": Refusal(
        edit_policy(("    zip: {operator: generalize, kind: zip_prefix, length: 5}\n", "")),
        "is a quasi-identifier with no operator; under anon.fields generalize it (e.g. "
        "`zip: {operator: generalize, kind: range, width: 10}`), keep or drop it, or pair it "
        "under anon.locations",
        needle="  fields:",
        field="zip",
    ),
    "anon_field_above_sensitive": Refusal(
        TINY_POLICY,
        "is classified private and would reach the anon tier (at most sensitive) kept as is "
        "(built-in default for role measure); pseudonymize, generalize, mask or drop it under "
        "anon.fields",
        needle="  fields:",
        field="reading",
        schema_edits=(set_field("reading", classification="private"),),
    ),
    "operator_wrong_type": Refusal(
        edit_policy(
            (
                "observed_at: {operator: generalize, kind: time_bucket, size: PT1M}",
                "observed_at: {operator: mask, chars_to_mask: 2}",
            )
        ),
        "'mask' works on string fields and this one is timestamp-micros; choose another operator",
        needle="observed_at: {operator",
        field="observed_at",
    ),
    "operator_on_unknown_field": Refusal(
        edit_policy(("  fields:\n", "  fields:\n    bogus: drop\n")),
        "is not a field of tiny.avsc; fix the name or remove it",
        needle="bogus: drop",
        field="bogus",
    ),
    "operator_on_location_member": Refusal(
        edit_policy(("  fields:\n", "  fields:\n    lat: drop\n")),
        "is part of location group 'location', which replaces the pair by its H3 cell; "
        "remove this operator",
        needle="lat: drop",
        field="lat",
    ),
    "location_field_missing": Refusal(
        edit_policy(("{lat: lat, lon: lon,", "{lat: latitude, lon: lon,")),
        "is not a field of tiny.avsc; fix the name or remove it",
        needle="location: {lat",
        field="latitude",
        consequences=1,  # lat, no longer in a group, has no operator
    ),
    "event_time_not_time": Refusal(
        edit_policy(("event_time: observed_at", "event_time: sensor_id")),
        "is the event_time but has role public; name a timestamp field with role time",
        needle="event_time:",
        field="sensor_id",
    ),
    "bucket_does_not_divide_window": Refusal(
        edit_policy(("size: PT1M}", "size: PT7M}")),
        "is bucketed to PT7M, which does not divide the PT15M window, so a bucket could span "
        "two windows; use a bucket size that divides open.window.size",
        needle="observed_at: {operator",
        field="observed_at",
    ),
    # --- k, subject and pseudonyms
    "k_below_2": Refusal(
        edit_policy(("  k: 5", "  k: 1")),
        "k is 1, and a group of fewer than 2 subjects is one identifiable person; set open.k "
        "to 2 or more (5 or more is usual)",
        needle="  k: 1",
    ),
    "k_missing_with_subject": Refusal(
        edit_policy(("  k: 5\n", "")),
        "the dataset has a subject (mac), so open.k is required; set `k:` to 2 or more (the "
        "least number of distinct subjects a published group holds)",
        needle="open:",
    ),
    "k_without_subject": Refusal(
        edit_policy(("mac: {operator: pseudonymize}", "mac: {operator: drop}")),
        'k counts distinct subjects but the schema names none ("citysieve.subject" is empty); '
        "remove open.k or declare a subject",
        needle="  k: 5",
        schema_edits=(set_record(citysieve__subject=[]),),
    ),
    "epoch_missing": Refusal(
        edit_policy(("pseudonym_epoch: P30D\n", "")),
        "pseudonyms need a key rotation period; add `pseudonym_epoch: P30D` (how long one "
        "pseudonym stays the same)",
        needle="dataset: tiny",
    ),
    "epoch_not_whole_windows": Refusal(
        edit_policy(("pseudonym_epoch: P30D", "pseudonym_epoch: PT20M")),
        "a PT20M key period is not a whole number of PT15M windows, so a window could "
        "straddle a key change and count one subject twice; make pseudonym_epoch a multiple "
        "of open.window.size",
        needle="pseudonym_epoch:",
    ),
    # --- open tier
    "window_zero": Refusal(
        edit_policy(("size: PT15M", "size: PT0S")),
        "the window size is zero; set a positive duration such as PT15M",
        needle="window: {size",
    ),
    "h3_missing": Refusal(
        edit_policy(("  h3: {finest: 9, coarsest: 7}\n", "")),
        "the anon tier has location groups, so the open tier needs `h3: {finest: N, "
        "coarsest: M}` (the cell sizes it may publish)",
        needle="open:",
    ),
    "finest_coarser_than_coarsest": Refusal(
        edit_policy(("finest: 9, coarsest: 7", "finest: 6, coarsest: 7")),
        "finest resolution 6 is coarser than coarsest 7; finest must be >= coarsest (a higher "
        "H3 resolution is a smaller cell)",
        needle="h3: {finest",
    ),
    "finest_finer_than_anon_cell": Refusal(
        edit_policy(("finest: 9, coarsest: 7", "finest: 11, coarsest: 7")),
        "finest resolution 11 is finer than the anon tier's cell of 'location' (resolution "
        "10), which the open tier is computed from; lower open.h3.finest to 10 or raise "
        "anon.locations.location.resolution",
        needle="h3: {finest",
    ),
    "field_above_public_passes_to_open": Refusal(
        edit_policy(("levels: [{kind: prefix, length: 3}, all]", "levels: [identity, all]")),
        "is classified sensitive, and level 'identity' would publish it as it is; a field "
        "above public cannot pass to the open tier unchanged: use top_n, prefix, range or all",
        needle="levels:",
        field="zip",
    ),
    "quasi_identifier_not_generalized_in_open": Refusal(
        edit_policy(("levels: [{kind: prefix, length: 3}, all]", "levels: [identity]")),
        "is a quasi-identifier published as it is; add a coarser level such as `all` so that "
        "small groups can roll up",
        needle="    zip:\n",
        field="zip",
        schema_edits=(set_field("zip", classification="public"),),
    ),
    "levels_out_of_order": Refusal(
        edit_policy(
            (
                "levels: [{kind: prefix, length: 3}, all]",
                "levels: [{kind: prefix, length: 3}, {kind: prefix, length: 5}]",
            )
        ),
        "levels go from finest to coarsest: prefix lengths must shrink and range widths must "
        "grow by whole multiples; reorder them",
        needle="levels:",
        field="zip",
    ),
    "direct_identifier_as_dimension": Refusal(
        edit_policy(("  dimensions:\n", "  dimensions:\n    mac: {levels: [all]}\n")),
        "cannot be a published key: it identifies a person or device; remove this dimension",
        needle="mac: {levels",
        field="mac",
    ),
    "dimension_dropped_from_anon": Refusal(
        edit_policy(
            ("zip: {operator: generalize, kind: zip_prefix, length: 5}", "zip: {operator: drop}")
        ),
        "is dropped from the anon record, which the open tier is computed from; keep or "
        "generalize it under anon.fields, or do not publish it",
        needle="    zip:\n",
        field="zip",
    ),
    "measure_of_quasi_identifier": Refusal(
        edit_policy(("    reading: [mean, max]\n", "    lat: [mean]\n")),
        "is a quasi-identifier; only numeric measure and sensitive fields are aggregated "
        "(publish a quasi-identifier as a dimension)",
        needle="lat: [mean]",
        field="lat",
    ),
    "unknown_aggregation": Refusal(
        edit_policy(("reading: [mean, max]", "reading: [mean, median]")),
        "`open.measures.reading.1`: unknown aggregation 'median'; use count, sum, mean, min, "
        "max or a quantile p1 .. p99",
        needle="reading: [mean",
        field="reading",
    ),
    # --- retention and rights
    "raw_kept_longer_than_anon": Refusal(
        edit_policy(("  raw: PT24H", "  raw: P60D")),
        "the raw tier (confidential) would keep events for P60D, longer than their "
        "anonymized form (P30D); keep raw no longer than anon",
        needle="  raw: P60D",
    ),
    "retention_zero": Refusal(
        edit_policy(("  open: P3650D", "  open: PT0S")),
        "the open tier keeps data for no time; set how long, e.g. P30D",
        needle="  open: PT0S",
    ),
    "opt_out_without_how": Refusal(
        edit_policy(("opt_out: {allowed: true, how: Ask.}", "opt_out: {allowed: true}")),
        "opt-out is allowed; say in `how` how residents opt out",
        needle="opt_out:",
    ),
    "opt_out_refused_without_reason": Refusal(
        edit_policy(("opt_out: {allowed: true, how: Ask.}", "opt_out: {allowed: false}")),
        "opt-out is not allowed; say why in `reason`",
        needle="opt_out:",
    ),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_when_policy_is_broken_then_check_refuses_with_file_line_field_and_fix(
    tmp_path: Path, case: Refusal
) -> None:
    from schemas import SCHEMA_DIR

    policy_path, schema_path = write_dataset(tmp_path, case.policy, case.schema_edits)
    path = policy_path if case.where == "policy" else schema_path
    line = line_of(path, case.needle) if case.needle else None
    expected = PolicyError(
        case.message.replace("{shipped}", str(SCHEMA_DIR)),
        path=str(path),
        line=line,
        field=case.field,
    )

    result = check_policies(tmp_path / "policies")

    assert str(result.errors[0]) == str(expected)
    assert len(result.errors) == 1 + case.consequences
    assert result.policies == {}


def test_when_policy_is_broken_then_load_raises_the_first_problem(tmp_path: Path) -> None:
    case = REFUSALS["k_below_2"]
    policy_path, _ = write_dataset(tmp_path, case.policy)

    with pytest.raises(PolicyError) as raised:
        load_policies(tmp_path / "policies")

    assert raised.value.path == str(policy_path)
    assert raised.value.line == line_of(policy_path, "  k: 1")
    assert str(raised.value).startswith(f"{policy_path}:{raised.value.line}: k is 1")


def test_when_several_problems_then_load_says_how_many_more(tmp_path: Path) -> None:
    write_dataset(tmp_path, edit_policy(("  k: 5", "  k: 1"), ("  raw: PT24H", "  raw: P60D")))

    with pytest.raises(PolicyError, match=r"\(and 1 more: run `citysieve policy check`\)"):
        load_policies(tmp_path / "policies")


def test_when_dlq_outlives_raw_then_it_is_a_warning_not_an_error(tmp_path: Path) -> None:
    policy_path, _ = write_dataset(tmp_path, edit_policy(("  dlq: PT24H", "  dlq: P7D")))

    result = check_policies(tmp_path / "policies")

    assert result.errors == []
    assert [str(w) for w in result.warnings] == [
        f"{policy_path}:{line_of(policy_path, '  dlq: P7D')}: the DLQ keeps untouched raw "
        "events for P7D, longer than the raw tier (P1D); shorten it unless operators need "
        "the time to replay failures"
    ]


def test_when_two_files_declare_one_dataset_then_the_second_is_refused(tmp_path: Path) -> None:
    write_dataset(tmp_path)
    copy = tmp_path / "policies" / "tiny_copy.yaml"
    copy.write_text(TINY_POLICY, encoding="utf-8")

    result = check_policies(tmp_path / "policies")

    assert [str(e) for e in result.errors] == [
        f"{copy}:1: dataset 'tiny' already has a policy in {tmp_path / 'policies' / 'tiny.yaml'}"
        "; keep one policy per dataset"
    ]


def test_when_directory_has_no_policies_then_check_says_so(tmp_path: Path) -> None:
    result = check_policies(tmp_path)

    assert [str(e) for e in result.errors] == [
        f"{tmp_path}: no policy files (*.yaml) here; add one per dataset (docs/adding-a-dataset.md)"
    ]


def test_when_tiny_is_valid_then_it_loads_with_resolved_operators(tmp_path: Path) -> None:
    write_dataset(tmp_path)

    policy = load_policy("tiny", tmp_path / "policies")

    assert policy.anon_operator_specs() == {
        "event_id": {"operator": "keep"},
        "sensor_id": {"operator": "keep"},
        "observed_at": {"operator": "generalize", "kind": "time_bucket", "size": "PT1M"},
        "mac": {"operator": "pseudonymize"},
        "note": {"operator": "presidio"},
        "zip": {"operator": "generalize", "kind": "zip_prefix", "length": 5},
        "reading": {"operator": "keep"},
    }
    assert [(loc.name, loc.lat, loc.lon, loc.resolution) for loc in policy.locations] == [
        ("location", "lat", "lon", 10)
    ]
    assert policy.locations[0].spec.as_spec() == {
        "operator": "generalize",
        "kind": "h3",
        "resolution": 10,
    }
    assert policy.treatment("reading").decided_by == "built-in default for role measure"


@pytest.mark.parametrize("dataset", SHIPPED)
def test_when_shipped_policies_load_then_every_dataset_is_there(dataset: str) -> None:
    policies = load_policies()

    policy = policies[dataset]

    assert set(policies) == set(SHIPPED)
    assert policy.policy_path.name == f"{dataset}.yaml"
    assert policy.schema_path.name == f"{dataset}.avsc"
    assert policy.retention.seconds(Tier.RAW) <= policy.retention.seconds(Tier.ANON)
    assert policy.topic("anon") == f"iot.anon.{dataset}"
    assert policy.topic(Tier.AUDIT) == "iot.audit"


@pytest.mark.parametrize(
    ("dataset", "subject", "k"),
    [
        ("wifi_presence", ("mac",), 5),
        ("alpr_reads", ("plate",), 5),
        ("air_quality", (), None),
        (
            "service_requests",
            ("reporter_phone", "reporter_email", "reporter_name", "request_id"),
            5,
        ),
        ("micromobility_trips", ("rider_id",), 5),
        ("smart_meter", ("meter_id",), 10),
    ],
)
def test_when_shipped_policy_loads_then_subject_and_k_match_the_design(
    dataset: str, subject: tuple[str, ...], k: int | None
) -> None:
    policy = load_policy(dataset)

    assert (policy.subject, policy.k) == (subject, k)


def test_when_retention_is_read_then_it_is_in_seconds() -> None:
    policy = load_policy("wifi_presence")

    assert policy.retention_seconds() == {
        Tier.RAW: 86_400,
        Tier.DLQ: 86_400,
        Tier.ANON: 30 * 86_400,
        Tier.OPEN: 3650 * 86_400,
        Tier.AUDIT: 3650 * 86_400,
    }
    assert policy.open.window.size_seconds == 900
    assert policy.open.window.allowed_lateness_seconds == 300
    assert audit_retention_seconds(load_policies()) == 3650 * 86_400


def test_when_dataset_has_no_policy_then_load_policy_names_the_known_ones() -> None:
    with pytest.raises(PolicyError, match="no policy for dataset 'parking'; known: air_quality"):
        load_policy("parking")
