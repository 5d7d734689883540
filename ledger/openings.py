"""Storing and reading the openings of entries' committed fields (:mod:`ledger.commitments`).

A writer appends an entry whose confidential fields are commitments and, in the same
transaction, the openings, keyed by the entry's leaf hash: if the transaction rolls back,
neither stays; if it commits, the sequencer later gives the entry an index, and its openings
are found through the entry's leaf hash. The ledger stores openings and serves them to whoever
its caller decides may see them; it does not know who that is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from django.db import connection

from ledger import commitments
from ledger.models import Entry, Opening


def openings_add(*, rows: Sequence[tuple[bytes, commitments.Opening]]) -> int:
    """Store ``(entry leaf hash, opening)`` rows in the caller's transaction, with one COPY;
    how many were stored."""
    if not rows:
        return 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ledger_opening ({', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in opening_values(rows):
            copy.write_row(row)
    return len(rows)


COLUMNS = ("leaf_hash", "field", "salt", "value")
"""The columns of ``ledger_opening``, in :func:`opening_values`' order."""


def opening_values(
    rows: Sequence[tuple[bytes, commitments.Opening]],
) -> list[tuple[bytes, str, bytes, bytes]]:
    """The ``ledger_opening`` rows (:data:`COLUMNS`) that store ``(leaf hash, opening)``
    pairs: for a caller that inserts them with its other rows, in its transaction."""
    return [(leaf, opening.field, opening.salt, opening.value_bytes) for leaf, opening in rows]


def openings_by_leaf(*, leaf_hashes: Iterable[bytes]) -> dict[bytes, list[commitments.Opening]]:
    """The stored openings of the entries with these leaf hashes, by leaf hash (one query
    with the hashes as an array: a replay asks for thousands at a time)."""
    out: dict[bytes, list[commitments.Opening]] = {}
    for leaf_hash, field, salt, value in opening_rows(leaf_hashes=leaf_hashes):
        opening = commitments.Opening.from_bytes(field, salt, value)
        out.setdefault(leaf_hash, []).append(opening)
    return out


def opening_rows(
    *, leaf_hashes: Iterable[bytes], binary: bool = False
) -> list[tuple[bytes, str, bytes, bytes]]:
    """The stored openings of the entries with these leaf hashes as they are stored, ordered
    by leaf hash and field: ``(leaf hash, field, salt, value bytes)`` (one query with the
    hashes as an array; none if no hash is given). ``binary``: read in PostgreSQL's binary
    format, on a cursor of the driver's own (half the time of the text format's hexadecimal
    for a replay's 200,000 openings; no query hooks of Django's see it)."""
    wanted = list({bytes(h) for h in leaf_hashes})
    if not wanted:
        return []
    query = (
        "SELECT leaf_hash, field, salt, value FROM ledger_opening"
        " WHERE leaf_hash = ANY(%s) ORDER BY leaf_hash, field"
    )
    if binary:
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(query, [wanted], binary=True)
            rows = cursor.fetchall()
    else:
        with connection.cursor() as cursor:
            cursor.execute(query, [wanted])
            rows = cursor.fetchall()
    return [(bytes(h), str(f), bytes(s), bytes(v)) for h, f, s, v in rows]


@dataclass(frozen=True)
class StoredOpening:
    """An opening as stored: the value is the RFC 8785 bytes it was committed with, not read
    (serving them as they are costs nothing; :meth:`opening` reads them)."""

    field: str
    salt: bytes
    value_bytes: bytes

    def opening(self) -> commitments.Opening:
        return commitments.Opening.from_bytes(self.field, self.salt, self.value_bytes)


def stored_openings_by_leaf(*, leaf_hashes: Iterable[bytes]) -> dict[bytes, list[StoredOpening]]:
    """:func:`openings_by_leaf` without reading the values: each opening's stored bytes."""
    wanted = list({bytes(h) for h in leaf_hashes})
    out: dict[bytes, list[StoredOpening]] = {}
    if not wanted:
        return out
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT leaf_hash, field, salt, value FROM ledger_opening"
            " WHERE leaf_hash = ANY(%s) ORDER BY leaf_hash, field",
            [wanted],
        )
        for leaf_hash, field, salt, value in cursor.fetchall():
            out.setdefault(bytes(leaf_hash), []).append(
                StoredOpening(field, bytes(salt), bytes(value))
            )
    return out


def entries_with_openings(*, start: int, end: int) -> list[tuple[int, str, bytes, bytes]]:
    """``(index, type, data, leaf hash)`` of the sequenced entries in ``[start, end)`` that
    have openings, in index order."""
    rows = (
        Entry.objects.filter(index__gte=start, index__lt=end)
        .filter(leaf_hash__in=Opening.objects.values("leaf_hash"))
        .order_by("index")
        .values_list("index", "kind", "data", "leaf_hash")
    )
    return [(int(i), str(k), bytes(d), bytes(h)) for i, k, d, h in rows]


def opening_records(*, start: int, end: int) -> list[tuple[int, bytes, str, bytes, bytes]]:
    """``(index, leaf hash, field, salt, value bytes)`` of every opening of the sequenced
    entries in ``[start, end)``, in index then field order, as stored (one query, read in
    PostgreSQL's binary format: :mod:`ledger.opening_bundles` sends them as they are)."""
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            "SELECT e.idx, e.leaf_hash, o.field, o.salt, o.value"
            " FROM ledger_entry e JOIN ledger_opening o ON o.leaf_hash = e.leaf_hash"
            " WHERE e.idx >= %s AND e.idx < %s ORDER BY e.idx, o.field",
            [start, end],
            binary=True,
        )
        rows = cursor.fetchall()
    return [(int(i), bytes(h), str(f), bytes(s), bytes(v)) for i, h, f, s, v in rows]


def entries_and_openings(
    *, start: int, end: int
) -> list[tuple[int, str, bytes, bytes, list[StoredOpening]]]:
    """``(index, type, data, leaf hash, stored openings)`` of the sequenced entries in
    ``[start, end)`` that have openings, in index order: :func:`entries_with_openings` and
    :func:`stored_openings_by_leaf` in one query, for a caller who may see them all."""
    out: list[tuple[int, str, bytes, bytes, list[StoredOpening]]] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.idx, e.kind, e.data, e.leaf_hash, o.field, o.salt, o.value"
            " FROM ledger_entry e JOIN ledger_opening o ON o.leaf_hash = e.leaf_hash"
            " WHERE e.idx >= %s AND e.idx < %s ORDER BY e.idx, o.field",
            [start, end],
        )
        for index, kind, data, leaf, field, salt, value in cursor.fetchall():
            if not out or out[-1][0] != index:
                out.append((int(index), str(kind), bytes(data), bytes(leaf), []))
            out[-1][4].append(StoredOpening(field, bytes(salt), bytes(value)))
    return out
