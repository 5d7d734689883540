"""The consent evaluator: DESIGN.md's "Decision semantics", rule by rule, and Hypothesis
properties (deny is monotone, likeness is the artist's alone, opt-in denies by default, order
does not matter, the trace is deterministic JSON). Pure functions: no database."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance.evaluation import (
    ELSEWHERE,
    STRICTNESS,
    Facts,
    Holder,
    Match,
    Question,
    Share,
    WorkFacts,
    evaluate_item,
    evaluate_work,
    obligations_union,
    summarise,
    tally,
)
from governance.terms import (
    COMMERCIAL,
    DEFAULT_MATRIX,
    EFFECTS,
    LICENSEE_MODES,
    RIGHTS,
    SCOPES,
    USES,
    Obligations,
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


# --- similarity ----------------------------------------------------------------------------


def output_facts(limit: float) -> Facts:
    limited = Obligations(ai_disclosure=True, max_similarity=limit)
    return allow_all(
        rule(ARTIST, "conditional", {"output"}, rule_id="r-limit", obligations=limited),
        use="output",
    )


def test_an_output_closer_than_a_conditional_rule_allows_is_denied() -> None:
    w = work(
        share(LABEL, "master"), share(ARTIST, "publishing"), matches=(Match("voice", 0.93, 0.85),)
    )
    d = evaluate_work(ask("output"), w, output_facts(0.8))
    assert (d.outcome, d.code) == ("deny", "consent.similarity_exceeded")
    assert d.reason == (
        "The item resembles “Northern Lights” more closely (0.93) than Ada Vale allows (0.8) "
        "under rule r-limit version 1"
    )
    entry = holder_entry(d.trace, "publishing", ARTIST)
    assert entry["similarity"] == {"space": "voice", "score": 0.93, "max_similarity": 0.8}
    assert entry["rule"] == {"id": "r-limit", "version": 1}


@pytest.mark.parametrize(
    ("use", "match"),
    [
        ("output", Match("voice", 0.78, 0.7)),  # below the limit
        ("output", Match("voice", 0.93, 0.95)),  # not a passing match
        ("output", Match("voice", 0.8, 0.7)),  # at the limit is allowed
    ],
)
def test_the_similarity_limit_is_an_obligation_when_not_exceeded(use: str, match: Match) -> None:
    w = work(share(LABEL, "master"), share(ARTIST, "publishing"), matches=(match,))
    d = evaluate_work(ask(use), w, output_facts(0.8))
    assert (d.outcome, d.obligations.max_similarity) == ("conditional", 0.8)


def test_the_similarity_limit_only_denies_outputs() -> None:
    limited = Obligations(max_similarity=0.5)
    w = work(matches=(Match("voice", 0.93, 0.85),))
    d = evaluate_work(ask(), w, allow_all(rule(ARTIST, "conditional", obligations=limited)))
    assert (d.outcome, d.obligations.max_similarity) == ("conditional", 0.5)


# --- territories ---------------------------------------------------------------------------


def test_a_worldwide_question_reports_the_worst_territory() -> None:
    w = work(
        share(LABEL, "master", territory_mode="include", territories=frozenset({"FR"})),
        share(PUB, "publishing"),
        share(ARTIST, "performer"),
    )
    d = evaluate_work(ask(territories=()), w, allow_all())
    assert (d.outcome, d.code) == ("deny", "rights.unknown")
    assert d.reason == "Nobody is registered as holding the master right outside FR"
    assert (d.trace["territories"], d.trace["territory"]) == (["FR", ELSEWHERE], ELSEWHERE)
    master = [(r["territories"], r["code"]) for r in d.trace["rights"] if r["right"] == "master"]
    assert master == [(["FR"], "consent.allowed"), ([ELSEWHERE], "rights.unknown")]
    publishing = [r["territories"] for r in d.trace["rights"] if r["right"] == "publishing"]
    assert publishing == [["FR", ELSEWHERE]]  # alike everywhere: one entry


def test_a_worldwide_question_with_nothing_territorial_is_evaluated_once() -> None:
    d = evaluate_work(ask(territories=()), work(share(LABEL, "master")), allow_all())
    assert d.trace["territories"] == [ELSEWHERE]
    assert d.reason == "Nobody is registered as holding the publishing right in any territory"


def test_a_rules_territory_splits_a_worldwide_question() -> None:
    fr_only = rule(ARTIST, "allow", territory_mode="include", territories=frozenset({"FR"}))
    d = evaluate_work(
        ask(territories=()), work(), facts(rule(LABEL, "allow"), rule(PUB, "allow"), fr_only)
    )
    assert (d.outcome, d.reason) == ("deny", "No consent on record from Ada Vale outside FR")
    assert d.trace["territories"] == ["FR", ELSEWHERE]


def test_the_strictest_territory_decides_and_obligations_unite_across_territories() -> None:
    de = rule(
        ARTIST,
        "conditional",
        territory_mode="include",
        territories=frozenset({"DE"}),
        obligations=Obligations(attribution="Ada Vale"),
    )
    fr = rule(
        ARTIST,
        "conditional",
        territory_mode="include",
        territories=frozenset({"FR"}),
        obligations=Obligations(ai_disclosure=True),
    )
    base = (rule(LABEL, "allow"), rule(PUB, "allow"))
    d = evaluate_work(ask(territories=("FR", "DE")), work(), facts(*base, de, fr))
    assert d.outcome == "conditional"
    assert d.obligations == Obligations(attribution="Ada Vale", ai_disclosure=True)
    assert d.trace["territory"] is None
    review_fr = rule(PUB, "review", territory_mode="include", territories=frozenset({"FR"}))
    d = evaluate_work(ask(territories=("fr", "DE")), work(), facts(*base, de, fr, review_fr))
    assert (d.outcome, d.trace["territory"], d.trace["territories"]) == (
        "review",
        "FR",
        ["DE", "FR"],
    )
    assert d.reason.endswith(" in FR")
    assert d.obligations == Obligations()  # obligations only matter when allowed


# --- items and requests --------------------------------------------------------------------


def test_an_item_without_works_is_no_match() -> None:
    d = evaluate_item(ask(), [], allow_all())
    assert (d.outcome, d.code, d.reason) == (
        "no_match",
        "match.none",
        "Nothing registered matched the item",
    )
    assert d.trace["works"] == []
    assert d.works == ()


def test_an_item_takes_its_strictest_work_and_names_it() -> None:
    other = replace(
        work(share(LABEL, "master"), share(PUB, "publishing"), share(GUEST, "performer")),
        work_id=OTHER_WORK,
        title="Southern Cross",
    )
    d = evaluate_item(ask(), [work(), other], allow_all())
    assert (d.outcome, d.code) == ("deny", "consent.opt_in_default")
    assert d.reason == "“Southern Cross”: No consent on record from Bo Lind"
    assert [w["work"] for w in d.trace["works"]] == sorted([WORK, OTHER_WORK])


def test_an_item_unites_the_obligations_of_its_allowed_works() -> None:
    other = replace(
        work(share(LABEL, "master"), share(PUB, "publishing"), share(GUEST, "performer")),
        work_id=OTHER_WORK,
        title="Southern Cross",
    )
    credit = rule(GUEST, "conditional", obligations=Obligations(attribution="Bo Lind"))
    d = evaluate_item(ask(), [work(), other], allow_all(credit))
    assert (d.outcome, d.code, d.obligations.attribution) == (
        "conditional",
        "consent.conditional",
        "Bo Lind",
    )
    assert d.reason == "Every rights holder of every matched work allowed it, with obligations"


def test_a_use_the_matrix_requires_nobody_for_is_allowed() -> None:
    d = evaluate_work(ask("analyze"), work(), facts(analyze=()))
    assert (d.outcome, d.code) == ("allow", "consent.no_rights_required")


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (ask(at=AT.replace(tzinfo=None)), "timezone-aware"),
        (ask("karaoke"), "no use 'karaoke'"),
    ],
)
def test_a_malformed_question_is_a_caller_error(question: Question, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_item(question, [work()], allow_all())


def test_a_malformed_rule_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="'sometimes' is not one of"):
        evaluate_work(ask(), work(), allow_all(rule(ARTIST, "sometimes")))


@pytest.mark.parametrize(
    ("outcomes", "summary"),
    [
        ([], "no_match"),
        (["no_match", "no_match"], "no_match"),
        (["no_match", "allow"], "allow"),
        (["allow", "conditional", "no_match"], "conditional"),
        (["conditional", "review", "allow"], "review"),
        (["review", "deny", "allow"], "deny"),
        (["error", "no_match"], "error"),
        (["error", "allow"], "allow"),
    ],
)
def test_a_request_is_summarised_by_its_strictest_item(outcomes: list[str], summary: str) -> None:
    assert summarise(outcomes) == summary
    counts = tally(outcomes)
    assert sum(counts.values()) == len(outcomes)
    assert list(counts)[:5] == [
        "allow",
        "conditional",
        "review",
        "deny",
        "no_match",
    ]


def test_an_unknown_outcome_cannot_be_summarised() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'maybe'"):
        summarise(["allow", "maybe"])


def test_the_trace_has_the_documented_shape() -> None:
    w = work(
        share(LABEL, "master"),
        share(PUB, "publishing"),
        share(ARTIST, "performer"),
        matches=(Match("voice", 0.93, 0.85),),
        identified_by="isrc:USRC17607839",
    )
    d = evaluate_item(
        ask(),
        [w],
        facts(rule(LABEL, "allow", rule_id="r-1", version=2), rule(PUB, "allow", rule_id="r-2")),
    )
    empty = {
        "attribution": "",
        "compensation_ref": "",
        "ai_disclosure": False,
        "max_similarity": None,
    }
    assert d.trace == {
        "trace_version": 1,
        "use": "train",
        "licensee": LICENSEE,
        "at": "2026-03-01T12:00:00Z",
        "commercial": True,
        "territories": ["FR"],
        "matrix_version": 1,
        "outcome": "deny",
        "code": "consent.opt_in_default",
        "reason": "No consent on record from Ada Vale",
        "obligations": empty,
        "works": [
            {
                "work": WORK,
                "title": "Northern Lights",
                "identified_by": "isrc:USRC17607839",
                "matches": [{"space": "voice", "score": 0.93, "threshold": 0.85}],
                "required_rights": ["master", "publishing", "performer"],
                "territories": ["FR"],
                "territory": "FR",
                "outcome": "deny",
                "code": "consent.opt_in_default",
                "reason": "No consent on record from Ada Vale",
                "obligations": empty,
                "rights": [
                    {
                        "right": "master",
                        "territories": ["FR"],
                        "answer": "allow",
                        "code": "consent.allowed",
                        "holders": [
                            {
                                "party": LABEL,
                                "name": "Northwind Records",
                                "kind": "label",
                                "share": "100.000",
                                "credited": False,
                                "answer": "allow",
                                "code": "consent.allowed",
                                "rule": {"id": "r-1", "version": 2},
                                "rules": [{"id": "r-1", "version": 2, "effect": "allow"}],
                                "default": None,
                                "similarity": None,
                                "obligations": empty,
                            }
                        ],
                    },
                    {
                        "right": "publishing",
                        "territories": ["FR"],
                        "answer": "allow",
                        "code": "consent.allowed",
                        "holders": [
                            {
                                "party": PUB,
                                "name": "Harbour Songs",
                                "kind": "publisher",
                                "share": "100.000",
                                "credited": False,
                                "answer": "allow",
                                "code": "consent.allowed",
                                "rule": {"id": "r-2", "version": 1},
                                "rules": [{"id": "r-2", "version": 1, "effect": "allow"}],
                                "default": None,
                                "similarity": None,
                                "obligations": empty,
                            }
                        ],
                    },
                    {
                        "right": "performer",
                        "territories": ["FR"],
                        "answer": "deny",
                        "code": "consent.opt_in_default",
                        "holders": [
                            {
                                "party": ARTIST,
                                "name": "Ada Vale",
                                "kind": "artist",
                                "share": "100.000",
                                "credited": True,
                                "answer": "deny",
                                "code": "consent.opt_in_default",
                                "rule": None,
                                "rules": [],
                                "default": "opt_in",
                                "similarity": None,
                                "obligations": empty,
                            }
                        ],
                    },
                ],
            }
        ],
    }


# --- properties ----------------------------------------------------------------------------

PARTIES = (LABEL, PUB, ARTIST, GUEST, OTHER_LABEL, UNCREDITED)
NON_ARTISTS = (LABEL, PUB, OTHER_LABEL)
CODES = ("FR", "DE", "US")
TIMES = (None, AT - dt.timedelta(days=30), AT, AT + dt.timedelta(days=30))
DAYS = (None, AT.date() - dt.timedelta(days=30), AT.date(), AT.date() + dt.timedelta(days=30))
LIKENESS_USES = tuple(u for u, rights in DEFAULT_MATRIX.items() if rights == ("likeness",))

territory_specs = st.one_of(
    st.just(("worldwide", frozenset())),
    st.just(("worldwide", frozenset())),
    st.tuples(
        st.sampled_from(("include", "exclude")), st.frozensets(st.sampled_from(CODES), min_size=1)
    ),
)
holders_st = st.builds(
    lambda postures: {
        p: replace(HOLDERS[p], default_posture=x) for p, x in zip(PARTIES, postures, strict=True)
    },
    st.tuples(*(st.sampled_from(("opt_in", "opt_out")) for _ in PARTIES)),
)
obligations_st = st.builds(
    Obligations,
    attribution=st.sampled_from(("", "Ada Vale", "Bo Lind\nAda Vale")),
    compensation_ref=st.sampled_from(("", "REF-1", "REF-2")),
    ai_disclosure=st.booleans(),
    max_similarity=st.one_of(st.none(), st.sampled_from((0.5, 0.8, 0.95))),
)


def often(usual: object, *others: object) -> st.SearchStrategy[Any]:
    """Mostly ``usual``, so that rules often match and every branch is reached."""
    return st.sampled_from((usual, usual, usual, *others))


@st.composite
def rules_st(
    draw: st.DrawFn, owners: tuple[str, ...] = PARTIES, effects: tuple[str, ...] = EFFECTS
) -> RuleContent:
    mode, codes = draw(territory_specs)
    return RuleContent(
        rule_id="unset",
        version=draw(st.integers(1, 3)),
        owner_id=draw(st.sampled_from(owners)),
        scope=draw(often("all_works", *SCOPES)),
        uses=draw(
            st.one_of(st.just(frozenset(USES)), st.frozensets(st.sampled_from(USES), min_size=1))
        ),
        effect=draw(st.sampled_from(effects)),
        scope_works=draw(st.frozensets(st.sampled_from((WORK, OTHER_WORK)))),
        scope_artist_id=draw(st.sampled_from((None, ARTIST, GUEST, UNCREDITED))),
        licensee_mode=draw(often("any", *LICENSEE_MODES)),
        licensees=draw(st.frozensets(st.sampled_from((LICENSEE, RIVAL)))),
        territory_mode=mode,
        territories=codes,
        window_start=draw(often(None, *TIMES)),
        window_end=draw(often(None, *TIMES)),
        commercial=draw(often("both", *COMMERCIAL)),
        obligations=draw(obligations_st),
    )


def numbered(rules: list[RuleContent], prefix: str = "r") -> tuple[RuleContent, ...]:
    return tuple(replace(r, rule_id=f"{prefix}-{i}") for i, r in enumerate(rules))


@st.composite
def shares_st(draw: st.DrawFn) -> Share:
    mode, codes = draw(territory_specs)
    return Share(
        draw(st.sampled_from(PARTIES)),
        draw(st.sampled_from(RIGHTS)),
        draw(st.decimals(Decimal("0.001"), Decimal(100), places=3)),
        mode,
        codes,
        draw(often(None, *DAYS)),
        draw(often(None, *DAYS)),
    )


works_st = st.builds(
    lambda base, shares, artists, matches, named: WorkFacts(
        WORK,
        "Northern Lights",
        (*(share(p, r) for p, r in zip(base, RIGHTS, strict=True) if p), *shares),
        tuple(artists),
        tuple(matches),
        named,
    ),
    # Mostly one worldwide holder of each right, so that rights are known and rules count.
    st.tuples(*(often(p, None) for p in (LABEL, PUB, ARTIST, ARTIST))),
    st.lists(shares_st(), max_size=5),
    st.lists(st.sampled_from((ARTIST, GUEST, OTHER_LABEL)), unique=True, max_size=3),
    st.lists(
        st.builds(
            Match, st.sampled_from(("voice", "fingerprint")), st.floats(0, 1), st.floats(0, 1)
        ),
        max_size=3,
    ),
    st.sampled_from((None, "isrc:USRC17607839")),
)
questions_st = st.builds(
    Question,
    use=st.sampled_from(USES),
    licensee_id=st.sampled_from((LICENSEE, RIVAL)),
    territories=st.one_of(
        st.just(()),
        st.lists(st.sampled_from((*CODES, "JP")), min_size=1, max_size=3, unique=True).map(tuple),
    ),
    at=st.just(AT),
    commercial=st.booleans(),
)
facts_st = st.builds(
    lambda holders, rules: Facts(1, DEFAULT_MATRIX, holders, numbered(rules)),
    holders_st,
    st.lists(rules_st(), max_size=12),
)

PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(question=questions_st, w=works_st, f=facts_st, denial=rules_st(effects=("deny",)))
def test_adding_a_deny_rule_never_makes_the_outcome_less_strict(
    question: Question, w: WorkFacts, f: Facts, denial: RuleContent
) -> None:
    before = evaluate_work(question, w, f).outcome
    after = evaluate_work(
        question, w, replace(f, rules=(*f.rules, replace(denial, rule_id="r-deny")))
    ).outcome
    assert STRICTNESS[after] >= STRICTNESS[before]


@PROPERTY
@given(
    use=st.sampled_from(LIKENESS_USES),
    question=questions_st,
    w=works_st,
    f=facts_st,
    foreign=st.lists(rules_st(owners=(*NON_ARTISTS, UNCREDITED)), min_size=1, max_size=4),
)
def test_no_party_but_the_credited_artists_decides_over_their_likeness(
    use: str, question: Question, w: WorkFacts, f: Facts, foreign: list[RuleContent]
) -> None:
    # The uncredited artist is no likeness holder of this work unless it holds a likeness share.
    w = replace(
        w,
        shares=tuple(
            s for s in w.shares if not (s.right == "likeness" and s.holder_id == UNCREDITED)
        ),
    )
    question = replace(question, use=use)
    before = evaluate_work(question, w, f)
    after = evaluate_work(question, w, replace(f, rules=(*f.rules, *numbered(foreign, "foreign"))))
    assert (after.outcome, after.code, after.trace) == (before.outcome, before.code, before.trace)


@PROPERTY
@given(question=questions_st, w=works_st)
def test_with_no_rules_and_everyone_opt_in_every_answer_is_no(
    question: Question, w: WorkFacts
) -> None:
    d = evaluate_work(question, w, Facts(1, DEFAULT_MATRIX, HOLDERS, ()))
    assert d.outcome == "deny"
    assert d.code in ("consent.opt_in_default", "rights.unknown")


@PROPERTY
@given(question=questions_st, w=works_st, f=facts_st, data=st.data())
def test_the_order_of_rules_shares_artists_and_matches_does_not_matter(
    question: Question, w: WorkFacts, f: Facts, data: st.DataObject
) -> None:
    shuffled_work = replace(
        w,
        shares=tuple(data.draw(st.permutations(w.shares))),
        artist_ids=tuple(data.draw(st.permutations(w.artist_ids))),
        matches=tuple(data.draw(st.permutations(w.matches))),
    )
    shuffled_facts = replace(f, rules=tuple(data.draw(st.permutations(f.rules))))
    assert (
        evaluate_item(question, [shuffled_work], shuffled_facts).trace
        == evaluate_item(question, [w], f).trace
    )


def _plain_json(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


@PROPERTY
@given(question=questions_st, w=works_st, f=facts_st, with_work=st.booleans())
def test_the_trace_is_deterministic_plain_json(
    question: Question, w: WorkFacts, f: Facts, with_work: bool
) -> None:
    trace = evaluate_item(question, [w] if with_work else [], f).trace
    assert _plain_json(trace)
    text = json.dumps(trace, allow_nan=False)
    assert json.loads(text) == trace
    assert (
        json.dumps(evaluate_item(question, [w] if with_work else [], f).trace, allow_nan=False)
        == text
    )
