"""What would be decided, before a party saves its consent: the evaluator run on the party's
rules as they would be, for a sample request (DESIGN.md, decision semantics; the same
:mod:`governance.evaluation` that decides every request).

The sample request (:class:`Sample`) is by default one licensee the party has not named (so a
rule for listed licensees does not speak for it), worldwide, now, for a commercial use; it may
name a licensee, a territory, a time and non-commercial use instead. It is about one of the
party's works (the one named, or one no "some works" rule lists) in which the party holds every
right the use needs, or, for a use the party answers for its likeness, about the artist's
likeness. Nothing is stored or ledgered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from governance import evaluation, selectors
from governance.access import Actor
from governance.models import ConsentRuleVersion, PartyKind
from governance.terms import Obligations, RuleContent

SAMPLE_LICENSEE = "00000000-0000-0000-0000-000000000000"
"""The sample request's licensee: no party, so named by no rule."""
SAMPLE_WORK = "00000000-0000-0000-0000-000000000001"


@dataclass(frozen=True)
class PlannedRule:
    """A rule as the party would have it: one use, and the limits of the consent page's rows
    and exceptions (none: everyone, everywhere, at any time, commercial or not)."""

    use: str
    scope: str  # "all_works", "works" or "likeness"
    effect: str
    obligations: Mapping[str, object]
    scope_works: frozenset[str] = frozenset()
    licensee_mode: str = "any"
    licensees: frozenset[str] = frozenset()
    territory_mode: str = "worldwide"
    territories: frozenset[str] = frozenset()
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    commercial: str = "both"


@dataclass(frozen=True)
class Sample:
    """The request previewed: who asks (None: a licensee the party has not named), where (no
    territory: worldwide, every territory's answer counted, the strictest deciding), when
    (None: the time of the preview), commercially or not, and about which of the party's works
    (None: one that no "some works" rule lists)."""

    licensee_id: str | None = None
    territories: tuple[str, ...] = ()
    at: dt.datetime | None = None
    commercial: bool = True
    work_id: str | None = None


def consent_preview(
    *,
    actor: Actor,
    planned: list[PlannedRule],
    replaced: list[ConsentRuleVersion],
    posture: str,
    uses: list[tuple[str, str]],
    at: dt.datetime,
    sample: Sample | None = None,
) -> dict[str, evaluation.ItemDecision]:
    """For each ``(use, scope)`` of ``uses``, the decision of the ``sample`` request (by
    default the one the module's docstring describes) with the party's rules in force now,
    less the versions in ``replaced``, plus ``planned``, and the default ``posture``."""
    sample = sample or Sample()
    party = actor.party
    me = str(party.pk)
    matrix = selectors.matrix_at(at=at)
    gone = {v.pk for v in replaced}
    rules = [
        selectors.rule_content(v, owner_id=party.pk)
        for v in selectors.rule_versions_in_force(actor=actor).filter(rule__owner=party)
        if v.pk not in gone
    ]
    for n, p in enumerate(planned):
        o = p.obligations
        rules.append(RuleContent(
            rule_id=f"00000000-0000-0000-0001-{n:012d}", version=1, owner_id=me, scope=p.scope,
            uses=frozenset({p.use}), effect=p.effect, scope_works=p.scope_works,
            licensee_mode=p.licensee_mode, licensees=p.licensees,
            territory_mode=p.territory_mode, territories=p.territories,
            window_start=p.window_start, window_end=p.window_end, commercial=p.commercial,
            obligations=Obligations(
                attribution=str(o.get("attribution", "")),
                compensation_ref=str(o.get("compensation_ref", "")),
                ai_disclosure=bool(o.get("ai_disclosure", False)),
            ),
        ))  # fmt: skip
    facts = evaluation.Facts(
        matrix_version=matrix.version,
        matrix={u: tuple(r) for u, r in matrix.matrix.items()},
        holders={me: evaluation.Holder(me, party.name, party.kind, posture)},
        rules=tuple(rules),
    )
    out = {}
    for use, scope in uses:
        question = evaluation.Question(
            use=use, licensee_id=sample.licensee_id or SAMPLE_LICENSEE,
            territories=sample.territories, at=sample.at or at, commercial=sample.commercial,
        )  # fmt: skip
        if scope == "likeness":
            out[use] = evaluation.evaluate_item(
                question, [], facts, artists=[evaluation.ArtistFacts(artist_id=me)]
            )
            continue
        shares = tuple(
            evaluation.Share(holder_id=me, right=right, share=Decimal(100),
                             territory_mode="worldwide", territories=frozenset(),
                             valid_from=None, valid_until=None)
            for right in matrix.matrix[use] if right != "likeness"
        )  # fmt: skip
        work = evaluation.WorkFacts(
            work_id=sample.work_id or SAMPLE_WORK, title="", shares=shares,
            artist_ids=(me,) if party.kind == PartyKind.ARTIST else (),
        )  # fmt: skip
        out[use] = evaluation.evaluate_item(question, [work], facts)
    return out
