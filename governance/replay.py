"""Replay decisions from the ledger in the database (``manage.py replay_decisions``).

The entries are read from the ledger's table in index order and their committed fields opened
with the openings stored beside them (``ledger_opening``); :mod:`governance.replaying` (pure,
shared with ``python -m ledger.verify --replay``) rebuilds the state and re-evaluates each
decision. Nothing is read from the registry's tables, so a database edited behind the ledger's
back cannot hide a changed outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from governance.replaying import Difference, ReplayState, open_entry, replay_entries
from ledger import canonical, commitments
from ledger import openings as ledger_openings
from ledger.models import Entry

__all__ = ["CHUNK", "Difference", "ReplayState", "replay"]

CHUNK = 5000


def _entries(start: int) -> Iterator[tuple[int, canonical.Entry, str | None]]:
    """Each entry from ``start`` in order, opened (:func:`governance.replaying.open_entry`)."""
    rows = (
        Entry.objects.filter(index__gte=start)
        .order_by("index")
        .values_list("index", "data", "leaf_hash")
    )
    chunk: list[tuple[int, canonical.Entry, bytes]] = []
    for index, data, leaf_hash in rows.iterator(chunk_size=CHUNK):
        # The ledger's own entries, as the appender wrote them (canonical): read, not re-checked
        # (python -m ledger.verify checks them against the signed root).
        chunk.append((int(index), canonical.decode_checked_entry(bytes(data)), bytes(leaf_hash)))
        if len(chunk) == CHUNK:
            yield from _opened(chunk)
            chunk = []
    yield from _opened(chunk)


def _opened(
    chunk: list[tuple[int, canonical.Entry, bytes]],
) -> Iterator[tuple[int, canonical.Entry, str | None]]:
    committed = [commitments.commitments_of(e.payload) for _, e, _ in chunk]
    sealed = [leaf for (_, _, leaf), c in zip(chunk, committed, strict=True) if c]
    by_leaf = ledger_openings.openings_by_leaf(leaf_hashes=sealed)
    for (index, entry, leaf), c in zip(chunk, committed, strict=True):
        yield (index, *open_entry(entry, by_leaf.get(leaf, ()), committed=c))


def replay(*, progress: Callable[[int], None] | None = None) -> tuple[int, list[Difference]]:
    """Replay every ``decision`` in the log; (decisions replayed, differences)."""
    return replay_entries(_entries(0), progress=progress)
