"""Replay decisions from the ledger in the database (``manage.py replay_decisions``).

The entries are read from the ledger's table in index order and their committed fields opened
with the openings stored beside them (``ledger_opening``); :mod:`governance.replaying` (pure,
shared with ``python -m ledger.verify --replay``) rebuilds the state and re-evaluates each
decision. Nothing is read from the registry's tables, so a database edited behind the ledger's
back cannot hide a changed outcome.

With two workers (the default on a log of more than :data:`PARALLEL_FROM` entries, if the
machine has a second processor), a second process decodes each chunk of entries and checks
their openings (:func:`governance.replaying.chunks.open_rows`) while this one reads the next
chunks from the database and replays the ones opened, in log order: at most :data:`AHEAD`
chunks are read ahead. It gets the stored bytes and gives back the entries opened, so the
replay is the same, difference for difference and error for error (an exception that stops a
chunk is raised after the entries opened before it are replayed); ``workers=1`` does it all in
this process.

Either way the replay runs with the garbage collector's youngest generation collected every
50,000 allocations instead of 700 (:data:`GC_THRESHOLD`, :func:`fewer_collections`): the replay
allocates millions of objects that live (the state, the entries of a chunk), and collecting
walked them again and again, a quarter of the replay's time; cycles are still collected.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from django.db.models import Max

from governance.replaying import (
    GC_THRESHOLD,
    Difference,
    ReplayState,
    fewer_collections,
    replay_entries,
)
from governance.replaying.chunks import Compact, Opened, Row, expand, open_rows, opened_chunk
from ledger import openings as ledger_openings
from ledger.models import Entry

__all__ = [
    "AHEAD",
    "CHUNK",
    "GC_THRESHOLD",
    "PARALLEL_FROM",
    "Difference",
    "ReplayState",
    "fewer_collections",
    "replay",
]

CHUNK = 5000
"""Entries read, decoded and opened at a time."""

AHEAD = 2
"""Chunks handed to the second process beyond the one being replayed."""

PARALLEL_FROM = 20_000
"""Logs of more entries than this are replayed with two processes by default."""


def _rows(start: int) -> Iterator[list[Row]]:
    """The stored entries from ``start`` in index order, :data:`CHUNK` at a time."""
    rows = (
        Entry.objects.filter(index__gte=start)
        .order_by("index")
        .values_list("index", "data", "leaf_hash")
    )
    chunk: list[Row] = []
    for index, data, leaf_hash in rows.iterator(chunk_size=CHUNK):
        chunk.append((int(index), bytes(data), bytes(leaf_hash)))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _entries(start: int) -> Iterator[Opened]:
    """Each entry from ``start`` in order, opened (:func:`governance.replaying.open_entry`)."""
    for chunk in _rows(start):
        yield from opened_chunk(
            chunk, lambda sealed: ledger_openings.openings_by_leaf(leaf_hashes=sealed)
        )


def _entries_in_parallel(start: int) -> Iterator[Opened]:
    """:func:`_entries`, each chunk decoded and opened by a second process."""
    # fork: the child needs nothing but the pure functions it runs (never this process's
    # database connections; it leaves by os._exit, closing none of them).
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
    pending: collections.deque[Future[tuple[list[Compact], Exception | None]]]
    pending = collections.deque()
    try:
        for chunk in _rows(start):
            leaves = [leaf for _, _, leaf in chunk]
            opening_rows = ledger_openings.opening_rows(leaf_hashes=leaves, binary=True)
            pending.append(pool.submit(open_rows, chunk, opening_rows))
            if len(pending) > AHEAD:
                yield from _result(pending.popleft())
        while pending:
            yield from _result(pending.popleft())
    finally:  # (the process is waited for, so that its CPU time is counted as this one's)
        pool.shutdown(wait=True, cancel_futures=True)


def _result(future: Future[tuple[list[Compact], Exception | None]]) -> Iterator[Opened]:
    opened, error = future.result()
    for compact in opened:
        yield expand(compact)
    if error is not None:
        raise error


def default_workers() -> int:
    """2 on a log of more than :data:`PARALLEL_FROM` entries if there is a second processor;
    else 1."""
    if (os.cpu_count() or 1) < 2:
        return 1
    last = Entry.objects.aggregate(last=Max("index"))["last"]
    return 2 if last is not None and last >= PARALLEL_FROM else 1


def replay(
    *, progress: Callable[[int], None] | None = None, workers: int | None = None
) -> tuple[int, list[Difference]]:
    """Replay every ``decision`` in the log; (decisions replayed, differences). ``workers``:
    1 (one process) or 2 (a second process decodes and opens the entries); by default
    :func:`default_workers`."""
    if workers is None:
        workers = default_workers()
    if workers not in (1, 2):
        raise ValueError(f"workers must be 1 or 2, not {workers}")
    with fewer_collections():
        entries = _entries(0) if workers == 1 else _entries_in_parallel(0)
        return replay_entries(entries, progress=progress)
