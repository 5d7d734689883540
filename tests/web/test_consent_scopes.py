"""The consent page's scoped exceptions in Chromium: an artist allows ``train`` only for
non-commercial use in France, previews a sample request, saves; a licensee's checks through
the API are then decided as DESIGN.md's decision semantics say, and the page shows them."""

from __future__ import annotations

import json
from typing import Any

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from governance.models import ConsentRuleVersion, PartyKind
from tests.web.conftest import screenshot
from tests.web.people import fetch, person, sign_in, submit
from tests.web.test_consent_scopes_form import work_of

ISRC = "FRZ031900777"


def check(base: str, token: str, *, commercial: bool, territories: list[str]) -> dict[str, Any]:
    """A licensee's ``POST /api/v1/checks/`` for training on the recording."""
    body = {"use": "train", "item": {"isrc": ISRC}, "commercial": commercial,
            "territories": territories}  # fmt: skip
    status, answer = fetch(
        f"{base}/api/v1/checks/", data=json.dumps(body).encode(),
        headers={"Authorization": f"Api-Key {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 200, answer
    return dict(json.loads(answer))


def preview(page: WebDriver) -> dict[str, str]:
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button[value=preview]"))
    rows = page.find_elements(By.CSS_SELECTOR, "tr.previewed")
    return {r.get_attribute("data-use") or "": r.get_attribute("data-outcome") or "" for r in rows}


def test_an_artist_allows_training_only_non_commercially_in_france(
    page: WebDriver, live_server: Any
) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    label = person(PartyKind.LABEL, "Northwind Records")
    # Ada holds every right training needs (master, publishing, performer): her answer decides.
    work_of(label, "Paper Moons", ISRC, ada, artist=ada)
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    base = live_server.url
    sign_in(page, base, ada)
    assert page.current_url == f"{base}/p/{ada.party.pk}/consent/"

    # The limits are hidden until asked for: "Limit this answer", opened from the keyboard.
    effect = page.find_element(By.CSS_SELECTOR, "#train-new input[value='allow']")
    assert not effect.is_displayed()
    summary = page.find_element(By.CSS_SELECTOR, "#use-train details.limits summary")
    summary.send_keys(Keys.ENTER)
    assert effect.is_displayed()
    territories = page.find_element(By.ID, "id_train-new-territories")
    assert page.find_element(By.CSS_SELECTOR, "label[for=id_train-new-territories]").text == (
        "Territories (ISO codes: FR DE; everywhere but France: -FR)"
    )
    page.find_element(By.CSS_SELECTOR, "label[for=id_train-new-effect_0]").click()
    territories.send_keys("FR")
    Select(page.find_element(By.ID, "id_train-new-commercial")).select_by_value("non_commercial")
    # The credit field of an allow with conditions is for the exception's own answer only.
    assert not page.find_element(By.ID, "id_train-new-credit").is_displayed()
    screenshot(page, "consent-scoped-editing")

    # A preview of two sample requests before saving: nothing is saved by either.
    Select(page.find_element(By.ID, "id_sample-use")).select_by_value("train")
    page.find_element(By.ID, "id_sample-territory").send_keys("FR")
    Select(page.find_element(By.ID, "id_sample-commercial")).select_by_value("non_commercial")
    assert preview(page) == {"train": "allow"}
    why = page.find_element(By.CSS_SELECTOR, "tr.previewed").text
    assert "Every rights holder allowed it." in why
    # The form kept what was entered, its disclosure open.
    assert page.find_element(By.ID, "id_train-new-territories").get_attribute("value") == "FR"
    assert page.find_element(By.ID, "id_train-new-territories").is_displayed()
    Select(page.find_element(By.ID, "id_sample-commercial")).select_by_value("commercial")
    assert preview(page) == {"train": "deny"}
    assert not ConsentRuleVersion.objects.filter(rule__owner=ada.party).exists()
    screenshot(page, "consent-scoped-preview")

    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))
    assert "Saved: 1 answer changed." in page.find_element(By.CLASS_NAME, "notice").text
    (rule,) = ConsentRuleVersion.objects.filter(rule__owner=ada.party)
    assert (rule.scope, rule.uses, rule.effect) == ("all_works", ["train"], "allow")
    assert (rule.territory_mode, rule.territories, rule.commercial) == (
        "include", ["FR"], "non_commercial"
    )  # fmt: skip
    assert rule.author_id == ada.caller.token.user_id
    shown = page.find_element(By.CSS_SELECTOR, "#use-train ul.exceptions").text
    assert shown == "Allow · in FR · Non-commercial use only"
    assert page.find_element(By.CSS_SELECTOR, "#use-train input[value='default']").is_selected()
    history = page.find_element(By.ID, "history").text
    assert "Train AI models on my recordings — Allow · in FR · Non-commercial use only" in history
    assert f"by {ada.username}" in history

    # The licensee's checks, decided by DESIGN.md's semantics: Ada's rules that match the
    # request (use, licensee, territory, time, commercial flag) answer, any deny first; when
    # none matches, her default posture (opt-in: no consent on record, deny) answers.
    token = sonora.caller.secret
    # Commercial training, worldwide: the exception is non-commercial only, so no rule matches.
    commercial = check(base, token, commercial=True, territories=[])
    assert (commercial["outcome"], commercial["code"]) == ("deny", "consent.opt_in_default")
    # Commercial training in France: still not non-commercial.
    assert check(base, token, commercial=True, territories=["FR"])["outcome"] == "deny"
    # Non-commercial training in France: the exception matches, and allows it.
    allowed = check(base, token, commercial=False, territories=["FR"])
    assert (allowed["outcome"], allowed["code"]) == ("allow", "consent.allowed")
    # Non-commercial, worldwide: every territory is asked about and the strictest decides;
    # outside France nothing allows it.
    assert check(base, token, commercial=False, territories=[])["outcome"] == "deny"
    assert check(base, token, commercial=False, territories=["DE"])["outcome"] == "deny"

    # Her page shows the five under "who asked", the allowed one under her exception.
    page.refresh()
    asked = page.find_elements(By.CSS_SELECTOR, "#who-asked tr.asked")
    outcomes = sorted(r.get_attribute("data-outcome") or "" for r in asked)
    assert outcomes == ["allow", "deny", "deny", "deny", "deny"]
    (allow_row,) = [r for r in asked if r.get_attribute("data-outcome") == "allow"]
    assert "Sonora AI Labs" in allow_row.text
    assert "your rule, version 1" in allow_row.text

    # At a phone's width, with the limits open: one column, nothing wider than the screen.
    page.set_window_size(390, 844)
    page.find_element(By.CSS_SELECTOR, "#use-train details.limits summary").click()
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    page.execute_script("document.getElementById('use-train').scrollIntoView()")
    screenshot(page, "consent-scoped-phone", whole=False)


def test_a_label_limits_an_answer_to_some_works_of_its_catalog(
    page: WebDriver, live_server: Any
) -> None:
    label = person(PartyKind.LABEL, "Northwind Records")
    moons = work_of(label, "Paper Moons", "FRZ031900781", label)
    work_of(label, "Glass Harbour", "FRZ031900782", label)
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    base = live_server.url
    sign_in(page, base, label)
    assert page.current_url == f"{base}/p/{label.party.pk}/consent/"

    page.find_element(By.CSS_SELECTOR, "#use-analyze details.limits summary").click()
    works = Select(page.find_element(By.ID, "id_analyze-new-works"))
    assert [o.text for o in works.options] == [
        "Glass Harbour (FRZ031900782)", "Paper Moons (FRZ031900781)"
    ]  # fmt: skip
    works.select_by_value(moons)
    page.find_element(By.CSS_SELECTOR, "label[for=id_analyze-new-effect_0]").click()
    screenshot(page, "consent-label-scoped")
    Select(page.find_element(By.ID, "id_sample-use")).select_by_value("analyze")
    Select(page.find_element(By.ID, "id_sample-work")).select_by_value(moons)
    assert preview(page) == {"analyze": "allow"}
    Select(page.find_element(By.ID, "id_sample-work")).select_by_value("")
    assert preview(page) == {"analyze": "deny"}  # another work: the opt-in default
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))
    assert "Saved: 1 answer changed." in page.find_element(By.CLASS_NAME, "notice").text
    shown = page.find_element(By.CSS_SELECTOR, "#use-analyze ul.exceptions").text
    assert shown == "Allow · works: Paper Moons (FRZ031900781)"

    def analyze(isrc: str) -> str:
        body = {"use": "analyze", "item": {"isrc": isrc}}
        status, answer = fetch(
            f"{base}/api/v1/checks/", data=json.dumps(body).encode(),
            headers={"Authorization": f"Api-Key {sonora.caller.secret}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        assert status == 200, answer
        return str(json.loads(answer)["outcome"])

    assert analyze("FRZ031900781") == "allow"
    assert analyze("FRZ031900782") == "deny"
