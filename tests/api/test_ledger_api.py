"""The ledger's read API: every endpoint answers in its documented format, proofs verify
against the signed checkpoint, and bad numbers are 400s in the common error body."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client
from django.utils import timezone

from ledger import merkle, note, services, tiles
from ledger.models import Entry
from tests.factories import caller
from tests.ledger.helpers import append_many, b64d, sequence


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


pytestmark = pytest.mark.django_db


@pytest.fixture
def log() -> int:
    """A signed log of at least 600 entries; returns its size."""
    services.key_register(signer=services.current_signer(), now=timezone.now())
    append_many(600)
    return sequence().size


def signed_root(client: Client) -> note.Checkpoint:
    response = client.get("/ledger/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    return note.open_checkpoint(
        response.content, verifiers=[services.current_signer().verifier()], origin=services.origin()
    )


def test_the_checkpoint_is_a_signed_note(log: int) -> None:
    assert signed_root(Client()).size == log


def test_entries_come_in_pages_with_their_leaf_hashes(log: int) -> None:
    append_many(600, start=1000)
    size = sequence().size
    body = Client().get(f"/ledger/entries?start=10&end={size}").json()
    entries = body["entries"]
    assert len(entries) == 1000  # at most 1,000 a call; the client pages on
    assert entries[0]["index"] == 10
    for e in entries[:5]:
        assert b64d(e["leaf_hash"]) == merkle.leaf_hash(b64d(e["data"]))


def test_a_page_of_entries_is_the_compact_json_of_its_entries_in_index_order(log: int) -> None:
    response = Client().get("/ledger/entries?start=3&end=40")
    assert response["Content-Type"] == "application/json"
    body = response.json()
    # Written by hand, byte for byte what json.dumps writes (the verifier's fast path reads it).
    assert response.content == json.dumps(body, separators=(",", ":")).encode()
    stored = Entry.objects.filter(index__gte=3, index__lt=40).order_by("index")
    assert body == {
        "entries": [
            {"index": e.index, "data": b64e(bytes(e.data)), "leaf_hash": b64e(bytes(e.leaf_hash))}
            for e in stored
        ]
    }


def test_an_inclusion_proof_verifies_against_the_signed_root(log: int) -> None:
    client = Client()
    checkpoint = signed_root(client)
    for index in (0, 299, log - 1):
        body = client.get(f"/ledger/proof/inclusion?index={index}&tree_size={log}").json()
        leaf = bytes(Entry.objects.get(index=index).leaf_hash)
        merkle.verify_inclusion(
            index=index,
            size=log,
            leaf_hash=leaf,
            proof=[b64d(h) for h in body["hashes"]],
            root=checkpoint.root_hash,
        )


def test_a_consistency_proof_verifies_between_two_checkpoints(log: int) -> None:
    client = Client()
    old = signed_root(client)
    append_many(37, start=10_000)
    sequence()
    new = signed_root(client)
    body = client.get(f"/ledger/proof/consistency?first={old.size}&second={new.size}").json()
    merkle.verify_consistency(
        first=old.size,
        second=new.size,
        first_root=old.root_hash,
        second_root=new.root_hash,
        proof=[b64d(h) for h in body["hashes"]],
    )


def test_one_entry_comes_decoded_with_its_receipt(log: int) -> None:
    body = Client().get("/ledger/entries/5").json()
    assert body["index"] == 5
    assert body["decoded"]["type"] in {"test", "key", "party"}
    assert body["tree_size"] >= 6
    merkle.verify_inclusion(
        index=5,
        size=body["tree_size"],
        leaf_hash=merkle.leaf_hash(b64d(body["entry"])),
        proof=[b64d(h) for h in body["inclusion_proof"]],
        root=signed_root(Client()).root_hash,
    )


def test_keys_list_the_current_key_with_its_verifier_string(log: int) -> None:
    keys = Client().get("/ledger/keys").json()["keys"]
    assert keys[0]["vkey"] == services.current_signer().verifier().key_string
    assert keys[0]["algorithm"] == "ed25519"
    assert keys[0]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert keys[0]["valid_until"] is None


def test_tiles_hold_the_level_zero_hashes_and_entry_bundles(log: int) -> None:
    client = Client()
    full = client.get("/ledger/tile/0/000")
    assert full.status_code == 200
    assert full["Cache-Control"] == "public, max-age=31536000, immutable"
    hashes = tiles.split_tile(full.content)
    assert hashes == [bytes(e.leaf_hash) for e in Entry.objects.order_by("index")[:256]]
    width = log - 512
    partial = client.get(f"/ledger/tile/entries/002.p/{width}")
    assert partial.status_code == 200
    assert partial["Cache-Control"] == "no-cache"
    bundle = tiles.decode_entry_bundle(partial.content)
    assert bundle == [bytes(e.data) for e in Entry.objects.filter(index__gte=512).order_by("index")]
    level1 = client.get(f"/ledger/tile/1/000.p/{log // 256}")
    assert level1.status_code == 200
    assert len(level1.content) == 32 * (log // 256)


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/ledger/proof/inclusion?index=0&tree_size=999999", "tree_size"),
        ("/ledger/proof/inclusion?index=700&tree_size=600", "index"),
        ("/ledger/proof/inclusion?index=-1&tree_size=5", "index"),
        ("/ledger/proof/inclusion?index=01&tree_size=5", "index"),
        ("/ledger/proof/inclusion?index=abc&tree_size=5", "index"),
        ("/ledger/proof/inclusion?tree_size=5", "index"),
        ("/ledger/proof/consistency?first=9&second=3", "first"),
        ("/ledger/proof/consistency?first=1&second=999999", "second"),
        ("/ledger/entries?start=5&end=5", "start"),
        ("/ledger/entries?start=0&end=999999", "end"),
        ("/ledger/entries?start=1e3&end=5", "start"),
        ("/ledger/tile/0/x1", "path"),
        ("/ledger/tile/0/000.p/0", "path"),
    ],
)
def test_bad_numbers_are_400_naming_the_parameter(log: int, url: str, field: str) -> None:
    response = Client().get(url)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_range"
    assert field in body["fields"]


def test_a_tile_beyond_the_signed_tree_is_404(log: int) -> None:
    response = Client().get("/ledger/tile/0/x001/000")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_reads_can_be_restricted_to_auditors(log: int, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LEDGER_READ_REQUIRES_AUDITOR = True
    assert Client().get("/ledger/checkpoint").status_code == 401
    assert caller("label").client.get("/ledger/checkpoint").status_code == 403
    assert caller("auditor").client.get("/ledger/checkpoint").status_code == 200


def test_no_checkpoint_yet_is_a_404_not_a_500() -> None:
    from ledger.models import Checkpoint

    assert not Checkpoint.objects.exists()
    response = Client().get("/ledger/checkpoint")
    assert response.status_code == 404


def test_the_raw_formats_answer_to_their_own_media_types(log: int) -> None:
    client = Client()
    checkpoint = client.get("/ledger/checkpoint", HTTP_ACCEPT="text/plain")
    assert checkpoint.status_code == 200
    assert checkpoint.content.startswith(services.origin().encode() + b"\n")
    tile = client.get("/ledger/tile/0/000", HTTP_ACCEPT="application/octet-stream")
    assert tile.status_code == 200
    assert len(tile.content) == 256 * 32
    missing = client.get("/ledger/tile/0/x009/000", HTTP_ACCEPT="application/octet-stream")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
