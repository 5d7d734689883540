"""Who may open what, in Chromium and over HTTP: a member of one party cannot open another
party's pages (404, as for a missing one), a form without its CSRF token is refused (403) and
changes nothing, signing in is rate-limited, and a user of several parties switches between
them."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlencode

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from governance.models import ConsentRuleVersion, Membership, PartyKind, Role
from tests.web.conftest import screenshot
from tests.web.people import PASSWORD, browser_cookies, fetch, person, sign_in, submit


def test_a_member_of_one_party_cannot_open_another_partys_pages(
    page: WebDriver, live_server: Any
) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    milo = person(PartyKind.ARTIST, "Milo Reyes")
    sign_in(page, live_server.url, ada)
    cookies = browser_cookies(page)
    for path in (f"/p/{milo.party.pk}/", f"/p/{milo.party.pk}/consent/",
                 f"/switch/?party={milo.party.pk}"):  # fmt: skip
        status, _ = fetch(live_server.url + path, cookies=cookies)
        assert status == 404, path
    # In the browser, the page says so in HTML (the API keeps its JSON body).
    page.get(f"{live_server.url}/p/{milo.party.pk}/consent/")
    assert page.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "Milo" not in page.page_source
    status, body = fetch(f"{live_server.url}/api/v1/nothing/", headers={"Accept": "text/html"})
    assert (status, body.startswith(b"{")) == (404, True)
    # Her own page opens; signed out, a page sends to sign-in.
    assert fetch(f"{live_server.url}/p/{ada.party.pk}/consent/", cookies=cookies)[0] == 200
    page.get(f"{live_server.url}/p/{ada.party.pk}/consent/")
    page.delete_all_cookies()
    page.get(f"{live_server.url}/p/{ada.party.pk}/consent/")
    assert page.current_url.startswith(f"{live_server.url}/sign-in/")


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    page: WebDriver, live_server: Any
) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    sign_in(page, live_server.url, ada)
    url = f"{live_server.url}/p/{ada.party.pk}/consent/"
    cookies = browser_cookies(page)
    assert "csrftoken" in cookies
    form = {f"{use}-choice": "default" for use in ("train", "reference", "output", "style",
                                                   "lyrics", "stems", "analyze")}  # fmt: skip
    form |= {"voice-choice": "allow", "posture": "opt_in"}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Referer": url}
    status, body = fetch(url, cookies=cookies, data=urlencode(form).encode(), headers=headers)
    assert status == 403, body
    assert b"CSRF" in body
    # A browser whose form lost its token is shown why, in HTML, and nothing changes.
    page.get(url)
    page.execute_script(
        "document.querySelector('form.consent [name=csrfmiddlewaretoken]').remove()"
    )
    page.find_element(By.CSS_SELECTOR, "#use-voice input[value='allow']").click()
    submit(page, page.find_element(By.CSS_SELECTOR, "form.consent button.primary"))
    assert page.find_element(By.TAG_NAME, "h1").text == "The form has expired"
    assert "CSRF token was missing" in page.find_element(By.CSS_SELECTOR, "[role=alert]").text
    # The language switch, signing out, a review's answer and a password reset are forms too.
    review = f"/p/{ada.party.pk}/reviews/{uuid.uuid4()}/"
    for path, data in (("/i18n/setlang/", {"language": "fr"}), ("/sign-out/", {}),
                       (review, {"answer": "deny", "reason": "no"}),
                       ("/password-reset/", {"email": "ada@example.org"})):  # fmt: skip
        status, _ = fetch(live_server.url + path, cookies=cookies,
                          data=urlencode(data).encode(), headers=headers)  # fmt: skip
        assert status == 403, path
    # The same form with the token, as the page sends it, is accepted.
    form["csrfmiddlewaretoken"] = page.find_element(By.NAME, "csrfmiddlewaretoken").get_attribute(
        "value"
    )
    assert not ConsentRuleVersion.objects.filter(rule__owner=ada.party).exists()
    status, _ = fetch(url, cookies=cookies, data=urlencode(form).encode(), headers=headers)
    assert status == 200  # the redirect after saving, followed
    (version,) = ConsentRuleVersion.objects.filter(rule__owner=ada.party)
    assert (version.uses, version.effect) == (["voice"], "allow")


def test_sign_in_attempts_are_rate_limited(page: WebDriver, live_server: Any, settings) -> None:  # type: ignore[no-untyped-def]
    ada = person(PartyKind.ARTIST, "Ada Vale")
    page.get(f"{live_server.url}/sign-in/")
    cookies = browser_cookies(page)
    token = page.find_element(By.NAME, "csrfmiddlewaretoken").get_attribute("value")
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "Referer": f"{live_server.url}/sign-in/"}  # fmt: skip

    def attempt(password: str) -> int:
        data = urlencode({"username": ada.username, "password": password,
                          "csrfmiddlewaretoken": token}).encode()  # fmt: skip
        return fetch(f"{live_server.url}/sign-in/", cookies=cookies, data=data, headers=headers)[0]

    # Ten wrong passwords a minute are answered (200: the form again, with its error) ...
    assert [attempt("wrong") for _ in range(10)] == [200] * 10
    # ... the eleventh attempt is refused before the password is checked, even the right one.
    assert attempt(PASSWORD) == 429
    sign_in(page, live_server.url, ada)
    alert = page.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert alert.startswith("Too many sign-in attempts. Try again in")


def test_a_user_of_several_parties_switches_between_them(page: WebDriver, live_server: Any) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    label = person(PartyKind.LABEL, "Northwind Records")
    Membership.objects.create(party=label.party, user=ada.caller.token.user, role=Role.EDITOR)
    sign_in(page, live_server.url, ada)
    # Two parties: sign-in lands on the choice between them.
    links = page.find_elements(By.CSS_SELECTOR, "main ul a")
    assert [a.text for a in links] == ["Ada Vale", "Northwind Records"]
    submit(page, links[1])
    assert page.find_element(By.TAG_NAME, "h1").text == "AI consent of Northwind Records"
    # The label's rows speak for its catalog, not for a likeness.
    assert "(your likeness" not in page.find_element(By.ID, "use-voice").text
    switcher = Select(page.find_element(By.ID, "party-switch"))
    assert switcher.first_selected_option.text == "Northwind Records"
    switcher.select_by_visible_text("Ada Vale")
    submit(page, page.find_element(By.CSS_SELECTOR, "form[action='/switch/'] button"))
    assert page.current_url == f"{live_server.url}/p/{ada.party.pk}/consent/"
    assert page.find_element(By.TAG_NAME, "h1").text == "AI consent of Ada Vale"
    screenshot(page, "party-switcher")


def test_a_forgotten_password_is_reset_by_e_mail(
    page: WebDriver, live_server: Any, mailoutbox: list[Any]
) -> None:
    ada = person(PartyKind.ARTIST, "Ada Vale")
    user = ada.caller.token.user
    user.email = "ada@example.org"
    user.save()
    page.get(f"{live_server.url}/sign-in/")
    submit(page, page.find_element(By.LINK_TEXT, "Forgot your password?"))
    page.find_element(By.ID, "id_email").send_keys("ada@example.org")
    submit(page, page.find_element(By.CSS_SELECTOR, "main form button"))
    assert page.find_element(By.TAG_NAME, "h1").text == "Check your e-mail"
    (mail,) = mailoutbox
    assert mail.to == ["ada@example.org"]
    (link,) = re.findall(r"http://\S+/password-reset/\S+/", mail.body)
    page.get(link)
    new = "a new password for Ada"
    page.find_element(By.ID, "id_new_password1").send_keys(new)
    page.find_element(By.ID, "id_new_password2").send_keys(new)
    submit(page, page.find_element(By.CSS_SELECTOR, "main form button"))
    assert page.find_element(By.TAG_NAME, "h1").text == "Password changed"
    # The old password no longer signs in; the new one does; the link is used up.
    sign_in(page, live_server.url, ada)
    assert page.current_url.startswith(f"{live_server.url}/sign-in/")
    assert page.find_element(By.ID, "id_username").get_attribute("value") == ada.username
    page.find_element(By.ID, "id_password").send_keys(new)
    submit(page, page.find_element(By.CSS_SELECTOR, "main form button.primary"))
    assert page.current_url == f"{live_server.url}/p/{ada.party.pk}/consent/"
    page.get(link)
    assert "no longer valid" in page.find_element(By.CSS_SELECTOR, "[role=alert]").text
