"""Deciding one work: its required rights in each territory class (:mod:`.rules`), and, for a
question about a period, in each part of it (:mod:`.periods`), merged into the work's answer
and trace (the rules: the package docstring, points 4 to 6).

Pure: no Django, DRF or Celery.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from governance.evaluation import periods
from governance.evaluation.facts import (
    ALLOWING,
    ARTIST_RIGHTS,
    ELSEWHERE,
    ArtistFacts,
    Facts,
    Question,
    WorkDecision,
    WorkFacts,
    _Answer,
    obligations_json,
)
from governance.evaluation.rules import (
    _boundaries,
    _combine,
    _representatives,
    _right_answer,
    _where,
    _Work,
)
from governance.identifiers import ALL_TERRITORIES
from governance.terms import RuleContent


@dataclass(frozen=True, slots=True)
class _Part:
    """The answer for one part of the question's period (the whole of it, usually)."""

    start: dt.datetime
    until: dt.datetime | None
    decided: _Answer
    deciding: str | None  # the deciding territory (None when allowed)
    groups: list[dict[str, Any]]

    def same_as(self, other: _Part) -> bool:
        """Whether the two parts answered alike, holder by holder (so they read as one)."""
        return (self.decided, self.deciding, self.groups) == (
            other.decided,
            other.deciding,
            other.groups,
        )


_TERRITORIES: Final = tuple(sorted(ALL_TERRITORIES))

NOT_COVERED: Final = ("consent.opt_in_default", "rights.unknown")
"""The codes of a part that nothing registered covers: no consent, or no holder."""


def _by_owner(facts: Facts) -> dict[str, list[RuleContent]]:
    """The rules by owner, each owner's in (rule id, version) order."""
    by_owner: dict[str, list[RuleContent]] = {}
    for rule in sorted(facts.rules, key=_RULE_ORDER):
        by_owner.setdefault(rule.owner_id, []).append(rule)
    return by_owner


_RULE_ORDER: Final = operator.attrgetter("rule_id", "version")


def _evaluate_work(
    question: Question,
    work: WorkFacts,
    facts: Facts,
    by_owner: Mapping[str, list[RuleContent]],
    cited: set[tuple[str, int]] | None = None,
    *,
    subject: bool = False,
) -> WorkDecision:
    """The work's decision; with ``cited`` (a set), without its trace (``{}``): the rule
    versions its trace would cite are added to ``cited`` instead (:func:`decide_item`).
    ``subject``: ``work`` stands for an artist's likeness (:func:`_evaluate_artist`)."""
    if subject:
        required: tuple[str, ...] = ARTIST_RIGHTS
    else:
        required = tuple(facts.matrix[work.rights_use or question.use])
    if question.until is None:
        spans: list[tuple[dt.datetime, dt.datetime | None]] = [(question.at, None)]
    else:
        boundaries = _boundaries(question, work, facts, required)
        spans = list(periods.parts(question.at, question.until, boundaries))
    days = [start.astimezone(dt.UTC).date() for start, _ in spans]
    reps = _representatives(question, work, facts, days, required)
    unnamed = ""
    if ELSEWHERE in reps:  # the first code none names
        unnamed = next((t for t in _TERRITORIES if t not in reps), "")
    context = _Work(work, subject=subject)
    parts: list[_Part] = []
    for (start, until), day in zip(spans, days, strict=True):
        q = question if start is question.at else replace(question, at=start)
        part = _evaluate_part(
            q, context, facts, by_owner, reps, unnamed, required, day, until, cited
        )
        if parts and parts[-1].same_as(part):
            parts[-1] = replace(parts[-1], until=until)  # one answer: one part
        else:
            parts.append(part)
    split = len(parts) > 1
    if cited is not None:  # the outcome alone (merged parts differ only in their trace)
        decided = _over_the_period(parts)[0] if split else parts[0].decided
        return WorkDecision(
            work.work_id, decided.outcome, decided.code, decided.reason, decided.obligations, {}
        )
    trace_rights = _rights_over_parts(parts) if split else parts[0].groups
    if len(required) > 1:
        trace_rights.sort(key=lambda g: required.index(g["right"]))  # stable: parts stay in order
    decided, deciding = parts[0].decided, parts[0].deciding
    extra: dict[str, Any] = {}
    if split:
        decided, deciding, extra = _over_the_period(parts)
    trace = {
        "work": work.work_id, "title": work.title, "identified_by": work.identified_by,
        "matches": [
            {"space": m.space, "score": m.score, "threshold": m.threshold, **dict(m.detail)}
            for m in sorted(work.matches, key=lambda m: (m.space, -m.score, m.threshold))
        ],
        "required_rights": list(required), "territories": reps, "territory": deciding,
        "outcome": decided.outcome, "code": decided.code, "reason": decided.reason,
        "obligations": obligations_json(decided.obligations),
        "rights": trace_rights, **extra,
    }  # fmt: skip
    if work.rights_use is not None:  # (absent otherwise: earlier traces are unchanged)
        trace["rights_use"] = work.rights_use
    if work.ai_declaration:  # (absent when undeclared: earlier traces are unchanged)
        trace["ai_declaration"] = work.ai_declaration
    o = decided
    return WorkDecision(work.work_id, o.outcome, o.code, o.reason, o.obligations, trace)


def _evaluate_artist(
    question: Question,
    artist: ArtistFacts,
    facts: Facts,
    by_owner: Mapping[str, list[RuleContent]],
    cited: set[tuple[str, int]] | None = None,
) -> WorkDecision:
    """An artist the item matched: the artist's likeness (:data:`ARTIST_RIGHTS`) decided as a
    work's right is, from the artist's ``likeness`` rules and default posture alone. Its trace
    is a work's with ``artist`` and ``name`` instead of ``work``, ``title`` and
    ``identified_by``."""
    holder = facts.holders.get(artist.artist_id)
    name = holder.name if holder is not None else artist.artist_id
    subject = WorkFacts(
        work_id=artist.artist_id,
        title=name,
        shares=(),
        artist_ids=(artist.artist_id,),
        matches=artist.matches,
    )
    decided = _evaluate_work(question, subject, facts, by_owner, cited, subject=True)
    if cited is not None:
        return decided
    trace = {"artist": artist.artist_id, "name": name}
    trace.update((k, v) for k, v in decided.trace.items() if k not in _WORK_ONLY)
    return replace(decided, trace=trace)


_WORK_ONLY: Final = frozenset(("work", "title", "identified_by", "ai_declaration"))


def _evaluate_part(
    q: Question, work: _Work, facts: Facts, by_owner: Mapping[str, list[RuleContent]],
    reps: list[str], unnamed: str, required: tuple[str, ...], day: dt.date,
    until: dt.datetime | None, cited: set[tuple[str, int]] | None = None,
) -> _Part:  # fmt: skip
    """The answer at the instant ``q.at``, which stands for the part of the period up to
    ``until`` (no rule window or share validity begins or ends inside it). With ``cited``, no
    groups (the trace's ``rights``): the rule versions they would cite go to ``cited``."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    per_territory: list[_Answer] = []
    several = len(reps) > 1
    for rep in reps:
        territory, answers = unnamed if rep == ELSEWHERE else rep, []
        for right in required:
            answer, holders, key = _right_answer(
                q, work, facts, by_owner, right=right, territory=territory, day=day, cited=cited
            )
            if answer is None:
                reason = f"Nobody is registered as holding the {right} right {_where(rep, reps)}"
                answer = _Answer("deny", "rights.unknown", reason)
            elif several and answer.outcome in ("deny", "review"):
                answer = _Answer(
                    answer.outcome, answer.code, f"{answer.reason} {_where(rep, reps)}"
                )
            answers.append(answer)
            if cited is not None:
                continue
            group_key = (right, answer.outcome, answer.code, key)
            group = groups.get(group_key)
            if group is None:
                group = groups[group_key] = {
                    "right": right, "territories": [], "answer": answer.outcome,
                    "code": answer.code, "holders": holders,
                }  # fmt: skip
            group["territories"].append(rep)
        per_territory.append(_combine(answers))
    if required:
        decided = _combine(per_territory)
    else:
        reason = f"Consent matrix v{facts.matrix_version} requires no rights for {q.use}"
        decided = _Answer("allow", "consent.no_rights_required", reason)
    deciding = None
    if decided.outcome not in ALLOWING:
        deciding = next(
            r for r, a in zip(reps, per_territory, strict=True) if a.outcome == decided.outcome
        )
    return _Part(q.at, until, decided, deciding, list(groups.values()))


def _rights_over_parts(parts: list[_Part]) -> list[dict[str, Any]]:
    """The trace's ``rights`` of a period cut into parts: each entry with the ``period`` it
    holds for, an entry that holds alike in adjacent parts once, for them all."""
    out: list[dict[str, Any]] = []
    last: dict[str, dict[str, Any]] = {}
    for part in parts:
        span = _span(part)
        for group in part.groups:
            key = json.dumps(group, sort_keys=True)
            previous = last.get(key)
            if previous is not None and previous["period"]["end"] == span["start"]:
                previous["period"] = {"start": previous["period"]["start"], "end": span["end"]}
                continue
            last[key] = {**group, "period": span}
            out.append(last[key])
    return out


def _span(part: _Part) -> dict[str, str | None]:
    assert part.until is not None  # a period's every part has an end; only an instant has none
    return periods.period_json(part.start, part.until)


def _over_the_period(parts: list[_Part]) -> tuple[_Answer, str | None, dict[str, Any]]:
    """The answer over a period whose parts answered differently: the strictest part's (the
    earliest such part gives code and reason, naming its interval); obligations unite over the
    parts when every part allows or waits for review (what an approval settles it with). A
    part that nothing covers (no consent on record, or no holder) makes the answer
    ``consent.period_not_covered``, naming that part. Also the trace's
    ``periods`` (each part's answer) and ``uncovered`` (the parts nothing covers)."""
    combined = _combine([p.decided for p in parts])
    deciding: str | None = None
    if combined.outcome not in ALLOWING:
        first = next(p for p in parts if p.decided.outcome == combined.outcome)
        assert first.until is not None  # a period's every part has an end
        code = combined.code
        if code in NOT_COVERED:
            code = "consent.period_not_covered"
        part = periods.during(first.start, first.until)
        reason = f"{combined.reason} for the part of the period {part}"
        combined = _Answer(combined.outcome, code, reason, combined.obligations)
        deciding = first.deciding
    extra = {
        "periods": [
            {
                **_span(p),
                "outcome": p.decided.outcome, "code": p.decided.code, "reason": p.decided.reason,
            }
            for p in parts
        ],
        "uncovered": [
            _span(p)
            for p in parts
            if p.decided.outcome not in ALLOWING and p.decided.code in NOT_COVERED
        ],
    }  # fmt: skip
    return combined, deciding, extra
