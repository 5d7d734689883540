"""Exports of consent into ODRL 2.2 and the CAWG / C2PA 1.x training-and-mining assertion.

Pure functions: no database. Expected shapes follow the ODRL 2.2 Information Model and
Vocabulary (W3C Recommendation, 2018-02-15) and CAWG Training and Data Mining Assertion 1.1.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.terms import USES, Obligations, RuleContent
from governance.vocabulary import (
    CATEGORIES,
    ODRL_CONTEXT,
    PROFILE,
    USE_MAPPING,
    USE_NS,
    c2pa_training_mining,
    cawg_training_mining,
    odrl_policy,
    rules_in_force,
)

ARTIST = "6f1c2e4a-9d3b-4c8e-8a71-2b5e0f9d4c13"
ACME = "0b8d7f52-3e1a-4f6c-9b24-7c5d1e8a9f30"
OTHER = "5a5a5a5a-0000-4000-8000-000000000001"
WORK = "urn:isrc:GBAYE2400123"
AT = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
NAMES = {ARTIST: "Mara Vell", ACME: "Acme AI Labs"}


def rule(uses: set[str], effect: str, **fields: Any) -> RuleContent:
    defaults: dict[str, Any] = {
        "rule_id": f"rule-{'-'.join(sorted(uses))}-{effect}",
        "version": 1,
        "owner_id": ARTIST,
        "scope": "all_works",
    }
    return RuleContent(uses=frozenset(uses), effect=effect, **(defaults | fields))


def policy(*rules: RuleContent, target: str | None = WORK) -> dict[str, Any]:
    return odrl_policy(
        uid="https://consentry.example/policies/1",
        assigner=ARTIST,
        rules=rules,
        target=target,
        at=AT,
        party_names=NAMES,
    )


def cawg(*rules: RuleContent, posture: str = "opt_in") -> dict[str, dict[str, str]]:
    entries: dict[str, dict[str, str]] = cawg_training_mining(
        rules=rules, at=AT, default_posture=posture, party_names=NAMES
    )["entries"]
    return entries


def states(entries: dict[str, dict[str, str]]) -> dict[str, str]:
    return {key.split(".", 1)[1]: entry["use"] for key, entry in entries.items()}


# ---- the mapping -------------------------------------------------------------------------


def test_every_use_maps_to_known_terms_of_each_vocabulary() -> None:
    assert tuple(USE_MAPPING) == USES
    for use, mapping in USE_MAPPING.items():
        assert mapping.use == use
        assert set(mapping.training_mining) | set(mapping.narrows) <= set(CATEGORIES)
        assert set(mapping.rsl) <= {"all", "ai-all", "ai-train", "ai-input", "ai-index", "search"}
        assert set(mapping.tdmrep) <= {"tdm:mine"}
        assert set(mapping.aipref) <= {"train-ai", "ai-use", "search"}
        assert mapping.odrl_action in {"use", "reproduce", "derive", "distribute"}
        assert mapping.odrl_purpose == USE_NS + use
        assert mapping.cawg == tuple(f"cawg.{c}" for c in mapping.training_mining)
        assert mapping.c2pa == tuple(f"c2pa.{c}" for c in mapping.training_mining)


def test_every_training_mining_category_is_made_of_at_least_one_use() -> None:
    for category in CATEGORIES:
        assert any(category in m.training_mining for m in USE_MAPPING.values()), category


def test_no_public_vocabulary_has_stems_lyrics_or_style_as_a_use_of_its_own() -> None:
    for use in ("stems", "lyrics", "style", "voice", "output"):
        assert USE_MAPPING[use].training_mining == (), use
        assert USE_MAPPING[use].narrows, use


# ---- ODRL ----------------------------------------------------------------------------------


def test_the_odrl_policy_is_a_json_ld_set_with_context_uid_profile_and_rule_arrays() -> None:
    doc = policy(rule({"train"}, "allow"), rule({"voice"}, "deny"))

    assert doc["@context"][0] == ODRL_CONTEXT
    assert doc["@context"][1]["cs"] == "https://consentry.dev/odrl/terms#"
    assert doc["@type"] == "Set"
    assert doc["uid"] == "https://consentry.example/policies/1"
    assert doc["profile"] == PROFILE
    assert doc["conflict"] == "prohibit"
    assert doc["assigner"] == {
        "@type": "Party",
        "uid": f"urn:uuid:{ARTIST}",
        "vcard:fn": "Mara Vell",
    }
    assert isinstance(doc["permission"], list)
    assert isinstance(doc["prohibition"], list)
    assert json.loads(json.dumps(doc)) == doc


ODRL_TERMS = {
    "uid", "profile", "conflict", "assigner", "permission", "prohibition", "target", "action",
    "refinement", "constraint", "duty", "leftOperand", "operator", "rightOperand",
}  # fmt: skip


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def test_every_key_is_an_odrl_term_a_json_ld_keyword_or_a_declared_prefix() -> None:
    conditional = rule(
        {"train", "reference"},
        "conditional",
        licensee_mode="listed",
        licensees=frozenset({ACME}),
        territory_mode="include",
        territories=frozenset({"FR"}),
        commercial="commercial",
        obligations=Obligations(attribution="x", compensation_ref="y", ai_disclosure=True),
    )
    doc = policy(conditional, rule({"voice"}, "deny"), rule({"style"}, "review"), target=None)
    prefixes = set(doc["@context"][1]) | {"odrl"}

    for key in _keys(doc) - {"@context"}:
        assert key.startswith("@") or key in ODRL_TERMS or key.split(":")[0] in prefixes, key


def test_an_allow_for_one_licensee_becomes_a_permission_with_a_recipient_constraint() -> None:
    doc = policy(rule({"train"}, "allow", licensee_mode="listed", licensees=frozenset({ACME})))

    (permission,) = doc["permission"]
    assert permission["target"] == WORK
    assert permission["constraint"] == [
        {
            "leftOperand": "recipient",
            "operator": "isAnyOf",
            "rightOperand": [
                {"@type": "Party", "uid": f"urn:uuid:{ACME}", "vcard:fn": "Acme AI Labs"}
            ],
        }
    ]
    assert "duty" not in permission
    assert doc["prohibition"] == []


def test_a_deny_becomes_a_prohibition() -> None:
    doc = policy(rule({"voice"}, "deny", licensee_mode="except", licensees=frozenset({ACME})))

    assert doc["permission"] == []
    (prohibition,) = doc["prohibition"]
    assert prohibition["action"][0]["rdf:value"] == {"@id": "odrl:derive"}
    assert prohibition["constraint"][0]["operator"] == "isNoneOf"
    assert "duty" not in prohibition


def test_each_use_of_a_rule_is_its_own_rule_with_its_action_refined_by_purpose() -> None:
    doc = policy(rule({"stems", "train", "analyze"}, "allow", rule_id="r1", version=3))

    actions = [p["action"][0] for p in doc["permission"]]
    assert [a["rdf:value"]["@id"] for a in actions] == ["odrl:reproduce", "odrl:derive", "odrl:use"]
    assert [a["refinement"][0]["rightOperand"]["@id"] for a in actions] == [
        USE_NS + "train",
        USE_NS + "stems",
        USE_NS + "analyze",
    ]
    assert all(a["refinement"][0]["leftOperand"] == "purpose" for a in actions)
    assert {(p["cs:rule"], p["cs:ruleVersion"]) for p in doc["permission"]} == {("r1", 3)}


def test_conditional_obligations_become_duties_and_a_similarity_constraint() -> None:
    obligations = Obligations(
        attribution="Trained on recordings by Mara Vell",
        compensation_ref="rate-card-2026-A",
        ai_disclosure=True,
        max_similarity=0.8,
    )
    doc = policy(rule({"output"}, "conditional", obligations=obligations))

    (permission,) = doc["permission"]
    assert permission["duty"] == [
        {"action": "attribute", "cs:attributionText": "Trained on recordings by Mara Vell"},
        {"action": "compensate", "cs:compensationRef": "rate-card-2026-A"},
        {"action": "cs:discloseAI"},
    ]
    assert permission["constraint"] == [
        {"leftOperand": "cs:outputSimilarity", "operator": "lteq", "rightOperand": 0.8}
    ]


def test_a_review_rule_is_a_permission_with_a_duty_to_obtain_consent() -> None:
    doc = policy(rule({"style"}, "review"))

    (permission,) = doc["permission"]
    assert permission["duty"] == [{"action": "obtainConsent"}]


def test_territories_window_and_commercial_become_spatial_datetime_and_purpose() -> None:
    start, end = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    included = rule(
        {"train"}, "allow", rule_id="r1", territory_mode="include",
        territories=frozenset({"FR", "DE"}), window_start=start, window_end=end,
        commercial="non_commercial",
    )  # fmt: skip
    excluded = rule(
        {"analyze"}, "allow", rule_id="r2", territory_mode="exclude", territories=frozenset({"US"})
    )

    first, second = policy(included, excluded)["permission"]
    assert first["constraint"] == [
        {"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": ["DE", "FR"]},
        {
            "leftOperand": "dateTime",
            "operator": "gteq",
            "rightOperand": {"@value": "2026-01-01T00:00:00Z", "@type": "xsd:dateTime"},
        },
        {
            "leftOperand": "dateTime",
            "operator": "lt",
            "rightOperand": {"@value": "2027-01-01T00:00:00Z", "@type": "xsd:dateTime"},
        },
        {
            "leftOperand": "purpose",
            "operator": "isA",
            "rightOperand": {"@id": "https://consentry.dev/odrl/purpose#non-commercial"},
        },
    ]
    assert second["constraint"] == [
        {"leftOperand": "spatial", "operator": "isNoneOf", "rightOperand": ["US"]}
    ]


def test_a_party_export_targets_what_each_rule_scope_covers() -> None:
    listed = rule({"train"}, "allow", scope="works", scope_works=frozenset({"w2", "w1"}))
    likeness = rule({"voice"}, "deny", scope="likeness")

    doc = policy(listed, likeness, target=None)

    assert doc["permission"][0]["target"] == {
        "@type": "AssetCollection",
        "cs:scope": "works",
        "cs:owner": {"@id": f"urn:uuid:{ARTIST}"},
        "cs:work": [{"@id": "urn:uuid:w1"}, {"@id": "urn:uuid:w2"}],
    }
    assert doc["prohibition"][0]["target"]["@type"] == "Asset"
    assert doc["prohibition"][0]["target"]["cs:scope"] == "likeness"


# ---- time ----------------------------------------------------------------------------------


def test_versions_outside_their_window_at_the_moment_are_ignored() -> None:
    ended = rule({"train"}, "deny", rule_id="ended", window_end=AT)  # end is exclusive
    future = rule({"train"}, "deny", rule_id="future", window_start=AT + dt.timedelta(seconds=1))
    current = rule({"train"}, "allow", rule_id="current", window_start=AT)

    assert [r.rule_id for r in rules_in_force([ended, future, current], at=AT)] == ["current"]
    assert policy(ended, future)["prohibition"] == []
    assert [p["cs:rule"] for p in policy(ended, future, current)["permission"]] == ["current"]
    assert states(cawg(ended, future, current))["ai_training"] == "constrained"  # lyrics: opt-in


def test_a_naive_moment_or_an_unknown_posture_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rules_in_force([], at=dt.datetime(2026, 1, 1))  # naive on purpose
    with pytest.raises(ValueError, match="default_posture"):
        cawg(posture="opt_sideways")


# ---- CAWG / C2PA ---------------------------------------------------------------------------


def test_no_rules_under_opt_in_allow_nothing() -> None:
    assert cawg(posture="opt_in") == {f"cawg.{c}": {"use": "notAllowed"} for c in CATEGORIES}


def test_no_rules_under_opt_out_allow_everything() -> None:
    assert cawg(posture="opt_out") == {f"cawg.{c}": {"use": "allowed"} for c in CATEGORIES}


def test_a_deny_of_train_refuses_ai_training_and_generative_training() -> None:
    got = states(cawg(rule({"train"}, "deny"), posture="opt_out"))

    assert got == {
        "ai_generative_training": "notAllowed",
        "ai_inference": "allowed",
        "ai_training": "notAllowed",
        "data_mining": "allowed",
    }


def test_a_licensee_limited_allow_is_constrained_and_says_to_whom() -> None:
    entries = cawg(
        rule({"train", "lyrics"}, "allow", licensee_mode="listed", licensees=frozenset({ACME}))
    )

    assert entries["cawg.ai_training"] == {
        "use": "constrained",
        "constraint_info": "Training only for Acme AI Labs; lyrics use only for Acme AI Labs.",
    }
    assert entries["cawg.data_mining"] == {"use": "notAllowed"}


def test_an_unconditional_allow_to_everyone_is_allowed() -> None:
    assert set(states(cawg(rule(set(USES), "allow"))).values()) == {"allowed"}


def test_a_voice_refusal_only_narrows_generative_uses() -> None:
    entries = cawg(rule(set(USES), "allow"), rule({"voice"}, "deny"))

    assert entries["cawg.ai_generative_training"] == {
        "use": "constrained",
        "constraint_info": "No voice cloning.",
    }
    assert entries["cawg.ai_training"] == {"use": "allowed"}
    assert entries["cawg.data_mining"] == {"use": "allowed"}


def test_a_deny_for_everyone_overrides_an_allow_for_everyone() -> None:
    got = states(cawg(rule(set(USES), "allow"), rule({"analyze"}, "deny")))

    assert got["data_mining"] == "notAllowed"


def test_a_partial_deny_under_opt_out_is_constrained_and_names_where() -> None:
    denied_in_fr = rule(
        {"analyze"}, "deny", territory_mode="include", territories=frozenset({"FR"})
    )

    entries = cawg(denied_in_fr, posture="opt_out")

    assert entries["cawg.data_mining"] == {
        "use": "constrained",
        "constraint_info": "No analysis in FR.",
    }


def test_obligations_review_and_an_end_date_each_constrain() -> None:
    attributed = rule({"train"}, "conditional", obligations=Obligations(attribution="Mara Vell"))
    reviewed = rule({"reference"}, "review")
    ending = rule({"analyze"}, "allow", window_end=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))

    entries = cawg(attributed, reviewed, posture="opt_out")

    assert entries["cawg.ai_training"]["constraint_info"] == "Training with attribution."
    assert entries["cawg.ai_inference"]["constraint_info"] == "Reference use on request."
    # Under opt-out the end date changes nothing: the default allows once the rule lapses.
    assert cawg(ending, posture="opt_out")["cawg.data_mining"] == {"use": "allowed"}
    assert cawg(ending)["cawg.data_mining"] == {
        "use": "constrained",
        "constraint_info": "Analysis until 2027-01-01.",
    }


def test_the_c2pa_1x_form_gives_the_same_answers_under_c2pa_labels() -> None:
    rules = (rule({"train"}, "allow", licensee_mode="listed", licensees=frozenset({ACME})),)
    legacy = c2pa_training_mining(rules=rules, at=AT, default_posture="opt_in")["entries"]
    current = cawg_training_mining(rules=rules, at=AT, default_posture="opt_in")["entries"]

    assert all(re.fullmatch(r"c2pa\.[a-z_]+", key) for key in legacy)
    assert {k.removeprefix("c2pa."): v for k, v in legacy.items()} == {
        k.removeprefix("cawg."): v for k, v in current.items()
    }


# ---- determinism ---------------------------------------------------------------------------

MIXED = (
    rule({"train", "lyrics"}, "conditional", rule_id="a", licensee_mode="listed",
         licensees=frozenset({ACME, OTHER}), obligations=Obligations(attribution="x")),
    rule({"voice", "style"}, "deny", rule_id="b", territory_mode="exclude",
         territories=frozenset({"US", "GB", "FR"})),
    rule({"reference"}, "review", rule_id="c"),
    rule({"analyze"}, "allow", rule_id="d", scope="works", scope_works=frozenset({"w9", "w1"})),
)  # fmt: skip


@given(st.permutations(MIXED))
def test_outputs_do_not_depend_on_the_order_rules_come_in(order: list[RuleContent]) -> None:
    def dump(rules: tuple[RuleContent, ...]) -> str:
        return json.dumps(
            [policy(*rules, target=None), cawg(*rules), cawg(*rules, posture="opt_out")]
        )

    # Rebuilt sets may iterate in another order; the output must not.
    rebuilt = tuple(replace(r, licensees=frozenset(sorted(r.licensees))) for r in order)
    assert dump(rebuilt) == dump(MIXED)


def test_a_rule_limited_to_ai_declarations_carries_the_limit_in_odrl() -> None:
    limited = rule({"train"}, "deny", ai_declarations=frozenset({"generated", "assisted"}))
    (prohibition,) = policy(limited)["prohibition"]
    assert {"leftOperand": "cs:aiDeclaration", "operator": "isAnyOf",
            "rightOperand": ["assisted", "generated"]} in prohibition["constraint"]  # fmt: skip


def test_a_deny_of_ai_generated_works_only_constrains_training_and_says_which() -> None:
    limited = rule({"train"}, "deny", ai_declarations=frozenset({"generated"}))
    entries = cawg(limited, posture="opt_out")
    # Not a refusal of all training: only of the works declared AI-generated.
    assert entries["cawg.ai_training"] == {
        "use": "constrained",
        "constraint_info": "No training for works declared AI-generated.",
    }
    only = rule({"train"}, "allow", ai_declarations=frozenset({"none", "undeclared"}))
    assert cawg(only)["cawg.ai_training"] == {
        "use": "constrained",
        "constraint_info": "Training only for works declared made without AI or without an AI "
        "declaration; no lyrics use.",  # (opt-in: the lyrics use has no rule)
    }
