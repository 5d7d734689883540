"""Licence tokens end to end (issue 19, section 2): issued for an allow or conditional
decision over HTTP, verified offline by ``python -m ledger.verify token`` with the published
key and the receipt, failing after one byte changes, and, online, reporting a consent withdrawn
through the API since; nobody but the decision's readers gets one, and a denied or pending
decision gets none."""

from __future__ import annotations

import base64
import copy
import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from governance import ledgering, tasks
from governance.models import PartyKind
from ledger import licence_tokens, verify
from ledger import services as ledger_services
from ledger.exceptions import VerificationError
from ledger.verify import FetchError, HttpLogClient
from tests.factories import caller
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

LOG = "http://consentry.test"


def check(world: dict[str, Any], use: str) -> dict[str, Any]:
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": use, "item": {"isrc": ISRC}}, format="json"
    )
    assert response.status_code in (200, 201), response.json()
    return dict(response.json())


def allowed(world: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An ``analyze`` grant by the label (the master is the one right analysis needs)."""
    granted = rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    decision = check(world, "analyze")
    assert decision["outcome"] == "allow", decision
    return granted, decision


def token_of(who: Any, decision_id: str) -> Any:
    return who.client.get(f"/api/v1/decisions/{decision_id}/token/")


def vkey() -> str:
    return ledger_services.current_signer().verifier().key_string


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = verify.main(["token", *argv, "--vkey", vkey()])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def log_over_test_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--log http://consentry.test`` answered by this process's Django (no socket)."""
    anonymous = Client()

    def get(self: HttpLogClient, url: str, *, accept: str) -> bytes:
        parts = urllib.parse.urlsplit(url)
        assert url.startswith(LOG), url
        response = anonymous.get(f"{parts.path}?{parts.query}", HTTP_ACCEPT=accept)
        if response.status_code != 200:
            raise FetchError(f"GET {url}: HTTP {response.status_code}", url=url)
        return bytes(response.content)

    monkeypatch.setattr(HttpLogClient, "get", get)


def test_an_allow_decision_yields_a_token_verified_offline_with_its_receipt(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys
) -> None:
    _, decision = allowed(world)
    response = token_of(world["licensee"], decision["id"])
    assert response.status_code == 200, response.json()
    body = response.json()
    claims = body["claims"]
    assert claims["decision"] == decision["id"]
    assert claims["licensee"] == {"id": str(world["licensee"].party.pk), "name": "Sonora AI Labs"}
    assert (claims["use"], claims["outcome"], claims["territories"]) == ("analyze", "allow", [])
    assert claims["works"] == [
        {
            "id": world["work"]["id"],
            "kind": "recording",
            "title": "Northern Lights",
            "isrc": ISRC,
            "iswc": None,
        }
    ]
    assert claims["entry"]["index"] == body["receipt"]["index"]
    assert claims["entry"]["leaf_hash"] == body["receipt"]["leaf_hash"]
    assert claims["settlement"] is None
    assert body["token"].startswith("consentry/licence-token/v1\n{")
    assert body["vkey"] == vkey()
    # The pure entry point the usage reports use: text and keys in, claims out.
    verified = licence_tokens.verify_token(body["token"], [verify_key()])
    assert verified.decision == decision["id"]
    # The token alone, offline: verified, and it says it cannot know about withdrawals.
    alone = tmp_path / "token.txt"
    alone.write_text(body["token"])
    status, out, err = run(capsys, str(alone))
    assert status == 0, err
    assert f"licence token for decision {decision['id']}: allow analyze" in out
    assert "offline mode cannot know whether the consent was withdrawn" in out
    assert "receipt: not checked" in out
    # The endpoint's answer saved as it is: the receipt beside it is checked too.
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(body))
    status, out, err = run(capsys, str(answer))
    assert status == 0, err
    assert f"receipt: entry {claims['entry']['index']} is included in" in out
    # Issued again, the same bytes (nothing is stored; Ed25519 is deterministic).
    assert token_of(world["licensee"], decision["id"]).json()["token"] == body["token"]


def verify_key() -> Any:
    return ledger_services.current_signer().verifier()


def test_a_token_fails_after_one_byte_of_its_body_or_signature_changes(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys
) -> None:
    _, decision = allowed(world)
    token = token_of(world["licensee"], decision["id"]).json()["token"]
    path = tmp_path / "token.txt"
    # One byte of the body: the licensee's name, still well-formed claims.
    path.write_text(token.replace("Sonora AI Labs", "Sonora AI Labz"))
    status, _, err = run(capsys, str(path))
    assert status == 1
    assert "verification FAILED: token: signature does not verify" in err
    # One byte of the signature (a base64 character of it, still base64).
    body, signature_line = token[:-1].rsplit("\n", 1)
    encoded = signature_line.rsplit(" ", 1)[1]
    position = len(signature_line) - 10
    swapped = "A" if signature_line[position] != "A" else "B"
    path.write_text(
        f"{body}\n{signature_line[:position]}{swapped}{signature_line[position + 1 :]}\n"
    )
    assert encoded
    status, _, err = run(capsys, str(path))
    assert status == 1
    assert "signature does not verify" in err
    # Not a token at all: exit 3.
    path.write_text(token.replace("consentry/licence-token/v1", "consentry/licence-token/v2"))
    status, _, err = run(capsys, str(path))
    assert status == 3
    assert "not 'consentry/licence-token/v1'" in err
    # Another key's token: the signature line is unknown to the given key.
    path.write_text(token)
    other = "consentry.localhost/ledger+c11e7a5c+AV+Qdcix4yxcQZncZVntXWRUNWMX5ZZl/VOIonrXaeY1"
    assert verify.main(["token", str(path), "--vkey", other]) == 1


def test_a_receipt_for_another_entry_does_not_vouch_for_the_token(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys
) -> None:
    _, first = allowed(world)
    second = check(world, "analyze")
    body = token_of(world["licensee"], first["id"]).json()
    other = world["licensee"].client.get(f"/api/v1/decisions/{second['id']}/receipt/").json()
    (tmp_path / "token.txt").write_text(body["token"])
    (tmp_path / "receipt.json").write_text(json.dumps(other))
    status, _, err = run(
        capsys, str(tmp_path / "token.txt"), "--receipt", str(tmp_path / "receipt.json")
    )
    assert status == 1
    assert "receipt: the receipt proves entry" in err


def test_online_mode_reports_a_consent_withdrawn_through_the_api(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys, log_over_test_client
) -> None:
    granted, decision = allowed(world)
    body = token_of(world["licensee"], decision["id"]).json()
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(body))
    status, out, err = run(capsys, str(path), "--log", LOG)
    assert status == 0, err
    assert "consent: in force as of the log's checkpoint of size" in out
    withdrawn = world["label"].client.post(f"/api/v1/consent/rules/{granted['rule']}/withdraw/")
    assert withdrawn.status_code == 200
    ledger_services.sequence_and_sign(now=timezone.now())
    status, out, err = run(capsys, str(path), "--log", LOG)
    assert status == 4, (out, err)
    assert f"(consent_rule_withdrawn): withdrawn: rule {granted['rule']} was withdrawn" in out
    assert "consent: withdrawn as of the log's checkpoint" in out
    # Offline, the same token still verifies: offline mode cannot know, and says so.
    status, out, _ = run(capsys, str(path))
    assert status == 0
    assert "offline mode cannot know" in out


def test_online_mode_reports_a_rule_edit_as_superseded_or_withdrawn(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys, log_over_test_client
) -> None:
    granted, decision = allowed(world)
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(token_of(world["licensee"], decision["id"]).json()))
    url = f"/api/v1/consent/rules/{granted['rule']}/"
    edit = {"scope": "all_works", "uses": ["analyze", "train"], "effect": "allow"}
    assert world["label"].client.put(url, edit, format="json").status_code == 200
    ledger_services.sequence_and_sign(now=timezone.now())
    status, out, err = run(capsys, str(path), "--log", LOG)
    assert status == 5, (out, err)
    assert "superseded: rule" in out
    assert "has version 2 (the token cites 1)" in out
    edit = {"scope": "all_works", "uses": ["train"], "effect": "allow"}
    assert world["label"].client.put(url, edit, format="json").status_code == 200
    ledger_services.sequence_and_sign(now=timezone.now())
    status, out, err = run(capsys, str(path), "--log", LOG)
    assert status == 4, (out, err)
    assert "version 3 (the token cites 1) no longer allows analyze" in out


def test_only_the_decisions_readers_get_its_token(world) -> None:  # type: ignore[no-untyped-def]
    _, decision = allowed(world)
    stranger = caller(PartyKind.LICENSEE, name="Other AI")
    assert token_of(stranger, decision["id"]).status_code == 404
    other_label = caller(PartyKind.LABEL, name="Other Records")
    assert token_of(other_label, decision["id"]).status_code == 404
    assert token_of(world["label"], decision["id"]).status_code == 200  # the deciding holder
    assert token_of(world["licensee"], decision["id"]).status_code == 200


def test_a_denied_or_pending_decision_has_no_token(world) -> None:  # type: ignore[no-untyped-def]
    denied = check(world, "train")  # the artist (performer) never consented: opt-in
    assert denied["outcome"] == "deny"
    response = token_of(world["licensee"], denied["id"])
    assert response.status_code == 409
    assert response.json()["code"] == "no_licence"
    assert "outcome is deny" in response.json()["message"]
    rule(world["label"], scope="all_works", uses=["stems"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["stems"], effect="review")
    body = submit(world["licensee"], use="stems", items=[{"isrc": ISRC}])
    tasks.decide_request.apply(args=[body["id"]]).get()
    status = world["licensee"].client.get(body["status_url"]).json()
    pending = token_of(world["licensee"], status["items"][0]["decision"])
    assert pending.status_code == 409
    assert "waits for its rights holders' review" in pending.json()["message"]


def test_a_conditional_grant_carries_its_obligations(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["train"], effect="conditional",
         obligations={"attribution": "Ada Vale", "ai_disclosure": True})  # fmt: skip
    decision = check(world, "train")
    assert decision["outcome"] == "conditional", decision
    claims = token_of(world["licensee"], decision["id"]).json()["claims"]
    assert claims["outcome"] == "conditional"
    assert claims["obligations"] == {"attribution": "Ada Vale", "ai_disclosure": True}
    assert len(claims["rule_versions"]) == 2


def test_a_review_settled_as_allowed_names_its_settlement_and_gives_the_c2pa_assertion(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys, django_capture_on_commit_callbacks
) -> None:
    rule(world["label"], scope="all_works", uses=["stems"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["stems"], effect="review")
    body = submit(world["licensee"], use="stems", items=[{"isrc": ISRC}])
    tasks.decide_request.apply(args=[body["id"]]).get()
    review = world["artist"].client.get("/api/v1/reviews/").json()["results"][0]
    with django_capture_on_commit_callbacks(execute=True):
        approved = world["artist"].client.post(
            f"/api/v1/reviews/{review['id']}/approve/", {"reason": "Fine."}, format="json"
        )
    assert approved.status_code == 200, approved.json()
    answer = token_of(world["licensee"], review["decision"]).json()
    claims = answer["claims"]
    assert (claims["outcome"], claims["code"]) == ("allow", "review.approved")
    assert claims["settlement"]["index"] == answer["receipt"]["index"]
    assert claims["entry"]["index"] == answer["receipt"]["supersedes"]["index"]
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(answer))
    status, out, err = run(capsys, str(path), "--c2pa")
    assert status == 0, err
    assert f"receipt: entry {claims['settlement']['index']} is included" in out
    assertion = json.loads(out[out.index("{") :])
    assert assertion == answer["c2pa_assertion"]
    assert assertion["label"] == "org.consentry.licence"
    assert assertion["data"]["token"] == answer["token"]
    assert assertion["data"]["works"] == [{"isrc": ISRC, "title": "Northern Lights"}]
    assert assertion["data"]["ledger_entry"] == claims["settlement"]["index"]


def test_the_log_answer_is_checked_not_trusted(world) -> None:  # type: ignore[no-untyped-def]
    granted, decision = allowed(world)
    claims = licence_tokens.verify_token(
        token_of(world["licensee"], decision["id"]).json()["token"], [verify_key()]
    )
    world["label"].client.post(f"/api/v1/consent/rules/{granted['rule']}/withdraw/")
    ledger_services.sequence_and_sign(now=timezone.now())
    query = licence_tokens.later_entries_query(claims)
    answer = Client().get("/ledger/later-entries", query).json()
    (found,) = answer["entries"]
    assert found["index"] > claims.entry.index
    assert b'"type":"consent_rule_withdrawn"' in base64.b64decode(found["data"])
    result = licence_tokens.judge_later_entries(claims, answer, [verify_key()])
    assert result.verdict == "withdrawn"
    # An entry that is not the one the signed tree holds at its index is refused.
    forged = copy.deepcopy(answer)
    entry = forged["entries"][0]
    entry["data"] = base64.b64encode(
        base64.b64decode(entry["data"]).replace(b"withdrawn", b"withdrawX")
    ).decode()
    with pytest.raises(VerificationError, match="inclusion"):
        licence_tokens.judge_later_entries(claims, forged, [verify_key()])
    # Nor an entry from before the token's, nor another log's checkpoint.
    early = copy.deepcopy(answer)
    early["entries"][0]["index"] = claims.entry.index
    with pytest.raises(VerificationError, match="index outside"):
        licence_tokens.judge_later_entries(claims, early, [verify_key()])


BAD_QUERIES: list[tuple[dict[str, Any], str]] = [
    ({}, "after"),
    ({"after": "-1"}, "after"),
    ({"after": "999999"}, "after"),
    ({"after": "0", "rule": "not-a-uuid"}, "rule"),
    ({"after": "0", "rule": "7d1f0c62-3b5e-4d8a-9c1e-2f4a6b8d0e1\x00"}, "rule"),
    ({"after": "0", "decision": "7d1f0c62-3b5e-4d8a-9c1e-2f4a6b8d0e1"}, "decision"),
    ({"after": "0", "rule": [str(uuid.uuid4()) for _ in range(51)]}, "rule"),
]


def test_bad_later_entries_queries_are_400_naming_the_parameter(world) -> None:  # type: ignore[no-untyped-def]
    allowed(world)
    ledger_services.sequence_and_sign(now=timezone.now())
    for query, field in BAD_QUERIES:
        response = Client().get("/ledger/later-entries", query)
        assert response.status_code == 400, (query, response.content)
        assert field in response.json()["fields"], (query, response.json())
    assert Client().get("/ledger/later-entries", {"after": "0"}).json()["entries"] == []


def test_online_mode_reports_a_later_entry_superseding_the_decision(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys, log_over_test_client
) -> None:
    """The convention a later resolution of the decision (a dispute's, section 1) follows, as
    ``decision_settled`` does: it names the decision and ``supersedes`` its entry's leaf hash.
    (The entry type here stands for one; any type is read the same way.)"""
    _, decision = allowed(world)
    body = token_of(world["licensee"], decision["id"]).json()
    path = tmp_path / "answer.json"
    path.write_text(json.dumps(body))
    leaf = base64.b64decode(body["claims"]["entry"]["leaf_hash"]).hex()
    now = timezone.now()
    ledgering.append("dispute_opened", {"decision": decision["id"], "reason": "wrong_match"},
                     now=now)  # fmt: skip
    ledger_services.sequence_and_sign(now=now)
    status, out, err = run(capsys, str(path), "--log", LOG)
    assert status == 0, (out, err)
    assert "(dispute_opened): noted: a dispute_opened entry names the decision" in out
    ledgering.append("dispute_released", {"decision": decision["id"], "supersedes": leaf,
                                          "outcome": "deny"}, now=now)  # fmt: skip
    ledger_services.sequence_and_sign(now=now)
    status, out, err = run(capsys, str(path), "--log", LOG)
    assert status == 5, (out, err)
    assert "superseded: a dispute_released entry supersedes the decision's outcome" in out


def test_a_decision_released_by_a_dispute_yields_a_token_naming_the_resolution(  # type: ignore[no-untyped-def]
    world, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = check(world, "train")  # the artist (performer) never consented: opt-in
    assert denied["outcome"] == "deny"
    assert token_of(world["licensee"], denied["id"]).status_code == 409
    opened = world["licensee"].client.post(
        f"/api/v1/decisions/{denied['id']}/disputes/",
        {"reason_code": "licence_held_outside", "statement": "Licence AV-2026-7."},
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    holders = opened.json()["holders"]
    for who in ("label", "artist"):
        if str(world[who].party.pk) in holders:
            released = world[who].client.post(
                f"/api/v1/disputes/{opened.json()['id']}/release/",
                {"reason": "We granted it directly."},
                format="json",
            )
            assert released.status_code == 200, released.json()
    decision = world["licensee"].client.get(f"/api/v1/decisions/{denied['id']}/").json()
    assert decision["outcome"] == "allow", decision
    issued = token_of(world["licensee"], denied["id"])
    assert issued.status_code == 200, issued.json()
    claims = issued.json()["claims"]
    # The token rests on the original decision entry and names the resolution that released it.
    assert (claims["outcome"], claims["code"]) == ("allow", "dispute.released")
    assert claims["obligations"] == {}
    assert claims["settlement"]["index"] > claims["entry"]["index"]
    (tmp_path / "token").write_text(issued.json()["token"])
    status, out, _ = run(capsys, str(tmp_path / "token"))
    assert status == 0, out
