"""Errors of the ledger app, each with a stable ``code`` and the HTTP status the API renders."""

from __future__ import annotations


class LedgerError(Exception):
    code = "ledger_error"
    status = 400

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class InvalidRange(LedgerError):
    """An index, size or range outside the signed log, or a malformed number."""

    code = "invalid_range"


class LedgerNotFound(LedgerError):
    code = "not_found"
    status = 404


class LedgerTampered(LedgerError):
    """The database disagrees with the tree the sequencer verified: stored entries, nodes, the
    head or the latest checkpoint were changed behind the append-only triggers' back. Nothing is
    signed until an operator has looked (docs/threat-model.md, "The ledger's operator")."""

    code = "ledger_tampered"
    status = 503

    def __init__(self, message: str, *, first_index: int | None = None) -> None:
        super().__init__(message)
        self.first_index = first_index
