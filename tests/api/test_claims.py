"""Rights claims over HTTP (issue 12): a party that believes it holds a right it was not given
files a claim; it changes nothing until the work's registrant accepts it or an operator rules.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from governance.models import PartyKind, RightsClaim, RightsShare
from ledger import commitments
from ledger.models import PendingEntry as Pending
from tests.committed import on_own_connection
from tests.factories import Caller, caller
from tests.ledger.helpers import sequence


def file_claim(who: Caller, work: dict[str, Any], **extra: Any) -> Any:
    statement = "Co-publishing agreement of 2023-04-01 with the songwriter."
    body = {"work": work["id"], "right": "publishing", "share": "37.5", "statement": statement}
    body.update(extra)
    return who.client.post("/api/v1/claims/", body, format="json")


def entries(kind: str) -> list[dict[str, Any]]:
    rows = Pending.objects.filter(kind=kind).order_by("id")
    return [json.loads(bytes(r.data))["payload"] for r in rows]


@pytest.mark.django_db
def test_a_publisher_files_a_claim_that_is_ledgered_and_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    publisher = caller(PartyKind.PUBLISHER)
    shares = RightsShare.objects.count()
    response = file_claim(publisher, world["work"])
    assert response.status_code == 201, response.json()
    claim = response.json()
    assert (claim["status"], claim["share"], claim["claimant"]) == (
        "pending", "37.500", str(publisher.party.pk)
    )  # fmt: skip
    assert RightsShare.objects.count() == shares
    [payload] = entries("rights_claim")
    assert payload["id"] == claim["id"]
    assert payload["claimant"] == str(publisher.party.pk)
    # The percentage and the statement are committed to, not published...
    raw = bytes(Pending.objects.get(kind="rights_claim").data).decode()
    assert "37.5" not in raw
    assert "Co-publishing" not in raw
    assert payload["share"].keys() == payload["statement"].keys() == {"commitment"}
    # ...which the claimant, the registrant and auditors open and check; others cannot.
    index = sequence().size - 1
    for who in (publisher, world["label"], caller(PartyKind.AUDITOR)):
        response = who.client.get(f"/api/v1/ledger/openings/?entry={index}")
        assert response.status_code == 200, response.json()
        (served,) = response.json()["entries"]
        openings = [
            commitments.Opening(o["field"], bytes.fromhex(o["salt"]), o["value"])
            for o in served["openings"]
        ]
        clear = commitments.unseal(payload, openings)  # raises unless every opening matches
        assert (clear["share"], clear["statement"]) == ("37.500", claim["statement"])
    stranger = caller(PartyKind.LABEL).client.get(f"/api/v1/ledger/openings/?entry={index}")
    assert stranger.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [PartyKind.LICENSEE, PartyKind.AUDITOR])
def test_a_licensee_or_auditor_cannot_file_a_claim(world, kind: str) -> None:  # type: ignore[no-untyped-def]
    response = file_claim(caller(kind), world["work"])
    assert response.status_code == 403
    assert not RightsClaim.objects.exists()
    assert not entries("rights_claim")


@pytest.mark.django_db
def test_a_claim_needs_a_statement_and_a_valid_share(world) -> None:  # type: ignore[no-untyped-def]
    publisher = caller(PartyKind.PUBLISHER)
    assert "statement" in file_claim(publisher, world["work"], statement=" ").json()["fields"]
    assert "share" in file_claim(publisher, world["work"], share="101").json()["fields"]
    likeness = file_claim(publisher, world["work"], right="likeness")
    assert likeness.status_code == 400
    assert "right" in likeness.json()["fields"]
    # The registrant registers its shares; it has nothing to claim.
    own = file_claim(world["label"], world["work"])
    assert own.status_code == 400
    assert not RightsClaim.objects.exists()


@pytest.mark.django_db
def test_a_claim_is_seen_by_its_claimant_the_registrant_and_auditors_only(world) -> None:  # type: ignore[no-untyped-def]
    publisher = caller(PartyKind.PUBLISHER)
    claim = file_claim(publisher, world["work"]).json()
    url = f"/api/v1/claims/{claim['id']}/"
    for who in (publisher, world["label"], caller(PartyKind.AUDITOR)):
        assert who.client.get(url).status_code == 200
        assert [c["id"] for c in who.client.get("/api/v1/claims/").json()["results"]] == [
            claim["id"]
        ]
    # A stranger, a licensee, and even another holder of the work: it does not exist.
    for who in (caller(PartyKind.LABEL), world["licensee"], world["artist"]):
        assert who.client.get(url).status_code == 404
        assert who.client.get("/api/v1/claims/").json()["count"] == 0
        assert who.client.post(url + "accept/", {}, format="json").status_code == 404
        assert who.client.post(url + "reject/", {"reason": "x"}, format="json").status_code == 404
    assert RightsClaim.objects.get().status == "pending"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", [{"status": "AAA"}, {"work": "not-a-uuid"}, {"status": "\x00"}, {"right": "x"}]
)
def test_a_bad_claims_filter_is_a_400(world, query: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = world["label"].client.get("/api/v1/claims/", query)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}


@pytest.mark.django_db
def test_the_claimant_cannot_accept_its_own_claim(world) -> None:  # type: ignore[no-untyped-def]
    publisher = caller(PartyKind.PUBLISHER)
    claim = file_claim(publisher, world["work"]).json()
    response = publisher.client.post(f"/api/v1/claims/{claim['id']}/accept/", {}, format="json")
    assert response.status_code == 403
    auditor = caller(PartyKind.AUDITOR)
    assert auditor.client.post(f"/api/v1/claims/{claim['id']}/accept/", {},
                               format="json").status_code == 403  # fmt: skip
    assert not RightsShare.objects.filter(holder=publisher.party).exists()


@pytest.mark.django_db
def test_the_registrant_accepts_a_claim_and_the_share_is_registered_and_ledgered(world) -> None:  # type: ignore[no-untyped-def]
    label, publisher = world["label"], caller(PartyKind.PUBLISHER)
    claim = file_claim(publisher, world["work"], territories=["FR"]).json()
    url = f"/api/v1/claims/{claim['id']}/accept/"
    # The label holds 100 % of publishing: the claimed share does not fit, nothing changes.
    full = label.client.post(url, {}, format="json")
    assert full.status_code == 400
    assert "100 %" in full.json()["message"]
    assert RightsClaim.objects.get().status == "pending"
    assert not entries("rights_claim_decided")
    publishing = RightsShare.objects.get(work_id=world["work"]["id"], right="publishing")
    patch = label.client.patch(f"/api/v1/shares/{publishing.pk}/", {"share": "62.5"}, format="json")
    assert patch.status_code == 200
    response = label.client.post(url, {"reason": "Agreement checked."}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["decided_by"], body["reason"]) == (
        "accepted", str(label.party.pk), "Agreement checked."
    )  # fmt: skip
    share = RightsShare.objects.get(pk=body["granted_share"])
    assert (share.holder, share.right, share.share, share.territories) == (
        publisher.party, "publishing", 37.5, ["FR"]
    )  # fmt: skip
    kinds = list(Pending.objects.order_by("id").values_list("kind", flat=True))
    assert kinds[-2:] == ["rights_share", "rights_claim_decided"]
    [decided] = entries("rights_claim_decided")
    assert (decided["status"], decided["share"]) == ("accepted", str(share.pk))
    assert "Agreement" not in json.dumps(decided)
    # The claimant now holds the share and sees it; the claim cannot be decided again.
    assert publisher.client.get(f"/api/v1/shares/{share.pk}/").status_code == 200
    again = label.client.post(url, {}, format="json")
    assert again.status_code == 409
    assert RightsShare.objects.filter(holder=publisher.party).count() == 1


@pytest.mark.django_db
def test_the_registrant_rejects_a_claim_with_a_reason(world) -> None:  # type: ignore[no-untyped-def]
    label, publisher = world["label"], caller(PartyKind.PUBLISHER)
    claim = file_claim(publisher, world["work"]).json()
    url = f"/api/v1/claims/{claim['id']}/reject/"
    assert "reason" in label.client.post(url, {}, format="json").json()["fields"]
    response = label.client.post(url, {"reason": "No such agreement on file."}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    assert response.json()["granted_share"] is None
    assert not RightsShare.objects.filter(holder=publisher.party).exists()
    assert [e["status"] for e in entries("rights_claim_decided")] == ["rejected"]
    listed = publisher.client.get("/api/v1/claims/", {"status": "rejected"}).json()
    assert [c["id"] for c in listed["results"]] == [claim["id"]]
    assert publisher.client.get("/api/v1/claims/", {"status": "pending"}).json()["count"] == 0


@pytest.mark.django_db
def test_an_operator_rules_on_a_claim_with_the_command(world) -> None:  # type: ignore[no-untyped-def]
    publisher = caller(PartyKind.PUBLISHER)
    artist = world["artist"]
    # The artist's own performer share is 100 %; another artist's claim to 10 % of master ...
    other = caller(PartyKind.ARTIST)
    master = RightsShare.objects.get(work_id=world["work"]["id"], right="master")
    world["label"].client.patch(f"/api/v1/shares/{master.pk}/", {"share": "90"}, format="json")
    claim = file_claim(other, world["work"], right="master", share="10").json()
    rejected = file_claim(publisher, world["work"]).json()
    with pytest.raises(CommandError, match="reason"):
        call_command("claim_rule", claim["id"], "accept", "--reason", " ")
    call_command("claim_rule", claim["id"], "accept", "--reason", "Contract produced.")
    call_command("claim_rule", rejected["id"], "reject", "--reason", "Nothing on file.")
    decided = other.client.get(f"/api/v1/claims/{claim['id']}/").json()
    assert (decided["status"], decided["decided_by"]) == ("accepted", "operator")
    assert RightsShare.objects.get(pk=decided["granted_share"]).holder == other.party
    assert [e["decided_by"] for e in entries("rights_claim_decided")] == ["operator", "operator"]
    with pytest.raises(CommandError, match="accepted already"):
        call_command("claim_rule", claim["id"], "reject", "--reason", "Changed my mind.")
    with pytest.raises(CommandError, match="no claim"):
        call_command("claim_rule", "not-a-claim", "accept", "--reason", "x")
    assert artist.party.shares.get().share == 100


# ---------------------------------------------------------------------------------------------
# Two concurrent acceptances of one claim, through real threads, connections and commits.
# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_two_concurrent_acceptances_of_one_claim_register_exactly_one_share(
    committed: None,
) -> None:
    def given() -> tuple[Caller, Caller, str]:
        label = caller(PartyKind.LABEL)
        song = {"kind": "recording", "title": "Song", "isrc": "USRC17607839"}
        work = label.client.post("/api/v1/works/", song, format="json").json()
        claimant = caller(PartyKind.PUBLISHER)
        claim = file_claim(claimant, work, right="master", share="40").json()
        return label, claimant, f"/api/v1/claims/{claim['id']}/accept/"

    label, claimant, url = on_own_connection(given)
    barrier = threading.Barrier(2)

    def accept() -> int:
        client = APIClient()  # one client per thread
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {label.secret}")
        barrier.wait(10)
        return int(client.post(url, {}, format="json").status_code)

    codes: list[int] = []
    threads = [threading.Thread(target=lambda: codes.append(on_own_connection(accept)))
               for _ in range(2)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(codes) == [200, 409]
    assert RightsShare.objects.filter(holder=claimant.party).count() == 1
    assert Pending.objects.filter(kind="rights_claim_decided").count() == 1
