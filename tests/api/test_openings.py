"""Issue 12, Access item 5: the public ledger no longer reveals share percentages, rules'
licensee lists or notes; they are salted commitments, and their openings go over
``GET /api/v1/ledger/openings/`` only to auditors and the parties entitled to them."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from governance.models import Decision, PartyKind
from ledger import canonical, commitments, opening_bundles, services
from ledger.models import Entry
from tests.factories import Caller, caller
from tests.governance.test_replay import behind_the_ledgers_back, entry_index
from tests.ledger.helpers import sequence

pytestmark = pytest.mark.django_db

ISRC = "USRC17607839"
NOTE = "Yes to this lab only: EUR 0.02 per stream, contract 2026-117."
OPENINGS = "/api/v1/ledger/openings/"


@pytest.fixture
def registry() -> dict[str, Any]:
    """A label's recording with master shares of 62.125 % (the label) and 37.875 % (a
    publisher), the credited artist's performer share, the artist's rule allowing one listed
    licensee to train (with a private note), that licensee's check, all in a signed log."""
    services.key_register(signer=services.current_signer(), now=timezone.now())
    label = caller(PartyKind.LABEL)
    publisher = caller(PartyKind.PUBLISHER)
    artist = caller(PartyKind.ARTIST, name="Ada Vale")
    licensee = caller(PartyKind.LICENSEE, name="Sonora AI Labs")
    work = label.client.post("/api/v1/works/", {
        "kind": "recording", "title": "Northern Lights", "isrc": ISRC,
        "display_artist": "Ada Vale",
        "credits": [{"name": "Ada Vale", "role": "main_artist", "party": str(artist.party.pk)}],
    }, format="json").json()  # fmt: skip
    for right, holder, share in (
        ("master", label, "62.125"),
        ("master", publisher, "37.875"),
        ("publishing", label, "100"),
        ("performer", artist, "100"),
    ):
        body = {"work": work["id"], "holder": str(holder.party.pk), "right": right, "share": share}
        assert label.client.post("/api/v1/shares/", body, format="json").status_code == 201
    for who in (label, publisher):
        response = who.client.post(
            "/api/v1/consent/rules/",
            {"scope": "all_works", "uses": ["train"], "effect": "allow"},
            format="json",
        )
        assert response.status_code == 201
    rule = artist.client.post("/api/v1/consent/rules/", {
        "scope": "all_works", "uses": ["train"], "licensee_mode": "listed",
        "licensees": [str(licensee.party.pk)], "effect": "allow",
        "note": NOTE,
    }, format="json")  # fmt: skip
    assert rule.status_code == 201, rule.json()
    check = licensee.client.post(
        "/api/v1/checks/", {"use": "train", "item": {"isrc": ISRC}}, format="json"
    )
    assert check.status_code in (200, 201), check.json()
    assert check.json()["outcome"] == "allow"
    size = sequence().size
    return {
        "label": label,
        "publisher": publisher,
        "artist": artist,
        "licensee": licensee,
        "unrelated": caller(PartyKind.LABEL),
        "auditor": caller(PartyKind.AUDITOR),
        "size": size,
        "rule": rule.json()["rule"],
    }


def public_entries(size: int) -> list[bytes]:
    response = Client().get("/ledger/entries", {"start": 0, "end": size})
    assert response.status_code == 200
    return [base64.b64decode(e["data"]) for e in response.json()["entries"]]


def indexes() -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for index, data in Entry.objects.order_by("index").values_list("index", "data"):
        out[canonical.decode_entry(bytes(data)).kind].append(index)
    return out


def opened(who: Caller, **params: Any) -> Any:
    return who.client.get(OPENINGS, params)


def test_the_public_log_shows_no_percentage_licensee_list_or_rule_note(registry) -> None:  # type: ignore[no-untyped-def]
    entries = public_entries(registry["size"])
    everything = b"\n".join(entries)
    for secret in (b"62.125", b"37.875", b"62.12", NOTE.encode(), b"0.02 per stream"):
        assert secret not in everything
    licensee_id = str(registry["licensee"].party.pk).encode()
    decoded = [canonical.decode_entry(e) for e in entries]
    rules = [e for e, d in zip(entries, decoded, strict=True) if d.kind == "consent_rule"]
    mine = registry["rule"]
    (payload,) = [
        d.payload for d in decoded if d.kind == "consent_rule" and d.payload["rule"] == mine
    ]
    assert len(rules) == 3
    assert all(licensee_id not in e for e in rules)
    assert set(payload["licensees"]) == set(payload["note"]) == {"commitment"}
    assert payload["licensee_mode"] == "listed"  # who decides and how stays public
    shares = [d.payload for d in decoded if d.kind == "rights_share"]
    assert len(shares) == 4
    assert all(commitments.committed_field(s["share"]) for s in shares)
    decision = next(d.payload for d in decoded if d.kind == "decision")
    assert commitments.committed_field(decision["trace"])
    assert "trace_sha256" not in decision  # an unsalted hash of the trace could be guessed
    assert decision["rule_versions"]  # which rule versions decided stays public
    # The receipt endpoint shows the same committed payload.
    index = indexes()["consent_rule"][-1]
    receipt = Client().get(f"/ledger/entries/{index}").json()
    assert NOTE not in json.dumps(receipt)


def test_an_auditor_downloads_every_opening_and_checks_it_against_the_entries(registry) -> None:  # type: ignore[no-untyped-def]
    entries = public_entries(registry["size"])
    response = opened(registry["auditor"], start=0, end=registry["size"])
    assert response.status_code == 200
    served = {e["index"]: e for e in response.json()["entries"]}
    sealed = {
        i: canonical.decode_entry(data)
        for i, data in enumerate(entries)
        if commitments.commitments_of(canonical.decode_entry(data).payload)
    }
    assert served.keys() == sealed.keys()  # every committed entry, and only those
    clear: dict[str, list[Any]] = defaultdict(list)
    for index, entry in sealed.items():
        got = served[index]
        assert got["type"] == entry.kind
        assert base64.b64decode(got["leaf_hash"]) == services.merkle.leaf_hash(entries[index])
        openings = [
            commitments.Opening(o["field"], bytes.fromhex(o["salt"]), o["value"])
            for o in got["openings"]
        ]
        for o in got["openings"]:
            assert entry.payload[o["field"]] == {"commitment": o["commitment"]}
        payload = commitments.unseal(entry.payload, openings)  # raises if any does not match
        clear[entry.kind].append(payload)
    assert sorted(s["share"] for s in clear["rights_share"]) == [
        "100.000", "100.000", "37.875", "62.125"]  # fmt: skip
    (rule,) = [r for r in clear["consent_rule"] if r["rule"] == registry["rule"]]
    assert (rule["licensees"], rule["note"]) == ([str(registry["licensee"].party.pk)], NOTE)
    (decision,) = clear["decision"]
    assert decision["trace"] == Decision.objects.get().trace


def test_the_registrant_and_every_holder_of_the_work_see_its_shares(registry) -> None:  # type: ignore[no-untyped-def]
    share_entries = indexes()["rights_share"]
    for who in ("label", "publisher", "artist"):
        response = opened(registry[who], start=0, end=registry["size"])
        assert response.status_code == 200
        got = {e["index"] for e in response.json()["entries"] if e["type"] == "rights_share"}
        assert got == set(share_entries), who
        one = opened(registry[who], entry=share_entries[0])
        assert one.status_code == 200
        assert [o["field"] for o in one.json()["entries"][0]["openings"]] == ["share"]


def test_a_rules_owner_sees_its_rule_and_the_licensee_it_names_does_not(registry) -> None:  # type: ignore[no-untyped-def]
    index = indexes()["consent_rule"][-1]
    own = opened(registry["artist"], entry=index)
    assert own.status_code == 200
    values = {o["field"]: o["value"] for o in own.json()["entries"][0]["openings"]}
    assert values == {"licensees": [str(registry["licensee"].party.pk)], "note": NOTE}
    for who in ("licensee", "label", "unrelated"):
        response = opened(registry[who], entry=index)
        assert response.status_code == 404, who
        assert response.json()["code"] == "not_found"
        assert set(response.json()) == {"code", "message", "fields"}


def test_a_licensee_and_an_unrelated_label_see_no_share_or_trace(registry) -> None:  # type: ignore[no-untyped-def]
    kinds = indexes()
    for who in ("licensee", "unrelated"):
        for index in (kinds["rights_share"][0], kinds["decision"][0]):
            response = opened(registry[who], entry=index)
            assert response.status_code == 404, (who, index)
            assert "62.125" not in response.content.decode()
        everything = opened(registry[who], start=0, end=registry["size"])
        assert everything.status_code == 200
        assert everything.json() == {"entries": []}


def test_a_decisions_holders_see_its_trace(registry) -> None:  # type: ignore[no-untyped-def]
    index = indexes()["decision"][0]
    for who in ("label", "publisher", "artist"):
        response = opened(registry[who], entry=index)
        assert response.status_code == 200, who
        (opening,) = response.json()["entries"][0]["openings"]
        assert opening["field"] == "trace"
        assert "62.125" in json.dumps(opening["value"])


def test_with_values_jcs_each_value_is_the_text_committed_which_opens_the_entrys_commitment(
    registry,
) -> None:  # type: ignore[no-untyped-def]
    entries = public_entries(registry["size"])
    as_json = opened(registry["auditor"], start=0, end=registry["size"])
    as_jcs = opened(registry["auditor"], start=0, end=registry["size"], values="jcs")
    assert as_jcs.status_code == 200
    assert as_jcs["Content-Type"] == "application/json"
    values = {
        (e["index"], o["field"]): o["value"]
        for e in as_json.json()["entries"]
        for o in e["openings"]
    }
    served = as_jcs.json()["entries"]
    assert [e["index"] for e in served] == [e["index"] for e in as_json.json()["entries"]]
    for item in served:
        payload = canonical.decode_entry(entries[item["index"]]).payload
        for o in item["openings"]:
            assert "value" not in o
            text = o["value_jcs"]
            assert isinstance(text, str)
            # Its UTF-8 bytes are hashed as they are, and read as the value served as JSON.
            commitment = commitments.commit_bytes(
                o["field"], text.encode(), salt=bytes.fromhex(o["salt"])
            )
            assert (
                payload[o["field"]] == {"commitment": commitment} == {"commitment": o["commitment"]}
            )
            assert json.loads(text) == values[(item["index"], o["field"])]
            assert text.encode() == commitments.encode_value(json.loads(text))


def test_a_party_gets_what_an_auditor_gets_of_the_entries_it_may_see(registry) -> None:  # type: ignore[no-untyped-def]
    for values in ("json", "jcs"):
        auditor = opened(registry["auditor"], start=0, end=registry["size"], values=values)
        everything = {e["index"]: e for e in auditor.json()["entries"]}
        for who in ("label", "artist", "publisher"):
            mine = opened(registry[who], start=0, end=registry["size"], values=values).json()
            assert mine["entries"]
            for item in mine["entries"]:
                assert item == everything[item["index"]]
        (index,) = indexes()["decision"]
        one = opened(registry["auditor"], entry=index, values=values).json()
        assert one == {"entries": [everything[index]]}


def test_with_values_bytes_the_openings_come_as_a_bundle_of_the_bytes_committed(registry) -> None:  # type: ignore[no-untyped-def]
    entries = public_entries(registry["size"])
    as_jcs = opened(registry["auditor"], start=0, end=registry["size"], values="jcs").json()
    bundle = opened(registry["auditor"], start=0, end=registry["size"], values="bytes")
    assert bundle.status_code == 200
    assert bundle["Content-Type"] == "application/octet-stream"
    records = opening_bundles.decode_bundle(bundle.content)
    # The same openings as the JSON answer's, each value the text committed, as bytes.
    assert [
        (i, base64.b64encode(h).decode(), f, s.hex(), v.decode()) for i, h, f, s, v in records
    ] == [
        (e["index"], e["leaf_hash"], o["field"], o["salt"], o["value_jcs"])
        for e in as_jcs["entries"]
        for o in e["openings"]
    ]
    for index, _, field, salt, value in records:
        payload = canonical.decode_entry(entries[index]).payload
        assert payload[field] == {"commitment": commitments.commit_bytes(field, value, salt=salt)}


def test_with_values_bytes_a_party_gets_the_openings_it_may_see_and_no_other(registry) -> None:  # type: ignore[no-untyped-def]
    every = opening_bundles.decode_bundle(
        opened(registry["auditor"], start=0, end=registry["size"], values="bytes").content
    )
    for who in ("label", "artist", "publisher", "licensee", "unrelated"):
        mine = opened(registry[who], start=0, end=registry["size"], values="bytes")
        assert mine.status_code == 200
        seen = {
            e["index"]
            for e in opened(registry[who], start=0, end=registry["size"]).json()["entries"]
        }
        assert opening_bundles.decode_bundle(mine.content) == [r for r in every if r[0] in seen]
    assert (
        b"62.125"
        not in opened(registry["licensee"], start=0, end=registry["size"], values="bytes").content
    )


def test_an_opening_that_does_not_match_is_served_beside_the_entrys_own_commitment(
    registry,
) -> None:  # type: ignore[no-untyped-def]
    index, leaf = entry_index("rights_share", right="master")
    (entry,) = Entry.objects.filter(index=index).values_list("data", flat=True)
    ledgered = canonical.decode_entry(bytes(entry)).payload["share"]["commitment"]
    behind_the_ledgers_back(
        "UPDATE ledger_opening SET value = %s WHERE leaf_hash = %s AND field = 'share'",
        [b'"0.001"', leaf],
    )
    for who in ("auditor", "label"):
        (item,) = opened(registry[who], entry=index, values="jcs").json()["entries"]
        (o,) = item["openings"]
        assert (o["value_jcs"], o["commitment"]) == ('"0.001"', ledgered)


def test_an_entry_without_openings_is_not_found_even_for_an_auditor(registry) -> None:  # type: ignore[no-untyped-def]
    index = indexes()["party"][0]
    assert opened(registry["auditor"], entry=index).status_code == 404
    assert opened(registry["auditor"], entry=registry["size"] + 5).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"entry": "abc"},
        {"entry": "\x00"},
        {"entry": "-1"},
        {"entry": "01"},
        {"entry": "1", "start": "0", "end": "2"},
        {"start": "5", "end": "2"},
        {"start": "0"},
        {},
        {"start": "0", "end": "1001"},
        {"start": "0", "end": "1", "values": "xml"},
        {"entry": "1", "values": ""},
        {"entry": "1", "values": "bytes"},
        {"start": "0", "values": "bytes"},
        {"start": "0", "end": "1001", "values": "bytes"},
        {"start": "3", "end": "2", "values": "bytes"},
    ],
)
def test_bad_parameters_are_refused_in_the_common_error_body(registry, params) -> None:  # type: ignore[no-untyped-def]
    response = opened(registry["auditor"], **params)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}


def test_the_openings_need_credentials(registry) -> None:  # type: ignore[no-untyped-def]
    for values in ("json", "bytes"):
        response = Client().get(OPENINGS, {"start": 0, "end": registry["size"], "values": values})
        assert response.status_code in (401, 403)
        assert "62.125" not in response.content.decode()
