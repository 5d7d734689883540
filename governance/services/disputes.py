"""Disputes and appeals: a licensee contests a decision, the holders whose answer decided it
uphold or release it, silence past the deadline sends it to the operator, and an upheld dispute
can be appealed once, to the operator (docs/lifecycle-disputes.md).

1. Opening (:func:`dispute_open`): only the decision's licensee, only a ``deny`` or
   ``conditional`` outcome (as it reads now: settled, or resolved), once per decision. The
   deciding holders (:func:`deciding_holders`) are fixed then; a decision no holder decided
   (``rights.unknown``: nobody holds a required right) goes to the operator at once.
2. Answering (:func:`dispute_answer`): each deciding holder once, before the deadline. Any
   ``uphold`` upholds it (the decision stands); when every one released it, it is released and
   the decision's outcome becomes :func:`released_outcome`.
3. Escalation (:func:`disputes_escalate`, the relay's sweep): an open dispute whose deadline
   passed goes to the operator, whose ruling (:func:`dispute_rule`) upholds or releases it.
4. Appeal (:func:`appeal_open`, :func:`appeal_decide`): a dispute the holders upheld can be
   appealed once by the licensee within :data:`APPEAL_DAYS`; the operator decides it.

Every step locks the dispute's row first (``SELECT ... FOR UPDATE``), so of two writers that
interleave (two holders answering, an answer and the sweep) the second sees what the first
did; every step is ledgered in the same transaction and records an event on the request (its
callback). The decision's own outcome and entry are never rewritten: a release is recorded in
``Decision.resolved_outcome`` and its entry (``dispute_answered`` or ``appeal_decided``) names
in ``supersedes`` the leaf hash of the entry whose outcome it replaces.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from governance import ledgering
from governance.access import Actor
from governance.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from governance.models import (
    REASON_CODES,
    Decision,
    Dispute,
    DisputeAnswer,
    DisputeStatus,
    PartyKind,
    RequestItem,
    UseRequest,
)
from governance.services import callbacks
from governance.services.deciding import summarise
from governance.services.settlements import RESOLVED_CODE
from ledger import canonical

STATEMENT_MAX = 4000
REASON_MAX = 2000
APPEAL_DAYS = 7
"""Days after the holders upheld a dispute during which the licensee may appeal it."""
DISPUTABLE = ("deny", "conditional")
"""The outcomes a licensee may dispute (as the decision reads now)."""
ANSWERS = ("uphold", "release")
DECIDERS = ("holders", "operator")
"""Who resolved a dispute."""
OPERATOR = "operator"
"""Who answered, in an entry, when the operator ruled (the operator is no party)."""


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else canonical.format_time(value)


def _ms(now: dt.datetime) -> dt.datetime:
    """``now`` truncated to the millisecond, as the ledger writes times: what is stored,
    shown and compared (deadlines, the appeal window) is what the entries say, so replay
    decides each step from the same instants."""
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def deciding_holders(decision: Decision) -> list[str]:
    """The parties whose answer decided ``decision``'s outcome as it reads now: for ``deny``
    the holders that denied (or, for a settled review, the reviewers that denied), for
    ``conditional`` those whose answer set conditions (or the reviewers that approved it)."""
    outcome = decision.final_outcome
    parties = {
        str(h["party"])
        for subject in (*decision.trace.get("works", []), *decision.trace.get("artists", []))
        for r in subject.get("rights", [])
        for h in r.get("holders", [])
        if h.get("answer") == outcome and h.get("party")
    }
    if decision.outcome == "review" and decision.settled_outcome and not parties:
        wanted = "denied" if outcome == "deny" else "approved"
        parties = {str(r.party_id) for r in decision.reviews.all() if r.status == wanted}
    return sorted(parties)


def released_outcome(disputed: str, obligations: object) -> str:
    """The decision's outcome once its dispute is released: the deciding holders let the use
    go, so a ``conditional`` one is allowed without their conditions, and a ``deny`` one is
    allowed (``conditional`` if the decision carried other holders' obligations)."""
    if disputed == "conditional":
        return "allow"
    return "conditional" if obligations else "allow"


def _current_entry(decision: Decision) -> bytes:
    """The leaf hash of the entry whose outcome the decision reads as now."""
    leaf = decision.resolved_leaf_hash or decision.settled_leaf_hash or decision.leaf_hash
    return bytes(leaf)


def _base(dispute: Dispute) -> dict[str, Any]:
    """What every dispute entry says: which dispute of which decision, and who may open its
    committed fields (the licensee and the deciding holders, named in the clear)."""
    return {
        "dispute": str(dispute.pk),
        "decision": str(dispute.decision_id),
        "request": str(dispute.decision.request_id),
        "licensee": str(dispute.licensee_id),
        "holders": [str(h) for h in dispute.holders],
    }


def dispute_json(
    dispute: Dispute, answers: Iterable[DisputeAnswer] | None = None
) -> dict[str, Any]:
    """A dispute as the API and the callbacks render it (``answers``: its answers, if the
    caller has them; else they are read)."""
    rows = list(dispute.answers.all() if answers is None else answers)
    return {
        "id": str(dispute.pk),
        "decision": str(dispute.decision_id),
        "request": str(dispute.decision.request_id),
        "licensee": str(dispute.licensee_id),
        "reason_code": dispute.reason_code,
        "statement": dispute.statement,
        "holders": [str(h) for h in dispute.holders],
        "disputed_outcome": dispute.disputed_outcome,
        "status": dispute.status,
        "outcome": dispute.outcome or None,
        "resolved_by": dispute.resolved_by or None,
        "operator_reason": dispute.operator_reason or None,
        "opened_at": _time(dispute.opened_at),
        "deadline": _time(dispute.deadline),
        "escalated_at": _time(dispute.escalated_at),
        "resolved_at": _time(dispute.resolved_at),
        "appeal_until": _time(appeal_until(dispute)),
        "appeal": None
        if dispute.appeal_opened_at is None
        else {
            "statement": dispute.appeal_statement,
            "opened_at": _time(dispute.appeal_opened_at),
            "result": dispute.appeal_result or None,
            "reason": dispute.appeal_reason or None,
            "decided_at": _time(dispute.appeal_decided_at),
        },
        "answers": [
            {
                "party": str(a.party_id),
                "answer": a.answer,
                "reason": a.reason,
                "answered_at": _time(a.answered_at),
            }
            for a in rows
        ],
    }


def appeal_until(dispute: Dispute) -> dt.datetime | None:
    """Until when the licensee may appeal: a dispute its holders upheld, not yet appealed."""
    if (
        dispute.status != DisputeStatus.UPHELD
        or dispute.resolved_by != "holders"
        or dispute.appeal_opened_at is not None
        or dispute.resolved_at is None
    ):
        return None
    return dispute.resolved_at + dt.timedelta(days=APPEAL_DAYS)


def _text(value: str, *, field: str, limit: int, why: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput.field(field, why)
    if len(text) > limit:
        raise InvalidInput.field(field, f"at most {limit} characters")
    return text


def _event(dispute: Dispute, kind: str, now: dt.datetime) -> None:
    """Tell the licensee (its request's events and callback) what changed."""
    request = dispute.decision.request
    body = {
        "request": str(request.pk),
        "decision": str(dispute.decision_id),
        "outcome": dispute.decision.final_outcome,
        "dispute": dispute_json(dispute),
    }
    callbacks.event_record(request=request, kind=kind, now=now, body=body)


def _locked(dispute: Dispute) -> Dispute:
    """The dispute's row, locked for this transaction (with its decision and request)."""
    return (
        Dispute.objects.select_for_update(of=("self",))
        .select_related("decision", "decision__request")
        .get(pk=dispute.pk)
    )


def _answers_of(dispute: Dispute) -> list[DisputeAnswer]:
    """The answers recorded so far (read after the dispute's row is locked)."""
    return list(DisputeAnswer.objects.filter(dispute=dispute).order_by("answered_at", "id"))


def _supersede(dispute: Dispute, outcome: str) -> str:
    """Record ``outcome`` as the decision's outcome now (its row locked); the hex leaf hash of
    the entry it supersedes. The caller appends the superseding entry and calls
    :func:`_resolved`."""
    decision = Decision.objects.select_for_update().get(pk=dispute.decision_id)
    supersedes = _current_entry(decision).hex()
    dispute.decision = decision
    decision.resolved_outcome = outcome
    return supersedes


def _resolved(dispute: Dispute, sealed: ledgering.Sealed) -> None:
    """Store the superseding entry's leaf hash on the decision, the item's outcome and the
    request's summary, then append the entry."""
    decision = dispute.decision
    decision.resolved_leaf_hash = sealed.leaf_hash
    decision.save(update_fields=["resolved_outcome", "resolved_leaf_hash"])
    RequestItem.objects.filter(pk=decision.item_id).update(outcome=decision.resolved_outcome)
    request = UseRequest.objects.select_for_update().get(pk=decision.request_id)
    request.summary, request.outcome = summarise(request)
    request.save(update_fields=["summary", "outcome"])
    decision.request = request
    ledgering.append_sealed([sealed])


@transaction.atomic
def dispute_open(
    *, actor: Actor, decision: Decision, reason_code: str, statement: str, now: dt.datetime
) -> Dispute:
    """The licensee disputes ``decision`` (visible to it: the caller found it through the
    selectors). Ledgered ``dispute_opened`` (the statement committed)."""
    now = _ms(now)
    action = "Disputing a decision"
    actor.require_writer(action=action)
    actor.require_kind(PartyKind.LICENSEE, action=action)
    if reason_code not in REASON_CODES:
        raise InvalidInput.field("reason_code", f"must be one of {', '.join(REASON_CODES)}")
    text = _text(statement, field="statement", limit=STATEMENT_MAX, why="say why")
    locked = Decision.objects.select_for_update().select_related("request").get(pk=decision.pk)
    if locked.request.licensee_id != actor.party.pk:
        raise PermissionDenied(f"{action}: only the licensee that asked disputes it.")
    if locked.final_outcome not in DISPUTABLE:
        raise Conflict(
            f"A decision that reads {locked.final_outcome} cannot be disputed "
            f"(only {' or '.join(DISPUTABLE)}).",
            fields={"decision": [locked.final_outcome]},
        )
    earlier = Dispute.objects.filter(decision=locked).first()
    if earlier is not None:
        raise Conflict(
            f"This decision was disputed already ({earlier.status}): a decision is disputed "
            "once; an upheld dispute is appealed.",
            fields={"dispute": [str(earlier.pk)]},
        )
    holders = deciding_holders(locked)
    dispute = Dispute.objects.create(
        decision=locked, licensee=actor.party, reason_code=reason_code, statement=text,
        holders=holders, disputed_outcome=locked.final_outcome, opened_by_id=actor.user.pk,
        opened_at=now, deadline=now + dt.timedelta(days=settings.DISPUTE_ANSWER_DAYS),
    )  # fmt: skip
    payload = _base(dispute) | {
        "reason_code": reason_code,
        "statement": text,
        "disputed_outcome": dispute.disputed_outcome,
        "disputed_entry": _current_entry(locked).hex(),
        "obligations": dict(locked.obligations),
        "deadline": _time(dispute.deadline),
    }
    entries: list[tuple[str, dict[str, Any]]] = [("dispute_opened", payload)]
    if not holders:  # no holder decided it (nobody holds a required right): the operator
        dispute.status, dispute.escalated_at = DisputeStatus.ESCALATED, now
        dispute.save(update_fields=["status", "escalated_at"])
        entries.append(("dispute_escalated", _base(dispute) | {"why": "no_holder", "answered": []}))
    ledgering.append_many(entries, now=now)
    _event(dispute, "dispute.opened", now)
    if not holders:
        _event(dispute, "dispute.escalated", now)
    return dispute


@transaction.atomic
def dispute_answer(
    *, actor: Actor, dispute: Dispute, answer: str, reason: str, now: dt.datetime
) -> Dispute:
    """A deciding holder upholds or releases ``dispute``, once, before its deadline. Ledgered
    ``dispute_answered`` (the reason committed; ``supersedes`` when it released the outcome)."""
    now = _ms(now)
    action = "Answering a dispute"
    actor.require_writer(action=action)
    if answer not in ANSWERS:
        raise InvalidInput.field("answer", "must be uphold or release")
    text = _text(reason, field="reason", limit=REASON_MAX, why="say why")
    if str(actor.party.pk) not in {str(h) for h in dispute.holders}:
        raise PermissionDenied(f"{action}: only the holders whose answer decided it answer it.")
    dispute = _locked(dispute)
    if dispute.status != DisputeStatus.OPEN:
        raise Conflict(f"This dispute is {dispute.status}.", fields={"status": [dispute.status]})
    if now >= dispute.deadline:
        raise Conflict(
            "The deadline to answer this dispute has passed: the operator decides it.",
            fields={"deadline": [_time(dispute.deadline) or ""]},
        )
    answers = _answers_of(dispute)
    if any(a.party_id == actor.party.pk for a in answers):
        raise Conflict("Your party answered this dispute already.", fields={"answer": ["given"]})
    created = DisputeAnswer.objects.create(
        dispute=dispute, party=actor.party, answer=answer, reason=text,
        answered_by_id=actor.user.pk, answered_at=now,
    )  # fmt: skip
    answers.append(created)
    answered = {str(a.party_id) for a in answers}
    supersedes = None
    if answer == "uphold":
        dispute.status, dispute.outcome = DisputeStatus.UPHELD, dispute.disputed_outcome
    elif answered >= {str(h) for h in dispute.holders}:
        dispute.status = DisputeStatus.RELEASED
        dispute.outcome = released_outcome(dispute.disputed_outcome, dispute.decision.obligations)
        supersedes = _supersede(dispute, dispute.outcome)
    if dispute.status != DisputeStatus.OPEN:
        dispute.resolved_by, dispute.resolved_at = "holders", now
    dispute.save()
    payload = _base(dispute) | {
        "by": str(actor.party.pk),
        "answer": answer,
        "reason": text,
        "status": dispute.status,
        "outcome": dispute.outcome or None,
        "supersedes": supersedes,
    }
    sealed = ledgering.seal("dispute_answered", payload, now=now)
    if supersedes is not None:
        _resolved(dispute, sealed)
    else:
        ledgering.append_sealed([sealed])
    _event(dispute, "dispute.answered", now)
    return dispute


def disputes_escalate(*, now: dt.datetime, limit: int = 500) -> int:
    """Send to the operator every open dispute whose deadline passed by ``now`` (the relay's
    sweep; ``now`` is injected in tests). Each in its own transaction, its row locked; a row
    an answer holds is skipped (``SKIP LOCKED``) and looked at again next time. How many."""
    now = _ms(now)
    due = list(
        Dispute.objects.filter(status=DisputeStatus.OPEN, deadline__lte=now)
        .order_by("deadline")
        .values_list("pk", flat=True)[:limit]
    )
    escalated = 0
    for pk in due:
        with transaction.atomic():
            dispute = (
                Dispute.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("decision", "decision__request")
                .filter(pk=pk, status=DisputeStatus.OPEN, deadline__lte=now)
                .first()
            )
            if dispute is None:
                continue
            dispute.status, dispute.escalated_at = DisputeStatus.ESCALATED, now
            dispute.save(update_fields=["status", "escalated_at"])
            answered = sorted(str(a.party_id) for a in _answers_of(dispute))
            payload = _base(dispute) | {"why": "deadline", "answered": answered}
            ledgering.append("dispute_escalated", payload, now=now)
            _event(dispute, "dispute.escalated", now)
            escalated += 1
    return escalated


def _dispute_by_id(dispute_id: Any) -> Dispute:
    try:
        return Dispute.objects.get(pk=dispute_id)
    except (Dispute.DoesNotExist, ValueError, ValidationError):
        raise InvalidInput.field("dispute", "no dispute with that id") from None


@transaction.atomic
def dispute_rule(
    *, dispute_id: Any, uphold: bool, reason: str, operator: AbstractBaseUser | None,
    now: dt.datetime,
) -> Dispute:  # fmt: skip
    """The operator's ruling on an escalated dispute (holders silent past the deadline, or no
    holder decided it). Ledgered ``dispute_answered`` by ``"operator"``; not appealable (the
    appeal would go to the operator again)."""
    now = _ms(now)
    text = _text(reason, field="reason", limit=REASON_MAX, why="an operator's ruling says why")
    dispute = _locked(_dispute_by_id(dispute_id))
    if dispute.status != DisputeStatus.ESCALATED:
        raise Conflict(
            f"Only an escalated dispute is ruled on; this one is {dispute.status}.",
            fields={"status": [dispute.status]},
        )
    supersedes = None
    if uphold:
        dispute.status, dispute.outcome = DisputeStatus.UPHELD, dispute.disputed_outcome
    else:
        dispute.status = DisputeStatus.RELEASED
        dispute.outcome = released_outcome(dispute.disputed_outcome, dispute.decision.obligations)
        supersedes = _supersede(dispute, dispute.outcome)
    dispute.resolved_by, dispute.resolved_at = OPERATOR, now
    dispute.operator_reason = text
    dispute.ruled_by_id = None if operator is None else operator.pk
    dispute.save()
    payload = _base(dispute) | {
        "by": OPERATOR,
        "answer": "uphold" if uphold else "release",
        "reason": text,
        "status": dispute.status,
        "outcome": dispute.outcome,
        "supersedes": supersedes,
    }
    sealed = ledgering.seal("dispute_answered", payload, now=now)
    if supersedes is not None:
        _resolved(dispute, sealed)
    else:
        ledgering.append_sealed([sealed])
    _event(dispute, "dispute.answered", now)
    return dispute


@transaction.atomic
def appeal_open(*, actor: Actor, dispute: Dispute, statement: str, now: dt.datetime) -> Dispute:
    """The licensee appeals a dispute its holders upheld, once, within :data:`APPEAL_DAYS`.
    Ledgered ``appeal_opened`` (the statement committed)."""
    now = _ms(now)
    action = "Appealing a dispute"
    actor.require_writer(action=action)
    text = _text(statement, field="statement", limit=STATEMENT_MAX, why="say why")
    if dispute.licensee_id != actor.party.pk:
        raise PermissionDenied(f"{action}: only the licensee that disputed it appeals.")
    dispute = _locked(dispute)
    if dispute.appeal_opened_at is not None:
        raise Conflict("This dispute was appealed already: an appeal is made once.",
                       fields={"appeal": ["made"]})  # fmt: skip
    until = appeal_until(dispute)
    if until is None:
        raise Conflict(
            "Only a dispute its holders upheld can be appealed; this one is "
            f"{dispute.status}" + (" by the operator." if dispute.resolved_by == OPERATOR else "."),
            fields={"status": [dispute.status]},
        )
    if now > until:
        raise Conflict(
            f"The {APPEAL_DAYS} days to appeal this dispute ended at {_time(until)}.",
            fields={"appeal_until": [_time(until) or ""]},
        )
    dispute.status = DisputeStatus.APPEALED
    dispute.appeal_statement, dispute.appeal_opened_at = text, now
    dispute.save()
    payload = _base(dispute) | {"statement": text, "upheld_at": _time(dispute.resolved_at)}
    ledgering.append("appeal_opened", payload, now=now)
    _event(dispute, "appeal.opened", now)
    return dispute


@transaction.atomic
def appeal_decide(
    *, dispute_id: Any, uphold: bool, reason: str, operator: AbstractBaseUser | None,
    now: dt.datetime,
) -> Dispute:  # fmt: skip
    """The operator decides an appeal: uphold (the decision stands) or release (its outcome is
    superseded as a released dispute's would be). Ledgered ``appeal_decided``."""
    now = _ms(now)
    text = _text(reason, field="reason", limit=REASON_MAX, why="an operator's ruling says why")
    dispute = _locked(_dispute_by_id(dispute_id))
    if dispute.status != DisputeStatus.APPEALED:
        raise Conflict(
            f"Only an appealed dispute's appeal is decided; this one is {dispute.status}.",
            fields={"status": [dispute.status]},
        )
    supersedes = None
    if uphold:
        dispute.status, dispute.appeal_result = DisputeStatus.UPHELD, "upheld"
    else:
        dispute.status, dispute.appeal_result = DisputeStatus.RELEASED, "released"
        dispute.outcome = released_outcome(dispute.disputed_outcome, dispute.decision.obligations)
        supersedes = _supersede(dispute, dispute.outcome)
    dispute.appeal_reason, dispute.appeal_decided_at = text, now
    dispute.ruled_by_id = None if operator is None else operator.pk
    dispute.save()
    payload = _base(dispute) | {
        "by": OPERATOR,
        "result": dispute.appeal_result,
        "reason": text,
        "outcome": dispute.outcome,
        "supersedes": supersedes,
    }
    sealed = ledgering.seal("appeal_decided", payload, now=now)
    if supersedes is not None:
        _resolved(dispute, sealed)
    else:
        ledgering.append_sealed([sealed])
    _event(dispute, "appeal.decided", now)
    return dispute


def operator_ruling(
    *, dispute_id: Any, uphold: bool, reason: str, operator: AbstractBaseUser | None,
    now: dt.datetime,
) -> Dispute:  # fmt: skip
    """Whatever the operator decides on the dispute now: an escalated dispute's ruling or an
    appealed one's appeal (``manage.py dispute_rule`` and the staff API)."""
    dispute = _dispute_by_id(dispute_id)
    rule = appeal_decide if dispute.status == DisputeStatus.APPEALED else dispute_rule
    return rule(dispute_id=dispute.pk, uphold=uphold, reason=reason, operator=operator, now=now)


def staff_ruling(
    *, actor: Actor, dispute_id: Any, uphold: bool, reason: str, now: dt.datetime
) -> Dispute:
    """:func:`operator_ruling` through the API: staff users only (the operator role; any
    dispute, whichever party the token acts for). Others: ``PermissionDenied``."""
    if not getattr(actor.user, "is_staff", False):
        raise PermissionDenied("Only the operator (staff users) rules on disputes and appeals.")
    if not Dispute.objects.filter(pk=dispute_id).exists():
        raise NotFound("No dispute with that id.")
    return operator_ruling(
        dispute_id=dispute_id, uphold=uphold, reason=reason, operator=actor.user, now=now
    )


def decision_resolution(decision: Decision) -> dict[str, Any] | None:
    """How a dispute changed ``decision``'s outcome, as the API renders it, or None if none
    did (one query, for a resolved decision only)::

        {"dispute": "<id>", "step": "dispute", "by": "holders", "outcome": "allow",
         "code": "dispute.released", "reason": "...", "at": "2026-03-01T12:00:00.000Z",
         "entry": "<hex leaf hash of the dispute_answered or appeal_decided entry>",
         "supersedes": "<hex leaf hash of the entry whose outcome it replaced>"}
    """
    if not decision.resolved_outcome or decision.resolved_leaf_hash is None:
        return None
    dispute = Dispute.objects.filter(decision_id=decision.pk).prefetch_related("answers").first()
    if dispute is None:
        return None
    appeal = dispute.appeal_result == "released"
    if appeal:
        by, reason, at = OPERATOR, dispute.appeal_reason, dispute.appeal_decided_at
    elif dispute.resolved_by == OPERATOR:
        by, reason, at = OPERATOR, dispute.operator_reason, dispute.resolved_at
    else:
        by, at = "holders", dispute.resolved_at
        reason = "; ".join(a.reason for a in dispute.answers.all())
    superseded = decision.settled_leaf_hash or decision.leaf_hash
    return {
        "dispute": str(dispute.pk),
        "step": "appeal" if appeal else "dispute",
        "by": by,
        "outcome": decision.resolved_outcome,
        "code": RESOLVED_CODE,
        "reason": reason,
        "at": _time(at),
        "entry": bytes(decision.resolved_leaf_hash).hex(),
        "supersedes": bytes(superseded).hex(),
    }
