"""How one holder answers for one right of one work, and which territories to ask about."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from governance.evaluation.facts import (
    _NONE,
    _THOUSANDTH,
    ELSEWHERE,
    FLOWS,
    Facts,
    Holder,
    Question,
    Share,
    WorkFacts,
    _Answer,
    _is_empty,
    obligations_json,
    obligations_union,
)
from governance.evaluation.periods import midnight
from governance.identifiers import (
    ALL_TERRITORIES,
    EXCLUDE,
    INCLUDE,
    WORLDWIDE,
    territory_covers,
)
from governance.terms import (
    AI_CONDITIONS,
    COMMERCIAL,
    EFFECTS,
    LICENSEE_MODES,
    SCOPES,
    Obligations,
    RuleContent,
)

DEFAULT_CODES = ("consent.opt_out_default", "consent.default_allowed")
"""Codes of an allow that no rule gave: a holder's opt-out default decided it."""
DEFAULT_REASON = (
    "No rights holder set a rule; the default posture (opt-out: allowed unless they refuse) decided"
)


def _combine(answers: Sequence[_Answer], reason: str = "Every rights holder allowed it") -> _Answer:
    """Deny overrides review overrides allow; the first deciding answer gives code and reason.
    A review keeps the obligations of every answer (united): what an approval settles it with,
    so that the conditions of the holders who allowed with obligations are not dropped when the
    reviewer approves (docs/decisions.md, "Reviews"). An allow that every holder's opt-out
    default gave, and no rule, says so (``consent.default_allowed``): nobody allowed it, their
    default did."""
    review = None
    defaults = True  # every answer an opt-out default's
    kept: list[Obligations] = []  # the obligations that are not empty
    for answer in answers:
        outcome = answer.outcome
        if outcome == "deny":
            return answer
        if review is None and outcome == "review":
            review = answer
        if defaults and answer.code not in DEFAULT_CODES:
            defaults = False
        o = answer.obligations
        if o is not _NONE and o != _NONE:
            kept.append(o)
    united = obligations_union(*kept) if kept else _NONE
    if review is not None:
        if united == review.obligations:
            return review
        return _Answer(review.outcome, review.code, review.reason, united, review.rule)
    if answers and defaults:
        outcome = "allow" if _is_empty(united) else "conditional"
        return _Answer(outcome, "consent.default_allowed", DEFAULT_REASON, united)
    if _is_empty(united):
        allowed = _ALLOWED.get(reason)
        if allowed is None:
            allowed = _ALLOWED[reason] = _Answer("allow", "consent.allowed", reason)
        return allowed
    return _Answer("conditional", "consent.conditional", f"{reason}, with obligations", united)


_ALLOWED: dict[str, _Answer] = {}
"""The allow of every holder, by its reason (an answer is immutable: one serves them all)."""


# --- one holder ----------------------------------------------------------------------------


def _ref(rule: RuleContent) -> str:
    return f"rule {rule.rule_id} version {rule.version}"


_ZERO: Final = Decimal(0)
_TERRITORY_MODES: Final = frozenset((WORLDWIDE, INCLUDE, EXCLUDE))
_SCOPES: Final = frozenset(SCOPES)
_LICENSEE_MODES: Final = frozenset(LICENSEE_MODES)
_EFFECTS: Final = frozenset(EFFECTS)
_COMMERCIAL: Final = frozenset(COMMERCIAL)
_AI_CONDITIONS: Final = frozenset(AI_CONDITIONS)


class _Work:
    """What the rules and holders of one work are matched against, worked out once per work
    (not once per holder, right and territory)."""

    __slots__ = ("artists", "by_right", "holders", "modes_known", "subject", "top", "work")

    def __init__(self, work: WorkFacts, *, subject: bool = False) -> None:
        self.work = work
        self.subject = subject
        """An artist's likeness matched as such (``ArtistFacts``), not a work: only the
        artist's ``likeness`` rules speak for it."""
        self.artists = frozenset(work.artist_ids)
        self.holders = frozenset(s.holder_id for s in work.shares)
        self.modes_known = all(s.territory_mode in _TERRITORY_MODES for s in work.shares)
        """Whether every share's territory mode is known (else the first unknown one raises)."""
        self.by_right: dict[str, list[Share]] = {}
        """The shares of each right, in the work's order."""
        for s in work.shares:
            self.by_right.setdefault(s.right, []).append(s)
        passing = [m for m in work.matches if m.passes] if work.matches else None
        self.top = max(passing, key=lambda m: (m.score, m.space)) if passing else None


def _rule_matches(
    rule: RuleContent, *, q: Question, work: _Work, right: str, territory: str, artist: bool
) -> bool:
    """Whether ``rule`` speaks for this use of ``work``'s ``right`` in ``territory``."""
    scope = rule.scope
    if work.subject:  # an artist matched as such: the likeness alone, by likeness rules alone
        covered = scope == "likeness" and right == "likeness" and artist
    elif scope == "all_works":
        covered = rule.owner_id in work.artists or rule.owner_id in work.holders
    elif scope == "works":
        # A rule naming a composition speaks for the rights its recordings take from it.
        covered = work.work.work_id in rule.scope_works or (
            right in FLOWS and work.work.composition_id in rule.scope_works
        )
    elif scope == "artist_works":
        covered = rule.scope_artist_id in work.artists
    else:
        covered = scope == "likeness" and right == "likeness" and artist
    if not (
        scope in _SCOPES
        and rule.licensee_mode in _LICENSEE_MODES
        and rule.effect in _EFFECTS
        and rule.commercial in _COMMERCIAL
    ):
        for value, known in ((scope, SCOPES), (rule.licensee_mode, LICENSEE_MODES),
                             (rule.effect, EFFECTS), (rule.commercial, COMMERCIAL)):  # fmt: skip
            if value not in known:
                raise ValueError(f"{_ref(rule)}: {value!r} is not one of {', '.join(known)}")
    if not covered or q.use not in rule.uses:
        return False
    if rule.ai_declarations and not _ai_matches(rule, work):
        return False
    mode = rule.licensee_mode
    if mode != "any" and (q.licensee_id in rule.licensees) != (mode == "listed"):
        return False
    if not _covers(rule.territory_mode, rule.territories, territory):
        return False
    at = q.at
    return (
        (rule.window_start is None or rule.window_start <= at)
        and (rule.window_end is None or at < rule.window_end)
        and (rule.commercial == "both" or (rule.commercial == "commercial") == q.commercial)
    )


def _ai_matches(rule: RuleContent, work: _Work) -> bool:
    """Whether ``rule``, limited to works by their AI declaration, speaks for ``work``: its
    label's declaration (``undeclared`` when it made none) is one the rule lists. An artist's
    likeness matched as such is no recording: only ``undeclared`` covers it."""
    declared = ("" if work.subject else work.work.ai_declaration) or "undeclared"
    if not rule.ai_declarations <= _AI_CONDITIONS:
        unknown = sorted(rule.ai_declarations - _AI_CONDITIONS)[0]
        raise ValueError(f"{_ref(rule)}: {unknown!r} is not one of {', '.join(AI_CONDITIONS)}")
    return declared in rule.ai_declarations


def _covers(mode: str, codes: frozenset[str], territory: str) -> bool:
    """``identifiers.territory_covers``, its common cases inline."""
    if mode == WORLDWIDE:
        return True
    if mode == INCLUDE:
        return territory.upper() in codes
    if mode == EXCLUDE:
        return territory.upper() not in codes
    return territory_covers(mode=mode, codes=codes, territory=territory)  # raises


def _holder_answer(
    holder: Holder, rules: Sequence[RuleContent], *, q: Question, work: _Work
) -> _Answer:
    """A holder's answer from its matching ``rules`` (in rule id, version order)."""
    name = holder.name
    for deny in rules:
        if deny.effect == "deny":
            reason = f"{name} denied it under {_ref(deny)}"
            return _Answer("deny", "consent.denied_by_rule", reason, rule=deny)
    top = work.top
    output = q.use == "output" and top is not None
    review = exceeded = None
    allows: list[RuleContent] = []
    conditions: list[Obligations] = []  # the conditional rules' obligations
    for r in rules:
        effect = r.effect
        if effect == "conditional":
            allows.append(r)
            conditions.append(r.obligations)
            limit = r.obligations.max_similarity
            if output and limit is not None and top is not None and top.score > limit:
                exceeded = exceeded or r
        elif effect == "allow":
            allows.append(r)
        elif effect == "review" and review is None:
            review = r
    if exceeded is not None and top is not None:
        reason = (
            f"The item resembles “{work.work.title}” more closely ({top.score}) than {name} "
            f"allows ({exceeded.obligations.max_similarity}) under {_ref(exceeded)}"
        )
        return _Answer("deny", "consent.similarity_exceeded", reason, rule=exceeded, match=top)
    # (no rule exceeded its limit here: every conditional rule allows)
    united = obligations_union(*conditions) if conditions else _NONE
    if review is not None:
        # The holder's own conditions stand when it approves on review: the review carries them.
        reason = f"Waiting for {name} to review it under {_ref(review)}"
        return _Answer("review", "consent.review", reason, united, rule=review)
    if allows and _is_empty(united):
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


def _holder_entry(
    holder: Holder, share: Decimal | None, credited: bool, matched: list[RuleContent], a: _Answer
) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """The holder's entry in the trace, and the same as a hashable value that is equal exactly
    when the entry is (numbers with their type, as JSON tells ``1`` from ``1.0`` and ``true``)."""
    rule, match = a.rule, a.match
    similarity: dict[str, Any] | None = None
    similar: tuple[Any, ...] | None = None
    if match is not None and rule is not None:
        limit = rule.obligations.max_similarity
        similarity = {"space": match.space, "score": match.score, "max_similarity": limit}
        similar = (match.space, _typed(match.score), _typed(limit))
    text = None if share is None else str(share.quantize(_THOUSANDTH))
    cited = None if rule is None else {"id": rule.rule_id, "version": rule.version}
    default = holder.default_posture if rule is None else None
    o = a.obligations
    entry = {
        "party": holder.party_id, "name": holder.name, "kind": holder.kind, "share": text,
        "credited": credited, "answer": a.outcome, "code": a.code, "rule": cited,
        "rules": [{"id": r.rule_id, "version": r.version, "effect": r.effect} for r in matched],
        "default": default, "similarity": similarity, "obligations": obligations_json(o),
    }  # fmt: skip
    key = (
        holder.party_id, holder.name, holder.kind, text, credited, a.outcome, a.code,
        None if rule is None else (rule.rule_id, _typed(rule.version)),
        tuple((r.rule_id, _typed(r.version), r.effect) for r in matched), default, similar,
        (o.attribution, o.compensation_ref, _typed(o.ai_disclosure), _typed(o.max_similarity)),
    )  # fmt: skip
    return entry, key


def _typed(value: Any) -> Any:
    """``value`` with its type (a float as its text: JSON tells ``-0.0`` from ``0.0``)."""
    kind = type(value)
    if kind is bool or kind is int:
        return (kind, value)
    if value is None or kind is str:
        return value
    return (kind, repr(value)) if kind is float else (kind, value)


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


def _representatives(
    q: Question,
    work: WorkFacts,
    facts: Facts,
    days: Sequence[dt.date],
    rights: Sequence[str] | None = None,
) -> list[str]:
    """The territories to evaluate on every one of ``days`` (the first day of each part of the
    period): the question's, or one of each class (module docstring). ``rights``: the required
    rights, if not the matrix's for the use (an artist's likeness)."""
    if q.territories:
        return sorted({t.upper() for t in q.territories})
    required = set(facts.matrix[q.use] if rights is None else rights)

    def holds(party: str, right: str) -> bool:  # as in _right_answer: likeness is artists' only
        holder = facts.holders.get(party)
        return right != "likeness" or holder is None or holder.kind == "artist"

    shares = [
        s for s in work.shares
        if s.right in required and any(_in_force(s, day) for day in days)
        and holds(s.holder_id, s.right)
    ]  # fmt: skip
    owners = {s.holder_id for s in shares}
    if "likeness" in required:
        owners |= {a for a in work.artist_ids if holds(a, "likeness")}
    named = {t for s in shares for t in s.territories}
    named |= {
        t for r in facts.rules if r.owner_id in owners and q.use in r.uses for t in r.territories
    }
    return [*sorted(named), ELSEWHERE] if ALL_TERRITORIES - named else sorted(named)


def _boundaries(
    q: Question, work: WorkFacts, facts: Facts, rights: Sequence[str] | None = None
) -> Iterator[dt.datetime]:
    """Every instant at which an answer about ``work`` may change: the window boundaries of
    the rules of the parties that may hold a required right, and the first and last days of
    the shares of those rights (each at 00:00 UTC). ``rights`` as for :func:`_representatives`."""
    required = set(facts.matrix[q.use] if rights is None else rights)
    shares = [s for s in work.shares if s.right in required]
    owners = {s.holder_id for s in shares}
    if "likeness" in required:
        owners |= set(work.artist_ids)
    for rule in facts.rules:
        if rule.owner_id in owners:
            yield from (t for t in (rule.window_start, rule.window_end) if t is not None)
    for s in shares:
        yield from (midnight(d) for d in (s.valid_from, s.valid_until) if d is not None)


def _right_answer(
    q: Question, work: _Work, facts: Facts, by_owner: Mapping[str, list[RuleContent]],
    *, right: str, territory: str, day: dt.date, cited: set[tuple[str, int]] | None = None,
) -> tuple[_Answer | None, list[dict[str, Any]], tuple[Any, ...]]:  # fmt: skip
    """The answer of ``right``'s holders in ``territory`` (``None``: nobody holds it), their
    entries in the trace, and those entries as a hashable value (:func:`_holder_entry`).
    With ``cited`` (a set), no entries: the (rule, version) each holder's answer cites (its
    entry's ``rule``) is added to it instead."""
    totals: dict[str, Decimal] = {}
    via: dict[str, str] = {}  # holder → the composition its share (or part of it) comes from
    if not work.modes_known:
        for s in work.work.shares:
            _covers(s.territory_mode, s.territories, territory)  # raises for an unknown mode
    for s in work.by_right.get(right, ()):
        if not _covers(s.territory_mode, s.territories, territory):
            continue
        if (s.valid_from is None or s.valid_from <= day) and (
            s.valid_until is None or day < s.valid_until
        ):
            totals[s.holder_id] = totals.get(s.holder_id, _ZERO) + s.share
            if s.composition is not None:
                via[s.holder_id] = s.composition
    likeness = right == "likeness"
    parties = totals.keys() | work.artists if likeness else totals.keys()
    answers, entries, keys = [], [], []
    holders = facts.holders
    for party_id in sorted(parties):
        holder = holders.get(party_id)
        if holder is None:
            raise ValueError(f"facts.holders lacks party {party_id} of work {work.work.work_id}")
        artist = holder.kind == "artist"
        if likeness and not artist:
            continue  # Only the artist controls their likeness: no label can hold or grant it.
        matched = [
            r for r in by_owner.get(party_id, ())
            if _rule_matches(r, q=q, work=work, right=right, territory=territory, artist=artist)
        ]  # fmt: skip
        answer = _holder_answer(holder, matched, q=q, work=work)
        answers.append(answer)
        if cited is not None:
            if answer.rule is not None:
                cited.add((answer.rule.rule_id, int(answer.rule.version)))
            continue
        credited = party_id in work.artists
        entry, key = _holder_entry(holder, totals.get(party_id), credited, matched, answer)
        if party_id in via:
            entry["composition"] = via[party_id]
            key = (*key, via[party_id])
        entries.append(entry)
        keys.append(key)
    return (_combine(answers) if answers else None), entries, tuple(keys)
