"""The consent evaluator, continued: similarity limits on outputs, territories, items and
requests, and the trace's documented shape. Pure functions: no database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from governance.evaluation import (
    ELSEWHERE,
    Facts,
    Match,
    Question,
    evaluate_item,
    evaluate_work,
    summarise,
    tally,
)
from governance.terms import (
    Obligations,
)
from tests.governance.evaluation_support import (
    ARTIST,
    AT,
    GUEST,
    LABEL,
    LICENSEE,
    OTHER_WORK,
    PUB,
    WORK,
    allow_all,
    ask,
    facts,
    holder_entry,
    rule,
    share,
    work,
)

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
    # A review keeps every territory's obligations: what an approval settles it with
    # (docs/decisions.md, "Reviews"); before, they were dropped and an approval lost them.
    assert d.obligations == Obligations(attribution="Ada Vale", ai_disclosure=True)


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


# --- AI declarations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "outcome"),
    [("generated", "deny"), ("assisted", "allow"), ("none", "allow"), ("", "allow")],
)
def test_a_rule_limited_to_an_ai_declaration_speaks_for_those_works_alone(
    declared: str, outcome: str
) -> None:
    no_ai = rule(LABEL, "deny", ai_declarations=frozenset({"generated"}))
    d = evaluate_work(ask(), work(ai_declaration=declared), allow_all(no_ai))
    assert d.outcome == outcome
    # The trace says the declaration when there is one (and is as before when there is none).
    assert d.trace.get("ai_declaration") == (declared or None)


def test_undeclared_is_a_declaration_a_rule_can_name() -> None:
    only = rule(LABEL, "allow", ai_declarations=frozenset({"none", "undeclared"}))
    rest = [rule(p, "allow") for p in (PUB, ARTIST)]
    decided = {
        declared: evaluate_work(ask(), work(ai_declaration=declared), facts(only, *rest)).code
        for declared in ("generated", "assisted", "none", "")
    }
    assert decided == {
        "generated": "consent.opt_in_default",
        "assisted": "consent.opt_in_default",
        "none": "consent.allowed",
        "": "consent.allowed",
    }


def test_an_unknown_ai_declaration_in_a_rule_is_an_error_naming_the_rule() -> None:
    bad = rule(LABEL, "deny", rule_id="r-ai", ai_declarations=frozenset({"mostly"}))
    with pytest.raises(ValueError, match="rule r-ai version 1: 'mostly' is not one of"):
        evaluate_work(ask(), work(ai_declaration="generated"), allow_all(bad))
