"""What a policy check found: errors (the policy is refused) and warnings (it loads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from citysieve.errors import PolicyError, locate


@dataclass(frozen=True)
class PolicyWarning:
    """Something allowed but worth a second look; printed by ``citysieve policy check``."""

    message: str
    path: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        return f"{locate(self.path, self.line, self.field)}: {self.message}"


@dataclass
class Findings:
    """Collects every problem of a run, so a user sees them all at once."""

    errors: list[PolicyError] = field(default_factory=list)
    warnings: list[PolicyWarning] = field(default_factory=list)

    def error(
        self, message: str, *, path: Path, line: int | None = None, field: str | None = None
    ) -> None:
        self.errors.append(PolicyError(message, path=str(path), line=line, field=field))

    def warn(
        self, message: str, *, path: Path, line: int | None = None, field: str | None = None
    ) -> None:
        self.warnings.append(PolicyWarning(message, str(path), line, field))

    def add(self, error: PolicyError) -> None:
        self.errors.append(error)
