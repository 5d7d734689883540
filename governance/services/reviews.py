"""Reviews: a ``review`` answer waits for the holder's human decision. When every holder who
asked for review has answered, the decision is settled (any deny → deny; else allow, or
conditional with the decision's obligations), ledgered (``decision_settled``), the request's
summary updated and its callback sent again.

The ``decision_settled`` entry links the decision's original entry by its leaf hash, so a
receipt of the settlement names what it supersedes::

    {"decision": "<id>", "request": "<id>", "outcome": "deny", "code": "review.denied",
     "supersedes": "<hex SHA-256 leaf hash of the decision entry>",
     "reviews": [{"party": "<id>", "status": "denied", "reason": "Not for stems.",
                  "decided_at": "2026-03-01T12:00:00Z"}]}

A settled decision reads as settled everywhere (:func:`decision_settlement`): its code is
``review.denied`` or ``review.approved`` and its reason names who settled it and why
("Ada Vale denied it on review: Not for stems").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Prefetch

from governance.access import Actor
from governance.exceptions import InvalidInput, PermissionDenied
from governance.models import Decision, RequestItem, Review
from governance.services.deciding import request_finish_if_done
from ledger import canonical
from ledger import services as ledger_services

SETTLED_CODES = {
    "deny": "review.denied",
    "allow": "review.approved",
    "conditional": "review.approved",
}
"""A settled decision's code, by its settled outcome."""


REVIEWS_PREFETCH = Prefetch("reviews", queryset=Review.objects.select_related("party"))
"""What :func:`decision_settlement` reads, for rendering many decisions at once."""


@dataclass(frozen=True, slots=True)
class ReviewAnswer:
    """One holder's answer on review, as the decision's readers see it."""

    party: str
    name: str
    status: str  # approved | denied
    reason: str
    decided_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a ``review`` decision was settled: by whom (the deciding reviewer), when (the last
    answer), its outcome, code and reason, and every reviewer's answer."""

    by: str
    by_name: str
    at: dt.datetime | None
    outcome: str
    code: str
    reason: str
    reviews: tuple[ReviewAnswer, ...]


def _settle(reviews: list[Review], obligations: object) -> str:
    if any(r.status == "denied" for r in reviews):
        return "deny"
    return "conditional" if obligations else "allow"


def decision_settlement(decision: Decision) -> Settlement | None:
    """The settlement of ``decision``, or None while it is not a settled review. Reads the
    decision's reviews (prefetch ``reviews__party`` when rendering many decisions)."""
    if decision.outcome != "review" or not decision.settled_outcome:
        return None
    prefetched = getattr(decision, "_prefetched_objects_cache", {}).get("reviews")
    rows = decision.reviews.select_related("party") if prefetched is None else prefetched
    reviews = sorted(rows, key=lambda r: str(r.party_id))
    answers = tuple(
        ReviewAnswer(str(r.party_id), r.party.name, r.status, r.reason, r.decided_at)
        for r in reviews
    )
    outcome = decision.settled_outcome
    if outcome == "deny":
        deciding = [a for a in answers if a.status == "denied"][:1]
        verb = "denied"
    else:
        deciding = [a for a in answers if a.status == "approved"]
        verb = "approved"
    reason = "; ".join(f"{a.name} {verb} it on review: {a.reason}" for a in deciding)
    times = [a.decided_at for a in answers if a.decided_at is not None]
    first = deciding[0] if deciding else None
    return Settlement(
        by="" if first is None else first.party,
        by_name="" if first is None else first.name,
        at=max(times, default=None),
        outcome=outcome,
        code=SETTLED_CODES.get(outcome, "review.settled"),
        reason=reason,
        reviews=answers,
    )


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else canonical.format_time(value)


def settlement_json(settlement: Settlement) -> dict[str, Any]:
    """A settlement as the API and callbacks render it::

    {"by": "<party id>", "by_name": "Ada Vale", "at": "2026-03-01T12:00:00.000Z",
     "outcome": "deny", "code": "review.denied", "reason": "Ada Vale denied it on review: ...",
     "reviews": [{"party": "<id>", "name": "Ada Vale", "status": "denied",
                  "reason": "Not for stems.", "decided_at": "2026-03-01T12:00:00.000Z"}]}
    """
    return {
        "by": settlement.by,
        "by_name": settlement.by_name,
        "at": _time(settlement.at),
        "outcome": settlement.outcome,
        "code": settlement.code,
        "reason": settlement.reason,
        "reviews": [
            {
                "party": a.party,
                "name": a.name,
                "status": a.status,
                "reason": a.reason,
                "decided_at": _time(a.decided_at),
            }
            for a in settlement.reviews
        ],
    }


@transaction.atomic
def review_decide(
    *, actor: Actor, review: Review, approve: bool, reason: str, now: dt.datetime
) -> Review:
    actor.require_writer(action="Deciding a review")
    if review.party_id != actor.party.pk:
        raise PermissionDenied("Only the party asked for review decides it.")
    decision = Decision.objects.select_for_update().get(pk=review.decision_id)
    review = Review.objects.select_for_update().get(pk=review.pk)
    if review.status != "pending":
        raise InvalidInput(f"review: already {review.status}.", fields={"review": ["decided"]})
    if not reason.strip():
        raise InvalidInput("reason: say why.", fields={"reason": ["must not be empty"]})
    review.status = "approved" if approve else "denied"
    review.reason, review.decided_by_id = reason.strip()[:2000], actor.user.pk
    review.decided_at = now
    review.save()
    reviews = list(Review.objects.filter(decision=decision).order_by("party_id"))
    if any(r.status == "pending" for r in reviews):
        return review
    outcome = _settle(reviews, decision.obligations)
    payload = {
        "decision": str(decision.pk),
        "request": str(decision.request_id),
        "outcome": outcome,
        "code": SETTLED_CODES[outcome],
        # The original decision entry, which this one settles: a receipt of the settlement
        # names it, and an auditor finds it in the log by this leaf hash.
        "supersedes": bytes(decision.leaf_hash).hex(),
        "reviews": [
            {
                "party": str(r.party_id),
                "status": r.status,
                "reason": r.reason,
                "decided_at": _time(r.decided_at),
            }
            for r in reviews
        ],
    }
    entry = ledger_services.entry_encode(kind="decision_settled", payload=payload, time=now)
    decision.settled_outcome = outcome
    decision.settled_leaf_hash = entry.leaf_hash
    decision.save(update_fields=["settled_outcome", "settled_leaf_hash"])
    RequestItem.objects.filter(pk=decision.item_id).update(outcome=outcome)
    ledger_services.entries_append_encoded(entries=[entry])
    transaction.on_commit(
        lambda: request_finish_if_done(request_id=str(decision.request_id), now=now)
    )
    return review
