"""How a ``review`` decision reads once settled (:func:`decision_settlement`) and how the API
and callbacks render that (:func:`settlement_json`). Deciding a review is
``governance.services.reviews``; this module only reads, so callbacks and the API can use it
without importing the deciding services."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch

from governance import evaluation
from governance.models import Decision, Review
from ledger import canonical

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
    obligations: dict[str, Any]
    """What the licensee must do under the settled outcome (none for a deny)."""


def _settle(reviews: list[Review], obligations: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    return evaluation.settle((r.status for r in reviews), obligations)


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
        obligations=decision.final_obligations,
    )


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else canonical.format_time(value)


def settlement_json(settlement: Settlement) -> dict[str, Any]:
    """A settlement as the API and callbacks render it::

    {"by": "<party id>", "by_name": "Ada Vale", "at": "2026-03-01T12:00:00.000Z",
     "outcome": "deny", "code": "review.denied", "reason": "Ada Vale denied it on review: ...",
     "obligations": {},
     "reviews": [{"party": "<id>", "name": "Ada Vale", "status": "denied",
                  "reason": "Not for stems.", "decided_at": "2026-03-01T12:00:00.000Z"}]}

    ``obligations`` are the settled outcome's (an approval's: every other holder's conditions,
    ``conditional``; a deny's: none)."""
    return {
        "by": settlement.by,
        "by_name": settlement.by_name,
        "at": _time(settlement.at),
        "outcome": settlement.outcome,
        "code": settlement.code,
        "reason": settlement.reason,
        "obligations": dict(settlement.obligations),
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


RESOLVED_CODE = "dispute.released"
"""The code of a decision whose dispute (or its appeal) released it
(``governance.services.disputes``)."""
RESOLVED_REASON = "Released on dispute: the decision's resolution says by whom and why"
"""The reason a list of decisions gives a released one (its ``resolution`` has the words)."""


def read_as(decision: Decision) -> tuple[str, str]:
    """The code and reason ``decision`` reads with now, without a query for most: a released
    dispute's, a settled review's, else its own (prefetch ``reviews__party`` for many)."""
    if decision.resolved_outcome:
        return RESOLVED_CODE, RESOLVED_REASON
    settled = decision_settlement(decision)
    return (decision.code, decision.reason) if settled is None else (settled.code, settled.reason)
