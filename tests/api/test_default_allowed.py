"""An opt-out default that allows says the default decided, not that a holder allowed it
(issue 13 item 5): its own code, ``consent.default_allowed``, in the check, the status page and
the explanation (English and French), and the ledgered decision still replays."""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from governance import replay, tasks
from ledger import services as ledger_services
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

NB = "\u00a0"


def opt_out(who: Any) -> None:
    response = who.client.put(
        "/api/v1/consent/posture/", {"default_posture": "opt_out"}, format="json"
    )
    assert response.status_code == 200, response.json()


def check(world: dict[str, Any]) -> dict[str, Any]:
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    )
    assert response.status_code == 200, response.json()
    return dict(response.json())


def test_an_allow_by_the_opt_out_default_has_its_own_code_and_reason(world) -> None:  # type: ignore[no-untyped-def]
    opt_out(world["label"])
    decision = check(world)
    assert decision["outcome"] == "allow"
    assert decision["code"] == "consent.default_allowed"
    assert decision["reason"] == (
        "No rights holder set a rule; the default posture (opt-out: allowed unless they refuse) "
        "decided"
    )
    assert "Every rights holder allowed it" not in decision["reason"]


def test_a_request_item_allowed_by_default_says_so_on_the_status_page(world) -> None:  # type: ignore[no-untyped-def]
    opt_out(world["label"])
    body = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    tasks.decide_request.apply(args=[body["id"]]).get()
    item = world["licensee"].client.get(body["status_url"]).json()["items"][0]
    assert (item["outcome"], item["code"]) == ("allow", "consent.default_allowed")


def test_the_explanation_says_the_default_decided_in_english_and_french(world) -> None:  # type: ignore[no-untyped-def]
    opt_out(world["label"])
    url = f"/api/v1/decisions/{check(world)['id']}/explanation/"
    name = world["label"].party.name
    en = world["licensee"].client.get(url).json()["summary"]
    assert en == (
        f"No rights holder set a rule; {name}'s default posture decided it "
        "(opt-out: allowed unless they refuse)."
    )
    fr = world["licensee"].client.get(url, {"lang": "fr"}).json()["summary"]
    assert fr == (
        f"Aucun titulaire de droits n’a fixé de règle{NB}; la position par défaut de {name} "
        f"en a décidé (opt-out{NB}: autorisé sauf refus)."
    )


def test_a_rule_that_allows_keeps_consent_allowed(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    decision = check(world)
    assert (decision["code"], decision["reason"]) == (
        "consent.allowed",
        "Every rights holder allowed it",
    )


def test_a_default_allowed_decision_replays_to_the_same_outcome(world) -> None:  # type: ignore[no-untyped-def]
    opt_out(world["label"])
    check(world)
    ledger_services.integrate_all(now=timezone.now())
    assert replay.replay() == (1, [])
