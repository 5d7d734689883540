"""A recording takes its publishing right from the composition it embodies (issue 13, item 1;
docs/rights.md), on the demo data: the label's Northern Lights (ISRC GBNWR2300001) embodies the
composition T-034.524.680-1, whose publishing Harbor Lane Music Publishing holds at 100 %.

The demo's rules: Ada Vale allows ``train`` to Sonora AI Labs; she refuses ``voice`` to all;
Northwind Records allows ``analyze`` with attribution. Both companies are opt-in by default, and
Northwind holds the recording's master and performer shares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance.demo import demo_seed
from governance.models import Decision, Party, Work
from governance.replay import replay
from ledger import services as ledger_services

pytestmark = pytest.mark.django_db

ISRC = "GBNWR2300001"
ISWC = "T0345246801"


@pytest.fixture
def demo(tmp_path: Path) -> dict[str, Any]:
    """The demo, seeded as ``make run`` seeds it; a client per party."""
    credentials, _ = demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    clients: dict[str, Any] = {}
    for c in credentials:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {c.token}")
        clients[c.key] = client
    clients["composition"] = str(Work.objects.get(iswc=ISWC).pk)
    clients["recording"] = str(Work.objects.get(isrc=ISRC).pk)
    return clients


def check(demo: dict[str, Any], use: str, territories: tuple[str, ...] = ("FR",)) -> Decision:
    response = demo["licensee"].post(
        "/api/v1/checks/",
        {"use": use, "territories": list(territories), "item": {"isrc": ISRC}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    return Decision.objects.get(pk=response.json()["id"])


def rights(decision: Decision) -> dict[str, list[dict[str, Any]]]:
    (work,) = decision.trace["works"]
    return {entry["right"]: entry["holders"] for entry in work["rights"]}


def allow(client: APIClient, **data: Any) -> None:
    response = client.post("/api/v1/consent/rules/", {"effect": "allow", **data}, format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("use", ["train", "reference", "output"])
def test_the_composition_s_publisher_holds_the_recording_s_publishing_right(
    demo: dict[str, Any], use: str
) -> None:
    decision = check(demo, use)
    (publisher,) = rights(decision)["publishing"]
    assert publisher["name"] == "Harbor Lane Music Publishing"
    assert publisher["share"] == "100.000"
    assert publisher["composition"] == demo["composition"]
    # No longer "rights unknown": every required right has a holder. Northwind, which holds the
    # master and answers first (matrix order), has no rule for this use and is opt-in.
    assert "rights.unknown" not in {e["code"] for e in decision.trace["works"][0]["rights"]}
    assert (decision.outcome, decision.code) == ("deny", "consent.opt_in_default")
    assert decision.reason == "No consent on record from Northwind Records"
    assert publisher["code"] == "consent.opt_in_default"


def test_lyrics_on_a_recording_ask_the_composition_s_publisher(demo: dict[str, Any]) -> None:
    decision = check(demo, "lyrics")
    # Lyrics need only the publishing right: Harbor Lane has no rule and is opt-in by default.
    assert (decision.outcome, decision.code) == ("deny", "consent.opt_in_default")
    assert decision.reason == "No consent on record from Harbor Lane Music Publishing"
    assert [h["composition"] for h in rights(decision)["publishing"]] == [demo["composition"]]


def test_the_publisher_s_catalog_rule_can_allow_lyrics_and_train_on_the_recording(
    demo: dict[str, Any],
) -> None:
    allow(demo["publisher"], scope="all_works", uses=["lyrics", "train"])
    lyrics = check(demo, "lyrics")
    assert (lyrics.outcome, lyrics.code) == ("allow", "consent.allowed")
    (publisher,) = rights(lyrics)["publishing"]
    assert (publisher["name"], publisher["code"]) == (
        "Harbor Lane Music Publishing",
        "consent.allowed",
    )
    assert publisher["rule"] is not None
    # Train needs the master and performer too (Northwind's): allowed once Northwind allows.
    assert check(demo, "train").outcome == "deny"
    allow(demo["label"], scope="all_works", uses=["train"])
    assert check(demo, "train").outcome == "allow"


def test_a_rule_naming_the_composition_speaks_for_its_recordings_publishing(
    demo: dict[str, Any],
) -> None:
    allow(demo["publisher"], scope="works", scope_works=[demo["composition"]], uses=["lyrics"])
    assert check(demo, "lyrics").outcome == "allow"


def test_master_performer_and_likeness_do_not_flow_from_the_composition(
    demo: dict[str, Any],
) -> None:
    # The publisher also takes a (nonsensical) master share of the composition: it stays the
    # composition's, never the recording's.
    publisher = Party.objects.get(name="Harbor Lane Music Publishing")
    share = {"work": demo["composition"], "holder": str(publisher.pk), "right": "master"}
    response = demo["label"].post("/api/v1/shares/", {**share, "share": "100"}, format="json")
    assert response.status_code == 201, response.json()
    stems = check(demo, "stems")  # master and performer
    holders = rights(stems)
    assert {h["name"] for h in holders["master"] + holders["performer"]} == {"Northwind Records"}
    assert all("composition" not in h for h in holders["master"] + holders["performer"])
    voice = check(demo, "voice")  # likeness: the credited artist's alone
    assert [h["name"] for h in rights(voice)["likeness"]] == ["Ada Vale"]
    assert (voice.outcome, voice.code) == ("deny", "consent.denied_by_rule")


def test_decisions_that_take_the_composition_s_shares_replay_the_same(
    demo: dict[str, Any],
) -> None:
    allow(demo["publisher"], scope="all_works", uses=["lyrics"])
    outcomes = [check(demo, use).outcome for use in ("lyrics", "train", "reference", "output")]
    assert outcomes == ["allow", "deny", "deny", "deny"]
    ledger_services.integrate_all(now=timezone.now())
    assert replay() == (4, [])
