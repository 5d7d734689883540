"""Given an operator, when it issues a token with ``manage.py token_issue``, then the token acts
for a member of the party with at most the member's role; a non-member gets none. This is how an
auditor, which changes nothing through the API, gets its tokens."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
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
