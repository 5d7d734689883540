"""governance.preview: the evaluator run on a party's consent as it would be, for a sample
request by a licensee the party has not named; nothing is stored."""

from __future__ import annotations

import pytest
from django.utils import timezone

from governance.access import Actor
from governance.models import ConsentRuleVersion, PartyKind, Role
from governance.preview import PlannedRule, consent_preview
from governance.services import consent
from tests.factories import MembershipFactory, PartyFactory

pytestmark = pytest.mark.django_db


def actor(kind: str) -> Actor:
    m = MembershipFactory(party__kind=kind, role=Role.ADMIN)
    return Actor(user=m.user, party=m.party, role=m.role)


def test_the_default_posture_answers_what_no_rule_does() -> None:
    label = actor(PartyKind.LABEL)
    now = timezone.now()
    uses = [("train", "all_works"), ("analyze", "all_works")]
    shut = consent_preview(
        actor=label, planned=[], replaced=[], posture="opt_in", uses=uses, at=now
    )
    assert {u: d.outcome for u, d in shut.items()} == {"train": "deny", "analyze": "deny"}
    assert shut["train"].code == "consent.opt_in_default"
    open_ = consent_preview(actor=label, planned=[], replaced=[], posture="opt_out", uses=uses,
                            at=now)  # fmt: skip
    assert {u: d.outcome for u, d in open_.items()} == {"train": "allow", "analyze": "allow"}


def test_planned_rules_replace_the_rows_rules_and_a_listed_licensees_rule_does_not_speak() -> None:
    ada = actor(PartyKind.ARTIST)
    sonora = PartyFactory(kind=PartyKind.LICENSEE)
    now = timezone.now()
    _, voice = consent.rule_create(actor=ada, data={"scope": "likeness", "uses": ["voice"],
                                                    "effect": "allow"}, now=now)  # fmt: skip
    consent.rule_create(actor=ada, data={"scope": "all_works", "uses": ["train"],
                                         "effect": "allow", "licensee_mode": "listed",
                                         "licensees": [str(sonora.pk)]}, now=now)  # fmt: skip
    before = ConsentRuleVersion.objects.count()
    decided = consent_preview(
        actor=ada,
        planned=[PlannedRule("voice", "likeness", "deny", {}),
                 PlannedRule("analyze", "all_works", "conditional", {"attribution": "Ada"})],
        replaced=[voice], posture="opt_in",
        uses=[("voice", "likeness"), ("analyze", "all_works"), ("train", "all_works")],
        at=timezone.now(),
    )  # fmt: skip
    assert decided["voice"].outcome == "deny"  # the planned "never", not the saved "allow"
    assert decided["voice"].code == "consent.denied_by_rule"
    assert decided["analyze"].outcome == "conditional"
    assert decided["analyze"].obligations.attribution == "Ada"
    assert decided["train"].outcome == "deny"  # Sonora's rule is not for this licensee
    assert ConsentRuleVersion.objects.count() == before  # nothing stored
