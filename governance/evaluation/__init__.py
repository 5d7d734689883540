"""The consent evaluator (DESIGN.md, "Decision semantics": deny-overrides, default deny).

Pure: no Django, DRF or Celery, and no clock: ``Question.at`` is the moment asked about, and
the caller passes the facts in force then (rule versions, parties, the consent matrix).

1. The required rights are ``matrix[use]`` (none: allowed, ``consent.no_rights_required``).
2. A right's holders in a territory hold its shares in force on the UTC date of ``at``
   (``valid_from <= day < valid_until``) covering the territory; one holder's shares add up.
   A recording's shares include the ``publishing`` shares of the composition it embodies
   (:data:`FLOWS`, ``Share.composition``; docs/rights.md), and a ``works`` rule naming that
   composition speaks for them.
   For ``likeness`` the credited artists hold it too, and only parties of kind ``artist`` ever
   do: a likeness share held by anyone else is ignored.
3. A holder answers through its own rules that match the work (scope ``all_works``: the owner
   holds a share of it or is credited; ``works``; ``artist_works``; ``likeness``: the likeness
   right, owned by an artist), use, licensee, territory, window (``window_start <= at <
   window_end``) and commercial flag: any ``deny`` wins, then any ``review``, then any
   ``allow``/``conditional`` (the conditional ones' obligations united), else the default
   posture (``opt_in`` denies, ``opt_out`` allows). For ``output``, a conditional rule whose
   ``max_similarity`` is below the score of a passing match (``score >= threshold``) denies.
   Among rules of one effect the first in (rule id, version) order decides.
4. In a territory, any holder's deny denies, else any review waits, else allowed
   (``conditional`` when the united obligations are not empty); a required right nobody holds
   denies. The first deciding answer (rights in matrix order, holders in id order) gives the
   code and reason.
5. The territories are the question's, or for a worldwide question (none named) one of each
   class that answers alike: each code named by a share or rule of the rights' holders, and
   ``*`` for all the others (evaluated as the first code none names). The work's outcome is
   the strictest (deny > review > conditional > allow), decided by the first such territory;
   obligations are united over all territories, and kept only when the work is allowed.
6. An item with no works is ``no_match`` (an identifier under which nothing is registered is
   named in its trace, ``identified_by``); else its works' strictest outcome (the first
   deciding work in id order gives code and reason). :func:`summarise`: a request's outcome is
   the strictest item outcome ignoring ``no_match`` (``no_match`` only if every item is);
   :func:`tally` counts the items per outcome.

Obligations unite: attribution and compensation texts as their distinct lines, sorted, one per
line; ``ai_disclosure`` if any; ``max_similarity`` the lowest.

Codes: ``consent.allowed``, ``consent.conditional``, ``consent.opt_out_default``,
``consent.no_rights_required`` (allowing); ``consent.review``; ``consent.denied_by_rule``,
``consent.similarity_exceeded``, ``consent.opt_in_default``, ``rights.unknown`` (deny);
``match.none`` (no_match). A reason is one English sentence, without a final full stop.

The trace is JSON data only (shares as decimal strings with three places, ``at`` RFC 3339 UTC)
in a fixed order, so equal facts give equal traces. An item's (a work's is one of ``works``)::

    {"trace_version": 1, "use": "train", "licensee": "<id>", "at": "2026-03-01T12:00:00Z",
     "commercial": true, "territories": ["FR"], "matrix_version": 1, "outcome": "deny",
     "code": "consent.opt_in_default", "reason": "No consent on record from Ada Vale",
     "obligations": {"attribution": "", "compensation_ref": "", "ai_disclosure": false,
                     "max_similarity": null},
     "works": [{"work": "<id>", "title": "Northern Lights", "identified_by": "isrc:USRC17607839",
       "matches": [{"space": "voice", "score": 0.93, "threshold": 0.85}],
       "required_rights": ["master", "publishing", "performer"], "territories": ["FR"],
       "territory": "FR", "outcome": "deny", "code": "...", "reason": "...", "obligations": {},
       "rights": [{"right": "master", "territories": ["FR"], "answer": "allow",
         "code": "consent.allowed", "holders": [{"party": "<id>", "name": "Northwind Records",
           "kind": "label", "share": "100.000", "credited": false, "answer": "allow",
           "code": "consent.allowed", "rule": {"id": "<rule id>", "version": 2},
           "rules": [{"id": "<rule id>", "version": 2, "effect": "allow"}], "default": null,
           "similarity": null, "obligations": {}}]}]}]}

A work's ``territories`` are those evaluated (``*`` last), ``territory`` the deciding one (null
when allowed); ``rights`` has an entry per right and group of territories that answered
identically. A holder's ``rule`` is the deciding version, ``rules`` every matching version,
``default`` the posture applied when no rule decided, ``similarity`` (``space``, ``score``,
``max_similarity``) the match that exceeded the deciding rule's limit. A holder whose share
comes (in whole or in part) from the composition the recording embodies has ``composition``:
that composition's id (absent otherwise).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from governance.evaluation.facts import (
    _ALLOWING,
    ELSEWHERE,
    ERROR,
    FLOWS,
    OUTCOMES,
    STRICTNESS,
    TRACE_VERSION,
    Facts,
    Holder,
    ItemDecision,
    Match,
    Question,
    Share,
    WorkDecision,
    WorkFacts,
    _Answer,
    obligations_json,
    obligations_union,
)
from governance.evaluation.rules import (
    _combine,
    _representatives,
    _right_answer,
    _where,
)
from governance.identifiers import ALL_TERRITORIES
from governance.terms import RuleContent

__all__ = [
    "ELSEWHERE",
    "ERROR",
    "FLOWS",
    "OUTCOMES",
    "STRICTNESS",
    "TRACE_VERSION",
    "Facts",
    "Holder",
    "ItemDecision",
    "Match",
    "Question",
    "Share",
    "WorkDecision",
    "WorkFacts",
    "evaluate_item",
    "evaluate_work",
    "obligations_json",
    "obligations_union",
    "summarise",
    "tally",
]


def evaluate_work(question: Question, work: WorkFacts, facts: Facts) -> WorkDecision:
    """Decide ``question`` for one ``work`` from ``facts`` (see the module docstring)."""
    _check(question, facts)
    day = question.at.astimezone(dt.UTC).date()
    required = tuple(facts.matrix[question.use])
    reps = _representatives(question, work, facts, day)
    unnamed = min(ALL_TERRITORIES - set(reps), default="") if ELSEWHERE in reps else ""
    by_owner: dict[str, list[RuleContent]] = {}
    for rule in sorted(facts.rules, key=lambda r: (r.rule_id, r.version)):
        by_owner.setdefault(rule.owner_id, []).append(rule)
    groups: dict[str, dict[str, Any]] = {}
    per_territory: list[_Answer] = []
    for rep in reps:
        territory, answers = unnamed if rep == ELSEWHERE else rep, []
        for right in required:
            answer, holders = _right_answer(
                question, work, facts, by_owner, right=right, territory=territory, day=day
            )
            if answer is None:
                reason = f"Nobody is registered as holding the {right} right {_where(rep, reps)}"
                answer = _Answer("deny", "rights.unknown", reason)
            elif answer.outcome in ("deny", "review") and len(reps) > 1:
                answer = _Answer(
                    answer.outcome, answer.code, f"{answer.reason} {_where(rep, reps)}"
                )
            answers.append(answer)
            entry = {"answer": answer.outcome, "code": answer.code, "holders": holders}
            group = groups.setdefault(json.dumps([right, entry], sort_keys=True),
                                      {"right": right, "territories": [], **entry})  # fmt: skip
            group["territories"].append(rep)
        per_territory.append(_combine(answers))
    if required:
        decided = _combine(per_territory)
    else:
        reason = f"Consent matrix v{facts.matrix_version} requires no rights for {question.use}"
        decided = _Answer("allow", "consent.no_rights_required", reason)
    deciding = None
    if decided.outcome not in _ALLOWING:
        deciding = next(
            r for r, a in zip(reps, per_territory, strict=True) if a.outcome == decided.outcome
        )
    trace = {
        "work": work.work_id, "title": work.title, "identified_by": work.identified_by,
        "matches": [
            {"space": m.space, "score": m.score, "threshold": m.threshold}
            for m in sorted(work.matches, key=lambda m: (m.space, -m.score, m.threshold))
        ],
        "required_rights": list(required), "territories": reps, "territory": deciding,
        "outcome": decided.outcome, "code": decided.code, "reason": decided.reason,
        "obligations": obligations_json(decided.obligations),
        "rights": sorted(groups.values(), key=lambda g: required.index(g["right"])),
    }  # fmt: skip
    o = decided
    return WorkDecision(work.work_id, o.outcome, o.code, o.reason, o.obligations, trace)


# --- one item, one request -----------------------------------------------------------------


def _check(question: Question, facts: Facts) -> None:
    if question.at.tzinfo is None:
        raise ValueError("question.at must be timezone-aware")
    if question.use not in facts.matrix:
        raise ValueError(f"consent matrix v{facts.matrix_version} has no use {question.use!r}")


def evaluate_item(
    question: Question,
    works: Iterable[WorkFacts],
    facts: Facts,
    *,
    unregistered: str | None = None,
) -> ItemDecision:
    """Decide ``question`` for an item that resolved to ``works`` (none: ``no_match``).
    ``unregistered`` is the identifier the item named when no work is registered under it
    (``"isrc:GBAYE0601498"``): the item is ``no_match`` and its trace names the identifier."""
    _check(question, facts)
    ordered = sorted(works, key=lambda w: w.work_id)
    decisions = tuple(evaluate_work(question, w, facts) for w in ordered)
    named: dict[str, Any] = {}
    if not decisions and unregistered:
        key, _, value = unregistered.partition(":")
        what = "work id" if key == "work_id" else key.upper()
        reason = f"No work is registered under {what} {value}"
        decided = _Answer("no_match", "match.none", reason)
        named = {"identified_by": unregistered}
    elif not decisions:
        decided = _Answer("no_match", "match.none", "Nothing registered matched the item")
    elif len(decisions) == 1:
        d = decisions[0]
        decided = _Answer(d.outcome, d.code, d.reason, d.obligations)
    else:
        titled = [
            _Answer(d.outcome, d.code, f"“{w.title}”: {d.reason}", d.obligations)
            for w, d in zip(ordered, decisions, strict=True)
        ]
        decided = _combine(titled, reason="Every rights holder of every matched work allowed it")
    trace = {
        "trace_version": TRACE_VERSION, "use": question.use, "licensee": question.licensee_id,
        "at": question.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "commercial": question.commercial,
        "territories": sorted({t.upper() for t in question.territories}),
        "matrix_version": facts.matrix_version,
        "outcome": decided.outcome, "code": decided.code, "reason": decided.reason,
        "obligations": obligations_json(decided.obligations),
        "works": [d.trace for d in decisions], **named,
    }  # fmt: skip
    o = decided
    return ItemDecision(o.outcome, o.code, o.reason, o.obligations, trace, decisions)


def summarise(outcomes: Iterable[str]) -> str:
    """A request's outcome: its decided items' strictest, ignoring ``no_match`` and the
    caller's ``error``; else ``error`` if an item failed; else ``no_match`` (also for none)."""
    counts = tally(outcomes)
    decided = [o for o in STRICTNESS if counts[o]]
    if decided:
        return max(decided, key=STRICTNESS.__getitem__)
    return ERROR if counts[ERROR] else "no_match"


def tally(outcomes: Iterable[str]) -> dict[str, int]:
    """How many items had each outcome, all listed (:data:`OUTCOMES` order, then ``error``)."""
    counts = dict.fromkeys((*OUTCOMES, ERROR), 0)
    for outcome in outcomes:
        if outcome not in counts:
            raise ValueError(f"unknown outcome {outcome!r}")
        counts[outcome] += 1
    return counts
