"""The pipeline's promises: the outbox survives a broker outage, callbacks are signed and
retried with every attempt recorded, and decisions replay from the ledger alone."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from governance import tasks
from governance.models import CallbackAttempt, Outbox, RightsShare
from governance.replay import replay
from governance.services import callbacks
from governance.services.outbox import outbox_dispatch
from ledger import services as ledger_services
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db


def test_a_broker_outage_loses_nothing_the_outbox_is_sent_when_it_returns(world) -> None:  # type: ignore[no-untyped-def]
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    row = Outbox.objects.get(args=[body["id"]])
    assert row.dispatched_at is None  # on-commit did not run inside the test's transaction

    def broker_down(task: str, args: list[Any]) -> None:
        raise ConnectionRefusedError("broker down")

    assert outbox_dispatch(send=broker_down) == 0
    row.refresh_from_db()
    assert (row.dispatched_at, row.attempts) == (None, 1)
    sent: list[tuple[str, list[Any]]] = []
    assert outbox_dispatch(send=lambda task, args: sent.append((task, args))) == 1
    assert sent == [("governance.decide_request", [body["id"]])]
    row.refresh_from_db()
    assert row.dispatched_at is not None
    assert outbox_dispatch(send=lambda task, args: sent.append((task, args))) == 0


def test_a_broker_outage_loses_no_job_of_any_kind_the_relay_sends_them_all(world, receiver) -> None:  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from governance.services import outbox

    url, _ = receiver
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    # Given jobs of every kind written while the broker is unreachable: a request to decide,
    # the chunks of a manifest and the callback of a decided request (enqueued by a worker),
    # and a catalog import,
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}], callback_url=url)
    tasks.decide_request.apply(args=[body["id"]]).get()
    manifest = SimpleUploadedFile("m.csv", ("isrc\n" + f"{ISRC}\n" * 1001).encode())
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": manifest}, format="multipart"
    )
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    catalog = SimpleUploadedFile("c.csv", b"kind,isrc,title\nrecording,USRC17607839,A\n")
    job = world["label"].client.post("/api/v1/imports/", {"file": catalog}).json()
    waiting = set(Outbox.objects.filter(dispatched_at__isnull=True).values_list("task", flat=True))
    assert waiting == {"governance.decide_request", "governance.decide_chunk",
                       "governance.deliver_callback", "governance.run_import"}  # fmt: skip
    count = Outbox.objects.filter(dispatched_at__isnull=True).count()

    def broker_down(task: str, args: list[Any]) -> None:
        raise ConnectionRefusedError("broker down")

    # the relay keeps them all while the broker is down,
    with mock.patch.object(outbox, "broker_send", broker_down):
        call_command("outbox_relay", "--once", "--older-than", "0")
    assert Outbox.objects.filter(dispatched_at__isnull=True).count() == count
    # and sends each once, oldest first, when it is back.
    sent: list[tuple[str, list[Any]]] = []
    with mock.patch.object(outbox, "broker_send", lambda task, args: sent.append((task, args))):
        call_command("outbox_relay", "--once", "--older-than", "0")
        call_command("outbox_relay", "--once", "--older-than", "0")
    assert len(sent) == count
    assert {task for task, _ in sent} == waiting
    assert ("governance.run_import", [job["id"]]) in sent
    assert not Outbox.objects.filter(dispatched_at__isnull=True).exists()


def test_a_completed_request_is_called_back_signed_with_hmac(world, receiver) -> None:  # type: ignore[no-untyped-def]
    url, handler = receiver
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}], callback_url=url)
    tasks.decide_request.apply(args=[body["id"]]).get()
    assert Outbox.objects.filter(task="governance.deliver_callback").exists()
    assert tasks.deliver_callback.apply(args=[body["id"]]).get() == 200
    headers, raw = handler.received[0]
    secret = callbacks.callback_secret(party=world["licensee"].party)
    expected = hmac.new(
        secret.encode(), f"{headers['X-Consentry-Timestamp']}.".encode() + raw, hashlib.sha256
    ).hexdigest()
    assert headers["X-Consentry-Signature"] == f"sha256={expected}"
    assert json.loads(raw)["summary"] == {"allow": 1}
    assert world["licensee"].client.get("/api/v1/callback-secret/").json()["secret"] == secret


def test_a_failing_callback_is_retried_and_every_attempt_recorded(world, receiver) -> None:  # type: ignore[no-untyped-def]
    url, handler = receiver
    handler.status = 503
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}], callback_url=url)
    tasks.decide_request.apply(args=[body["id"]]).get()
    # Called directly, the task raises what a worker would retry (with backoff, 8 times).
    with pytest.raises(callbacks.CallbackFailed, match="HTTP 503"):
        tasks.deliver_callback(body["id"])
    assert tasks.deliver_callback.max_retries == 8
    handler.status = 200
    assert tasks.deliver_callback(body["id"]) == 200
    attempts = list(
        CallbackAttempt.objects.order_by("attempt").values_list("attempt", "status_code")
    )
    assert attempts == [(1, 503), (2, 200)]


def test_decisions_replay_from_the_ledger_and_a_change_behind_its_back_shows(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    client = world["licensee"].client
    assert (
        client.post(
            "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
        ).json()["outcome"]
        == "allow"
    )
    ledger_services.integrate_all(now=timezone.now())
    assert replay() == (1, [])
    # Someone moves the master share to another party in the database, not through the
    # services (so not in the ledger): the next decision uses it, and its replay differs.
    other = world["artist"].party
    RightsShare.objects.filter(right="master").update(holder=other)
    assert (
        client.post(
            "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
        ).json()["outcome"]
        == "deny"
    )
    ledger_services.integrate_all(now=timezone.now())
    count, differences = replay()
    assert count == 2
    assert [(d.ledgered, d.replayed) for d in differences] == [("deny", "allow")]


def test_a_callback_to_a_private_address_is_refused_outside_the_embedded_mode(  # type: ignore[no-untyped-def]
    world, settings
) -> None:
    settings.CALLBACK_ALLOW_PRIVATE = False
    urls = [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
    ]
    for url in urls:
        data = {"use": "analyze", "items": [{"isrc": ISRC}], "callback_url": url}
        response = world["licensee"].client.post("/api/v1/use-requests/", data, format="json")
        assert response.status_code == 400, url
        assert "not a public address" in response.json()["fields"]["callback_url"][0]
    assert callbacks.callback_address_problem("https://93.184.215.14/hook") is None


def test_a_callback_re_pointed_to_a_private_address_is_not_delivered(
    world, receiver, settings
) -> None:  # type: ignore[no-untyped-def]
    url, handler = receiver
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}], callback_url=url)
    tasks.decide_request.apply(args=[body["id"]]).get()
    settings.CALLBACK_ALLOW_PRIVATE = False
    assert tasks.deliver_callback(body["id"]) == 0
    assert handler.received == []
    attempt = CallbackAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("refused: host")


def test_dispatched_outbox_rows_are_pruned_after_a_while(world) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from governance.services.outbox import outbox_prune

    submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    old = timezone.now() - dt.timedelta(days=8)
    Outbox.objects.update(dispatched_at=old)
    submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])  # not yet dispatched
    assert outbox_prune(older_than=dt.timedelta(days=7), now=timezone.now()) == 1
    assert Outbox.objects.count() == 1


def test_a_request_stalled_for_half_an_hour_is_handed_to_the_workers_again(world) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from governance.models import UseRequest
    from governance.services.requests import stalled_requests_redispatch

    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    fresh = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    UseRequest.objects.filter(pk=body["id"]).update(
        created_at=timezone.now() - dt.timedelta(hours=1)
    )
    before = Outbox.objects.filter(args=[body["id"]]).count()
    assert (
        stalled_requests_redispatch(stalled_for=dt.timedelta(minutes=30), now=timezone.now()) == 1
    )
    assert Outbox.objects.filter(args=[body["id"]]).count() == before + 1
    assert Outbox.objects.filter(args=[fresh["id"]]).count() == 1
    tasks.decide_request.apply(args=[body["id"]]).get()  # decided once, then nothing is stalled
    assert (
        stalled_requests_redispatch(stalled_for=dt.timedelta(minutes=30), now=timezone.now()) == 0
    )


def test_a_chunk_that_cannot_be_decided_becomes_error_outcomes_and_completes(
    world, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from governance import evaluation
    from governance.models import Decision, UseRequest

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(evaluation, "evaluate_item", broken)
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}, {"isrc": ISRC}])
    tasks.decide_request.apply(args=[body["id"]]).get()
    request = UseRequest.objects.get(pk=body["id"])
    assert (request.status, request.summary) == ("completed", {"error": 2})
    decision = Decision.objects.filter(request=request).first()
    assert decision is not None
    assert decision.code == "item.failed"
    assert "KeyError" in decision.reason
