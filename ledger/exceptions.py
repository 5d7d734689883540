"""Errors of the ledger app.

:class:`LedgerError` and its subclasses carry a stable ``code`` and the HTTP status the API
renders. :class:`VerificationError` is the one exception type of the ledger's verification code
(this module imports nothing, so the pure modules and the offline verifier use it too).
"""

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


class VerificationError(Exception):
    """A proof, signature or signed structure did not verify.

    The one exception type of the ledger's verification code.

    Every check of untrusted material -- an inclusion or consistency proof (RFC 9162 §2.1.3.2 and
    §2.1.4.2), a signed note (https://c2sp.org/signed-note), a checkpoint -- returns ``None`` on
    success and raises :class:`VerificationError` on failure. The message says what failed and
    where, for example::

        entry 41: inclusion proof does not reach the root of tree size 57

    Errors raised by third-party code (``cryptography``'s ``InvalidSignature``, ``binascii.Error``)
    are translated into this type where they enter, so callers catch exactly one exception.
    """
