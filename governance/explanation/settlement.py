"""A settled review in an explanation: once the holders a work waited for have answered
(``governance.services.reviews.settlement_json``), the work takes the settled outcome, and each
answer is said with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from governance.explanation.phrases import Phrases


def review_answers(settlement: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """A settlement's review answers (``governance.services.reviews.settlement_json``) by party."""
    if not settlement:
        return {}
    return {str(r["party"]): r for r in settlement.get("reviews", []) if r.get("status")}


def settled_outcome(work: Mapping[str, Any], answers: Mapping[str, Mapping[str, Any]]) -> str:
    """A work that waited for review, once its reviewers answered: any deny denies."""
    reviewers = [
        str(h.get("party"))
        for entry in work.get("rights", [])
        for h in entry.get("holders", [])
        if h.get("answer") == "review"
    ]
    if not reviewers or any(r not in answers for r in reviewers):
        return str(work["outcome"])
    if any(answers[r]["status"] == "denied" for r in reviewers):
        return "deny"
    obligations = work.get("obligations") or {}
    return (
        "conditional" if any(v not in ("", False, None) for v in obligations.values()) else "allow"
    )


def settled_sentence(p: Phrases, answer: Mapping[str, Any], name: str) -> str:
    key = "settled.denied" if answer["status"] == "denied" else "settled.approved"
    return p(key, who=name, reason=p.quote(str(answer.get("reason") or "")))
