"""Submitting AI-use requests: store the request, its items and an outbox row in one
transaction (:func:`~governance.services.outbox.job_enqueue`), which Celery gets on commit
(DESIGN.md, Request pipeline); a retry with the same ``Idempotency-Key`` finds the first
request. Also hands stalled requests to the workers again.

What a request says is validated in ``governance.services.request_specs`` (a 400 stores
nothing); a manifest's items are read in ``governance.services.manifests``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from django.db import connection, transaction

from governance.access import Actor
from governance.bulk import copy_insert
from governance.exceptions import Conflict, InvalidInput
from governance.models import PartyKind, RequestItem, UseRequest
from governance.services.manifests import manifest_items
from governance.services.outbox import job_enqueue
from governance.services.request_specs import (
    ItemSpec,
    RequestSpec,
    audio_file_item,
    item_spec,
    request_fingerprint,
    request_spec,
    spaces_by_name,
)

CHUNK = 1000
"""Items a worker decides in one transaction."""


def idempotency_lock(*, licensee_id: Any, key: str) -> None:
    """Hold, until the transaction ends, the lock of one licensee's ``Idempotency-Key``: the
    requests that carry it are stored one after the other, so the second finds the first
    instead of breaking the unique constraint (a 500). The lock is keyed by a 64-bit hash of
    the pair; two pairs that share a hash only wait for each other."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"consentry idempotency {licensee_id} {key}"],
        )


def idempotent_request(
    *, licensee_id: Any, key: str, kind: str, fingerprint: str
) -> UseRequest | None:
    """The licensee's request stored with ``key``, or ``None``, once the key's lock is held
    (in the caller's transaction; READ COMMITTED, so a request committed while this one waited
    is seen). A request with another body or of another kind is a 409."""
    idempotency_lock(licensee_id=licensee_id, key=key)
    existing = UseRequest.objects.filter(licensee_id=licensee_id, idempotency_key=key).first()
    if existing is not None and (existing.request_sha256, existing.kind) != (fingerprint, kind):
        raise Conflict(
            "This Idempotency-Key was used for a different request.",
            fields={"Idempotency-Key": ["reused with another body"]},
        )
    return existing


@transaction.atomic
def request_submit(
    *,
    actor: Actor,
    spec: RequestSpec,
    items: Sequence[ItemSpec],
    idempotency_key: str | None,
    now: dt.datetime,
    kind: str = "items",
    dispatch: bool = True,
) -> tuple[UseRequest, bool]:
    """Store a request and its items with an outbox row; ``(request, created)``. A retry with
    the same ``Idempotency-Key`` and body returns the first request; another body is a 409."""
    actor.require_kind(PartyKind.LICENSEE, action="Asking to use music")
    actor.require_writer(action="Asking to use music")
    if not items:
        raise InvalidInput.field("items", "at least one item")
    fingerprint = request_fingerprint(spec, items)
    if idempotency_key:
        existing = idempotent_request(
            licensee_id=actor.party.pk, key=idempotency_key, kind=kind, fingerprint=fingerprint
        )
        if existing is not None:
            return existing, False
    request = request_build(
        actor=actor, spec=spec, items=items, kind=kind, now=now, fingerprint=fingerprint,
        idempotency_key=idempotency_key or None,
    )  # fmt: skip
    request.save(force_insert=True)
    copy_insert(RequestItem, [item_build(request, n, i) for n, i in enumerate(items)])
    if dispatch:  # a synchronous check is decided by its caller, in this transaction
        job_enqueue(task="governance.decide_request", args=[str(request.pk)], now=now)
    return request, True


def use_request_submit(
    *,
    actor: Actor,
    fields: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]] | None = None,
    manifest: BinaryIO | None = None,
    manifest_name: str = "",
    audio_files: Sequence[BinaryIO] | None = None,
    idempotency_key: str | None,
    now: dt.datetime,
) -> tuple[UseRequest, bool]:
    """Submit a request of JSON ``items`` (each named ``items.N`` in a 400), of a
    ``manifest`` file (CSV or JSONL) or of ``audio_files`` (multipart ``file`` parts, an item
    each, named ``file.N``; fingerprinted here): ``(request, created)``, as
    :func:`request_submit`. A multipart body's ``territories`` is a string, "FR DE" or "FR,DE"."""
    actor.require_kind(PartyKind.LICENSEE, action="Asking to use music")
    terms = dict(fields)
    if manifest is not None or audio_files is not None:
        terms["territories"] = str(terms.get("territories") or "").replace(",", " ").split()
    if audio_files is not None:
        # one file in memory at a time: each is read, fingerprinted and let go
        specs = [audio_file_item(f.read(), name=f"file.{n}") for n, f in enumerate(audio_files)]
        kind = "items"
    elif manifest is not None:
        specs = manifest_items(manifest, filename=manifest_name, spaces=spaces_by_name())
        kind = "manifest"
    else:
        spaces = spaces_by_name()
        specs = [
            item_spec(raw, name=f"items.{n}", spaces=spaces) for n, raw in enumerate(items or [])
        ]
        kind = "items"
    return request_submit(
        actor=actor,
        spec=request_spec(terms),
        items=specs,
        now=now,
        kind=kind,
        idempotency_key=idempotency_key,
    )


def request_build(
    *,
    actor: Actor,
    spec: RequestSpec,
    items: Sequence[ItemSpec],
    kind: str,
    now: dt.datetime,
    fingerprint: str | None = None,
    **fields: Any,
) -> UseRequest:
    """A request, not saved yet (``fields`` set its other columns: status, counts, ...)."""
    return UseRequest(
        licensee=actor.party,
        kind=kind,
        use=spec.use,
        model_name=spec.model_name,
        territories=list(spec.territories),
        commercial=spec.commercial,
        period_start=spec.period_start,
        period_end=spec.period_end,
        callback_url=spec.callback_url,
        request_sha256=fingerprint or request_fingerprint(spec, items),
        item_count=len(items),
        created_at=now,
        **fields,
    )


def item_build(request: UseRequest, position: int, item: ItemSpec) -> RequestItem:
    """An item of ``request``, not saved yet."""
    return RequestItem(
        request=request,
        position=position,
        reference=item.reference,
        vectors=(
            [item.content.stored()]
            if item.content is not None
            else [item.text.stored()]
            if item.text is not None
            else [{"space": s, "vector": list(v)} for s, v in item.vectors]
        ),
        content_sha256=item.content_sha256(),
    )


def stalled_requests_redispatch(*, stalled_for: dt.timedelta, now: dt.datetime) -> int:
    """Hand again to the workers requests that made no progress for ``stalled_for``: a task
    lost with a killed worker on a broker that does not redeliver (the embedded transports
    hold unacknowledged messages in the worker). Deciding is idempotent, so a request that
    was merely slow loses nothing but some work. Returns how many were re-sent."""
    from django.db.models import Max

    from governance.models import RequestStatus

    cutoff = now - stalled_for
    stalled = (
        UseRequest.objects.exclude(status=RequestStatus.COMPLETED)
        .exclude(kind="check")
        .filter(created_at__lt=cutoff)
        .annotate(last=Max("decisions__created_at"))
        .order_by("created_at")[:100]
    )
    count = 0
    for request in stalled:
        if request.last is None or request.last < cutoff:
            with transaction.atomic():
                job_enqueue(task="governance.decide_request", args=[str(request.pk)], now=now)
            count += 1
    return count
