"""Embedding spaces (staff) and works' vectors in them (the work's registrant or holders).

Each space gets its own partial HNSW index (cosine) over the shared embeddings table, on the
column cast to the space's dimension, so spaces of different dimensions live side by side and
matching in one space reads only its own index (docs/matching.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction

from governance import ledgering
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput, PermissionDenied
from governance.models import EmbeddingSpace, Work, WorkEmbedding
from governance.services.catalog import can_edit_work
from governance.services.facts import space_index_sql


@transaction.atomic
def space_create(
    *,
    user: AbstractBaseUser,
    name: str,
    model: str,
    model_version: str,
    dimension: int,
    threshold: float,
) -> EmbeddingSpace:
    if not getattr(user, "is_staff", False):
        raise PermissionDenied("Only staff register embedding spaces.")
    if EmbeddingSpace.objects.filter(name=name).exists():
        raise Conflict(f"A space named {name!r} exists already.", fields={"name": ["taken"]})
    if not 1 <= dimension <= 2000:
        raise InvalidInput("dimension: 1 to 2000.", fields={"dimension": ["1 to 2000"]})
    if not 0 <= threshold <= 1:
        raise InvalidInput("threshold: 0 to 1.", fields={"threshold": ["0 to 1 (cosine)"]})
    space = EmbeddingSpace.objects.create(
        name=name,
        model=model,
        model_version=model_version,
        dimension=dimension,
        threshold=threshold,
    )
    with connection.cursor() as cursor:
        cursor.execute(space_index_sql(space))
    ledgering.append(
        "embedding_space",
        {
            "space": space.name,
            "model": model,
            "model_version": model_version,
            "dimension": dimension,
            "metric": "cosine",
            "threshold": threshold,
        },
        now=space.created_at,
    )
    return space


@transaction.atomic
def embeddings_add(
    *, actor: Actor, work: Work, vectors: Sequence[tuple[str, Sequence[float]]], now: dt.datetime
) -> int:
    """Add a work's vectors (validated by ``vectors_spec``); ledgers a commitment to each."""
    actor.require_writer(action="Registering a work's embeddings")
    if not can_edit_work(actor, work):
        raise PermissionDenied("Only the work's registrant or a holder adds its embeddings.")
    spaces = {s.name: s for s in EmbeddingSpace.objects.filter(name__in=[n for n, _ in vectors])}
    rows = [WorkEmbedding(space=spaces[n], work=work, embedding=list(v)) for n, v in vectors]
    WorkEmbedding.objects.bulk_create(rows)
    for (name, vector), row in zip(vectors, rows, strict=True):
        digest = hashlib.sha256(",".join(repr(float(x)) for x in vector).encode()).hexdigest()
        ledgering.append(
            "work_embedding",
            {"work": str(work.pk), "space": name, "id": row.pk, "vector_sha256": digest},
            now=now,
        )
    return len(rows)
