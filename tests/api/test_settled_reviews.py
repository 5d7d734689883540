"""Settled reviews read as settled, and explanations say what decided (issue 13, items 4 and
5), over HTTP: the decision, its explanation (English and French), its receipt, the status
page, the callback body; error bodies in French."""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.
# ruff: noqa: RUF001

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from governance import tasks
from governance.models import PartyKind, UseRequest
from governance.services import spaces as space_services
from governance.services.callbacks import callback_body
from ledger import canonical, verify
from ledger import services as ledger_services
from tests.factories import caller
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

NB = "\u00a0"
REASON = "Not for stems."


def review_denied(world: dict[str, Any], capture: Any) -> dict[str, Any]:
    """Stems on the world's recording wait for the artist's review, which she denies."""
    rule(world["label"], scope="all_works", uses=["stems"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["stems"], effect="review")
    body = submit(world["licensee"], use="stems", items=[{"isrc": ISRC}],
                  callback_url="https://licensee.example/cb")  # fmt: skip
    tasks.decide_request.apply(args=[body["id"]]).get()
    review = world["artist"].client.get("/api/v1/reviews/").json()["results"][0]
    with capture(execute=True):  # the request is finished again once the review commits
        denied = world["artist"].client.post(
            f"/api/v1/reviews/{review['id']}/deny/", {"reason": REASON}, format="json"
        )
    assert denied.status_code == 200, denied.json()
    return {"request": body, "decision": review["decision"]}


def test_a_denied_review_reads_as_denied_with_who_when_and_why(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    settled = review_denied(world, django_capture_on_commit_callbacks)
    decision = world["licensee"].client.get(f"/api/v1/decisions/{settled['decision']}/").json()
    assert decision["outcome"] == "deny"
    assert decision["code"] == "review.denied"
    assert decision["reason"] == f"Ada Vale denied it on review: {REASON}"
    assert (decision["initial_outcome"], decision["initial_code"]) == ("review", "consent.review")
    settlement = decision["settlement"]
    assert settlement["by"] == str(world["artist"].party.pk)
    assert settlement["by_name"] == "Ada Vale"
    assert settlement["reason"] == f"Ada Vale denied it on review: {REASON}"
    assert settlement["reviews"][0]["reason"] == REASON
    assert settlement["at"] is not None
    assert "waits" not in json.dumps(decision)
    status = world["licensee"].client.get(settled["request"]["status_url"]).json()
    assert (status["items"][0]["code"], status["items"][0]["reason"]) == (
        "review.denied",
        f"Ada Vale denied it on review: {REASON}",
    )
    # An undecided review still reads as pending, with no settlement.
    assert caller_pending_decision(world)["settlement"] is None


def caller_pending_decision(world: dict[str, Any]) -> dict[str, Any]:
    body = submit(world["licensee"], use="stems", items=[{"isrc": ISRC}])
    tasks.decide_request.apply(args=[body["id"]]).get()
    status = world["licensee"].client.get(body["status_url"]).json()
    decision_id = status["items"][0]["decision"]
    decision = world["licensee"].client.get(f"/api/v1/decisions/{decision_id}/").json()
    assert (decision["outcome"], decision["code"]) == ("review", "consent.review")
    return dict(decision)


def test_the_explanation_of_a_denied_review_says_who_denied_it_and_why(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    settled = review_denied(world, django_capture_on_commit_callbacks)
    url = f"/api/v1/decisions/{settled['decision']}/explanation/"
    en = world["licensee"].client.get(url).json()
    assert en["summary"] == f"Ada Vale denied it on review: “{REASON}”."
    assert en["settlement"]["reviews"][0]["reason"] == REASON
    sentences = en["works"][0]["sentences"]
    assert f"Ada Vale denied it on review: “{REASON}”." in sentences
    assert sentences[-1] == "You may not proceed with this work."
    assert en["works"][0]["outcome"] == "deny"
    assert not any("waits" in s for s in sentences)
    fr = world["licensee"].client.get(url, {"lang": "fr"}).json()
    assert fr["summary"] == f"Ada Vale l’a refusé après examen{NB}: «{NB}{REASON}{NB}»."
    assert fr["works"][0]["sentences"][-1] == "Vous ne pouvez pas continuer avec cette œuvre."


def test_the_callback_of_a_settled_review_carries_the_settled_state(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    settled = review_denied(world, django_capture_on_commit_callbacks)
    body = json.loads(callback_body(UseRequest.objects.get(pk=settled["request"]["id"])))
    (item,) = body["items"]
    assert (item["outcome"], item["code"]) == ("deny", "review.denied")
    assert item["reason"] == f"Ada Vale denied it on review: {REASON}"
    assert item["settlement"]["by_name"] == "Ada Vale"
    assert item["settlement"]["reviews"][0]["reason"] == REASON
    assert body["outcome"] == "deny"
    assert "waits" not in json.dumps(body)


def test_the_receipt_of_a_settled_review_proves_the_settlement_and_links_the_original(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    settled = review_denied(world, django_capture_on_commit_callbacks)
    ledger_services.key_register(signer=ledger_services.current_signer(), now=timezone.now())
    url = f"/api/v1/decisions/{settled['decision']}/receipt/"
    receipt = world["licensee"].client.get(url).json()
    entry = canonical.decode_entry(base64.b64decode(receipt["entry"]))
    assert entry.kind == "decision_settled", entry
    assert entry.payload["outcome"] == "deny"
    assert entry.payload["reviews"][0]["reason"] == REASON
    original = receipt["supersedes"]
    assert original["index"] < receipt["index"]
    assert canonical.decode_entry(base64.b64decode(original["entry"])).kind == "decision"
    assert entry.payload["supersedes"] == base64.b64decode(original["leaf_hash"]).hex()
    vkey = ledger_services.current_signer().verifier().key_string
    for n, shown in enumerate((receipt, original)):
        path = tmp_path / f"receipt-{n}.json"
        path.write_text(json.dumps(shown))
        assert verify.main(["receipt", str(path), "--vkey", vkey]) == 0


def test_an_opt_out_default_is_explained_as_the_default_deciding(world) -> None:  # type: ignore[no-untyped-def]
    label = world["label"].client
    assert label.put("/api/v1/consent/posture/", {"default_posture": "opt_out"},
                     format="json").status_code == 200  # fmt: skip
    check = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    assert check["outcome"] == "allow"
    name = world["label"].party.name
    url = f"/api/v1/decisions/{check['id']}/explanation/"
    en = world["licensee"].client.get(url).json()
    assert en["summary"] == (
        f"No rights holder set a rule; {name}'s default posture decided it "
        "(opt-out: allowed unless they refuse)."
    )
    fr = world["licensee"].client.get(url, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").json()
    assert fr["language"] == "fr"
    assert fr["summary"] == (
        f"Aucun titulaire de droits n’a fixé de règle{NB}; la position par défaut de {name} "
        f"en a décidé (opt-out{NB}: autorisé sauf refus)."
    )


def test_the_french_summary_is_french(world) -> None:  # type: ignore[no-untyped-def]
    check = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    assert check["outcome"] == "deny"  # the label is opt-in and has no rule
    url = f"/api/v1/decisions/{check['id']}/explanation/"
    fr = world["licensee"].client.get(url, {"lang": "fr"}).json()
    assert fr["summary"].endswith(f"n’a pas donné son consentement et sa position par défaut est "
                                  f"l’opt-in{NB}: la réponse est non.")  # fmt: skip
    assert "consent" not in fr["summary"].replace("consentement", "")


def test_a_no_match_is_explained_as_not_a_licence(world) -> None:  # type: ignore[no-untyped-def]
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    space_services.space_create(
        user=staff, name="timbre", model="test", model_version="1", dimension=4, threshold=0.9
    )
    item = {"vectors": [{"space": "timbre", "vector": [0.0, 1.0, 0.0, 0.0]}]}
    check = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "train", "item": item}, format="json")
        .json()
    )
    assert check["outcome"] == "no_match"
    url = f"/api/v1/decisions/{check['id']}/explanation/"
    en = world["licensee"].client.get(url).json()
    sentence = "Consentry has no registered work matching this item; this is not a licence."
    assert en["summary"] == sentence
    assert en["works"][0]["sentences"] == [sentence]
    fr = world["licensee"].client.get(url, {"lang": "fr"}).json()
    assert fr["summary"] == (
        f"Consentry n’a aucune œuvre enregistrée qui corresponde à cet élément{NB}; ceci n’est "
        "pas une licence."
    )


NOTE = "Write to licensing@northwind.example for stems."


def test_a_rules_note_reaches_the_licensee_it_matched_for_and_no_other_holder(world) -> None:  # type: ignore[no-untyped-def]
    made = rule(world["label"], scope="all_works", uses=["analyze"], effect="allow", note=NOTE)
    check = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    url = f"/api/v1/decisions/{check['id']}/explanation/"
    name = world["label"].party.name
    en = world["licensee"].client.get(url).json()
    assert f"Note for licensees from {name}: “{NOTE}”" in en["works"][0]["sentences"], en
    fr = world["licensee"].client.get(url, {"lang": "fr"}).json()
    assert f"Note de {name} aux licenciés{NB}: «{NB}{NOTE}{NB}»" in fr["works"][0]["sentences"]
    # The rule's owner reads its own note; an auditor too.
    assert NOTE in json.dumps(world["label"].client.get(url).json())
    assert NOTE in json.dumps(caller(PartyKind.AUDITOR).client.get(url).json())
    # A rule that did not match this licensee's question: its note is not said.
    other = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "stems", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    shown = world["licensee"].client.get(f"/api/v1/decisions/{other['id']}/explanation/")
    assert NOTE not in json.dumps(shown.json())
    assert made["note"] == NOTE


def test_a_rules_note_is_not_shown_to_another_holder_of_the_work(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["train"], effect="allow", note=NOTE)
    rule(world["artist"], scope="all_works", uses=["train"], effect="allow")
    check = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "train", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    url = f"/api/v1/decisions/{check['id']}/explanation/"
    assert NOTE in json.dumps(world["licensee"].client.get(url).json())
    artist_view = world["artist"].client.get(url)
    assert artist_view.status_code == 200
    assert NOTE not in json.dumps(artist_view.json())


@pytest.mark.parametrize(
    "how",
    [{"QUERY_STRING": "lang=fr"}, {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9,en;q=0.5"}],
    ids=["query", "header"],
)
def test_error_bodies_are_wholly_french_when_french_is_asked(world, how) -> None:  # type: ignore[no-untyped-def]
    client = world["licensee"].client
    missing = client.get("/api/v1/decisions/00000000-0000-0000-0000-000000000000/", **how)
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "not_found",
        "message": "Introuvable, ou vous n’y avez pas accès.",
        "fields": {},
    }
    assert missing["Content-Language"] == "fr"
    invalid = client.post("/api/v1/checks/", {"use": "train"}, format="json", **how)
    assert invalid.status_code == 400
    body = invalid.json()
    assert body["code"] == "invalid"
    assert body["message"] == f"Données invalides{NB}: voir le champ item."
    assert body["fields"] == {"item": ["Ce champ est obligatoire."]}
    nowhere = client.get("/api/v1/nothing-here/", **how)
    assert nowhere.status_code == 404
    assert nowhere.json()["message"] == "Introuvable, ou vous n’y avez pas accès."
    refused = world["label"].client.post(
        "/api/v1/checks/", {"use": "train", "item": {"isrc": ISRC}}, format="json", **how
    )
    assert refused.status_code == 403
    assert refused.json()["message"] == "Vous n’avez pas le droit de faire cela."


def test_error_bodies_stay_english_by_default(world) -> None:  # type: ignore[no-untyped-def]
    client = world["licensee"].client
    invalid = client.post("/api/v1/checks/", {"use": "train"}, format="json")
    assert invalid.json()["message"] == "Invalid input: item: This field is required."
    german = client.get("/api/v1/nothing-here/", HTTP_ACCEPT_LANGUAGE="de")
    assert german.json()["message"] == "Nothing at /api/v1/nothing-here/."
    bad_lang = client.get("/api/v1/decisions/00000000-0000-0000-0000-000000000000/explanation/",
                          {"lang": "de"})  # fmt: skip
    assert bad_lang.status_code == 400
    assert bad_lang.json()["fields"] == {"lang": ["must be en or fr"]}
