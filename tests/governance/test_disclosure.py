"""The disclosure policy on traces the evaluator really makes: who sees shares, who does not,
and the explanation a licensee reads (issue 12, Access item 4)."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

from governance.disclosure import HIDDEN_CONDITIONS, NOBODY, Viewer, outcome_only, trace_for
from governance.evaluation import evaluate_item
from governance.explanation import explain
from tests.governance.evaluation_support import ARTIST, LABEL, PUB, ask, facts, rule, share, work

RULE_ID = "3f2c1a9b-5d4e-4f00-8a00-000000000001"


def item_trace() -> dict[str, Any]:
    """Two works: the label's and the publisher's (split 50.5/49.5 with the artist)."""
    label_work = replace(work(share(LABEL, "master")), work_id="w-label")
    split_work = replace(
        work(share(ARTIST, "master", "50.5"), share(PUB, "master", "49.5")), work_id="w-split"
    )
    rules = (
        rule(LABEL, "allow", {"analyze"}, rule_id=RULE_ID, version=2),
        rule(ARTIST, "allow", {"analyze"}, rule_id="r-ada"),
        rule(PUB, "allow", {"analyze"}, rule_id="r-pub"),
    )
    return evaluate_item(ask("analyze"), [label_work, split_work], facts(*rules)).trace


def holders(work: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for r in work["rights"] for h in r["holders"]]


def test_a_licensee_sees_who_decided_and_the_rule_version_but_no_share() -> None:
    trace = item_trace()
    shown = trace_for(trace, viewer=Viewer(party_id="licensee"))
    text = json.dumps(shown)
    assert '"share"' not in text
    assert '"rules"' not in text
    label = holders(shown["works"][0])[0]
    assert label["party"] == LABEL
    assert label["name"] == "Northwind Records"
    assert label["rule"] == {"id": RULE_ID, "version": 2}
    assert label["answer"] == "allow"


def test_the_trace_itself_is_left_whole() -> None:
    trace = item_trace()
    before = copy.deepcopy(trace)
    trace_for(trace, viewer=NOBODY)
    assert trace == before


def test_an_auditor_sees_the_whole_trace() -> None:
    trace = item_trace()
    assert trace_for(trace, viewer=Viewer(party_id="x", auditor=True)) == trace


def test_a_holder_sees_the_shares_of_its_works_only() -> None:
    trace = item_trace()
    shown = trace_for(trace, viewer=Viewer(party_id=PUB))
    label_work, split_work = shown["works"]
    assert "share" not in json.dumps(label_work)
    assert {h["share"] for h in holders(split_work)} == {"50.500", "49.500"}


def test_one_works_trace_is_redacted_the_same_way() -> None:
    work_trace = item_trace()["works"][1]
    assert "share" not in json.dumps(trace_for(work_trace, viewer=NOBODY))


def test_a_licensee_reads_holders_named_with_their_right_and_no_percentage() -> None:
    shown = trace_for(item_trace(), viewer=NOBODY)
    first, second = explain(shown)
    assert (
        "Northwind Records (master) allowed it under rule 3f2c1a9b… version 2."
        in first["sentences"]
    )
    assert not any("%" in s for s in first["sentences"] + second["sentences"])
    full = explain(item_trace())
    assert any("50.5%" in s for s in full[1]["sentences"])


def test_another_holders_export_keeps_only_its_outcome() -> None:
    assertion = {
        "entries": {
            "cawg.ai_training": {"use": "constrained", "constraint_info": "Only Acme AI Labs."},
            "cawg.data_mining": {"use": "allowed"},
            "cawg.ai_inference": {"use": "notAllowed"},
        }
    }
    assert outcome_only(assertion) == {
        "entries": {
            "cawg.ai_inference": {"use": "notAllowed"},
            "cawg.ai_training": {"use": "constrained", "constraint_info": HIDDEN_CONDITIONS},
            "cawg.data_mining": {"use": "allowed"},
        }
    }
