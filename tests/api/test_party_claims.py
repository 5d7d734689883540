"""Unclaimed parties (rights controllers a label's DDEX feed named) in decisions, and their
claims: /api/v1/party-claims/ (candidates, file, accept, reject), ``manage.py
party_claim_rule``, and every forbidden case (issue 17, item 1).

On the demo (docs/samples' Northwind catalog and its rules: Northwind allows ``analyze`` with
attribution; every party is opt-in), Northwind imports tests/governance/ern/
ern43-track-releases.xml, whose GBNWR2400032 is controlled 60 % by Northwind and 40 % by Quill &
Fen Masters Ltd (DPID PADPIDA2024060301Q), which has not joined."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from governance.demo import demo_seed
from governance.importing.run import import_catalog
from governance.models import ClaimStatus, Decision, Party, PartyClaim, PartyKind, RightsShare
from ledger.models import PendingEntry
from tests.committed import on_own_connection
from tests.factories import caller

pytestmark = pytest.mark.django_db

FEED = Path(__file__).resolve().parents[1] / "governance" / "ern" / "ern43-track-releases.xml"
QUILL_DPID = "PADPIDA2024060301Q"


@pytest.fixture
def demo(tmp_path: Path) -> dict[str, Any]:
    credentials, _ = demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    clients: dict[str, Any] = {}
    for c in credentials:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {c.token}")
        clients[c.key] = client
    label = Party.objects.get(kind=PartyKind.LABEL, name="Northwind Records")
    report = import_catalog(party=label, data=FEED.read_bytes(), fmt="ddex", now=timezone.now())
    assert report.problems == []
    clients["quill"] = Party.objects.get(name="Quill & Fen Masters Ltd", named_by=label)
    return clients


def check(demo: dict[str, Any], isrc: str, use: str = "analyze", where: str = "GB") -> Decision:
    response = demo["licensee"].post(
        "/api/v1/checks/",
        {"use": use, "territories": [where], "item": {"isrc": isrc}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return Decision.objects.get(pk=response.json()["id"])


def test_an_unclaimed_holder_answers_with_its_default_posture(demo: dict[str, Any]) -> None:
    # DESIGN.md, decision semantics, step 2: a holder none of whose rules match answers with its
    # default posture; an unclaimed party has no rules and is opt-in, so "no consent on record".
    # Deny overrides Northwind's conditional allow (step 3).
    shared = check(demo, "GBNWR2400032")
    assert (shared.outcome, shared.code) == ("deny", "consent.opt_in_default")
    assert shared.reason == "No consent on record from Quill & Fen Masters Ltd"
    # Northwind's own recording: its catalog rule allows analyze with attribution.
    assert check(demo, "GBNWR2400031").outcome == "conditional"
    # Outside the recording's territories (the deals of its releases), no holder at all.
    assert check(demo, "GBNWR2400031", where="FR").outcome == "deny"


def test_the_organisation_claims_its_party_and_then_decides_for_its_shares(
    demo: dict[str, Any],
) -> None:
    quill = caller(PartyKind.LABEL, name="Quill & Fen Masters", dpid=QUILL_DPID)
    unclaimed: Party = demo["quill"]

    (candidate,) = quill.client.get("/api/v1/party-claims/candidates/").json()
    assert (candidate["id"], candidate["dpid"]) == (str(unclaimed.pk), QUILL_DPID)
    filed = quill.client.post(
        "/api/v1/party-claims/",
        {"party": str(unclaimed.pk), "statement": "Our DPID; the master licence of 2024."},
        format="json",
    )
    assert filed.status_code == 201, filed.json()
    assert (filed.json()["status"], filed.json()["matched_on"]) == ("pending", ["dpid"])
    # Filing changes nothing: the share is still the unclaimed party's.
    share = RightsShare.objects.get(work__isrc="GBNWR2400032", holder=unclaimed)

    accepted = demo["label"].post(
        f"/api/v1/party-claims/{filed.json()['id']}/accept/", {}, format="json"
    )

    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "accepted"
    share.refresh_from_db()
    assert (share.holder, share.version, share.share) == (quill.party, 2, 40)
    unclaimed.refresh_from_db()
    assert (unclaimed.claimed_by, unclaimed.unclaimed) == (quill.party, False)
    kinds = [e.kind for e in PendingEntry.objects.order_by("-id")[:3]]
    assert kinds == ["party_claim_decided", "party", "rights_share"]
    decided = json.loads(bytes(PendingEntry.objects.order_by("-id")[0].data))["payload"]
    assert decided["shares"] == [str(share.pk)]
    assert "commitment" in decided["reason"]  # the reason is committed, not in clear
    # Quill now decides for its share: it allows analyze, and the recording is allowed.
    response = quill.client.post(
        "/api/v1/consent/rules/",
        {"effect": "allow", "scope": "all_works", "uses": ["analyze"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert check(demo, "GBNWR2400032").outcome == "conditional"
    # The label's next delivery of the same feed gives Quill its share directly: nothing moves.
    entries = PendingEntry.objects.count()
    label = Party.objects.get(kind=PartyKind.LABEL, name="Northwind Records")
    again = import_catalog(party=label, data=FEED.read_bytes(), fmt="ddex", now=timezone.now())
    assert again.problems == []
    assert again.counts["shares_created"] == again.counts["parties_named"] == 0
    assert PendingEntry.objects.count() == entries


def test_a_party_whose_identifiers_do_not_match_cannot_claim(demo: dict[str, Any]) -> None:
    unclaimed: Party = demo["quill"]
    body = {"party": str(unclaimed.pk), "statement": "It is us, trust us."}
    # The same name, no DPID: the feed identified Quill by a DPID this party does not have.
    namesake = caller(PartyKind.LABEL, name="Quill & Fen Masters Ltd")
    # Another DPID: another organisation.
    other = caller(PartyKind.PUBLISHER, name="Quill Publishing", dpid="PADPIDA2099010101Z")
    for party in (namesake, other):
        assert party.client.get("/api/v1/party-claims/candidates/").json() == []
        refused = party.client.post("/api/v1/party-claims/", body, format="json")
        assert refused.status_code == 400, refused.json()
        assert "party" in refused.json()["fields"]
    assert not PartyClaim.objects.exists()
    # A licensee claims nothing, and a party that joined is not claimable at all.
    licensee = caller(PartyKind.LICENSEE, dpid=QUILL_DPID)
    assert licensee.client.post("/api/v1/party-claims/", body, format="json").status_code == 403
    label = Party.objects.get(kind=PartyKind.LABEL, name="Northwind Records")
    joined = {"party": str(label.pk), "statement": "mine"}
    assert namesake.client.post("/api/v1/party-claims/", joined, format="json").status_code == 404


def test_only_the_party_that_named_it_decides_and_others_do_not_see_the_claim(
    demo: dict[str, Any],
) -> None:
    quill = caller(PartyKind.LABEL, name="Quill & Fen Masters", dpid=QUILL_DPID)
    body = {"party": str(demo["quill"].pk), "statement": "Our DPID."}
    claim_id = quill.client.post("/api/v1/party-claims/", body, format="json").json()["id"]
    # The claimant cannot accept its own claim; a third party does not see it.
    own = quill.client.post(f"/api/v1/party-claims/{claim_id}/accept/", {}, format="json")
    assert own.status_code == 403
    rival = caller(PartyKind.LABEL, name="Rival Records")
    assert rival.client.get(f"/api/v1/party-claims/{claim_id}/").status_code == 404
    assert rival.client.post(f"/api/v1/party-claims/{claim_id}/accept/", {}).status_code == 404
    assert demo["licensee"].get("/api/v1/party-claims/").json()["results"] == []
    # A rejection needs a reason, and moves nothing.
    reject = f"/api/v1/party-claims/{claim_id}/reject/"
    assert demo["label"].post(reject, {}, format="json").status_code == 400
    done = demo["label"].post(reject, {"reason": "Not our licensor."}, format="json")
    assert done.json()["status"] == "rejected"
    assert RightsShare.objects.get(work__isrc="GBNWR2400032", share=40).holder == demo["quill"]
    again = demo["label"].post(f"/api/v1/party-claims/{claim_id}/accept/", {}, format="json")
    assert again.status_code == 409


def test_an_operator_rules_on_a_party_claim() -> None:
    label = caller(PartyKind.LABEL, name="Northwind Records")
    import_catalog(party=label.party, data=FEED.read_bytes(), fmt="ddex", now=timezone.now())
    unclaimed = Party.objects.get(named_by=label.party, dpid=QUILL_DPID)
    quill = caller(PartyKind.LABEL, name="Quill & Fen Masters", dpid=QUILL_DPID)
    body = {"party": str(unclaimed.pk), "statement": "Our DPID."}
    claim_id = quill.client.post("/api/v1/party-claims/", body, format="json").json()["id"]

    call_command("party_claim_rule", claim_id, "accept", "--reason", "DPID registry checked")

    claim = PartyClaim.objects.get(pk=claim_id)
    assert (claim.status, claim.decided_by_party) == (ClaimStatus.ACCEPTED, None)
    assert RightsShare.objects.get(work__isrc="GBNWR2400032", share=40).holder == quill.party
    with pytest.raises(CommandError, match="accepted already"):
        call_command("party_claim_rule", claim_id, "reject", "--reason", "too late")


def test_an_unclaimed_party_gets_no_members_and_blocks_no_one_from_joining(
    demo: dict[str, Any],
) -> None:
    from governance.exceptions import InvalidInput
    from governance.services.identity import membership_add, party_create, user_create

    with pytest.raises(InvalidInput, match="claim it instead"):
        membership_add(party=demo["quill"], user=user_create(username="x"), role="admin")
    assert not demo["quill"].memberships.exists()
    # The organisation joins under the very name the feed gave: the unclaimed party is no
    # namesake in the way.
    joined = party_create(name="Quill & Fen Masters Ltd", kind=PartyKind.LABEL)
    assert joined.pk != demo["quill"].pk


@pytest.mark.django_db
def test_two_rulings_on_one_party_claim_at_once_decide_it_once(committed: None) -> None:
    # given a claim on the party a feed named, filed by the organisation it names
    def given() -> str:
        label = caller(PartyKind.LABEL, name="Northwind Records")
        import_catalog(party=label.party, data=FEED.read_bytes(), fmt="ddex", now=timezone.now())
        unclaimed = Party.objects.get(named_by=label.party, dpid=QUILL_DPID)
        quill = caller(PartyKind.LABEL, name="Quill & Fen Masters", dpid=QUILL_DPID)
        body = {"party": str(unclaimed.pk), "statement": "Our DPID."}
        return str(quill.client.post("/api/v1/party-claims/", body, format="json").json()["id"])

    claim_id = on_own_connection(given)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def rule(ruling: str) -> None:
        barrier.wait(10)
        try:
            call_command("party_claim_rule", claim_id, ruling, "--reason", ruling)
            outcomes.append(ruling)
        except CommandError:
            outcomes.append("refused")

    # when an operator accepts it while another rejects it, on two connections at once
    threads = [threading.Thread(target=on_own_connection, args=(lambda r=r: rule(r),))
               for r in ("accept", "reject")]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # then one ruling stands, the other is refused, and the shares follow the one that stood
    assert sorted(outcomes) in (["accept", "refused"], ["refused", "reject"])
    claim = PartyClaim.objects.get(pk=claim_id)
    won = "accept" if "accept" in outcomes else "reject"
    assert claim.status == (ClaimStatus.ACCEPTED if won == "accept" else ClaimStatus.REJECTED)
    holder = RightsShare.objects.get(work__isrc="GBNWR2400032", share=40).holder
    assert (holder.pk == claim.claimant_id) is (won == "accept")
    assert PendingEntry.objects.filter(kind="party_claim_decided").count() == 1
