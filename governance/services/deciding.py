"""Deciding requests: resolve each item to works (by identifier, or by matching its vectors on
pgvector), gather the facts the evaluator needs, evaluate (``governance.evaluation``, pure),
and store each decision with its ledger entry in the same transaction, a chunk at a time.

Safe to run twice: a chunk locks its undecided items (``SELECT ... FOR UPDATE``) and skips the
ones already decided, so a redelivered task adds nothing, and a decision and its ledger entry
commit or roll back together (exactly one of each per item).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

from governance import evaluation, selectors
from governance.bulk import copy_insert
from governance.exceptions import TRANSIENT_DB_ERRORS, InvalidInput
from governance.models import (
    ConsentRuleVersion,
    Credit,
    Decision,
    EmbeddingSpace,
    Party,
    RequestItem,
    RequestStatus,
    Review,
    RightsShare,
    UseRequest,
    Work,
)
from governance.services.requests import CHUNK, outbox_add
from governance.terms import Obligations
from ledger import canonical
from ledger import services as ledger_services

log = structlog.get_logger("governance.deciding")

TOP_K = 10
EF_SEARCH = 100
"""hnsw.ef_search for matching: recall@10 0.98 at 1,000,000 vectors (docs/matching.md)."""


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def space_index_sql(space: EmbeddingSpace) -> str:
    """The partial HNSW index of one space (cosine), on the column cast to its dimension."""
    return (
        f"CREATE INDEX IF NOT EXISTS governance_embedding_space_{space.pk}_hnsw "
        f"ON governance_workembedding USING hnsw ((embedding::vector({space.dimension})) "
        f"vector_cosine_ops) WITH (m = 16, ef_construction = 128) WHERE space_id = {space.pk}"
    )


def match_vector(
    *, space: EmbeddingSpace, vector: Sequence[float], k: int = TOP_K
) -> list[tuple[str, float]]:
    """The top ``k`` works by cosine similarity in ``space`` (HNSW), as (work id, score),
    keeping those at or above the space's threshold."""
    # The dimension and the space id are integers from our own table, written into the SQL:
    # the partial index is used only when the planner sees the space id as a constant.
    d, space_id = int(space.dimension), int(space.pk)
    literal = "[" + ",".join(repr(float(v)) for v in vector) + "]"
    # SET LOCAL lasts until the end of the transaction, so there must be one.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
        cursor.execute(
            f"SELECT work_id, 1 - (embedding::vector({d}) <=> %s::vector({d})) AS score"  # noqa: S608 - integers
            f" FROM governance_workembedding WHERE space_id = {space_id}"
            f" ORDER BY embedding::vector({d}) <=> %s::vector({d}) LIMIT %s",
            [literal, literal, k],
        )
        rows = cursor.fetchall()
    return [(str(w), float(s)) for w, s in rows if float(s) >= space.threshold]


# --------------------------------------------------------------------------------------------
# Facts
# --------------------------------------------------------------------------------------------


@dataclass
class _Resolved:
    works: list[tuple[str, str | None, tuple[evaluation.Match, ...]]]  # (id, identified_by, m)
    error: str = ""


class Context:
    """What deciding one chunk of a request needs, loaded in a few queries."""

    def __init__(self, request: UseRequest, items: Sequence[RequestItem], now: dt.datetime):
        self.request = request
        self.now = now
        with_vectors = any(item.vectors for item in items)
        self.spaces = {s.name: s for s in EmbeddingSpace.objects.all()} if with_vectors else {}
        self.references = selectors.works_by_reference(i.reference for i in items if i.reference)
        self.resolved = {item.pk: self._resolve(item) for item in items}
        work_ids = {w for r in self.resolved.values() for w, _, _ in r.works}
        self.works = self._work_facts(work_ids)
        holders = {s.holder_id for w in self.works.values() for s in w.shares}
        holders |= {a for w in self.works.values() for a in w.artist_ids}
        parties = Party.objects.filter(pk__in=holders)
        matrix = selectors.matrix_at(at=now)
        versions = ConsentRuleVersion.objects.filter(
            rule__owner__in=holders, effective_from__lte=now, effective_until__isnull=True
        ).select_related("rule")
        self.facts = evaluation.Facts(
            matrix_version=matrix.version,
            matrix={u: tuple(r) for u, r in matrix.matrix.items()},
            holders={
                str(p.pk): evaluation.Holder(str(p.pk), p.name, p.kind, p.default_posture)
                for p in parties
            },
            rules=tuple(selectors.rule_content(v, owner_id=v.rule.owner_id) for v in versions),
        )
        self.question = evaluation.Question(
            use=request.use,
            licensee_id=str(request.licensee_id),
            territories=tuple(request.territories),
            at=request.period_start or request.created_at,
            commercial=request.commercial,
        )

    def _resolve(self, item: RequestItem) -> _Resolved:
        if item.reference:
            key, value = item.reference.split(":", 1)
            found = self.references.get(item.reference, [])
            if not found:
                return _Resolved([], error=f"{key.upper()} {value} is not registered")
            return _Resolved([(w, item.reference, ()) for w in found])
        best: dict[str, list[evaluation.Match]] = defaultdict(list)
        for entry in item.vectors:
            space = self.spaces.get(entry["space"])
            if space is None:
                return _Resolved([], error=f"embedding space {entry['space']!r} was removed")
            for work_id, score in match_vector(space=space, vector=entry["vector"]):
                best[work_id].append(evaluation.Match(space.name, round(score, 6), space.threshold))
        return _Resolved([(w, None, tuple(m)) for w, m in sorted(best.items())])

    def _work_facts(self, work_ids: set[str]) -> dict[str, _WorkRow]:
        rows: dict[str, _WorkRow] = {
            str(pk): _WorkRow(str(pk), title, [], [])
            for pk, title in Work.objects.filter(pk__in=work_ids).values_list("pk", "title")
        }
        for s in RightsShare.objects.filter(work_id__in=work_ids):
            rows[str(s.work_id)].shares.append(
                evaluation.Share(
                    str(s.holder_id),
                    s.right,
                    Decimal(s.share),
                    s.territory_mode,
                    frozenset(s.territories),
                    s.valid_from,
                    s.valid_until,
                )
            )
        credits = Credit.objects.filter(
            work_id__in=work_ids, party__isnull=False, role__in=["main_artist", "featured"]
        ).values_list("work_id", "party_id")
        for work_id, party_id in credits:
            if str(party_id) not in rows[str(work_id)].artist_ids:
                rows[str(work_id)].artist_ids.append(str(party_id))
        return rows

    def work_facts(self, resolved: _Resolved) -> list[evaluation.WorkFacts]:
        out = []
        for work_id, identified_by, matches in resolved.works:
            row = self.works[work_id]
            out.append(
                evaluation.WorkFacts(
                    work_id=work_id,
                    title=row.title,
                    shares=tuple(row.shares),
                    artist_ids=tuple(row.artist_ids),
                    matches=matches,
                    identified_by=identified_by,
                )
            )
        return out


@dataclass
class _WorkRow:
    work_id: str
    title: str
    shares: list[evaluation.Share]
    artist_ids: list[str]


# --------------------------------------------------------------------------------------------
# Deciding
# --------------------------------------------------------------------------------------------


def obligations_json(obligations: Obligations) -> dict[str, Any]:
    """The obligations that are set, as JSON."""
    return {k: v for k, v in asdict(obligations).items() if v not in ("", False, None)}


def _time(value: dt.datetime) -> str:
    return canonical.format_time(value)


def decision_payload(decision: Decision, item: RequestItem, request: UseRequest) -> dict[str, Any]:
    """The ledger entry of a decision: enough to replay it from the ledger alone (the question,
    the works and their matches as found, the matrix version and the rule versions used)."""
    trace = decision.trace
    works = [
        {
            "work": w["work"],
            "identified_by": w.get("identified_by"),
            "matches": w.get("matches", []),
        }
        for w in trace.get("works", [])
    ]
    rules = sorted(
        {
            (h["rule"]["id"], h["rule"]["version"])
            for w in trace.get("works", [])
            for r in w.get("rights", [])
            for h in r.get("holders", [])
            if h.get("rule")
        }
    )
    return {
        "decision": str(decision.pk),
        "request": str(request.pk),
        "item": item.position,
        "licensee": str(request.licensee_id),
        "use": request.use,
        "territories": list(request.territories),
        "commercial": request.commercial,
        "at": _time(request.period_start or request.created_at),
        "outcome": decision.outcome,
        "code": decision.code,
        "works": works,
        "matrix_version": trace.get("matrix_version"),
        "rule_versions": [{"rule": r, "version": v} for r, v in rules],
        "obligations": decision.obligations,
        "content_sha256": item.content_sha256,
        "trace_sha256": hashlib.sha256(canonical.encode_json(trace)).hexdigest(),
    }


def _reviewers(trace: dict[str, Any]) -> set[str]:
    return {
        h["party"]
        for w in trace.get("works", [])
        for r in w.get("rights", [])
        for h in r.get("holders", [])
        if h.get("answer") == "review"
    }


def decide_items(
    *,
    request: UseRequest,
    items: Sequence[RequestItem],
    now: dt.datetime,
    failure: str | None = None,
) -> list[Decision]:
    """Decide ``items`` (locked, undecided) in the caller's transaction; ledger each. With
    ``failure``, record each as an ``error`` decision with that reason instead of evaluating
    (what a chunk gets when deciding it failed for a reason retrying cannot cure)."""
    context = None if failure else Context(request, items, now)
    decisions: list[Decision] = []
    reviews: list[Review] = []
    entries: list[ledger_services.EncodedEntry] = []
    for item in items:
        if context is None:
            resolved = _Resolved([], error=failure or "deciding failed")
        else:
            resolved = context.resolved[item.pk]
        if resolved.error or context is None:
            code = "item.failed" if failure else "item.unresolved"
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
                context.question, context.work_facts(resolved), context.facts
            )
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
                    for w in trace.get("works", [])
                    for r in w.get("rights", [])
                    for h in r.get("holders", [])
                }
            ),
        )
        entry = ledger_services.entry_encode(
            kind="decision", payload=decision_payload(decision, item, request), time=now
        )
        decision.leaf_hash = entry.leaf_hash
        entries.append(entry)
        decisions.append(decision)
        item.outcome = outcome
        item.error = resolved.error
        if outcome == "review":
            reviews += [
                Review(decision=decision, party_id=p, created_at=now)
                for p in sorted(_reviewers(trace))
            ]
    copy_insert(Decision, decisions)
    Review.objects.bulk_create(reviews)
    with connection.cursor() as cursor:  # one statement, not one UPDATE per item
        cursor.execute(
            "UPDATE governance_requestitem i SET outcome = d.outcome,"
            " error = CASE WHEN d.outcome = 'error' THEN d.reason ELSE '' END"
            " FROM governance_decision d WHERE d.item_id = i.id AND i.id = ANY(%s)",
            [[item.pk for item in items]],
        )
    ledger_services.entries_append_encoded(entries=entries)
    UseRequest.objects.filter(pk=request.pk).update(done_count=F("done_count") + len(items))
    return decisions


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
            if settings.FAULT_DECIDE_DELAY:  # the crash test's window; 0 in service
                time.sleep(settings.FAULT_DECIDE_DELAY)
    request_finish_if_done(request_id=request_id, now=now)
    return len(items)


def decide_chunk_or_fail(*, request_id: str, start: int, end: int, now: dt.datetime) -> int:
    """:func:`decide_chunk`; a failure that retrying cannot cure (a bug) is logged with its
    traceback and the chunk's items are recorded as ``error`` decisions, ledgered, so the
    request still completes and no item is lost. Transient errors propagate, to be retried."""
    try:
        return decide_chunk(request_id=request_id, start=start, end=end, now=now)
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception as exc:
        log.exception("deciding a chunk failed", request=request_id, start=start, end=end)
        reason = f"deciding failed: {type(exc).__name__}; the operator has the details"
        return decide_chunk(request_id=request_id, start=start, end=end, now=now, failure=reason)


def decide_request(*, request_id: str, now: dt.datetime) -> None:
    """Decide a small request at once, or hand a large one's chunks to the workers."""
    request = UseRequest.objects.get(pk=request_id)
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
            outbox_add(task="governance.decide_chunk", args=[request_id, start, end], now=now)


def summarise(request: UseRequest) -> tuple[dict[str, int], str]:
    rows = Decision.objects.filter(request=request).values_list("outcome", "settled_outcome")
    counts: Counter[str] = Counter(settled or outcome for outcome, settled in rows)
    return dict(sorted(counts.items())), evaluation.summarise(counts.elements())


def request_finish_if_done(*, request_id: str, now: dt.datetime) -> bool:
    """Complete the request once every item is decided (once), and schedule its callback."""
    with transaction.atomic():
        request = UseRequest.objects.select_for_update().get(pk=request_id)
        if request.done_count < request.item_count:
            return False
        summary, outcome = summarise(request)
        changed = request.status != RequestStatus.COMPLETED or request.summary != summary
        if not changed:
            return False
        request.summary, request.outcome = summary, outcome
        request.status = RequestStatus.COMPLETED
        request.completed_at = request.completed_at or now
        request.save(update_fields=["summary", "outcome", "status", "completed_at"])
        if request.callback_url:
            outbox_add(task="governance.deliver_callback", args=[str(request.pk)], now=now)
    return True


def items_of(decisions: Iterable[Decision]) -> list[str]:
    return [str(d.pk) for d in decisions]


def check_run(*, request: UseRequest, now: dt.datetime) -> Decision:
    """Decide a synchronous check's one item inline, ledgered like any other decision. Runs in
    the caller's transaction (the one that stored the request: see ``check_decide``)."""
    items = list(RequestItem.objects.filter(request=request))
    (decision,) = decide_items(request=request, items=items, now=now)
    if decision.code == "item.unresolved":
        # An identifier that names no work is bad input, answered like the asynchronous
        # requests' check at submission; raising rolls the whole check back.
        key = items[0].reference.split(":", 1)[0]
        raise InvalidInput.field(f"item.{key}", decision.reason)
    UseRequest.objects.filter(pk=request.pk).update(
        status=RequestStatus.COMPLETED, summary={decision.outcome: 1},
        outcome=evaluation.summarise([decision.outcome]), completed_at=now,
    )  # fmt: skip
    return decision


def check_decide(*, actor: Any, spec: Any, item: Any, now: dt.datetime) -> Decision:
    """A synchronous check: the request, its item, the decision and its ledger entry, all in
    one transaction (no broker, no outbox)."""
    from governance.services.requests import request_submit

    with transaction.atomic():
        request, _ = request_submit(
            actor=actor, spec=spec, items=[item], now=now, kind="check", idempotency_key=None,
            dispatch=False,
        )  # fmt: skip
        return check_run(request=request, now=now)
