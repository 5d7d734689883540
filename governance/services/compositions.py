"""The ``composition`` space in the service (:mod:`governance.content.composition`;
docs/matching.md, "The composition space"): a registered recording's composition vectors,
stored by the content job, and an item's audio matched against them.

A work's vectors are ``WorkEmbedding`` rows of the space (created by migration 0010 with its
partial HNSW index), one per 30-s segment and tempo reading (``embed_reference``). An item's
audio of at least ``MIN_SECONDS`` keeps its query vectors (``embed``, one per segment, computed by
``governance.content.queries.composition_segments``, which the licensee's client runs too) in its
stored fingerprint entry, under ``composition`` (``governance.services.fingerprints``), so that
a request decided later matches what arrived.

Matching (:func:`composition_matches`) is one SQL round trip: for each query segment (a
UNION ALL of one search per segment: :func:`nearest_sql`) its ``TOP_K`` nearest vectors of the
space by HNSW; per work, each segment's best cosine among them, and the median over the query's
segments, as ``composition.score`` does. A work absent from a segment's top ``TOP_K`` counts 0
for that segment: the combined score is never above ``score``'s exact one, so no match comes
from the cut (a match is missed only when more than ``TOP_K`` vectors of other works come
closer to half the segments). Works at or above the space's threshold match.

The composition module loads librosa (about a second): it is imported inside the functions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from django.db import connection, transaction

from governance import evaluation
from governance.content.queries import Segments
from governance.models import EmbeddingSpace, WorkEmbedding

SPACE: Final = "composition"
TOP_K: Final = 50
"""Nearest vectors per query segment: a work has about five per 30 s of audio (its tempo
readings), so 50 leaves room for about ten works per segment."""
EF_SEARCH: Final = 100


def reference_vectors(
    samples: np.ndarray[Any, Any], rate: int
) -> tuple[np.ndarray[Any, Any] | None, str]:
    """A registered recording's vectors (``embed_reference``) and "", or None and why there
    are none (audio shorter than ``MIN_SECONDS``, or silent): not a failure of the content."""
    from governance.content import composition

    seconds = len(samples) / rate
    if seconds < composition.MIN_SECONDS:
        return None, (
            f"No composition vectors: the audio lasts {seconds:.1f} s and the composition "
            f"space needs at least {composition.MIN_SECONDS} s."
        )
    try:
        return composition.embed_reference(samples, rate), ""
    except ValueError as exc:
        return None, f"No composition vectors: {exc}."


def model_version() -> tuple[str, str]:
    """The model and version item segments are computed with and works' vectors matched in."""
    from governance.content import composition

    return composition.MODEL, composition.VERSION


def space() -> EmbeddingSpace | None:
    """The space's row (created by migration 0010); None if it was removed."""
    return EmbeddingSpace.objects.filter(name=SPACE).first()


def _literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


def has_vectors(*, work_id: Any) -> bool:
    """Whether the work has vectors in the space (True when the space is not registered: there
    is nothing to compute for it)."""
    target = space()
    return target is None or WorkEmbedding.objects.filter(space=target, work_id=work_id).exists()


def reference_store(*, work_id: Any, vectors: np.ndarray[Any, Any]) -> int:
    """In the caller's transaction: ``vectors`` (``embed_reference``'s rows) as the work's
    ``WorkEmbedding`` rows of the space, in one statement; how many."""
    target = space()
    if target is None or not len(vectors):
        return 0
    if vectors.shape[1] != target.dimension:
        raise ValueError(f"{vectors.shape[1]}-d vectors for the {target.dimension}-d space")
    rows = np.asarray(vectors, dtype=np.float64).tolist()  # floats' repr, as _literal writes
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO governance_workembedding (space_id, work_id, embedding)"
            " SELECT %s, %s, v::vector FROM unnest(%s::text[]) AS v",
            [target.pk, work_id, ["[" + ",".join(map(repr, row)) + "]" for row in rows]],
        )
        return int(cursor.rowcount)


def nearest_sql(space: EmbeddingSpace, segments: int) -> str:
    """One statement for ``segments`` query vectors: a UNION ALL of one top-k search each.
    (A LATERAL join over the unnested vectors reads the same rows but cannot use the index:
    PostgreSQL orders an index scan only by a constant or a parameter, never by a column of
    another relation, so it would sort the whole space for each segment.)"""
    # Integers from our own table, written into the SQL: the partial index is used only when
    # the planner sees the space id as a constant.
    d, space_id = int(space.dimension), int(space.pk)
    one = (
        "(SELECT {n}, work_id::text, 1 - (embedding::vector({d}) <=> %s::vector({d}))"
        " FROM governance_workembedding WHERE space_id = {space}"
        " ORDER BY embedding::vector({d}) <=> %s::vector({d}) LIMIT %s)"
    )
    return " UNION ALL ".join(one.format(n=n, d=d, space=space_id) for n in range(segments))


def nearest(
    space: EmbeddingSpace, segments: Segments, *, k: int = TOP_K
) -> list[tuple[int, str, float]]:
    """Each segment's ``k`` nearest vectors of ``space`` by HNSW, in one round trip:
    (segment index from 0, work id, cosine similarity)."""
    if not segments:
        return []
    params: list[Any] = []
    for segment in segments:
        literal = _literal(segment)
        params += [literal, literal, k]
    with transaction.atomic(), connection.cursor() as cursor:  # SET LOCAL needs one
        cursor.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, int(k))}")
        cursor.execute(nearest_sql(space, len(segments)), params)
        return [(int(n), str(w), float(s)) for n, w, s in cursor.fetchall()]


def combine(rows: Sequence[tuple[int, str, float]], segments: int) -> dict[str, tuple[float, int]]:
    """Per work: the median over the ``segments`` query segments of each one's best cosine
    among the work's vectors in its top k (0 where the work is absent), and how many segments
    found the work at all."""
    best: dict[str, list[float]] = defaultdict(lambda: [0.0] * segments)
    for n, work, score in rows:
        best[work][n] = max(best[work][n], score)
    return {w: (float(np.median(scores)), sum(s > 0 for s in scores)) for w, scores in best.items()}


def composition_matches(segments: Segments, *, version: str) -> list[tuple[str, evaluation.Match]]:
    """The works whose composition the query segments match, best first (module docstring);
    none if the space is gone or the segments were computed by another model version."""
    model, served = model_version()
    target = space()
    if not segments or target is None or version != served or target.model_version != served:
        return []
    scored = combine(nearest(target, segments), len(segments))
    threshold = float(target.threshold)
    out = []
    for work, (score, found) in sorted(scored.items(), key=lambda x: (-x[1][0], x[0])):
        if score < threshold:
            continue
        detail = (
            ("model", model), ("model_version", version), ("segments", len(segments)),
            ("segments_found", found), ("top_k", TOP_K),
        )  # fmt: skip
        out.append((work, evaluation.Match(SPACE, round(score, 6), threshold, detail)))
    return out
