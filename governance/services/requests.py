"""Submitting AI-use requests: validate, store the request, its items and an outbox row in one
transaction (:func:`~governance.services.outbox.job_enqueue`), which Celery gets on commit
(DESIGN.md, Request pipeline).

An item names a work (``isrc``, ``iswc``, ``upc`` or ``work_id``) or carries ``vectors`` in named
embedding spaces. Bad input (a malformed identifier, an unknown space) is a 400 naming the
item and the reason, and stores nothing; a well-formed identifier under which nothing is
registered is not bad input: deciding answers ``no_match`` for that item.
Manifests (CSV or JSONL, up to ``MANIFEST_MAX_ITEMS``) are read here too: their bad lines are a
400 naming the line.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import urllib.parse
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from django.db import connection, transaction
from django.utils import timezone

from governance import evaluation, identifiers, jsontext
from governance.access import Actor
from governance.bulk import copy_insert
from governance.exceptions import Conflict, GovernanceError, InvalidInput
from governance.models import (
    EmbeddingSpace,
    PartyKind,
    RequestItem,
    UseRequest,
)
from governance.services.outbox import job_enqueue
from governance.terms import USES

MAX_ITEMS = 1000
"""Items in one JSON request; larger sets go in a manifest."""
MANIFEST_MAX_ITEMS = 1_000_000
CHUNK = 1000
"""Items a worker decides in one transaction."""
REFERENCE_KEYS = ("isrc", "iswc", "upc", "work_id")


@dataclass(frozen=True)
class ItemSpec:
    reference: str = ""  # "isrc:USRC17607839", "work_id:<uuid>", ...
    vectors: tuple[tuple[str, tuple[float, ...]], ...] = ()

    def content_sha256(self) -> str:
        """A commitment to what the item carried (the content itself is never stored)."""
        body = json.dumps(
            {"reference": self.reference, "vectors": [[s, list(v)] for s, v in self.vectors]},
            separators=(",", ":"),
        )
        return hashlib.sha256(body.encode()).hexdigest()


def item_spec(raw: Any, *, name: str, spaces: Mapping[str, EmbeddingSpace]) -> ItemSpec:
    """One item, validated: exactly one identifier, or a list of vectors."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.field(name, "an item is an object with an identifier or vectors")
    keys = [k for k in (*REFERENCE_KEYS, "vectors") if raw.get(k) not in (None, "", [])]
    unknown = sorted(set(map(str, raw)) - {*REFERENCE_KEYS, "vectors"})
    if unknown:
        raise InvalidInput.unknown_fields([f"{name}.{key}" for key in unknown])
    if len(keys) != 1:
        raise InvalidInput.field(
            name, f"give exactly one of {', '.join((*REFERENCE_KEYS, 'vectors'))}"
        )
    key = keys[0]
    if key == "vectors":
        return ItemSpec(vectors=vectors_spec(raw["vectors"], name=f"{name}.vectors", spaces=spaces))
    value = str(raw[key]).strip()
    try:
        if key == "work_id":
            value = str(uuid.UUID(value))
        elif key == "isrc":
            value = identifiers.normalize_isrc(value)
        elif key == "iswc":
            value = identifiers.normalize_iswc(value)
        elif key == "upc":
            value = identifiers.normalize_upc(value)
    except ValueError as exc:
        raise InvalidInput.field(f"{name}.{key}", str(exc)) from None
    return ItemSpec(reference=f"{key}:{value}")


def vectors_spec(
    raw: Any, *, name: str, spaces: Mapping[str, EmbeddingSpace]
) -> tuple[tuple[str, tuple[float, ...]], ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 8:
        raise InvalidInput.field(name, "a list of 1 to 8 {space, vector} objects")
    out = []
    for n, entry in enumerate(raw):
        where = f"{name}.{n}"
        if not isinstance(entry, Mapping):
            raise InvalidInput.field(where, "an object with space and vector")
        unknown = sorted(set(map(str, entry)) - {"space", "vector"})
        if unknown:
            raise InvalidInput.unknown_fields([f"{where}.{key}" for key in unknown])
        space = spaces.get(str(entry.get("space")))
        if space is None:
            known = ", ".join(sorted(spaces)) or "none registered"
            raise InvalidInput.field(
                f"{where}.space", f"unknown embedding space {entry.get('space')!r} ({known})"
            )
        vector = entry.get("vector")
        if not isinstance(vector, list) or len(vector) != space.dimension:
            got = len(vector) if isinstance(vector, list) else "no list"
            raise InvalidInput.field(
                f"{where}.vector", f"space {space.name} has dimension {space.dimension}, got {got}"
            )
        values = []
        for v in vector:
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise InvalidInput.field(
                    f"{where}.vector",
                    "every component must be a finite number (no NaN or infinity)",
                )
            values.append(float(v))
        if not any(values):
            raise InvalidInput.field(f"{where}.vector", "a zero vector has no direction (cosine)")
        out.append((space.name, tuple(values)))
    return tuple(out)


@dataclass(frozen=True)
class RequestSpec:
    use: str
    territories: tuple[str, ...]
    commercial: bool
    model_name: str
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    callback_url: str


def request_spec(data: Mapping[str, Any], *, now: dt.datetime | None = None) -> RequestSpec:
    """A request's terms, validated. Its period of use (``period_start``, ``period_end``) is
    what is decided (``evaluation.periods``): with both, the whole period; with only a start,
    from then on; with only an end, from ``now`` (when it is asked) to then, so an end not
    after ``now`` is refused; with neither, the moment it is asked."""
    use = data.get("use")
    if use not in USES:
        raise InvalidInput.field("use", f"unknown use {use!r}; uses are {', '.join(USES)}")
    try:
        mode, codes = identifiers.normalize_territories(data.get("territories") or [])
    except ValueError as exc:
        raise InvalidInput.field("territories", str(exc)) from None
    if mode == "exclude":
        raise InvalidInput.field("territories", "list the territories of use (empty for worldwide)")
    start, end = data.get("period_start"), data.get("period_end")
    for name, value in (("period_start", start), ("period_end", end)):
        if value is not None and (not isinstance(value, dt.datetime) or value.tzinfo is None):
            raise InvalidInput.field(name, "must be a date-time with a time zone (RFC 3339)")
    try:
        evaluation.question_period(start=start, end=end, asked=now or timezone.now())
    except ValueError:
        after = "period_start" if start is not None else "the time of the request"
        raise InvalidInput.field("period_end", f"must be after {after}") from None
    callback = str(data.get("callback_url") or "")
    if callback and urllib.parse.urlsplit(callback).scheme not in ("http", "https"):
        raise InvalidInput.field("callback_url", "must be an http(s) URL")
    if callback:
        from governance.services.callbacks import callback_address_problem

        problem = callback_address_problem(callback)
        if problem is not None:
            raise InvalidInput.field("callback_url", problem)
    return RequestSpec(
        use=str(use),
        territories=tuple(sorted(codes)),
        commercial=bool(data.get("commercial", True)),
        model_name=str(data.get("model_name") or "")[:200],
        period_start=start,
        period_end=end,
        callback_url=callback,
    )


def spaces_by_name() -> dict[str, EmbeddingSpace]:
    return {s.name: s for s in EmbeddingSpace.objects.all()}


def request_fingerprint(spec: RequestSpec, items: Sequence[ItemSpec]) -> str:
    body = json.dumps(
        {
            "request": [
                spec.use,
                list(spec.territories),
                spec.commercial,
                spec.model_name,
                str(spec.period_start),
                str(spec.period_end),
                spec.callback_url,
            ],
            "items": [i.content_sha256() for i in items],
        },
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


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
    idempotency_key: str | None,
    now: dt.datetime,
) -> tuple[UseRequest, bool]:
    """Submit a request of JSON ``items`` (each named ``items.N`` in a 400) or of a
    ``manifest`` file (CSV or JSONL; its ``territories`` a string, "FR DE" or "FR,DE"):
    ``(request, created)``, as :func:`request_submit`."""
    actor.require_kind(PartyKind.LICENSEE, action="Asking to use music")
    spaces = spaces_by_name()
    terms = dict(fields)
    if manifest is not None:
        specs = manifest_items(manifest, filename=manifest_name, spaces=spaces)
        terms["territories"] = str(terms.get("territories") or "").replace(",", " ").split()
        kind = "manifest"
    else:
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
        vectors=[{"space": s, "vector": list(v)} for s, v in item.vectors],
        content_sha256=item.content_sha256(),
    )


# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------


MANIFEST_MAX_BYTES = 1024 * 1024 * 1024
"""The largest manifest accepted (1 GiB): a million items by identifier take some 20 MB; by
vector, in the largest space, a few hundred MB."""


class ManifestTooLarge(GovernanceError):
    code = "too_large"
    status = 413


def manifest_is_jsonl(*, filename: str, head: bytes) -> bool:
    """JSON Lines by its name (``.jsonl``, ``.ndjson``) or its first character (``{``); else
    CSV."""
    first = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    return filename.lower().endswith((".jsonl", ".ndjson")) or first == b"{"


def manifest_max_lines(*, jsonl: bool) -> int:
    """Lines a manifest may have: one per item, and the header of a CSV one. Blank lines count:
    the limit is checked on bytes as they arrive, before any line is parsed."""
    return MANIFEST_MAX_ITEMS + (0 if jsonl else 1)


def manifest_too_many_lines(*, line: int) -> InvalidInput:
    return InvalidInput.field(
        "manifest",
        f"more than {MANIFEST_MAX_ITEMS:,} items: refused at line {line:,}, before reading on",
    )


def manifest_too_many_bytes() -> ManifestTooLarge:
    reason = f"larger than {MANIFEST_MAX_BYTES:,} bytes"
    return ManifestTooLarge(f"manifest: {reason}.", fields={"manifest": [reason]})


def manifest_items(
    source: bytes | BinaryIO, *, filename: str, spaces: Mapping[str, EmbeddingSpace]
) -> list[ItemSpec]:
    """Items of a CSV manifest (a header naming one of isrc, iswc, upc, work_id per row) or a
    JSONL one (one item object per line, read by ``governance.jsontext``: bounded depth, no
    NUL); 400 naming the first bad line.

    ``source`` is read line by line: a manifest with more lines than ``manifest_max_lines`` is
    refused when its first extra line is read, before that line is parsed and without reading
    the rest (the API also counts lines while the upload arrives: ``api/uploads.py``)."""
    stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes) else source
    head = stream.read(64)
    stream.seek(0)
    jsonl = manifest_is_jsonl(filename=filename, head=head)
    limit = manifest_max_lines(jsonl=jsonl)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    lines = _BoundedLines(text, limit=limit)
    try:
        return _jsonl_items(lines, spaces) if jsonl else _csv_items(lines, spaces)
    except UnicodeDecodeError as exc:
        raise InvalidInput.field(
            "manifest", f"not UTF-8 (line {lines.count:,}: {exc.reason})"
        ) from None
    finally:
        text.detach()  # the caller's stream stays open


class _BoundedLines:
    """The lines of ``text``, counted; the line after ``limit`` raises instead of being
    yielded."""

    def __init__(self, text: io.TextIOWrapper, *, limit: int) -> None:
        self.text, self.limit, self.count = text, limit, 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.text.readline()
        if not line:
            raise StopIteration
        self.count += 1
        if self.count > self.limit:
            raise manifest_too_many_lines(line=self.count)
        return line


def _jsonl_items(lines: _BoundedLines, spaces: Mapping[str, EmbeddingSpace]) -> list[ItemSpec]:
    items: list[ItemSpec] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            raw = jsontext.loads(line)
        except jsontext.JsonRefused as exc:
            where = f"line {lines.count}" + (f", {exc.path}" if exc.path else "")
            raise InvalidInput.field("manifest", f"{where}: {exc.reason}") from None
        except ValueError as exc:
            raise InvalidInput.field("manifest", f"line {lines.count}: not JSON ({exc})") from None
        items.append(_manifest_item(raw, lines.count, spaces))
    return items


def _csv_items(lines: _BoundedLines, spaces: Mapping[str, EmbeddingSpace]) -> list[ItemSpec]:
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    unknown = [c for c in header if c not in REFERENCE_KEYS]
    if unknown or not header:
        raise InvalidInput.field(
            "manifest",
            f"line 1: the columns are one or more of {', '.join(REFERENCE_KEYS)}; got {header!r}",
        )
    items: list[ItemSpec] = []
    try:
        for row in reader:
            if None in row:  # DictReader's key for the cells past the header's columns
                raise InvalidInput.field(
                    "manifest",
                    f"line {reader.line_num}: more cells than the header's "
                    f"{len(header)} column{'s' if len(header) > 1 else ''}",
                )
            raw = {k: v for k, v in row.items() if k in REFERENCE_KEYS and v}
            if not raw and not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            items.append(_manifest_item(raw, reader.line_num, spaces))
    except csv.Error as exc:
        raise InvalidInput.field(
            "manifest", f"line {reader.line_num}: malformed CSV ({exc})"
        ) from None
    return items


def _manifest_item(raw: Any, line: int, spaces: Mapping[str, EmbeddingSpace]) -> ItemSpec:
    try:
        return item_spec(raw, name="item", spaces=spaces)
    except InvalidInput as exc:
        raise InvalidInput.field("manifest", f"line {line}: {exc.message}") from None


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
