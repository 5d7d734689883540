"""The language cookie the pages' switch sets (Django's ``set_language``) chooses the API's
language too, after ``?lang=`` and before ``Accept-Language`` (api/language.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

FRENCH = "Introuvable, ou vous n\u2019y avez pas accès."
ENGLISH = "Nothing at /api/v1/nothing-here/."


@pytest.mark.parametrize(
    ("cookie", "extra", "message", "language"),
    [
        ("fr", {}, FRENCH, "fr"),
        ("fr", {"QUERY_STRING": "lang=en"}, ENGLISH, "en"),  # ?lang= first
        ("en", {"HTTP_ACCEPT_LANGUAGE": "fr"}, ENGLISH, "en"),  # then the cookie
        ("de", {"HTTP_ACCEPT_LANGUAGE": "fr"}, FRENCH, "fr"),  # an unknown one is ignored
    ],
    ids=["cookie", "query-wins", "cookie-beats-header", "unknown-cookie"],
)
def test_the_language_cookie_chooses_the_apis_language(
    cookie: str, extra: dict[str, str], message: str, language: str
) -> None:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = cookie
    response = client.get("/api/v1/nothing-here/", **extra)  # type: ignore[arg-type]
    assert response.status_code == 404
    assert response.json()["message"] == message
    assert response["Content-Language"] == language
