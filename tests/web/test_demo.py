"""The newcomer's path (issue 16, "done when"): the demo that ``make run`` seeds, its artist
signing in with the password ``seed_demo`` prints, finds her consent as the demo set it and
changes it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.core.management import call_command
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from governance.models import ConsentRuleVersion
from tests.web.conftest import screenshot
from tests.web.people import submit


def test_the_demo_artist_signs_in_with_the_printed_password_and_sets_consent(
    page: WebDriver, live_server: Any, tmp_path: Path
) -> None:
    printed = io.StringIO()
    call_command("seed_demo", credentials_file=tmp_path / "credentials.json", stdout=printed)
    (line,) = [x for x in printed.getvalue().splitlines() if x.split()[-2:-1] == ["ada"]]
    password = line.split()[-1]

    page.get(f"{live_server.url}/")
    page.find_element(By.ID, "id_username").send_keys("ada")
    page.find_element(By.ID, "id_password").send_keys(password)
    submit(page, page.find_element(By.CSS_SELECTOR, "main form button.primary"))
    assert page.find_element(By.TAG_NAME, "h1").text == "AI consent of Ada Vale"
    # The demo's rules: her voice refused to everyone (a row), training allowed to Sonora AI
    # Labs only (an exception of the training row).
    assert page.find_element(By.CSS_SELECTOR, "#use-voice input[value='deny']").is_selected()
    assert page.find_element(By.CSS_SELECTOR, "#use-train input[value='default']").is_selected()
    train = page.find_element(By.CSS_SELECTOR, "#use-train ul.exceptions").text
    assert "Allow · only Sonora AI Labs" in train
    assert "Sonora AI Labs may train on my recordings." in train
    screenshot(page, "demo-artist")

    page.find_element(By.CSS_SELECTOR, "#use-style input[value='review']").click()
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))
    assert "Saved: 1 answer changed." in page.find_element(By.CLASS_NAME, "notice").text
    style = ConsentRuleVersion.objects.get(rule__owner__name="Ada Vale", uses=["style"])
    assert (style.scope, style.effect, style.author.get_username()) == (  # type: ignore[union-attr]
        "likeness", "review", "ada"
    )  # fmt: skip
