"""Synchronous checks (``POST /api/v1/checks/``): one item decided inline, with the same
semantics as a request's items and ledgered the same way.

Each check is stored as a request of kind ``check`` with its one item, its decision and the
decision's ledger entry. Under load the checks are decided a batch at a time (group commit):
the checks that arrive in a process while one batch is being decided wait, and go together in
the next one, so a batch of 16 costs one transaction, one set of registry queries and one
ledger append instead of 16 of each. A check still answers only once its decision and ledger
entry have committed. An identifier under which no work is registered is answered like any
item: ``no_match``, the identifier named in the trace. One check's failure is its own: a batch
the database refuses is retried one check at a time.

A check may carry an ``Idempotency-Key``, as a request does (one key space per licensee): the
key's request row is looked up, under a lock on the key, before the check joins the decided
ones; a stored key answers its first decision, and the checks of one batch that share a key
are decided once (:func:`checks_decide_once`).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from governance import evaluation
from governance.access import Actor
from governance.bulk import ids_reserve, model_rows
from governance.exceptions import Conflict, InvalidInput
from governance.models import Decision, PartyKind, RequestItem, RequestStatus, UseRequest
from governance.services.deciding import Decided, decide_one, decided_store
from governance.services.facts import Context, question_of
from governance.services.request_specs import ItemSpec, RequestSpec, request_fingerprint
from governance.services.requests import idempotency_lock, item_build, request_build

log = structlog.get_logger("governance.checks")

MAX_BATCH = 64

J = TypeVar("J")
R = TypeVar("R")


@dataclass
class CheckJob:
    actor: Actor
    spec: RequestSpec
    item: ItemSpec
    received_at: dt.datetime
    # The check's own request id, for what is logged about it in a batch another thread leads.
    request_id: str | None = None
    # The licensee's Idempotency-Key: a check retried with it answers the first one's decision.
    idempotency_key: str | None = None

    @property
    def idempotency(self) -> tuple[str, str] | None:
        """``(licensee, key)`` when the check carries a key."""
        if not self.idempotency_key:
            return None
        return (str(self.actor.party.pk), self.idempotency_key)


CheckResult = Decision | Exception


class IdBlock:
    """Values of a model's id sequence taken ahead, a block at a time, and handed out in order:
    a batch of checks takes its items' ids without a round trip of its own (one in
    ``block`` batches asks the sequence). A sequence's values are never given twice, whatever
    becomes of the transaction that took them, so an id kept for a later batch stays unused
    by anyone else; as with a refused check, an id taken and never used is a gap. Ids taken
    from one database are never handed out for another (the tests' databases, a benchmark's)."""

    def __init__(self, model: type[RequestItem], *, block: int = 64) -> None:
        self._model = model
        self._block = block
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._database: tuple[str, str] | None = None

    def take(self, n: int) -> list[int]:
        with self._lock:
            database = (connection.alias, str(connection.settings_dict["NAME"]))
            if database != self._database:
                self._ids, self._database = [], database
            if len(self._ids) < n:
                self._ids += ids_reserve(self._model, max(n - len(self._ids), self._block))
            taken, self._ids = self._ids[:n], self._ids[n:]
        return taken


_item_ids = IdBlock(RequestItem)


def checks_decide(jobs: Sequence[CheckJob], *, now: dt.datetime) -> list[CheckResult]:
    """Decide a batch of checks in one transaction: each gets its decision, or the exception
    that refuses it (vectors in a space removed since they were read are an ``InvalidInput``
    and store nothing)."""
    requests = [
        request_build(
            actor=job.actor,
            spec=job.spec,
            items=[job.item],
            kind="check",
            now=job.received_at,
            done_count=1,
            status=RequestStatus.COMPLETED,
            completed_at=now,
            idempotency_key=job.idempotency_key or None,
        )
        for job in jobs
    ]
    items = [item_build(request, 0, job.item) for job, request in zip(jobs, requests, strict=True)]
    results: list[CheckResult] = []
    kept: list[tuple[UseRequest, RequestItem, Decided]] = []
    with transaction.atomic():
        # Ids first, so each decision refers to its item from the start (a refused check's id
        # is a gap in the sequence, as a rolled-back insert's would be).
        for item, pk in zip(items, _item_ids.take(len(items)), strict=True):
            item.pk = pk
        context = Context(items)
        now = context.now  # the facts' time, once their locks are held (governance.ordering)
        for request in requests:
            request.completed_at = now
        for job, request, item, resolved in zip(
            jobs, requests, items, context.resolved, strict=True
        ):
            if resolved.error and not resolved.code:
                # Bad input, answered like the asynchronous requests' check at submission
                # (content that cannot be read, ``resolved.code``, is an ``error`` decision).
                key = item.reference.split(":", 1)[0] if item.reference else "vectors"
                results.append(InvalidInput.field(f"item.{key}", resolved.error))
                continue
            try:
                decided = decide_one(
                    context=context,
                    question=question_of(request),
                    request=request,
                    item=item,
                    resolved=resolved,
                    now=now,
                )
            except Exception as exc:  # a bug: this check fails, the others go on
                log.exception(
                    "deciding a check failed",
                    licensee=str(request.licensee_id),
                    request_id=job.request_id,
                )
                results.append(exc)
                continue
            request.summary = {decided.decision.outcome: 1}
            request.outcome = evaluation.summarise([decided.decision.outcome])
            kept.append((request, item, decided))
            results.append(decided.decision)
        if kept:
            # Requests, items, decisions, ledger entries and openings: one round trip.
            decided_store(
                [decided for _, _, decided in kept],
                before=[
                    model_rows(UseRequest, [request for request, _, _ in kept]),
                    model_rows(RequestItem, [item for _, item, _ in kept]),
                ],
            )
    return results


def checks_decide_once(jobs: Sequence[CheckJob], *, now: dt.datetime) -> list[CheckResult]:
    """:func:`checks_decide`, honouring each check's ``Idempotency-Key``: a key stored already
    answers its first check's decision (a 409 if the body differs); the checks of one batch
    that share a key are decided once, the first of them, and the others get its answer. The
    keys' locks are held until the batch commits, so concurrent batches (other processes, or
    checks decided one per transaction) with one key wait for each other, and the later one
    finds the earlier one's check."""
    keyed = sorted({k for job in jobs if (k := job.idempotency) is not None})
    if not keyed:
        return checks_decide(jobs, now=now)
    with transaction.atomic():
        for licensee, key in keyed:  # in one order, so that two batches cannot deadlock
            idempotency_lock(licensee_id=licensee, key=key)
        stored = {
            (str(r.licensee_id), str(r.idempotency_key)): r
            for r in UseRequest.objects.filter(
                licensee_id__in={licensee for licensee, _ in keyed},
                idempotency_key__in={key for _, key in keyed},
            )
        }
        first: dict[tuple[str, str], int] = {}
        fresh: list[int] = []
        for n, job in enumerate(jobs):
            k = job.idempotency
            if k is None:
                fresh.append(n)
            elif k not in stored and k not in first:
                first[k] = n
                fresh.append(n)
        decided = dict(zip(fresh, checks_decide([jobs[n] for n in fresh], now=now), strict=True))
        results: list[CheckResult] = []
        for n, job in enumerate(jobs):
            k = job.idempotency
            if n in decided:
                results.append(decided[n])
            elif k in stored:
                results.append(_stored_answer(stored[k], job))
            else:
                assert k is not None  # a check without a key is always decided
                leader = first[k]
                results.append(_repeated_answer(jobs[leader], decided[leader], job))
    return results


def _fingerprint(job: CheckJob) -> str:
    return request_fingerprint(job.spec, [job.item])


def _key_reused() -> Conflict:
    return Conflict(
        "This Idempotency-Key was used for a different request.",
        fields={"Idempotency-Key": ["reused with another body"]},
    )


def _stored_answer(request: UseRequest, job: CheckJob) -> CheckResult:
    """The decision of the check stored with the job's key; a 409 for another body."""
    if (request.kind, request.request_sha256) != ("check", _fingerprint(job)):
        return _key_reused()
    # A check's request is stored only with its decision, in the same transaction.
    return Decision.objects.select_related("item").get(request=request)


def _repeated_answer(leader: CheckJob, answer: CheckResult, job: CheckJob) -> CheckResult:
    """The answer of the batch's first check with the job's key; a 409 for another body."""
    if _fingerprint(leader) != _fingerprint(job):
        return _key_reused()
    return answer


def _decide_batch(jobs: Sequence[CheckJob]) -> list[CheckResult]:
    now = timezone.now()
    try:
        return checks_decide_once(jobs, now=now)
    except DatabaseError as exc:
        if len(jobs) == 1:
            return [exc]
        # One check's rows may be what the database refused: decide each alone.
        log.warning("a batch of checks failed; deciding them one at a time", size=len(jobs))
        out: list[CheckResult] = []
        for job in jobs:
            try:
                out += checks_decide_once([job], now=timezone.now())
            except DatabaseError as one:
                out.append(one)
        return out


@dataclass(eq=False)
class _Waiting(Generic[J, R]):
    job: J
    done: threading.Event = field(default_factory=threading.Event)
    leads: bool = False
    result: R | None = None
    error: BaseException | None = None

    def outcome(self) -> R:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class GroupCommit(Generic[J, R]):
    """Runs jobs submitted by concurrent threads a batch at a time (leader and followers).

    The first thread to arrive while no batch is running leads: it takes every job waiting
    (up to ``max_batch``), runs them with ``run`` and hands each thread its result. Threads
    that arrive meanwhile wait; when the batch ends, the first of them leads the next one.
    No thread of its own: a single-threaded server runs every job as a batch of one."""

    def __init__(self, run: Callable[[Sequence[J]], list[R]], *, max_batch: int = MAX_BATCH):
        self._run = run
        self._max = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Waiting[J, R]] = []
        self._running = False

    def submit(self, job: J) -> R:
        me: _Waiting[J, R] = _Waiting(job)
        with self._lock:
            self._queue.append(me)
            me.leads = not self._running
            self._running = True
        if not me.leads:
            me.done.wait()
            if not me.leads:  # woken with its result, not to lead
                return me.outcome()
        with self._lock:
            batch, self._queue = self._queue[: self._max], self._queue[self._max :]
        try:
            results = self._run([w.job for w in batch])
            for waiting, result in zip(batch, results, strict=True):
                waiting.result = result
        except BaseException as exc:  # every thread of the batch raises it, not only this one
            for waiting in batch:
                waiting.error = exc
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                self._running = following is not None
            if following is not None:
                following.leads = True
                following.done.set()
            for waiting in batch:
                if waiting is not me:
                    waiting.done.set()
        return me.outcome()


_batches: GroupCommit[CheckJob, CheckResult] = GroupCommit(_decide_batch)


def check_decide(
    *,
    actor: Actor,
    spec: RequestSpec,
    item: ItemSpec,
    now: dt.datetime,
    idempotency_key: str | None = None,
) -> Decision:
    """Decide one check, in a batch with the checks that arrive meanwhile (inside an outer
    transaction, as in the tests, alone and in that transaction). A check with an
    ``Idempotency-Key`` used before answers the first check's decision, unless its body
    differs (a 409)."""
    actor.require_kind(PartyKind.LICENSEE, action="Asking to use music")
    actor.require_writer(action="Asking to use music")
    job = CheckJob(
        actor=actor,
        spec=spec,
        item=item,
        received_at=now,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
        idempotency_key=idempotency_key or None,
    )
    if connection.in_atomic_block or not settings.CHECKS_GROUP_COMMIT:
        (result,) = checks_decide_once([job], now=now)
    else:
        result = _batches.submit(job)
    if isinstance(result, Exception):
        raise result
    return result
