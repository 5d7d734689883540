"""A fingerprint match in a decision: the evaluator carries its detail into the trace, the
explanation words it (English and French), an output that is mostly a recording exceeds a
similarity limit, replay rebuilds the match as recorded, and an item whose audio could not be
read is explained by its reason. Pure: no database, no audio."""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.
# ruff: noqa: RUF001

from __future__ import annotations

from governance.evaluation import Match, evaluate_item
from governance.explanation import explain, summary
from governance.replaying.state import ReplayState
from governance.terms import Obligations
from tests.governance.evaluation_support import LABEL, ask, facts, rule, share, work

NB = "\u00a0"
DETAIL = (
    ("model", "consentry-landmark"),
    ("model_version", "1"),
    ("coverage", 27),
    ("query_blocks", 30),
    ("min_coverage", 8),
    ("block_seconds", 1.0),
    ("hits", 412),
    ("offset_seconds", 41.2),
    ("query_start_seconds", 0.0),
    ("query_end_seconds", 29.9),
)
MATCH = Match("fingerprint", 0.9, 0.266667, DETAIL)


def test_the_trace_keeps_the_matchs_detail_after_its_space_score_and_threshold() -> None:
    trace = evaluate_item(ask("analyze"), [work(matches=(MATCH,))], facts()).trace
    (recorded,) = trace["works"][0]["matches"]
    assert list(recorded)[:3] == ["space", "score", "threshold"]
    assert recorded == {"space": "fingerprint", "score": 0.9, "threshold": 0.266667, **dict(DETAIL)}


def test_a_vector_match_keeps_its_three_keys() -> None:
    voice = work(matches=(Match("voice", 0.93, 0.85),))
    trace = evaluate_item(ask("analyze"), [voice], facts()).trace
    assert trace["works"][0]["matches"] == [{"space": "voice", "score": 0.93, "threshold": 0.85}]


def test_the_explanation_says_how_many_seconds_agree_and_where() -> None:
    trace = evaluate_item(ask("analyze"), [work(matches=(MATCH,))], facts()).trace
    en = explain(trace)[0]["sentences"][0]
    fr = explain(trace, language="fr")[0]["sentences"][0]
    assert en == (
        "Your audio matches “Northern Lights” (fingerprint, consentry-landmark version 1: 27 of "
        "30 seconds agree, threshold 8); from 0:00 to 0:29 of your audio, it is the recording "
        "from 0:41."
    )
    assert fr == (
        f"Votre audio correspond à «{NB}Northern Lights{NB}» (empreinte, consentry-landmark "
        f"version 1{NB}: 27 secondes sur 30 concordent, seuil 8){NB}; de 0:00 à 0:29 de votre "
        "audio, c’est l’enregistrement à partir de 0:41."
    )


def test_an_output_that_is_mostly_the_recording_exceeds_a_similarity_limit() -> None:
    limited = rule(LABEL, "conditional", {"output"}, obligations=Obligations(max_similarity=0.8))
    label_only = (share(LABEL, "master"), share(LABEL, "publishing"))
    decided = evaluate_item(ask("output"), [work(*label_only, matches=(MATCH,))], facts(limited))
    assert (decided.outcome, decided.code) == ("deny", "consent.similarity_exceeded")
    part = Match("fingerprint", 0.3, 0.266667, DETAIL)  # 9 of 30 seconds are the recording
    decided = evaluate_item(ask("output"), [work(*label_only, matches=(part,))], facts(limited))
    assert decided.outcome == "conditional"


def test_replay_rebuilds_the_match_as_the_ledger_recorded_it() -> None:
    trace = evaluate_item(ask("analyze"), [work(matches=(MATCH,))], facts()).trace
    ledgered = {
        "work": trace["works"][0]["work"],
        "identified_by": None,
        "matches": trace["works"][0]["matches"],
    }
    rebuilt = ReplayState().work_facts(ledgered)
    assert rebuilt.matches == (MATCH,)


def test_audio_that_could_not_be_read_is_explained_by_its_reason() -> None:
    trace = {
        "use": "analyze",
        "outcome": "error",
        "code": "content.too_short",
        "reason": "The audio lasts 2.0 s; a fingerprint needs at least 5 s.",
        "works": [],
    }
    assert summary(trace) == (
        "Your audio could not be decided: it is too short to fingerprint (The audio lasts 2.0 s;"
        " a fingerprint needs at least 5 s)."
    )
    assert summary(trace, language="fr") == (
        f"Votre audio n’a pas pu être décidé{NB}: il est trop court pour en calculer l’empreinte."
    )
