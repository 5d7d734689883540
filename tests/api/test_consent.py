"""Consent rules, their versions and history, posture, the matrix, over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from governance.models import ConsentRuleVersion, PartyKind
from ledger import canonical, commitments, merkle
from ledger import openings as ledger_openings
from ledger.models import PendingEntry as Pending
from tests.factories import PartyFactory, caller

pytestmark = pytest.mark.django_db


def payloads(kind: str) -> list[dict[str, Any]]:
    rows = Pending.objects.filter(kind=kind).order_by("id").values_list("data", flat=True)
    return [canonical.decode_entry(bytes(r)).payload for r in rows]


def opened_payloads(kind: str) -> list[dict[str, Any]]:
    rows = Pending.objects.filter(kind=kind).order_by("id").values_list("data", flat=True)
    entries = [bytes(r) for r in rows]
    by_leaf = ledger_openings.openings_by_leaf(leaf_hashes=[merkle.leaf_hash(e) for e in entries])
    return [
        commitments.unseal(canonical.decode_entry(e).payload, by_leaf[merkle.leaf_hash(e)])
        for e in entries
    ]


def test_an_artist_opts_in_to_train_for_one_licensee_and_out_of_voice_for_everyone() -> None:
    artist = caller(PartyKind.ARTIST)
    licensee = PartyFactory(kind=PartyKind.LICENSEE)
    train = artist.client.post("/api/v1/consent/rules/", {
        "scope": "all_works", "uses": ["train"], "licensee_mode": "listed",
        "licensees": [str(licensee.pk)], "effect": "allow", "note": "Yes to this lab only.",
    }, format="json")  # fmt: skip
    assert train.status_code == 201, train.json()
    voice = artist.client.post("/api/v1/consent/rules/", {
        "scope": "likeness", "uses": ["voice"], "effect": "deny",
    }, format="json")  # fmt: skip
    assert voice.status_code == 201, voice.json()
    listed = artist.client.get("/api/v1/consent/rules/").json()
    assert {(r["effect"], tuple(r["uses"])) for r in listed["results"]} == {
        ("allow", ("train",)), ("deny", ("voice",))}  # fmt: skip
    ledgered = payloads("consent_rule")
    assert [p["uses"] for p in ledgered] == [["train"], ["voice"]]
    assert ledgered[0]["version"] == 1
    # The licensee list and the note are ledgered as salted commitments (issue 12), opened by
    # the stored openings of the same entry.
    opened = opened_payloads("consent_rule")
    assert opened[0]["licensees"] == [str(licensee.pk)]
    assert opened[0]["note"] == "Yes to this lab only."
    assert set(ledgered[0]["licensees"]) == set(ledgered[0]["note"]) == {"commitment"}


def test_an_edit_makes_a_new_version_and_at_shows_the_past() -> None:
    artist = caller(PartyKind.ARTIST)
    created = artist.client.post("/api/v1/consent/rules/", {
        "scope": "all_works", "uses": ["train"], "effect": "deny",
    }, format="json").json()  # fmt: skip
    rule = created["rule"]
    before_edit = dt.datetime.now(dt.UTC)
    edited = artist.client.put(f"/api/v1/consent/rules/{rule}/", {
        "scope": "all_works", "uses": ["train"], "effect": "conditional",
        "obligations": {"attribution": "Ada Vale", "ai_disclosure": True},
    }, format="json")  # fmt: skip
    assert edited.status_code == 200
    assert edited.json()["version"] == 2
    now = artist.client.get(f"/api/v1/consent/rules/{rule}/").json()
    then = artist.client.get(
        f"/api/v1/consent/rules/{rule}/", {"at": before_edit.isoformat()}
    ).json()
    assert (now["version"], now["effect"]) == (2, "conditional")
    assert (then["version"], then["effect"]) == (1, "deny")
    history = artist.client.get(f"/api/v1/consent/rules/{rule}/versions/").json()
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["effective_until"] == history[1]["effective_from"]
    past_list = artist.client.get("/api/v1/consent/rules/", {"at": before_edit.isoformat()})
    assert [r["effect"] for r in past_list.json()["results"]] == ["deny"]
    # Version 1 is untouched: the versions are immutable content.
    assert ConsentRuleVersion.objects.get(rule_id=rule, version=1).effect == "deny"


def test_a_withdrawn_rule_is_not_in_force_but_its_history_remains() -> None:
    artist = caller(PartyKind.ARTIST)
    rule = artist.client.post("/api/v1/consent/rules/", {
        "scope": "likeness", "uses": ["voice", "style"], "effect": "deny",
    }, format="json").json()["rule"]  # fmt: skip
    withdrawn_at = dt.datetime.now(dt.UTC)
    assert artist.client.post(f"/api/v1/consent/rules/{rule}/withdraw/").status_code == 200
    assert artist.client.get("/api/v1/consent/rules/").json()["count"] == 0
    assert artist.client.get(f"/api/v1/consent/rules/{rule}/").status_code == 404
    assert (
        artist.client.get("/api/v1/consent/rules/", {"at": withdrawn_at.isoformat()}).json()[
            "count"
        ]
        == 1
    )
    again = artist.client.put(f"/api/v1/consent/rules/{rule}/", {
        "scope": "likeness", "uses": ["voice"], "effect": "allow"}, format="json")  # fmt: skip
    assert again.status_code == 400
    assert payloads("consent_rule_withdrawn")[0]["rule"] == rule


def test_no_label_rule_can_grant_likeness() -> None:
    label = caller(PartyKind.LABEL)
    response = label.client.post("/api/v1/consent/rules/", {
        "scope": "likeness", "uses": ["voice"], "effect": "allow"}, format="json")  # fmt: skip
    assert response.status_code == 400
    assert "scope" in response.json()["fields"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"scope": "all_works", "uses": ["dance"], "effect": "allow"}, "uses"),
        ({"scope": "all_works", "uses": ["train"], "effect": "maybe"}, "effect"),
        ({"scope": "all_works", "uses": ["train"], "effect": "conditional"}, "obligations"),
        ({"scope": "all_works", "uses": ["train"], "effect": "allow",
          "territories": ["FR", "QQ"]}, "territories"),
        ({"scope": "works", "uses": ["train"], "effect": "allow"}, "scope_works"),
        ({"scope": "all_works", "uses": ["train"], "effect": "allow", "licensee_mode": "listed",
          "licensees": ["00000000-0000-0000-0000-000000000001"]}, "licensees"),
        ({"scope": "all_works", "uses": ["train"], "effect": "conditional",
          "obligations": {"max_similarity": 2}}, "obligations.max_similarity"),
        ({"scope": "all_works", "uses": ["train"], "effect": "allow",
          "window_start": "2030-01-01T00:00:00Z", "window_end": "2029-01-01T00:00:00Z"},
         "window_end"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_a_400_naming_the_field(data: dict[str, Any], field: str) -> None:
    artist = caller(PartyKind.ARTIST)
    response = artist.client.post("/api/v1/consent/rules/", data, format="json")
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert any(name == field or name.startswith(f"{field}.") for name in fields), fields
    assert not ConsentRuleVersion.objects.exists()


def test_rules_are_private_to_their_owner_and_readable_by_auditors() -> None:
    artist = caller(PartyKind.ARTIST)
    deny_train = {"scope": "all_works", "uses": ["train"], "effect": "deny"}
    rule = artist.client.post("/api/v1/consent/rules/", deny_train, format="json").json()["rule"]
    for kind in (PartyKind.LICENSEE, PartyKind.LABEL, PartyKind.ARTIST):
        stranger = caller(kind)
        assert stranger.client.get(f"/api/v1/consent/rules/{rule}/").status_code == 404
        assert stranger.client.get("/api/v1/consent/rules/").json()["count"] == 0
        put = stranger.client.put(f"/api/v1/consent/rules/{rule}/", {
            "scope": "all_works", "uses": ["train"], "effect": "allow"}, format="json")  # fmt: skip
        assert put.status_code == 404
    auditor = caller(PartyKind.AUDITOR)
    assert auditor.client.get(f"/api/v1/consent/rules/{rule}/").status_code == 200
    assert auditor.client.post(f"/api/v1/consent/rules/{rule}/withdraw/").status_code == 403
    licensee = caller(PartyKind.LICENSEE)
    own = licensee.client.post("/api/v1/consent/rules/", {
        "scope": "all_works", "uses": ["train"], "effect": "allow"}, format="json")  # fmt: skip
    assert own.status_code == 403


def test_a_party_sets_its_default_posture() -> None:
    label = caller(PartyKind.LABEL)
    assert label.client.get("/api/v1/consent/posture/").json() == {"default_posture": "opt_in"}
    response = label.client.put("/api/v1/consent/posture/", {"default_posture": "opt_out"},
                                format="json")  # fmt: skip
    assert response.status_code == 200
    assert payloads("party")[-1]["default_posture"] == "opt_out"
    bad = label.client.put("/api/v1/consent/posture/", {"default_posture": "maybe"}, format="json")
    assert bad.status_code == 400
    assert "default_posture" in bad.json()["fields"]


def test_the_matrix_is_seeded_and_changed_by_staff_only() -> None:
    label = caller(PartyKind.LABEL)
    matrix = label.client.get("/api/v1/consent/matrix/").json()
    assert matrix["version"] == 1
    assert matrix["matrix"]["train"] == ["master", "publishing", "performer"]
    assert matrix["matrix"]["voice"] == ["likeness"]
    changed = {**matrix["matrix"], "analyze": ["master", "publishing"]}
    denied = label.client.put("/api/v1/consent/matrix/", {"matrix": changed}, format="json")
    assert denied.status_code == 403
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    label.party.memberships.create(user=staff, role="admin")
    client = APIClient()
    client.force_authenticate(staff)
    response = client.put("/api/v1/consent/matrix/", {"matrix": changed, "note": "analysis"},
                          format="json", HTTP_X_CONSENTRY_PARTY=str(label.party.pk))  # fmt: skip
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    old = label.client.get("/api/v1/consent/matrix/", {"at": matrix["effective_from"]}).json()
    assert old["version"] == 1
    bad = client.put("/api/v1/consent/matrix/", {"matrix": {"train": ["master"]}}, format="json",
                     HTTP_X_CONSENTRY_PARTY=str(label.party.pk))  # fmt: skip
    assert bad.status_code == 400
    assert payloads("consent_matrix")[-1]["matrix"]["analyze"] == ["master", "publishing"]


def test_a_party_exports_its_consent_as_odrl_and_cawg_and_others_cannot() -> None:
    artist = caller(PartyKind.ARTIST)
    licensee = PartyFactory(kind=PartyKind.LICENSEE, name="Acme AI Labs")
    artist.client.post("/api/v1/consent/rules/", {
        "scope": "all_works", "uses": ["train"], "licensee_mode": "listed",
        "licensees": [str(licensee.pk)], "effect": "allow"}, format="json")  # fmt: skip
    artist.client.post("/api/v1/consent/rules/", {
        "scope": "likeness", "uses": ["voice"], "effect": "deny"}, format="json")  # fmt: skip
    url = f"/api/v1/parties/{artist.party.pk}/consent/export/"
    odrl = artist.client.get(url).json()
    assert odrl["@type"] == "Set"
    assert "http://www.w3.org/ns/odrl.jsonld" in odrl["@context"]
    assert odrl["permission"]
    assert odrl["prohibition"]
    cawg = artist.client.get(url, {"vocabulary": "cawg"}).json()["entries"]
    assert cawg["cawg.ai_training"]["use"] == "constrained"
    assert "Acme AI Labs" in cawg["cawg.ai_training"]["constraint_info"]
    c2pa = artist.client.get(url, {"vocabulary": "c2pa"}).json()["entries"]
    assert set(c2pa) == {"c2pa.ai_generative_training", "c2pa.ai_inference", "c2pa.ai_training",
                         "c2pa.data_mining"}  # fmt: skip
    assert artist.client.get(url, {"vocabulary": "rsl"}).status_code == 400
    stranger = caller(PartyKind.LICENSEE)
    assert stranger.client.get(url).status_code == 404


def test_a_work_exports_its_holders_consent() -> None:
    label = caller(PartyKind.LABEL)
    song = {"kind": "recording", "title": "Song", "isrc": "USRC17607839"}
    work = label.client.post("/api/v1/works/", song, format="json").json()
    share = {"work": work["id"], "holder": str(label.party.pk), "right": "master", "share": "100"}
    label.client.post("/api/v1/shares/", share, format="json")
    label.client.post("/api/v1/consent/rules/", {
        "scope": "all_works", "uses": ["analyze"], "effect": "allow"}, format="json")  # fmt: skip
    url = f"/api/v1/works/{work['id']}/consent/export/"
    odrl = label.client.get(url).json()
    assert odrl["permission"][0]["target"] == "urn:isrc:USRC17607839"
    cawg = label.client.get(url, {"vocabulary": "cawg"}).json()["entries"]
    assert cawg["cawg.data_mining"]["use"] == "allowed"
    assert cawg["cawg.ai_training"]["use"] == "notAllowed"  # opt-in, no consent on record
    assert caller(PartyKind.LICENSEE).client.get(url).status_code == 404
    assert caller(PartyKind.AUDITOR).client.get(url).status_code == 200
