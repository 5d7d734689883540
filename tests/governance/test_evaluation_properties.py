"""The consent evaluator's Hypothesis properties: deny is monotone, likeness is the artist's
alone, opt-in denies by default, order does not matter, the trace is deterministic JSON."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from governance.evaluation import (
    STRICTNESS,
    Facts,
    Match,
    Question,
    Share,
    WorkFacts,
    evaluate_item,
    evaluate_work,
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
    share,
)

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
