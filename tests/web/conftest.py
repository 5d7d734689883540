"""The pages' browser tests: Debian's ``chromium``, headless, driven by Selenium through
Debian's ``chromium-driver`` against pytest-django's ``live_server``.

Both must be installed (``make test`` installs them on a fresh machine, or stops naming them);
a missing one fails the run, never skips it. Selenium is given the driver's path, so Selenium
Manager downloads nothing.

The live server answers on its own thread and connection, so what a test writes must be
committed: ``transactional_db`` is replaced here by a database with no test transaction, and
the ``committed`` fixture (tests/committed.py) deletes afterwards every row the test and the
server committed (Django's own teardown would TRUNCATE, which the ledger's tables refuse).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"
CHROMIUM = ("chromium", "/usr/bin/chromium")
CHROMEDRIVER = ("chromedriver", "/usr/bin/chromedriver")


def _which(names: tuple[str, ...], package: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        f"{names[0]} is not installed: the browser tests need Debian's {package} "
        "(`make test` installs chromium and chromium-driver, or: apt-get install -y chromium "
        "chromium-driver)"
    )


@pytest.fixture(scope="session", autouse=True)
def _french_compiled() -> None:
    """The pages' French catalogue compiled from web/locale/fr/LC_MESSAGES/django.po (as
    ``make messages`` does), and Django's catalogues reloaded to include it."""
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.fail("msgfmt is not installed: apt-get install -y gettext (make test does)")
    po = ROOT / "web" / "locale" / "fr" / "LC_MESSAGES" / "django.po"
    subprocess.run([msgfmt, "--check", "-o", str(po.with_suffix(".mo")), str(po)], check=True)
    from django.utils.translation import trans_real

    trans_real._translations.clear()  # type: ignore[attr-defined]


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The database with no test transaction around the test (see the module docstring)."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(autouse=True)
def _committed_rows_undone(transactional_db: None, committed: None) -> None:
    """Every test of the pages: its rows deleted afterwards, the sign-in throttle's counters
    empty before."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def live_server(_static_collected: Path) -> Iterator[Any]:
    """pytest-django's live server, its static files served as the service serves them: by
    WhiteNoise's middleware from the collected files (hashed names), not by Django's
    development handler, which looks in the apps' folders and knows no hashed name."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost", start=False)
    server.thread.static_handler = lambda handler: handler  # the WSGI app, WhiteNoise inside
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = _which(CHROMIUM, "chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--lang=en-GB", "--no-first-run"):  # fmt: skip
        options.add_argument(arg)
    service = Service(executable_path=_which(CHROMEDRIVER, "chromium-driver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser: webdriver.Chrome, live_server: Any) -> Iterator[webdriver.Chrome]:
    """The browser, with no cookies and no local storage (a pinned key, a remembered
    checkpoint) from an earlier test, at the desktop width."""
    browser.delete_all_cookies()
    browser.execute_cdp_cmd(
        "Storage.clearDataForOrigin", {"origin": live_server.url, "storageTypes": "local_storage"}
    )
    browser.set_window_size(1280, 1000)
    yield browser
    browser.delete_all_cookies()


def screenshot(browser: webdriver.Chrome, name: str, *, whole: bool = True) -> Path:
    """The whole page (else what the window shows) as ``var/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    if whole:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        width = browser.get_window_size()["width"]
        browser.set_window_size(width, min(int(height) + 140, 6000))
    assert browser.save_screenshot(str(path)), path
    return path
