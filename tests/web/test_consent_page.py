"""The artist's consent page in Chromium (issue 16's first scenario): an artist signs in, never
allows ``voice`` and allows ``analyze`` with a credit; a licensee's checks through the API are
decided so; the artist's page then shows the requests under "who asked"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from governance.models import ConsentRuleVersion, PartyKind
from tests.web.conftest import screenshot
from tests.web.people import Person, api_check, person, sign_in, submit

ISRC = "FRZ031900123"


def artist_with_a_recording() -> Person:
    """Ada Vale, credited on a recording a label registered, whose master she owns (so her
    answer decides ``analyze``, which needs the master right)."""
    ada = person(PartyKind.ARTIST, "Ada Vale")
    label = person(PartyKind.LABEL, "Northwind Records")
    client = label.caller.client
    work = client.post(
        "/api/v1/works/",
        {"kind": "recording", "title": "Paper Moons", "isrc": ISRC, "display_artist": "Ada Vale",
         "credits": [{"name": "Ada Vale", "role": "main_artist", "party": str(ada.party.pk)}]},
        format="json",
    )  # fmt: skip
    assert work.status_code == 201, work.json()
    for right, holder in (("master", ada), ("publishing", label), ("performer", ada)):
        share = {"work": work.json()["id"], "holder": str(holder.party.pk), "right": right,
                 "share": "100"}  # fmt: skip
        response = client.post("/api/v1/shares/", share, format="json")
        assert response.status_code == 201, response.json()
    return ada


def choose(browser: WebDriver, use: str, choice: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"#use-{use} input[value='{choice}']").click()


def test_an_artist_sets_consent_and_sees_who_asked(page: WebDriver, live_server: Any) -> None:
    ada = artist_with_a_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    base = live_server.url

    # Given Ada signed in: she lands on her consent page, where nothing is answered yet.
    sign_in(page, base, ada)
    assert page.current_url == f"{base}/p/{ada.party.pk}/consent/"
    assert page.find_element(By.TAG_NAME, "h1").text == "AI consent of Ada Vale"
    assert page.find_element(By.ID, "use-voice").find_element(By.TAG_NAME, "legend").text == (
        "Clone or imitate my voice voice"
    )
    checked = page.find_elements(By.CSS_SELECTOR, "fieldset.use input[value='default']:checked")
    assert len(checked) == 8

    # When she never allows her voice and allows analysis on condition of a credit.
    choose(page, "voice", "deny")
    choose(page, "analyze", "conditional")
    credit = page.find_element(By.ID, "id_analyze-credit")
    assert credit.is_displayed()  # the conditions show once "with conditions" is chosen
    assert not page.find_element(By.ID, "id_train-credit").is_displayed()
    credit.send_keys("Ada Vale")
    screenshot(page, "consent-editing")

    # A preview first: what a licensee would be told with these answers, nothing saved yet.
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button[value=preview]"))
    previewed = {
        r.get_attribute("data-use"): r for r in page.find_elements(By.CSS_SELECTOR, "tr.previewed")
    }
    outcomes = {use: r.get_attribute("data-outcome") for use, r in previewed.items()}
    assert outcomes["voice"] == "deny"
    assert outcomes["analyze"] == "conditional"
    assert outcomes["train"] == "deny"  # no answer: her opt-in default refuses it
    assert "Ada Vale" in previewed["voice"].text  # why: her likeness, refused
    assert not ConsentRuleVersion.objects.filter(rule__owner=ada.party).exists()
    screenshot(page, "consent-preview")
    # The form kept what she entered.
    assert page.find_element(By.CSS_SELECTOR, "#use-voice input[value='deny']").is_selected()
    assert page.find_element(By.ID, "id_analyze-credit").get_attribute("value") == "Ada Vale"
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))

    # Then the page says so, and the rules are hers, written as the API writes them.
    assert "Saved: 2 answers changed." in page.find_element(By.CLASS_NAME, "notice").text
    rules = {v.uses[0]: v for v in ConsentRuleVersion.objects.filter(rule__owner=ada.party)}
    assert set(rules) == {"voice", "analyze"}
    assert (rules["voice"].scope, rules["voice"].effect) == ("likeness", "deny")
    assert (rules["analyze"].scope, rules["analyze"].effect) == ("all_works", "conditional")
    assert rules["analyze"].obligations == {"attribution": "Ada Vale"}
    assert rules["voice"].author_id == ada.caller.token.user_id
    assert page.find_element(By.CSS_SELECTOR, "#use-voice input[value='deny']").is_selected()
    history = page.find_element(By.ID, "history").text
    assert "Clone or imitate my voice — Never" in history
    assert f"by {ada.username}" in history

    # And a licensee's checks through the API are decided by them.
    voice = api_check(
        base, sonora.caller.secret, "voice", {"text": "sing it with Ada Vale's voice"}
    )
    assert (voice["outcome"], voice["code"]) == ("deny", "consent.denied_by_rule")
    analyze = api_check(base, sonora.caller.secret, "analyze", {"isrc": ISRC})
    assert (analyze["outcome"], analyze["code"]) == ("conditional", "consent.conditional")
    assert analyze["obligations"]["attribution"] == "Ada Vale"

    # And Ada's page shows both requests under "who asked", with the answer and why.
    page.refresh()
    asked = page.find_elements(By.CSS_SELECTOR, "#who-asked tr.asked")
    seen = {(r.get_attribute("data-use"), r.get_attribute("data-outcome")) for r in asked}
    assert seen == {("voice", "deny"), ("analyze", "conditional")}
    text = page.find_element(By.ID, "who-asked").text
    assert "Sonora AI Labs" in text
    assert "Paper Moons" in text
    assert "my likeness" in text
    assert "your rule, version 1" in text
    by_use = page.find_elements(By.CSS_SELECTOR, "#by-use li")
    assert {(b.get_attribute("data-key"), b.text.split()[-1]) for b in by_use} == {
        ("voice", "1"), ("analyze", "1")
    }  # fmt: skip
    monday = (timezone.now().date() - dt.timedelta(days=timezone.now().weekday())).isoformat()
    (week,) = page.find_elements(By.CSS_SELECTOR, "#by-week li")
    assert (week.get_attribute("data-key"), week.text.split()[-1]) == (monday, "2")
    screenshot(page, "consent-who-asked")
