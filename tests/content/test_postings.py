"""The packed store's numpy side (``governance.content.postings``) against ``MemoryIndex``:
rows packed at any shift read back the same postings, the votes counted from them are
``MemoryIndex.votes``, and the near-vote filter keeps every vote of every passing candidate."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.content import postings
from governance.content.fingerprint import (
    FRAME_SECONDS,
    FRAMES_PER_BLOCK,
    Fingerprint,
    MemoryIndex,
    score_votes,
)

pairs = st.lists(st.tuples(st.integers(0, 40_000), st.integers(0, 300)), max_size=60)


def _fp(items: list[tuple[int, int]]) -> Fingerprint:
    unique = sorted(set(items), key=lambda p: (p[1], p[0]))
    return Fingerprint(
        hashes=np.array([h % 17 * 2_351 for h, _ in unique], np.int32),  # (shared hashes)
        times=np.array([t for _, t in unique], np.int32),
        seconds=400 * FRAME_SECONDS,
    )


def _triples(flat: postings.Flat) -> list[tuple[int, int, int]]:
    return sorted(zip(flat.hashes.tolist(), flat.keys.tolist(), flat.times.tolist(), strict=True))


def _read(rows: postings.Rows) -> list[tuple[int, int, bytes]]:
    out, start = [], 0
    for bucket, size in zip(rows.buckets.tolist(), rows.sizes().tolist(), strict=True):
        out.append((rows.shift, bucket, rows.packed[start : start + size]))
        start += size
    return out


def _as_read(
    segments: list[postings.Rows], query: np.ndarray, cap: int | None
) -> tuple[list[tuple[int, int, bytes]], np.ndarray]:
    """What ``fingerprint_store.ROWS_SQL`` returns for ``query``: the rows of its buckets at
    every shift, a hash's shift-0 rows without their data when they hold more than ``cap``."""
    shifts, buckets = postings.query_buckets(query)
    asked = set(zip(shifts, buckets, strict=True))
    rows = [r for seg in segments for r in _read(seg) if (r[0], r[1]) in asked]
    held: dict[int, int] = {}
    for shift, bucket, data in rows:
        if shift == 0:
            held[bucket] = held.get(bucket, 0) + len(data) // postings.POSTING.itemsize
    over = {b for b, n in held.items() if cap is not None and n > cap}
    kept = [r for r in rows if not (r[0] == 0 and r[1] in over)]
    return kept, np.array(sorted(over), dtype=np.int64)


@settings(max_examples=200, deadline=None)
@given(
    refs=st.lists(pairs, min_size=1, max_size=6),
    query=pairs,
    shifts=st.tuples(st.sampled_from(postings.SHIFTS), st.sampled_from(postings.SHIFTS)),
    cap=st.one_of(st.none(), st.integers(1, 6)),
)
def test_packed_rows_vote_as_the_memory_index(
    refs: list[list[tuple[int, int]]], query: list[tuple[int, int]], shifts: tuple[int, int],
    cap: int | None,
) -> None:  # fmt: skip
    # given the references in two segments, each of its shift
    fps = [_fp(items) for items in refs]
    index = MemoryIndex()
    for n, fp in enumerate(fps):
        index.add(str(n + 1), fp)
    half = len(fps) // 2
    segments = []
    for shift, keyed in zip(shifts, (range(half), range(half, len(fps))), strict=True):
        flat = postings.flat_of([(n + 1, fps[n].hashes, fps[n].times) for n in keyed], hash_bits=22)
        read = postings.unpacked(_read(postings.rows_of(flat, shift=shift)))
        assert _triples(read) == _triples(flat)
        segments.append(postings.rows_of(flat, shift=shift))
    # when a query's rows are read as the store reads them, then its votes are the index's
    q = _fp(query)
    rows, over = _as_read(segments, q.hashes, cap)
    got = postings.gathered(rows, q.hashes, cap=cap, over=over)
    k, o, b, n = postings.votes(*postings.expand(got, q.hashes, q.times),
                                frames_per_block=FRAMES_PER_BLOCK)  # fmt: skip
    votes = [(str(x), y, z, w) for x, y, z, w in zip(k.tolist(), o.tolist(), b.tolist(),
                                                      n.tolist(), strict=True)]  # fmt: skip
    assert sorted(votes) == sorted(index.votes(q, cap=cap))


@settings(max_examples=200, deadline=None)
@given(
    votes=st.lists(
        st.tuples(st.integers(1, 3), st.integers(-12, 12), st.integers(0, 40)), max_size=120
    ),
    needed=st.integers(1, 8),
)
def test_the_near_filter_keeps_every_vote_of_every_passing_candidate(
    votes: list[tuple[int, int, int]], needed: int
) -> None:
    keys = np.array([v[0] for v in votes], np.int64)
    offsets = np.array([v[1] for v in votes], np.int64)
    frames = np.array([v[2] for v in votes], np.int64)

    def scored(mask: np.ndarray) -> list[object]:
        k, o, b, n = postings.votes(keys[mask], offsets[mask], frames[mask],
                                    frames_per_block=FRAMES_PER_BLOCK)  # fmt: skip
        rows = zip(map(str, k.tolist()), o.tolist(), b.tolist(), n.tolist(), strict=True)
        return [c for c in score_votes(rows) if c.score >= needed]

    every = np.ones(len(keys), dtype=bool)
    near = postings.near_mask(keys, offsets, needed=needed)
    assert scored(near) == scored(every)


def test_postings_sort_by_hash_key_and_frame_past_the_packed_sorts_range() -> None:
    rng = np.random.default_rng(5)
    for top_key, top_frame in ((1 << 19, 1 << 21), (1 << 30, 1 << 21), (1 << 19, 1 << 30)):
        h = rng.integers(0, 1 << 22, 500)
        k = rng.integers(0, top_key, 500)
        t = rng.integers(0, top_frame, 500)
        h[:50], k[:50] = 7, 3  # (ties on hash and key)
        got = postings.sorted_flat(h, k, t)
        assert _triples(got) == list(zip(got.hashes.tolist(), got.keys.tolist(),
                                         got.times.tolist(), strict=True))  # fmt: skip
        assert _triples(got) == sorted(zip(h.tolist(), k.tolist(), t.tolist(), strict=True))
