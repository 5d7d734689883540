"""A write with a field the operation does not take is a 400 naming the field, and changes
nothing: a misspelt ``perod_start`` must not be dropped while the licensee believes its period
was sent. Top-level fields, fields of nested objects (credits, items, vectors, obligations),
read-only fields and a body sent to an operation that takes none."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from governance.models import (
    ConsentRule,
    Decision,
    Likeness,
    Outbox,
    PartyKind,
    UseRequest,
    Work,
)
from governance.services import callbacks
from governance.services import spaces as space_services
from ledger.models import PendingEntry
from tests.factories import caller
from tests.world import ISRC

pytestmark = pytest.mark.django_db

UNKNOWN = ["Unknown field."]


def _refused(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, (response.status_code, response.content)
    body = response.json()
    assert body["code"] == "invalid", body
    return dict(body["fields"])


def test_a_misspelt_field_of_a_use_request_is_a_400_and_nothing_is_stored(world) -> None:  # type: ignore[no-untyped-def]
    entries = PendingEntry.objects.count()
    response = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {
            "use": "analyze",
            "items": [{"isrc": ISRC}],
            "perod_start": "2027-01-01T00:00:00Z",
            "licencee": str(world["licensee"].party.pk),
        },
        format="json",
    )
    assert _refused(response) == {"perod_start": UNKNOWN, "licencee": UNKNOWN}
    assert "perod_start" in response.json()["message"]
    assert not UseRequest.objects.exists()
    assert not Outbox.objects.exists()
    assert PendingEntry.objects.count() == entries


def test_an_unknown_field_beside_bad_known_ones_is_named_with_them(world) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "sing", "items": [{"isrc": ISRC}], "teritories": ["FR"]},
        format="json",
    )
    fields = _refused(response)
    assert fields["teritories"] == UNKNOWN
    assert "use" in fields


def test_an_unknown_field_of_an_item_is_named_by_its_path(world) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"isrc": ISRC}, {"isrc": ISRC, "title": "x"}]},
        format="json",
    )
    assert _refused(response) == {"items.1.title": UNKNOWN}
    assert not UseRequest.objects.exists()


def test_an_unknown_field_of_a_vector_is_named_by_its_path(world) -> None:  # type: ignore[no-untyped-def]
    staff = get_user_model().objects.create_user("ops", is_staff=True)
    space_services.space_create(
        user=staff, name="timbre", model="test", model_version="1", dimension=2, threshold=0.8
    )
    vectors = [{"space": "timbre", "vector": [1.0, 0.0], "weight": 2}]
    response = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"vectors": vectors}]},
        format="json",
    )
    assert _refused(response) == {"items.0.vectors.0.weight": UNKNOWN}
    added = world["label"].client.post(
        f"/api/v1/works/{world['work']['id']}/embeddings/", {"vectors": vectors}, format="json"
    )
    assert _refused(added) == {"vectors.0.weight": UNKNOWN}


def test_a_check_with_an_unknown_field_decides_nothing(world) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/checks/",
        {"use": "analyze", "item": {"isrc": ISRC}, "period_strat": "2027-01-01T00:00:00Z"},
        format="json",
    )
    assert _refused(response) == {"period_strat": UNKNOWN}
    assert not Decision.objects.exists()


def test_a_manifest_request_with_an_unknown_form_field_is_a_400(world) -> None:  # type: ignore[no-untyped-def]
    manifest = SimpleUploadedFile("m.csv", f"isrc\n{ISRC}\n".encode())
    response = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "manifest": manifest, "territory": "FR"},
        format="multipart",
    )
    assert _refused(response) == {"territory": UNKNOWN}
    assert not UseRequest.objects.exists()


def test_a_csv_manifest_row_with_more_cells_than_columns_is_a_400(world) -> None:  # type: ignore[no-untyped-def]
    manifest = SimpleUploadedFile("m.csv", f"isrc\n{ISRC},FR\n".encode())
    response = world["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": manifest}, format="multipart"
    )
    fields = _refused(response)
    assert list(fields) == ["manifest"]
    assert "line 2" in fields["manifest"][0]
    assert not UseRequest.objects.exists()


def test_a_nested_credit_with_an_unknown_field_registers_no_work() -> None:
    label = caller(PartyKind.LABEL)
    body = {
        "kind": "recording",
        "title": "Northern Lights",
        "isrc": ISRC,
        "credits": [{"name": "Ada Vale", "role": "main_artist", "isnii": "0000000121707484"}],
    }
    response = label.client.post("/api/v1/works/", body, format="json")
    assert _refused(response) == {"credits.0.isnii": UNKNOWN}
    assert not Work.objects.exists()


def test_a_patch_with_an_unknown_field_changes_nothing(world) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/works/{world['work']['id']}/"
    response = world["label"].client.patch(url, {"title": "New", "tittle": "x"}, format="json")
    assert _refused(response) == {"tittle": UNKNOWN}
    assert Work.objects.get(pk=world["work"]["id"]).title == "Northern Lights"


def test_an_unknown_obligation_is_named_by_its_path() -> None:
    label = caller(PartyKind.LABEL)
    rule = {
        "scope": "all_works",
        "uses": ["train"],
        "effect": "conditional",
        "obligations": {"attribution": "Ada Vale", "atribution": "Ada"},
    }
    response = label.client.post("/api/v1/consent/rules/", rule, format="json")
    assert _refused(response) == {"obligations.atribution": UNKNOWN}
    assert not ConsentRule.objects.exists()


def test_a_read_only_field_in_a_write_is_refused() -> None:
    artist = caller(PartyKind.ARTIST)
    url = f"/api/v1/parties/{artist.party.pk}/likeness/"
    response = artist.client.patch(url, {"aliases": ["Ada"], "aspects": ["voice"]}, format="json")
    assert list(_refused(response)) == ["aspects"]
    assert Likeness.objects.get(artist=artist.party).aliases == []


def test_a_body_sent_to_an_operation_that_takes_none_is_refused() -> None:
    licensee = caller(PartyKind.LICENSEE)
    before = callbacks.callback_secret(party=licensee.party)
    response = licensee.client.post(
        "/api/v1/callback-secret/rotate/", {"secret": "mine"}, format="json"
    )
    assert _refused(response) == {"secret": UNKNOWN}
    assert callbacks.callback_secret(party=licensee.party) == before
    assert licensee.client.post("/api/v1/callback-secret/rotate/").status_code == 200
    empty = licensee.client.post("/api/v1/callback-secret/rotate/", {}, format="json")
    assert empty.status_code == 200
