"""A small world for request tests: a label's recording with master and publishing shares, the
artist credited on it holding the performer share, and a licensee (the ``world`` fixture is
registered in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from governance.models import PartyKind
from tests.factories import caller

ISRC = "USRC17607839"


@pytest.fixture
def world() -> dict[str, Any]:
    """A label's recording with its master share, an artist credited on it, a licensee."""
    label = caller(PartyKind.LABEL)
    artist = caller(PartyKind.ARTIST, name="Ada Vale")
    licensee = caller(PartyKind.LICENSEE, name="Sonora AI Labs")
    work = label.client.post(
        "/api/v1/works/",
        {
            "kind": "recording",
            "title": "Northern Lights",
            "isrc": ISRC,
            "display_artist": "Ada Vale",
            "credits": [{"name": "Ada Vale", "role": "main_artist", "party": str(artist.party.pk)}],
        },
        format="json",
    ).json()
    for right, holder in (("master", label), ("publishing", label), ("performer", artist)):
        share = {"work": work["id"], "holder": str(holder.party.pk), "right": right, "share": "100"}
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    return {"label": label, "artist": artist, "licensee": licensee, "work": work}


def rule(who: Any, **data: Any) -> dict[str, Any]:
    response = who.client.post("/api/v1/consent/rules/", data, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def submit(licensee: Any, **data: Any) -> dict[str, Any]:
    response = licensee.client.post("/api/v1/use-requests/", data, format="json")
    assert response.status_code == 202, response.json()
    return response.json()
