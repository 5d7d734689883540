"""Items that carry text (issue 15): a prompt (``{"text": ...}``) that names a registered
artist is decided on that artist's likeness, by the artist's likeness rules; lyrics
(``{"lyrics": ...}``) that are a registered work's are decided as that work; nothing matched is
``no_match`` with what was searched in the trace; empty or oversized text is a 400 naming the
item. Checks and use-requests alike, on the demo data too."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from governance import tasks
from governance.content import text
from governance.demo import demo_seed
from governance.models import Decision, PartyKind, RequestItem, UseRequest
from governance.services import outbox
from ledger.models import PendingEntry
from tests.factories import caller
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

LYRICS = (
    "Frère Jacques, frère Jacques,\nDormez-vous? Dormez-vous?\n\n"
    "Sonnez les matines! Sonnez les matines!\nDing, daing, dong. Ding, daing, dong."
)


def check(who: Any, use: str, item: dict[str, Any]) -> Any:
    return who.client.post("/api/v1/checks/", {"use": use, "item": item}, format="json")


def decided(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.json()
    return dict(response.json())


def ledgered(decision_id: str) -> dict[str, Any]:
    for row in PendingEntry.objects.filter(kind="decision"):
        payload = json.loads(bytes(row.data))["payload"]
        if payload["decision"] == decision_id:
            return dict(payload)
    raise AssertionError(f"decision {decision_id} is not ledgered")


def explained(who: Any, decision_id: str, lang: str) -> dict[str, Any]:
    response = who.client.get(f"/api/v1/decisions/{decision_id}/explanation/?lang={lang}")
    assert response.status_code == 200, response.json()
    return dict(response.json())


def test_a_prompt_naming_an_artist_is_decided_by_the_artists_likeness_rule(
    world: dict[str, Any],
) -> None:
    ada = world["artist"]
    rule(ada, scope="likeness", uses=["style"], effect="deny", note="Not my style.")
    prompt = "une chanson dans le style de Ada Vale"
    body = decided(check(world["licensee"], "style", {"text": prompt}))

    assert (body["outcome"], body["code"]) == ("deny", "consent.denied_by_rule")
    trace = body["trace"]
    assert trace["works"] == []
    (artist,) = trace["artists"]
    assert (artist["artist"], artist["name"]) == (str(ada.party.pk), "Ada Vale")
    (match,) = artist["matches"]
    assert match["space"] == "text"
    assert (match["model"], match["model_version"]) == (text.MODEL, text.VERSION)
    assert (match["label"], match["span"]) == ("Ada Vale", "Ada Vale")
    assert match["score"] >= match["threshold"] == text.THRESHOLD
    assert artist["rights"][0]["holders"][0]["rule"]["version"] == 1

    entry = ledgered(body["id"])
    assert entry["content_sha256"] == hashlib.sha256(prompt.encode()).hexdigest()
    assert entry["content"] == {
        "space": "text", "kind": "prompt", "model": text.MODEL, "model_version": text.VERSION
    }  # fmt: skip
    assert entry["artists"][0]["artist"] == str(ada.party.pk)
    assert "span" not in entry["artists"][0]["matches"][0]
    assert len(entry["rule_versions"]) == 1
    item = RequestItem.objects.get(decision__pk=body["id"])
    assert prompt not in json.dumps(item.vectors)  # the prompt itself is not kept

    en = explained(world["licensee"], body["id"], "en")
    (sentences,) = [w["sentences"] for w in en["works"]]
    assert sentences[0].startswith("Your prompt names Ada Vale: its words “Ada Vale” match")
    assert "(threshold 0.90)" in sentences[0]
    fr = explained(world["licensee"], body["id"], "fr")
    assert fr["works"][0]["sentences"][0].startswith("Votre prompt nomme Ada Vale")
    # The artist whose likeness it was sees the decision, and it in their insights.
    assert ada.client.get(f"/api/v1/decisions/{body['id']}/").status_code == 200
    (seen,) = ada.client.get("/api/v1/insights/").json()["likeness_matches"]
    assert (seen["decision"], seen["label"], seen["use"]) == (body["id"], "Ada Vale", "style")
    assert world["label"].client.get("/api/v1/insights/").json()["likeness_matches"] == []


def test_a_misspelt_name_in_another_language_still_finds_the_artist(
    world: dict[str, Any],
) -> None:
    rule(world["artist"], scope="likeness", uses=["style"], effect="allow")
    body = decided(check(world["licensee"], "style", {"text": "ein Lied im Stil von Ada Valle"}))
    assert body["outcome"] == "allow"
    (match,) = body["trace"]["artists"][0]["matches"]
    assert (match["label"], match["span"]) == ("Ada Vale", "Ada Valle")
    assert match["score"] < 1.0


def test_an_alias_names_the_artist(world: dict[str, Any]) -> None:
    ada = world["artist"]
    url = f"/api/v1/parties/{ada.party.pk}/likeness/"
    assert ada.client.patch(url, {"aliases": ["Lady Northwind"]}, format="json").status_code == 200
    body = decided(check(world["licensee"], "voice", {"text": "sing it like Lady Northwind"}))
    assert body["trace"]["artists"][0]["matches"][0]["label"] == "Lady Northwind"
    assert body["code"] == "consent.opt_in_default"


def test_an_unregistered_artist_is_no_match_saying_what_was_searched(
    world: dict[str, Any],
) -> None:
    body = decided(check(world["licensee"], "style", {"text": "a song in the style of Daft Punk"}))
    assert (body["outcome"], body["code"]) == ("no_match", "match.none")
    searched = body["trace"]["searched"]
    assert (searched["space"], searched["kind"], searched["model_version"]) == (
        "text", "prompt", text.VERSION,
    )  # fmt: skip
    assert searched["spans"] > 0
    assert searched["threshold"] == text.THRESHOLD
    assert "artists" not in body["trace"]
    en = explained(world["licensee"], body["id"], "en")
    assert en["summary"].startswith("Your prompt names no registered artist (text, ")


@pytest.mark.parametrize(
    ("item", "field", "reason"),
    [
        ({"text": ""}, "item.text", "empty"),
        ({"text": "   "}, "item.text", "empty"),
        ({"text": "x " * 1_001}, "item.text", "too_long"),
        ({"text": " ".join(["word"] * 65)}, "item.text", "too_long"),
        ({"text": 42}, "item.text", "must be a string"),
        ({"lyrics": ""}, "item.lyrics", "empty"),
        ({"lyrics": "la " * 7_000}, "item.lyrics", "too_long"),
    ],
)
def test_empty_or_oversized_text_is_a_400_naming_the_item(
    world: dict[str, Any], item: dict[str, Any], field: str, reason: str
) -> None:
    response = check(world["licensee"], "style", item)
    assert response.status_code == 400, response.json()
    assert reason in response.json()["fields"][field][0]
    assert not Decision.objects.exists()


def test_a_request_item_that_is_not_a_licensees_is_refused(world: dict[str, Any]) -> None:
    response = check(world["artist"], "style", {"text": "in the style of Ada Vale"})
    assert response.status_code == 403


def hand_in_lyrics(world: dict[str, Any]) -> None:
    with mock.patch.object(outbox, "broker_send"):
        response = world["label"].client.post(
            f"/api/v1/works/{world['work']['id']}/content/", {"lyrics": LYRICS},
            format="multipart",
        )  # fmt: skip
    assert response.status_code == 202, response.json()
    assert tasks.fingerprint_content.apply(args=[response.json()["id"]]).get() == "completed"


def test_lyrics_of_a_registered_work_are_decided_as_that_work(world: dict[str, Any]) -> None:
    hand_in_lyrics(world)
    rule(world["label"], scope="all_works", uses=["lyrics"], effect="allow")
    stanza = "Sonnez les matines! Sonnez les matines!\nDing, daing, dong. Ding, daing, dong."
    body = decided(check(world["licensee"], "lyrics", {"lyrics": stanza}))
    assert body["outcome"] == "allow"
    (work,) = body["trace"]["works"]
    assert work["work"] == world["work"]["id"]
    assert work["required_rights"] == ["publishing"]
    (match,) = work["matches"]
    assert (match["space"], match["model_version"]) == ("text", text.VERSION)
    assert match["score"] >= match["threshold"] == text.LYRICS_THRESHOLD
    en = explained(world["licensee"], body["id"], "en")
    assert en["works"][0]["sentences"][0].startswith("Your lyrics are those of “Northern Lights”")
    # Lyrics hold the words alone: whatever the use, the lyrics row of the matrix says whose
    # consent is needed (training on them needs no master or performer consent).
    rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    train = decided(check(world["licensee"], "train", {"lyrics": stanza}))
    (work,) = train["trace"]["works"]
    assert (work["required_rights"], work["rights_use"]) == (["publishing"], "lyrics")
    assert train["outcome"] == "allow"
    assert ledgered(train["id"])["works"][0]["rights_use"] == "lyrics"


def test_lyrics_nobody_registered_are_no_match(world: dict[str, Any]) -> None:
    hand_in_lyrics(world)
    other = (
        "Row, row, row your boat\nGently down the stream\nMerrily, merrily, merrily\n"
        "Life is but a dream"
    )
    body = decided(check(world["licensee"], "lyrics", {"lyrics": other}))
    assert body["outcome"] == "no_match"
    assert body["trace"]["searched"]["kind"] == "lyrics"
    assert body["trace"]["searched"]["stanzas"] == 1


def test_a_use_request_decides_text_items_beside_identifiers(world: dict[str, Any]) -> None:
    rule(world["artist"], scope="likeness", uses=["train"], effect="review")
    rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["train"], effect="allow")
    body = submit(
        world["licensee"], use="train",
        items=[{"isrc": ISRC}, {"text": "train on songs like Ada Vale's"},
               {"text": "ambient piano, no vocals"}],
    )  # fmt: skip
    tasks.decide_request.apply(args=[body["id"]]).get()
    request = UseRequest.objects.get(pk=body["id"])
    assert request.summary == {"allow": 1, "review": 1, "no_match": 1}
    # Ada's all_works allow speaks for her recording, not for her name: the likeness rule does.
    named = Decision.objects.get(request=request, item__position=1)
    assert named.code == "consent.review"
    assert named.trace["artists"][0]["name"] == "Ada Vale"
    # The review waits for Ada alone; her answer settles the decision.
    assert world["label"].client.get("/api/v1/reviews/").json()["count"] == 0
    (review,) = world["artist"].client.get("/api/v1/reviews/").json()["results"]
    approved = world["artist"].client.post(
        f"/api/v1/reviews/{review['id']}/approve/", {"reason": "Fine by me."}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    named.refresh_from_db()
    assert named.settled_outcome == "allow"


def test_a_json_lines_manifest_takes_text_items(world: dict[str, Any]) -> None:
    rule(world["artist"], scope="likeness", uses=["style"], effect="deny")
    lines = "\n".join(json.dumps(i) for i in ({"text": "in the style of Ada Vale"},))
    manifest = SimpleUploadedFile("m.jsonl", lines.encode(), content_type="application/jsonl")
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "style", "manifest": manifest}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    assert UseRequest.objects.get(pk=response.json()["id"]).summary == {"deny": 1}


def test_on_the_demo_data_a_prompt_naming_ada_vale_is_refused_voice_by_her_rule(
    tmp_path: Path,
) -> None:
    creds, _ = demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    sonora = next(c for c in creds if c.key == "licensee")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {sonora.token}")

    def ask(use: str, prompt: str) -> dict[str, Any]:
        response = client.post(
            "/api/v1/checks/", {"use": use, "item": {"text": prompt}}, format="json"
        )
        assert response.status_code == 200, response.json()
        return dict(response.json())

    voice = ask("voice", "une chanson avec la voix de Ada Vale")
    assert (voice["outcome"], voice["code"]) == ("deny", "consent.denied_by_rule")
    assert voice["trace"]["artists"][0]["name"] == "Ada Vale"
    # Ada set no likeness rule for style: her opt-in default refuses it.
    style = ask("style", "une chanson dans le style de Ada Vale")
    assert (style["outcome"], style["code"]) == ("deny", "consent.opt_in_default")
    milo = ask("style", "quelque chose comme Milo Reyez")  # misspelt
    assert milo["trace"]["artists"][0]["name"] == "Milo Reyes"
    assert ask("style", "dans le style de Stromae")["outcome"] == "no_match"


def test_a_prompt_naming_two_artists_needs_both_their_consents(world: dict[str, Any]) -> None:
    milo = caller(PartyKind.ARTIST, name="Milo Reyes")
    rule(milo, scope="likeness", uses=["style"], effect="allow")
    rule(world["artist"], scope="likeness", uses=["style"], effect="deny")
    prompt = "un mélange de Ada Vale et de Milo Reyes"
    body = decided(check(world["licensee"], "style", {"text": prompt}))
    assert {a["name"] for a in body["trace"]["artists"]} == {"Ada Vale", "Milo Reyes"}
    assert (body["outcome"], body["code"]) == ("deny", "consent.denied_by_rule")
    assert body["reason"].startswith("Ada Vale's likeness: Ada Vale denied it")
    rule(world["artist"], scope="likeness", uses=["style"], effect="allow")
    # (the deny stays: deny overrides the new allow of the same owner)
    assert decided(check(world["licensee"], "style", {"text": prompt}))["outcome"] == "deny"
