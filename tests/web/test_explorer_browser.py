"""The ledger explorer and the verification from the ledger's tiles, in Chromium (issue 16's
auditor scenario): an auditor opens the latest checkpoint, verifies it in the browser (its
signature with the pinned key, its root recomputed from the tiles), opens an entry and checks
it from the tiles; a server that serves a tile, or an entry, with one byte changed is caught,
with the reason. A decision's page and its receipt, verified in the browser; its explanation
only for the parties concerned; the ledger for auditors only when the instance says so; the
pages in French and at a phone's width."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from governance.models import PartyKind
from ledger import merkle, selectors, services, tiles
from tests.web.conftest import screenshot
from tests.web.people import browser_cookies, fetch, person, sign_in, submit
from tests.web.test_accessibility import UNLABELLED
from tests.web.test_explorer_pages import a_decision, append, sign, unique_type
from tests.web.test_french import APOSTROPHE, switch_to_french


def wait_result(page: WebDriver, result_id: str) -> tuple[str, str]:
    result = page.find_element(By.ID, result_id)
    WebDriverWait(page, 60).until(lambda _: result.get_attribute("data-verified") in ("yes", "no"))
    return str(result.get_attribute("data-verified")), result.text


def check_checkpoint(page: WebDriver) -> tuple[str, str]:
    page.find_element(By.CSS_SELECTOR, "#verify-form button").click()
    return wait_result(page, "verify-result")


def check_entry(page: WebDriver, index: int | str) -> tuple[str, str]:
    field = page.find_element(By.ID, "entry-index")
    field.clear()
    field.send_keys(str(index))
    page.find_element(By.CSS_SELECTOR, "#entry-form button").click()
    return wait_result(page, "entry-result")


def set_key(page: WebDriver, vkey: str) -> None:
    page.execute_script("arguments[0].value = arguments[1]", page.find_element(By.ID, "vkey"), vkey)


def test_an_auditor_checks_the_checkpoint_and_an_entry_from_the_tiles(
    page: WebDriver, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = live_server.url
    auditor = person(PartyKind.AUDITOR, "Clearview Audit")
    kind = unique_type()
    append(kind, 260)  # so the tree has a full level-0 tile and a level-1 tile at least
    size = sign()
    vkey = services.current_signer().verifier().key_string
    mine = size - 3  # "item 257"

    # The auditor signs in and opens the ledger from their page.
    sign_in(page, base, auditor)
    submit(
        page, page.find_element(By.LINK_TEXT, "The ledger explorer: checkpoint, entries, decisions")
    )
    assert page.find_element(By.ID, "checkpoint-size").text == str(size)
    root = bytes(selectors.latest_checkpoint().root_hash).hex()
    assert page.find_element(By.ID, "checkpoint-root").text == root
    # Its stylesheets by their hashed names, served by the app and applied.
    hrefs = [
        link.get_attribute("href")
        for link in page.find_elements(By.CSS_SELECTOR, "link[rel=stylesheet]")
    ]
    assert len(hrefs) == 2
    assert re.fullmatch(r"http://[^/]+/static/web/site\.[0-9a-f]{12}\.css", str(hrefs[0]))
    assert re.fullmatch(r"http://[^/]+/static/web/explorer\.[0-9a-f]{12}\.css", str(hrefs[1]))
    header = page.find_element(By.CSS_SELECTOR, "header.top")
    assert header.value_of_css_property("background-color") == "rgba(16, 42, 67, 1)"
    assert page.execute_script(UNLABELLED) == []
    screenshot(page, "explorer-checkpoint")

    # The latest checkpoint, verified in the browser: signature, then root from the tiles.
    submit(page, page.find_element(By.LINK_TEXT, "Verify it in your browser"))
    set_key(page, vkey)
    assert page.find_element(By.ID, "tiles").is_selected()
    outcome, text = check_checkpoint(page)
    assert outcome == "yes", text
    assert f"{size} entries, root hash {root}." in text
    assert "The ledger's tiles hash to the signed root (fetched: tile/" in text
    assert (
        f"tile/0/{tiles.format_tile_index(size // 256)}.p/{size % 256}" in text or size % 256 == 0
    )
    screenshot(page, "verify-checkpoint-tiles")

    # An entry, found by type, opened, and checked from the tiles (the key pinned above).
    page.get(f"{base}/explorer/entries/?type={kind}")
    rows = page.find_elements(By.CSS_SELECTOR, "table.entries tbody tr")
    assert [int(str(r.get_attribute("data-index"))) for r in rows[:3]] == [size - 1, size - 2, mine]
    assert page.execute_script(UNLABELLED) == []
    screenshot(page, "explorer-entries")
    submit(page, page.find_element(By.LINK_TEXT, str(mine)))
    assert '"name": "item 257"' in page.find_element(By.ID, "entry-payload").text
    assert page.execute_script(UNLABELLED) == []
    screenshot(page, "explorer-entry")
    submit(page, page.find_element(By.ID, "check-from-tiles"))
    assert page.find_element(By.ID, "vkey").get_attribute("value") == vkey
    assert page.find_element(By.ID, "entry-index").get_attribute("value") == str(mine)
    outcome, text = check_entry(page, mine)
    assert outcome == "yes", text
    assert text.startswith("Verified: the entry is in the ledger your key signed, by its tiles.")
    assert f"Entry {mine} ({kind}, " in text
    assert '"name": "item 257"' in text  # the entry as the browser decoded its verified bytes
    screenshot(page, "verify-entry-tiles")
    # An entry of a full level-0 tile (its leaf hash is not part of the root's computation).
    inner = (size // 256) * 256 - 5
    outcome, text = check_entry(page, inner)
    assert outcome == "yes", text
    # An entry beyond the signed tree.
    outcome, text = check_entry(page, size)
    assert (outcome, text.splitlines()[-1]) == (
        "no", f"Entry {size} is out of range for a tree of {size}."
    )  # fmt: skip

    real = selectors.tile_data

    # A server that serves one byte of a tile changed: the root no longer comes out.
    def tile_changed(*, ref: tiles.TileRef) -> bytes:
        data = real(ref=ref)
        return data if ref.level == tiles.ENTRIES else bytes([data[0] ^ 1]) + data[1:]

    monkeypatch.setattr(selectors, "tile_data", tile_changed)
    outcome, text = check_checkpoint(page)
    assert outcome == "no"
    assert text.splitlines()[-1].endswith(
        "do not hash to the signed root: a tile was changed, or the server's log is not the "
        "tree your key signed."
    )
    screenshot(page, "verify-tile-tampered")
    outcome, text = check_entry(page, mine)
    assert outcome == "no"
    assert "do not hash to the signed root" in text

    # One byte of the entry changed in its bundle: it no longer hashes to its leaf.
    def bundle_with(index: int, changed_leaf: bool) -> Any:
        def served(*, ref: tiles.TileRef) -> bytes:
            data = real(ref=ref)
            at = index - ref.index * 256
            if not 0 <= at < ref.width:
                return data
            entries = tiles.decode_entry_bundle(real(ref=tiles.TileRef(
                level=tiles.ENTRIES, index=ref.index, width=ref.width)))  # fmt: skip
            forged = bytearray(entries[at])
            forged[-20] ^= 1
            if ref.level == tiles.ENTRIES:
                entries[at] = bytes(forged)
                return tiles.encode_entry_bundle(entries)
            if ref.level == 0 and changed_leaf:  # and its leaf hash, to match
                leaf = merkle.leaf_hash(bytes(forged))
                return data[: 32 * at] + leaf + data[32 * at + 32 :]
            return data

        return served

    monkeypatch.setattr(selectors, "tile_data", bundle_with(mine, changed_leaf=False))
    outcome, text = check_entry(page, mine)
    assert outcome == "no"
    bundle = f"tile/entries/{tiles.format_tile_index(mine // 256)}"
    assert f"Entry {mine}: its bytes in {bundle}" in text
    assert "do not hash to its leaf hash in tile/0/" in text
    screenshot(page, "verify-entry-tampered")
    # Changed with its leaf hash too, inside a full tile: the tiles' path misses the root.
    monkeypatch.setattr(selectors, "tile_data", bundle_with(inner, changed_leaf=True))
    outcome, text = check_entry(page, inner)
    assert (outcome, text.splitlines()[-1]) == (
        "no", f"Entry {inner}: the tiles' hashes do not lead from the entry to the signed root: "
        "the entry or a tile was changed."
    )  # fmt: skip


def test_a_decision_its_receipt_and_its_explanation(
    page: WebDriver, live_server: Any, tmp_path: Path
) -> None:
    base = live_server.url
    _, sonora, decision = a_decision()
    sign()
    vkey = services.current_signer().verifier().key_string

    # The public: the ledger's record of the decision, no explanation.
    page.get(f"{base}/explorer/decisions/{decision}/")
    assert page.find_element(By.ID, "ledger-outcome").text == "deny"
    assert page.find_element(By.ID, "ledger-licensee").text == "Sonora AI Labs"
    assert not page.find_elements(By.ID, "explanation")
    assert page.execute_script(UNLABELLED) == []
    screenshot(page, "explorer-decision-public")
    href = str(page.find_element(By.ID, "decision-receipt").get_attribute("href"))
    status, body = fetch(href, cookies=browser_cookies(page))
    assert status == 200
    receipt = json.loads(body)
    (tmp_path / "receipt.json").write_bytes(body)

    # Its receipt, verified in the browser, which shows the entry it proves.
    page.get(f"{base}/verify/")
    set_key(page, vkey)
    page.find_element(By.ID, "receipt-file").send_keys(str(tmp_path / "receipt.json"))
    page.find_element(By.CSS_SELECTOR, "#receipt-form button").click()
    outcome, text = wait_result(page, "receipt-result")
    assert outcome == "yes", text
    assert f"Entry {receipt['index']} of " in text
    assert f'"decision": "{decision}"' in text
    screenshot(page, "verify-decision-receipt")
    entry = bytearray(base64.b64decode(receipt["entry"]))
    entry[-30] ^= 1
    changed = receipt | {"entry": base64.b64encode(bytes(entry)).decode()}
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    page.find_element(By.ID, "receipt-file").send_keys(str(tmp_path / "changed.json"))
    page.find_element(By.CSS_SELECTOR, "#receipt-form button").click()
    outcome, text = wait_result(page, "receipt-result")
    assert outcome == "no"
    assert (
        f"Entry {receipt['index']}: the receipt's leaf hash is not SHA-256(0x00 || entry)" in text
    )

    # The licensee, signed in, reads why.
    sign_in(page, base, sonora)
    page.get(f"{base}/explorer/decisions/{decision}/")
    explained = page.find_element(By.ID, "explanation").text
    assert "Shown to you as a member of Sonora AI Labs" in explained
    assert "Ada Vale" in explained
    assert page.find_element(By.ID, "explained-outcome").text == "deny"
    screenshot(page, "explorer-decision-licensee")


def test_the_ledger_for_auditors_only_and_the_explorer_in_french(
    page: WebDriver, live_server: Any, settings: Any
) -> None:
    base = live_server.url
    ada = person(PartyKind.ARTIST, "Ada Vale")
    auditor = person(PartyKind.AUDITOR, "Clearview Audit")
    kind = unique_type()
    append(kind, 3)
    size = sign()
    settings.LEDGER_READ_REQUIRES_AUDITOR = True

    # Signed out: sent to sign in. An artist: refused. As the ledger's API does.
    page.get(f"{base}/explorer/entries/")
    assert page.current_url.startswith(f"{base}/sign-in/?next=")
    sign_in(page, base, ada)
    page.get(f"{base}/explorer/entries/{size - 1}/")
    assert page.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert "the ledger is read by the members of auditor parties" in page.page_source
    screenshot(page, "explorer-refused")
    page.delete_all_cookies()

    # The auditor, in French.
    sign_in(page, base, auditor)
    switch_to_french(page)
    page.get(f"{base}/explorer/")
    assert page.find_element(By.TAG_NAME, "h1").text == "Le registre"
    page.get(f"{base}/explorer/entries/?type={kind}")
    assert page.find_element(By.TAG_NAME, "h1").text == "Entrées du registre"
    page.get(f"{base}/explorer/entries/?before=abc")
    assert page.find_element(By.ID, "errors").text == (
        f"before doit être un numéro d{APOSTROPHE}entrée : un nombre entier à partir de 0."
    )
    page.get(f"{base}/explorer/entries/{size - 1}/")
    assert page.find_element(By.TAG_NAME, "h1").text.startswith(f"Entrée {size - 1}")
    # At a phone's width, nothing wider than the screen.
    page.set_window_size(390, 844)
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    page.execute_script("window.scrollTo(0, 0)")
    screenshot(page, "explorer-entry-fr-phone", whole=False)
    page.set_window_size(1280, 1000)
    page.get(f"{base}/verify/?entry=abc")
    set_key(page, "pas une clé")
    outcome, text = check_entry(page, "abc")
    assert outcome == "no"
    assert text.splitlines()[-1] == (
        f"La clé de vérification est mal formée : elle s{APOSTROPHE}écrit nom+identifiant+clé."
    )
    set_key(page, services.current_signer().verifier().key_string)
    outcome, text = check_entry(page, "abc")
    assert text.splitlines()[-1] == (
        f"Le numéro d{APOSTROPHE}entrée est un nombre entier à partir de 0."
    )
