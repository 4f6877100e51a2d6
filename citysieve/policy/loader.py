"""Loading policies: YAML + Avro schema in, validated :class:`DatasetPolicy` objects out.

``load_policies(path)`` is what the pipeline calls at start-up: it refuses
anything inconsistent or unsafe with a :class:`PolicyError` naming the file,
the line, the field and what to change. ``check_policies(path)`` collects every
problem and warning instead, for ``citysieve policy check``.
"""

from __future__ import annotations

import difflib
import logging
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from citysieve.errors import PolicyError
from citysieve.policy.checks import check_policy
from citysieve.policy.classes import Role, Tier
from citysieve.policy.derive import aggregate_row_schema, anon_record_schema
from citysieve.policy.findings import Findings, PolicyWarning
from citysieve.policy.model import DatasetPolicy, PolicyDocument
from citysieve.policy.schema import parse_schema
from citysieve.policy.sources import YamlDocument, read_json, read_yaml
from policies import POLICY_DIR
from schemas import SCHEMA_DIR

log = logging.getLogger(__name__)

_FIELD_SECTIONS = {("anon", "fields"), ("open", "dimensions"), ("open", "measures")}


@dataclass
class PolicyCheck:
    """Everything a check found: the policies that loaded, errors and warnings."""

    files: list[Path]
    policies: dict[str, DatasetPolicy] = field(default_factory=dict)
    errors: list[PolicyError] = field(default_factory=list)
    warnings: list[PolicyWarning] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def default_policy_dir() -> Path:
    """The policies shipped with citysieve (``policies/``)."""
    return POLICY_DIR


def load_policies(path: Path | str | None = None) -> dict[str, DatasetPolicy]:
    """Every policy under ``path`` (a directory or one file; default: the shipped ones).

    Raises the first :class:`PolicyError` (saying how many more there are); logs warnings.
    """
    check = check_policies(path)
    if check.errors:
        first = check.errors[0]
        more = len(check.errors) - 1
        if more:
            raise PolicyError(
                f"{first.detail} (and {more} more: run `citysieve policy check`)",
                path=first.path,
                line=first.line,
                field=first.field,
            )
        raise first
    for warning in check.warnings:
        log.warning("%s", warning)
    return check.policies


def load_policy(dataset: str, path: Path | str | None = None) -> DatasetPolicy:
    """The policy of one dataset, after validating every policy under ``path``."""
    policies = load_policies(path)
    if dataset not in policies:
        where = Path(path) if path is not None else default_policy_dir()
        raise PolicyError(
            f"no policy for dataset '{dataset}'; known: {', '.join(sorted(policies))}. "
            "Add a policy file for it (docs/adding-a-dataset.md)",
            path=str(where),
        )
    return policies[dataset]


def audit_retention_seconds(policies: dict[str, DatasetPolicy]) -> int:
    """``iot.audit`` is shared by every dataset: it keeps events as long as the longest policy."""
    return max((p.retention.seconds(Tier.AUDIT) for p in policies.values()), default=0)


def check_policies(path: Path | str | None = None) -> PolicyCheck:
    """Validate every policy under ``path``; never raises for a problem in the files."""
    root = Path(path) if path is not None else default_policy_dir()
    findings = Findings()
    files = _policy_files(root, findings)
    check = PolicyCheck(files)
    sources: dict[str, Path] = {}
    for file in files:
        policy = _load_file(file, findings)
        if policy is None:
            continue
        if policy.dataset in sources:
            findings.error(
                f"dataset '{policy.dataset}' already has a policy in {sources[policy.dataset]}; "
                "keep one policy per dataset",
                path=file,
                line=1,
            )
            continue
        sources[policy.dataset] = file
        check.policies[policy.dataset] = policy
    check.errors, check.warnings = findings.errors, findings.warnings
    return check


def _policy_files(root: Path, findings: Findings) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        findings.error("no such file or directory; give a policy file or a directory", path=root)
        return []
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    if not files:
        findings.error(
            "no policy files (*.yaml) here; add one per dataset (docs/adding-a-dataset.md)",
            path=root,
        )
    return files


def _load_file(file: Path, findings: Findings) -> DatasetPolicy | None:
    try:
        src = read_yaml(file)
    except PolicyError as exc:
        findings.add(exc)
        return None
    if not isinstance(src.data, dict):
        findings.error(
            "a policy is a mapping of keys (dataset, schema, purpose, ...); see docs/policies.md",
            path=file,
            line=1,
        )
        return None
    try:
        doc = PolicyDocument.model_validate(src.data)
    except ValidationError as exc:
        for error in exc.errors():
            findings.add(_translate(error, src))
        return None
    return _join_schema(src, doc, findings)


def _join_schema(
    src: YamlDocument, doc: PolicyDocument, findings: Findings
) -> DatasetPolicy | None:
    schema_path = resolve_schema_path(doc.schema_file, src.path)
    if schema_path is None:
        findings.error(
            f"schema file '{doc.schema_file}' not found next to the policy, in a schemas/ "
            f"directory beside the policies, or in {SCHEMA_DIR}; add it or fix `schema:`",
            path=src.path,
            line=src.line("schema"),
        )
        return None
    try:
        schema = parse_schema(read_json(schema_path), doc.dataset, findings)
    except PolicyError as exc:
        findings.add(exc)
        return None
    if schema is None:
        return None
    treatments = check_policy(src, doc, schema, findings)
    if treatments is None:
        return None
    values = {name: getattr(doc, name) for name in PolicyDocument.model_fields}
    policy = DatasetPolicy(
        **values, policy_path=src.path, source_schema=schema, treatments=treatments
    )
    try:
        anon_record_schema(policy)
        aggregate_row_schema(policy)
    except PolicyError as exc:
        findings.error(exc.detail, path=src.path, line=src.line("anon"), field=exc.field)
        return None
    return policy


def resolve_schema_path(schema_file: str, policy_path: Path) -> Path | None:
    """Where ``schema: <file>`` points: beside the policy, ``../schemas/``, or the shipped dir."""
    given = Path(schema_file)
    if given.is_absolute():
        return given if given.is_file() else None
    here = policy_path.parent
    for candidate in (here / given, here.parent / "schemas" / given, SCHEMA_DIR / given):
        if candidate.is_file():
            return candidate
    return None


# --- pydantic's complaints, in the policy's own words -------------------------------------------


def _translate(error: ErrorDetails, src: YamlDocument) -> PolicyError:
    loc = error["loc"]
    keys = _written_keys(src.data, loc)
    field_name = keys[2] if len(keys) > 2 and keys[:2] in _FIELD_SECTIONS else None
    return PolicyError(
        _message(error, keys, loc),
        path=str(src.path),
        line=src.line(*keys),
        field=field_name,
    )


def _written_keys(data: Any, loc: Sequence[int | str]) -> tuple[str, ...]:
    """The part of pydantic's location that is written in the file (skipping union tags)."""
    keys: list[str] = []
    node = data
    for part in loc:
        written = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        )
        if not written:
            continue
        node = node[part]
        keys.append(str(part))
    return tuple(keys)


def _message(error: ErrorDetails, keys: tuple[str, ...], loc: Sequence[int | str]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    dotted = ".".join(keys) or "the policy"
    if kind == "missing":
        return _missing(keys, str(loc[-1]))
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), loc[:-1])
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _bad_tag(kind, ctx)
    if kind == "enum" and loc and loc[-1] == "[key]":
        return f"unknown role '{keys[-1]}'; use one of {', '.join(role.value for role in Role)}"
    return f"`{dotted}`: {_lower_first(error['msg'])}"


def _missing(keys: tuple[str, ...], key: str) -> str:
    if keys == ("retention",):
        return (
            f"the retention of the {key} tier is missing; add `{key}:` under retention with "
            "an ISO-8601 duration such as P30D"
        )
    where = f"`{'.'.join(keys)}`" if keys else "the policy"
    return f"{where} is missing the key '{key}'; add it (see docs/policies.md)"


def _unknown_key(key: str, parent: Sequence[int | str]) -> str:
    model = _model_at(PolicyDocument, parent)
    if model is None:
        return f"unknown key '{key}'; remove it or fix its spelling"
    allowed = [info.alias or name for name, info in model.model_fields.items()]
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (
        f"unknown key '{key}'; {hint}remove it or fix its spelling (allowed: {', '.join(allowed)})"
    )


def _bad_tag(kind: str, ctx: dict[str, Any]) -> str:
    discriminator = str(ctx.get("discriminator", "")).strip("'")
    what = {"operator": "operator", "kind": "kind"}.get(discriminator, discriminator)
    expected = str(ctx.get("expected_tags", "")).replace("'", "")
    if kind == "union_tag_not_found":
        return (
            f"needs `{discriminator}:`, one of {expected}"
            if expected
            else (f"needs `{discriminator}:` (see docs/policies.md)")
        )
    return f"unknown {what} '{ctx.get('tag')}'; use one of {expected}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _model_at(root: type[BaseModel], path: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class validating the mapping at ``path`` (a pydantic location)."""
    candidates: list[Any] = [root]
    for part in path:
        candidates = [step for candidate in candidates for step in _steps(candidate, part)]
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    return models[0] if len(models) == 1 else None


def _steps(annotation: Any, part: int | str) -> list[Any]:
    found: list[Any] = []
    for member in _members(annotation):
        origin = get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            found.extend(_model_steps(member, part))
        elif origin is dict:
            found.append(get_args(member)[1])
        elif origin in (tuple, list):
            found.append(get_args(member)[0])
    return found


def _model_steps(model: type[BaseModel], part: int | str) -> list[Any]:
    for name, info in model.model_fields.items():
        if part in (name, info.alias):
            return [info.annotation]
    tags = [
        value
        for info in model.model_fields.values()
        if get_origin(info.annotation) is Literal
        for value in get_args(info.annotation)
    ]
    return [model] if part in tags else []


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union (through Annotated and Optional), or the annotation itself."""
    origin = get_origin(annotation)
    if origin is not None and hasattr(annotation, "__metadata__"):
        return _members(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _members(arg)]
    return [annotation]
