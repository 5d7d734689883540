"""The consent evaluator (DESIGN.md, "Decision semantics": deny-overrides, default deny).

Pure: no Django, DRF or Celery, and no clock: ``Question.at`` is the moment asked about, and
the caller passes the facts in force then (rule versions, parties, the consent matrix).

1. The required rights are ``matrix[use]`` (none: allowed, ``consent.no_rights_required``).
2. A right's holders in a territory hold its shares in force on the UTC date of ``at``
   (``valid_from <= day < valid_until``) covering the territory; one holder's shares add up.
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
6. An item with no works is ``no_match``; else its works' strictest outcome (the first
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
``max_similarity``) the match that exceeded the deciding rule's limit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from governance.identifiers import ALL_TERRITORIES, territory_covers
from governance.terms import (
    COMMERCIAL,
    EFFECTS,
    LICENSEE_MODES,
    POSTURES,
    SCOPES,
    Obligations,
    RuleContent,
)

TRACE_VERSION: Final = 1
OUTCOMES: Final = ("allow", "conditional", "review", "deny", "no_match")
STRICTNESS: Final[Mapping[str, int]] = {"allow": 0, "conditional": 1, "review": 2, "deny": 3}
ERROR: Final = "error"
"""The outcome a caller records for an item it could not resolve; never the evaluator's."""
ELSEWHERE: Final = "*"
"""In a worldwide question's trace: every territory that no share or rule involved names."""

_THOUSANDTH: Final = Decimal("0.001")
_NONE: Final = Obligations()
_ALLOWING: Final = ("allow", "conditional")


@dataclass(frozen=True, slots=True)
class Share:
    """A rights share of the work: who holds how much of which right, where and when."""

    holder_id: str
    right: str
    share: Decimal
    territory_mode: str
    territories: frozenset[str]
    valid_from: dt.date | None
    valid_until: dt.date | None  # exclusive


@dataclass(frozen=True, slots=True)
class Holder:
    """A party as the evaluator needs it."""

    party_id: str
    name: str
    kind: str
    default_posture: str  # "opt_in" | "opt_out"

    def __post_init__(self) -> None:
        if self.default_posture not in POSTURES:
            raise ValueError(f"default posture must be one of {POSTURES}: {self.default_posture}")


@dataclass(frozen=True, slots=True)
class Match:
    """A similarity match of the item to the work in one embedding space (scores in 0..1)."""

    space: str
    score: float
    threshold: float

    @property
    def passes(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True, slots=True)
class WorkFacts:
    """A work an item resolved to: its shares and credited main/featured artists."""

    work_id: str
    title: str
    shares: tuple[Share, ...]
    artist_ids: tuple[str, ...]
    matches: tuple[Match, ...] = ()
    identified_by: str | None = None  # "isrc:USRC17607839" when named rather than matched


@dataclass(frozen=True, slots=True)
class Question:
    """What a licensee asks: a use, where (ISO alpha-2; none: worldwide), when, commercially?"""

    use: str
    licensee_id: str
    territories: tuple[str, ...]
    at: dt.datetime
    commercial: bool


@dataclass(frozen=True, slots=True)
class Facts:
    """What is decided from: the consent matrix, the parties, the rule versions in force."""

    matrix_version: int
    matrix: Mapping[str, tuple[str, ...]]
    holders: Mapping[str, Holder]
    rules: tuple[RuleContent, ...]


@dataclass(frozen=True, slots=True)
class WorkDecision:
    """The answer for one work; ``trace`` is the work's entry in an item's trace."""

    work_id: str
    outcome: str
    code: str
    reason: str
    obligations: Obligations
    trace: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItemDecision:
    """The answer for one item; ``trace`` is self-contained, to ledger and render."""

    outcome: str
    code: str
    reason: str
    obligations: Obligations
    trace: dict[str, Any]
    works: tuple[WorkDecision, ...] = ()


@dataclass(frozen=True, slots=True)
class _Answer:
    outcome: str
    code: str
    reason: str
    obligations: Obligations = field(default_factory=Obligations)
    rule: RuleContent | None = None
    match: Match | None = None


def _lines(texts: Iterable[str]) -> str:
    return "\n".join(sorted({s.strip() for t in texts for s in t.splitlines() if s.strip()}))


def obligations_union(*items: Obligations) -> Obligations:
    """United obligations: distinct text lines, sorted; disclosure if any; the lowest limit."""
    items = tuple(o for o in items if o != _NONE)
    if not items:
        return _NONE  # the common case: cheap
    limits = [o.max_similarity for o in items if o.max_similarity is not None]
    return Obligations(
        attribution=_lines(o.attribution for o in items),
        compensation_ref=_lines(o.compensation_ref for o in items),
        ai_disclosure=any(o.ai_disclosure for o in items),
        max_similarity=min(limits) if limits else None,
    )


def obligations_json(o: Obligations) -> dict[str, Any]:
    keys = ("attribution", "compensation_ref", "ai_disclosure", "max_similarity")
    return {k: getattr(o, k) for k in keys}


def _combine(answers: Sequence[_Answer], reason: str = "Every rights holder allowed it") -> _Answer:
    """Deny overrides review overrides allow; the first deciding answer gives code and reason."""
    for level in ("deny", "review"):
        for answer in answers:
            if answer.outcome == level:
                return answer
    united = obligations_union(*(a.obligations for a in answers))
    if united.is_empty():
        return _Answer("allow", "consent.allowed", reason)
    return _Answer("conditional", "consent.conditional", f"{reason}, with obligations", united)


# --- one holder ----------------------------------------------------------------------------


def _ref(rule: RuleContent) -> str:
    return f"rule {rule.rule_id} version {rule.version}"


def _rule_matches(
    rule: RuleContent, *, q: Question, work: WorkFacts, right: str, territory: str, artist: bool
) -> bool:
    """Whether ``rule`` speaks for this use of ``work``'s ``right`` in ``territory``."""
    if rule.scope == "all_works":
        covered = rule.owner_id in work.artist_ids or any(
            s.holder_id == rule.owner_id for s in work.shares
        )
    elif rule.scope == "works":
        covered = work.work_id in rule.scope_works
    elif rule.scope == "artist_works":
        covered = rule.scope_artist_id in work.artist_ids
    else:
        covered = rule.scope == "likeness" and right == "likeness" and artist
    for value, known in ((rule.scope, SCOPES), (rule.licensee_mode, LICENSEE_MODES),
                         (rule.effect, EFFECTS), (rule.commercial, COMMERCIAL)):  # fmt: skip
        if value not in known:
            raise ValueError(f"{_ref(rule)}: {value!r} is not one of {', '.join(known)}")
    listed = q.licensee_id in rule.licensees
    return (
        covered
        and q.use in rule.uses
        and (rule.licensee_mode == "any" or listed == (rule.licensee_mode == "listed"))
        and territory_covers(mode=rule.territory_mode, codes=rule.territories, territory=territory)
        and (rule.window_start is None or rule.window_start <= q.at)
        and (rule.window_end is None or q.at < rule.window_end)
        and (rule.commercial == "both" or (rule.commercial == "commercial") == q.commercial)
    )


def _holder_answer(
    holder: Holder, rules: Sequence[RuleContent], *, q: Question, work: WorkFacts
) -> _Answer:
    """A holder's answer from its matching ``rules`` (in rule id, version order)."""
    name = holder.name
    top = max((m for m in work.matches if m.passes), key=lambda m: (m.score, m.space), default=None)

    def exceeds(rule: RuleContent) -> bool:
        limit = rule.obligations.max_similarity
        return q.use == "output" and top is not None and limit is not None and top.score > limit

    conditional = [r for r in rules if r.effect == "conditional"]
    exceeded = [r for r in conditional if exceeds(r)]
    allows = [r for r in rules if r.effect == "allow" or (r in conditional and r not in exceeded)]
    if deny := next((r for r in rules if r.effect == "deny"), None):
        return _Answer(
            "deny", "consent.denied_by_rule", f"{name} denied it under {_ref(deny)}", rule=deny
        )
    if exceeded and top is not None:
        reason = (
            f"The item resembles “{work.title}” more closely ({top.score}) than {name} allows "
            f"({exceeded[0].obligations.max_similarity}) under {_ref(exceeded[0])}"
        )
        return _Answer("deny", "consent.similarity_exceeded", reason, rule=exceeded[0], match=top)
    if review := next((r for r in rules if r.effect == "review"), None):
        reason = f"Waiting for {name} to review it under {_ref(review)}"
        return _Answer("review", "consent.review", reason, rule=review)
    united = obligations_union(*(r.obligations for r in allows if r.effect == "conditional"))
    if allows and united.is_empty():
        reason = f"{name} allowed it under {_ref(allows[0])}"
        return _Answer("allow", "consent.allowed", reason, rule=allows[0])
    if allows:
        first = next(r for r in allows if r.effect == "conditional")
        reason = f"{name} allowed it with obligations under {_ref(first)}"
        return _Answer("conditional", "consent.conditional", reason, united, rule=first)
    if holder.default_posture == "opt_out":
        reason = f"{name} has not reserved this use and is opt-out by default"
        return _Answer("allow", "consent.opt_out_default", reason)
    return _Answer("deny", "consent.opt_in_default", f"No consent on record from {name}")


def _holder_json(
    holder: Holder, share: Decimal | None, credited: bool, matched: list[RuleContent], a: _Answer
) -> dict[str, Any]:
    rule, match, similarity = a.rule, a.match, None
    if match is not None and rule is not None:
        limit = rule.obligations.max_similarity
        similarity = {"space": match.space, "score": match.score, "max_similarity": limit}
    return {
        "party": holder.party_id, "name": holder.name, "kind": holder.kind,
        "share": None if share is None else str(share.quantize(_THOUSANDTH)),
        "credited": credited, "answer": a.outcome, "code": a.code,
        "rule": None if rule is None else {"id": rule.rule_id, "version": rule.version},
        "rules": [{"id": r.rule_id, "version": r.version, "effect": r.effect} for r in matched],
        "default": holder.default_posture if rule is None else None,
        "similarity": similarity, "obligations": obligations_json(a.obligations),
    }  # fmt: skip


# --- one work ------------------------------------------------------------------------------


def _in_force(share: Share, day: dt.date) -> bool:
    return (share.valid_from is None or share.valid_from <= day) and (
        share.valid_until is None or day < share.valid_until
    )


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _where(rep: str, reps: Sequence[str]) -> str:
    named = [r for r in reps if r != ELSEWHERE]
    if rep != ELSEWHERE:
        return f"in {rep}"
    return f"outside {_and(named)}" if named else "in any territory"


def _representatives(q: Question, work: WorkFacts, facts: Facts, day: dt.date) -> list[str]:
    """The territories to evaluate: the question's, or one of each class (module docstring)."""
    if q.territories:
        return sorted({t.upper() for t in q.territories})
    required = set(facts.matrix[q.use])

    def holds(party: str, right: str) -> bool:  # as in _right_answer: likeness is artists' only
        holder = facts.holders.get(party)
        return right != "likeness" or holder is None or holder.kind == "artist"

    shares = [
        s for s in work.shares
        if s.right in required and _in_force(s, day) and holds(s.holder_id, s.right)
    ]  # fmt: skip
    owners = {s.holder_id for s in shares}
    if "likeness" in required:
        owners |= {a for a in work.artist_ids if holds(a, "likeness")}
    named = {t for s in shares for t in s.territories}
    named |= {
        t for r in facts.rules if r.owner_id in owners and q.use in r.uses for t in r.territories
    }
    return [*sorted(named), ELSEWHERE] if ALL_TERRITORIES - named else sorted(named)


def _right_answer(
    q: Question, work: WorkFacts, facts: Facts, by_owner: Mapping[str, list[RuleContent]],
    *, right: str, territory: str, day: dt.date,
) -> tuple[_Answer | None, list[dict[str, Any]]]:  # fmt: skip
    """The answer of ``right``'s holders in ``territory`` (``None``: nobody holds it)."""
    totals: dict[str, Decimal] = {}
    for s in work.shares:
        covers = territory_covers(mode=s.territory_mode, codes=s.territories, territory=territory)
        if s.right == right and _in_force(s, day) and covers:
            totals[s.holder_id] = totals.get(s.holder_id, Decimal(0)) + s.share
    credited = set(work.artist_ids) if right == "likeness" else set()
    answers, entries = [], []
    for party_id in sorted(totals.keys() | credited):
        if party_id not in facts.holders:
            raise ValueError(f"facts.holders lacks party {party_id} of work {work.work_id}")
        holder = facts.holders[party_id]
        artist = holder.kind == "artist"
        if right == "likeness" and not artist:
            continue  # Only the artist controls their likeness: no label can hold or grant it.
        matched = [
            r for r in by_owner.get(party_id, [])
            if _rule_matches(r, q=q, work=work, right=right, territory=territory, artist=artist)
        ]  # fmt: skip
        answer = _holder_answer(holder, matched, q=q, work=work)
        answers.append(answer)
        share = totals.get(party_id)
        entries.append(_holder_json(holder, share, party_id in work.artist_ids, matched, answer))
    return (_combine(answers) if answers else None), entries


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


def evaluate_item(question: Question, works: Iterable[WorkFacts], facts: Facts) -> ItemDecision:
    """Decide ``question`` for an item that resolved to ``works`` (none: ``no_match``)."""
    _check(question, facts)
    ordered = sorted(works, key=lambda w: w.work_id)
    decisions = tuple(evaluate_work(question, w, facts) for w in ordered)
    if not decisions:
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
        "works": [d.trace for d in decisions],
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
