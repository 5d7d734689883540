"""Reviews: a ``review`` answer waits for the holder's human decision. When every holder who
asked for review has answered, the decision is settled (any deny → deny; else allow, or
conditional with the decision's obligations), ledgered (``decision_settled``), the request's
summary updated and its callback sent again."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from governance.access import Actor
from governance.exceptions import InvalidInput, PermissionDenied
from governance.models import Decision, RequestItem, Review
from governance.services.deciding import request_finish_if_done
from ledger import services as ledger_services


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
    if any(r.status == "denied" for r in reviews):
        outcome = "deny"
    else:
        outcome = "conditional" if decision.obligations else "allow"
    payload = {
        "decision": str(decision.pk),
        "request": str(decision.request_id),
        "outcome": outcome,
        "reviews": [
            {"party": str(r.party_id), "status": r.status, "reason": r.reason} for r in reviews
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
