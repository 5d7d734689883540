"""A licensee's reads of its requests (issue 13 item 12): the status page's items paged by
cursor and filtered by outcome, the results filtered and paged, the request list filtered by
kind, and ``Retry-After`` while a request is not completed. A bad value is a 400 naming the
parameter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from governance import tasks
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

UNREGISTERED = "USRC17600001"  # well-formed, registered nowhere: no_match


def decided(world: dict[str, Any], items: list[dict[str, str]]) -> dict[str, Any]:
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    body = submit(world["licensee"], use="analyze", items=items)
    tasks.decide_request.apply(args=[body["id"]]).get()
    return body


def test_the_status_page_pages_its_items_by_cursor(world) -> None:  # type: ignore[no-untyped-def]
    body = decided(world, [{"isrc": ISRC}, {"isrc": UNREGISTERED}, {"isrc": ISRC}])
    client = world["licensee"].client
    first = client.get(body["status_url"], {"page_size": 2}).json()
    assert [i["item"] for i in first["items"]] == [0, 1]
    assert first["items_next"]
    second = client.get(first["items_next"]).json()
    assert [i["item"] for i in second["items"]] == [2]
    assert second["items_next"] is None
    whole = client.get(body["status_url"]).json()
    assert [i["item"] for i in whole["items"]] == [0, 1, 2]


def test_items_and_results_filter_by_outcome(world) -> None:  # type: ignore[no-untyped-def]
    body = decided(world, [{"isrc": ISRC}, {"isrc": UNREGISTERED}, {"isrc": ISRC}])
    client = world["licensee"].client
    status = client.get(body["status_url"], {"outcome": "no_match"}).json()
    assert [(i["item"], i["outcome"]) for i in status["items"]] == [(1, "no_match")]
    results = client.get(f"{body['status_url']}results/", {"outcome": "allow"})
    lines = [json.loads(line) for line in b"".join(results.streaming_content).splitlines()]
    assert [(r["item"], r["outcome"]) for r in lines] == [(0, "allow"), (2, "allow")]


def test_results_are_paged_with_a_link_to_the_next_page(world) -> None:  # type: ignore[no-untyped-def]
    body = decided(world, [{"isrc": ISRC}, {"isrc": UNREGISTERED}, {"isrc": ISRC}])
    client = world["licensee"].client
    page = client.get(f"{body['status_url']}results/", {"page_size": 2, "outcome": "allow"})
    assert [json.loads(x)["item"] for x in b"".join(page.streaming_content).splitlines()] == [0, 2]
    assert "Link" not in page  # both allowed items fit: no next page
    page = client.get(f"{body['status_url']}results/", {"page_size": 1})
    assert [json.loads(x)["item"] for x in b"".join(page.streaming_content).splitlines()] == [0]
    link = page["Link"]
    assert link.endswith('>; rel="next"')
    nxt = client.get(link[1 : link.index(">")])
    assert [json.loads(x)["item"] for x in b"".join(nxt.streaming_content).splitlines()] == [1]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"outcome": "maybe"}, "outcome"), ({"cursor": "not-a-cursor"}, "cursor")],
)
def test_a_bad_outcome_or_cursor_is_a_400_naming_it(world, params, field) -> None:  # type: ignore[no-untyped-def]
    body = decided(world, [{"isrc": ISRC}])
    client = world["licensee"].client
    for url in (body["status_url"], f"{body['status_url']}results/"):
        response = client.get(url, params)
        assert response.status_code == 400, url
        assert field in response.json()["fields"], response.json()


def test_the_request_list_filters_checks_from_requests(world) -> None:  # type: ignore[no-untyped-def]
    body = decided(world, [{"isrc": ISRC}])
    client = world["licensee"].client
    check = client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    ).json()
    checks = client.get("/api/v1/use-requests/", {"kind": "checks"}).json()["results"]
    requests = client.get("/api/v1/use-requests/", {"kind": "requests"}).json()["results"]
    assert [r["id"] for r in checks] == [check["request"]]
    assert [r["id"] for r in requests] == [body["id"]]
    bad = client.get("/api/v1/use-requests/", {"kind": "jobs"})
    assert bad.status_code == 400
    assert "kind" in bad.json()["fields"]


def test_retry_after_on_the_202_and_while_the_request_runs_not_once_completed(world) -> None:  # type: ignore[no-untyped-def]
    client = world["licensee"].client
    accepted = client.post(
        "/api/v1/use-requests/", {"use": "analyze", "items": [{"isrc": ISRC}]}, format="json"
    )
    assert accepted.status_code == 202
    assert int(accepted["Retry-After"]) >= 1
    running = client.get(accepted["Location"])
    assert running.json()["status"] == "received"
    assert int(running["Retry-After"]) >= 1
    tasks.decide_request.apply(args=[accepted.json()["id"]]).get()
    completed = client.get(accepted["Location"])
    assert completed.json()["status"] == "completed"
    assert "Retry-After" not in completed
