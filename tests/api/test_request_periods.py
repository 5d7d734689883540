"""Whole periods of use over HTTP (issue 13, "Wrong answers" item 2): a check or a request for
2027-06 → 2029-06 under a rule whose window ends 2028-01 is not a plain allow, the trace names
2028-01 → 2029-06 as uncovered, the period is in the ledgered question, and replay evaluates
the same period with no difference."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from governance import tasks
from governance.demo import demo_seed
from governance.models import Decision, UseRequest
from governance.replay import replay
from ledger import canonical
from ledger import services as ledger_services
from ledger.models import Entry
from tests.world import ISRC, rule, submit

pytestmark = pytest.mark.django_db

UNCOVERED = {"start": "2028-01-01T00:00:00Z", "end": "2029-06-01T00:00:00Z"}


def until_january_2028(world: dict[str, Any]) -> None:
    """The label (the master's holder) allows analysis up to 2028-01-01 only."""
    rule(
        world["label"], scope="all_works", uses=["analyze"], effect="allow",
        window_end="2028-01-01T00:00:00Z",
    )  # fmt: skip


def check(world: dict[str, Any], **period: str) -> Any:
    return world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}, **period}, format="json"
    )


def decision_entry(decision_id: str) -> dict[str, Any]:
    ledger_services.integrate_all(now=timezone.now())
    for data in Entry.objects.order_by("index").values_list("data", flat=True):
        entry = canonical.decode_entry(bytes(data))
        if entry.kind == "decision" and entry.payload["decision"] == decision_id:
            return dict(entry.payload)
    raise AssertionError(f"decision {decision_id} is not in the ledger")


def test_a_check_for_2027_06_to_2029_06_under_a_window_ending_2028_01_is_not_allowed(world) -> None:  # type: ignore[no-untyped-def]
    until_january_2028(world)
    response = check(world, period_start="2027-06-01T00:00:00Z", period_end="2029-06-01T00:00:00Z")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["outcome"], body["code"]) == ("deny", "consent.period_not_covered")
    assert body["reason"].endswith(
        "for the part of the period from 2028-01-01T00:00:00Z to 2029-06-01T00:00:00Z"
    )
    (work,) = body["trace"]["works"]
    assert work["uncovered"] == [UNCOVERED]
    assert [(p["start"], p["end"], p["outcome"]) for p in work["periods"]] == [
        ("2027-06-01T00:00:00Z", "2028-01-01T00:00:00Z", "allow"),
        ("2028-01-01T00:00:00Z", "2029-06-01T00:00:00Z", "deny"),
    ]
    assert body["trace"]["period"] == {
        "start": "2027-06-01T00:00:00Z",
        "end": "2029-06-01T00:00:00Z",
    }
    # The ledgered question holds the whole period, and replay evaluates the same one.
    payload = decision_entry(body["id"])
    assert (payload["at"], payload["period"]) == (
        "2027-06-01T00:00:00.000Z",
        {"start": "2027-06-01T00:00:00.000Z", "end": "2029-06-01T00:00:00.000Z"},
    )
    assert replay() == (1, [])


def test_the_explanation_names_the_uncovered_part_in_english_and_french(world) -> None:  # type: ignore[no-untyped-def]
    until_january_2028(world)
    body = check(
        world, period_start="2027-06-01T00:00:00Z", period_end="2029-06-01T00:00:00Z"
    ).json()
    url = f"/api/v1/decisions/{body['id']}/explanation/"
    english = world["licensee"].client.get(url).json()
    french = world["licensee"].client.get(url, {"lang": "fr"}).json()
    assert (
        "Nothing on record covers the part of the period you asked about from 2028-01-01 to "
        "2029-06-01, so the answer is no." in str(english)
    )
    assert (
        "Aucun consentement ni titulaire enregistré ne couvre la partie de la période demandée "
        "du 2028-01-01 au 2029-06-01" in str(french)
    )


def test_a_period_inside_the_window_is_still_a_plain_allow(world) -> None:  # type: ignore[no-untyped-def]
    until_january_2028(world)
    body = check(
        world, period_start="2027-06-01T00:00:00Z", period_end="2028-01-01T00:00:00Z"
    ).json()
    assert (body["outcome"], body["code"]) == ("allow", "consent.allowed")
    assert "uncovered" not in body["trace"]["works"][0]


def test_a_request_of_many_items_is_decided_over_its_whole_period_and_replays_the_same(
    world,
) -> None:  # type: ignore[no-untyped-def]
    until_january_2028(world)
    body = submit(
        world["licensee"], use="analyze", items=[{"isrc": ISRC}, {"work_id": world["work"]["id"]}],
        period_start="2027-06-01T00:00:00Z", period_end="2029-06-01T00:00:00Z",
    )  # fmt: skip
    tasks.decide_request.apply(args=[body["id"]]).get()
    assert UseRequest.objects.get(pk=body["id"]).summary == {"deny": 2}
    for decision in Decision.objects.filter(request_id=body["id"]):
        assert decision.code == "consent.period_not_covered"
        assert decision.trace["works"][0]["uncovered"] == [UNCOVERED]
        assert decision_entry(str(decision.pk))["period"]["end"] == "2029-06-01T00:00:00.000Z"
    # An instant request is ledgered without a period, and both replay alike.
    instant = submit(world["licensee"], use="analyze", items=[{"isrc": ISRC}])
    tasks.decide_request.apply(args=[instant["id"]]).get()
    (decision,) = Decision.objects.filter(request_id=instant["id"])
    assert decision.outcome == "allow"  # today is before 2028-01-01
    assert decision_entry(str(decision.pk))["period"] is None
    assert replay() == (3, [])


def test_a_request_with_only_an_end_is_decided_from_now_to_that_end(world) -> None:  # type: ignore[no-untyped-def]
    now = timezone.now()
    in_ten_days = (now + dt.timedelta(days=10)).replace(microsecond=0)
    rule(
        world["label"], scope="all_works", uses=["analyze"], effect="allow",
        window_end=in_ten_days.isoformat(),
    )  # fmt: skip
    end = (now + dt.timedelta(days=20)).replace(microsecond=0)
    body = check(world, period_end=end.isoformat()).json()
    assert (body["outcome"], body["code"]) == ("deny", "consent.period_not_covered")
    (work,) = body["trace"]["works"]
    assert work["uncovered"] == [
        {
            "start": in_ten_days.isoformat().replace("+00:00", "Z"),
            "end": end.isoformat().replace("+00:00", "Z"),
        }
    ]
    started = dt.datetime.fromisoformat(body["trace"]["period"]["start"])
    assert now - dt.timedelta(seconds=1) <= started <= timezone.now()
    payload = decision_entry(body["id"])
    assert payload["period"]["start"] == payload["at"]
    assert replay() == (1, [])


def test_a_request_with_only_a_start_asks_for_the_time_after_it_with_no_end(world) -> None:  # type: ignore[no-untyped-def]
    until_january_2028(world)
    body = check(world, period_start="2027-06-01T00:00:00Z").json()
    assert (body["outcome"], body["code"]) == ("deny", "consent.period_not_covered")
    assert body["trace"]["works"][0]["uncovered"] == [
        {"start": "2028-01-01T00:00:00Z", "end": None}
    ]
    assert decision_entry(body["id"])["period"] == {
        "start": "2027-06-01T00:00:00.000Z",
        "end": None,
    }
    assert replay() == (1, [])


def test_a_share_valid_for_part_of_the_period_leaves_the_rest_unknown(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["train"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["train"], effect="allow")
    # A second recording whose publishing share ends on 2028-01-01.
    label = world["label"]
    work = label.client.post(
        "/api/v1/works/",
        {"kind": "recording", "title": "Southern Lights", "isrc": "USRC17607840"},
        format="json",
    ).json()
    for right, until in (("master", None), ("publishing", "2028-01-01"), ("performer", None)):
        holder = world["artist"] if right == "performer" else label
        share = {"work": work["id"], "holder": str(holder.party.pk), "right": right, "share": "100"}
        if until:
            share["valid_until"] = until
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    body = world["licensee"].client.post(
        "/api/v1/checks/",
        {"use": "train", "item": {"isrc": "USRC17607840"}, "territories": ["FR"],
         "period_start": "2027-06-01T00:00:00Z", "period_end": "2029-06-01T00:00:00Z"},
        format="json",
    ).json()  # fmt: skip
    assert (body["outcome"], body["code"]) == ("deny", "consent.period_not_covered"), body
    assert body["reason"] == (
        "Nobody is registered as holding the publishing right in FR for the part of the period "
        "from 2028-01-01T00:00:00Z to 2029-06-01T00:00:00Z"
    )
    assert decision_entry(body["id"])["period"]["start"] == "2027-06-01T00:00:00.000Z"
    assert replay() == (1, [])


@pytest.mark.parametrize(
    ("period", "field", "message"),
    [
        (
            {"period_start": "2029-06-01T00:00:00Z", "period_end": "2027-06-01T00:00:00Z"},
            "period_end",
            "must be after period_start",
        ),
        ({"period_end": "2020-01-01T00:00:00Z"}, "period_end", "must be after the time of the"),
    ],
)
def test_a_period_that_ends_before_it_starts_is_refused_and_nothing_is_stored(  # type: ignore[no-untyped-def]
    world, period: dict[str, str], field: str, message: str
) -> None:
    for response in (
        check(world, **period),
        world["licensee"].client.post(
            "/api/v1/use-requests/",
            {"use": "analyze", "items": [{"isrc": ISRC}], **period},
            format="json",
        ),
    ):
        assert response.status_code == 400, response.json()
        body = response.json()
        assert body["code"] == "invalid"
        assert message in body["fields"][field][0]
    assert not UseRequest.objects.exists()
    assert not Decision.objects.exists()


def test_on_the_demo_data_a_period_past_the_end_of_a_master_share_is_not_covered(  # type: ignore[no-untyped-def]
    tmp_path,
) -> None:
    # The demo catalog's "Low Tide (Instrumental)" (GBNWR2300003) has Northwind's master share in
    # GB, IE, FR and DE until 2034-01-01; Northwind allows analysis with attribution.
    creds, _ = demo_seed(credentials_file=tmp_path / "c.json", now=timezone.now())
    licensee = APIClient()
    token = next(c.token for c in creds if c.kind == "licensee")
    licensee.credentials(HTTP_AUTHORIZATION=f"Api-Key {token}")

    def ask(start: str, end: str) -> dict[str, Any]:
        response = licensee.post(
            "/api/v1/checks/",
            {"use": "analyze", "item": {"isrc": "GBNWR2300003"}, "territories": ["FR"],
             "period_start": start, "period_end": end},
            format="json",
        )  # fmt: skip
        assert response.status_code == 200, response.json()
        return dict(response.json())

    inside = ask("2030-01-01T00:00:00Z", "2033-06-01T00:00:00Z")
    assert (inside["outcome"], inside["obligations"]) == (
        "conditional",
        {"attribution": "Northwind Records"},
    )
    past = ask("2030-01-01T00:00:00Z", "2036-01-01T00:00:00Z")
    assert (past["outcome"], past["code"]) == ("deny", "consent.period_not_covered")
    assert past["trace"]["works"][0]["uncovered"] == [
        {"start": "2034-01-01T00:00:00Z", "end": "2036-01-01T00:00:00Z"}
    ]
    ledger_services.integrate_all(now=timezone.now())
    assert replay() == (2, [])
