"""The pages in French: the language switch in the page's frame, then every page the test
opens is French (the consent vocabulary included), and stays so after signing in again."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from typing import Any

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from governance.models import PartyKind
from tests.web.conftest import ROOT, screenshot
from tests.web.people import person, sign_in, submit

APOSTROPHE = "\u2019"  # French typography's, as the catalogue writes it


def switch_to_french(page: WebDriver) -> None:
    Select(page.find_element(By.ID, "language")).select_by_value("fr")
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/i18n/setlang/'] button"))


def test_the_pages_in_french(page: WebDriver, live_server: Any) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    page.get(f"{live_server.url}/sign-in/")
    switch_to_french(page)
    assert page.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert page.find_element(By.TAG_NAME, "h1").text == "Se connecter"
    assert page.find_element(By.CSS_SELECTOR, "label[for=id_password]").text == "Mot de passe"
    screenshot(page, "sign-in-fr")
    sign_in(page, live_server.url, ada)
    title = page.find_element(By.TAG_NAME, "h1").text
    assert title == f"Consentement à l{APOSTROPHE}IA de Ada Vale"
    legend = page.find_element(By.CSS_SELECTOR, "#use-voice legend").text
    assert legend.startswith("Cloner ou imiter ma voix")
    choices = [c.text for c in page.find_elements(By.CSS_SELECTOR, "#use-train label.choice")]
    assert choices == ["Autoriser", "Autoriser sous conditions", "Me demander", "Jamais",
                       "Pas de réponse : mon choix par défaut"]  # fmt: skip
    page.find_element(By.CSS_SELECTOR, "#use-style input[value='deny']").click()
    page.find_element(By.CSS_SELECTOR, "#use-stems input[value='conditional']").click()
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))
    # Allowing with conditions names at least one: the refusal is in French, nothing is saved.
    error = page.find_element(By.CSS_SELECTOR, "#use-stems .error").text
    assert (
        error == "Indiquez au moins une condition : un crédit, une rémunération ou une mention IA."
    )
    page.find_element(By.ID, "id_stems-ai_disclosure").click()
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))
    notice = page.find_element(By.CLASS_NAME, "notice").text
    assert notice == "Enregistré : 2 réponses modifiées."
    history = page.find_element(By.ID, "history").text
    assert (
        "Séparer mes enregistrements en pistes ou les remixer — Autoriser sous conditions : "
        "mention IA" in history
    )
    nobody = page.find_element(By.CSS_SELECTOR, "#who-asked p").text
    assert nobody == f"Personne n{APOSTROPHE}a encore demandé."
    # At a phone's width, the page is one column: nothing wider than the screen.
    page.set_window_size(390, 844)
    assert page.execute_script("return document.documentElement.scrollWidth") <= 390
    page.execute_script("window.scrollTo(0, 0)")
    screenshot(page, "consent-fr-phone", whole=False)
    # The review queue, an error page and the password reset too.
    page.set_window_size(1280, 1000)
    for path, title in (
        (f"/p/{ada.party.pk}/reviews/", "En attente de ma réponse"),
        (f"/p/{uuid.uuid4()}/consent/", "Introuvable"),
        ("/password-reset/", "Réinitialiser votre mot de passe"),
    ):
        page.get(live_server.url + path)
        assert page.find_element(By.TAG_NAME, "h1").text == title, path
    # The ledger's verification too, its script's messages included.
    page.get(f"{live_server.url}/verify/")
    assert page.find_element(By.TAG_NAME, "h1").text == "Vérifier le registre dans votre navigateur"
    page.find_element(By.ID, "vkey").clear()  # a key an earlier test pinned in this browser
    page.find_element(By.ID, "vkey").send_keys("pas une clé")
    page.find_element(By.CSS_SELECTOR, "#verify-form button").click()
    result = page.find_element(By.ID, "verify-result")
    WebDriverWait(page, 30).until(lambda _: result.get_attribute("data-verified") == "no")
    assert result.text.splitlines() == [
        "Non vérifié.",
        f"La clé de vérification est mal formée : elle s{APOSTROPHE}écrit nom+identifiant+clé.",
    ]


def test_every_string_of_the_pages_has_its_french() -> None:
    """No message of web/locale/fr is left untranslated or fuzzy (a fuzzy one is not used)."""
    po = ROOT / "web" / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "msgfmt (gettext) is needed"
    stats = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    assert re.fullmatch(r"\d+ translated messages\.\n", stats), stats
