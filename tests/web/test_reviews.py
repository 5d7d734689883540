"""An artist's "Ask me" in Chromium: a licensee's check waits for her (``review``); her review
queue shows it; she denies it with a reason; the decision is settled so, and she cannot answer
it twice."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from governance.models import Decision, PartyKind
from tests.web.conftest import screenshot
from tests.web.people import api_check, person, sign_in, submit


def test_an_artist_answers_a_request_that_waited_for_her(page: WebDriver, live_server: Any) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    sign_in(page, live_server.url, ada)
    page.find_element(By.CSS_SELECTOR, "#use-style input[value='review']").click()
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))

    asked = api_check(live_server.url, sonora.caller.secret, "style", {"text": "like Ada Vale"})
    assert asked["outcome"] == "review"

    submit(page, page.find_element(By.LINK_TEXT, "Waiting for my answer"))
    (card,) = page.find_elements(By.CSS_SELECTOR, "section.review")
    assert (
        card.find_element(By.TAG_NAME, "h2").text == "Sonora AI Labs — Imitate me as a named artist"
    )
    assert "my likeness" in card.text
    screenshot(page, "reviews")
    # Without a reason, nothing is answered.
    page.execute_script("document.querySelector('section.review textarea').required = false")
    submit(page, card.find_element(By.CSS_SELECTOR, "button[value=deny]"))
    assert page.find_element(By.CLASS_NAME, "notice").text.startswith("Say why")
    assert Decision.objects.get(pk=asked["id"]).settled_outcome == ""

    card = page.find_element(By.CSS_SELECTOR, "section.review")
    card.find_element(By.TAG_NAME, "textarea").send_keys("Not my style, sorry.")
    submit(page, card.find_element(By.CSS_SELECTOR, "button[value=deny]"))
    assert page.find_element(By.CLASS_NAME, "notice").text == "Answered: the licensee is told."
    assert page.find_elements(By.CSS_SELECTOR, "section.review") == []
    answered = page.find_element(By.CSS_SELECTOR, "li.answered")
    assert answered.get_attribute("data-status") == "denied"
    assert "Not my style, sorry." in answered.text
    assert Decision.objects.get(pk=asked["id"]).settled_outcome == "deny"
    # Under "who asked", the request now reads as settled.
    submit(page, page.find_element(By.LINK_TEXT, "AI consent"))
    row = page.find_element(By.CSS_SELECTOR, "#who-asked tr.asked")
    assert (row.get_attribute("data-use"), row.get_attribute("data-outcome")) == ("style", "deny")
