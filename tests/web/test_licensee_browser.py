"""The licensee's pages in Chromium (issue 16's third scenario): a licensee submits a manifest
from the page, watches its items being decided, reads why, and downloads the results and a
receipt; another party cannot read them, a party that is not a licensee cannot ask, and a form
without its CSRF token is refused. In French and at a phone's width too."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.utils import timezone
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from governance import tasks
from governance.models import PartyKind, UseRequest
from ledger import services as ledger_services
from ledger import verify
from tests.web.conftest import screenshot
from tests.web.people import browser_cookies, fetch, person, sign_in, submit
from tests.web.test_french import APOSTROPHE, switch_to_french
from tests.web.test_licensee_pages import ISRC, UNREGISTERED, _ada_and_her_recording

UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter((el) => el.type !== 'hidden')
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map((el) => el.outerHTML.slice(0, 120));
"""


def test_a_licensee_submits_a_manifest_from_the_page_and_downloads_the_results(
    page: WebDriver, live_server: Any, tmp_path: Path
) -> None:
    _ada_and_her_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    base = live_server.url
    manifest = tmp_path / "dataset.jsonl"
    manifest.write_text(f'{{"isrc": "{ISRC}"}}\n{{"isrc": "{UNREGISTERED}"}}\n')

    # Given Sonora signed in: it lands on its requests, none yet.
    sign_in(page, base, sonora)
    assert page.current_url == f"{base}/p/{sonora.party.pk}/requests/"
    assert "No requests yet." in page.find_element(By.TAG_NAME, "main").text
    submit(page, page.find_element(By.LINK_TEXT, "Ask to use music"))
    assert page.execute_script(UNLABELLED) == []

    # When it chooses its manifest and the use, and sends the form.
    page.find_element(By.ID, "id_manifest").send_keys(str(manifest))
    Select(page.find_element(By.ID, "id_use")).select_by_value("analyze")
    page.find_element(By.ID, "id_territories").send_keys("FR DE")
    screenshot(page, "licensee-new-request")
    submit(page, page.find_element(By.CSS_SELECTOR, "form.use-request button.primary"))

    # Then its request page shows the items waiting, the progress at 0 of 2 ...
    stored = UseRequest.objects.get(licensee=sonora.party)
    assert (stored.kind, stored.use, stored.territories) == ("manifest", "analyze", ["DE", "FR"])
    assert page.current_url == f"{base}/p/{sonora.party.pk}/requests/{stored.pk}/"
    live = page.find_element(By.ID, "request-live")
    assert live.get_attribute("data-completed") == "false"
    assert "0 of 2 items decided" in page.find_element(By.ID, "progress").text
    waiting = page.find_elements(By.CSS_SELECTOR, "#items-body td.waiting")
    assert len(waiting) == 2
    screenshot(page, "licensee-request-waiting")

    # ... and, once a worker has decided them, the page follows by itself (no reload).
    page.execute_script("window.__notReloaded = true")
    tasks.decide_request.apply(args=[str(stored.pk)]).get()
    WebDriverWait(page, 30).until(lambda _: live.get_attribute("data-completed") == "true")
    assert page.execute_script("return window.__notReloaded") is True
    assert "2 of 2 items decided" in page.find_element(By.ID, "progress").text
    assert page.find_element(By.ID, "progress-bar").get_attribute("value") == "100"
    rows = page.find_elements(By.CSS_SELECTOR, "#items-body tr.item")
    assert [r.get_attribute("data-outcome") for r in rows] == ["conditional", "no_match"]
    assert "Allowed with conditions" in rows[0].text
    assert "Paper Moons" in rows[0].text  # the work matched
    assert "No match" in rows[1].text
    # The whole explanation opens with the keyboard.
    summary = rows[0].find_element(By.TAG_NAME, "summary")
    summary.send_keys(" ")
    WebDriverWait(page, 5).until(
        lambda _: rows[0].find_element(By.TAG_NAME, "details").get_attribute("open") is not None
    )
    assert "credit “Ada Vale”" in rows[0].find_element(By.TAG_NAME, "details").text
    screenshot(page, "licensee-request-decided")

    # The downloads: the results as JSON Lines and as CSV, and a receipt that verifies.
    cookies = browser_cookies(page)
    href = page.find_element(By.ID, "download-jsonl").get_attribute("href")
    status, body = fetch(href, cookies=cookies)
    assert status == 200
    lines = [json.loads(line) for line in body.splitlines()]
    assert [(x["item"], x["reference"], x["outcome"]) for x in lines] == [
        (0, f"isrc:{ISRC}", "conditional"), (1, f"isrc:{UNREGISTERED}", "no_match")
    ]  # fmt: skip
    assert lines[0]["obligations"]
    status, body = fetch(
        page.find_element(By.ID, "download-csv").get_attribute("href"), cookies=cookies
    )
    assert status == 200
    table = list(csv.DictReader(io.StringIO(body.decode())))
    assert [(r["item"], r["outcome"], r["decision"]) for r in table] == [
        ("0", "conditional", lines[0]["decision"]), ("1", "no_match", lines[1]["decision"])
    ]  # fmt: skip
    ledger_services.key_register(signer=ledger_services.current_signer(), now=timezone.now())
    receipt_link = rows[0].find_element(By.CSS_SELECTOR, "details a[download]")
    status, body = fetch(receipt_link.get_attribute("href"), cookies=cookies)
    assert status == 200
    (tmp_path / "receipt.json").write_bytes(body)
    vkey = ledger_services.current_signer().verifier().key_string
    assert verify.main(["receipt", str(tmp_path / "receipt.json"), "--vkey", vkey]) == 0

    # The list shows the request, decided.
    submit(page, page.find_element(By.LINK_TEXT, "Use requests"))
    (listed,) = page.find_elements(By.CSS_SELECTOR, "#requests tr.request")
    assert listed.get_attribute("data-status") == "completed"
    assert "Allowed with conditions 1" in listed.text
    screenshot(page, "licensee-requests")
    # Every control of the licensee's pages is labelled; the keyboard reaches "skip" first.
    for path in ("requests/", f"requests/{stored.pk}/", "requests/new/", "callback-secret/"):
        page.get(f"{base}/p/{sonora.party.pk}/{path}")
        assert page.execute_script(UNLABELLED) == [], path
        first = "return document.querySelector('a, button, input, select, textarea, summary')"
        assert page.execute_script(first + ".className") == "skip", path

    # In French, at a phone's width: one column, nothing wider than the screen.
    page.get(f"{base}/p/{sonora.party.pk}/requests/{stored.pk}/")
    switch_to_french(page)
    assert (
        page.find_element(By.TAG_NAME, "h1").text
        == f"Demande d{APOSTROPHE}utilisation de musique : analyze"
    )
    rows = page.find_elements(By.CSS_SELECTOR, "#items-body tr.item")
    assert "Autorisé sous conditions" in rows[0].text
    assert "Aucune correspondance" in rows[1].text
    page.set_window_size(390, 844)
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(page, "licensee-request-fr-phone")
    page.get(f"{base}/p/{sonora.party.pk}/requests/new/")
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(page, "licensee-new-request-fr-phone")


def test_a_licensees_requests_are_its_own_and_its_forms_need_their_token(
    page: WebDriver, live_server: Any
) -> None:
    _ada_and_her_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    other = person(PartyKind.LICENSEE, "Other AI")
    base = live_server.url
    sign_in(page, base, sonora)
    page.get(f"{base}/p/{sonora.party.pk}/requests/new/")
    page.find_element(By.ID, "id_identifiers").send_keys(f"{ISRC}\nnot an ISRC\n")
    Select(page.find_element(By.ID, "id_use")).select_by_value("analyze")
    submit(page, page.find_element(By.CSS_SELECTOR, "form.use-request button.primary"))
    # Bad input: the field says which line and why, and nothing is stored.
    error = page.find_element(By.ID, "id_identifiers_error").text
    assert error.startswith("Line 2:")
    assert page.find_element(By.ID, "id_identifiers").get_attribute("aria-invalid") == "true"
    assert not UseRequest.objects.exists()
    screenshot(page, "licensee-new-request-error")
    identifiers = page.find_element(By.ID, "id_identifiers")
    identifiers.clear()
    identifiers.send_keys(ISRC)
    submit(page, page.find_element(By.CSS_SELECTOR, "form.use-request button.primary"))
    stored = UseRequest.objects.get(licensee=sonora.party)
    tasks.decide_request.apply(args=[str(stored.pk)]).get()
    own = f"{base}/p/{sonora.party.pk}/requests/{stored.pk}/"
    assert page.current_url == own

    # Without the form's CSRF token: refused, nothing stored (over HTTP and in the browser).
    page.get(f"{base}/p/{sonora.party.pk}/requests/new/")
    url = page.current_url
    data = urlencode({"identifiers": ISRC, "use": "analyze", "commercial": "yes",
                      "key": "1d0b2a8e-9a57-4a43-9a51-4a0cbb2b7d63"}).encode()  # fmt: skip
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Referer": url}
    status, body = fetch(url, cookies=browser_cookies(page), data=data, headers=headers)
    assert status == 403
    assert b"CSRF" in body
    page.execute_script(
        "document.querySelector('form.use-request [name=csrfmiddlewaretoken]').remove()"
    )
    page.find_element(By.ID, "id_identifiers").send_keys(ISRC)
    submit(page, page.find_element(By.CSS_SELECTOR, "form.use-request button.primary"))
    assert page.find_element(By.TAG_NAME, "h1").text == "The form has expired"
    page.get(f"{base}/p/{sonora.party.pk}/callback-secret/")
    page.execute_script("document.querySelector('main form [name=csrfmiddlewaretoken]').remove()")
    before = page.find_element(By.ID, "secret").get_attribute("textContent")
    submit(page, page.find_element(By.ID, "rotate"))
    assert page.find_element(By.TAG_NAME, "h1").text == "The form has expired"
    page.get(f"{base}/p/{sonora.party.pk}/callback-secret/")
    assert page.find_element(By.ID, "secret").get_attribute("textContent") == before
    page.find_element(By.CSS_SELECTOR, "#secret-box summary").click()
    assert page.find_element(By.ID, "secret").text == before
    screenshot(page, "licensee-callback-secret")
    assert UseRequest.objects.filter(licensee=sonora.party).count() == 1

    # Another licensee gets "not found" for Sonora's request, its results and receipts.
    page.delete_all_cookies()
    sign_in(page, base, other)
    cookies = browser_cookies(page)
    for path in ("", "progress/", "results.jsonl", "results.csv", "receipts.jsonl"):
        assert fetch(own + path, cookies=cookies)[0] == 404, path
        theirs = f"{base}/p/{other.party.pk}/requests/{stored.pk}/{path}"
        assert fetch(theirs, cookies=cookies)[0] == 404, path
    page.get(own)
    assert page.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "Sonora" not in page.page_source

    # An artist cannot ask to use music: the page says why, as the API refuses it.
    page.delete_all_cookies()
    artist = person(PartyKind.ARTIST, "Milo Reyes")
    sign_in(page, base, artist)
    page.get(f"{base}/p/{artist.party.pk}/requests/new/")
    assert page.find_element(By.TAG_NAME, "h1").text == "Not allowed"
    assert "Use requests are for licensees" in page.find_element(By.TAG_NAME, "main").text
    assert not UseRequest.objects.filter(licensee=artist.party).exists()
