"""Deciding requests: resolve each item to works (by identifier, or by matching its vectors on
pgvector), gather the facts the evaluator needs, evaluate (``governance.evaluation``, pure),
and store each decision with its ledger entry in the same transaction, a chunk at a time.

Safe to run twice: a chunk locks its undecided items (``SELECT ... FOR UPDATE``) and skips the
ones already decided, so a redelivered task adds nothing, and a decision and its ledger entry
commit or roll back together (exactly one of each per item).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import structlog
from django.db import connection, transaction
from django.db.models import F

from governance import evaluation, faults, ledgering
from governance.bulk import Rows, model_rows, rows_insert
from governance.exceptions import TRANSIENT_DB_ERRORS
from governance.models import (
    Decision,
    RequestItem,
    RequestStatus,
    Review,
    UseRequest,
)
from governance.services import callbacks
from governance.services.facts import Context, Resolved, question_of
from governance.services.fingerprints import content_described
from governance.services.outbox import job_enqueue
from governance.services.requests import CHUNK
from governance.services.texts import is_text_entry
from governance.terms import Obligations
from ledger import canonical

log = structlog.get_logger("governance.deciding")

# --------------------------------------------------------------------------------------------
# Deciding
# --------------------------------------------------------------------------------------------


PRIVATE_MATCH_KEYS = frozenset(("span",))
"""What a match in the trace says that the decision's clear ledger entry leaves out: the words
of the licensee's prompt that matched an artist's name (the committed trace keeps them)."""


_OBLIGATION_FIELDS = tuple(f.name for f in fields(Obligations))


def obligations_json(obligations: Obligations) -> dict[str, Any]:
    """The obligations that are set, as JSON (in the fields' order, as ``asdict`` gives them:
    their values are scalars, which ``asdict`` would only deep-copy)."""
    return {
        k: v for k in _OBLIGATION_FIELDS if (v := getattr(obligations, k)) not in ("", False, None)
    }


def _time(value: dt.datetime) -> str:
    return canonical.format_time(value)


def decision_payload(
    decision: Decision,
    item: RequestItem,
    request: UseRequest,
    question: evaluation.Question | None = None,
) -> dict[str, Any]:
    """The ledger entry of a decision: enough to replay it from the ledger alone (the question
    evaluated, ``question_of(request)`` unless given, with its whole period; the works and
    their matches as found, the matrix version and the rule versions used), and the full
    trace the API shows, which lists holders' percentages: ``governance.ledgering`` ledgers it
    as a salted commitment (its opening goes to the decision's holders and to auditors), never
    in clear.

    ``at`` is the instant asked about or the start of the period of use; ``period`` is null
    for an instant, else ``{"start", "end"}`` (``end`` null: the period has no end)."""
    question = question or question_of(request)
    period = None
    if question.until is not None:
        end = None if question.until == evaluation.OPEN_END else _time(question.until)
        period = {"start": _time(question.at), "end": end}
    trace = decision.trace
    works = [
        {
            "work": w["work"],
            "identified_by": w.get("identified_by"),
            "matches": w.get("matches", []),
            **({"rights_use": w["rights_use"]} if w.get("rights_use") else {}),
        }
        for w in trace.get("works", [])
    ]
    # An artist matched by name or voice: the matches as found, less the words of the prompt
    # that matched (``span``: the licensee's content, kept in the committed trace only).
    artists = [
        {
            "artist": a["artist"],
            "matches": [
                {k: v for k, v in m.items() if k not in PRIVATE_MATCH_KEYS}
                for m in a.get("matches", [])
            ],
        }
        for a in trace.get("artists", [])
    ]
    rules = evaluation.rule_versions_cited(trace)
    # audio: what fingerprinted it (its SHA-256 is content_sha256)
    content = content_described(item.vectors[0]) if item.vectors else None
    if item.vectors and is_text_entry(item.vectors[0]):  # text: which model matched it
        content = {k: item.vectors[0][k] for k in ("space", "kind", "model", "model_version")}
    return {
        "decision": str(decision.pk),
        "request": str(request.pk),
        "item": item.position,
        "licensee": str(request.licensee_id),
        "use": request.use,
        "territories": list(request.territories),
        "commercial": request.commercial,
        "at": _time(question.at),
        "period": period,
        "outcome": decision.outcome,
        "code": decision.code,
        "works": works,
        **({"artists": artists} if artists else {}),
        "matrix_version": trace.get("matrix_version"),
        "rule_versions": [{"rule": r, "version": v} for r, v in rules],
        "obligations": decision.obligations,
        "content_sha256": item.content_sha256,
        **({"content": content} if content else {}),
        "trace": trace,
    }


def _subjects(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The works and the artists (their likeness) an item's trace decided."""
    return [*trace.get("works", []), *trace.get("artists", [])]


def _reviewers(trace: dict[str, Any]) -> set[str]:
    return {
        h["party"]
        for w in _subjects(trace)
        for r in w.get("rights", [])
        for h in r.get("holders", [])
        if h.get("answer") == "review"
    }


@dataclass
class Decided:
    """One item's decision, its reviews and its ledger entry, made but not stored yet."""

    decision: Decision
    reviews: list[Review]
    entry: ledgering.Sealed


def decide_one(
    *,
    context: Context | None,
    question: evaluation.Question,
    request: UseRequest,
    item: RequestItem,
    resolved: Resolved,
    now: dt.datetime,
    failure: str | None = None,
) -> Decided:
    """Evaluate one item (or, with ``failure`` or an unresolved item, record an ``error``)."""
    if resolved.error or context is None:
        code = "item.failed" if failure else resolved.code or "item.unresolved"
        outcome, reason, obligations = "error", resolved.error, {}
        trace: dict[str, Any] = {
            "use": request.use,
            "outcome": "error",
            "code": code,
            "reason": reason,
            "works": [],
        }
    else:
        result = evaluation.evaluate_item(
            question,
            context.work_facts(resolved),
            context.facts,
            unregistered=resolved.unregistered,
            artists=resolved.artists,
        )
        if resolved.searched:  # a text item that matched nothing: what was searched
            result.trace["searched"] = resolved.searched
        outcome, code, reason = result.outcome, result.code, result.reason
        obligations, trace = obligations_json(result.obligations), result.trace
    decision = Decision(
        item=item,
        request=request,
        outcome=outcome,
        code=code,
        reason=reason,
        obligations=obligations,
        trace=trace,
        created_at=now,
        works=[w for w, _, _ in resolved.works],
        holders=sorted(
            {
                h["party"]
                for w in _subjects(trace)
                for r in w.get("rights", [])
                for h in r.get("holders", [])
            }
        ),
    )
    payload = decision_payload(decision, item, request, question)
    entry = ledgering.seal("decision", payload, now=now)
    decision.leaf_hash = entry.leaf_hash
    item.outcome = outcome
    item.error = resolved.error
    reviews = []
    if outcome == "review":
        reviews = [
            Review(decision=decision, party_id=p, created_at=now) for p in sorted(_reviewers(trace))
        ]
    return Decided(decision, reviews, entry)


def decided_store(decided: Sequence[Decided], *, before: Sequence[Rows] = ()) -> None:
    """Store decisions (their items stored already, or in ``before``, rows inserted first),
    their reviews and their ledger entries: few of them in one round trip (a batch of checks),
    many with a COPY per table (a chunk of a manifest)."""
    reviews = [r for d in decided for r in d.reviews]
    rows_insert(
        [
            *before,
            model_rows(Decision, [d.decision for d in decided]),
            *([model_rows(Review, reviews)] if reviews else []),
            *ledgering.sealed_rows([d.entry for d in decided]),
        ]
    )


_DECISION_COLUMNS = (
    "id", "item_id", "request_id", "outcome", "code", "reason", "obligations", "trace", "works",
    "holders", "leaf_hash", "settled_outcome", "settled_leaf_hash", "resolved_outcome",
    "resolved_leaf_hash", "created_at",
)  # fmt: skip
"""The columns of ``governance_decision``, in :func:`_decision_rows`' order (a test checks they
are the model's)."""


def _uuid_array(values: Sequence[Any]) -> str:
    """PostgreSQL's text form of a ``uuid[]`` (UUIDs need no quoting)."""
    return "{" + ",".join(str(v) for v in values) + "}"


def _decision_rows(decided: Sequence[Decided]) -> Rows:
    """``governance_decision``'s rows of a chunk's decisions, built without Django's fields (what
    :func:`governance.bulk.model_rows` would insert, as COPY's text: a test compares the two).
    The trace goes as the RFC 8785 text its ledger entry committed to (its opening's bytes,
    made when sealing it): the same JSON value, written once instead of twice."""
    rows = []
    for d in decided:
        decision = d.decision
        trace = next(o for o in d.entry.openings if o.field == "trace").value_bytes
        obligations = decision.obligations
        rows.append((
            decision.pk, decision.item_id, decision.request_id, decision.outcome, decision.code,
            decision.reason, json.dumps(obligations) if obligations else "{}",
            trace.decode("utf-8"), _uuid_array(decision.works), _uuid_array(decision.holders),
            decision.leaf_hash, decision.settled_outcome, decision.settled_leaf_hash,
            decision.resolved_outcome, decision.resolved_leaf_hash, decision.created_at,
        ))  # fmt: skip
    return Rows(Decision._meta.db_table, _DECISION_COLUMNS, rows)


def _chunk_store(decided: Sequence[Decided]) -> None:
    """:func:`decided_store` for a chunk of a manifest: the decisions' rows built directly
    (:func:`_decision_rows`), each table copied."""
    reviews = [r for d in decided for r in d.reviews]
    rows_insert(
        [
            _decision_rows(decided),
            *([model_rows(Review, reviews)] if reviews else []),
            *ledgering.sealed_rows([d.entry for d in decided]),
        ]
    )


def decide_items(
    *,
    request: UseRequest,
    items: Sequence[RequestItem],
    now: dt.datetime,
    failure: str | None = None,
) -> list[Decision]:
    """Decide ``items`` (locked, undecided) in the caller's transaction; ledger each. With
    ``failure``, record each as an ``error`` decision with that reason instead of evaluating
    (what a chunk gets when deciding it failed for a reason retrying cannot cure).

    The decisions' time is the facts' (``Context.now``: when their locks were held,
    :mod:`governance.ordering`), not ``now``, which is when the chunk was handed out."""
    context = None if failure else Context(items)
    if context is not None:
        now = context.now
    question = question_of(request)
    decided = [
        decide_one(
            context=context,
            question=question,
            request=request,
            item=item,
            resolved=(
                context.resolved[n]
                if context is not None
                else Resolved([], error=failure or "deciding failed")
            ),
            now=now,
            failure=failure,
        )
        for n, item in enumerate(items)
    ]
    _chunk_store(decided)
    with connection.cursor() as cursor:  # one statement, not one UPDATE per item
        cursor.execute(
            "UPDATE governance_requestitem i SET outcome = d.outcome,"
            " error = CASE WHEN d.outcome = 'error' THEN d.reason ELSE '' END"
            " FROM governance_decision d WHERE d.item_id = i.id AND i.id = ANY(%s)",
            [[item.pk for item in items]],
        )
    UseRequest.objects.filter(pk=request.pk).update(done_count=F("done_count") + len(items))
    return [d.decision for d in decided]


def decide_chunk(
    *, request_id: str, start: int, end: int, now: dt.datetime, failure: str | None = None
) -> int:
    """Decide items ``start`` to ``end`` (exclusive) of a request; how many were decided now.
    With ``failure``, record them as ``error`` decisions with that reason instead."""
    with transaction.atomic():
        request = UseRequest.objects.get(pk=request_id)
        items = list(
            RequestItem.objects.select_for_update(of=("self",))
            .filter(request=request, position__gte=start, position__lt=end, decision__isnull=True)
            .order_by("position")
        )
        if items:
            decide_items(request=request, items=items, now=now, failure=failure)
            faults.pause_inside_decision_transaction()  # the crash test's window; off in service
    request_finish_if_done(request_id=request_id, now=now)
    return len(items)


def _drop_unknown(request_id: str, job: str, **where: int) -> None:
    """Log a job for a request this database does not hold (sent by another database's service
    to a broker they share), which is then dropped: no retry would find the request."""
    log.warning("decide_for_unknown_request", request=request_id, job=job, **where)


def decide_chunk_or_fail(*, request_id: str, start: int, end: int, now: dt.datetime) -> int:
    """:func:`decide_chunk`; a failure that retrying cannot cure (a bug) is logged with its
    traceback and the chunk's items are recorded as ``error`` decisions, ledgered, so the
    request still completes and no item is lost. Transient errors propagate, to be retried.
    A chunk of a request this database does not hold is logged and dropped (0)."""
    if not UseRequest.objects.filter(pk=request_id).exists():
        _drop_unknown(request_id, "decide_chunk", start=start, end=end)
        return 0
    try:
        return decide_chunk(request_id=request_id, start=start, end=end, now=now)
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception as exc:
        log.exception("deciding a chunk failed", request=request_id, start=start, end=end)
        reason = f"deciding failed: {type(exc).__name__}; the operator has the details"
        return decide_chunk(request_id=request_id, start=start, end=end, now=now, failure=reason)


def decide_request(*, request_id: str, now: dt.datetime) -> None:
    """Decide a small request at once, or hand a large one's chunks to the workers (nothing
    for a request this database does not hold: logged and dropped)."""
    request = UseRequest.objects.filter(pk=request_id).first()
    if request is None:
        _drop_unknown(request_id, "decide_request")
        return
    if request.status == RequestStatus.COMPLETED:
        return
    UseRequest.objects.filter(pk=request_id, status=RequestStatus.RECEIVED).update(
        status=RequestStatus.PROCESSING
    )
    if request.item_count <= CHUNK:
        decide_chunk_or_fail(request_id=request_id, start=0, end=request.item_count, now=now)
        return
    with transaction.atomic():
        for start in range(0, request.item_count, CHUNK):
            end = min(start + CHUNK, request.item_count)
            job_enqueue(task="governance.decide_chunk", args=[request_id, start, end], now=now)


def summarise(request: UseRequest) -> tuple[dict[str, int], str]:
    rows = Decision.objects.filter(request=request).values_list(
        "outcome", "settled_outcome", "resolved_outcome"
    )
    counts: Counter[str] = Counter(
        resolved or settled or outcome for outcome, settled, resolved in rows
    )
    return dict(sorted(counts.items())), evaluation.summarise(counts.elements())


def request_finish_if_done(*, request_id: str, now: dt.datetime) -> bool:
    """Complete the request once every item is decided (once), and schedule its callback."""
    with transaction.atomic():
        request = UseRequest.objects.select_for_update().get(pk=request_id)
        if request.done_count < request.item_count:
            return False
        summary, outcome = summarise(request)
        first = request.status != RequestStatus.COMPLETED
        if not first and request.summary == summary:
            return False
        request.summary, request.outcome = summary, outcome
        request.status = RequestStatus.COMPLETED
        request.completed_at = request.completed_at or now
        request.save(update_fields=["summary", "outcome", "status", "completed_at"])
        if request.callback_url:  # one event, its body as it is now (not when delivered)
            kind = "request.completed" if first else "request.settled"
            callbacks.event_record(request=request, kind=kind, now=now)
    return True
