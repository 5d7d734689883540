from __future__ import annotations

import pytest

from governance.models import PartyKind
from tests.factories import PartyFactory, caller

pytestmark = pytest.mark.django_db


def test_a_label_sees_only_its_own_party() -> None:
    label = caller(PartyKind.LABEL)
    PartyFactory(kind=PartyKind.ARTIST)
    body = label.client.get("/api/v1/parties/").json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == str(label.party.pk)
    assert set(body["results"][0]) == {"id", "kind", "name", "unclaimed", "created_at"}


def test_another_partys_object_answers_404_like_a_missing_one() -> None:
    label = caller(PartyKind.LABEL)
    artist = PartyFactory(kind=PartyKind.ARTIST)
    forbidden = label.client.get(f"/api/v1/parties/{artist.pk}/")
    missing = label.client.get("/api/v1/parties/00000000-0000-0000-0000-000000000000/")
    assert forbidden.status_code == missing.status_code == 404
    assert (
        forbidden.json()
        == missing.json()
        == {
            "code": "not_found",
            "message": "No party with that id.",
            "fields": {},
        }
    )


def test_a_party_reads_itself() -> None:
    label = caller(PartyKind.LABEL, name="Northwind")
    body = label.client.get(f"/api/v1/parties/{label.party.pk}/").json()
    assert body["name"] == "Northwind"


def test_an_auditor_sees_every_party_and_can_filter_them() -> None:
    auditor = caller(PartyKind.AUDITOR)
    PartyFactory(kind=PartyKind.ARTIST, name="Ada Vale")
    PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")
    assert auditor.client.get("/api/v1/parties/").json()["count"] == 3
    artists = auditor.client.get("/api/v1/parties/?kind=artist").json()
    assert [p["name"] for p in artists["results"]] == ["Ada Vale"]
    named = auditor.client.get("/api/v1/parties/?name=north").json()
    assert [p["name"] for p in named["results"]] == ["Northwind Records"]


def test_an_invalid_filter_is_a_400_naming_the_field() -> None:
    auditor = caller(PartyKind.AUDITOR)
    response = auditor.client.get("/api/v1/parties/?kind=robot")
    assert response.status_code == 400
    assert "kind" in response.json()["fields"]


def test_the_list_is_paginated() -> None:
    auditor = caller(PartyKind.AUDITOR)
    PartyFactory.create_batch(4)
    body = auditor.client.get("/api/v1/parties/?page_size=2&ordering=name").json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] is not None


def test_me_tells_who_acts_for_which_party() -> None:
    licensee = caller(PartyKind.LICENSEE)
    body = licensee.client.get("/api/v1/me/").json()
    assert body["party"]["id"] == str(licensee.party.pk)
    assert body["role"] == "admin"
    assert body["token"] == licensee.token.prefix
