"""The text space's store: every artist's name and aliases as vectors, kept current by the
services that create an artist or change its aliases (in their transaction), and a work's lyrics
handed in (``POST /api/v1/works/<id>/content/`` with ``lyrics``) as one vector per stanza,
ledgered as a SHA-256 with the model version, the text never kept."""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection

from governance import tasks
from governance.content import text
from governance.models import (
    ArtistNameVector,
    ContentUpload,
    LyricsVector,
    PartyKind,
    WorkContent,
)
from governance.models.content import TEXT_DIMENSION
from governance.services import outbox
from ledger.models import PendingEntry
from tests.factories import caller

pytestmark = pytest.mark.django_db

LYRICS = (
    "Frère Jacques, frère Jacques,\nDormez-vous? Dormez-vous?\n\n"
    "Sonnez les matines,\nDing, ding, dong."
)


def names(party: Any) -> list[tuple[str, bool, str]]:
    rows = ArtistNameVector.objects.filter(party=party).order_by("alias", "name")
    return list(rows.values_list("name", "alias", "model_version"))


def test_the_store_has_the_text_models_dimension() -> None:
    assert TEXT_DIMENSION == text.DIMENSION


def test_both_tables_have_a_cosine_hnsw_index() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN"
            " ('artist_name_vector_hnsw', 'lyrics_vector_hnsw') ORDER BY 1"
        )
        rows = cursor.fetchall()
    assert [r[0] for r in rows] == ["artist_name_vector_hnsw", "lyrics_vector_hnsw"]
    assert all("USING hnsw" in d and "vector_cosine_ops" in d for _, d in rows)


def test_an_artist_is_embedded_by_name_when_created(world: dict[str, Any]) -> None:
    ada = world["artist"].party
    assert names(ada) == [("Ada Vale", False, text.VERSION)]
    stored = np.array(ArtistNameVector.objects.get(party=ada).embedding, dtype=np.float32)
    assert float(stored @ text.embed_names(["Ada Vale"])[0]) > 0.999


def test_a_party_of_another_kind_has_no_name_vectors(world: dict[str, Any]) -> None:
    assert names(world["label"].party) == []
    assert names(world["licensee"].party) == []


def test_the_artists_aliases_follow_its_likeness(world: dict[str, Any]) -> None:
    ada = world["artist"]
    url = f"/api/v1/parties/{ada.party.pk}/likeness/"
    response = ada.client.patch(url, {"aliases": ["A. Vale", "Adeline Vale"]}, format="json")
    assert response.status_code == 200, response.json()
    assert names(ada.party) == [
        ("Ada Vale", False, text.VERSION),
        ("A. Vale", True, text.VERSION),
        ("Adeline Vale", True, text.VERSION),
    ]
    ada.client.patch(url, {"aliases": ["Adeline Vale"]}, format="json")
    assert [n for n, _, _ in names(ada.party)] == ["Ada Vale", "Adeline Vale"]


def test_nobody_else_changes_an_artists_aliases_or_their_vectors(world: dict[str, Any]) -> None:
    ada = world["artist"].party
    response = world["label"].client.patch(
        f"/api/v1/parties/{ada.pk}/likeness/", {"aliases": ["Impostor"]}, format="json"
    )
    assert response.status_code in (403, 404)
    assert [n for n, _, _ in names(ada)] == ["Ada Vale"]


def test_sync_artist_names_restores_missing_and_replaces_stale_vectors(
    world: dict[str, Any],
) -> None:
    ada = world["artist"].party
    ArtistNameVector.objects.filter(party=ada).update(model_version="older/0")
    other = caller(PartyKind.ARTIST, name="Milo Reyes")
    ArtistNameVector.objects.filter(party=other.party).delete()
    out = StringIO()
    call_command("sync_artist_names", stdout=out)
    assert names(ada) == [("Ada Vale", False, text.VERSION)]
    assert names(other.party) == [("Milo Reyes", False, text.VERSION)]
    assert "2 names embedded" in out.getvalue()
    out = StringIO()
    call_command("sync_artist_names", stdout=out)
    assert "0 names embedded" in out.getvalue()


# --- lyrics --------------------------------------------------------------------------------


def url(world: dict[str, Any]) -> str:
    return f"/api/v1/works/{world['work']['id']}/content/"


def hand_in(who: Any, world: dict[str, Any], body: dict[str, Any]) -> Any:
    with mock.patch.object(outbox, "broker_send"):
        return who.client.post(url(world), body, format="multipart")


def test_a_works_lyrics_are_embedded_per_stanza_ledgered_and_not_kept(
    world: dict[str, Any],
) -> None:
    response = hand_in(world["label"], world, {"lyrics": LYRICS})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["kind"], body["status"]) == ("lyrics", "received")
    assert (body["model"], body["model_version"]) == (text.MODEL, text.VERSION)
    assert body["sha256"] == hashlib.sha256(LYRICS.encode()).hexdigest()

    assert tasks.fingerprint_content.apply(args=[body["id"]]).get() == "completed"

    content = WorkContent.objects.get(pk=body["id"])
    assert (content.status, content.vector_count) == ("completed", 2)
    rows = LyricsVector.objects.filter(content=content).order_by("stanza")
    assert [(r.stanza, str(r.work_id), r.model_version) for r in rows] == [
        (0, world["work"]["id"], text.VERSION),
        (1, world["work"]["id"], text.VERSION),
    ]
    assert not ContentUpload.objects.filter(content=content).exists()
    (entry,) = [
        json.loads(bytes(r.data))["payload"]
        for r in PendingEntry.objects.filter(kind="work_content")
    ]
    assert entry["sha256"] == body["sha256"]
    assert entry["spaces"] == [
        {"space": "text", "model": text.MODEL, "model_version": text.VERSION, "vector_count": 2}
    ]
    assert "Jacques" not in json.dumps(entry)
    # The same lyrics again: the earlier content, no new job.
    again = hand_in(world["label"], world, {"lyrics": LYRICS})
    assert (again.status_code, again.json()["id"]) == (200, body["id"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lyrics": "   \n\n  "}, "lyrics"),
        ({"lyrics": "x" * 20_001}, "lyrics"),
        ({}, "file"),
    ],
)
def test_lyrics_that_cannot_be_embedded_are_a_400_naming_the_field(
    world: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    response = hand_in(world["label"], world, body)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not WorkContent.objects.exists()


def test_a_licensee_cannot_hand_in_a_works_lyrics(world: dict[str, Any]) -> None:
    response = hand_in(world["licensee"], world, {"lyrics": LYRICS})
    assert response.status_code in (403, 404)
    assert not WorkContent.objects.exists()
