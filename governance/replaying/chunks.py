"""Opening a chunk of the ledger's stored entries for replay: decoding each entry's bytes and
checking its committed fields' openings against their commitments (pure: no Django, so that
``manage.py replay_decisions`` can do it in a second process, :mod:`governance.replay`).

The same functions serve both of its paths: :func:`opened_chunk` with the openings read for
the sealed entries only (one process), and :func:`open_rows` with the openings of every entry
of the chunk read beforehand (the second process gets bytes, not a database connection). Both
read the openings of the sealed entries alone, in the same order, so an entry opens, or fails
to, the same way in either; an exception is returned with what was opened before it, so that
the replay feeds the same entries before it meets it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from governance.replaying import open_entry
from ledger import canonical, commitments

__all__ = [
    "NOT_REPLAYED",
    "Compact",
    "Opened",
    "OpeningRow",
    "Row",
    "expand",
    "open_rows",
    "opened_chunk",
]

Row = tuple[int, bytes, bytes]
"""An entry as stored: its index, its canonical bytes and its leaf hash."""

OpeningRow = tuple[bytes, str, bytes, bytes]
"""An opening as stored: the entry's leaf hash, the field, the salt and the value's bytes."""

Opened = tuple[int, canonical.Entry, str | None]
"""An entry's index, the entry opened, and why it could not be (None if it could)."""

Compact = tuple[int, int, str, datetime, Mapping[str, Any], str | None]
"""An :data:`Opened` as :func:`open_rows` gives it: index, ``v``, type, time, payload (without
the fields of :data:`NOT_REPLAYED` if it was opened) and why it could not be opened."""

NOT_REPLAYED: Mapping[str, frozenset[str]] = {"decision": frozenset({"trace"})}
"""Per entry type, the committed fields whose clear values :mod:`governance.replaying` does not
read (their openings are checked like any other)."""

OpeningsOf = Callable[[list[bytes]], Mapping[bytes, Sequence[commitments.Opening]]]


def opened_chunk(rows: Sequence[Row], openings_of: OpeningsOf) -> Iterator[Opened]:
    """Each of ``rows`` decoded and opened (:func:`governance.replaying.open_entry`) with the
    openings ``openings_of`` gives for the leaf hashes of those that commit fields (asked
    once, after every entry of the chunk is decoded)."""
    # The ledger's own entries, as the appender wrote them (canonical): read, not re-checked
    # (python -m ledger.verify checks them against the signed root).
    decoded = [(index, canonical.decode_checked_entry(data), leaf) for index, data, leaf in rows]
    committed = [commitments.commitments_of(e.payload) for _, e, _ in decoded]
    sealed = [leaf for (_, _, leaf), c in zip(decoded, committed, strict=True) if c]
    by_leaf = openings_of(sealed)
    for (index, entry, leaf), c in zip(decoded, committed, strict=True):
        yield (index, *open_entry(entry, by_leaf.get(leaf, ()), committed=c))


def open_rows(
    rows: Sequence[Row], opening_rows: Sequence[OpeningRow]
) -> tuple[list[Compact], Exception | None]:
    """:func:`opened_chunk` over ``rows``, with the openings among ``opening_rows`` (read for
    every entry of the chunk, in leaf hash and field order), each entry :data:`Compact`; what
    was opened, and the exception that stopped it, if one did."""

    def openings_of(sealed: list[bytes]) -> dict[bytes, list[commitments.Opening]]:
        wanted = set(sealed)
        out: dict[bytes, list[commitments.Opening]] = {}
        for leaf, field, salt, value in opening_rows:
            if leaf in wanted:
                opening = commitments.Opening.from_bytes(field, salt, value)
                out.setdefault(leaf, []).append(opening)
        return out

    done: list[Compact] = []
    try:
        for index, entry, unopened in opened_chunk(rows, openings_of):
            payload = entry.payload
            unread = NOT_REPLAYED.get(entry.kind)
            if unread is not None and unopened is None:
                payload = {k: v for k, v in payload.items() if k not in unread}
            done.append((index, entry.v, entry.kind, entry.time, payload, unopened))
    except Exception as exc:  # raised again by the replay, in its place
        return done, exc
    return done, None


def expand(compact: Compact) -> Opened:
    """The :data:`Opened` entry of a :data:`Compact` one."""
    index, v, kind, time, payload, unopened = compact
    return index, canonical.Entry(v, kind, time, payload), unopened
