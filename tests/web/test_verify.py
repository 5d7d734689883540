"""The ledger's verification in Chromium (WebCrypto's Ed25519 and SHA-256): a checkpoint signed
by the pinned key verifies and shows its tree; one byte changed, or a checkpoint signed by
another key of the same name, fails with the reason; the page fetches the server's checkpoint
when none is pasted, and says when there is none."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from ledger import canonical, merkle, merkle_proofs, note, selectors
from ledger.exceptions import LedgerNotFound
from ledger.verify.receipt import verify_receipt
from tests.web.conftest import screenshot

ORIGIN = "consentry.localhost/ledger"
ROOT = bytes(range(32))


def signed(size: int, signer: note.Signer) -> str:
    checkpoint = note.Checkpoint(origin=ORIGIN, size=size, root_hash=ROOT)
    return note.sign_checkpoint(checkpoint, [signer]).decode()


def verify(page: WebDriver, vkey: str, checkpoint: str, *, tiles: bool = False) -> tuple[str, str]:
    """Fill the form, verify, and return the outcome (``yes``/``no``) and what it says. With
    ``tiles``, the root is recomputed from the server's tiles too (the checkpoints made here
    with throwaway keys sign made-up roots, which no tiles lead to)."""
    for field, value in (("vkey", vkey), ("note", checkpoint)):
        element = page.find_element(By.ID, field)
        element.clear()
        page.execute_script("arguments[0].value = arguments[1]", element, value)
    box = page.find_element(By.ID, "tiles")
    if box.is_selected() != tiles:
        box.click()
    page.find_element(By.CSS_SELECTOR, "#verify-form button").click()
    result = page.find_element(By.ID, "verify-result")
    WebDriverWait(page, 30).until(lambda _: result.get_attribute("data-verified") in ("yes", "no"))
    return str(result.get_attribute("data-verified")), result.text


def test_a_checkpoint_is_verified_in_the_browser_and_tampering_is_caught(
    page: WebDriver, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = note.Signer(name=ORIGIN, private_key=Ed25519PrivateKey.generate())
    theirs = note.Signer(name=ORIGIN, private_key=Ed25519PrivateKey.generate())
    vkey = ours.verifier().key_string
    page.get(f"{live_server.url}/verify/")
    assert page.execute_script("return !!(window.crypto && crypto.subtle)")

    # The ledger's checkpoint, signed by the pinned key: verified, its tree shown.
    outcome, text = verify(page, vkey, signed(42, ours))
    assert outcome == "yes", text
    assert text.startswith("Verified: the checkpoint is signed by your key.")
    assert f"Log {ORIGIN}, 42 entries, root hash {ROOT.hex()}." in text
    screenshot(page, "verify-ok")

    # One byte changed (42 entries said to be 43): the signature no longer verifies.
    tampered = signed(42, ours).replace("\n42\n", "\n43\n", 1)
    outcome, text = verify(page, vkey, tampered)
    assert outcome == "no"
    assert f"The signature by {ORIGIN}+{ours.key_id.hex()} does not verify" in text

    # Signed by another key under the same name: not by the pinned one.
    outcome, text = verify(page, vkey, signed(42, theirs))
    assert outcome == "no"
    assert f"No signature by your key {ORIGIN}+{ours.key_id.hex()}" in text
    assert f"signed by {ORIGIN}+{theirs.key_id.hex()}" in text
    screenshot(page, "verify-another-key")

    # A key whose ID does not match it is refused before anything is checked.
    name, _, encoded = vkey.split("+", 2)
    outcome, text = verify(page, f"{name}+00000000+{encoded}", signed(42, ours))
    assert (outcome, text.splitlines()[-1]) == (
        "no", "The verifier key's ID does not match its name and key."
    )  # fmt: skip

    # Nothing pasted: the page fetches the server's checkpoint; a log with none yet (other
    # tests of the session sign checkpoints, which are never deleted) says so.
    def none_yet() -> None:
        raise LedgerNotFound("No checkpoint has been signed yet.")

    monkeypatch.setattr(selectors, "latest_checkpoint", none_yet)
    outcome, text = verify(page, vkey, "")
    assert outcome == "no"
    assert "The server gave no checkpoint (HTTP 404)." in text
    # The key was pinned by the first success: a new visit starts with it.
    page.get(f"{live_server.url}/verify/")
    assert page.find_element(By.ID, "vkey").get_attribute("value") == vkey


def receipt(entries: list[bytes], index: int, signer: note.Signer) -> dict[str, Any]:
    """A receipt of ``entries[index]`` against a checkpoint of ``entries`` signed by ``signer``,
    as ledger/receipts.py writes one (and as the project's own verifier accepts it)."""
    leaves = [merkle.leaf_hash(e) for e in entries]
    root = merkle.root_from_leaf_hashes(leaves)
    proof = merkle_proofs.inclusion_proof(
        index, len(leaves), lambda start, end: merkle.root_from_leaf_hashes(leaves[start:end])
    )
    checkpoint = note.Checkpoint(origin=ORIGIN, size=len(leaves), root_hash=root)
    made = {
        "v": 1, "index": index, "entry": b64(entries[index]), "leaf_hash": b64(leaves[index]),
        "tree_size": len(leaves), "inclusion_proof": [b64(h) for h in proof],
        "checkpoint": note.sign_checkpoint(checkpoint, [signer]).decode(),
    }  # fmt: skip
    verify_receipt(made, signer.verifier(), origin=ORIGIN)
    return made


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check_receipt(page: WebDriver, path: Path) -> tuple[str, str]:
    page.find_element(By.ID, "receipt-file").send_keys(str(path))
    page.find_element(By.CSS_SELECTOR, "#receipt-form button").click()
    result = page.find_element(By.ID, "receipt-result")
    WebDriverWait(page, 30).until(lambda _: result.get_attribute("data-verified") in ("yes", "no"))
    return str(result.get_attribute("data-verified")), result.text


def test_a_receipt_is_verified_in_the_browser_and_a_changed_byte_is_caught(
    page: WebDriver, live_server: Any, tmp_path: Path
) -> None:
    ours = note.Signer(name=ORIGIN, private_key=Ed25519PrivateKey.generate())
    at = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    entries = [canonical.encode_entry(kind="test", time=at, payload={"i": i}) for i in range(13)]
    good = receipt(entries, 6, ours)
    page.get(f"{live_server.url}/verify/")
    page.execute_script(
        "arguments[0].value = arguments[1]", page.find_element(By.ID, "vkey"),
        ours.verifier().key_string,
    )  # fmt: skip

    (tmp_path / "good.json").write_text(json.dumps(good))
    outcome, text = check_receipt(page, tmp_path / "good.json")
    assert outcome == "yes", text
    assert f"Entry 6 of {ORIGIN}, in the tree of 13 entries." in text
    screenshot(page, "verify-receipt")

    # One byte of the entry changed: its hash is no longer the leaf the proof starts from.
    entry = bytearray(base64.b64decode(good["entry"]))
    entry[10] ^= 0x01
    (tmp_path / "tampered.json").write_text(json.dumps(good | {"entry": b64(bytes(entry))}))
    outcome, text = check_receipt(page, tmp_path / "tampered.json")
    assert outcome == "no"
    assert "Entry 6: the receipt's leaf hash is not SHA-256(0x00 || entry)" in text

    # The entry and its leaf hash both changed: the proof no longer reaches the signed root.
    leaf = b64(merkle.leaf_hash(bytes(entry)))
    (tmp_path / "forged.json").write_text(
        json.dumps(good | {"entry": b64(bytes(entry)), "leaf_hash": leaf})
    )
    outcome, text = check_receipt(page, tmp_path / "forged.json")
    assert (outcome, text.splitlines()[-1]) == (
        "no", "Entry 6: the inclusion proof does not reach the root."
    )  # fmt: skip

    # A receipt whose checkpoint another key signed.
    theirs = note.Signer(name=ORIGIN, private_key=Ed25519PrivateKey.generate())
    (tmp_path / "theirs.json").write_text(json.dumps(receipt(entries, 6, theirs)))
    outcome, text = check_receipt(page, tmp_path / "theirs.json")
    assert outcome == "no"
    assert f"No signature by your key {ORIGIN}+{ours.key_id.hex()}" in text
