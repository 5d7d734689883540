"""Given a request, when it carries no, a wrong, a revoked or an expired token, then it gets 401
in the common error body; a valid token acts for its party."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import caller

pytestmark = pytest.mark.django_db
URL = "/api/v1/parties/"


def assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]


def test_it_answers_401_without_credentials() -> None:
    response = APIClient().get(URL)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.parametrize(
    "header",
    [
        "Api-Key nonsense",
        "Api-Key abc.def",
        "Bearer abcdefgh.wrongsecretwrongsecretwrongsecr",
        "Api-Key ",
    ],
)
def test_it_answers_401_for_a_wrong_token(header: str) -> None:
    c = caller()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get(URL), 401, "authentication_failed")
    # The right prefix with a wrong secret is refused too.
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {c.token.prefix}.{'x' * 32}")
    assert_error(client.get(URL), 401, "authentication_failed")


def test_it_accepts_a_valid_token_in_either_scheme() -> None:
    c = caller()
    assert c.client.get(URL).status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {c.secret}")
    assert client.get(URL).status_code == 200


def test_it_refuses_a_revoked_token() -> None:
    c = caller()
    c.token.revoked = True
    c.token.save()
    assert_error(c.client.get(URL), 401, "authentication_failed")


def test_it_refuses_an_expired_token() -> None:
    c = caller()
    c.token.expiry_date = timezone.now() - dt.timedelta(seconds=1)
    c.token.save()
    assert_error(c.client.get(URL), 401, "authentication_failed")


def test_it_records_when_a_token_was_last_used() -> None:
    c = caller()
    assert c.token.last_used_at is None
    c.client.get(URL)
    c.token.refresh_from_db()
    assert c.token.last_used_at is not None


def test_it_stores_only_a_hash_of_the_secret() -> None:
    c = caller()
    secret_part = c.secret.split(".", 1)[1]
    assert secret_part not in c.token.hashed_key
    assert c.token.hashed_key.startswith("sha512$$")
