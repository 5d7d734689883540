"""Use requests, checks, decisions, explanations, receipts, reviews and insights over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from governance import tasks
from governance.models import Decision, Outbox, PartyKind, Review, UseRequest
from governance.services import spaces as space_services
from governance.services.requests import CHUNK
from ledger import services as ledger_services
from ledger.models import PendingEntry
from tests.factories import caller
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db


def run(request_id: str) -> dict[str, Any]:
    tasks.decide_request.apply(args=[request_id]).get()
    return UseRequest.objects.get(pk=request_id).summary


def test_a_request_is_stored_with_its_outbox_and_decided_by_the_task(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}], territories=["FR"])
    assert body["status"] == "received"
    assert Outbox.objects.filter(task="governance.decide_request", args=[body["id"]]).exists()
    assert run(body["id"]) == {"allow": 1}
    status = world["licensee"].client.get(body["status_url"]).json()
    assert status["status"] == "completed"
    assert status["outcome"] == "allow"
    assert status["items"][0]["outcome"] == "allow"
    kinds = list(PendingEntry.objects.values_list("kind", flat=True))
    assert kinds.count("decision") == 1
    # A redelivered task decides nothing twice.
    run(body["id"])
    assert Decision.objects.count() == 1
    assert list(PendingEntry.objects.values_list("kind", flat=True)).count("decision") == 1


def test_train_needs_every_required_holder_and_opt_in_denies(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    body = submit(world["licensee"], use="train", items=[{"isrc": ISRC}])
    assert run(body["id"]) == {"deny": 1}  # the artist (performer) has not consented: opt-in
    decision = Decision.objects.get()
    assert decision.code == "consent.opt_in_default", decision.trace
    rule(
        world["artist"],
        scope="all_works",
        uses=["train"],
        effect="conditional",
        licensee_mode="listed",
        licensees=[str(world["licensee"].party.pk)],
        obligations={"attribution": "Ada Vale", "ai_disclosure": True},
    )
    again = submit(world["licensee"], use="train", items=[{"isrc": ISRC}])
    assert run(again["id"]) == {"conditional": 1}
    d = Decision.objects.get(request_id=again["id"])
    assert d.obligations["attribution"] == "Ada Vale"
    assert d.obligations["ai_disclosure"] is True


def test_an_idempotency_key_returns_the_same_request(world) -> None:  # type: ignore[no-untyped-def]
    client = world["licensee"].client
    data = {"use": "analyze", "items": [{"isrc": ISRC}]}
    first = client.post("/api/v1/use-requests/", data, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    second = client.post("/api/v1/use-requests/", data, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["id"] == second.json()["id"]
    other = client.post(
        "/api/v1/use-requests/", {**data, "use": "train"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert other.status_code == 409
    assert UseRequest.objects.count() == 1


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"isrc": "NOPE"}], "items.0.isrc"),
        ([{"vectors": [{"space": "nowhere", "vector": [1.0, 0.0]}]}], "items.0.vectors.0.space"),
        ([{"vectors": [{"space": "timbre", "vector": [1.0, 0.0]}]}], "items.0.vectors.0.vector"),
        (
            [{"vectors": [{"space": "timbre", "vector": [1.0, "NaN", 0.0, 0.0]}]}],
            "items.0.vectors.0.vector",
        ),
        ([{"isrc": ISRC, "iswc": "T0345246801"}], "items.0"),
        ([], "items"),
    ],
)
def test_bad_items_are_a_400_naming_the_item(world, items, field) -> None:  # type: ignore[no-untyped-def]
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    space_services.space_create(
        user=staff, name="timbre", model="test", model_version="1", dimension=4, threshold=0.8
    )
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "train", "items": items}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert any(name == field or name.startswith(field) for name in fields), fields
    assert not UseRequest.objects.exists()


def test_vectors_match_works_above_the_spaces_threshold(world) -> None:  # type: ignore[no-untyped-def]
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    space_services.space_create(
        user=staff, name="timbre", model="test", model_version="1", dimension=4, threshold=0.9
    )
    label = world["label"]
    added = label.client.post(
        f"/api/v1/works/{world['work']['id']}/embeddings/",
        {"vectors": [{"space": "timbre", "vector": [1.0, 0.0, 0.0, 0.0]}]},
        format="json",
    )
    assert added.status_code == 201, added.json()
    rule(world["label"], scope="all_works", uses=["output"], effect="allow")
    near = submit(
        world["licensee"],
        use="output",
        items=[{"vectors": [{"space": "timbre", "vector": [0.99, 0.05, 0.0, 0.0]}]}],
    )
    far = submit(
        world["licensee"],
        use="output",
        items=[{"vectors": [{"space": "timbre", "vector": [0.0, 1.0, 0.0, 0.0]}]}],
    )
    run(near["id"])
    run(far["id"])
    near_d = Decision.objects.get(request_id=near["id"])
    assert near_d.works == [world["work"]["id"]] or [str(w) for w in near_d.works] == [
        world["work"]["id"]
    ]
    match = near_d.trace["works"][0]["matches"][0]
    assert match["space"] == "timbre"
    assert match["score"] > 0.9
    assert match["threshold"] == 0.9
    assert Decision.objects.get(request_id=far["id"]).outcome == "no_match"


def test_a_check_decides_inline_and_is_ledgered(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["outcome"] == "allow"
    assert PendingEntry.objects.filter(kind="decision").count() == 1
    assert not Outbox.objects.exists()


def test_explanation_in_english_and_french_and_a_verifiable_receipt(world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    decision = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    url = f"/api/v1/decisions/{decision['id']}/"
    en = world["licensee"].client.get(url + "explanation/").json()
    fr = world["licensee"].client.get(url + "explanation/", {"lang": "fr"}).json()
    assert en["works"][0]["sentences"]
    assert fr["works"][0]["sentences"]
    assert en["works"][0]["sentences"] != fr["works"][0]["sentences"]
    assert world["licensee"].client.get(url + "explanation/", {"lang": "de"}).status_code == 400
    ledger_services.key_register(signer=ledger_services.current_signer(), now=timezone.now())
    receipt = world["licensee"].client.get(url + "receipt/").json()
    from ledger import verify

    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    vkey = ledger_services.current_signer().verifier().key_string
    assert verify.main(["receipt", str(path), "--vkey", vkey]) == 0


def test_decisions_are_seen_by_the_licensee_the_holders_and_auditors_only(world) -> None:  # type: ignore[no-untyped-def]
    decision = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    url = f"/api/v1/decisions/{decision['id']}/"
    assert world["label"].client.get(url).status_code == 200  # a holder it consulted
    assert caller(PartyKind.AUDITOR).client.get(url).status_code == 200
    assert caller(PartyKind.LICENSEE).client.get(url).status_code == 404
    assert caller(PartyKind.LABEL).client.get(url).status_code == 404
    assert (
        world["label"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .status_code
        == 403
    )


def test_a_review_waits_for_the_holder_and_settles_the_decision(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["stems"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["stems"], effect="review")
    body = submit(world["licensee"], use="stems", items=[{"isrc": ISRC}])
    assert run(body["id"]) == {"review": 1}
    pending = world["artist"].client.get("/api/v1/reviews/").json()
    assert pending["count"] == 1
    review = pending["results"][0]
    assert (
        world["label"]
        .client.post(f"/api/v1/reviews/{review['id']}/approve/", {"reason": "x"}, format="json")
        .status_code
        == 404
    )
    assert (
        world["artist"]
        .client.post(f"/api/v1/reviews/{review['id']}/approve/", {}, format="json")
        .status_code
        == 400
    )
    done = world["artist"].client.post(
        f"/api/v1/reviews/{review['id']}/deny/", {"reason": "Not for stems."}, format="json"
    )
    assert done.status_code == 200
    assert done.json()["status"] == "denied"
    decision = Decision.objects.get()
    assert decision.final_outcome == "deny"
    assert PendingEntry.objects.filter(kind="decision_settled").count() == 1
    assert Review.objects.get().reason == "Not for stems."


def test_insights_show_holders_what_was_asked(world) -> None:  # type: ignore[no-untyped-def]
    for use in ("analyze", "train"):
        world["licensee"].client.post(
            "/api/v1/checks/", {"use": use, "item": {"isrc": ISRC}}, format="json"
        )
    body = world["artist"].client.get("/api/v1/insights/").json()
    assert body["by_use"] == {"train": 1}  # analyze needs only the master right: not hers
    label = world["label"].client.get("/api/v1/insights/").json()
    assert label["by_use"] == {"analyze": 1, "train": 1}
    assert label["top_works"][0]["requests"] == 2
    assert label["by_licensee"][0]["name"] == "Sonora AI Labs"
    assert world["licensee"].client.get("/api/v1/insights/").status_code == 403


def test_a_manifest_is_split_into_chunks_and_its_results_stream_as_jsonl(world) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    assert CHUNK == 1000
    lines = ["isrc"] + [ISRC] * 1200 + ["GBAYE0601498"]
    upload = SimpleUploadedFile("m.csv", ("\n".join(lines) + "\n").encode())
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": upload}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    request_id = response.json()["id"]
    tasks.decide_request.apply(args=[request_id]).get()
    chunks = list(
        Outbox.objects.filter(task="governance.decide_chunk").values_list("args", flat=True)
    )
    assert [a[1:] for a in chunks] == [[0, CHUNK], [CHUNK, 1201]]
    for args in chunks:
        tasks.decide_chunk.apply(args=args).get()
    result = world["licensee"].client.get(f"/api/v1/use-requests/{request_id}/results/")
    rows = [json.loads(line) for line in b"".join(result.streaming_content).splitlines()]
    assert len(rows) == 1201
    # A well-formed identifier registered nowhere is an answer (issue 13): no_match.
    assert rows[-1]["outcome"] == "no_match"
    assert "GBAYE0601498" in rows[-1]["reason"]
    assert UseRequest.objects.get(pk=request_id).summary == {"allow": 1200, "no_match": 1}


def test_a_bad_manifest_line_is_a_400_naming_the_line(world) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("m.jsonl", b'{"isrc": "USRC17607839"}\n{"isrc": "BAD"}\n')
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert "line 2" in response.json()["fields"]["manifest"][0]


def test_an_oversized_manifest_is_a_400(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    from governance.services import manifests

    monkeypatch.setattr(manifests, "MANIFEST_MAX_ITEMS", 10)
    upload = SimpleUploadedFile("m.csv", ("isrc\n" + f"{ISRC}\n" * 11).encode())
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert "more than 10 items" in response.json()["fields"]["manifest"][0]
    assert not UseRequest.objects.exists()


def test_a_check_of_an_unregistered_identifier_answers_no_match(world) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": "GBAYE0601498"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["outcome"] == "no_match"
    assert PendingEntry.objects.filter(kind="decision").count() == 1


def test_a_decision_renders_exactly_as_its_declared_serializer_fields_would(world) -> None:  # type: ignore[no-untyped-def]
    """DecisionSerializer builds its answer directly (the checks' hot path); it must stay the
    same as DRF's field-by-field rendering of the declared fields, which the schema shows."""
    from rest_framework import serializers

    from api.views.requests import DecisionSerializer

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    body = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    decision = Decision.objects.get(pk=body["id"])
    serializer = DecisionSerializer(decision)
    by_fields = serializers.ModelSerializer.to_representation(serializer, decision)
    assert json.loads(json.dumps(by_fields, default=str)) == body
    assert list(body) == DecisionSerializer.Meta.fields
