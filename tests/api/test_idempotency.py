"""``Idempotency-Key`` under concurrency (issue 13, item 11): many POSTs with one key at once,
through real threads, connections and commits, store one request (and for a check one decision
and one ledger entry) and answer each with it; never a 500. Another body with a used key is a
409."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from governance.models import Decision, Outbox, PartyKind, UseRequest
from ledger.models import PendingEntry
from tests.committed import all_at_once, on_own_connection
from tests.factories import Caller, caller
from tests.world import ISRC

pytestmark = pytest.mark.django_db

THREADS = 12


def a_registered_recording() -> tuple[Caller, Caller]:
    """A label's recording with every share, an allowing rule, and a licensee (committed)."""
    label = caller(PartyKind.LABEL)
    licensee = caller(PartyKind.LICENSEE)
    song = {"kind": "recording", "title": "Northern Lights", "isrc": ISRC}
    work = label.client.post("/api/v1/works/", song, format="json").json()
    for right in ("master", "publishing", "performer"):
        share = {"work": work["id"], "holder": str(label.party.pk), "right": right, "share": "100"}
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    rule = {"scope": "all_works", "uses": ["analyze"], "effect": "allow"}
    assert label.client.post("/api/v1/consent/rules/", rule, format="json").status_code == 201
    return label, licensee


def post_as(who: Caller, url: str, body: dict[str, Any], key: str) -> Any:
    client = APIClient(raise_request_exception=False)  # one per thread; a 500 is an answer
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {who.secret}")
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def answers(results: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    return [(r.status_code, r.json()) for r in results]


def test_concurrent_requests_with_one_key_store_one_request_and_answer_it_to_each(
    committed: None,
) -> None:
    _, licensee = on_own_connection(a_registered_recording)
    body = {"use": "analyze", "items": [{"isrc": ISRC}]}
    got = answers(all_at_once(
        lambda: post_as(licensee, "/api/v1/use-requests/", body, "burst-1"), threads=THREADS
    ))  # fmt: skip
    codes = sorted(code for code, _ in got)
    assert codes == [200] * (THREADS - 1) + [202], got
    assert len({data["id"] for _, data in got}) == 1
    request = UseRequest.objects.get(licensee=licensee.party)
    assert request.idempotency_key == "burst-1"
    assert str(request.pk) == got[0][1]["id"]
    assert Outbox.objects.filter(args=[str(request.pk)]).count() == 1


def test_a_used_key_with_another_body_is_a_409_and_stores_nothing(committed: None) -> None:
    _, licensee = on_own_connection(a_registered_recording)
    body = {"use": "analyze", "items": [{"isrc": ISRC}]}
    first = on_own_connection(lambda: post_as(licensee, "/api/v1/use-requests/", body, "k"))
    assert first.status_code == 202
    other = {**body, "use": "train"}
    got = answers(all_at_once(
        lambda: post_as(licensee, "/api/v1/use-requests/", other, "k"), threads=4
    ))  # fmt: skip
    assert [code for code, _ in got] == [409] * 4
    assert {data["code"] for _, data in got} == {"conflict"}
    assert UseRequest.objects.filter(licensee=licensee.party).count() == 1


@pytest.mark.parametrize("group_commit", [True, False], ids=["batched", "one_per_transaction"])
def test_concurrent_checks_with_one_key_decide_once_and_answer_that_decision_to_each(
    committed: None, group_commit: bool
) -> None:
    """Batched, the checks with one key collapse to one inside a batch and later batches find
    it; one per transaction, the transactions serialise on the key."""
    _, licensee = on_own_connection(a_registered_recording)
    body = {"use": "analyze", "item": {"isrc": ISRC}}
    with override_settings(CHECKS_GROUP_COMMIT=group_commit):
        got = answers(all_at_once(
            lambda: post_as(licensee, "/api/v1/checks/", body, "check-1"), threads=THREADS
        ))  # fmt: skip
    assert [code for code, _ in got] == [200] * THREADS, got
    assert len({data["id"] for _, data in got}) == 1
    assert len({data["request"] for _, data in got}) == 1
    assert {data["outcome"] for _, data in got} == {"allow"}
    request = UseRequest.objects.get(licensee=licensee.party)
    assert (request.kind, request.idempotency_key) == ("check", "check-1")
    decision = Decision.objects.get(request__licensee=licensee.party)
    assert str(decision.pk) == got[0][1]["id"]
    assert PendingEntry.objects.filter(kind="decision").count() == 1


def test_a_check_retried_with_its_key_answers_the_first_decision(committed: None) -> None:
    _, licensee = on_own_connection(a_registered_recording)
    body = {"use": "analyze", "item": {"isrc": ISRC}}
    first = on_own_connection(lambda: post_as(licensee, "/api/v1/checks/", body, "again"))
    again = on_own_connection(lambda: post_as(licensee, "/api/v1/checks/", body, "again"))
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    other = on_own_connection(
        lambda: post_as(licensee, "/api/v1/checks/", {**body, "use": "train"}, "again")
    )
    assert other.status_code == 409
    assert Decision.objects.filter(request__licensee=licensee.party).count() == 1


def test_a_check_cannot_reuse_the_key_of_a_request(committed: None) -> None:
    _, licensee = on_own_connection(a_registered_recording)
    request = {"use": "analyze", "items": [{"isrc": ISRC}]}
    check = {"use": "analyze", "item": {"isrc": ISRC}}
    sent = on_own_connection(lambda: post_as(licensee, "/api/v1/use-requests/", request, "one"))
    assert sent.status_code == 202
    reused = on_own_connection(lambda: post_as(licensee, "/api/v1/checks/", check, "one"))
    assert reused.status_code == 409
    assert UseRequest.objects.filter(licensee=licensee.party).count() == 1


def test_checks_with_one_key_in_one_batch_are_decided_once(world) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from governance.access import Actor
    from governance.exceptions import Conflict
    from governance.services import checks
    from governance.services.request_specs import item_spec, request_spec
    from tests.world import rule

    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    licensee = world["licensee"]
    actor = Actor(user=licensee.token.user, party=licensee.party, role=licensee.token.role)

    def job(use: str, key: str | None) -> checks.CheckJob:
        return checks.CheckJob(
            actor=actor,
            spec=request_spec({"use": use}),
            item=item_spec({"isrc": ISRC}, name="item", spaces={}),
            received_at=timezone.now(),
            idempotency_key=key,
        )

    jobs = [job("analyze", "a"), job("analyze", None), job("analyze", "a"), job("train", "a")]
    results = checks.checks_decide_once(jobs, now=timezone.now())
    assert isinstance(results[0], Decision)
    assert results[2] is results[0]
    assert isinstance(results[1], Decision)
    assert results[1].pk != results[0].pk
    assert isinstance(results[3], Conflict)
    assert Decision.objects.filter(request__licensee=licensee.party).count() == 2
    assert PendingEntry.objects.filter(kind="decision").count() == 2
    # A later batch finds the stored key.
    (again,) = checks.checks_decide_once([job("analyze", "a")], now=timezone.now())
    assert isinstance(again, Decision)
    assert again.pk == results[0].pk
