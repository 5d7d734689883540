"""Receipts, verified offline: ``python -m ledger.verify receipt FILE``."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from ledger.exceptions import VerificationError
from ledger.verify import (
    HttpLogClient,
    verify_receipt,
)
from tests.ledger.fakelog import FakeLog, b64, flip_bit, make_entry, make_signer
from tests.ledger.verify.support import run, write_receipt

# ---- receipts -----------------------------------------------------------------------------


def test_a_good_receipt_verifies(
    log: FakeLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_receipt(tmp_path, log.receipt(41))

    status, out, _ = run(capsys, "receipt", path, "--vkey", log.vkey, "--origin", log.origin)

    assert status == 0
    assert out == (
        f"entry 41 is included in {log.origin} at size 57, checkpoint signed by "
        f"{log.signer.name}+{log.signer.key_id.hex()}\n"
    )


def test_the_entry_endpoints_answer_verifies_as_a_receipt(log: FakeLog) -> None:
    served = json.loads(HttpLogClient(log.url).get(f"{log.url}/ledger/entries/7", accept="*/*"))

    result = verify_receipt(served, log.signer.verifier())

    assert (result.index, result.tree_size, result.entry.payload) == (
        7,
        57,
        {"i": 7, "note": "entry 7"},
    )


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("entry", "entry 41: the receipt's leaf_hash does not match SHA-256(0x00 || entry)"),
        ("inclusion_proof", "entry 41: inclusion proof does not reach the root of tree size 57"),
        ("checkpoint", "checkpoint: signature does not verify"),
    ],
)
def test_a_receipt_with_a_flipped_bit_fails(
    log: FakeLog,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    member: str,
    expected: str,
) -> None:
    receipt = log.receipt(41)
    if member == "entry":
        receipt["entry"] = b64(flip_bit(base64.b64decode(receipt["entry"]), byte=30))
    elif member == "inclusion_proof":
        proof = receipt["inclusion_proof"]
        proof[2] = b64(flip_bit(base64.b64decode(proof[2]), bit=7))
    else:
        text, signature_line = receipt["checkpoint"].split("\n\n")
        name, encoded = signature_line.rstrip("\n").rsplit(" ", 1)
        flipped = b64(flip_bit(base64.b64decode(encoded), byte=20))
        receipt["checkpoint"] = f"{text}\n\n{name} {flipped}\n"
    path = write_receipt(tmp_path, receipt)

    status, _, err = run(capsys, "receipt", path, "--vkey", log.vkey)

    assert status == 1
    assert expected in err


def test_a_receipt_whose_tree_size_is_not_its_checkpoints_fails(log: FakeLog) -> None:
    receipt = {**log.receipt(41), "tree_size": 56}

    with pytest.raises(VerificationError, match="'tree_size' is 56 but its checkpoint has size 57"):
        verify_receipt(receipt, log.signer.verifier())


def test_a_receipt_for_another_origin_fails(log: FakeLog) -> None:
    with pytest.raises(VerificationError, match="checkpoint: it is for origin"):
        verify_receipt(log.receipt(3), log.signer.verifier(), origin="other.example/log")


def test_a_receipt_with_a_non_canonical_entry_fails(log: FakeLog) -> None:
    log.rewrite(5, make_entry(5).replace(b'"v":1', b'"v":1 '))

    with pytest.raises(VerificationError, match="entry 5: not canonical JSON"):
        verify_receipt(log.receipt(5), log.signer.verifier())


def test_a_missing_receipt_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    vkey = make_signer().verifier().key_string

    status, _, err = run(capsys, "receipt", str(tmp_path / "none.json"), "--vkey", vkey)

    assert status == 2
    assert "cannot read receipt" in err


def test_a_receipt_file_that_is_not_json_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "receipt.json"
    path.write_text("not json")

    status, _, err = run(
        capsys, "receipt", str(path), "--vkey", make_signer().verifier().key_string
    )

    assert status == 1
    assert "is not JSON" in err
