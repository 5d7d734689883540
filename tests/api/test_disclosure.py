"""Given a decision on a work with several holders, when the licensee reads it (check answer,
decision, explanation), then it sees who decided under which rule version but no share; the
work's holders and auditors see the whole trace. A work's consent export shows a holder its own
rules and only the outcome of the others' (issue 12, Access item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework import serializers

from api.views.requests import DecisionSerializer
from governance.access import Actor
from governance.disclosure import HIDDEN_CONDITIONS
from governance.models import Decision, Membership, PartyKind, UseRequest
from tests.factories import PartyFactory, caller
from tests.world import ISRC, rule

pytestmark = pytest.mark.django_db


def keys(value: Any) -> Iterator[str]:
    """Every key of every mapping nested in ``value``."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from keys(v)


def holders(trace: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for w in trace["works"] for r in w["rights"] for h in r["holders"]]


@pytest.fixture
def decided(world: dict[str, Any]) -> dict[str, Any]:
    """The licensee checks a training use that the label and the artist both allow it."""
    label_rule = rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    artist_rule = rule(
        world["artist"], scope="all_works", uses=["train"], effect="allow",
        licensee_mode="listed", licensees=[str(world["licensee"].party.pk)],
    )  # fmt: skip
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "train", "item": {"isrc": ISRC}}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    stored = Decision.objects.get(pk=body["id"]).trace
    assert "100.000" in {h["share"] for h in holders(stored)}  # the stored trace has shares
    return world | {"check": body, "rules": {label_rule["rule"], artist_rule["rule"]}}


def test_a_licensees_check_answer_names_holders_and_rule_versions_but_no_share(
    decided: dict[str, Any],
) -> None:
    trace = decided["check"]["trace"]
    assert "share" not in set(keys(trace))
    assert "rules" not in set(keys(trace))
    assert "100.000" not in json.dumps(trace)
    shown = holders(trace)
    assert {h["name"] for h in shown} == {decided["label"].party.name, "Ada Vale"}
    assert {h["rule"]["id"] for h in shown} == decided["rules"]
    assert all(h["rule"]["version"] == 1 for h in shown)


def test_a_licensees_decision_and_explanation_show_no_share(decided: dict[str, Any]) -> None:
    url = f"/api/v1/decisions/{decided['check']['id']}/"
    client = decided["licensee"].client
    assert "share" not in set(keys(client.get(url).json()["trace"]))
    for lang in ("en", "fr"):
        works = client.get(url + "explanation/", {"lang": lang}).json()["works"]
        text = " ".join(s for w in works for s in w["sentences"])
        assert "%" not in text
        assert "Ada Vale" in text
        assert "version 1" in text


@pytest.mark.parametrize("reader", ["label", "artist", "auditor"])
def test_the_works_holders_and_auditors_see_the_whole_trace(
    decided: dict[str, Any], reader: str
) -> None:
    who = caller(PartyKind.AUDITOR) if reader == "auditor" else decided[reader]
    url = f"/api/v1/decisions/{decided['check']['id']}/"
    trace = who.client.get(url).json()["trace"]
    assert trace == Decision.objects.get(pk=decided["check"]["id"]).trace
    assert {h["share"] for h in holders(trace)} == {"100.000"}
    explained = who.client.get(url + "explanation/").json()["works"][0]["sentences"]
    assert any("100%" in s for s in explained)


def test_a_holder_of_another_work_sees_no_share_of_this_one(decided: dict[str, Any]) -> None:
    """Seeing a decision because one holds some work it touched opens only that work."""
    from governance.disclosure import Viewer, trace_for

    stored = Decision.objects.get(pk=decided["check"]["id"]).trace
    stranger = Viewer(party_id=str(PartyFactory(kind=PartyKind.LABEL).pk))
    assert "share" not in set(keys(trace_for(stored, viewer=stranger)))


def test_the_fast_rendering_equals_drfs_for_a_holder_as_for_a_licensee(
    decided: dict[str, Any],
) -> None:
    decision = Decision.objects.get(pk=decided["check"]["id"])
    label = decided["label"]
    member = Membership.objects.get(party=label.party)
    actor = Actor(user=member.user, party=label.party, role=member.role)
    request = SimpleNamespace(_consentry_actor=actor)
    serializer = DecisionSerializer(decision, context={"request": request})
    fast = serializer.to_representation(decision)
    by_fields = serializers.ModelSerializer.to_representation(serializer, decision)
    assert json.loads(json.dumps(by_fields, default=str)) == json.loads(json.dumps(fast))
    assert "share" in set(keys(fast["trace"]))


# --- a work's consent export ----------------------------------------------------------------


@pytest.fixture
def exported(world: dict[str, Any]) -> dict[str, Any]:
    """The artist lets one named licensee train on its works; the label allows analysis and is
    opt-out, so the work's training-and-mining answer is the artist's."""
    acme = PartyFactory(kind=PartyKind.LICENSEE, name="Acme AI Labs")
    posture = {"default_posture": "opt_out"}
    response = world["label"].client.put("/api/v1/consent/posture/", posture, format="json")
    assert response.status_code == 200, response.content
    artist_rule = rule(
        world["artist"], scope="all_works", uses=["train"], effect="allow",
        licensee_mode="listed", licensees=[str(acme.pk)],
    )  # fmt: skip
    label_rule = rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    url = f"/api/v1/works/{world['work']['id']}/consent/export/"
    return world | {
        "url": url,
        "artist_rule": artist_rule["rule"],
        "label_rule": label_rule["rule"],
    }


def odrl_rule_ids(policy: dict[str, Any]) -> set[str]:
    return {r["cs:rule"] for r in policy["permission"] + policy["prohibition"]}


def test_a_holder_exports_its_own_rules_and_only_the_outcome_of_the_others(
    exported: dict[str, Any],
) -> None:
    client = exported["label"].client
    odrl = client.get(exported["url"]).json()
    assert odrl_rule_ids(odrl) == {exported["label_rule"]}
    assert "Acme AI Labs" not in json.dumps(odrl)
    others = {o["uid"]: o for o in odrl["cs:otherHolders"]}
    artist = others[f"urn:uuid:{exported['artist'].party.pk}"]
    assert artist["vcard:fn"] == "Ada Vale"
    assert artist["cs:outcome"]["entries"]["cawg.ai_training"] == {
        "use": "constrained", "constraint_info": HIDDEN_CONDITIONS,
    }  # fmt: skip
    cawg = client.get(exported["url"], {"vocabulary": "cawg"}).json()
    assert "Acme AI Labs" not in json.dumps(cawg)
    assert cawg["entries"]["cawg.ai_training"] == {
        "use": "constrained", "constraint_info": HIDDEN_CONDITIONS,
    }  # fmt: skip


def test_the_other_holder_sees_its_own_rules_in_full(exported: dict[str, Any]) -> None:
    client = exported["artist"].client
    odrl = client.get(exported["url"]).json()
    assert odrl_rule_ids(odrl) == {exported["artist_rule"]}
    assert "Acme AI Labs" in json.dumps(odrl)
    label = f"urn:uuid:{exported['label'].party.pk}"
    assert [o["uid"] for o in odrl["cs:otherHolders"]] == [label]


def test_an_auditor_exports_every_holders_rules(exported: dict[str, Any]) -> None:
    auditor = caller(PartyKind.AUDITOR)
    odrl = auditor.client.get(exported["url"]).json()
    assert odrl_rule_ids(odrl) == {exported["artist_rule"], exported["label_rule"]}
    assert "cs:otherHolders" not in odrl
    cawg = auditor.client.get(exported["url"], {"vocabulary": "cawg"}).json()
    assert "Acme AI Labs" in cawg["entries"]["cawg.ai_training"]["constraint_info"]


def test_no_other_view_a_licensee_gets_of_a_decision_carries_a_share(
    decided: dict[str, Any],
) -> None:
    """The request's status, its JSON Lines results, the callback body and the receipt name
    no trace (so no share); they are held to it here, as the trace renderers are above."""
    from django.utils import timezone

    from governance import tasks
    from governance.services.callbacks import callback_body
    from ledger import services as ledger_services

    licensee = decided["licensee"].client
    items = [{"isrc": ISRC}]
    created = licensee.post("/api/v1/use-requests/", {"use": "train", "items": items},
                            format="json").json()  # fmt: skip
    tasks.decide_request.apply(args=[created["id"]]).get()
    url = f"/api/v1/use-requests/{created['id']}/"
    status = licensee.get(url).json()
    assert status["items"][0]["outcome"] == "allow"
    results = b"".join(licensee.get(url + "results/").streaming_content)
    body = callback_body(UseRequest.objects.get(pk=created["id"]))
    ledger_services.key_register(signer=ledger_services.current_signer(), now=timezone.now())
    receipt = licensee.get(f"/api/v1/decisions/{decided['check']['id']}/receipt/").json()
    for shown in (json.dumps(status), results.decode(), body.decode(), json.dumps(receipt)):
        assert '"share"' not in shown
        assert "100.000" not in shown
