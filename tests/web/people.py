"""People who sign in to the pages in the browser tests: a party member with a password, and
the helpers to sign in and to call the live server as the browser would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from governance.models import Party
from tests.factories import Caller, caller

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    username: str
    party: Party
    caller: Caller


def person(kind: str, name: str) -> Person:
    """A member (admin) of a new party of ``kind`` named ``name``, with :data:`PASSWORD` and
    an API token."""
    c = caller(kind, name=name)
    user = c.token.user
    user.set_password(PASSWORD)
    user.save()
    return Person(username=user.get_username(), party=c.party, caller=c)


def sign_in(browser: WebDriver, base: str, who: Person) -> None:
    browser.get(f"{base}/sign-in/")
    browser.find_element(By.ID, "id_username").send_keys(who.username)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form button.primary"))


def submit(browser: WebDriver, button: WebElement) -> None:
    """Click ``button`` and wait for the next page to have replaced this one, loaded: a mark
    left on this page's ``window`` is gone (a new document) and the new one is complete."""
    browser.execute_script("window.__thisPage = true")
    button.click()
    WebDriverWait(browser, 30, ignored_exceptions=[WebDriverException]).until(
        lambda b: b.execute_script(
            "return window.__thisPage === undefined && document.readyState === 'complete'"
        )
    )


def fetch(
    url: str,
    *,
    cookies: dict[str, str] | None = None,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """``url``'s status and body, over HTTP, with ``cookies`` (the browser's)."""
    all_headers = dict(headers or {})
    if cookies:
        all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    request = urllib.request.Request(url, data=data, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def api_check(base: str, token: str, use: str, item: dict[str, Any]) -> dict[str, Any]:
    """A licensee's ``POST /api/v1/checks/`` over HTTP, as its client would send it."""
    status, body = fetch(
        f"{base}/api/v1/checks/",
        data=json.dumps({"use": use, "item": item}).encode(),
        headers={"Authorization": f"Api-Key {token}", "Content-Type": "application/json"},
    )
    assert status == 200, body
    return dict(json.loads(body))


def browser_cookies(browser: WebDriver) -> dict[str, str]:
    return {c["name"]: c["value"] for c in browser.get_cookies()}
