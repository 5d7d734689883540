"""A label in Chromium: uploads a catalog CSV and watches the progress bar reach 100 % while a
real Celery worker runs the import, then opens a rejected row (with the keyboard) and downloads
the rejected rows; searches its catalog and opens a work; the same pages in French and at a
phone's width; every control labelled. Screenshots under var/screenshots/."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from celery.contrib.testing.worker import start_worker
from django.conf import settings
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from config.celery import app as celery_app
from governance.models import ImportJob, PartyKind, Work
from tests import brokers
from tests.web.conftest import screenshot
from tests.web.people import api_check, browser_cookies, fetch, person, sign_in, submit
from tests.web.test_accessibility import UNLABELLED
from tests.web.test_french import switch_to_french
from tests.world import rule

ROWS = 3000
"""Good rows of the uploaded catalog: more than one of the importer's chunks (2,000), so the
job reports its progress in steps."""


def catalog_csv(path: Path) -> Path:
    """``ROWS`` recordings, and two rejected rows: an ISRC that is not one (line 3) and a row
    with no title (the last line)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", "isrc", "title", "display_artist", "main_artists", "right", "share"])
    writer.writerow(["recording", "GBNWR2400000", "Northern Lights", "Ada Vale", "Ada Vale",
                     "master", "100"])  # fmt: skip
    writer.writerow(["recording", "NOT-AN-ISRC", "Broken Song", "Ada Vale", "", "master", "100"])
    for n in range(1, ROWS):
        writer.writerow(["recording", f"GBNWR24{n:05d}", f"Track {n}", "Milo Reyes", "",
                         "master", "100"])  # fmt: skip
    writer.writerow(["recording", "GBNWR2499999", "", "Nobody", "", "master", "100"])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@contextmanager
def celery_worker() -> Iterator[None]:
    """A Celery worker in this process (a thread, the solo pool) taking the jobs of the
    session's broker (tests/brokers.py)."""
    with start_worker(celery_app, perform_ping_check=False, shutdown_timeout=60):
        yield


def test_a_label_uploads_a_catalog_csv_watches_the_progress_reach_100_and_opens_a_rejected_row(
    page: WebDriver, live_server: Any, tmp_path: Path
) -> None:
    broker = str(settings.CELERY_BROKER_URL)
    brokers.purge(broker)  # what earlier tests left there, for requests long deleted
    label = person(PartyKind.LABEL, "Northwind Records")
    base = live_server.url
    sign_in(page, base, label)
    submit(page, page.find_element(By.LINK_TEXT, "Catalog imports"))
    assert page.find_element(By.TAG_NAME, "h1").text == "Catalog imports"
    assert page.execute_script(UNLABELLED) == []
    # Without a file: refused, saying so, and nothing is created.
    submit(page, page.find_element(By.CSS_SELECTOR, "form.upload button.primary"))
    assert page.find_element(By.ID, "file-error").text == "Choose a file to import."
    assert page.find_element(By.ID, "id_file").get_attribute("aria-invalid") == "true"
    assert not ImportJob.objects.exists()
    # A form that lost its CSRF token: refused (403), nothing created.
    page.find_element(By.ID, "id_file").send_keys(str(catalog_csv(tmp_path / "northwind.csv")))
    page.execute_script("document.querySelector('form.upload [name=csrfmiddlewaretoken]').remove()")
    submit(page, page.find_element(By.CSS_SELECTOR, "form.upload button.primary"))
    assert page.find_element(By.TAG_NAME, "h1").text == "The form has expired"
    assert not ImportJob.objects.exists()
    page.back()
    page.refresh()
    page.find_element(By.ID, "id_file").send_keys(str(catalog_csv(tmp_path / "northwind.csv")))
    screenshot(page, "imports")
    submit(page, page.find_element(By.CSS_SELECTOR, "form.upload button.primary"))
    job = ImportJob.objects.get(party=label.party)
    assert page.current_url == f"{base}/p/{label.party.pk}/imports/{job.pk}/"
    # No worker yet: the job waits, its bar without a value (nothing read yet).
    status = page.find_element(By.ID, "import-status")
    assert status.text == "Queued: waiting for a worker"
    assert page.find_element(By.ID, "import-bar").get_attribute("value") in (None, "0")
    # The job went to the broker (through the outbox, on commit), as the API's does.
    assert brokers.messages(broker) == [("governance.run_import", [str(job.pk)])]
    page.execute_script("window.__thisPage = true")
    seen: list[tuple[str, str]] = []

    def finished(browser: WebDriver) -> bool:
        value, shown, report = browser.execute_script(
            "return [document.getElementById('import-bar').getAttribute('value'),"
            " document.getElementById('import-status').textContent,"
            " !!document.getElementById('rejected')]"
        )
        if not seen or seen[-1] != (value, shown):
            seen.append((value, shown))
        return bool(report)

    started = time.monotonic()
    with celery_worker():
        WebDriverWait(page, 180, poll_frequency=0.05).until(finished)
    took = time.monotonic() - started
    job.refresh_from_db()
    assert job.status == "succeeded_with_problems", job.error
    # The bar went up to 100 % on this page, live (no reload), and never back.
    assert page.execute_script("return window.__thisPage") is True
    values = [int(v) for v, _ in seen if v is not None]
    assert values == sorted(values), seen
    assert values[-1] == 100, seen
    assert seen[-1][1].startswith("Succeeded"), seen
    assert page.find_element(By.ID, "import-percent").text == "100%"
    assert Work.objects.filter(registrant=label.party).count() == ROWS
    # The rejected rows, each with its line and reason; one opens on what the row said.
    rejected = page.find_elements(By.CSS_SELECTOR, "#rejected li.problem")
    assert [r.get_attribute("data-where") for r in rejected] == ["line 3", f"line {ROWS + 3}"]
    assert page.find_element(By.ID, "rejected-title").text == "2 rejected rows"
    summary = rejected[0].find_element(By.TAG_NAME, "summary")
    assert summary.text.startswith("line 3 — ")
    assert "ISRC" in summary.text
    fields = rejected[0].find_element(By.CSS_SELECTOR, "table.row-fields")
    assert not fields.is_displayed()
    summary.send_keys(Keys.ENTER)  # the keyboard opens it
    assert fields.is_displayed()
    assert "isrc NOT-AN-ISRC" in fields.text
    assert "title Broken Song" in fields.text
    screenshot(page, "import-job")
    # The rejected rows download as CSV, as the API lists them.
    link = page.find_element(By.PARTIAL_LINK_TEXT, "Download the rejected rows")
    status_code, body = fetch(str(link.get_attribute("href")), cookies=browser_cookies(page))
    assert status_code == 200
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert [r[0] for r in rows] == ["where", "line 3", f"line {ROWS + 3}"]
    assert page.execute_script(UNLABELLED) == []
    print(f"{ROWS + 2} rows imported, the bar seen at {values}, in {took:.1f} s")

    # A licensee asks about a work of it, which the label allows analysing with a credit.
    rule(label.caller, scope="all_works", uses=["analyze"], effect="conditional",
         obligations={"attribution": "Northwind Records"})  # fmt: skip
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    asked = api_check(base, sonora.caller.secret, "analyze", {"isrc": "GBNWR2400000"})
    assert asked["outcome"] == "conditional"

    # The catalog: a search by ISRC, written the way a person writes it, finds the work.
    submit(page, page.find_element(By.LINK_TEXT, "Catalog"))
    assert page.find_element(By.ID, "found").text == f"{ROWS} works"
    assert page.execute_script(UNLABELLED) == []
    page.find_element(By.ID, "id_isrc").send_keys("GB-NWR-24-00000")
    submit(page, page.find_element(By.CSS_SELECTOR, "form.search button.primary"))
    works = page.find_elements(By.CSS_SELECTOR, "tr.work")
    assert [w.find_element(By.TAG_NAME, "a").text for w in works] == ["Northern Lights"]
    screenshot(page, "catalog")
    submit(page, works[0].find_element(By.TAG_NAME, "a"))
    assert page.find_element(By.TAG_NAME, "h1").text == "Northern Lights"
    work_url = page.current_url
    (share,) = page.find_elements(By.CSS_SELECTOR, "tr.share")
    cells = [c.text for c in share.find_elements(By.TAG_NAME, "td")]
    assert cells[:3] == ["Northwind Records", "Master (the sound recording)", "100 %"]
    outcomes = {r.get_attribute("data-use"): r.get_attribute("data-outcome")
                for r in page.find_elements(By.CSS_SELECTOR, "tr.in-force")}  # fmt: skip
    assert outcomes["train"] == "deny"  # nothing answered: the default posture, opt-in
    assert outcomes["analyze"] == "conditional"
    analyze = page.find_element(By.CSS_SELECTOR, "tr.in-force[data-use=analyze]")
    assert "credit “Northwind Records”" in analyze.text
    assert page.find_element(By.CSS_SELECTOR, "li.credit").text == "Ada Vale — Main artist"
    (decision,) = page.find_elements(By.CSS_SELECTOR, "tr.decision")
    assert decision.get_attribute("data-outcome") == "conditional"
    assert "Sonora AI Labs" in decision.text
    assert "credit “Northwind Records”" in decision.text
    receipt = decision.find_element(By.PARTIAL_LINK_TEXT, "Receipt")
    assert str(receipt.get_attribute("href")).endswith(f"/decisions/{asked['id']}/receipt/")
    assert page.execute_script(UNLABELLED) == []
    screenshot(page, "work")

    # In French, at a phone's width.
    switch_to_french(page)
    assert page.find_element(By.CSS_SELECTOR, "#in-force").text == "Consentement en vigueur"
    page.get(f"{base}/p/{label.party.pk}/imports/{job.pk}/")
    assert page.find_element(By.TAG_NAME, "h1").text == "Import de northwind.csv"
    assert (
        page.find_element(By.ID, "import-status").text
        == "Réussi, avec des lignes ou des éléments refusés"
    )
    assert page.find_element(By.ID, "import-percent").text == "100\u202f%"
    assert page.find_element(By.ID, "rejected-title").text == "2 lignes refusées"
    page.set_window_size(390, 844)
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(page, "import-job-fr-phone")
    page.get(f"{base}/p/{label.party.pk}/catalog/")
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    assert page.find_element(By.TAG_NAME, "h1").text == "Catalogue de Northwind Records"
    screenshot(page, "catalog-fr-phone", whole=False)
    page.get(work_url)
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    analyze = page.find_element(By.CSS_SELECTOR, "tr.in-force[data-use=analyze]")
    assert "autorisé sous conditions" in analyze.text
    assert "crédit « Northwind Records »" in analyze.text
    screenshot(page, "work-fr-phone")
