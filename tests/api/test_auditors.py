"""Given an auditor acting with an admin token, when it calls any operation that is not a read,
then it is refused and nothing changes: auditors read everything and change nothing (issue 12,
Access item 3)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from governance.exceptions import PermissionDenied
from governance.models import ApiToken, Membership, PartyKind, RightsShare, Role, Work
from governance.services import api_token_issue, api_token_revoke
from ledger.models import PendingEntry
from tests.factories import caller
from tests.world import ISRC

pytestmark = pytest.mark.django_db

READS = {"get", "head", "options", "trace", "parameters"}


def write_operations() -> list[tuple[str, str]]:
    """Every (method, path template) of the public OpenAPI schema that is not a read."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method, path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method not in READS
    )


def test_an_auditor_may_not_issue_a_token() -> None:
    auditor = caller(PartyKind.AUDITOR, role=Role.ADMIN)
    response = auditor.client.post("/api/v1/tokens/", {"name": "x"}, format="json")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    assert ApiToken.objects.count() == 1


def test_an_auditor_may_not_revoke_a_token_even_its_own() -> None:
    auditor = caller(PartyKind.AUDITOR, role=Role.ADMIN)
    response = auditor.client.post(f"/api/v1/tokens/{auditor.token.prefix}/revoke/")
    assert response.status_code == 403, response.content
    auditor.token.refresh_from_db()
    assert auditor.token.revoked is False


def test_an_auditor_still_reads_its_tokens_and_everything_else() -> None:
    auditor = caller(PartyKind.AUDITOR, role=Role.ADMIN)
    assert auditor.client.get("/api/v1/tokens/").status_code == 200
    assert auditor.client.get("/api/v1/parties/").status_code == 200


def test_the_token_services_refuse_an_auditor_whoever_calls_them() -> None:
    """The HTTP layer refuses first; the services hold the same line for any other caller."""
    from django.utils import timezone

    from governance.access import Actor

    auditor = caller(PartyKind.AUDITOR, role=Role.ADMIN)
    member = Membership.objects.get(party=auditor.party)
    actor = Actor(user=member.user, party=auditor.party, role=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        api_token_issue(actor=actor, name="x", role="viewer", expires_at=None, now=timezone.now())
    with pytest.raises(PermissionDenied):
        api_token_revoke(actor=actor, token=auditor.token)


def test_the_walk_covers_every_write_of_the_schema() -> None:
    """The walk below is only as good as its list: it must hold the known writes."""
    operations = write_operations()
    assert ("post", "/api/v1/tokens/") in operations
    assert ("post", "/api/v1/tokens/{token_id}/revoke/") in operations
    assert ("delete", "/api/v1/shares/{share_id}/") in operations
    assert len(operations) >= 20


@pytest.fixture
def catalog() -> dict[str, str]:
    """Real objects for the path parameters, so no refusal is a mere "not found"."""
    label = caller(PartyKind.LABEL)
    artist = caller(PartyKind.ARTIST)
    work = label.client.post(
        "/api/v1/works/", {"kind": "recording", "title": "Song", "isrc": ISRC}, format="json"
    ).json()
    share = {"work": work["id"], "holder": str(label.party.pk), "right": "master", "share": "100"}
    share_id = label.client.post("/api/v1/shares/", share, format="json").json()["id"]
    rule = {"scope": "all_works", "uses": ["analyze"], "effect": "allow"}
    rule_id = label.client.post("/api/v1/consent/rules/", rule, format="json").json()["rule"]
    release = {"title": "Album", "upc": "036000291452", "tracks": [work["id"]]}
    release_id = label.client.post("/api/v1/releases/", release, format="json").json().get("id")
    return {
        "work_id": work["id"],
        "share_id": share_id,
        "rule_id": rule_id,
        "party_id": str(artist.party.pk),
        "release_id": release_id or str(uuid.uuid4()),
        "review_id": str(uuid.uuid4()),
        "request_id": str(uuid.uuid4()),
        "decision_id": str(uuid.uuid4()),
        "job_id": str(uuid.uuid4()),
    }


def test_an_auditor_admin_is_refused_every_write_operation_and_nothing_changes(
    catalog: dict[str, str],
) -> None:
    auditor = caller(PartyKind.AUDITOR, role=Role.ADMIN)
    ids = catalog | {"token_id": auditor.token.prefix}
    before = (
        PendingEntry.objects.count(),
        ApiToken.objects.count(),
        Work.objects.count(),
        RightsShare.objects.count(),
    )
    answers: dict[str, Any] = {}
    for method, template in write_operations():
        path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), str(uuid.uuid4())), template)
        body = {"name": "x", "title": "Taken", "share": "1", "effect": "deny", "uses": ["train"]}
        response = getattr(auditor.client, method)(path, body, format="json")
        answers[f"{method.upper()} {template}"] = response.status_code
        assert response.status_code in (403, 404, 405), (method, path, response.content)
        assert set(response.json()) == {"code", "message", "fields"}
    after = (
        PendingEntry.objects.count(),
        ApiToken.objects.count(),
        Work.objects.count(),
        RightsShare.objects.count(),
    )
    assert after == before, answers
    assert all(status == 403 for status in answers.values()), answers
