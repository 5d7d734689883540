"""The consent evaluator (DESIGN.md, "Decision semantics": deny-overrides, default deny).

Pure: no Django, DRF or Celery, and no clock: ``Question.at`` is the moment asked about, and
the caller passes the facts in force then (rule versions, parties, the consent matrix).

1. The required rights are ``matrix[use]`` (none: allowed, ``consent.no_rights_required``);
   for a work with ``rights_use`` (matched by its lyrics: ``lyrics``), ``matrix[rights_use]``,
   and its trace says ``rights_use``.
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
   posture (``opt_in`` denies, ``opt_out`` allows). A review carries the obligations of the
   holder's own matching conditional rules: they stand if it approves. For ``output``, a
   conditional rule whose ``max_similarity`` is below the score of a passing match
   (``score >= threshold``) denies. Among rules of one effect the first in (rule id,
   version) order decides.
4. In a territory, any holder's deny denies, else any review waits, else allowed
   (``conditional`` when the united obligations are not empty); a required right nobody holds
   denies. A review keeps every answer's obligations, united: what an approval settles it
   with (:func:`settle`), so no holder's conditions are dropped when a reviewer approves.
   The first deciding answer (rights in matrix order, holders in id order) gives the code
   and reason.
5. The territories are the question's, or for a worldwide question (none named) one of each
   class that answers alike: each code named by a share or rule of the rights' holders, and
   ``*`` for all the others (evaluated as the first code none names). The work's outcome is
   the strictest (deny > review > conditional > allow), decided by the first such territory;
   obligations are united over all territories, and kept when the work is allowed or waits
   for review (a deny has none).
6. A question about a period (``until`` set: :mod:`governance.evaluation.periods`) is cut into
   parts at every window boundary of the holders' rules and every first and last day of the
   required rights' shares that fall inside it, so that each rule and share covers a part
   wholly or not at all; each part is decided as above at its first instant, and adjacent
   parts that answered alike are one. A rule thus answers only for the part of the period its
   window covers, and a share counts only for the part it is valid. The work's outcome is the
   strictest part's, decided by the earliest such part, whose interval the reason names; a
   deciding part that nothing covers (``consent.opt_in_default`` or ``rights.unknown`` there)
   makes the code ``consent.period_not_covered``. Obligations unite over the parts.
7. An item with no works is ``no_match`` (an identifier under which nothing is registered is
   named in its trace, ``identified_by``); else its works' strictest outcome (the first
   deciding work in id order gives code and reason). :func:`summarise`: a request's outcome is
   the strictest item outcome ignoring ``no_match`` (``no_match`` only if every item is);
   :func:`tally` counts the items per outcome.
8. An item may also match artists (:class:`ArtistFacts`: by name in a prompt, by voice). Each
   matched artist is decided like a work whose only required right is the artist's
   ``likeness`` (:data:`ARTIST_RIGHTS`), whatever the use: a prompt naming the artist invokes
   the name, audio in the voice the voice. Its only holder is the artist (a party of another
   kind holds no likeness: ``rights.unknown``), answering through its rules of scope
   ``likeness`` alone (not ``all_works`` or the others, which speak for works) and its
   default posture. The item's outcome combines the works' and the artists' (deny overrides);
   the trace lists the artists in ``artists`` (only when some matched), each entry a work's
   with ``artist`` and ``name`` in place of ``work``, ``title`` and ``identified_by``.

Obligations unite: attribution and compensation texts as their distinct lines, sorted, one per
line; ``ai_disclosure`` if any; ``max_similarity`` the lowest.

Codes: ``consent.allowed``, ``consent.conditional``, ``consent.opt_out_default`` (a holder's),
``consent.default_allowed`` (a work's or an item's, when every holder's opt-out default and no
rule allowed it: "No rights holder set a rule; the default posture (opt-out: allowed unless
they refuse) decided"), ``consent.no_rights_required`` (allowing); ``consent.review``;
``consent.denied_by_rule``, ``consent.similarity_exceeded``, ``consent.opt_in_default``,
``rights.unknown``, ``consent.period_not_covered`` (deny); ``match.none`` (no_match). A reason
is one English sentence, without a final full stop.

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
``max_similarity``) the match that exceeded the deciding rule's limit. A match may say more
than its space, score and threshold (``Match.detail``, after them): a ``fingerprint`` match
names its model and version, the blocks of audio that agree and the aligned offsets
(docs/decisions.md, "Audio matches in the trace"); the evaluator reads only the three. A
holder whose share comes (in whole or in part) from the composition the recording embodies
has ``composition``: that composition's id (absent otherwise).

A question about a period adds ``"period": {"start": ..., "end": ...}`` to the item's trace
(``end`` null: no end). When its parts answered differently, the work's trace also has
``periods`` (each part's ``start``, ``end``, ``outcome``, ``code`` and ``reason``, in order),
``uncovered`` (the parts nothing covers, as ``{"start", "end"}``), and each entry of ``rights``
the ``period`` it holds for.

The modules: :mod:`.facts` (inputs, outputs, the union of obligations), :mod:`.rules` (how one
holder answers for one right; which territories to ask about), :mod:`.periods` (a period cut
into parts), :mod:`.work` (one work over its territories and parts, with its trace); this
package decides an item and sums up a request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from governance.evaluation import periods
from governance.evaluation.facts import (
    ALLOWING,
    ARTIST_RIGHTS,
    ELSEWHERE,
    ERROR,
    FLOWS,
    OUTCOMES,
    STRICTNESS,
    TRACE_VERSION,
    ArtistFacts,
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
from governance.evaluation.periods import OPEN_END, period_json, question_period
from governance.evaluation.rules import _combine
from governance.evaluation.work import _by_owner, _evaluate_artist, _evaluate_work
from governance.terms import RuleContent

__all__ = [
    "ALLOWING",
    "ARTIST_RIGHTS",
    "ELSEWHERE",
    "ERROR",
    "FLOWS",
    "OPEN_END",
    "OUTCOMES",
    "STRICTNESS",
    "TRACE_VERSION",
    "ArtistFacts",
    "Facts",
    "Holder",
    "ItemDecision",
    "Match",
    "Question",
    "Share",
    "WorkDecision",
    "WorkFacts",
    "decide_item",
    "evaluate_item",
    "evaluate_work",
    "obligations_json",
    "obligations_union",
    "period_json",
    "question_period",
    "rule_versions_cited",
    "settle",
    "summarise",
    "tally",
]


def evaluate_work(question: Question, work: WorkFacts, facts: Facts) -> WorkDecision:
    """Decide ``question`` for one ``work`` from ``facts`` (see the module docstring)."""
    _check(question, facts)
    return _evaluate_work(question, work, facts, _by_owner(facts))


# --- one item, one request -----------------------------------------------------------------


def _check(question: Question, facts: Facts) -> None:
    if question.at.tzinfo is None:
        raise ValueError("question.at must be timezone-aware")
    if question.until is not None and question.until.tzinfo is None:
        raise ValueError("question.until must be timezone-aware")
    if question.until is not None and question.until <= question.at:
        raise ValueError("question.until must be after question.at")
    if question.use not in facts.matrix:
        raise ValueError(f"consent matrix v{facts.matrix_version} has no use {question.use!r}")


def evaluate_item(
    question: Question,
    works: Iterable[WorkFacts],
    facts: Facts,
    *,
    unregistered: str | None = None,
    artists: Iterable[ArtistFacts] = (),
) -> ItemDecision:
    """Decide ``question`` for an item that resolved to ``works`` and matched ``artists``
    (neither: ``no_match``). ``unregistered`` is the identifier the item named when no work is
    registered under it (``"isrc:GBAYE0601498"``): the item is ``no_match`` and its trace
    names the identifier. Each artist is decided on its likeness (:data:`ARTIST_RIGHTS`), in
    the trace's ``artists`` (present only when some artist matched)."""
    _check(question, facts)
    ordered = sorted(works, key=lambda w: w.work_id)
    matched = sorted(artists, key=lambda a: a.artist_id)
    by_owner = _by_owner(facts) if ordered or matched else {}
    decisions = tuple(_evaluate_work(question, w, facts, by_owner) for w in ordered)
    likenesses = tuple(_evaluate_artist(question, a, facts, by_owner) for a in matched)
    named: dict[str, Any] = {}
    subjects = [*decisions, *likenesses]
    if not subjects and unregistered:
        key, _, value = unregistered.partition(":")
        what = "work id" if key == "work_id" else key.upper()
        reason = f"No work is registered under {what} {value}"
        decided = _Answer("no_match", "match.none", reason)
        named = {"identified_by": unregistered}
    elif not subjects:
        decided = _Answer("no_match", "match.none", "Nothing registered matched the item")
    elif len(subjects) == 1:
        d = subjects[0]
        decided = _Answer(d.outcome, d.code, d.reason, d.obligations)
    else:
        titled = [
            _Answer(d.outcome, d.code, f"“{w.title}”: {d.reason}", d.obligations)
            for w, d in zip(ordered, decisions, strict=True)
        ]
        titled += [
            _Answer(d.outcome, d.code, f"{d.trace['name']}'s likeness: {d.reason}", d.obligations)
            for d in likenesses
        ]
        everyone = "every matched work and artist" if likenesses else "every matched work"
        decided = _combine(titled, reason=f"Every rights holder of {everyone} allowed it")
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
    if likenesses:
        trace["artists"] = [d.trace for d in likenesses]
    if question.until is not None:
        trace["period"] = periods.period_json(question.at, question.until)
    o = decided
    return ItemDecision(o.outcome, o.code, o.reason, o.obligations, trace, decisions, likenesses)


def decide_item(
    question: Question,
    works: Iterable[WorkFacts],
    facts: Facts,
    *,
    by_owner: Mapping[str, list[RuleContent]] | None = None,
    artists: Iterable[ArtistFacts] = (),
) -> tuple[str, list[tuple[str, int]]]:
    """``evaluate_item(question, works, facts, artists=artists)``'s outcome and the rule
    versions its trace cites (:func:`rule_versions_cited`), without building the trace: what
    replay compares. ``by_owner``: ``facts.rules`` by owner, each owner's in (rule id, version)
    order, if the caller has them (else worked out here)."""
    _check(question, facts)
    ordered = sorted(works, key=lambda w: w.work_id)
    matched = sorted(artists, key=lambda a: a.artist_id)
    if not ordered and not matched:
        return "no_match", []
    if by_owner is None:
        by_owner = _by_owner(facts)
    cited: set[tuple[str, int]] = set()
    decisions = [_evaluate_work(question, w, facts, by_owner, cited) for w in ordered]
    decisions += [_evaluate_artist(question, a, facts, by_owner, cited) for a in matched]
    if len(decisions) == 1:
        return decisions[0].outcome, sorted(cited)
    decided = _combine([_Answer(d.outcome, d.code, d.reason, d.obligations) for d in decisions])
    return decided.outcome, sorted(cited)


def rule_versions_cited(trace: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The ``(rule, version)`` pairs an item's trace cites, in order: what its decision's ledger
    entry lists (``rule_versions``) and replay checks."""
    return sorted(
        {
            (h["rule"]["id"], int(h["rule"]["version"]))
            for w in (*trace.get("works", []), *trace.get("artists", []))
            for r in w.get("rights", [])
            for h in r.get("holders", [])
            if h.get("rule")
        }
    )


def settle(statuses: Iterable[str], pending: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The settlement rule (version 2, docs/decisions.md "Reviews"): the outcome and
    obligations of a ``review`` decision once every reviewer answered (``statuses``), given
    ``pending``, the obligations the decision recorded (what the holders who allowed with
    conditions require, united with the reviewers' own conditions). Any deny denies, without
    obligations; else ``conditional`` with ``pending`` if there are any, else ``allow``. Pure:
    replay applies it to the ledger's entries (:mod:`governance.replaying`), the service
    (``governance.services.reviews``) to the reviews."""
    if any(s == "denied" for s in statuses):
        return "deny", {}
    kept = {k: v for k, v in pending.items() if v not in ("", False, None)}
    return ("conditional", kept) if kept else ("allow", {})


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
