"""Disputes and appeals (issue 19, section 1), end to end through the API: a licensee disputes a
denied decision, the deciding holder upholds it, the licensee appeals, the operator releases
it; the decision reads as resolved while its original entry stands, the ledger has each step
and replay reproduces them; silence past the deadline (an injected clock) sends a dispute to
the operator; every forbidden case and bad input; races on real connections."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from governance import ledgering, tasks
from governance.management.commands.outbox_relay import Command as Relay
from governance.models import Decision, Dispute, PartyKind, RequestEvent
from governance.replay import replay
from governance.replaying import disputes as replayed_disputes
from governance.services import disputes as dispute_services
from ledger import canonical
from ledger import services as ledger_services
from ledger.models import Entry, PendingEntry
from tests.committed import all_at_once, on_own_connection
from tests.factories import Caller, caller
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

KINDS = ("dispute_opened", "dispute_answered", "dispute_escalated", "appeal_opened",
         "appeal_decided")  # fmt: skip
STATEMENT = "We hold a direct licence from Ada Vale, reference AV-2026-7."


def decided(world: dict[str, Any], *, deniers: tuple[str, ...]) -> str:
    """A ``train`` request on the world's recording, denied by ``deniers`` (the others allow);
    its decision's id."""
    for who in ("label", "artist"):
        effect = "deny" if who in deniers else "allow"
        rule(world[who], scope="all_works", uses=["train"], effect=effect)
    body = submit(world["licensee"], use="train", items=[{"isrc": ISRC}],
                  callback_url="https://licensee.example/cb")  # fmt: skip
    tasks.decide_request.apply(args=[body["id"]]).get()
    status = world["licensee"].client.get(body["status_url"]).json()
    assert status["items"][0]["outcome"] == "deny", status
    return str(status["items"][0]["decision"])


def dispute(world: dict[str, Any], decision: str, **body: Any) -> Any:
    data = {"reason_code": "licence_held_outside", "statement": STATEMENT} | body
    return world["licensee"].client.post(
        f"/api/v1/decisions/{decision}/disputes/", data, format="json"
    )


def operator() -> Caller:
    """A staff user (the operator role), acting through a party's token like any caller."""
    staff = caller(PartyKind.LABEL, name="Consentry operations")
    get_user_model().objects.filter(pk=staff.token.user_id).update(is_staff=True)
    return staff


def entries() -> list[tuple[int, canonical.Entry, bytes]]:
    ledger_services.integrate_all(now=timezone.now())
    rows = Entry.objects.order_by("index").values_list("index", "data", "leaf_hash")
    return [(int(i), canonical.decode_entry(bytes(d)), bytes(leaf)) for i, d, leaf in rows]


def dispute_entries() -> list[canonical.Entry]:
    return [e for _, e, _ in entries() if e.kind in KINDS]


def events(decision: str) -> list[str]:
    request = Decision.objects.get(pk=decision).request_id
    kinds = RequestEvent.objects.filter(request_id=request).order_by("created_at", "id")
    return [k for k in kinds.values_list("kind", flat=True) if k.startswith(("dispute", "appeal"))]


def later(monkeypatch: pytest.MonkeyPatch, delta: dt.timedelta) -> None:
    """The clock moved on by ``delta`` for everything that asks ``timezone.now()``."""
    real = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real() + delta)


def test_a_dispute_upheld_then_appealed_and_released_by_the_operator(world) -> None:  # type: ignore[no-untyped-def]
    decision = decided(world, deniers=("artist",))
    lic, artist = world["licensee"].client, world["artist"].client
    # the licensee disputes it; the artist, who denied it, finds it in her queue
    opened = dispute(world, decision)
    assert opened.status_code == 201, opened.json()
    d = opened.json()
    assert (d["status"], d["disputed_outcome"]) == ("open", "deny")
    assert d["holders"] == [str(world["artist"].party.pk)]
    deadline = canonical.parse_time(d["deadline"]) - canonical.parse_time(d["opened_at"])
    assert deadline == dt.timedelta(days=30)
    queue = artist.get("/api/v1/disputes/", {"status": "open"}).json()["results"]
    assert [q["id"] for q in queue] == [d["id"]]
    assert queue[0]["statement"] == STATEMENT
    # she upholds it: the decision stands, and the licensee may appeal for 7 days
    upheld = artist.post(f"/api/v1/disputes/{d['id']}/uphold/",
                         {"reason": "No such licence on our records."}, format="json")  # fmt: skip
    assert upheld.status_code == 200, upheld.json()
    assert (upheld.json()["status"], upheld.json()["outcome"]) == ("upheld", "deny")
    until = canonical.parse_time(upheld.json()["appeal_until"])
    assert until - canonical.parse_time(upheld.json()["resolved_at"]) == dt.timedelta(days=7)
    assert lic.get(f"/api/v1/decisions/{decision}/").json()["outcome"] == "deny"
    # the licensee appeals; the operator releases it
    appealed = lic.post(f"/api/v1/disputes/{d['id']}/appeal/",
                        {"statement": "The signed licence is attached to our e-mail."},
                        format="json")  # fmt: skip
    assert appealed.status_code == 200, appealed.json()
    assert appealed.json()["status"] == "appealed"
    ruled = operator().client.post(f"/api/v1/disputes/{d['id']}/rule/",
                                   {"ruling": "release", "reason": "Licence AV-2026-7 is valid."},
                                   format="json")  # fmt: skip
    assert ruled.status_code == 200, ruled.json()
    assert (ruled.json()["status"], ruled.json()["outcome"]) == ("released", "allow")
    assert ruled.json()["appeal"]["result"] == "released"
    # the decision reads as resolved, and names the entry that superseded its outcome
    shown = lic.get(f"/api/v1/decisions/{decision}/").json()
    assert (shown["outcome"], shown["initial_outcome"]) == ("allow", "deny")
    assert (shown["code"], shown["reason"]) == ("dispute.released", "Licence AV-2026-7 is valid.")
    resolution = shown["resolution"]
    assert (resolution["step"], resolution["by"]) == ("appeal", "operator")
    explained = lic.get(f"/api/v1/decisions/{decision}/explanation/").json()
    assert (explained["outcome"], explained["resolution"]) == ("allow", resolution)
    status = lic.get(f"/api/v1/use-requests/{shown['request']}/").json()
    assert (status["items"][0]["outcome"], status["items"][0]["code"]) == (
        "allow",
        "dispute.released",
    )
    assert status["summary"] == {"allow": 1}
    # the ledger: the original decision entry, then each step; the last supersedes the first
    logged = entries()
    original = [(e, leaf) for _, e, leaf in logged if e.kind == "decision"]
    assert [(e.payload["outcome"], leaf.hex()) for e, leaf in original] == [
        ("deny", resolution["supersedes"])
    ]
    steps = [(e, leaf) for _, e, leaf in logged if e.kind in KINDS]
    assert [e.kind for e, _ in steps] == [
        "dispute_opened", "dispute_answered", "appeal_opened", "appeal_decided"
    ]  # fmt: skip
    final, final_leaf = steps[-1]
    assert final.payload["supersedes"] == resolution["supersedes"]
    assert final_leaf.hex() == resolution["entry"]
    assert final.payload["outcome"] == "allow"
    # the statements and reasons are commitments in the public log
    assert set(steps[0][0].payload["statement"]) == {"commitment"}
    assert set(final.payload["reason"]) == {"commitment"}
    # replay reproduces the decision and every step of the dispute (in one process, and with
    # a second one opening the entries)
    assert replay(workers=1) == (1, [])
    assert replay(workers=2) == (1, [])
    # the receipt proves the resolution, with the original decision's entry it supersedes
    ledger_services.key_register(signer=ledger_services.current_signer(), now=timezone.now())
    receipt = lic.get(f"/api/v1/decisions/{decision}/receipt/").json()
    assert receipt["supersedes"]["index"] < receipt["index"]
    # and the licensee's callback was told of every step
    assert events(decision) == ["dispute.opened", "dispute.answered", "appeal.opened",
                                "appeal.decided"]  # fmt: skip


def test_replay_reports_a_step_the_rules_do_not_give(world) -> None:  # type: ignore[no-untyped-def]
    decision = decided(world, deniers=("artist",))
    d = dispute(world, decision).json()
    # an entry appended behind the service's back: a release by a party that did not decide it
    forged = {
        "dispute": d["id"], "decision": decision, "request": d["request"],
        "licensee": d["licensee"], "holders": d["holders"], "by": str(world["label"].party.pk),
        "answer": "release", "reason": "-", "status": "released", "outcome": "allow",
        "supersedes": None,
    }  # fmt: skip
    ledgering.append("dispute_answered", forged, now=timezone.now())
    entries()
    count, differences = replay(workers=1)
    assert count == 1
    assert [(x.kind, x.ledgered, x.decision) for x in differences] == [
        ("dispute", "dispute_answered", decision)
    ]
    assert "did not decide it" in differences[0].reason


def test_replay_and_the_service_release_to_the_same_outcome() -> None:
    for disputed in ("deny", "conditional"):
        for obligations in ({}, {"attribution": "Ada Vale"}):
            assert replayed_disputes.released_outcome(
                disputed, obligations
            ) == dispute_services.released_outcome(disputed, obligations)
    assert replayed_disputes.APPEAL_DAYS == dispute_services.APPEAL_DAYS


def test_silence_past_the_deadline_sends_it_to_the_operator(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    decision = decided(world, deniers=("label", "artist"))
    d = dispute(world, decision, reason_code="wrong_match").json()
    assert sorted(d["holders"]) == sorted(str(world[w].party.pk) for w in ("label", "artist"))
    released = world["artist"].client.post(
        f"/api/v1/disputes/{d['id']}/release/", {"reason": "Not my song."}, format="json"
    )
    assert released.json()["status"] == "open"  # the label has not answered
    deadline = canonical.parse_time(d["deadline"])
    # the relay's sweep, with an injected clock: a second before the deadline, nothing
    Relay.sweep(0.0, now=lambda: deadline - dt.timedelta(seconds=1))
    assert Dispute.objects.get(pk=d["id"]).status == "open"
    Relay.sweep(0.0, now=lambda: deadline)
    assert Dispute.objects.get(pk=d["id"]).status == "escalated"
    assert dispute_services.disputes_escalate(now=deadline + dt.timedelta(days=1)) == 0  # once
    # the label answers too late
    later(monkeypatch, dt.timedelta(days=31))
    late = world["label"].client.post(
        f"/api/v1/disputes/{d['id']}/uphold/", {"reason": "It is ours."}, format="json"
    )
    assert late.status_code == 409, late.json()
    # the operator rules (the management command), releasing it
    call_command("dispute_rule", d["id"], "release", "--reason", "The match was wrong.")
    shown = world["licensee"].client.get(f"/api/v1/decisions/{decision}/").json()
    assert (shown["outcome"], shown["resolution"]["by"]) == ("allow", "operator")
    steps = dispute_entries()
    assert [e.kind for e in steps] == [
        "dispute_opened", "dispute_answered", "dispute_escalated", "dispute_answered"
    ]  # fmt: skip
    assert steps[2].payload["answered"] == [str(world["artist"].party.pk)]
    assert (steps[3].payload["by"], steps[3].payload["outcome"]) == ("operator", "allow")
    assert events(decision) == ["dispute.opened", "dispute.answered", "dispute.escalated",
                                "dispute.answered"]  # fmt: skip
    assert replay(workers=1) == (1, [])
    # an operator's ruling is not appealable (it would go to the operator again)
    monkeypatch.undo()
    again = world["licensee"].client.post(
        f"/api/v1/disputes/{d['id']}/appeal/", {"statement": "Please."}, format="json"
    )
    assert again.status_code == 409


def test_forbidden_cases(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    decision = decided(world, deniers=("label", "artist"))
    other = caller(PartyKind.LICENSEE, name="Other AI")
    auditor = caller(PartyKind.AUDITOR, name="Audit")
    # another licensee cannot dispute it, nor see the dispute; a holder cannot dispute it
    url = f"/api/v1/decisions/{decision}/disputes/"
    body = {"reason_code": "wrong_match", "statement": "Not that song."}
    assert other.client.post(url, body, format="json").status_code == 404
    assert world["label"].client.post(url, body, format="json").status_code == 403
    d = dispute(world, decision).json()
    assert other.client.get(f"/api/v1/disputes/{d['id']}/").status_code == 404
    assert other.client.get("/api/v1/disputes/").json()["results"] == []
    assert other.client.post(f"/api/v1/disputes/{d['id']}/appeal/",
                             {"statement": "x"}, format="json").status_code == 404  # fmt: skip
    # one dispute per decision
    assert dispute(world, decision).status_code == 409
    # the licensee and an auditor see it, but cannot answer it
    reason = {"reason": "Because."}
    assert (
        world["licensee"]
        .client.post(f"/api/v1/disputes/{d['id']}/release/", reason, format="json")
        .status_code
        == 403
    )
    assert auditor.client.get(f"/api/v1/disputes/{d['id']}/").status_code == 200
    assert (
        auditor.client.post(
            f"/api/v1/disputes/{d['id']}/release/", reason, format="json"
        ).status_code
        == 403
    )
    # nor can a licensee rule as the operator (not staff)
    assert (
        world["licensee"]
        .client.post(
            f"/api/v1/disputes/{d['id']}/rule/", {"ruling": "release", "reason": "x"}, format="json"
        )
        .status_code
        == 403
    )
    # a deciding holder answers once
    artist = world["artist"].client
    assert artist.post(f"/api/v1/disputes/{d['id']}/release/", reason,
                       format="json").status_code == 200  # fmt: skip
    twice = artist.post(f"/api/v1/disputes/{d['id']}/uphold/", reason, format="json")
    assert twice.status_code == 409, twice.json()
    assert "answered" in twice.json()["message"]
    # the label upholds it; the artist cannot answer any more, nor the label again
    assert (
        world["label"]
        .client.post(f"/api/v1/disputes/{d['id']}/uphold/", reason, format="json")
        .json()["status"]
        == "upheld"
    )
    assert (
        world["label"]
        .client.post(f"/api/v1/disputes/{d['id']}/release/", reason, format="json")
        .status_code
        == 409
    )
    # only the licensee appeals; not after 7 days; once
    appeal = {"statement": "We hold a licence."}
    assert artist.post(f"/api/v1/disputes/{d['id']}/appeal/", appeal,
                       format="json").status_code == 403  # fmt: skip
    later(monkeypatch, dt.timedelta(days=7, seconds=1))
    late = world["licensee"].client.post(f"/api/v1/disputes/{d['id']}/appeal/", appeal,
                                         format="json")  # fmt: skip
    assert late.status_code == 409, late.json()
    assert "appeal_until" in late.json()["fields"]
    monkeypatch.undo()
    first = world["licensee"].client.post(f"/api/v1/disputes/{d['id']}/appeal/", appeal,
                                          format="json")  # fmt: skip
    assert first.status_code == 200, first.json()
    second = world["licensee"].client.post(f"/api/v1/disputes/{d['id']}/appeal/", appeal,
                                           format="json")  # fmt: skip
    assert second.status_code == 409
    assert "appeal" in second.json()["fields"]
    # an allowed decision cannot be disputed
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    check = (
        world["licensee"]
        .client.post("/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json")
        .json()
    )
    assert check["outcome"] == "allow"
    assert dispute(world, check["id"]).status_code == 409
    # nothing was ledgered by any refused call
    assert [e.kind for e in dispute_entries()] == [
        "dispute_opened", "dispute_answered", "dispute_answered", "appeal_opened"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason_code": "because", "statement": "x"}, "reason_code"),
        ({"reason_code": "wrong_match"}, "statement"),
        ({"reason_code": "wrong_match", "statement": "   "}, "statement"),
        ({"reason_code": "wrong_match", "statement": "x" * 4001}, "statement"),
        ({"reason_code": "wrong_match", "statement": ["x"]}, "statement"),
        ({"reason_code": "wrong_match", "statement": "a\x00b"}, "statement"),
        ({"reason_code": {"a": {"b": [1]}}, "statement": "x"}, "reason_code"),
        ({"reason_code": "wrong_match", "statement": "x", "extra": 1}, "extra"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(world, body, field) -> None:  # type: ignore[no-untyped-def]
    decision = decided(world, deniers=("artist",))
    response = dispute(world, decision, **body) if "statement" in body else (
        world["licensee"].client.post(
            f"/api/v1/decisions/{decision}/disputes/", body, format="json"
        )
    )  # fmt: skip
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"], response.json()
    assert not Dispute.objects.exists()


def test_bad_answers_and_rulings_are_400s_naming_the_field(world) -> None:  # type: ignore[no-untyped-def]
    d = dispute(world, decided(world, deniers=("artist",))).json()
    artist = world["artist"].client
    for body in ({}, {"reason": ""}, {"reason": "x" * 2001}, {"reason": [1]}):
        response = artist.post(f"/api/v1/disputes/{d['id']}/uphold/", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert "reason" in response.json()["fields"]
    staff = operator().client
    response = staff.post(f"/api/v1/disputes/{d['id']}/rule/", {"ruling": "maybe", "reason": "x"},
                          format="json")  # fmt: skip
    assert response.status_code == 400
    assert "ruling" in response.json()["fields"]
    assert world["licensee"].client.get("/api/v1/disputes/", {"status": "shut"}).status_code == 400
    assert Dispute.objects.get(pk=d["id"]).status == "open"


# --- races: real threads, each on its own connection -------------------------------------------


def client_of(who: Caller) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {who.secret}")
    return client


def both_read_answers_before_either_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever reads a dispute's answers waits (up to 2 s) until a second writer has read them
    too: the window a race needs, every time. A writer the row lock holds back only waits the
    pause out."""
    read = threading.Barrier(2)
    real = dispute_services._answers_of

    def read_then_wait(d: Dispute) -> list[Any]:
        rows = real(d)
        with contextlib.suppress(threading.BrokenBarrierError):
            read.wait(timeout=2)
        return rows

    monkeypatch.setattr(dispute_services, "_answers_of", read_then_wait)


def without_the_row_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        dispute_services, "_locked",
        lambda d: Dispute.objects.select_related("decision", "decision__request").get(pk=d.pk),
    )  # fmt: skip


def two_holders_release_at_once(world_ids: dict[str, Any]) -> list[Any]:
    holders = [world_ids["label"], world_ids["artist"]]
    lock = threading.Lock()

    def release() -> Any:
        with lock:
            who = holders.pop()
        return client_of(who).post(f"/api/v1/disputes/{world_ids['dispute']}/release/",
                                   {"reason": "Not ours."}, format="json")  # fmt: skip

    return all_at_once(release, threads=2)


def a_dispute_of_two_holders(world: dict[str, Any]) -> dict[str, Any]:
    d = dispute(world, decided(world, deniers=("label", "artist"))).json()
    return {"label": world["label"], "artist": world["artist"], "dispute": d["id"]}


@pytest.mark.usefixtures("committed")
@pytest.mark.parametrize("locked", [True, False], ids=["with-the-row-lock", "without-it"])
def test_two_holders_releasing_at_once(world_committed, monkeypatch, locked) -> None:  # type: ignore[no-untyped-def]
    ids = world_committed
    both_read_answers_before_either_writes(monkeypatch)
    if not locked:
        without_the_row_lock(monkeypatch)
    results = two_holders_release_at_once(ids)
    assert [r.status_code for r in results] == [200, 200], [r.json() for r in results]
    dispute_row = Dispute.objects.get(pk=ids["dispute"])
    statuses = sorted(
        canonical.decode_entry(bytes(p.data)).payload["status"]
        for p in PendingEntry.objects.filter(kind="dispute_answered")
    )
    if locked:
        # the second answer saw the first: every holder released, so it is released, once
        assert dispute_row.status == "released"
        assert statuses == ["open", "released"]
        assert Decision.objects.get(pk=dispute_row.decision_id).final_outcome == "allow"
    else:
        # each saw only its own answer: both released, yet it stays open (the race lost)
        assert dispute_row.status == "open"
        assert statuses == ["open", "open"]


@pytest.mark.usefixtures("committed")
@pytest.mark.parametrize("locked", [True, False], ids=["with-the-row-lock", "without-it"])
def test_a_deadline_sweep_racing_an_answer(world_committed, monkeypatch, locked) -> None:  # type: ignore[no-untyped-def]
    ids = world_committed
    both_read_answers_before_either_writes(monkeypatch)
    if not locked:
        without_the_row_lock(monkeypatch)
    deadline = Dispute.objects.get(pk=ids["dispute"]).deadline
    lock = threading.Lock()
    jobs = ["sweep", "answer"]

    def run() -> Any:
        with lock:
            job = jobs.pop()
        if job == "sweep":
            return dispute_services.disputes_escalate(now=deadline)
        return client_of(ids["artist"]).post(f"/api/v1/disputes/{ids['dispute']}/uphold/",
                                             {"reason": "Ours."}, format="json")  # fmt: skip

    results = all_at_once(run, threads=2)
    assert not [r for r in results if isinstance(r, BaseException)], results
    kinds = sorted(PendingEntry.objects.filter(kind__in=KINDS).values_list("kind", flat=True))
    if locked:
        # one of them won; the other saw it (a 409, or a sweep that found it answered)
        assert kinds in (
            ["dispute_answered", "dispute_opened"],
            ["dispute_escalated", "dispute_opened"],
        )
    else:
        assert kinds == ["dispute_answered", "dispute_escalated", "dispute_opened"]


@pytest.fixture
def world_committed() -> dict[str, Any]:
    """A dispute of a decision two holders denied, committed on its own connection (the
    ``committed`` fixture deletes it afterwards)."""
    return on_own_connection(lambda: a_dispute_of_two_holders(make_world()))


def make_world() -> dict[str, Any]:
    """tests/world.py's world, outside a fixture (for code run on its own connection)."""
    label = caller(PartyKind.LABEL)
    artist = caller(PartyKind.ARTIST, name="Ada Vale")
    licensee = caller(PartyKind.LICENSEE, name="Sonora AI Labs")
    credits = [{"name": "Ada Vale", "role": "main_artist", "party": str(artist.party.pk)}]
    work = label.client.post(
        "/api/v1/works/",
        {"kind": "recording", "title": "Northern Lights", "isrc": ISRC, "credits": credits},
        format="json",
    ).json()
    for right, holder in (("master", label), ("publishing", label), ("performer", artist)):
        share = {"work": work["id"], "holder": str(holder.party.pk), "right": right, "share": "100"}
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    return {"label": label, "artist": artist, "licensee": licensee, "work": work}


def test_a_decision_no_holder_decided_goes_to_the_operator_at_once(world) -> None:  # type: ignore[no-untyped-def]
    # a recording whose performer right nobody holds: train is denied, rights.unknown
    label = world["label"]
    work = label.client.post("/api/v1/works/", {"kind": "recording", "title": "Orphan",
                             "isrc": "GBAYE0601498"}, format="json").json()  # fmt: skip
    for right in ("master", "publishing"):
        share = {"work": work["id"], "holder": str(label.party.pk), "right": right, "share": "100"}
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    rule(label, scope="all_works", uses=["train"], effect="allow")
    check = (
        world["licensee"]
        .client.post(
            "/api/v1/checks/", {"use": "train", "item": {"isrc": "GBAYE0601498"}}, format="json"
        )
        .json()
    )
    assert (check["outcome"], check["code"]) == ("deny", "rights.unknown")
    d = dispute(world, check["id"], reason_code="wrong_rights_holder").json()
    assert (d["holders"], d["status"]) == ([], "escalated")
    assert label.client.get(f"/api/v1/disputes/{d['id']}/").status_code == 404
    ruled = operator().client.post(f"/api/v1/disputes/{d['id']}/rule/",
                                   {"ruling": "uphold", "reason": "Nobody holds it."},
                                   format="json")  # fmt: skip
    assert (ruled.json()["status"], ruled.json()["resolved_by"]) == ("upheld", "operator")
    assert ruled.json()["appeal_until"] is None
    assert [e.kind for e in dispute_entries()] == [
        "dispute_opened", "dispute_escalated", "dispute_answered"
    ]  # fmt: skip
    assert dispute_entries()[1].payload["why"] == "no_holder"
    # opened and escalated in one instant: the two events share their time (their ids, random,
    # order them), and the ruling comes after both
    happened = events(check["id"])
    assert sorted(happened[:2]) == ["dispute.escalated", "dispute.opened"]
    assert happened[2:] == ["dispute.answered"]
    assert replay(workers=1) == (1, [])


def test_a_conditional_decision_released_is_allowed_without_its_conditions(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["train"], effect="conditional",
         obligations={"attribution": "Ada Vale"})  # fmt: skip
    body = submit(world["licensee"], use="train", items=[{"isrc": ISRC}],
                  callback_url="https://licensee.example/cb")  # fmt: skip
    tasks.decide_request.apply(args=[body["id"]]).get()
    lic = world["licensee"].client
    item = lic.get(body["status_url"]).json()["items"][0]
    assert (item["outcome"], item["obligations"]) == ("conditional", {"attribution": "Ada Vale"})
    d = dispute(world, item["decision"], reason_code="licence_held_outside").json()
    assert d["holders"] == [str(world["artist"].party.pk)]
    released = world["artist"].client.post(
        f"/api/v1/disputes/{d['id']}/release/", {"reason": "Licensed directly."}, format="json"
    )
    assert released.json()["status"] == "released", released.json()
    # the status page and the results now read allow, and the artist's condition is gone
    item = lic.get(body["status_url"]).json()["items"][0]
    assert (item["outcome"], item["obligations"]) == ("allow", {}), item
