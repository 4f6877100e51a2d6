"""One root exception with a branch per kind of failure.

Messages say what went wrong *and what to do*; callers catch the branch they
can handle and let the rest reach the command line, which prints the message
without a traceback.
"""

from __future__ import annotations


class CitysieveError(Exception):
    """Root of every error citysieve raises on purpose."""


class ConfigurationError(CitysieveError):
    """A setting, policy or schema is missing, inconsistent or unsafe."""


class PolicyError(ConfigurationError):
    """A policy or schema file is refused at start-up.

    ``path`` and ``line`` point at what to change; ``field`` names the field.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.field = field
        self.detail = message
        super().__init__(f"{locate(path, line, field)}: {message}")


def locate(path: str | None, line: int | None = None, field: str | None = None) -> str:
    """``file:line: field 'name'``, the prefix of every policy message (errors and warnings)."""
    where = path or "<policy>"
    if line is not None:
        where = f"{where}:{line}"
    if field:
        where = f"{where}: field '{field}'"
    return where


class RuntimeDependencyError(ConfigurationError):
    """A program the project needs (java, mvn) is missing or broken."""


class BrokerError(CitysieveError):
    """The Kafka broker could not be started, reached or stopped."""


class InputValidationError(CitysieveError):
    """An event could not be parsed or does not match its dataset's schema.

    ``reason`` is a short machine-readable code that travels in DLQ headers.
    """

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class PrivacyViolationError(CitysieveError):
    """Something would leave a tier it is not allowed to leave (refused, never logged)."""
