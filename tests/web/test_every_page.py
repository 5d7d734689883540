"""Every page of a party, over HTTP (Django's test client), from the URL patterns themselves, so
that a page added later is held to the same rules or fails here for want of a case:

- a member of another party of the same kind opens none of them (404, as for a missing party),
  neither under the owner's party nor under its own with the owner's objects in the address;
- a POST without its CSRF token is refused (403) on every one of them;
- each one answers in French, with no sentence of the French catalogue left in English.
"""

from __future__ import annotations

import gettext
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver

from governance import tasks
from governance.models import Review
from tests.factories import caller
from tests.world import rule, submit

CATALOGUE = Path(__file__).resolve().parents[2] / "web/locale/fr/LC_MESSAGES/django.mo"
"""The French catalogue as Django reads it (``make messages`` compiles it for ``make test``)."""


def _party_patterns() -> dict[str, str]:
    """Each page under ``p/<party_id>/``: its name and route."""
    from web import urls

    found: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and (prefix + str(p.pattern)).startswith("p/"):
                found[str(p.name)] = prefix + str(p.pattern)

    walk(urls.urlpatterns, "")
    return found


def _signed_in(who: Any, *, csrf: bool = False, french: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf, HTTP_ACCEPT="text/html")
    client.force_login(who.token.user)
    if french:
        from django.conf import settings

        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    return client


@pytest.fixture
def pages(world: dict[str, Any]) -> dict[str, tuple[Any, str]]:
    """Every party page, filled with real objects: its owner and its address."""
    label, artist, licensee = world["label"], world["artist"], world["licensee"]
    rule(artist, scope="all_works", uses=["train"], effect="review")
    rule(label, scope="all_works", uses=["analyze", "train"], effect="allow")
    isrc = {"isrc": world["work"]["isrc"]}
    check = licensee.client.post(
        "/api/v1/checks/", {"use": "analyze", "item": isrc}, format="json"
    ).json()
    licensee.client.post("/api/v1/checks/", {"use": "train", "item": isrc}, format="json")
    review = Review.objects.get(party=artist.party)
    request = submit(licensee, use="analyze", items=[isrc])
    tasks.decide_request.apply(args=[request["id"]]).get()
    job = label.client.post(
        "/api/v1/imports/", {"file": SimpleUploadedFile("c.csv", b"title\nA\n")}
    ).json()
    tasks.run_import.apply(args=[job["id"]])
    ids = {
        "work_id": world["work"]["id"], "decision_id": check["id"], "job_id": job["id"],
        "request_id": request["id"], "review_id": str(review.pk),
    }  # fmt: skip
    decided = licensee.client.get(f"/api/v1/use-requests/{request['id']}/results/")
    request_decision = re.search(rb'"decision": ?"([0-9a-f-]{36})"', b"".join(decided))
    assert request_decision is not None
    owners = {"consent": artist, "reviews": artist, "review-answer": artist, "party": artist}
    filled: dict[str, tuple[Any, str]] = {}
    for name, route in _party_patterns().items():
        owner = owners.get(name) or (licensee if "licensee" in name else label)
        values = dict(ids, party_id=str(owner.party.pk))
        if name == "licensee-receipt":
            values["decision_id"] = request_decision.group(1).decode()
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, v=values: v[m.group(1)], route)
        filled[name] = (owner, "/" + path)
    return filled


def test_every_party_page_is_covered_and_opens_for_its_owner(
    pages: dict[str, tuple[Any, str]],
) -> None:
    assert len(pages) >= 19  # the sweep sees the pages (19 on 2026-12-05)
    for name, (owner, path) in pages.items():
        status = _signed_in(owner).get(path).status_code
        # 405: a form's target (the review's answer) takes only its POST.
        assert status in (200, 302, 405), (name, path, status)


def test_no_party_page_opens_for_a_member_of_another_party(
    pages: dict[str, tuple[Any, str]],
) -> None:
    rivals: dict[str, Any] = {}
    for name, (owner, path) in pages.items():
        kind = owner.party.kind
        if kind not in rivals:
            rivals[kind] = caller(kind, name=f"Rival {kind}")
        rival = rivals[kind]
        client = _signed_in(rival)
        nobody = path.replace(str(owner.party.pk), str(uuid.uuid4()))
        got = client.get(path).status_code
        # 404; or 405 from a form's target that takes no GET, whatever the party.
        assert got == 404 or got == client.get(nobody).status_code == 405, (name, path, got)
        # Its own party in the address, the owner's objects after it: not found either.
        own = path.replace(str(owner.party.pk), str(rival.party.pk))
        if re.search(r"/[0-9a-f-]{36}/.*[0-9a-f-]{36}", own):  # an object after the party
            got = client.get(own).status_code
            assert got == 404 or got == client.get(nobody).status_code == 405, (name, own, got)
            # Nor does a form sent there act on the owner's object (a review's answer...).
            posted = client.post(own, {"answer": "approve", "reason": "mine now"}).status_code
            assert posted in (404, 405), (name, own, posted)
        # A POST (with no CSRF check in the test client) tells no more than for a party that
        # does not exist: 404, or 405 from a page that takes no POST, whatever the party.
        posted = client.post(path, {}).status_code
        assert posted in (404, 405), (name, path, posted)
        assert posted == client.post(nobody, {}).status_code, (name, path)
    assert Review.objects.get().status == "pending"  # nobody answered Ada's review
    # A signed-out visitor is sent to sign in from each of them.
    for name, (_, path) in pages.items():
        response = Client().get(path)
        assert (response.status_code, response.get("Location", "")[:9]) == (
            302,
            "/sign-in/",
        ), name


def test_every_party_page_refuses_a_post_without_its_csrf_token(
    pages: dict[str, tuple[Any, str]],
) -> None:
    for name, (owner, path) in pages.items():
        response = _signed_in(owner, csrf=True).post(path, {"anything": "x"})
        assert response.status_code == 403, (name, path, response.status_code)
        assert b"CSRF" in response.content, name


def test_every_party_page_answers_in_french(pages: dict[str, tuple[Any, str]]) -> None:
    with CATALOGUE.open("rb") as mo:
        catalogue: dict[Any, str] = gettext.GNUTranslations(mo)._catalog  # type: ignore[attr-defined]
    english = {
        msgid for msgid, msgstr in catalogue.items()
        if isinstance(msgid, str) and msgstr != msgid and len(msgid) >= 24
        and "%(" not in msgid and "{" not in msgid
    }  # fmt: skip
    read = 0
    for name, (owner, path) in pages.items():
        response = _signed_in(owner, french=True).get(path)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue  # a redirect, a download or a JSON progress
        read += 1
        body = response.content.decode()
        assert '<html lang="fr"' in body, name
        text = re.sub(r"<[^>]+>", " ", re.sub(r"(?s)<(script|style)\b.*?</\1>", "", body))
        text = re.sub(r"\s+", " ", text)
        left = sorted(s for s in english if re.sub(r"\s+", " ", s) in text)
        assert not left, (name, left)
    assert read >= 10, read  # the pages, not only downloads


class _Controls(HTMLParser):
    """A page's form controls and what labels them."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()  # ids a <label for=...> names
        self.inside_label = 0
        self.h1 = 0
        self.main = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.inside_label += 1
            if a.get("for"):
                self.labelled.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            kind = a.get("type") or ""
            if tag != "input" or kind not in ("hidden", "submit", "button", "reset", "image"):
                self.controls.append(a | {"tag": tag, "wrapped": "1" if self.inside_label else ""})
        elif tag == "h1":
            self.h1 += 1
        elif tag == "main":
            self.main += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.inside_label:
            self.inside_label -= 1


def test_every_party_page_labels_its_controls_and_has_one_heading_and_a_main(
    pages: dict[str, tuple[Any, str]],
) -> None:
    read = checked = 0
    for name, (owner, path) in pages.items():
        response = _signed_in(owner).get(path)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        read += 1
        page = _Controls()
        page.feed(response.content.decode())
        checked += len(page.controls)
        assert (page.h1, page.main) == (1, 1), name
        unlabelled = [
            c for c in page.controls
            if not (c.get("wrapped") or c.get("aria-label") or c.get("aria-labelledby")
                    or (c.get("id") and c.get("id") in page.labelled))
        ]  # fmt: skip
        assert not unlabelled, (name, unlabelled)
    assert (read >= 10, checked >= 50) == (True, True), (read, checked)
