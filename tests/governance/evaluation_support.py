"""Facts, rules and questions for the evaluator's tests (tests/governance/test_evaluation*.py):
a label, a publisher and two artists around one work, asked by one licensee in France."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from governance.evaluation import (
    Facts,
    Holder,
    Question,
    Share,
    WorkFacts,
)
from governance.terms import (
    DEFAULT_MATRIX,
    RuleContent,
)

LABEL, PUB, ARTIST, GUEST = "p-label", "p-pub", "p-artist", "p-guest"
OTHER_LABEL, UNCREDITED = "p-label-2", "p-artist-3"
LICENSEE, RIVAL = "p-licensee", "p-rival"
WORK, OTHER_WORK = "w-northern-lights", "w-other"
AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
HOLDERS = {
    LABEL: Holder(LABEL, "Northwind Records", "label", "opt_in"),
    PUB: Holder(PUB, "Harbour Songs", "publisher", "opt_in"),
    ARTIST: Holder(ARTIST, "Ada Vale", "artist", "opt_in"),
    GUEST: Holder(GUEST, "Bo Lind", "artist", "opt_in"),
    OTHER_LABEL: Holder(OTHER_LABEL, "Southwind Records", "label", "opt_in"),
    UNCREDITED: Holder(UNCREDITED, "Cy Marr", "artist", "opt_in"),
}


def share(holder: str, right: str, percent: str = "100", **fields: Any) -> Share:
    defaults: dict[str, Any] = {
        "territory_mode": "worldwide",
        "territories": frozenset(),
        "valid_from": None,
        "valid_until": None,
    }
    return Share(holder, right, Decimal(percent), **(defaults | fields))


def work(*shares: Share, artists: tuple[str, ...] = (ARTIST,), **fields: Any) -> WorkFacts:
    if not shares:
        shares = (share(LABEL, "master"), share(PUB, "publishing"), share(ARTIST, "performer"))
    return WorkFacts(WORK, "Northern Lights", shares, artists, **fields)


_COUNTER = iter(range(10**6))


def rule(owner: str, effect: str, uses: set[str] | None = None, **fields: Any) -> RuleContent:
    defaults: dict[str, Any] = {"rule_id": f"r-{next(_COUNTER):04d}", "version": 1}
    return RuleContent(
        owner_id=owner,
        scope=fields.pop("scope", "all_works"),
        uses=frozenset(uses or {"train"}),
        effect=effect,
        **(defaults | fields),
    )


def facts(*rules: RuleContent, holders: dict[str, Holder] | None = None, **matrix: Any) -> Facts:
    return Facts(1, {**DEFAULT_MATRIX, **matrix}, holders or HOLDERS, rules)


def ask(use: str = "train", territories: tuple[str, ...] = ("FR",), **fields: Any) -> Question:
    defaults: dict[str, Any] = {"licensee_id": LICENSEE, "at": AT, "commercial": True}
    return Question(use=use, territories=territories, **(defaults | fields))


def allow_all(*extra: RuleContent, use: str = "train") -> Facts:
    return facts(*(rule(p, "allow", {use}) for p in (LABEL, PUB, ARTIST)), *extra)


def holder_entry(trace: dict[str, Any], right: str, party: str) -> dict[str, Any]:
    return next(
        h
        for r in trace["rights"]
        if r["right"] == right
        for h in r["holders"]
        if h["party"] == party
    )
