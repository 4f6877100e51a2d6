"""Policies as data: each dataset's schema (fields, classes, roles) and policy file.

The pipeline calls :func:`load_policies` once at start-up and runs on the
:class:`DatasetPolicy` objects it returns; anything inconsistent or unsafe is
refused there with a :class:`~citysieve.errors.PolicyError` naming the file,
line and field. The file format is described in docs/policies.md.
"""

from citysieve.policy.classes import TIERS, Classification, Role, Tier, TierInfo
from citysieve.policy.derive import (
    TierSchemas,
    aggregate_row_schema,
    anon_record_schema,
    arrow_schema,
    tier_schemas,
)
from citysieve.policy.loader import (
    PolicyCheck,
    audit_retention_seconds,
    check_policies,
    default_policy_dir,
    load_policies,
    load_policy,
)
from citysieve.policy.model import (
    DatasetPolicy,
    DatasetSchema,
    FieldTreatment,
    Location,
    SchemaField,
)

__all__ = [
    "TIERS",
    "Classification",
    "DatasetPolicy",
    "DatasetSchema",
    "FieldTreatment",
    "Location",
    "PolicyCheck",
    "Role",
    "SchemaField",
    "Tier",
    "TierInfo",
    "TierSchemas",
    "aggregate_row_schema",
    "anon_record_schema",
    "arrow_schema",
    "audit_retention_seconds",
    "check_policies",
    "default_policy_dir",
    "load_policies",
    "load_policy",
    "tier_schemas",
]
