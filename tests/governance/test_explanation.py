"""Plain-language explanations of decision traces, in English and French. The traces come
from the evaluator itself, so the renderer is tested against the format it really receives.
Pure functions: no database."""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.
# ruff: noqa: RUF001

from __future__ import annotations

import copy
from typing import Any

import pytest

from governance.evaluation import Match, Question, WorkFacts, evaluate_item, evaluate_work
from governance.explanation import SUPPORTED_LANGUAGES, explain, summary
from governance.terms import Obligations
from tests.governance.evaluation_support import (
    ARTIST,
    LABEL,
    PUB,
    WORK,
    allow_all,
    ask,
    facts,
    rule,
    share,
    work,
)

NB = "\u00a0"  # French puts a no-break space before : ; % and inside « »
RULE_ID = "3f2c1a9b-5d4e-4f00-8a00-000000000001"


def explained(
    question: Question, works: list[WorkFacts], *rules: Any, language: str = "en"
) -> list[str]:
    trace = evaluate_item(question, works, facts(*rules)).trace
    (entry,) = explain(trace, language=language)
    assert entry["work"] == (works[0].work_id if works else None)
    return list(entry["sentences"])


def test_an_allow_names_the_identifier_the_rights_needed_and_the_rule_version() -> None:
    w = work(identified_by="isrc:USRC17607839")
    allow = rule(LABEL, "allow", {"analyze"}, rule_id=RULE_ID, version=2)
    assert explained(ask("analyze"), [w], allow) == [
        "“Northern Lights” was named by its ISRC USRC17607839.",
        "Analysing it needs the consent of the holder of the master right.",
        "Northwind Records (master, 100%) allowed it under rule 3f2c1a9b… version 2.",
        "You may proceed.",
    ]
    assert explained(ask("analyze"), [w], allow, language="fr") == [
        f"Votre élément désigne «{NB}Northern Lights{NB}» par son ISRC USRC17607839.",
        "Son analyse requiert le consentement du titulaire du droit master.",
        f"Northwind Records (master, 100{NB}%) l’a autorisé selon la règle 3f2c1a9b… version 2.",
        "Vous pouvez continuer.",
    ]


ALL_OBLIGATIONS = Obligations(
    attribution="Ada Vale", compensation_ref="REF-1", ai_disclosure=True, max_similarity=0.8
)


def conditional_case() -> tuple[Question, list[WorkFacts], tuple[Any, ...]]:
    w = work(
        share(LABEL, "master"),
        share(ARTIST, "publishing", "50.5"),
        share(PUB, "publishing", "49.5"),
        matches=(Match("voice", 0.7, 0.65),),
    )
    rules = (
        rule(LABEL, "allow", {"output"}, rule_id="r-label"),
        rule(
            PUB,
            "conditional",
            {"output"},
            rule_id="r-pub",
            obligations=Obligations(attribution="Harbour Songs"),
        ),
        rule(ARTIST, "conditional", {"output"}, rule_id="r-ada", obligations=ALL_OBLIGATIONS),
    )
    return ask("output"), [w], rules


def test_a_conditional_lists_every_obligation() -> None:
    question, works, rules = conditional_case()
    assert explained(question, works, *rules) == [
        "“Northern Lights” matched your item in the voice space with similarity 0.70 "
        "(threshold 0.65).",
        "Releasing an output that resembles it needs the consent of the holders of the master "
        "and publishing rights.",
        "Northwind Records (master, 100%) allowed it under rule r-label version 1.",
        "Ada Vale (publishing, 50.5%) allowed it with conditions under rule r-ada version 1.",
        "Harbour Songs (publishing, 49.5%) allowed it with conditions under rule r-pub version 1.",
        "You may proceed if you: credit “Ada Vale” and “Harbour Songs”; label outputs as "
        "AI-generated; keep outputs below similarity 0.80 to this work; see compensation terms "
        "REF-1.",
    ]
    assert explained(question, works, *rules, language="fr") == [
        f"«{NB}Northern Lights{NB}» correspond à votre élément dans l’espace voice avec une "
        "similarité de 0,70 (seuil 0,65).",
        "La diffusion d’un résultat qui lui ressemble requiert le consentement des titulaires de "
        f"ces droits{NB}: master et édition.",
        f"Northwind Records (master, 100{NB}%) l’a autorisé selon la règle r-label version 1.",
        f"Ada Vale (édition, 50,5{NB}%) l’a autorisé sous conditions selon la règle r-ada "
        "version 1.",
        f"Harbour Songs (édition, 49,5{NB}%) l’a autorisé sous conditions selon la règle r-pub "
        "version 1.",
        f"Vous pouvez continuer si vous{NB}: créditez «{NB}Ada Vale{NB}» et «{NB}Harbour Songs{NB}»"
        f"{NB}; signalez les résultats comme générés par IA{NB}; restez sous une similarité de "
        f"0,80 avec cette œuvre{NB}; consultez les conditions de rémunération REF-1.",
    ]


def test_a_deny_by_rule_names_the_refusing_holder() -> None:
    rules = (rule(p, "allow", rule_id=f"r-{p}") for p in (LABEL, ARTIST))
    sentences = explained(ask(), [work()], *rules, rule(PUB, "deny", rule_id="r-no", version=4))
    assert sentences[0] == (
        "Training needs the consent of the holders of the master, publishing and performer rights."
    )
    assert sentences[2:] == [
        "Harbour Songs (publishing, 100%) refused it under rule r-no version 4.",
        "Ada Vale (performer, 100%) allowed it under rule r-p-artist version 1.",
        "You may not proceed with this work.",
    ]
    rules = (rule(p, "allow", rule_id=f"r-{p}") for p in (LABEL, ARTIST))
    fr = explained(
        ask(), [work()], *rules, rule(PUB, "deny", rule_id="r-no", version=4), language="fr"
    )
    assert fr[0] == (
        f"L’entraînement requiert le consentement des titulaires de ces droits{NB}: master, "
        "édition et interprète."
    )
    assert fr[2] == f"Harbour Songs (édition, 100{NB}%) l’a refusé selon la règle r-no version 4."
    assert fr[-1] == "Vous ne pouvez pas continuer avec cette œuvre."


def test_an_opt_in_default_says_there_is_no_consent_on_record() -> None:
    w = work(matches=(Match("voice", 0.93, 0.85),))
    assert explained(ask("voice"), [w]) == [
        "“Northern Lights” matched your item in the voice space with similarity 0.93 "
        "(threshold 0.85).",
        "Synthesizing or cloning the artist's voice needs the consent of the holder of the "
        "likeness right.",
        "Ada Vale (likeness, credited artist) has not consented, and their default is opt-in, so "
        "the answer is no.",
        "You may not proceed with this work.",
    ]
    assert explained(ask("voice"), [w], language="fr") == [
        f"«{NB}Northern Lights{NB}» correspond à votre élément dans l’espace voice avec une "
        "similarité de 0,93 (seuil 0,85).",
        "La synthèse ou le clonage de la voix de l’artiste requiert le consentement du titulaire "
        "du droit à l’image et à la voix.",
        "Ada Vale (image et voix, artiste au générique) n’a pas donné son consentement et sa "
        f"position par défaut est l’opt-in{NB}: la réponse est non.",
        "Vous ne pouvez pas continuer avec cette œuvre.",
    ]


def test_a_labels_default_is_its_own() -> None:
    sentences = explained(ask("analyze"), [work()])
    assert sentences[1] == (
        "Northwind Records (master, 100%) has not consented, and its default is opt-in, so the "
        "answer is no."
    )


def test_rights_unknown_and_answers_that_differ_by_territory_say_where() -> None:
    fr_only = share(LABEL, "master", territory_mode="include", territories=frozenset({"FR"}))
    w = work(fr_only, share(PUB, "publishing"), share(ARTIST, "performer"))
    trace = evaluate_item(ask(territories=()), [w], allow_all()).trace
    (en,) = explain(trace)
    assert en["outcome"] == "deny"
    assert en["sentences"][1].startswith("In FR, Northwind Records (master, 100%) allowed it")
    assert en["sentences"][2] == (
        "Outside FR, nobody is registered as holding the master right, so the answer is no."
    )
    assert en["sentences"][3].startswith("Harbour Songs (publishing, 100%)")  # everywhere alike
    (fr,) = explain(trace, language="fr")
    assert fr["sentences"][1].startswith("Dans le territoire FR, Northwind Records")
    assert fr["sentences"][2] == (
        f"Hors du territoire FR, personne n’est enregistré comme titulaire du droit master{NB}: "
        "la réponse est non."
    )


def test_a_right_nobody_holds_anywhere_is_said_plainly() -> None:
    sentences = explained(ask(), [work(share(LABEL, "master"), share(PUB, "publishing"))])
    assert "Nobody is registered as holding the performer right, so the answer is no." in sentences
    fr = explained(ask(), [work(share(LABEL, "master"), share(PUB, "publishing"))], language="fr")
    assert (
        f"Personne n’est enregistré comme titulaire du droit d’artiste-interprète{NB}: la réponse "
        "est non."
    ) in fr


def test_a_review_says_the_answer_waits() -> None:
    rules = (rule(LABEL, "allow", {"stems"}), rule(ARTIST, "review", {"stems"}, rule_id="r-rev"))
    assert explained(ask("stems"), [work()], *rules)[-2:] == [
        "Ada Vale (performer, 100%) reviews such requests in person under rule r-rev version 1, "
        "so the answer waits for their decision.",
        "The answer waits for a rights holder's review.",
    ]
    assert explained(ask("stems"), [work()], *rules, language="fr")[-2:] == [
        f"Ada Vale (interprète, 100{NB}%) examine ces demandes en personne selon la règle r-rev "
        f"version 1{NB}: la réponse attend sa décision.",
        "La réponse attend l’examen d’un titulaire de droits.",
    ]


def test_a_similarity_above_the_limit_is_explained() -> None:
    limited = Obligations(max_similarity=0.8)
    w = work(
        share(LABEL, "master"), share(ARTIST, "publishing"), matches=(Match("voice", 0.93, 0.85),)
    )
    rules = (
        rule(LABEL, "allow", {"output"}),
        rule(ARTIST, "conditional", {"output"}, rule_id="r-lim", obligations=limited),
    )
    assert explained(ask("output"), [w], *rules)[-2:] == [
        "Ada Vale (publishing, 100%) allows it only below similarity 0.80 under rule r-lim version "
        "1, but your item reached 0.93 in the voice space, so the answer is no.",
        "You may not proceed with this work.",
    ]
    assert explained(ask("output"), [w], *rules, language="fr")[-2] == (
        f"Ada Vale (édition, 100{NB}%) ne l’autorise que sous une similarité de 0,80 selon la "
        "règle r-lim version 1, mais votre élément atteint 0,93 dans l’espace voice"
        f"{NB}: la réponse est non."
    )


def test_an_item_that_matched_nothing_gets_one_entry_that_is_not_a_licence() -> None:
    trace = evaluate_item(ask(), [], facts()).trace
    assert explain(trace) == [
        {
            "work": None,
            "title": None,
            "outcome": "no_match",
            "sentences": [
                "Consentry has no registered work matching this item; this is not a licence."
            ],
        }
    ]
    assert explain(trace, language="fr")[0]["sentences"] == [
        f"Consentry n’a aucune œuvre enregistrée qui corresponde à cet élément{NB}; ceci "
        "n’est pas une licence."
    ]
    assert summary(trace) == (
        "Consentry has no registered work matching this item; this is not a licence."
    )
    assert "licence" in summary(trace, language="fr")


def test_an_item_that_could_not_be_resolved_says_why() -> None:
    trace = {
        "use": "train",
        "outcome": "error",
        "code": "item.unresolved",
        "reason": "ISRC USRC17607839 is not registered",
        "works": [],
    }
    assert explain(trace)[0]["sentences"] == [
        "Your item could not be decided: ISRC USRC17607839 is not registered."
    ]


def test_names_fall_back_to_party_names_then_to_the_id() -> None:
    trace = copy.deepcopy(evaluate_item(ask("analyze"), [work()], facts()).trace)
    trace["works"][0]["rights"][0]["holders"][0]["name"] = ""
    assert explain(trace)[0]["sentences"][1].startswith(f"{LABEL} (master, 100%)")
    named = explain(trace, party_names={LABEL: "Northwind"})
    assert named[0]["sentences"][1].startswith("Northwind (master, 100%)")


def test_one_works_trace_renders_without_the_question() -> None:
    trace = evaluate_work(ask("analyze"), work(), facts(rule(LABEL, "allow", {"analyze"}))).trace
    (entry,) = explain(trace)
    assert (entry["work"], entry["title"], entry["outcome"]) == (WORK, "Northern Lights", "allow")
    assert entry["sentences"][-1] == "You may proceed."


def test_an_unknown_language_is_refused_with_the_supported_ones() -> None:
    assert SUPPORTED_LANGUAGES == ("en", "fr")
    with pytest.raises(ValueError, match="unsupported language 'de'; supported: en, fr"):
        explain({"works": []}, language="de")


# --- summaries, defaults, settled reviews, notes (issue 13, item 5) -------------------------

OPT_OUT = {**{p: h for p, h in facts().holders.items()}}
OPT_OUT[LABEL] = OPT_OUT[LABEL].__class__(LABEL, "Northwind Records", "label", "opt_out")


def test_an_opt_out_default_says_the_default_decided_not_that_a_holder_allowed_it() -> None:
    trace = evaluate_item(ask("analyze"), [work()], facts(holders=OPT_OUT)).trace
    assert trace["outcome"] == "allow"
    assert summary(trace) == (
        "No rights holder set a rule; Northwind Records's default posture decided it "
        "(opt-out: allowed unless they refuse)."
    )
    assert summary(trace, language="fr") == (
        f"Aucun titulaire de droits n’a fixé de règle{NB}; la position par défaut de Northwind "
        f"Records en a décidé (opt-out{NB}: autorisé sauf refus)."
    )
    assert "allowed it" not in summary(trace)


def test_a_summary_with_a_rule_and_a_default_names_the_default() -> None:
    opt_out = dict(OPT_OUT)
    opt_out[PUB] = opt_out[PUB].__class__(PUB, "Harbour Songs", "publisher", "opt_out")
    rules = facts(rule(LABEL, "allow", {"reference"}), holders=opt_out)
    trace = evaluate_item(ask("reference"), [work()], rules).trace
    assert summary(trace) == "Every rights holder allowed it, Harbour Songs by default (opt-out)."
    allowed = evaluate_item(ask("analyze"), [work()], facts(rule(LABEL, "allow", {"analyze"})))
    assert summary(allowed.trace) == "Every rights holder allowed it."
    assert summary(allowed.trace, language="fr") == "Chaque titulaire de droits l’a autorisé."


def test_the_french_summary_of_a_deny_is_french() -> None:
    trace = evaluate_item(ask("analyze"), [work()], facts()).trace
    assert summary(trace) == (
        "Northwind Records (master, 100%) has not consented, and its default is opt-in, so the "
        "answer is no."
    )
    assert summary(trace, language="fr") == (
        f"Northwind Records (master, 100{NB}%) n’a pas donné son consentement et sa position "
        f"par défaut est l’opt-in{NB}: la réponse est non."
    )


def settled(status: str, reason: str) -> dict[str, Any]:
    return {
        "by": ARTIST,
        "by_name": "Ada Vale",
        "at": "2026-03-02T09:00:00.000Z",
        "outcome": "deny" if status == "denied" else "allow",
        "code": "review.denied" if status == "denied" else "review.approved",
        "reason": f"Ada Vale {status} it on review: {reason}",
        "reviews": [
            {
                "party": ARTIST,
                "name": "Ada Vale",
                "status": status,
                "reason": reason,
                "decided_at": "2026-03-02T09:00:00.000Z",
            }
        ],
    }


def test_a_settled_review_reads_as_settled_with_the_reviewers_reason() -> None:
    rules = (rule(LABEL, "allow", {"stems"}), rule(ARTIST, "review", {"stems"}, rule_id="r-rev"))
    trace = evaluate_item(ask("stems"), [work()], facts(*rules)).trace
    denial = settled("denied", "Not for stems.")
    (en,) = explain(trace, settlement=denial)
    assert en["outcome"] == "deny"
    assert en["sentences"][-3:] == [
        "Ada Vale (performer, 100%) reviews such requests in person under rule r-rev version 1.",
        "Ada Vale denied it on review: “Not for stems.”.",
        "You may not proceed with this work.",
    ]
    assert not any("waits" in s for s in en["sentences"])
    assert summary(trace, settlement=denial) == "Ada Vale denied it on review: “Not for stems.”."
    (fr,) = explain(trace, language="fr", settlement=denial)
    assert fr["sentences"][-2:] == [
        f"Ada Vale l’a refusé après examen{NB}: «{NB}Not for stems.{NB}».",
        "Vous ne pouvez pas continuer avec cette œuvre.",
    ]
    approval = settled("approved", "Fine for this model.")
    (ok,) = explain(trace, settlement=approval)
    assert ok["outcome"] == "allow"
    assert ok["sentences"][-1] == "You may proceed."
    assert summary(trace, language="fr", settlement=approval) == (
        f"Ada Vale l’a autorisé après examen{NB}: «{NB}Fine for this model.{NB}»."
    )


def test_a_rules_note_for_licensees_is_said_when_the_caller_passes_it() -> None:
    allow = rule(LABEL, "allow", {"analyze"}, rule_id=RULE_ID, version=2)
    trace = evaluate_item(ask("analyze"), [work()], facts(allow)).trace
    notes = {(RULE_ID, 2): "Write to licensing@northwind.example for stems."}
    sentences = explain(trace, notes=notes)[0]["sentences"]
    assert sentences[-2] == (
        "Note for licensees from Northwind Records: "
        "“Write to licensing@northwind.example for stems.”"
    )
    fr = explain(trace, language="fr", notes=notes)[0]["sentences"]
    assert fr[-2] == (
        f"Note de Northwind Records aux licenciés{NB}: "
        f"«{NB}Write to licensing@northwind.example for stems.{NB}»"
    )
    assert not any("Note" in s for s in explain(trace)[0]["sentences"])


def test_an_unresolved_item_is_explained_wholly_in_french() -> None:
    trace = {
        "use": "train",
        "outcome": "error",
        "code": "item.unresolved",
        "reason": "ISRC USRC17607839 is not registered",
        "works": [],
    }
    assert explain(trace, language="fr")[0]["sentences"] == [
        f"Votre élément n’a pas pu être décidé{NB}: il ne désigne aucune œuvre enregistrée."
    ]
    assert summary(trace, language="fr") == explain(trace, language="fr")[0]["sentences"][0]
