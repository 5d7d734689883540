"""Given an operator, when it issues a token with ``manage.py token_issue``, then the token acts
for a member of the party with at most the member's role; a non-member gets none. This is how an
auditor, which changes nothing through the API, gets its tokens."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from rest_framework.test import APIClient

from governance.models import ApiToken, PartyKind, Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def issue(*args: str) -> str:
    out = io.StringIO()
    call_command("token_issue", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_an_operator_issues_an_auditors_token_that_reads_and_changes_nothing() -> None:
    member = MembershipFactory(party__kind=PartyKind.AUDITOR, role=Role.ADMIN)
    secret = issue(str(member.party.pk), member.user.username, "--role", "admin")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    me = client.get("/api/v1/me/").json()
    assert me["party"]["id"] == str(member.party.pk)
    assert me["role"] == "admin"
    assert client.post("/api/v1/tokens/", {"name": "x"}, format="json").status_code == 403
    assert ApiToken.objects.count() == 1


def test_it_refuses_a_user_who_is_not_a_member() -> None:
    member = MembershipFactory(party__kind=PartyKind.AUDITOR)
    stranger = UserFactory()
    with pytest.raises(CommandError, match="not a member"):
        issue(member.party.name, stranger.username)
    assert not ApiToken.objects.exists()


def test_it_refuses_a_role_above_the_members() -> None:
    member = MembershipFactory(party__kind=PartyKind.LABEL, role=Role.VIEWER)
    with pytest.raises(CommandError, match="more power"):
        issue(str(member.party.pk), member.user.username, "--role", "editor")
    assert not ApiToken.objects.exists()


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("operator", password="x")
    client = Client()
    client.force_login(user)
    return client


def admin_issue(operator: Client, party: Any, user: Any, role: str) -> Any:
    return operator.post(
        "/admin/governance/apitoken/add/",
        {"name": "ci", "party": str(party.pk), "user": str(user.pk), "role": role,
         "expiry_date_0": "", "expiry_date_1": ""},
    )  # fmt: skip


def test_the_admin_refuses_a_token_for_a_user_who_is_not_a_member(operator: Client) -> None:
    member = MembershipFactory(party__kind=PartyKind.LABEL, role=Role.ADMIN)
    stranger = UserFactory()
    response = admin_issue(operator, member.party, stranger, "viewer")
    assert response.status_code == 200  # the form again, with the reason
    assert "is not a member of" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_admin_refuses_a_role_above_the_members(operator: Client) -> None:
    member = MembershipFactory(party__kind=PartyKind.LABEL, role=Role.VIEWER)
    response = admin_issue(operator, member.party, member.user, "admin")
    assert response.status_code == 200
    assert "more power than its member" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_token_issued_in_the_admin_works_and_its_holder_cannot_be_changed(
    operator: Client,
) -> None:
    member = MembershipFactory(party__kind=PartyKind.LABEL, role=Role.EDITOR)
    response = admin_issue(operator, member.party, member.user, "editor")
    assert response.status_code == 302, response.content.decode()[:2000]
    token = ApiToken.objects.get()
    (message,) = [str(m) for m in get_messages(response.wsgi_request) if " is: " in str(m)]
    secret = message.split(" is: ")[1].split(". ")[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert client.get("/api/v1/me/").json()["role"] == "editor"
    # Party, user and role are read-only once issued: a posted change is ignored.
    other = MembershipFactory(party__kind=PartyKind.LABEL, role=Role.ADMIN)
    operator.post(
        f"/admin/governance/apitoken/{token.pk}/change/",
        {"name": "renamed", "party": str(other.party.pk), "user": str(other.user.pk),
         "role": "admin", "expiry_date_0": "", "expiry_date_1": ""},
    )  # fmt: skip
    token.refresh_from_db()
    assert (token.name, token.party_id, token.user_id, token.role) == (
        "renamed", member.party.pk, member.user.pk, "editor",
    )  # fmt: skip
