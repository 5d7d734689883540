"""Each kind of party lands where it starts (docs/web.md), and a member who may only read
cannot change its party's consent, on the page or by posting the form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from governance.models import ConsentRuleVersion, Membership, PartyKind, Role
from tests.web.people import browser_cookies, fetch, person, sign_in, submit


def test_a_licensee_and_an_auditor_land_on_their_partys_page(
    page: WebDriver, live_server: Any
) -> None:
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    sign_in(page, live_server.url, sonora)
    assert page.current_url == f"{live_server.url}/p/{sonora.party.pk}/requests/"
    assert page.find_element(By.TAG_NAME, "h1").text == "Use requests of Sonora AI Labs"
    assert page.find_element(By.LINK_TEXT, "The API and its documentation")
    # A licensee owns no consent: its consent page sends it back to its own.
    page.get(f"{live_server.url}/p/{sonora.party.pk}/consent/")
    assert page.current_url == f"{live_server.url}/p/{sonora.party.pk}/requests/"
    page.delete_all_cookies()

    clearview = person(PartyKind.AUDITOR, "Clearview Audit")
    sign_in(page, live_server.url, clearview)
    assert page.find_element(By.TAG_NAME, "h1").text == "Clearview Audit"
    submit(page, page.find_element(By.LINK_TEXT, "Verify the ledger in your browser"))
    assert page.current_url == f"{live_server.url}/verify/"


def test_a_viewer_reads_the_consent_page_and_cannot_change_it(
    page: WebDriver, live_server: Any
) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    manager = person(PartyKind.LABEL, "Some Label")
    Membership.objects.filter(user=manager.caller.token.user).delete()
    Membership.objects.create(party=ada.party, user=manager.caller.token.user, role=Role.VIEWER)
    sign_in(page, live_server.url, manager)
    url = f"{live_server.url}/p/{ada.party.pk}/consent/"
    assert page.current_url == url
    assert page.find_elements(By.CSS_SELECTOR, "form.consent button.primary") == []
    assert "changing them needs the editor role" in page.find_element(By.TAG_NAME, "main").text
    # Posting the form anyway (with its token) is refused by the service, and writes nothing.
    token = page.find_element(By.NAME, "csrfmiddlewaretoken").get_attribute("value")
    form = {f"{u}-choice": "default" for u in ("train", "reference", "output", "style",
                                               "lyrics", "stems", "analyze")}  # fmt: skip
    form |= {"voice-choice": "allow", "posture": "opt_in", "csrfmiddlewaretoken": token}
    status, body = fetch(
        url, cookies=browser_cookies(page), data=urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": url},
    )  # fmt: skip
    assert status == 403
    assert b"needs the editor role" in body
    assert not ConsentRuleVersion.objects.filter(rule__owner=ada.party).exists()
