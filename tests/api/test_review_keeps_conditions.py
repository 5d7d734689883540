"""A review settles to what the other holders' answers require: a label's ``conditional``
attribution and the artist's ``review`` on the same recording and use; the artist approves and
the decision is ``conditional`` with the label's attribution (not a bare ``allow``), in the
decision, its explanation, the status page, the callback, the settlement's ledger entry and
replay. A holder's ``deny`` beside another's ``review`` denies at once, nobody asked."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance import replay as replay_module
from governance import tasks
from governance.models import Decision, PartyKind, Review, UseRequest
from governance.replay import Difference, replay
from governance.replaying import replay_entries
from governance.services.callbacks import callback_body
from ledger import canonical
from ledger import services as ledger_services
from ledger.models import PendingEntry
from tests.api.test_races import each_once
from tests.committed import all_at_once, on_own_connection
from tests.factories import caller
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

CREDIT = "Courtesy of Northwind Records"


def replayed() -> tuple[int, list[Difference]]:
    """The log integrated (its pending entries given their indexes), then replayed: the
    decisions and their settlements (``governance.replaying``)."""
    ledger_services.integrate_all(now=timezone.now())
    alone = replay(workers=1)
    assert replay(workers=2) == alone
    return alone


def _waiting(world: dict[str, Any], *, label_effect: str) -> dict[str, Any]:
    """Stems on the world's recording: the label answers ``label_effect`` (a conditional one
    with an attribution), the artist asks to review."""
    extra = {"obligations": {"attribution": CREDIT}} if label_effect == "conditional" else {}
    rule(world["label"], scope="all_works", uses=["stems"], effect=label_effect, **extra)
    rule(world["artist"], scope="all_works", uses=["stems"], effect="review")
    body = submit(world["licensee"], use="stems", items=[{"isrc": ISRC}],
                  callback_url="https://licensee.example/cb")  # fmt: skip
    tasks.decide_request.apply(args=[body["id"]]).get()
    return body


def test_approving_a_review_keeps_the_other_holders_conditions(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    body = _waiting(world, label_effect="conditional")
    status = world["licensee"].client.get(body["status_url"]).json()
    (waiting,) = status["items"]
    assert waiting["outcome"] == "review"
    # What an approval will ask for is already said while it waits.
    assert waiting["obligations"] == {"attribution": CREDIT}
    (review,) = world["artist"].client.get("/api/v1/reviews/").json()["results"]
    with django_capture_on_commit_callbacks(execute=True):
        approved = world["artist"].client.post(
            f"/api/v1/reviews/{review['id']}/approve/", {"reason": "Fine."}, format="json"
        )
    assert approved.status_code == 200, approved.json()

    decision = world["licensee"].client.get(f"/api/v1/decisions/{review['decision']}/").json()
    assert (decision["outcome"], decision["code"]) == ("conditional", "review.approved")
    assert decision["obligations"] == {"attribution": CREDIT}
    assert decision["settlement"]["outcome"] == "conditional"
    assert decision["settlement"]["obligations"] == {"attribution": CREDIT}

    en = world["licensee"].client.get(f"/api/v1/decisions/{review['decision']}/explanation/")
    assert en.json()["works"][0]["outcome"] == "conditional"
    assert CREDIT in en.json()["works"][0]["sentences"][-1]

    (item,) = world["licensee"].client.get(body["status_url"]).json()["items"]
    assert (item["outcome"], item["obligations"]) == ("conditional", {"attribution": CREDIT})

    sent = json.loads(callback_body(UseRequest.objects.get(pk=body["id"])))
    assert (sent["items"][0]["outcome"], sent["items"][0]["obligations"]) == (
        "conditional",
        {"attribution": CREDIT},
    )
    assert sent["outcome"] == "conditional"

    ledger_services.key_register(signer=ledger_services.current_signer(), now=timezone.now())
    receipt = world["licensee"].client.get(f"/api/v1/decisions/{review['decision']}/receipt/")
    entry = canonical.decode_entry(base64.b64decode(receipt.json()["entry"]))
    assert entry.kind == "decision_settled"
    assert entry.payload["outcome"] == "conditional"
    assert entry.payload["obligations"] == {"attribution": CREDIT}

    assert replayed() == (1, [])


def test_denying_a_review_settles_deny_without_obligations(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    body = _waiting(world, label_effect="conditional")
    (review,) = world["artist"].client.get("/api/v1/reviews/").json()["results"]
    with django_capture_on_commit_callbacks(execute=True):
        world["artist"].client.post(
            f"/api/v1/reviews/{review['id']}/deny/", {"reason": "No."}, format="json"
        )
    decision = world["licensee"].client.get(f"/api/v1/decisions/{review['decision']}/").json()
    assert (decision["outcome"], decision["obligations"]) == ("deny", {})
    assert decision["settlement"]["obligations"] == {}
    (item,) = world["licensee"].client.get(body["status_url"]).json()["items"]
    assert (item["outcome"], item["obligations"]) == ("deny", {})
    assert replayed() == (1, [])


def test_a_deny_beside_a_review_denies_without_asking_anyone(world) -> None:  # type: ignore[no-untyped-def]
    body = _waiting(world, label_effect="deny")
    (item,) = world["licensee"].client.get(body["status_url"]).json()["items"]
    assert (item["outcome"], item["code"]) == ("deny", "consent.denied_by_rule")
    assert world["artist"].client.get("/api/v1/reviews/").json()["results"] == []
    assert not Review.objects.exists()


def _with_settlement(opened: list[Any], **changes: Any) -> list[Any]:
    """The opened log with its ``decision_settled`` entry's payload changed (``None``: the
    member removed), and, with ``decision_obligations``, its decision entry's obligations."""
    out = []
    for index, entry, unopened in opened:
        p = dict(entry.payload)
        if entry.kind == "decision_settled":
            for key, value in changes.items():
                if key != "decision_obligations":
                    p.pop(key) if value is None else p.__setitem__(key, value)
        if entry.kind == "decision" and "decision_obligations" in changes:
            p["obligations"] = changes["decision_obligations"]
        out.append((index, canonical.Entry(entry.v, entry.kind, entry.time, p), unopened))
    return out


def test_replay_settles_again_old_entries_by_their_rule_and_catches_a_changed_one(
    world, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    _waiting(world, label_effect="conditional")
    (review,) = world["artist"].client.get("/api/v1/reviews/").json()["results"]
    with django_capture_on_commit_callbacks(execute=True):
        world["artist"].client.post(
            f"/api/v1/reviews/{review['id']}/approve/", {"reason": "Fine."}, format="json"
        )
    assert replayed() == (1, [])
    opened = list(replay_module._entries(0))
    # An entry of settlement rule 1 (no ``obligations``) after a decision recorded before the
    # fix (no pending obligations): it settled as a bare allow, and replays as it settled.
    old = _with_settlement(opened, obligations=None, outcome="allow", decision_obligations={})
    assert replay_entries(old) == (1, [])
    # Rule 1 after a decision that recorded its obligations: conditional, as it settled.
    assert replay_entries(_with_settlement(opened, obligations=None)) == (1, [])
    # A settlement that drops the conditions the decision recorded differs.
    dropped = _with_settlement(opened, obligations={}, outcome="allow")
    ((difference,),) = [replay_entries(dropped)[1]]
    assert (difference.kind, difference.ledgered, difference.replayed) == (
        "settlement",
        "allow",
        "conditional",
    )
    changed = _with_settlement(opened, obligations={"attribution": "Someone else"})
    ((difference,),) = [replay_entries(changed)[1]]
    assert difference.kind == "settlement"
    assert CREDIT in difference.reason


def _two_reviewers() -> dict[str, Any]:
    """The world (tests/world.py), committed: training waits for the label's and the artist's
    reviews, beside the publisher's conditional attribution; the decision and its reviews."""
    label = caller(PartyKind.LABEL)
    publisher = caller(PartyKind.PUBLISHER)
    artist = caller(PartyKind.ARTIST, name="Ada Vale")
    licensee = caller(PartyKind.LICENSEE)
    work = label.client.post("/api/v1/works/", {
        "kind": "recording", "title": "Northern Lights", "isrc": ISRC, "display_artist": "Ada",
        "credits": [{"name": "Ada Vale", "role": "main_artist", "party": str(artist.party.pk)}],
    }, format="json").json()  # fmt: skip
    for right, holder in (("master", label), ("publishing", publisher), ("performer", artist)):
        share = {"work": work["id"], "holder": str(holder.party.pk), "right": right, "share": "100"}
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    rule(label, scope="all_works", uses=["train"], effect="review")
    rule(artist, scope="all_works", uses=["train"], effect="review")
    rule(publisher, scope="all_works", uses=["train"], effect="conditional",
         obligations={"attribution": CREDIT})  # fmt: skip
    check = licensee.client.post(
        "/api/v1/checks/", {"use": "train", "item": {"isrc": ISRC}}, format="json"
    ).json()
    assert (check["outcome"], check["obligations"]) == ("review", {"attribution": CREDIT})
    reviews = {r.party_id: r for r in Review.objects.filter(decision_id=check["id"])}
    return {"decision": check["id"], "reviewers": [
        (who, str(reviews[who.party.pk].pk)) for who in (label, artist)
    ]}  # fmt: skip


@pytest.mark.usefixtures("committed")
def test_two_reviewers_approving_at_once_settle_it_once_with_the_conditions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both reviewers approve at once, on their own connections: the decision's row lock
    (``review_decide``) makes the second see the first's answer, so it is settled exactly once,
    ``conditional`` with the publisher's attribution. Each answer waits (up to 3 s) after
    saving until the other has saved too: the window of the race, every time (with the lock
    the second waits at the lock, and the first only waits the pause out). Without the lock,
    each saw the other's review pending and nobody settled it (3 failures in 3 runs)."""
    made = on_own_connection(_two_reviewers)
    saved = threading.Barrier(2)
    real_save = Review.save

    def save_then_wait(self: Review, *args: Any, **kwargs: Any) -> None:
        real_save(self, *args, **kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            saved.wait(timeout=3)

    monkeypatch.setattr(Review, "save", save_then_wait)
    take = each_once(made["reviewers"])

    def approve() -> Any:
        who, review = take()
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {who.secret}")
        return client.post(f"/api/v1/reviews/{review}/approve/", {"reason": "Yes."}, format="json")

    got = all_at_once(approve, threads=2)
    assert [getattr(r, "status_code", r) for r in got] == [200, 200], got
    decision = Decision.objects.get(pk=made["decision"])
    assert (decision.settled_outcome, decision.final_obligations) == (
        "conditional",
        {"attribution": CREDIT},
    )
    settled = PendingEntry.objects.filter(kind="decision_settled")
    assert settled.count() == 1
