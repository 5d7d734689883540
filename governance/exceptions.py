"""Errors of the governance domain. Each has a stable machine ``code`` and the HTTP status the
API renders it with (``api.errors``)."""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
"""Database errors a retry can cure (a dropped connection, a failover): tasks retry them with
backoff; any other error is a failure to record, not to repeat."""


UNKNOWN_FIELD = "Unknown field."
"""The reason given for a field that an input does not take."""


class GovernanceError(Exception):
    code = "governance_error"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class NotFound(GovernanceError):
    """Missing, or not visible to the caller: the two are never told apart (no existence leak)."""

    code = "not_found"
    status = 404


class PermissionDenied(GovernanceError):
    """The caller can see the object but may not take this action on it."""

    code = "permission_denied"
    status = 403


class Conflict(GovernanceError):
    code = "conflict"
    status = 409


class InvalidInput(GovernanceError):
    code = "invalid"
    status = 400

    @classmethod
    def field(cls, name: str, reason: str) -> InvalidInput:
        """A 400 naming one field and what is wrong with it."""
        return cls(f"{name}: {reason}", fields={name: [reason]})

    @classmethod
    def unknown_fields(cls, names: list[str]) -> InvalidInput:
        """A 400 naming each field the input does not take (``api.strict`` does the same for
        the serializers): a misspelt field is refused, never dropped."""
        return cls(
            "Invalid input: " + "; ".join(f"{n}: {UNKNOWN_FIELD}" for n in names),
            fields={n: [UNKNOWN_FIELD] for n in names},
        )
