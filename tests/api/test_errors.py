"""Every error the service answers has the same body, Django's own 404/405/500 included."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import caller

pytestmark = pytest.mark.django_db


def test_an_unknown_url_is_a_404_in_the_common_body() -> None:
    response = Client().get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {
        "code": "not_found",
        "message": "Nothing at /no/such/page.",
        "fields": {},
    }


def test_a_wrong_method_is_a_405_in_the_common_body() -> None:
    label = caller()
    response = label.client.delete("/api/v1/parties/")
    assert response.status_code == 405
    body = response.json()
    assert body["code"] == "method_not_allowed"
    assert body["fields"] == {}


def test_a_malformed_json_body_is_a_400_in_the_common_body() -> None:
    label = caller()
    response = label.client.post(
        "/api/v1/tokens/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.urls("tests.api.urls_failing")
def test_a_server_failure_is_a_500_in_the_common_body_without_internals() -> None:
    client = Client(raise_request_exception=False)
    response = client.get("/fail")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error"
    assert "boom" not in body["message"]
