"""Salted commitments to the confidential fields of a ledger entry's payload.

The log is public, but some fields are commercially confidential (a rights share's percentage,
a consent rule's licensee list and note, a decision's full trace). Such a field goes into the
entry as a commitment instead of its value; the value and the salt (together, the *opening*)
are kept apart and shown only to the parties entitled to them and to auditors, who recompute
the commitment and compare. Scheme version 1 (``v1``)::

    commitment = "sha256:" || lowercase hex of SHA-256(
        "consentry.ledger.commitment.v1"   30 bytes of ASCII, the domain tag and the version
        || 0x00
        || field                           the payload member's name, ASCII [a-z][a-z0-9_]*
        || 0x00
        || salt                            exactly 32 random bytes, a new salt per commitment
        || JCS(value)                      RFC 8785 canonical JSON of the clear value, UTF-8
    )

In the entry, the member keeps its name and its value becomes an object with exactly one
member::

    "share": {"commitment": "sha256:9c0d...e1"}

and the opening is ``{"field": "share", "salt": "<64 lowercase hex digits>", "value": "50.000"}``.

Why each part: the domain tag keeps these hashes apart from every other SHA-256 the log carries
(leaf and node hashes, content commitments), and names the version so a later scheme cannot
be confused with this one; the field name stops an opening of one field being passed off as
another's (a note shown as a licensee list); the NUL separators and the fixed-length salt make
the encoding injective; the 256-bit random salt makes a commitment hiding, so nobody can
confirm a guess (``"50.000"``, a licensee's id) by hashing it, although percentages and ids
are few enough to enumerate; SHA-256's collision resistance makes it binding, so the operator
cannot later open it to another value.

Pure: no Django. The salt source is passed in (``secrets.token_bytes`` by default), as the
clock is elsewhere, so tests can fix it. Checking raises :class:`CommitmentError`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import rfc8785

from ledger import canonical

SCHEME_VERSION = 1
DOMAIN = b"consentry.ledger.commitment.v1"
"""The domain tag: the scheme's name and version, hashed first."""

SALT_BYTES = 32
PREFIX = "sha256:"
MEMBER = "commitment"
"""The one member of the object that replaces a committed field in the payload."""

FIELD_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)
COMMITMENT_PATTERN = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)


class CommitmentError(ValueError):
    """An opening does not match its commitment, or a commitment or opening is malformed."""


@dataclass(frozen=True)
class Opening:
    """What opens the commitment to one field: its name, the salt and the clear value."""

    field: str
    salt: bytes
    value: Any

    @functools.cached_property
    def value_bytes(self) -> bytes:
        """The RFC 8785 bytes of the value: what is hashed, and what is stored (computed once:
        a decision's trace is the largest value committed)."""
        return encode_value(self.value)

    def commitment(self) -> str:
        return commit_bytes(self.field, self.value_bytes, salt=self.salt)

    @classmethod
    def from_bytes(cls, field: str, salt: bytes, value_bytes: bytes) -> Opening:
        """The opening whose value is given as the canonical bytes it was committed with (as
        the ledger stores them): checking it hashes these bytes, not the value written again,
        and the value is what they read as. Bytes that match the commitment are the bytes
        committed, which the writer made canonical (:func:`seal`)."""
        return cls.from_canonical(field, salt, json.loads(value_bytes), value_bytes)

    @classmethod
    def from_canonical(cls, field: str, salt: bytes, value: Any, value_bytes: bytes) -> Opening:
        """The opening of ``value`` whose RFC 8785 bytes the caller knows to be
        ``value_bytes`` (read from them, and checked, or stored by the writer)."""
        opening = cls(field, salt, value)
        opening.__dict__["value_bytes"] = value_bytes  # the cached property, known already
        return opening


class Openable(Protocol):
    """What :func:`verify` and :func:`unseal` read of an opening: :class:`Opening`, or a
    :class:`HashedOpening` whose commitment was recomputed elsewhere."""

    @property
    def field(self) -> str: ...

    @property
    def value(self) -> Any: ...

    def commitment(self) -> str: ...


@dataclass(frozen=True, slots=True)
class HashedOpening:
    """An opening whose commitment was recomputed from its salt and value bytes by whoever
    read them (``python -m ledger.verify --replay``'s worker processes, which hand back the
    commitment rather than the salt and bytes): :meth:`commitment` gives it, or raises
    :class:`CommitmentError` with ``error``, why it could not be recomputed."""

    field: str
    value: Any
    recomputed: str
    error: str | None = None

    def commitment(self) -> str:
        if self.error is not None:
            raise CommitmentError(self.error)
        return self.recomputed

    @classmethod
    def of(cls, opening: Opening, *, value: Any) -> HashedOpening:
        """``opening`` hashed now (its value given as ``value`` afterwards)."""
        try:
            return cls(opening.field, value, opening.commitment())
        except CommitmentError as exc:
            return cls(opening.field, value, "", str(exc))


def encode_value(value: Any) -> bytes:
    """RFC 8785 canonical JSON of any JSON value (raises :class:`CommitmentError` if it is
    not one: NaN, a lone surrogate, a non-JSON type), by the ledger's fast path
    (:func:`ledger.canonical.encode_json`, the same bytes where it applies)."""
    try:
        return canonical.encode_json(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise CommitmentError(f"value cannot be canonicalised: {exc}") from None


def commitment_input(field: str, value_bytes: bytes, *, salt: bytes) -> bytes:
    """The exact bytes that are hashed (see the module docstring)."""
    if FIELD_PATTERN.fullmatch(field) is None:
        raise CommitmentError(f"field {field!r} is not a lowercase identifier of 1-64 characters")
    if len(salt) != SALT_BYTES:
        raise CommitmentError(f"salt is {len(salt)} bytes; it must be {SALT_BYTES}")
    return DOMAIN + b"\x00" + field.encode("ascii") + b"\x00" + salt + value_bytes


def commit_bytes(field: str, value_bytes: bytes, *, salt: bytes) -> str:
    """The commitment to a value given as its canonical bytes."""
    digest = hashlib.sha256(commitment_input(field, value_bytes, salt=salt)).hexdigest()
    return PREFIX + digest


def commit(field: str, value: Any, *, salt: bytes) -> str:
    """The commitment ``"sha256:<hex>"`` to ``value`` as ``field``, with ``salt``."""
    return commit_bytes(field, encode_value(value), salt=salt)


def verify(commitment: str, opening: Openable) -> None:
    """Raise :class:`CommitmentError` unless ``opening`` opens ``commitment``."""
    if not isinstance(commitment, str) or COMMITMENT_PATTERN.fullmatch(commitment) is None:
        raise CommitmentError(f"{commitment!r} is not a commitment of the form sha256:<64 hex>")
    recomputed = opening.commitment()
    if not secrets.compare_digest(recomputed, commitment):
        raise CommitmentError(
            f"the opening of {opening.field!r} does not match its commitment: "
            f"the entry has {commitment}, the opening gives {recomputed}"
        )


_NEVER_MAPPINGS: Final = frozenset({str, int, float, bool, list, type(None)})


def committed_field(value: Any) -> str | None:
    """The commitment if ``value`` is a committed field (``{"commitment": "sha256:..."}``)."""
    if type(value) in _NEVER_MAPPINGS:  # the common case, without an abstract class check
        return None
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get(MEMBER), str):
        commitment = value[MEMBER]
        return commitment if COMMITMENT_PATTERN.fullmatch(commitment) else None
    return None


def commitments_of(payload: Mapping[str, Any]) -> dict[str, str]:
    """The committed fields of a payload (top-level members only) and their commitments."""
    out: dict[str, str] = {}
    never = _NEVER_MAPPINGS  # (most members: the type alone says so, without a call)
    for name, value in payload.items():
        if type(value) in never:
            continue
        commitment = committed_field(value)
        if commitment is not None:
            out[name] = commitment
    return out


def seal(
    payload: Mapping[str, Any],
    fields: Iterable[str],
    *,
    salt: Callable[[int], bytes] = secrets.token_bytes,
) -> tuple[dict[str, Any], list[Opening]]:
    """Commit to ``fields`` of ``payload``: the payload to ledger, with each of those members
    replaced by its commitment, and the openings to keep apart. A field the payload lacks is
    left out."""
    sealed = dict(payload)
    openings: list[Opening] = []
    for name in fields:
        if name not in sealed:
            continue
        opening = Opening(name, salt(SALT_BYTES), sealed[name])
        sealed[name] = {MEMBER: opening.commitment()}
        openings.append(opening)
    return sealed, openings


def unseal(
    payload: Mapping[str, Any],
    openings: Iterable[Openable],
    *,
    committed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The payload with every committed field replaced by its verified clear value. Raises
    :class:`CommitmentError` naming the field if an opening is missing, extra or wrong.
    ``committed``: :func:`commitments_of` the payload, if the caller has it already."""
    if committed is None:
        committed = commitments_of(payload)
    by_field: dict[str, Openable] = {}
    for opening in openings:
        if opening.field not in committed:
            raise CommitmentError(f"an opening is given for {opening.field!r}, not committed")
        if opening.field in by_field:
            raise CommitmentError(f"two openings are given for {opening.field!r}")
        by_field[opening.field] = opening
    clear = dict(payload)
    for name, commitment in committed.items():
        found = by_field.get(name)
        if found is None:
            raise CommitmentError(f"no opening for the committed field {name!r}")
        verify(commitment, found)
        clear[name] = found.value
    return clear
