"""An identifier under which nothing is registered is an answer, not bad input (issue 13,
item 3): that item is ``no_match`` with the identifier in its trace, and the request's other
items are decided as usual, in a JSON request, a manifest and a check alike. A malformed
identifier (bad check digit, wrong format) is still a 400 naming the item; and replay agrees
with every such decision."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance import tasks
from governance.models import Decision, Outbox, UseRequest
from governance.replay import replay
from ledger import services as ledger_services
from tests.world import ISRC, rule

pytestmark = pytest.mark.django_db

UNKNOWN = "GBAYE0601498"  # well formed, registered nowhere


def no_match_of(decision: Decision, identifier: str) -> None:
    assert (decision.outcome, decision.code) == ("no_match", "match.none")
    assert decision.trace["identified_by"] == identifier
    assert decision.trace["works"] == []
    assert identifier.split(":", 1)[1] in decision.reason


def test_one_unknown_isrc_among_registered_ones_is_no_match_for_that_item(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    items = [{"isrc": ISRC}, {"isrc": UNKNOWN}, {"isrc": ISRC}]
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "items": items}, format="json"
    )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    decisions = list(
        Decision.objects.filter(request_id=response.json()["id"]).order_by("item__position")
    )
    assert [d.outcome for d in decisions] == ["allow", "no_match", "allow"]
    no_match_of(decisions[1], f"isrc:{UNKNOWN}")
    request = UseRequest.objects.get(pk=response.json()["id"])
    assert (request.outcome, request.summary) == ("allow", {"allow": 2, "no_match": 1})
    # What the licensee reads names the identifier too.
    body = world["licensee"].client.get(f"/api/v1/use-requests/{request.pk}/").json()
    assert any(UNKNOWN in json.dumps(item) for item in body["items"]), body["items"]


def test_an_unknown_work_id_is_no_match_and_a_malformed_one_a_400(world) -> None:  # type: ignore[no-untyped-def]
    unknown = "00000000-0000-4000-8000-000000000000"
    ok = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"work_id": unknown}]},
        format="json",
    )
    assert ok.status_code == 202, ok.json()
    tasks.decide_request.apply(args=[ok.json()["id"]]).get()
    no_match_of(Decision.objects.get(request_id=ok.json()["id"]), f"work_id:{unknown}")
    bad = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"isrc": ISRC}, {"work_id": "not-a-uuid"}]},
        format="json",
    )
    assert bad.status_code == 400
    assert "items.1.work_id" in bad.json()["fields"]


@pytest.mark.parametrize(
    ("isrc", "reason"),
    [("GBAYE060149", "12 characters"), ("GBAYE06O1498", "")],
)
def test_a_malformed_isrc_is_still_a_400_naming_the_item(world, isrc, reason) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"isrc": ISRC}, {"isrc": UNKNOWN}, {"isrc": isrc}]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body["fields"]) == {"items.2.isrc"}, body
    assert reason in body["fields"]["items.2.isrc"][0]
    assert not UseRequest.objects.exists()


def test_an_unknown_iswc_is_no_match_and_a_bad_check_digit_a_400(world) -> None:  # type: ignore[no-untyped-def]
    bad = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"iswc": "T-034.524.680-2"}]},
        format="json",
    )
    assert bad.status_code == 400
    assert "items.0.iswc" in bad.json()["fields"]
    ok = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"iswc": "T-034.524.680-1"}}, format="json"
    )
    assert ok.status_code == 200, ok.json()
    assert ok.json()["outcome"] == "no_match"


def test_an_unknown_isrc_in_a_manifest_is_no_match_not_error(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    upload = SimpleUploadedFile("m.csv", f"isrc\n{ISRC}\n{UNKNOWN}\n{ISRC}\n".encode())
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": upload}, format="multipart"
    )
    assert response.status_code == 202, response.json()
    request_id = response.json()["id"]
    tasks.decide_request.apply(args=[request_id]).get()
    for args in Outbox.objects.filter(task="governance.decide_chunk").values_list(
        "args", flat=True
    ):
        tasks.decide_chunk.apply(args=args).get()
    result = world["licensee"].client.get(f"/api/v1/use-requests/{request_id}/results/")
    rows = [json.loads(line) for line in b"".join(result.streaming_content).splitlines()]
    assert [r["outcome"] for r in rows] == ["allow", "no_match", "allow"]
    assert UNKNOWN in rows[1]["reason"]
    no_match_of(Decision.objects.get(request_id=request_id, item__position=1), f"isrc:{UNKNOWN}")
    assert UseRequest.objects.get(pk=request_id).summary == {"allow": 2, "no_match": 1}


def test_a_check_of_an_unknown_isrc_answers_no_match(world) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": UNKNOWN}}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "no_match"
    no_match_of(Decision.objects.get(pk=body["id"]), f"isrc:{UNKNOWN}")
    assert body["trace"]["identified_by"] == f"isrc:{UNKNOWN}"


def test_a_check_of_a_malformed_isrc_is_still_a_400(world) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": "GBAYE06014"}}, format="json"
    )
    assert response.status_code == 400
    assert "item.isrc" in response.json()["fields"]
    assert not UseRequest.objects.exists()


def test_no_match_decisions_replay_the_same(world: dict[str, Any]) -> None:
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    client = world["licensee"].client
    for item in ({"isrc": UNKNOWN}, {"isrc": ISRC}):
        answer = client.post("/api/v1/checks/", {"use": "analyze", "item": item}, format="json")
        assert answer.status_code == 200
    response = client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"isrc": UNKNOWN}, {"isrc": ISRC}]},
        format="json",
    )
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    ledger_services.integrate_all(now=timezone.now())
    assert sorted(Decision.objects.values_list("outcome", flat=True)) == [
        "allow", "allow", "no_match", "no_match",
    ]  # fmt: skip
    assert replay() == (4, [])
