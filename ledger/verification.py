"""The one exception type of the ledger's verification code.

Every check of untrusted material -- an inclusion or consistency proof (RFC 9162 §2.1.3.2 and
§2.1.4.2), a signed note (https://c2sp.org/signed-note), a checkpoint -- returns ``None`` on
success and raises :class:`VerificationError` on failure. The message says what failed and
where, for example::

    entry 41: inclusion proof does not reach the root of tree size 57

Errors raised by third-party code (``cryptography``'s ``InvalidSignature``, ``binascii.Error``)
are translated into this type where they enter, so callers catch exactly one exception.
"""

from __future__ import annotations


class VerificationError(Exception):
    """A proof, signature or signed structure did not verify."""
