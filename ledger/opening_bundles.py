"""The openings of a range of entries in one binary answer, as stored: an *opening bundle*
(``GET /api/v1/ledger/openings/?start=&end=&values=bytes``, ``application/octet-stream``).

A verifier that replays a whole log downloads every opening; as JSON, each value (a decision's
trace is about 1.9 KB) is written into a string by the server and read out of it again by the
client, before it is hashed. Here each value goes out as the bytes stored, which are the bytes
committed (:mod:`ledger.commitments`), so neither side writes or reads it to move it. Format
version 1::

    bundle  = MAGIC record*
    MAGIC   = "consentry.ledger.openings.v1" 0x0A       29 bytes of ASCII and a newline
    record  = index  leaf_hash  field_len field  salt  value_len value
    index      uint64, big-endian                       the entry's index in the log
    leaf_hash  32 bytes                                 the entry's leaf hash (RFC 9162)
    field_len  uint8, 1-64; field: that many ASCII bytes the committed payload member
    salt       32 bytes                                 the commitment's salt
    value_len  uint32, big-endian; value: that many bytes  RFC 8785 JSON of the clear value, as
                                                        committed (what the commitment hashes)

Records are in index order, then field order; an entry with no opening (or none the caller may
see) has no record. Nothing here is vouched for: a reader checks each opening against the
commitment in the entry it verified (the value's bytes hashed with the domain tag, field and
salt), as with the JSON answer. :func:`decode_bundle` only reads the framing, and raises
``ValueError`` for a body that is not a bundle.

Pure: no Django.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

MAGIC = b"consentry.ledger.openings.v1\n"
CONTENT_TYPE = "application/octet-stream"

_HEAD = struct.Struct(">Q32sB")
"""index, leaf hash, field length."""
_VALUE_LENGTH = struct.Struct(">I")
_SALT_BYTES = 32
_FIELD_MAX = 64

BundleRecord = tuple[int, bytes, str, bytes, bytes]
"""``(index, leaf hash, field, salt, value bytes)``."""


def encode_bundle(records: Iterable[BundleRecord]) -> bytes:
    """The bundle of ``records``, given in index then field order."""
    head, length = _HEAD.pack, _VALUE_LENGTH.pack
    parts = [MAGIC]
    for index, leaf, field, salt, value in records:
        name = field.encode("ascii")
        if not 0 < len(name) <= _FIELD_MAX or len(salt) != _SALT_BYTES or len(leaf) != 32:
            raise ValueError(f"entry {index}: opening of {field!r} cannot be bundled")
        parts += (head(index, leaf, len(name)), name, salt, length(len(value)), value)
    return b"".join(parts)


def decode_bundle(body: bytes) -> list[BundleRecord]:
    """The records of a bundle, in order; ``ValueError`` saying what is wrong with a body that
    is not one (a record cut short, an unknown version, indexes out of order)."""
    if not body.startswith(MAGIC):
        raise ValueError("not an opening bundle (it does not begin with the v1 magic line)")
    head, length = _HEAD.unpack_from, _VALUE_LENGTH.unpack_from
    view = memoryview(body)
    out: list[BundleRecord] = []
    position, size, last = len(MAGIC), len(body), -1
    while position < size:
        if position + _HEAD.size > size:
            raise ValueError(f"opening bundle: a record is cut short at byte {position}")
        index, leaf, field_length = head(body, position)
        position += _HEAD.size
        salt_at = position + field_length
        value_at = salt_at + _SALT_BYTES + _VALUE_LENGTH.size
        if not 0 < field_length <= _FIELD_MAX or value_at > size:
            raise ValueError(f"opening bundle: entry {index}'s record is malformed or cut short")
        (value_length,) = length(body, value_at - _VALUE_LENGTH.size)
        end = value_at + value_length
        if end > size:
            raise ValueError(f"opening bundle: entry {index}'s value is cut short")
        if index < last:
            raise ValueError(f"opening bundle: entry {index} comes after entry {last}")
        try:
            field = bytes(view[position:salt_at]).decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"opening bundle: entry {index}'s field is not ASCII") from None
        out.append((index, leaf, field, body[salt_at : salt_at + _SALT_BYTES], body[value_at:end]))
        position, last = end, index
    return out
