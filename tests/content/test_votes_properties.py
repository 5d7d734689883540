"""MemoryIndex and score_votes against their definitions, written the slow way: the store's
SQL is tested against MemoryIndex, so MemoryIndex is tested against the plain join."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.content.fingerprint import (
    FRAME_SECONDS,
    FRAMES_PER_BLOCK,
    Fingerprint,
    MemoryIndex,
    score_votes,
)

pairs = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 300)), max_size=40)


def _fp(items: list[tuple[int, int]]) -> Fingerprint:
    unique = sorted(set(items), key=lambda p: (p[1], p[0]))
    return Fingerprint(
        hashes=np.array([h for h, _ in unique], np.int32),
        times=np.array([t for _, t in unique], np.int32),
        seconds=400 * FRAME_SECONDS,
    )


@settings(max_examples=200, deadline=None)
@given(refs=st.lists(pairs, min_size=1, max_size=4), query=pairs)
def test_votes_are_the_join_grouped_by_key_offset_and_block(
    refs: list[list[tuple[int, int]]], query: list[tuple[int, int]]
) -> None:
    index = MemoryIndex()
    fps = {f"r{i}": _fp(items) for i, items in enumerate(refs)}
    for key, fp in fps.items():
        index.add(key, fp)
    q = _fp(query)

    expected: Counter[tuple[str, int, int]] = Counter()
    for qh, qt in zip(q.hashes.tolist(), q.times.tolist(), strict=True):
        for key, fp in fps.items():
            for rh, rt in zip(fp.hashes.tolist(), fp.times.tolist(), strict=True):
                if rh == qh:
                    expected[(key, rt - qt, qt // FRAMES_PER_BLOCK)] += 1

    assert sorted(index.votes(q)) == sorted((k, o, b, n) for (k, o, b), n in expected.items())
    assert index.postings(q) == sum(expected.values())


votes = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]), st.integers(-5, 5), st.integers(0, 6), st.integers(1, 4)
    ),
    max_size=30,
    unique_by=lambda v: v[:3],
)


@settings(max_examples=300, deadline=None)
@given(rows=votes)
def test_each_candidate_has_its_best_merged_offset(rows: list[tuple[str, int, int, int]]) -> None:
    best: dict[str, tuple[int, int]] = {}
    for key in {r[0] for r in rows}:
        mine = [r for r in rows if r[0] == key]
        centres: dict[int, tuple[set[int], int]] = defaultdict(lambda: (set(), 0))
        for c in range(-6, 7):
            near = [r for r in mine if abs(r[1] - c) <= 1]
            if near:
                centres[c] = ({r[2] for r in near}, sum(r[3] for r in near))
        best[key] = max((len(blocks), hits) for blocks, hits in centres.values())

    found = score_votes(rows)

    assert {c.key: (c.score, c.hits) for c in found} == best
    assert [(c.score, c.hits) for c in found] == sorted(
        ((c.score, c.hits) for c in found), reverse=True
    )
