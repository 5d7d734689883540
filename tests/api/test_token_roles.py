"""Given a token issued to a member, when the member is demoted, removed or deactivated (through
the services, the Django admin or the database), then the token's next request acts with the
member's current role, or gets 401 once the member is gone (issue 12, Access item 2)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from governance.models import ApiToken, Membership, PartyKind, Role, Work
from governance.services import membership_add, membership_remove
from tests.factories import Caller, caller

pytestmark = pytest.mark.django_db

SONG = {"kind": "recording", "title": "Song", "isrc": "USRC17607839"}


def member_of(c: Caller) -> Any:
    return c.token.user


def assert_acts_as_viewer(c: Caller) -> None:
    """The token reads, but issues no token and writes nothing."""
    assert c.client.get("/api/v1/me/").json()["role"] == "viewer"
    issue = c.client.post("/api/v1/tokens/", {"name": "x", "role": "admin"}, format="json")
    assert issue.status_code == 403, issue.content
    assert issue.json()["code"] == "permission_denied"
    write = c.client.post("/api/v1/works/", SONG, format="json")
    assert write.status_code == 403, write.content
    assert ApiToken.objects.filter(party=c.party).count() == 1
    assert not Work.objects.exists()


def assert_refused(c: Caller) -> None:
    response = c.client.get("/api/v1/me/")
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "authentication_failed"


def test_an_admin_token_acts_as_viewer_once_its_member_is_demoted() -> None:
    admin = caller(PartyKind.LABEL, role=Role.ADMIN)
    assert admin.client.get("/api/v1/me/").json()["role"] == "admin"
    membership_add(party=admin.party, user=member_of(admin), role=Role.VIEWER)
    assert_acts_as_viewer(admin)


def test_a_demoted_members_admin_token_may_not_issue_an_admin_token() -> None:
    """The exact attack: the demoted member's old admin token minted a new admin token."""
    admin = caller(PartyKind.LICENSEE, role=Role.ADMIN)
    membership_add(party=admin.party, user=member_of(admin), role=Role.EDITOR)
    response = admin.client.post("/api/v1/tokens/", {"name": "x", "role": "admin"}, format="json")
    assert response.status_code == 403
    assert ApiToken.objects.count() == 1


def test_promoting_a_member_does_not_raise_its_tokens_above_their_own_role() -> None:
    viewer = caller(PartyKind.LABEL, role=Role.VIEWER)
    membership_add(party=viewer.party, user=member_of(viewer), role=Role.ADMIN)
    assert_acts_as_viewer(viewer)


def test_a_removed_members_token_gets_401() -> None:
    admin = caller(PartyKind.LABEL)
    assert membership_remove(party=admin.party, user=member_of(admin)) is True
    assert_refused(admin)
    # Adding the member back does not revive the token: removal revoked it.
    membership_add(party=admin.party, user=member_of(admin), role=Role.ADMIN)
    assert_refused(admin)


def test_a_token_gets_401_once_its_membership_row_is_deleted_however_it_was_deleted() -> None:
    admin = caller(PartyKind.LABEL)
    Membership.objects.filter(party=admin.party).delete()
    assert_refused(admin)


def test_a_deactivated_members_token_gets_401() -> None:
    admin = caller(PartyKind.LABEL)
    user = member_of(admin)
    user.is_active = False
    user.save()
    assert_refused(admin)


def test_a_member_in_two_parties_keeps_only_the_role_of_the_tokens_party() -> None:
    """The join is on the token's party and user: a role elsewhere does not count."""
    admin = caller(PartyKind.LABEL)
    other = caller(PartyKind.PUBLISHER)
    membership_add(party=other.party, user=member_of(admin), role=Role.ADMIN)
    membership_add(party=admin.party, user=member_of(admin), role=Role.VIEWER)
    assert_acts_as_viewer(admin)


def _admin_client() -> Client:
    superuser = get_user_model().objects.create_superuser("operator", "op@example.org", "pw")
    client = Client()
    client.force_login(superuser)
    return client


def _party_form(c: Caller, membership: Membership, **inline: str) -> dict[str, str]:
    """The Django admin's party change form, as the browser posts it, with one member inline."""
    party = c.party
    return {
        "kind": party.kind,
        "name": party.name,
        "default_posture": party.default_posture,
        "isni": "",
        "ipi": "",
        "version": str(party.version),
        "callback_secret": "",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(membership.pk),
        "memberships-0-party": str(party.pk),
        "memberships-0-user": str(membership.user_id),
        "memberships-0-role": membership.role,
        **{f"memberships-0-{k}": v for k, v in inline.items()},
    }


def test_demoting_a_member_in_the_django_admin_demotes_its_token() -> None:
    admin = caller(PartyKind.LABEL)
    membership = Membership.objects.get(party=admin.party)
    url = f"/admin/governance/party/{admin.party.pk}/change/"
    response = _admin_client().post(url, _party_form(admin, membership, role="viewer"))
    assert response.status_code == 302, response.content
    assert Membership.objects.get(pk=membership.pk).role == "viewer"
    assert_acts_as_viewer(admin)


def test_removing_a_member_in_the_django_admin_makes_its_token_401() -> None:
    admin = caller(PartyKind.LABEL)
    membership = Membership.objects.get(party=admin.party)
    url = f"/admin/governance/party/{admin.party.pk}/change/"
    response = _admin_client().post(url, _party_form(admin, membership, DELETE="on"))
    assert response.status_code == 302, response.content
    assert not Membership.objects.exists()
    assert_refused(admin)


def test_authentication_reads_token_user_party_and_membership_in_one_query() -> None:
    admin = caller(PartyKind.LABEL)
    with CaptureQueriesContext(connection) as queries:
        token = ApiToken.objects.get_from_key(admin.secret)
    assert len(queries) == 1
    assert token.member_role == "admin"
    assert token.effective_role == "admin"


def test_a_web_session_acts_with_the_members_current_role_and_none_once_removed() -> None:
    admin = caller(PartyKind.LABEL)
    session = APIClient()
    session.force_login(member_of(admin))
    assert session.get("/api/v1/me/").json()["role"] == "admin"
    membership_add(party=admin.party, user=member_of(admin), role=Role.VIEWER)
    assert session.get("/api/v1/me/").json()["role"] == "viewer"
    assert session.post("/api/v1/works/", SONG, format="json").status_code == 403
    membership_remove(party=admin.party, user=member_of(admin))
    response = session.get("/api/v1/me/")
    assert response.status_code == 403
    assert not Work.objects.exists()
