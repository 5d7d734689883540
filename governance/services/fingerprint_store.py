"""The packed fingerprint store in PostgreSQL (docs/matching.md, "The packed store").

A log of segments: an import writes its contents' postings as one new segment, in its own
transaction (:func:`segment_write`: one ``FingerprintSource`` key per content, one
``FingerprintPostings`` row per hash, by one binary COPY); :func:`compact` merges segments of
about the same size (size-tiered: ``FANOUT`` of a tier become one of the next), dropping the
postings of deleted contents, each merge in one transaction, so that a query's snapshot sees
either the segments merged or the merged one, never both nor neither. One compaction runs at
a time (an advisory lock); imports and queries go on meanwhile.

A query (:func:`near_votes`, :func:`every_vote`) reads, in one statement, the rows of its hashes
in every segment, leaving out the hashes holding more postings than the stop list's cap in all
segments together (``fingerprint.hash_cap``: each row says how many it holds, so a capped
hash's postings are not read), and votes in numpy (``governance.content.postings``); the keys
are mapped back to their contents, those of deleted contents left out, in a second.

Each content's landmark peaks, rebuilt from its pairs (``governance.content.peaks``), are kept
on its ``FingerprintSource`` row, packed: written with its postings (:func:`segment_write`),
computed for the sources stored without them by :func:`backfill_peaks`, read by key with
:func:`peaks_of` (the presence verification of a candidate, docs/matching.md).
"""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final

import numpy as np
import psycopg
from django.db import connection, transaction
from django.utils import timezone

from governance.content import fingerprint, peaks, postings

FANOUT: Final = 8
"""Segments of one tier merged into one of the next."""
TIER_BASE: Final = 1 << 16
"""Postings of a tier-0 segment (about a 3-minute track's 48,000 and below); tier n holds
segments of up to TIER_BASE * FANOUT ** n postings."""
MERGE_HASHES: Final = 1 << 16
"""Hashes a merge reads at a time (its memory: their postings in every segment merged)."""
LOCK: Final = 0x46505354  # "FPST": the compaction's advisory lock

_COPY_HEADER: Final = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_COPY_TRAILER: Final = struct.pack("!h", -1)
_ROW_HEAD: Final = np.dtype(
    [("fields", ">i2"), ("segment_len", ">i4"), ("segment", ">i4"), ("shift_len", ">i4"),
     ("shift", ">i2"), ("bucket_len", ">i4"), ("bucket", ">i4"), ("n_len", ">i4"), ("n", ">i4"),
     ("data_len", ">i4")]
)  # fmt: skip


def copy_rows(segment: int, rows: postings.Rows) -> None:
    """Write a segment's rows with one binary COPY (its rows' heads built by numpy)."""
    if not len(rows):
        return
    head = np.zeros(len(rows), dtype=_ROW_HEAD)
    head["fields"], head["segment_len"], head["segment"] = 5, 4, segment
    head["shift_len"], head["shift"] = 2, rows.shift
    head["bucket_len"], head["bucket"] = 4, rows.buckets
    sizes = rows.sizes()
    head["n_len"], head["n"], head["data_len"] = 4, rows.counts, sizes
    width = _ROW_HEAD.itemsize
    heads, body = memoryview(head.tobytes()), memoryview(rows.packed)
    pieces: list[memoryview] = []
    start = 0
    for i, end in enumerate(np.cumsum(sizes).tolist()):
        pieces += (heads[i * width : (i + 1) * width], body[start:end])
        start = end
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY governance_fingerprintpostings (segment, shift, bucket, n, data)"
            " FROM STDIN (FORMAT BINARY)"
        ) as copy,
    ):
        copy.write(b"".join((_COPY_HEADER, *pieces, _COPY_TRAILER)))


def segment_write(contents: Sequence[tuple[uuid.UUID, np.ndarray, np.ndarray]]) -> int:
    """In the caller's transaction: the postings of ``contents`` (content id, hashes, frames;
    completed in the same transaction) as one new segment, and each content's key with its
    peaks (``peaks.from_pairs``, packed); how many postings. ``ValueError`` for postings out
    of range or hashes outside the landmarks' layout, before anything is written."""
    from governance.models import FingerprintSegment, FingerprintSource

    if not contents:
        return 0
    if len({content_id for content_id, _, _ in contents}) != len(contents):
        raise ValueError("a segment holds each content once")
    # (checked before anything is written; keyed for real below)
    flat = postings.flat_of(
        [(n + 1, h, t) for n, (_, h, t) in enumerate(contents)], hash_bits=fingerprint.HASH_BITS
    )
    packed = [peaks.pack(*peaks.from_pairs(h, t)) for _, h, t in contents]
    sources = FingerprintSource.objects.bulk_create(
        FingerprintSource(content_id=content_id, peaks=p)
        for (content_id, _, _), p in zip(contents, packed, strict=True)
    )
    real = np.array([0, *(s.pk for s in sources)], dtype=np.int64)
    flat = postings.sorted_flat(flat.hashes, real[flat.keys], flat.times)
    rows = postings.rows_of(flat)
    segment = FingerprintSegment.objects.create(
        format=postings.FORMAT, shift=rows.shift, postings=rows.postings, rows=len(rows),
        contents=len(contents), created_at=timezone.now(),
    )  # fmt: skip
    copy_rows(segment.pk, rows)
    return len(flat)


def stored_postings() -> int:
    """The postings the segments hold (deleted contents' included until compacted)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(postings), 0) FROM governance_fingerprintsegment")
        row = cursor.fetchone()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------

ROWS_SQL: Final = (
    "SELECT q.shift, q.bucket, CASE WHEN q.shift > 0 OR h.held <= %(cap)s THEN p.data END"
    " FROM unnest(%(shifts)s::smallint[], %(buckets)s::int[]) AS q(shift, bucket)"
    " CROSS JOIN LATERAL (SELECT sum(x.n) AS held FROM governance_fingerprintpostings x"
    " WHERE q.shift = 0 AND x.shift = 0 AND x.bucket = q.bucket) h"
    " CROSS JOIN LATERAL (SELECT y.data FROM governance_fingerprintpostings y"
    " WHERE y.shift = q.shift AND y.bucket = q.bucket OFFSET 0) p"
)
"""The rows of a query's buckets at every shift, in one statement (one snapshot: a compaction
committing meanwhile is seen whole or not at all). A hash's rows of shift 0 (one per hash
and segment) say how many postings each holds (``n``): a hash holding more than ``cap`` in
them has its rows returned without their ``data`` (not read: a large one is stored out of
line). Each bucket is two index lookups (its held postings, then its rows), streamed: no sort
of the rows, and no hash join over the whole table, which the planner chose for a plain join
at 10,000 tracks (the ``OFFSET 0`` keeps the lookup a subquery of its own: 74 ms instead of
193-235 ms for a 30-s clip, EXPLAIN ANALYZE)."""


def _fetched(fp: fingerprint.Fingerprint, cap: int | None) -> postings.Flat:
    """The postings of ``fp``'s hashes, but for those holding more than ``cap`` in all."""
    shifts, buckets = postings.query_buckets(fp.hashes)
    limit = 2**62 if cap is None else cap
    connection.ensure_connection()
    # Binary results (each row's data as its bytes, not twice as many hexadecimal digits),
    # which need psycopg's server-side binding: a cursor of its own on Django's connection
    # (the same session and transaction).
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(ROWS_SQL, {"shifts": shifts, "buckets": buckets, "cap": limit}, binary=True)
        fetched = cursor.fetchall()
    over = np.array([b for _, b, d in fetched if d is None], dtype=np.int64)
    rows = [(int(s), int(b), bytes(d)) for s, b, d in fetched if d is not None]
    return postings.gathered(rows, fp.hashes, cap=cap, over=over)


def _keys_of(content_ids: list[str]) -> np.ndarray:
    """The store keys of ``content_ids`` (their ``FingerprintSource`` ids)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM governance_fingerprintsource WHERE content_id = ANY(%s::uuid[])",
            [content_ids],
        )
        return np.array([int(k) for (k,) in cursor.fetchall()], dtype=np.int64)


def _live(keys: np.ndarray) -> dict[int, str]:
    """The content ids of ``keys`` whose contents exist (a deleted content's key has none)."""
    if not len(keys):
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, content_id::text FROM governance_fingerprintsource WHERE id = ANY(%s)",
            [np.unique(keys).tolist()],
        )
        return {int(k): str(c) for k, c in cursor.fetchall()}


def _rows(
    keys: np.ndarray, offsets: np.ndarray, frames: np.ndarray
) -> list[tuple[str, int, int, int]]:
    k, o, b, n = postings.votes(
        keys, offsets, frames, frames_per_block=int(fingerprint.FRAMES_PER_BLOCK)
    )
    names = _live(k)
    return [
        (names[key], off, block, hits)
        for key, off, block, hits in zip(
            k.tolist(), o.tolist(), b.tolist(), n.tolist(), strict=True
        )
        if key in names
    ]


def every_vote(
    fp: fingerprint.Fingerprint, *, cap: int | None = None
) -> list[tuple[str, int, int, int]]:
    """Every vote of ``fp``: ``(content id, offset, block, hits)``, the rows
    ``MemoryIndex.votes(cap=cap)`` gives over the same contents (no cap: every hash)."""
    if not len(fp.hashes):
        return []
    keys, offsets, frames = postings.expand(_fetched(fp, cap), fp.hashes, fp.times)
    return _rows(keys, offsets, frames)


def near_votes(
    fp: fingerprint.Fingerprint, *, needed: int, cap: int
) -> list[tuple[str, int, int, int]]:
    """The votes of ``fp`` that can belong to a candidate reaching coverage ``needed``, of its
    hashes holding at most ``cap`` postings (``postings.near_mask``): ``score_votes`` finds the
    same passing candidates in them as in every vote."""
    return Votes(fp, cap=cap).near(needed)


class Votes:
    """A query's votes against the store, read and paired with its frames once, for the
    matching's two questions: which candidates reach a coverage (:meth:`near`), and which
    are the best few, whatever their coverage (:meth:`best`)."""

    def __init__(self, fp: fingerprint.Fingerprint, *, cap: int) -> None:
        if len(fp.hashes):
            flat = _fetched(fp, cap)
            self.keys, self.offsets, self.frames = postings.expand(flat, fp.hashes, fp.times)
        else:
            self.keys = self.offsets = self.frames = np.zeros(0, np.int64)
        self._held: np.ndarray | None = None

    def held(self) -> np.ndarray:
        if self._held is None:
            self._held = postings.near_held(self.keys, self.offsets)
        return self._held

    def _kept(self, keep: np.ndarray) -> list[tuple[str, int, int, int]]:
        return _rows(self.keys[keep], self.offsets[keep], self.frames[keep])

    def near(self, needed: int) -> list[tuple[str, int, int, int]]:
        """The votes of every candidate that can reach coverage ``needed``."""
        if needed <= 1:
            return self._kept(np.ones(len(self.keys), dtype=bool))
        return self._kept(self.held() >= needed)

    def best(self, *, references: int, floor: int, below: int) -> list[tuple[str, int, int, int]]:
        """The votes of the ``references`` contents of the best coverage (none reaching
        ``below``), each's every candidate reaching ``floor``: what
        ``fingerprint.candidate_offsets`` ranks, as it would from every vote (the contents
        tied with the last of them kept too). The best contents are found from the votes that
        can reach a coverage k (``near_held``), k lowered one at a time from ``below`` - 1
        until the references-th best coverage among them reaches k (a content left out cannot
        reach k), grouped in numpy; then only their votes are returned as rows."""
        held = self.held()
        live = self._live_mask()
        k = max(floor, below - 1)
        while True:
            m = (held >= k) & live
            per_block = int(fingerprint.FRAMES_PER_BLOCK)
            grouped = postings.votes(
                self.keys[m], self.offsets[m], self.frames[m], frames_per_block=per_block
            )
            top, last = fingerprint.best_keys(*grouped, references=references)
            if last >= k or k <= floor:
                break
            k -= 1
        if not len(top):
            return []
        return self._kept((held >= floor) & np.isin(self.keys, top))

    def _live_mask(self) -> np.ndarray:
        """Which votes are of contents that exist (a deleted content's key has no source)."""
        alive = np.array(sorted(_live(self.keys)), dtype=np.int64)
        return np.isin(self.keys, alive)


# --------------------------------------------------------------------------------------------
# Compaction
# --------------------------------------------------------------------------------------------


def tier(held: int) -> int:
    """A segment's tier: 0 up to ``TIER_BASE`` postings, then one more each ``FANOUT`` times."""
    if held <= TIER_BASE:
        return 0
    return math.ceil(math.log(held / TIER_BASE, FANOUT) - 1e-9)


def _plan(segments: Sequence[tuple[int, int]], *, fanout: int) -> list[int]:
    """The segments the next merge takes, from (id, postings) each, oldest first: the lowest
    tier holding ``fanout`` segments or more, all of them (none: nothing to merge)."""
    tiers: dict[int, list[int]] = {}
    for segment, held in segments:
        tiers.setdefault(tier(held), []).append(segment)
    for level in sorted(tiers):
        if len(tiers[level]) >= fanout:
            return tiers[level]
    return []


def _chunks(ids: list[int]) -> Iterator[postings.Flat]:
    """The merged segments' postings, a range of ``MERGE_HASHES`` hashes at a time."""
    with connection.cursor() as cursor:
        for start in range(0, 1 << fingerprint.HASH_BITS, MERGE_HASHES):
            rows: list[tuple[int, int, bytes]] = []
            for shift in postings.SHIFTS:
                cursor.execute(
                    "SELECT bucket, data FROM governance_fingerprintpostings WHERE shift = %s"
                    " AND bucket >= %s AND bucket < %s AND segment = ANY(%s)",
                    [shift, start >> shift, (start + MERGE_HASHES) >> shift, ids],
                )
                rows += [(shift, int(b), bytes(d)) for b, d in cursor.fetchall()]
            if rows:
                yield postings.unpacked(rows)


def merge(ids: list[int]) -> dict[str, int]:
    """In the caller's transaction: segments ``ids`` merged into a new one, the postings of
    deleted contents dropped; what was done."""
    from governance.models import FingerprintSegment

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM governance_fingerprintsource ORDER BY id")
        live = np.fromiter((r[0] for r in cursor.fetchall()), dtype=np.int64)
        cursor.execute(
            "SELECT coalesce(sum(postings), 0) FROM governance_fingerprintsegment"
            " WHERE id = ANY(%s)",
            [ids],
        )
        (total,) = cursor.fetchone() or (0,)
    shift = postings.shift_for(int(total))
    segment = FingerprintSegment.objects.create(
        format=postings.FORMAT, shift=shift, postings=0, rows=0, contents=0, merges=len(ids),
        created_at=timezone.now(),
    )  # fmt: skip
    held = rows = dropped = 0
    keys: set[int] = set()
    for chunk in _chunks(ids):
        alive = np.isin(chunk.keys, live)
        dropped += int(len(chunk) - alive.sum())
        flat = postings.sorted_flat(chunk.hashes[alive], chunk.keys[alive], chunk.times[alive])
        merged = postings.rows_of(flat, shift=shift)
        copy_rows(segment.pk, merged)
        held += len(flat)
        rows += len(merged)
        keys.update(np.unique(flat.keys).tolist())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM governance_fingerprintpostings WHERE segment = ANY(%s)", [ids])
        cursor.execute("DELETE FROM governance_fingerprintsegment WHERE id = ANY(%s)", [ids])
    if rows == 0:
        segment.delete()
    else:
        segment.postings, segment.rows, segment.contents = held, rows, len(keys)
        segment.save(update_fields=["postings", "rows", "contents"])
    return {"segments": len(ids), "postings": held, "rows": rows, "dropped": dropped}


def compaction_due(*, fanout: int | None = None) -> bool:
    """Whether a tier holds ``fanout`` (:data:`FANOUT`) segments or more (what :func:`compact`
    would merge)."""
    fanout = FANOUT if fanout is None else fanout
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, postings FROM governance_fingerprintsegment ORDER BY id")
        return bool(_plan([(int(i), int(p)) for i, p in cursor.fetchall()], fanout=fanout))


def compact(*, fanout: int | None = None, full: bool = False) -> list[dict[str, int]]:
    """Merge segments until no tier holds ``fanout`` of them (``full``: every segment into one,
    and deleted contents' postings dropped), each merge in its own transaction; what each
    merge did. Nothing if another compaction holds the lock."""
    fanout = FANOUT if fanout is None else fanout
    if fanout < 2:
        raise ValueError("a compaction merges at least 2 segments")
    done: list[dict[str, int]] = []
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK])
                (locked,) = cursor.fetchone() or (False,)
                if not locked:
                    return done
                cursor.execute("SELECT id, postings FROM governance_fingerprintsegment ORDER BY id")
                segments = [(int(i), int(p)) for i, p in cursor.fetchall()]
            if full:
                ids = [i for i, _ in segments] if len(segments) > 1 or _stale(segments) else []
            else:
                ids = _plan(segments, fanout=fanout)
            if not ids:
                return done
            done.append(merge(ids))
        if full:
            return done


def _stale(segments: Sequence[tuple[int, int]]) -> bool:
    """Whether the one segment left holds postings of deleted contents."""
    if not segments:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.contents > (SELECT count(*) FROM governance_fingerprintsource)"
            " FROM governance_fingerprintsegment s WHERE s.id = %s",
            [segments[0][0]],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def segments() -> list[dict[str, Any]]:
    """The segments, oldest first (for the management command's report)."""
    from governance.models import FingerprintSegment

    return [
        dict(row)
        for row in FingerprintSegment.objects.order_by("id").values(
            "id", "shift", "postings", "rows", "contents", "merges", "created_at"
        )
    ]


def postings_of(content_id: uuid.UUID | str) -> tuple[np.ndarray, np.ndarray]:
    """A content's stored postings, (hashes, frames) sorted by (hash, frame): none for a
    content without any (or deleted). Reads every row of the store: for tests and tools."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM governance_fingerprintsource WHERE content_id = %s", [str(content_id)]
        )
        row = cursor.fetchone()
        if row is None:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        cursor.execute("SELECT shift, bucket, data FROM governance_fingerprintpostings")
        flat = postings.unpacked([(s, b, bytes(d)) for s, b, d in cursor.fetchall()])
    mine = flat.keys == row[0]
    order = np.lexsort((flat.times[mine], flat.hashes[mine]))
    return flat.hashes[mine][order], flat.times[mine][order]


# --------------------------------------------------------------------------------------------
# Peaks
# --------------------------------------------------------------------------------------------

WRITE_BATCH: Final = 500
"""Sources whose peaks :func:`backfill_peaks` writes in one statement."""


def backfill_peaks(*, progress: Callable[[int, int], object] | None = None) -> int:
    """The peaks of the sources that have none (``peaks`` null: stored before migration 0025,
    or keyed without them), computed from their postings and written; how many were written.

    One pass over every segment's rows, a range of :data:`MERGE_HASHES` hashes at a time (as
    a merge reads them, :func:`_chunks`): the peaks of those sources' pairs, as int64 codes
    (key << 32 | frame << 8 | bin), each kept once as the ranges come (merged whenever the
    new ones outnumber those kept), so that the memory is a few times 8 bytes a distinct peak,
    not 16 a posting. Then each source's packed peaks (none if it has no postings), written
    :data:`WRITE_BATCH` at a time where they are still null. All in one transaction holding
    the compaction's lock (a compaction waits for it; imports and queries go on, an import
    writing its own sources' peaks); a content deleted meanwhile is not counted.
    ``progress(done, total)``: the postings read of the segments' total, after each range."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
        cursor.execute("SELECT id FROM governance_fingerprintsource WHERE peaks IS NULL")
        wanted = np.sort(np.fromiter((r[0] for r in cursor.fetchall()), dtype=np.int64))
        if not len(wanted):
            return 0
        cursor.execute("SELECT id, postings FROM governance_fingerprintsegment ORDER BY id")
        held = cursor.fetchall()
        ids, total = [int(i) for i, _ in held], sum(int(n) for _, n in held)
        table = np.zeros(int(wanted[-1]) + 2, dtype=bool)  # (the last: every key above)
        table[wanted] = True
        kept, new, pending, done = np.zeros(0, np.int64), list[np.ndarray](), 0, 0
        for chunk in _chunks(ids):
            mine = table[np.minimum(chunk.keys, len(table) - 1)]
            codes = peaks.pair_codes(chunk.hashes[mine], chunk.times[mine])
            keys = np.tile(chunk.keys[mine], 2)
            new.append(peaks.distinct((keys << 32) | codes))
            pending += len(new[-1])
            if pending > len(kept):
                kept, new, pending = peaks.distinct(np.concatenate((kept, *new))), [], 0
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        kept = peaks.distinct(np.concatenate((kept, *new)))
        bounds = np.searchsorted(kept >> 32, np.append(wanted, wanted[-1] + 1))
        written = 0
        for lo in range(0, len(wanted), WRITE_BATCH):
            packed = []
            for i in range(lo, min(lo + WRITE_BATCH, len(wanted))):
                codes = kept[bounds[i] : bounds[i + 1]] & 0xFFFFFFFF
                packed.append(peaks.pack(codes & 0xFF, codes >> 8))
            cursor.execute(
                "UPDATE governance_fingerprintsource s SET peaks = v.peaks"
                " FROM unnest(%s::int[], %s::bytea[]) AS v(id, peaks)"
                " WHERE s.id = v.id AND s.peaks IS NULL",
                [wanted[lo : lo + WRITE_BATCH].tolist(), packed],
            )
            written += cursor.rowcount
    return written


def peaks_of_contents(content_ids: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """:func:`peaks_of` by content id (as the votes name them, ``every_vote``), in one query."""
    found = _peaks_where("content_id", sorted({str(c) for c in content_ids}), "::uuid[]")
    return {str(c): found_peaks for c, found_peaks in found}


def peaks_of(keys: Iterable[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The peaks of the contents of ``keys`` (``FingerprintSource`` ids, as the votes name
    them), (bins, frames) sorted by (frame, bin), in one query. A key whose content is deleted
    is absent, and so is a key whose peaks are not computed yet (null: stored before migration
    0025 and not backfilled, :func:`backfill_peaks`)."""
    return {int(k): found for k, found in _peaks_where("id", sorted({int(k) for k in keys}), "")}


def _peaks_where(
    column: str, values: list[Any], cast: str
) -> list[tuple[Any, tuple[np.ndarray, np.ndarray]]]:
    """(``column``, peaks) of the sources whose ``column`` (``id`` or ``content_id``, as text)
    is among ``values`` and whose peaks are computed."""
    if not values:
        return []
    connection.ensure_connection()
    # (binary results, each row's peaks as its bytes: a cursor of psycopg's own, as _fetched)
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            f"SELECT {column}::text, peaks FROM governance_fingerprintsource"  # noqa: S608 - ours
            f" WHERE {column} = ANY(%s{cast}) AND peaks IS NOT NULL",
            [values],
            binary=True,
        )
        return [(k, peaks.unpack(bytes(p))) for k, p in cursor.fetchall()]
