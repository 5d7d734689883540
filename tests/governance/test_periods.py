"""Whole periods of use (issue 13, "Wrong answers" item 2): a rule answers only for the part of
the requested period its window covers, a share counts only for the part it is valid, and the
part nothing covers is denied (or left to the holder's default) with its interval named.
Pure: no database."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from governance.evaluation import (
    OPEN_END,
    STRICTNESS,
    Facts,
    Holder,
    Question,
    WorkFacts,
    evaluate_item,
    evaluate_work,
)
from governance.evaluation.periods import parts, question_period
from governance.explanation import explain
from governance.terms import DEFAULT_MATRIX, Obligations
from tests.governance.evaluation_support import (
    ARTIST,
    AT,
    HOLDERS,
    LABEL,
    OTHER_LABEL,
    PUB,
    allow_all,
    ask,
    facts,
    holder_entry,
    rule,
    share,
    work,
)
from tests.governance.test_evaluation_properties import (
    facts_st,
    questions_st,
    rules_st,
    works_st,
)

JUNE_2027 = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
JANUARY_2028 = dt.datetime(2028, 1, 1, tzinfo=dt.UTC)
JUNE_2029 = dt.datetime(2029, 6, 1, tzinfo=dt.UTC)


def period(
    start: dt.datetime = JUNE_2027, until: dt.datetime = JUNE_2029, **fields: Any
) -> Question:
    return ask(at=start, until=until, **fields)


def until_2028(owner: str = ARTIST, effect: str = "allow", **fields: Any) -> Any:
    return rule(owner, effect, window_end=JANUARY_2028, **fields)


# --- the issue's example -----------------------------------------------------------------


def test_a_rule_whose_window_ends_inside_the_period_does_not_allow_the_rest_of_it() -> None:
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), until_2028(rule_id="r-ada", version=3))
    d = evaluate_work(period(), work(), f)
    assert (d.outcome, d.code) == ("deny", "consent.period_not_covered")
    assert d.reason == (
        "No consent on record from Ada Vale for the part of the period "
        "from 2028-01-01T00:00:00Z to 2029-06-01T00:00:00Z"
    )
    assert d.trace["uncovered"] == [
        {"start": "2028-01-01T00:00:00Z", "end": "2029-06-01T00:00:00Z"}
    ]
    assert [(p["start"], p["end"], p["outcome"], p["code"]) for p in d.trace["periods"]] == [
        ("2027-06-01T00:00:00Z", "2028-01-01T00:00:00Z", "allow", "consent.allowed"),
        ("2028-01-01T00:00:00Z", "2029-06-01T00:00:00Z", "deny", "consent.opt_in_default"),
    ]


def test_the_same_rule_still_allows_the_instant_and_the_part_it_covers() -> None:
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), until_2028())
    assert evaluate_work(ask(at=JUNE_2027), work(), f).outcome == "allow"
    assert evaluate_work(period(until=JANUARY_2028), work(), f).outcome == "allow"


def test_the_trace_says_which_part_each_holders_answer_holds_for() -> None:
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), until_2028(rule_id="r-ada"))
    d = evaluate_item(period(), [work()], f)
    assert d.trace["period"] == {"start": "2027-06-01T00:00:00Z", "end": "2029-06-01T00:00:00Z"}
    assert d.trace["at"] == "2027-06-01T00:00:00Z"
    performer = [
        (r["period"], r["holders"][0]["code"], r["holders"][0]["rule"])
        for r in d.trace["works"][0]["rights"]
        if r["right"] == "performer"
    ]
    assert performer == [
        (
            {"start": "2027-06-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"},
            "consent.allowed",
            {"id": "r-ada", "version": 1},
        ),
        (
            {"start": "2028-01-01T00:00:00Z", "end": "2029-06-01T00:00:00Z"},
            "consent.opt_in_default",
            None,
        ),
    ]
    # The label allowed the whole period under one rule: one entry, for the whole of it.
    master = [r["period"] for r in d.trace["works"][0]["rights"] if r["right"] == "master"]
    assert master == [d.trace["period"]]


# --- rules' windows ------------------------------------------------------------------------


def test_a_period_inside_every_window_is_answered_as_its_start_was() -> None:
    f = allow_all(rule(ARTIST, "conditional", obligations=Obligations(ai_disclosure=True)))
    assert f.rules[2].window_end is None
    whole = evaluate_work(period(), work(), f)
    assert (whole.outcome, whole.code, whole.reason) == (
        "conditional",
        "consent.conditional",
        "Every rights holder allowed it, with obligations",
    )
    assert "periods" not in whole.trace
    assert "uncovered" not in whole.trace


def test_a_rule_that_starts_inside_the_period_leaves_its_beginning_uncovered() -> None:
    late = rule(ARTIST, "allow", window_start=JANUARY_2028)
    d = evaluate_work(period(), work(), facts(rule(LABEL, "allow"), rule(PUB, "allow"), late))
    assert (d.outcome, d.code) == ("deny", "consent.period_not_covered")
    assert d.reason.endswith("from 2027-06-01T00:00:00Z to 2028-01-01T00:00:00Z")
    assert d.trace["uncovered"] == [
        {"start": "2027-06-01T00:00:00Z", "end": "2028-01-01T00:00:00Z"}
    ]


def test_two_windows_that_meet_cover_the_period_together() -> None:
    first = until_2028(rule_id="r-a")
    second = rule(ARTIST, "allow", window_start=JANUARY_2028, rule_id="r-b")
    d = evaluate_work(
        period(), work(), facts(rule(LABEL, "allow"), rule(PUB, "allow"), first, second)
    )
    assert (d.outcome, d.code, d.reason) == (
        "allow",
        "consent.allowed",
        "Every rights holder allowed it",
    )
    assert d.trace["uncovered"] == []
    assert [p["code"] for p in d.trace["periods"]] == ["consent.allowed", "consent.allowed"]


def test_an_opt_out_holder_allows_the_part_its_rule_does_not_cover() -> None:
    holders = HOLDERS | {ARTIST: Holder(ARTIST, "Ada Vale", "artist", "opt_out")}
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), until_2028(), holders=holders)
    d = evaluate_work(period(), work(), f)
    assert d.outcome == "allow"
    assert [p["code"] for p in d.trace["periods"]] == ["consent.allowed", "consent.allowed"]
    assert holder_entry(d.trace, "performer", ARTIST)["rule"] is not None  # the first part's


def test_a_deny_rule_for_part_of_the_period_denies_by_rule_naming_that_part() -> None:
    d = evaluate_work(period(), work(), allow_all(rule(ARTIST, "deny", window_start=JANUARY_2028)))
    assert (d.outcome, d.code) == ("deny", "consent.denied_by_rule")
    assert d.reason.endswith(
        "for the part of the period from 2028-01-01T00:00:00Z to 2029-06-01T00:00:00Z"
    )
    assert d.trace["uncovered"] == []  # a refusal on record is not a gap


def test_a_review_for_part_of_the_period_waits_and_conditions_of_parts_unite() -> None:
    reviewed = rule(PUB, "review", window_start=JANUARY_2028)
    d = evaluate_work(period(), work(), allow_all(reviewed))
    assert (d.outcome, d.code) == ("review", "consent.review")
    credit = rule(
        ARTIST,
        "conditional",
        window_end=JANUARY_2028,
        obligations=Obligations(attribution="Ada Vale"),
    )
    label = rule(
        ARTIST,
        "conditional",
        window_start=JANUARY_2028,
        obligations=Obligations(ai_disclosure=True),
    )
    d = evaluate_work(
        period(), work(), facts(rule(LABEL, "allow"), rule(PUB, "allow"), credit, label)
    )
    assert (d.outcome, d.obligations) == (
        "conditional",
        Obligations(attribution="Ada Vale", ai_disclosure=True),
    )
    # A review in one part keeps the conditions of another: an approval settles with them.
    d = evaluate_work(period(), work(), allow_all(reviewed, credit))
    assert (d.outcome, d.obligations) == ("review", Obligations(attribution="Ada Vale"))


def test_a_period_with_no_end_is_not_covered_by_a_window_that_ends() -> None:
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), until_2028())
    d = evaluate_work(period(until=OPEN_END), work(), f)
    assert (d.outcome, d.code) == ("deny", "consent.period_not_covered")
    assert d.reason.endswith("for the part of the period from 2028-01-01T00:00:00Z on")
    assert d.trace["uncovered"] == [{"start": "2028-01-01T00:00:00Z", "end": None}]
    item = evaluate_item(period(until=OPEN_END), [work()], f)
    assert item.trace["period"] == {"start": "2027-06-01T00:00:00Z", "end": None}


def test_a_worldwide_period_names_both_the_territory_and_the_part() -> None:
    fr_until_2028 = until_2028(territory_mode="include", territories=frozenset({"FR"}))
    everywhere = rule(ARTIST, "allow", territory_mode="exclude", territories=frozenset({"FR"}))
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), fr_until_2028, everywhere)
    d = evaluate_work(period(territories=()), work(), f)
    assert (d.outcome, d.code, d.trace["territory"]) == ("deny", "consent.period_not_covered", "FR")
    assert d.reason == (
        "No consent on record from Ada Vale in FR for the part of the period "
        "from 2028-01-01T00:00:00Z to 2029-06-01T00:00:00Z"
    )


# --- shares' validity ----------------------------------------------------------------------


def test_a_share_valid_for_part_of_the_period_leaves_the_right_unknown_for_the_rest() -> None:
    w = work(
        share(LABEL, "master", valid_until=JANUARY_2028.date()),
        share(PUB, "publishing"),
        share(ARTIST, "performer"),
    )
    d = evaluate_work(period(), w, allow_all())
    assert (d.outcome, d.code) == ("deny", "consent.period_not_covered")
    assert d.reason == (
        "Nobody is registered as holding the master right in FR for the part of the period "
        "from 2028-01-01T00:00:00Z to 2029-06-01T00:00:00Z"
    )
    assert d.trace["uncovered"] == [
        {"start": "2028-01-01T00:00:00Z", "end": "2029-06-01T00:00:00Z"}
    ]


def test_the_holder_of_a_share_for_the_later_part_must_consent_too() -> None:
    w = work(
        share(LABEL, "master", valid_until=JANUARY_2028.date()),
        share(OTHER_LABEL, "master", valid_from=JANUARY_2028.date()),
        share(PUB, "publishing"),
        share(ARTIST, "performer"),
    )
    d = evaluate_work(period(), w, allow_all())
    assert (d.outcome, d.code) == ("deny", "consent.period_not_covered")
    assert d.reason.startswith("No consent on record from Southwind Records for the part")
    d = evaluate_work(period(), w, allow_all(rule(OTHER_LABEL, "allow")))
    assert d.outcome == "allow"


# --- the question's period -----------------------------------------------------------------

ASKED = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (JUNE_2027, JUNE_2029, (JUNE_2027, JUNE_2029)),
        (JUNE_2027, None, (JUNE_2027, OPEN_END)),
        (None, JUNE_2029, (ASKED, JUNE_2029)),
        (None, None, (ASKED, None)),
    ],
)
def test_a_requests_period_becomes_the_questions(
    start: dt.datetime | None, end: dt.datetime | None, expected: tuple[dt.datetime, Any]
) -> None:
    assert question_period(start=start, end=end, asked=ASKED) == expected


@pytest.mark.parametrize(
    ("start", "end"), [(JUNE_2029, JUNE_2027), (JUNE_2027, JUNE_2027), (None, ASKED)]
)
def test_a_period_that_ends_before_it_starts_is_refused(
    start: dt.datetime | None, end: dt.datetime
) -> None:
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        question_period(start=start, end=end, asked=ASKED)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        (period(until=JUNE_2027), "question.until must be after question.at"),
        (period(until=JUNE_2029.replace(tzinfo=None)), "question.until must be timezone-aware"),
    ],
)
def test_a_malformed_period_is_a_caller_error(question: Question, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        evaluate_work(question, work(), allow_all())


def test_a_period_is_cut_only_where_something_begins_or_ends_inside_it() -> None:
    cut = parts(JUNE_2027, JUNE_2029, [JUNE_2027, JANUARY_2028, JANUARY_2028, JUNE_2029, ASKED])
    assert cut == [(JUNE_2027, JANUARY_2028), (JANUARY_2028, JUNE_2029)]


# --- properties ----------------------------------------------------------------------------

PROPERTY = settings(max_examples=80, deadline=None)
# The strategies' windows and share days fall on AT - 30 days, AT, AT + 30 days (and the UTC
# midnights of those days): a period from AT shorter than 29 days contains none of them.
UNCUT = st.integers(1, 29 * 24 - 1).map(lambda hours: AT + dt.timedelta(hours=hours))
ANY_END = st.one_of(
    st.integers(1, 80 * 24).map(lambda hours: AT + dt.timedelta(hours=hours)), st.just(OPEN_END)
)
periods_st = st.builds(lambda q, until: replace(q, until=until), questions_st, ANY_END)


@PROPERTY
@given(question=questions_st, w=works_st, f=facts_st, until=UNCUT)
def test_a_period_inside_every_window_gives_the_answer_its_start_instant_gave(
    question: Question, w: WorkFacts, f: Facts, until: dt.datetime
) -> None:
    instant = evaluate_work(question, w, f)
    whole = evaluate_work(replace(question, until=until), w, f)
    assert (whole.outcome, whole.code, whole.reason, whole.obligations) == (
        instant.outcome,
        instant.code,
        instant.reason,
        instant.obligations,
    )
    assert whole.trace == instant.trace


@PROPERTY
@given(question=periods_st, w=works_st, f=facts_st, offset=st.integers(0, 80 * 24 * 60))
def test_a_period_is_never_more_permissive_than_any_instant_inside_it(
    question: Question, w: WorkFacts, f: Facts, offset: int
) -> None:
    instant = question.at + dt.timedelta(minutes=offset)
    assert question.until is not None
    assume(instant < question.until)
    whole = evaluate_work(question, w, f).outcome
    at_instant = evaluate_work(replace(question, at=instant, until=None), w, f).outcome
    assert STRICTNESS[whole] >= STRICTNESS[at_instant]


@PROPERTY
@given(question=periods_st, w=works_st, f=facts_st)
def test_a_period_is_allowed_only_if_every_part_of_it_is(
    question: Question, w: WorkFacts, f: Facts
) -> None:
    whole = evaluate_work(question, w, f)
    if "periods" not in whole.trace:
        return
    outcomes = [p["outcome"] for p in whole.trace["periods"]]
    assert STRICTNESS[whole.outcome] == max(STRICTNESS[o] for o in outcomes)
    gaps = ("consent.opt_in_default", "rights.unknown")
    uncovered = [
        {"start": p["start"], "end": p["end"]}
        for p in whole.trace["periods"]
        if p["outcome"] == "deny" and p["code"] in gaps
    ]
    assert whole.trace["uncovered"] == uncovered


@PROPERTY
@given(question=periods_st, w=works_st, f=facts_st, denial=rules_st(effects=("deny",)))
def test_adding_a_deny_rule_never_makes_a_periods_outcome_less_strict(
    question: Question, w: WorkFacts, f: Facts, denial: Any
) -> None:
    before = evaluate_work(question, w, f).outcome
    after = evaluate_work(
        question, w, replace(f, rules=(*f.rules, replace(denial, rule_id="r-deny")))
    ).outcome
    assert STRICTNESS[after] >= STRICTNESS[before]


@PROPERTY
@given(question=periods_st, w=works_st)
def test_with_no_rules_and_everyone_opt_in_every_period_is_refused(
    question: Question, w: WorkFacts
) -> None:
    d = evaluate_work(question, w, Facts(1, DEFAULT_MATRIX, HOLDERS, ()))
    assert d.outcome == "deny"
    assert d.code in ("consent.opt_in_default", "rights.unknown", "consent.period_not_covered")


@PROPERTY
@given(question=periods_st, w=works_st, f=facts_st, data=st.data())
def test_a_periods_trace_is_deterministic_json_whatever_the_order_of_the_facts(
    question: Question, w: WorkFacts, f: Facts, data: st.DataObject
) -> None:
    shuffled_work = replace(w, shares=tuple(data.draw(st.permutations(w.shares))))
    shuffled_facts = replace(f, rules=tuple(data.draw(st.permutations(f.rules))))
    trace = evaluate_item(question, [w], f).trace
    assert json.loads(json.dumps(trace, allow_nan=False)) == trace
    assert evaluate_item(question, [shuffled_work], shuffled_facts).trace == trace


# --- in plain language ---------------------------------------------------------------------


def issue_example() -> dict[str, Any]:
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), until_2028(rule_id="r-ada"))
    return evaluate_item(period(), [work()], f).trace


def test_the_explanation_names_the_part_of_the_period_nothing_covers_in_english() -> None:
    sentences = explain(issue_example(), language="en")[0]["sentences"]
    assert (
        "From 2027-06-01 to 2028-01-01, Ada Vale (performer, 100%) allowed it under rule r-ada "
        "version 1." in sentences
    )
    assert (
        "Nothing on record covers the part of the period you asked about from 2028-01-01 to "
        "2029-06-01, so the answer is no." in sentences
    )
    # The label's and the publisher's answers hold for the whole period: said without one.
    assert [s for s in sentences if s.startswith("From")] == [
        "From 2027-06-01 to 2028-01-01, Ada Vale (performer, 100%) allowed it under rule r-ada "
        "version 1.",
        "From 2028-01-01 to 2029-06-01, Ada Vale (performer, 100%) has not consented, and their "
        "default is opt-in, so the answer is no.",
    ]
    assert sentences[-1] == "You may not proceed with this work."


def test_the_explanation_names_the_part_of_the_period_nothing_covers_in_french() -> None:
    sentences = explain(issue_example(), language="fr")[0]["sentences"]
    assert (
        "Du 2027-06-01 au 2028-01-01, Ada Vale (interprète, 100\u00a0%) l\u2019a autorisé "
        "selon la règle r-ada version 1." in sentences
    )
    assert (
        "Aucun consentement ni titulaire enregistré ne couvre la partie de la période demandée "
        "du 2028-01-01 au 2029-06-01\u00a0: la réponse est non." in sentences
    )


def test_a_part_that_starts_within_a_day_is_said_with_its_time_and_an_open_end_as_on() -> None:
    noon = dt.datetime(2028, 1, 1, 12, 30, tzinfo=dt.UTC)
    f = facts(rule(LABEL, "allow"), rule(PUB, "allow"), rule(ARTIST, "allow", window_end=noon))
    trace = evaluate_item(period(until=OPEN_END), [work()], f).trace
    assert (
        "Nothing on record covers the part of the period you asked about from 2028-01-01 12:30 "
        "UTC on, so the answer is no." in explain(trace, language="en")[0]["sentences"]
    )
    assert (
        "Aucun consentement ni titulaire enregistré ne couvre la partie de la période demandée "
        "à partir du 2028-01-01 à 12:30 UTC\u00a0: la réponse est non."
        in explain(trace, language="fr")[0]["sentences"]
    )
