"""Callbacks as events (issue 13 item 12): one event per thing that happened, its body as it
was then; retries of an event share its id and each attempt has its own delivery id; consent
withdrawn or narrowed reaches the licensees it had allowed (status page and callback, through
the outbox); the callback secret rotates and the admin never shows it; the OpenAPI document
describes the callback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from governance import tasks
from governance.models import CallbackAttempt, Outbox, PartyKind, Role
from governance.services import callbacks
from tests.factories import caller
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db


def deliver_all() -> None:
    """Run every callback job the outbox holds, oldest first, as a worker would."""
    for row in Outbox.objects.filter(task="governance.deliver_callback").order_by("id"):
        tasks.deliver_callback(*row.args)


def test_a_settled_review_is_one_new_event_not_a_second_identical_callback(
    world, receiver, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    url, handler = receiver
    rule(world["label"], scope="all_works", uses=["stems"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["stems"], effect="review")
    body = submit(world["licensee"], use="stems", items=[{"isrc": ISRC}], callback_url=url)
    tasks.decide_request.apply(args=[body["id"]]).get()
    review = world["artist"].client.get("/api/v1/reviews/").json()["results"][0]
    with django_capture_on_commit_callbacks(execute=True):
        world["artist"].client.post(
            f"/api/v1/reviews/{review['id']}/deny/", {"reason": "No."}, format="json"
        )
    # The worker runs both jobs after the review: each sends its own event as it was.
    deliver_all()
    sent = [json.loads(raw) for _, raw in handler.received]
    assert [s["type"] for s in sent] == ["request.completed", "request.settled"]
    assert [s["items"][0]["outcome"] for s in sent] == ["review", "deny"]
    assert sent[0]["event"] != sent[1]["event"]
    assert [h["X-Consentry-Event"] for h, _ in handler.received] == [s["event"] for s in sent]


def test_retries_of_an_event_keep_its_id_and_each_attempt_has_its_own_delivery_id(
    world, receiver
) -> None:  # type: ignore[no-untyped-def]
    url, handler = receiver
    handler.status = 503
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}], callback_url=url)
    tasks.decide_request.apply(args=[body["id"]]).get()
    (row,) = Outbox.objects.filter(task="governance.deliver_callback")
    with pytest.raises(callbacks.CallbackFailed):
        tasks.deliver_callback(*row.args)
    handler.status = 200
    assert tasks.deliver_callback(*row.args) == 200
    (h1, b1), (h2, b2) = handler.received
    assert h1["X-Consentry-Event"] == h2["X-Consentry-Event"] == json.loads(b1)["event"]
    assert h1["X-Consentry-Delivery"] != h2["X-Consentry-Delivery"]
    assert b1 == b2
    attempts = CallbackAttempt.objects.order_by("attempt")
    assert [str(a.delivery) for a in attempts] == [
        h1["X-Consentry-Delivery"],
        h2["X-Consentry-Delivery"],
    ]
    assert {str(a.event_id) for a in attempts} == {h1["X-Consentry-Event"]}


def test_withdrawn_consent_reaches_the_licensee_it_allowed(world, receiver) -> None:  # type: ignore[no-untyped-def]
    url, handler = receiver
    granted = rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}], callback_url=url)
    tasks.decide_request.apply(args=[body["id"]]).get()
    other = submit(world["licensee"], use="train", items=[{"isrc": ISRC}])  # denied: not told
    tasks.decide_request.apply(args=[other["id"]]).get()
    before = Outbox.objects.filter(task="governance.deliver_callback").count()
    withdrawn = world["label"].client.post(f"/api/v1/consent/rules/{granted['rule']}/withdraw/")
    assert withdrawn.status_code == 200
    status = world["licensee"].client.get(body["status_url"]).json()
    (notice,) = status["withdrawals"]
    decision = status["items"][0]["decision"]
    assert (notice["type"], notice["rule"], notice["change"]) == (
        "consent.withdrawn",
        granted["rule"],
        "withdrawn",
    )
    assert notice["decisions"] == [decision]
    assert notice["works"] == [world["work"]["id"]]
    assert status["items"][0]["outcome"] == "allow"  # the decision stands as ledgered
    assert world["licensee"].client.get(other["status_url"]).json()["withdrawals"] == []
    # The callback goes through the outbox, never from the request path.
    assert handler.received == []
    jobs = Outbox.objects.filter(task="governance.deliver_callback").order_by("id")
    assert jobs.count() == before + 1
    tasks.deliver_callback(*jobs.last().args)  # type: ignore[union-attr]
    sent = json.loads(handler.received[-1][1])
    assert (sent["type"], sent["event"], sent["decisions"]) == (
        "consent.withdrawn",
        notice["event"],
        [decision],
    )


def test_a_rule_narrowed_away_from_the_use_is_a_withdrawal_for_its_licensee(world) -> None:  # type: ignore[no-untyped-def]
    granted = rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    tasks.decide_request.apply(args=[body["id"]]).get()
    revised = world["label"].client.put(
        f"/api/v1/consent/rules/{granted['rule']}/",
        {"scope": "all_works", "uses": ["train"], "effect": "allow"},
        format="json",
    )
    assert revised.status_code == 200, revised.json()
    (notice,) = world["licensee"].client.get(body["status_url"]).json()["withdrawals"]
    assert (notice["change"], notice["version"]) == ("narrowed", 1)


def test_the_callback_secret_rotates_for_the_licensee_admin_only(world) -> None:  # type: ignore[no-untyped-def]
    client = world["licensee"].client
    old = client.get("/api/v1/callback-secret/").json()["secret"]
    rotated = client.post("/api/v1/callback-secret/rotate/")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != old
    assert client.get("/api/v1/callback-secret/").json()["secret"] == new
    editor = caller(PartyKind.LICENSEE, role=Role.EDITOR)
    assert editor.client.post("/api/v1/callback-secret/rotate/").status_code == 403
    assert world["label"].client.post("/api/v1/callback-secret/rotate/").status_code == 403


def test_the_admin_never_shows_the_callback_secret(world) -> None:  # type: ignore[no-untyped-def]
    secret = world["licensee"].client.get("/api/v1/callback-secret/").json()["secret"]
    operator = Client()
    operator.force_login(get_user_model().objects.create_superuser("operator", password="x"))
    page = operator.get(f"/admin/governance/party/{world['licensee'].party.pk}/change/")
    assert page.status_code == 200
    assert secret not in page.content.decode()
    assert "callback_secret" not in page.content.decode()


def test_the_openapi_document_describes_the_callback(client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    create = schema["paths"]["/api/v1/use-requests/"]["post"]
    callback = create["callbacks"]["requestEvent"]["{$request.body#/callback_url}"]["post"]
    body = callback["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/CallbackEvent")
    event = schema["components"]["schemas"]["CallbackEvent"]["properties"]
    assert {"event", "type", "decisions"} <= set(event)
    for header in ("X-Consentry-Event", "X-Consentry-Delivery", "X-Consentry-Signature"):
        assert header in callback["description"]


@pytest.mark.django_db
def test_a_callback_job_for_a_request_this_database_does_not_hold_is_dropped() -> None:
    """A job whose request is unknown here (another database's job on a shared broker) is logged
    and dropped, not failed and retried."""
    import uuid

    from django.utils import timezone

    from governance.services.callbacks import callback_deliver

    assert callback_deliver(request_id=str(uuid.uuid4()), now=timezone.now()) == 0
