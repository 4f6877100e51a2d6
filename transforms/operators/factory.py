"""``build(spec)``: a policy's ``{"operator": name, ...params}`` to an operator instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from citysieve.errors import PolicyError
from citysieve.keys import KeyRing
from transforms.operators.base import Operator
from transforms.operators.drop import Drop
from transforms.operators.encrypt import Encrypt
from transforms.operators.h3_cell import GeneralizeH3
from transforms.operators.keep import Keep
from transforms.operators.mask import Mask
from transforms.operators.presidio import PresidioRedact
from transforms.operators.pseudonymize import Pseudonymize
from transforms.operators.range_bucket import GeneralizeRange
from transforms.operators.redact import Redact
from transforms.operators.replace import Replace
from transforms.operators.time_bucket import GeneralizeTimeBucket
from transforms.operators.zip_prefix import GeneralizeZipPrefix

OPERATORS: Final[dict[str, type[Operator[Any]]]] = {
    cls.name: cls
    for cls in (Keep, Drop, Redact, Replace, Mask, Pseudonymize, Encrypt, PresidioRedact)
}
GENERALIZERS: Final[dict[str, type[Operator[Any]]]] = {
    "h3": GeneralizeH3,
    "time_bucket": GeneralizeTimeBucket,
    "range": GeneralizeRange,
    "zip_prefix": GeneralizeZipPrefix,
}
OPERATOR_NAMES: Final = (*OPERATORS, "generalize")


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "parameters"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown parameter; remove it or check its spelling"
        problems.append(f"{where}: {message}")
    return "; ".join(problems)


def operator_class(spec: Mapping[str, Any], *, field: str | None = None) -> type[Operator[Any]]:
    """The class a spec names, or a PolicyError naming the choices."""
    name = spec.get("operator")
    if name == "generalize":
        kind = spec.get("kind")
        if kind not in GENERALIZERS:
            raise PolicyError(
                f"generalize needs kind: one of {sorted(GENERALIZERS)} (got {kind!r})",
                field=field,
            )
        return GENERALIZERS[kind]
    if name not in OPERATORS:
        raise PolicyError(
            f"unknown operator {name!r}; use one of {sorted(OPERATOR_NAMES)}", field=field
        )
    return OPERATORS[name]


def build(
    spec: Mapping[str, Any], *, keys: KeyRing | None = None, field: str | None = None
) -> Operator[Any]:
    """An operator built once from ``{"operator": name, ...params}``.

    Raises PolicyError for an unknown name or bad parameters (saying what to
    change), ConfigurationError when a key the operator needs is not configured.
    """
    if not isinstance(spec, Mapping):
        raise PolicyError(
            "an operator spec is a mapping such as {operator: pseudonymize, normalizer: mac}",
            field=field,
        )
    cls = operator_class(spec, field=field)
    params = {key: value for key, value in spec.items() if key != "operator"}
    try:
        config = cls.config_type.model_validate(params)
    except ValidationError as exc:
        raise PolicyError(f"operator '{spec['operator']}': {_describe(exc)}", field=field) from None
    return cls.from_config(config, keys)
