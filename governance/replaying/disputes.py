"""Replaying disputes and appeals from the log (pure: no Django). Each dispute's entries are
taken in order and each step is decided again from what the log says before it: who may
answer (the holders named when it was opened, each once, before the deadline; the operator
once it was escalated), what status and outcome an answer leads to (any uphold upholds; every
holder releasing releases, to the outcome :func:`released_outcome` gives), when it may be
escalated (at or after its deadline, or at once with no holder) and appealed (once, within
:data:`APPEAL_DAYS` of the holders upholding it). A step that the rules do not give, or an
outcome or ``supersedes`` other than the one replayed, is a :class:`Difference` of kind
``dispute``.

What is remembered is the disputes themselves (a few fields each), not every decision: the
outcome disputed is checked against the decision's entries by ``supersedes``, which names the
leaf hash the dispute's ``disputed_entry`` (or an earlier resolution) named.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger import canonical

KINDS = frozenset(
    ("dispute_opened", "dispute_answered", "dispute_escalated", "appeal_opened", "appeal_decided")
)
APPEAL_DAYS = 7
DISPUTABLE = ("deny", "conditional")


def released_outcome(disputed: str, obligations: object) -> str:
    """As ``governance.services.disputes.released_outcome`` (kept in step by a test)."""
    if disputed == "conditional":
        return "allow"
    return "conditional" if obligations else "allow"


@dataclass
class _Dispute:
    decision: str
    holders: frozenset[str]
    disputed: str
    entry: str  # hex leaf hash of the entry whose outcome it disputes
    obligations: object
    deadline: dt.datetime
    status: str = "open"
    resolved_by: str = ""
    resolved_at: dt.datetime | None = None
    appealed: bool = False
    answered: set[str] = field(default_factory=set)


@dataclass
class DisputeReplay:
    """The disputes seen so far; :meth:`feed` checks one entry and says what differs, or None."""

    disputes: dict[str, _Dispute] = field(default_factory=dict)
    disputed: set[str] = field(default_factory=set)  # decisions disputed (once each)
    steps: int = 0

    def feed(self, kind: str, time: dt.datetime, p: Mapping[str, Any]) -> str | None:
        self.steps += 1
        if kind == "dispute_opened":
            return self._opened(time, p)
        d = self.disputes.get(str(p.get("dispute")))
        if d is None:
            return f"{kind} of dispute {p.get('dispute')}, which was never opened"
        if kind == "dispute_answered":
            return self._answered(d, time, p)
        if kind == "dispute_escalated":
            return self._escalated(d, time, p)
        if kind == "appeal_opened":
            return self._appeal_opened(d, time)
        return self._appeal_decided(d, p)

    def _opened(self, time: dt.datetime, p: Mapping[str, Any]) -> str | None:
        decision = str(p["decision"])
        if decision in self.disputed:
            return f"decision {decision} is disputed a second time"
        if p["disputed_outcome"] not in DISPUTABLE:
            return f"a {p['disputed_outcome']} outcome is disputed"
        self.disputed.add(decision)
        self.disputes[str(p["dispute"])] = _Dispute(
            decision=decision,
            holders=frozenset(str(h) for h in p["holders"]),
            disputed=str(p["disputed_outcome"]),
            entry=str(p["disputed_entry"]),
            obligations=p.get("obligations"),
            deadline=canonical.parse_time(p["deadline"]),
        )
        return None

    def _resolve(self, d: _Dispute, release: bool, p: Mapping[str, Any]) -> str | None:
        """The outcome and ``supersedes`` a resolution must record."""
        outcome = released_outcome(d.disputed, d.obligations) if release else d.disputed
        supersedes = d.entry if release else None
        if p.get("outcome") != outcome:
            return f"records outcome {p.get('outcome')}, replays as {outcome}"
        if p.get("supersedes") != supersedes:
            return f"supersedes {p.get('supersedes')}, replays as superseding {supersedes}"
        return None

    def _answered(self, d: _Dispute, time: dt.datetime, p: Mapping[str, Any]) -> str | None:
        by, release = str(p["by"]), p["answer"] == "release"
        if by == "operator":
            if d.status != "escalated":
                return f"the operator rules on a dispute that is {d.status}"
            d.status = "released" if release else "upheld"
            d.resolved_by, d.resolved_at = "operator", time
        else:
            if d.status != "open":
                return f"{by} answers a dispute that is {d.status}"
            if by not in d.holders:
                return f"{by} answers, but did not decide it"
            if by in d.answered:
                return f"{by} answers a second time"
            if time >= d.deadline:
                return f"{by} answers after the deadline"
            d.answered.add(by)
            if not release:
                d.status = "upheld"
            elif d.answered >= d.holders:
                d.status = "released"
            if d.status != "open":
                d.resolved_by, d.resolved_at = "holders", time
        if p.get("status") != d.status:
            return f"records status {p.get('status')}, replays as {d.status}"
        if d.status == "open":
            if p.get("outcome") is not None or p.get("supersedes") is not None:
                return "an answer that resolves nothing records an outcome"
            return None
        return self._resolve(d, d.status == "released", p)

    def _escalated(self, d: _Dispute, time: dt.datetime, p: Mapping[str, Any]) -> str | None:
        if d.status != "open":
            return f"a dispute that is {d.status} is escalated"
        if d.holders and time < d.deadline:
            return "escalated before its deadline"
        if sorted(d.answered) != sorted(str(a) for a in p.get("answered", ())):
            return "escalated with other answers than the log's"
        d.status = "escalated"
        return None

    def _appeal_opened(self, d: _Dispute, time: dt.datetime) -> str | None:
        if d.appealed:
            return "appealed a second time"
        if d.status != "upheld" or d.resolved_by != "holders" or d.resolved_at is None:
            return f"appealed while {d.status} by {d.resolved_by or 'nobody'}"
        if time > d.resolved_at + dt.timedelta(days=APPEAL_DAYS):
            return f"appealed more than {APPEAL_DAYS} days after it was upheld"
        d.appealed, d.status = True, "appealed"
        return None

    def _appeal_decided(self, d: _Dispute, p: Mapping[str, Any]) -> str | None:
        if d.status != "appealed":
            return f"an appeal decided on a dispute that is {d.status}"
        release = p["result"] == "released"
        d.status = "released" if release else "upheld"
        if release:
            return self._resolve(d, True, p)
        if p.get("supersedes") is not None or p.get("outcome") != d.disputed:
            return "an upheld appeal changes the outcome"
        return None
