from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance.models import ApiToken, PartyKind, Role
from tests.factories import caller

pytestmark = pytest.mark.django_db


def test_an_admin_issues_a_token_whose_secret_is_shown_once_and_works() -> None:
    admin = caller(PartyKind.LICENSEE)
    response = admin.client.post("/api/v1/tokens/", {"name": "ci", "role": "viewer"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    secret = body["secret"]
    assert body["role"] == "viewer"
    assert body["expires_at"] is not None  # API_TOKEN_DEFAULT_DAYS applies
    listed = admin.client.get("/api/v1/tokens/").json()["results"]
    assert all("secret" not in t for t in listed)
    assert {t["id"] for t in listed} == {admin.token.prefix, body["id"]}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    me = client.get("/api/v1/me/").json()
    assert me["party"]["id"] == str(admin.party.pk)
    assert me["role"] == "viewer"


def test_a_viewer_may_not_issue_tokens() -> None:
    viewer = caller(PartyKind.LABEL, role=Role.VIEWER)
    response = viewer.client.post("/api/v1/tokens/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert ApiToken.objects.count() == 1


def test_an_admin_acting_through_an_editor_token_may_not_issue_tokens() -> None:
    """The token's role bounds what it may do, whatever its member's role."""
    editor = caller(PartyKind.LABEL, role=Role.EDITOR)
    response = editor.client.post("/api/v1/tokens/", {"name": "x", "role": "admin"}, format="json")
    assert response.status_code == 403
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "x", "role": "overlord"}, "role"),
        ({"role": "viewer"}, "name"),
        ({"name": "x", "expires_at": "yesterday"}, "expires_at"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(payload: dict, field: str) -> None:  # type: ignore[type-arg]
    admin = caller(PartyKind.LABEL)
    response = admin.client.post("/api/v1/tokens/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert ApiToken.objects.count() == 1


def test_an_expiry_in_the_past_is_refused() -> None:
    admin = caller(PartyKind.LABEL)
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    response = admin.client.post(
        "/api/v1/tokens/", {"name": "x", "expires_at": past}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"expires_at": ["must be in the future"]}


def test_a_revoked_token_stops_working() -> None:
    admin = caller(PartyKind.LABEL)
    issued = admin.client.post("/api/v1/tokens/", {"name": "temp"}, format="json").json()
    response = admin.client.post(f"/api/v1/tokens/{issued['id']}/revoke/")
    assert response.status_code == 200
    assert response.json()["revoked"] is True
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued['secret']}")
    assert client.get("/api/v1/me/").status_code == 401


def test_another_partys_token_answers_404() -> None:
    admin = caller(PartyKind.LABEL)
    other = caller(PartyKind.ARTIST)
    response = admin.client.post(f"/api/v1/tokens/{other.token.prefix}/revoke/")
    assert response.status_code == 404
    other.token.refresh_from_db()
    assert other.token.revoked is False
