"""Fixtures of the API tests that need registered audio (tests/api/test_audio_*.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.audio_support import other, register, song, wav
from tests.world import rule


@pytest.fixture
def catalog(world: dict[str, Any]) -> dict[str, Any]:
    """The world's recording with its audio registered (``song()``), and another recording of
    the label's with other audio (``other()``); the label and the artist allow analysing."""
    label = world["label"]
    recording = label.client.post(
        "/api/v1/works/",
        {"kind": "recording", "title": "Southern Skies", "isrc": "GBAYE0601498"},
        format="json",
    ).json()
    for right in ("master", "publishing", "performer"):
        share = {
            "work": recording["id"], "holder": str(label.party.pk), "right": right, "share": "100"
        }  # fmt: skip
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    register(work_id=world["work"]["id"], party_id=label.party.pk, data=wav(song()))
    register(work_id=recording["id"], party_id=label.party.pk, data=wav(other()))
    rule(label, scope="all_works", uses=["analyze"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["analyze"], effect="allow")
    return world | {"other": recording}
