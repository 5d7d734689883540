"""Every form control of the main pages has a label a screen reader reads, in Chromium (the
control's ``labels``, or ``aria-label``), and the page says its language."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from governance.models import PartyKind
from tests.web.people import person, sign_in

UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter((el) => el.type !== 'hidden')
  .filter((el) => {
    if (el.tagName === 'BUTTON') return !el.textContent.trim() && !el.getAttribute('aria-label');
    return !(el.labels && el.labels.length) && !el.getAttribute('aria-label');
  })
  .map((el) => el.outerHTML.slice(0, 120));
"""


def test_every_control_of_the_main_pages_is_labelled(page: WebDriver, live_server: Any) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    base = live_server.url
    page.get(f"{base}/sign-in/")
    assert page.execute_script(UNLABELLED) == []
    page.get(f"{base}/password-reset/")
    assert page.execute_script(UNLABELLED) == []
    page.get(f"{base}/verify/")
    assert page.execute_script(UNLABELLED) == []
    sign_in(page, base, ada)
    for path in (f"/p/{ada.party.pk}/consent/", f"/p/{ada.party.pk}/reviews/"):
        page.get(base + path)
        assert page.execute_script(UNLABELLED) == [], path
        assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        # The first thing the keyboard reaches skips to the content.
        first = page.execute_script(
            "return document.querySelector('a, button, input, select, textarea').className"
        )
        assert first == "skip"
