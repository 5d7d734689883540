"""The ledger's verification in Chromium (WebCrypto's Ed25519 and SHA-256): a checkpoint signed
by the pinned key verifies and shows its tree; one byte changed, or a checkpoint signed by
another key of the same name, fails with the reason; the page fetches the server's checkpoint
when none is pasted, and says when there is none."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from ledger import note
from tests.web.conftest import screenshot

ORIGIN = "consentry.localhost/ledger"
ROOT = bytes(range(32))


def signed(size: int, signer: note.Signer) -> str:
    checkpoint = note.Checkpoint(origin=ORIGIN, size=size, root_hash=ROOT)
    return note.sign_checkpoint(checkpoint, [signer]).decode()


def verify(page: WebDriver, vkey: str, checkpoint: str) -> tuple[str, str]:
    """Fill the form, verify, and return the outcome (``yes``/``no``) and what it says."""
    for field, value in (("vkey", vkey), ("note", checkpoint)):
        element = page.find_element(By.ID, field)
        element.clear()
        page.execute_script("arguments[0].value = arguments[1]", element, value)
    page.find_element(By.CSS_SELECTOR, "#verify-form button").click()
    result = page.find_element(By.ID, "verify-result")
    WebDriverWait(page, 30).until(lambda _: result.get_attribute("data-verified") in ("yes", "no"))
    return str(result.get_attribute("data-verified")), result.text


def test_a_checkpoint_is_verified_in_the_browser_and_tampering_is_caught(
    page: WebDriver, live_server: Any
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

    # Nothing pasted: the page fetches the server's checkpoint; this log has none yet.
    outcome, text = verify(page, vkey, "")
    assert outcome == "no"
    assert "The server gave no checkpoint (HTTP 404)." in text
    # The key was pinned by the first success: a new visit starts with it.
    page.get(f"{live_server.url}/verify/")
    assert page.find_element(By.ID, "vkey").get_attribute("value") == vkey
