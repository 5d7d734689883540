"""The consent evaluator: DESIGN.md's "Decision semantics", rule by rule: holders' answers,
which rules match, who holds what. Pure functions: no database. (Similarity, territories and
items: test_evaluation_scope.py; Hypothesis properties: test_evaluation_properties.py.)"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from governance.evaluation import (
    Holder,
    evaluate_work,
    obligations_union,
)
from governance.terms import (
    Obligations,
)
from tests.governance.evaluation_support import (
    ARTIST,
    AT,
    GUEST,
    HOLDERS,
    LABEL,
    LICENSEE,
    OTHER_LABEL,
    OTHER_WORK,
    PUB,
    RIVAL,
    UNCREDITED,
    WORK,
    allow_all,
    ask,
    facts,
    holder_entry,
    rule,
    share,
    work,
)

# --- holders' answers --------------------------------------------------------------------


def test_it_allows_when_every_required_holder_allows() -> None:
    label_rule = rule(LABEL, "allow", rule_id="r-label", version=2)
    d = evaluate_work(ask(), work(), facts(label_rule, rule(PUB, "allow"), rule(ARTIST, "allow")))
    assert (d.outcome, d.code, d.reason) == (
        "allow",
        "consent.allowed",
        "Every rights holder allowed it",
    )
    assert d.obligations == Obligations()
    entry = holder_entry(d.trace, "master", LABEL)
    assert entry["rule"] == {"id": "r-label", "version": 2}
    assert entry["rules"] == [{"id": "r-label", "version": 2, "effect": "allow"}]
    assert (entry["answer"], entry["code"], entry["default"]) == ("allow", "consent.allowed", None)


def test_it_denies_by_the_opt_in_default_when_a_holder_has_no_rule() -> None:
    d = evaluate_work(ask(), work(), facts(rule(LABEL, "allow"), rule(PUB, "allow")))
    assert (d.outcome, d.code) == ("deny", "consent.opt_in_default")
    assert d.reason == "No consent on record from Ada Vale"
    entry = holder_entry(d.trace, "performer", ARTIST)
    assert (entry["rule"], entry["default"], entry["rules"]) == (None, "opt_in", [])


def test_it_allows_by_the_opt_out_default_when_the_holder_reserved_nothing() -> None:
    holders = HOLDERS | {ARTIST: Holder(ARTIST, "Ada Vale", "artist", "opt_out")}
    d = evaluate_work(
        ask(), work(), facts(rule(LABEL, "allow"), rule(PUB, "allow"), holders=holders)
    )
    assert (d.outcome, d.code) == ("allow", "consent.allowed")
    entry = holder_entry(d.trace, "performer", ARTIST)
    assert (entry["answer"], entry["code"], entry["default"]) == (
        "allow",
        "consent.opt_out_default",
        "opt_out",
    )


def test_a_deny_rule_wins_over_the_same_holders_allow_and_review() -> None:
    deny = rule(ARTIST, "deny", rule_id="r-z", version=3)
    rules = (rule(ARTIST, "allow", rule_id="r-a"), rule(ARTIST, "review", rule_id="r-b"), deny)
    d = evaluate_work(ask(), work(), allow_all(*rules))
    assert (d.outcome, d.code) == ("deny", "consent.denied_by_rule")
    assert d.reason == "Ada Vale denied it under rule r-z version 3"
    entry = holder_entry(d.trace, "performer", ARTIST)
    assert entry["rule"] == {"id": "r-z", "version": 3}
    assert [r["effect"] for r in entry["rules"]] == ["allow", "allow", "review", "deny"]


def test_a_review_rule_wins_over_allow_and_the_work_waits() -> None:
    d = evaluate_work(ask(), work(), allow_all(rule(PUB, "review", rule_id="r-review")))
    assert (d.outcome, d.code) == ("review", "consent.review")
    assert d.reason == "Waiting for Harbour Songs to review it under rule r-review version 1"


def test_one_holders_deny_overrides_another_holders_review() -> None:
    d = evaluate_work(ask(), work(), allow_all(rule(PUB, "review"), rule(ARTIST, "deny")))
    assert (d.outcome, d.code) == ("deny", "consent.denied_by_rule")


def test_a_review_keeps_the_other_holders_conditions_for_its_settlement() -> None:
    """An approval settles to what the other answers require (docs/decisions.md, "Reviews"):
    the review carries the label's and the publisher's obligations, united as conditional +
    conditional are, and the reviewer's own conditional rules'."""
    credit = Obligations(attribution="Northwind Records", max_similarity=0.8)
    pub = Obligations(compensation_ref="REF-1", max_similarity=0.7)
    own = Obligations(ai_disclosure=True)
    rules = (
        rule(LABEL, "conditional", obligations=credit),
        rule(PUB, "conditional", obligations=pub),
        rule(ARTIST, "review", rule_id="r-ask"),
        rule(ARTIST, "conditional", obligations=own),
    )
    d = evaluate_work(ask(), work(), facts(*rules))
    assert (d.outcome, d.code) == ("review", "consent.review")
    assert d.reason == "Waiting for Ada Vale to review it under rule r-ask version 1"
    assert d.obligations == Obligations(
        attribution="Northwind Records",
        compensation_ref="REF-1",
        ai_disclosure=True,
        max_similarity=0.7,
    )
    assert holder_entry(d.trace, "performer", ARTIST)["obligations"]["ai_disclosure"] is True
    # Where no other holder set a condition, a review has none to keep.
    bare = evaluate_work(ask(), work(), allow_all(rule(PUB, "review")))
    assert (bare.outcome, bare.obligations) == ("review", Obligations())


def test_a_review_in_one_territory_keeps_the_conditions_set_in_another() -> None:
    credit = Obligations(attribution="Northwind Records")
    rules = (
        rule(LABEL, "conditional", obligations=credit),
        rule(PUB, "allow"),
        rule(ARTIST, "review", territory_mode="include", territories=frozenset({"FR"})),
        rule(ARTIST, "allow", territory_mode="exclude", territories=frozenset({"FR"})),
    )
    d = evaluate_work(ask(territories=("DE", "FR")), work(), facts(*rules))
    assert (d.outcome, d.trace["territory"]) == ("review", "FR")
    assert d.obligations == credit


def test_conditional_rules_unite_their_obligations() -> None:
    ada = Obligations(attribution="Ada Vale", ai_disclosure=True, max_similarity=0.9)
    label = Obligations(
        attribution="Ada Vale\nNorthwind Records", compensation_ref="REF-2", max_similarity=0.8
    )
    pub = Obligations(compensation_ref="REF-1")
    rules = (
        rule(ARTIST, "conditional", obligations=ada),
        rule(LABEL, "conditional", obligations=label),
        rule(PUB, "conditional", obligations=pub),
    )
    d = evaluate_work(ask(), work(), facts(*rules))
    assert (d.outcome, d.code) == ("conditional", "consent.conditional")
    assert d.obligations == Obligations(
        attribution="Ada Vale\nNorthwind Records",
        compensation_ref="REF-1\nREF-2",
        ai_disclosure=True,
        max_similarity=0.8,
    )
    assert d.trace["obligations"]["compensation_ref"] == "REF-1\nREF-2"
    assert holder_entry(d.trace, "performer", ARTIST)["code"] == "consent.conditional"


def test_conditional_without_obligations_or_allow_with_obligations_is_a_plain_allow() -> None:
    ignored = Obligations(attribution="ignored: an allow carries no obligations")
    d = evaluate_work(
        ask(),
        work(),
        allow_all(rule(ARTIST, "conditional"), rule(LABEL, "allow", obligations=ignored)),
    )
    assert (d.outcome, d.code, d.obligations) == ("allow", "consent.allowed", Obligations())


def test_obligations_union_is_order_free_and_idempotent() -> None:
    a = Obligations(attribution="B\nA", compensation_ref="X", max_similarity=0.7)
    b = Obligations(attribution="A", ai_disclosure=True)
    assert obligations_union(a, b) == obligations_union(b, a) == obligations_union(a, b, a, b)
    assert obligations_union() == Obligations()


# --- which rules match -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "applies"),
    [
        ({"uses": {"analyze"}}, False),
        ({"uses": {"analyze", "train"}}, True),
        ({"scope": "works", "scope_works": frozenset({WORK})}, True),
        ({"scope": "works", "scope_works": frozenset({OTHER_WORK})}, False),
        ({"scope": "artist_works", "scope_artist_id": ARTIST}, True),
        ({"scope": "artist_works", "scope_artist_id": GUEST}, False),
        ({"scope": "likeness"}, False),  # a likeness rule does not speak for the performer right
        ({"licensee_mode": "listed", "licensees": frozenset({LICENSEE})}, True),
        ({"licensee_mode": "listed", "licensees": frozenset({RIVAL})}, False),
        ({"licensee_mode": "except", "licensees": frozenset({LICENSEE})}, False),
        ({"licensee_mode": "except", "licensees": frozenset({RIVAL})}, True),
        ({"territory_mode": "include", "territories": frozenset({"FR"})}, True),
        ({"territory_mode": "include", "territories": frozenset({"DE"})}, False),
        ({"territory_mode": "exclude", "territories": frozenset({"FR"})}, False),
        ({"window_start": AT, "window_end": AT + dt.timedelta(days=1)}, True),
        ({"window_start": AT + dt.timedelta(seconds=1)}, False),
        ({"window_end": AT}, False),  # the end is exclusive
        ({"commercial": "commercial"}, True),
        ({"commercial": "non_commercial"}, False),
    ],
)
def test_a_rule_answers_only_what_it_covers(fields: dict[str, Any], applies: bool) -> None:
    uses = fields.pop("uses", {"train"})
    d = evaluate_work(ask(), work(), allow_all(rule(ARTIST, "deny", uses, **fields)))
    assert d.outcome == ("deny" if applies else "allow")


def test_a_non_commercial_rule_answers_a_non_commercial_question() -> None:
    d = evaluate_work(
        ask(commercial=False), work(), allow_all(rule(ARTIST, "deny", commercial="non_commercial"))
    )
    assert d.outcome == "deny"


def test_a_rule_of_another_party_does_not_answer_for_the_holder() -> None:
    d = evaluate_work(
        ask(), work(), facts(rule(LABEL, "allow"), rule(PUB, "allow"), rule(GUEST, "allow"))
    )
    assert d.code == "consent.opt_in_default"


# --- who holds what ----------------------------------------------------------------------


def test_a_right_nobody_holds_denies_as_rights_unknown() -> None:
    w = work(share(LABEL, "master"), share(PUB, "publishing"))
    d = evaluate_work(ask(), w, allow_all())
    assert (d.outcome, d.code) == ("deny", "rights.unknown")
    assert d.reason == "Nobody is registered as holding the performer right in FR"
    performer = next(r for r in d.trace["rights"] if r["right"] == "performer")
    assert performer["holders"] == []
    assert performer["code"] == "rights.unknown"


@pytest.mark.parametrize(
    ("fields", "holds"),
    [
        ({"valid_from": AT.date()}, True),
        ({"valid_from": AT.date() + dt.timedelta(days=1)}, False),
        ({"valid_until": AT.date()}, False),  # the end is exclusive
        ({"valid_until": AT.date() + dt.timedelta(days=1)}, True),
        ({"territory_mode": "include", "territories": frozenset({"FR", "BE"})}, True),
        ({"territory_mode": "exclude", "territories": frozenset({"FR"})}, False),
    ],
)
def test_a_share_holds_only_where_and_when_it_is_in_force(
    fields: dict[str, Any], holds: bool
) -> None:
    w = work(share(LABEL, "master"), share(PUB, "publishing"), share(ARTIST, "performer", **fields))
    d = evaluate_work(ask(), w, allow_all())
    assert d.code == ("consent.allowed" if holds else "rights.unknown")


def test_the_day_of_a_share_is_the_utc_day_of_the_question() -> None:
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 2 Mar UTC
    w = work(
        share(LABEL, "master"),
        share(PUB, "publishing"),
        share(ARTIST, "performer", valid_until=dt.date(2026, 3, 2)),
    )
    assert evaluate_work(ask(at=late), w, allow_all()).code == "rights.unknown"


def test_one_holders_shares_add_up_and_every_holder_must_consent() -> None:
    w = work(
        share(LABEL, "master", "60"),
        share(LABEL, "master", "15.5"),
        share(OTHER_LABEL, "master", "24.5"),
        share(PUB, "publishing"),
        share(ARTIST, "performer"),
    )
    d = evaluate_work(ask(), w, allow_all())
    assert (d.outcome, d.reason) == ("deny", "No consent on record from Southwind Records")
    assert holder_entry(d.trace, "master", LABEL)["share"] == "75.500"
    assert holder_entry(d.trace, "master", OTHER_LABEL)["share"] == "24.500"


def test_every_credited_artist_holds_their_likeness_and_decides_it_themselves() -> None:
    w = work(artists=(ARTIST, GUEST))
    d = evaluate_work(ask("voice"), w, facts(rule(ARTIST, "allow", {"voice"}, scope="likeness")))
    assert (d.outcome, d.reason) == ("deny", "No consent on record from Bo Lind")
    entry = holder_entry(d.trace, "likeness", ARTIST)
    assert (entry["share"], entry["credited"], entry["answer"]) == (None, True, "allow")
    both = facts(*(rule(a, "allow", {"voice"}, scope="likeness") for a in (ARTIST, GUEST)))
    assert evaluate_work(ask("voice"), w, both).outcome == "allow"


def test_no_label_can_hold_or_grant_an_artists_likeness() -> None:
    w = work(share(LABEL, "likeness"), share(UNCREDITED, "likeness", "50"))
    label_grants = facts(
        rule(LABEL, "allow", {"voice"}),
        rule(LABEL, "allow", {"voice"}, scope="likeness"),
        rule(UNCREDITED, "allow", {"voice"}),
    )
    d = evaluate_work(ask("voice"), w, label_grants)
    assert (d.outcome, d.reason) == ("deny", "No consent on record from Ada Vale")
    parties = [h["party"] for r in d.trace["rights"] for h in r["holders"]]
    assert parties == [ARTIST, UNCREDITED]  # an artist's likeness share counts; a label's never


def test_a_credited_party_that_is_not_an_artist_holds_no_likeness() -> None:
    w = work(artists=(OTHER_LABEL,))
    d = evaluate_work(ask("style"), w, facts(rule(OTHER_LABEL, "allow", {"style"})))
    assert (d.outcome, d.code) == ("deny", "rights.unknown")
    assert d.reason == "Nobody is registered as holding the likeness right in FR"


def test_a_holder_missing_from_the_facts_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="lacks party p-artist"):
        evaluate_work(ask(), work(), facts(holders={LABEL: HOLDERS[LABEL], PUB: HOLDERS[PUB]}))
