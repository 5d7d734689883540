"""What the evaluator's faster paths rely on (issue 13 item 8): a trace's groups are keyed by
tuples that are equal exactly when the holders' JSON is; the union of obligations, worked out
once per distinct key, is the union worked out afresh; deciding an item without its trace
(replay's ``decide_item``) gives its outcome and cited rule versions. Pure: no database."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from governance.evaluation import (
    OPEN_END,
    Facts,
    Holder,
    Match,
    Question,
    Share,
    WorkFacts,
    decide_item,
    evaluate_item,
    obligations_union,
    rule_versions_cited,
)
from governance.evaluation.facts import _Answer, _union
from governance.evaluation.rules import _holder_entry
from governance.terms import Obligations, RuleContent

AT = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
LIMITS = st.sampled_from([None, 1, 1.0, 0.5, 0.0, -0.0, True])
OBLIGATIONS = st.builds(
    Obligations,
    attribution=st.sampled_from(["", "Credit A", "Credit A\nCredit B"]),
    compensation_ref=st.sampled_from(["", "rate-1"]),
    ai_disclosure=st.sampled_from([False, True, 0, 1]),
    max_similarity=LIMITS,
)
RULES = st.builds(
    RuleContent,
    rule_id=st.sampled_from(["r1", "r2"]),
    version=st.sampled_from([1, 2, True]),
    owner_id=st.just("p1"),
    scope=st.just("all_works"),
    uses=st.just(frozenset({"output"})),
    effect=st.sampled_from(["allow", "conditional", "deny"]),
    obligations=OBLIGATIONS,
)
ENTRIES = st.tuples(
    st.builds(
        Holder,
        party_id=st.sampled_from(["p1", "p2"]),
        name=st.sampled_from(["Ada", "Bo"]),
        kind=st.sampled_from(["label", "artist"]),
        default_posture=st.sampled_from(["opt_in", "opt_out"]),
    ),
    st.sampled_from([None, Decimal("100"), Decimal("100.0004"), Decimal("0"), Decimal("-0")]),
    st.sampled_from([False, True]),
    st.lists(RULES, max_size=2),
    st.builds(
        _Answer,
        outcome=st.sampled_from(["allow", "deny"]),
        code=st.sampled_from(["consent.allowed", "consent.similarity_exceeded"]),
        reason=st.sampled_from(["one reason", "another"]),
        obligations=OBLIGATIONS,
        rule=st.none() | RULES,
        match=st.none()
        | st.builds(Match, st.just("voice"), st.sampled_from([0.9, 1, 1.0]), st.just(0.5)),
    ),
)


def _json(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True)


@given(ENTRIES, ENTRIES)
@settings(max_examples=400, deadline=None)
def test_a_holders_key_is_equal_exactly_when_its_json_is(a: Any, b: Any) -> None:
    entry_a, key_a = _holder_entry(*a)
    entry_b, key_b = _holder_entry(*b)
    assert (key_a == key_b) == (_json(entry_a) == _json(entry_b))
    assert _holder_entry(*a)[1] == key_a  # the same holder answering alike: the same key


@given(st.lists(OBLIGATIONS, max_size=3))
@settings(max_examples=300, deadline=None)
def test_the_remembered_union_is_the_union_worked_out_afresh(items: list[Obligations]) -> None:
    kept = tuple(o for o in items if not o.is_empty())
    united = obligations_union(*items)
    again = obligations_union(*items)
    fresh = _union(kept) if kept else Obligations()
    for got in (united, again):
        assert got == fresh
        assert json.dumps([got.ai_disclosure, got.max_similarity]) == json.dumps(
            [fresh.ai_disclosure, fresh.max_similarity]
        )


def test_territories_whose_holders_answer_alike_share_a_group_and_others_do_not() -> None:
    # One label, a rule for FR only: worldwide, FR answers by the rule and "*" by the default.
    label = Holder("p1", "Northwind", "label", "opt_out")
    share = Share("p1", "master", Decimal("100"), "worldwide", frozenset(), None, None)
    work = WorkFacts("w1", "Song", (share,), ())
    fr = RuleContent(
        rule_id="r1", version=1, owner_id="p1", scope="all_works", uses=frozenset({"train"}),
        effect="allow", territory_mode="include", territories=frozenset({"FR"}),
    )  # fmt: skip
    de = RuleContent(
        rule_id="r2", version=1, owner_id="p1", scope="all_works", uses=frozenset({"train"}),
        effect="allow", territory_mode="include", territories=frozenset({"DE"}),
    )  # fmt: skip
    matrix = {"train": ("master",)}
    question = Question("train", "L1", (), AT, True)
    both = evaluate_item(question, [work], Facts(1, matrix, {"p1": label}, (fr, de)))
    rights = both.trace["works"][0]["rights"]
    assert [g["territories"] for g in rights] == [["DE"], ["FR"], ["*"]]
    # the same rule version answering in both territories: one group for the two
    same = RuleContent(
        rule_id="r1", version=1, owner_id="p1", scope="all_works", uses=frozenset({"train"}),
        effect="allow", territory_mode="include", territories=frozenset({"DE", "FR"}),
    )  # fmt: skip
    one = evaluate_item(question, [work], Facts(1, matrix, {"p1": label}, (same,)))
    assert [g["territories"] for g in one.trace["works"][0]["rights"]] == [["DE", "FR"], ["*"]]


PARTIES = ("p1", "p2", "p3")
WINDOW = st.sampled_from([None, AT - dt.timedelta(days=3), AT + dt.timedelta(days=2)])
ITEM_RULES = st.builds(
    RuleContent,
    rule_id=st.sampled_from(["r1", "r2", "r3", "r4"]),
    version=st.sampled_from([1, 2]),
    owner_id=st.sampled_from(PARTIES),
    scope=st.sampled_from(["all_works", "works", "likeness"]),
    uses=st.sampled_from([frozenset({"train"}), frozenset({"voice", "train"})]),
    effect=st.sampled_from(["allow", "conditional", "deny", "review"]),
    scope_works=st.just(frozenset({"w1"})),
    territory_mode=st.sampled_from(["worldwide", "include", "exclude"]),
    territories=st.sampled_from([frozenset(), frozenset({"FR"}), frozenset({"DE", "FR"})]),
    window_start=WINDOW,
    window_end=st.sampled_from([None, AT + dt.timedelta(days=5)]),
    obligations=st.sampled_from([Obligations(), Obligations(attribution="Credit A")]),
)
ITEM_SHARES = st.builds(
    Share,
    holder_id=st.sampled_from(PARTIES),
    right=st.sampled_from(["master", "likeness", "publishing"]),
    share=st.just(Decimal("50")),
    territory_mode=st.sampled_from(["worldwide", "include"]),
    territories=st.sampled_from([frozenset({"FR"}), frozenset({"US"})]),
    valid_from=st.sampled_from([None, (AT + dt.timedelta(days=1)).date()]),
    valid_until=st.sampled_from([None, (AT + dt.timedelta(days=4)).date()]),
)


@given(
    st.lists(ITEM_RULES, max_size=5, unique_by=lambda r: r.rule_id),
    st.lists(st.lists(ITEM_SHARES, max_size=4), min_size=0, max_size=2),
    st.sampled_from(["train", "voice"]),
    st.sampled_from([(), ("FR",), ("DE", "US")]),
    st.sampled_from([None, AT + dt.timedelta(days=7), OPEN_END]),
    st.sampled_from(["opt_in", "opt_out"]),
)
@settings(max_examples=300, deadline=None)
def test_deciding_an_item_without_its_trace_gives_its_outcome_and_cited_rule_versions(
    rules: list[RuleContent],
    shares: list[list[Share]],
    use: str,
    territories: tuple[str, ...],
    until: dt.datetime | None,
    posture: str,
) -> None:
    holders = {
        p: Holder(p, p.upper(), "artist" if p == "p3" else "label", posture) for p in PARTIES
    }
    works = [
        WorkFacts(f"w{n + 1}", f"Song {n}", tuple(s), ("p3",) if n else ())
        for n, s in enumerate(shares)
    ]
    matrix = {"train": ("master", "publishing"), "voice": ("likeness",)}
    facts = Facts(1, matrix, holders, tuple(rules))
    question = Question(use, "L1", territories, AT, True, until)
    full = evaluate_item(question, works, facts)
    expected = (full.outcome, rule_versions_cited(full.trace))
    assert decide_item(question, works, facts) == expected
    by_owner = {p: sorted((r for r in rules if r.owner_id == p), key=lambda r: r.rule_id)
                for p in PARTIES}  # fmt: skip
    assert decide_item(question, works, facts, by_owner=by_owner) == expected
