"""Reviews: a ``review`` answer waits for the holder's human decision. When every holder who
asked for review has answered, the decision is settled (any deny → deny; else allow, or
conditional with the decision's obligations: a review decision records the obligations of
every holder who allowed with conditions, so an approval keeps them), ledgered
(``decision_settled``, with the settled ``obligations``), the request's summary updated and
its callback sent again.

The ``decision_settled`` entry links the decision's original entry by its leaf hash, so a
receipt of the settlement names what it supersedes::

    {"decision": "<id>", "request": "<id>", "outcome": "deny", "code": "review.denied",
     "obligations": {},
     "supersedes": "<hex SHA-256 leaf hash of the decision entry>",
     "reviews": [{"party": "<id>", "status": "denied", "reason": "Not for stems.",
                  "decided_at": "2026-03-01T12:00:00Z"}]}

A settled decision reads as settled everywhere (:func:`decision_settlement`): its code is
``review.denied`` or ``review.approved`` and its reason names who settled it and why
("Ada Vale denied it on review: Not for stems").
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from governance.access import Actor
from governance.exceptions import InvalidInput, PermissionDenied
from governance.models import Decision, RequestItem, Review
from governance.services.deciding import request_finish_if_done
from governance.services.settlements import (
    REVIEWS_PREFETCH,
    SETTLED_CODES,
    ReviewAnswer,
    Settlement,
    _settle,
    _time,
    decision_settlement,
    settlement_json,
)
from ledger import services as ledger_services

__all__ = [
    "REVIEWS_PREFETCH",
    "SETTLED_CODES",
    "ReviewAnswer",
    "Settlement",
    "decision_settlement",
    "review_decide",
    "settlement_json",
]


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
    outcome, obligations = _settle(reviews, decision.obligations or {})
    payload = {
        "decision": str(decision.pk),
        "request": str(decision.request_id),
        "outcome": outcome,
        "code": SETTLED_CODES[outcome],
        # The settled outcome's obligations (settlement rule 2: an approval keeps every other
        # holder's conditions); replay settles again from the decision's entry and checks them.
        "obligations": obligations,
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
