"""AI declarations from a label's feed (issue 17, item 6), end to end: imported from ERN 4.3.2
``ContainsAI`` and 3.8.2 ``Keywords``, stored on the recording, shown in the API, ledgered in
its ``work`` entry; consent rules limited to works by their declaration decide checks both
ways, the explanation says what the label declared, and the replay of the log gives the same
decisions; a bad declaration in a rule is a 400 naming ``ai_declarations``. Declarations come
from imports only: the work API has no field to write them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance import tasks
from governance.models import PartyKind, Work
from governance.replay import replay
from ledger import canonical
from ledger import services as ledger_services
from ledger.models import PendingEntry
from tests.ddex_samples import ern_document
from tests.factories import Caller, caller
from tests.world import rule

pytestmark = pytest.mark.django_db

LABEL = "Northwind Records"
DECLARED = {1: "All", 2: "Partly", 3: "None"}  # track 4 declares nothing


def imported(label: Caller, document: bytes) -> dict[str, Any]:
    upload = SimpleUploadedFile("album.xml", document, content_type="application/xml")
    job = label.client.post("/api/v1/imports/", {"file": upload}).json()
    assert tasks.run_import.apply(args=[job["id"]]).get() == "succeeded"
    return dict(label.client.get(f"/api/v1/imports/{job['id']}/").json())


def work_entries() -> list[dict[str, Any]]:
    rows = PendingEntry.objects.filter(kind="work").order_by("id").values_list("data", flat=True)
    return [canonical.decode_entry(bytes(r)).payload for r in rows]


def isrcs() -> dict[str, str]:
    """Track number -> ISRC, in the order the builder numbers them."""
    return {w.isrc[-1]: w.isrc for w in Work.objects.all() if w.isrc}


@pytest.mark.parametrize(
    ("version", "ai", "element"),
    [("4.3.2", DECLARED, "ContainsAI"),
     ("3.8.2", {1: "AI-generated", 2: "AI-assisted", 3: "ContainsAI=None"}, "Keywords")],
)  # fmt: skip
def test_an_imported_declaration_is_stored_shown_and_ledgered(
    version: str, ai: dict[int, str], element: str
) -> None:
    label = caller(PartyKind.LABEL, name=LABEL)
    document = ern_document(recordings=4, version=version, ai=ai)
    assert imported(label, document)["problems"] == []
    by_track = isrcs()
    expected = {"1": "generated", "2": "assisted", "3": "none", "4": ""}
    stored = {n: Work.objects.get(isrc=i).ai_declaration for n, i in by_track.items()}
    assert stored == expected
    first = Work.objects.get(isrc=by_track["1"])
    shown = label.client.get(f"/api/v1/works/{first.pk}/").json()
    assert (shown["ai_declaration"], shown["ai_parts"], shown["ai_declared_in"]) == (
        "generated", [], [element],
    )  # fmt: skip
    ledgered = {p["isrc"]: p for p in work_entries()}
    assert {n: ledgered[i]["ai_declaration"] for n, i in by_track.items()} == expected
    assert ledgered[by_track["1"]]["ai_declared_in"] == [element]
    # The same message again changes nothing and appends nothing.
    count = PendingEntry.objects.count()
    again = imported(label, document)
    assert (again["counts"].get("works_updated", 0), PendingEntry.objects.count()) == (0, count)
    # A later delivery that changes the declaration updates the work, as any field it sends.
    changed = ern_document(recordings=4, version=version, ai={**ai, 1: ai[2]})
    assert imported(label, changed)["counts"]["works_updated"] == 1
    assert Work.objects.get(isrc=by_track["1"]).ai_declaration == "assisted"


def test_the_work_api_has_no_way_to_write_a_declaration() -> None:
    label = caller(PartyKind.LABEL, name=LABEL)
    imported(label, ern_document(recordings=1, version="4.3.2", ai={1: "All"}))
    work = Work.objects.get()
    response = label.client.patch(
        f"/api/v1/works/{work.pk}/", {"ai_declaration": "none"}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert "ai_declaration" in response.json()["fields"]
    work.refresh_from_db()
    assert work.ai_declaration == "generated"


def check(licensee: Caller, isrc: str) -> dict[str, Any]:
    response = licensee.client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": isrc}}, format="json"
    )
    assert response.status_code == 200, response.json()
    return dict(response.json())


def sentences(licensee: Caller, decision: dict[str, Any], lang: str = "en") -> list[str]:
    url = f"/api/v1/decisions/{decision['id']}/explanation/"
    return list(licensee.client.get(url, {"lang": lang}).json()["works"][0]["sentences"])


def test_a_rule_denying_ai_generated_recordings_decides_checks_both_ways() -> None:
    label = caller(PartyKind.LABEL, name=LABEL)
    licensee = caller(PartyKind.LICENSEE)
    imported(label, ern_document(recordings=4, version="4.3.2", ai=DECLARED))
    by_track = isrcs()
    rule(label, scope="all_works", uses=["analyze"], effect="allow")
    denial = rule(
        label, scope="all_works", uses=["analyze"], effect="deny", ai_declarations=["generated"]
    )
    assert denial["ai_declarations"] == ["generated"]
    generated, assisted = check(licensee, by_track["1"]), check(licensee, by_track["2"])
    assert (generated["outcome"], generated["code"]) == ("deny", "consent.denied_by_rule")
    assert assisted["outcome"] == "allow"
    assert [check(licensee, by_track[n])["outcome"] for n in "34"] == ["allow", "allow"]
    # The explanation says what the label declared, in English and in French.
    assert "This recording is declared as AI-generated by its label." in sentences(
        licensee, generated
    )
    assert "This recording is declared as AI-assisted by its label." in sentences(
        licensee, assisted
    )
    french = "Son label déclare cet enregistrement réalisé avec l’aide de l’IA."  # noqa: RUF001
    assert french in sentences(licensee, assisted, "fr")
    undeclared = check(licensee, by_track["4"])
    assert not [s for s in sentences(licensee, undeclared) if "declared as" in s]
    # The rule version is ledgered with its condition, and the replay decides alike.
    ledger_services.integrate_all(now=timezone.now())
    assert replay(workers=1) == (5, [])


def test_a_rule_only_for_works_not_ai_assisted_leaves_the_others_to_the_default() -> None:
    label = caller(PartyKind.LABEL, name=LABEL)
    licensee = caller(PartyKind.LICENSEE)
    imported(label, ern_document(recordings=4, version="4.3.2", ai=DECLARED))
    by_track = isrcs()
    rule(label, scope="all_works", uses=["analyze"], effect="allow",
         ai_declarations=["none", "undeclared"])  # fmt: skip
    outcomes = {n: check(licensee, i) for n, i in by_track.items()}
    assert {n: (d["outcome"], d["code"]) for n, d in outcomes.items()} == {
        "1": ("deny", "consent.opt_in_default"),
        "2": ("deny", "consent.opt_in_default"),
        "3": ("allow", "consent.allowed"),
        "4": ("allow", "consent.allowed"),
    }
    assert "This recording is declared as made without AI by its label." in sentences(
        licensee, outcomes["3"]
    )


@pytest.mark.parametrize("value", [["maybe"], "generated", [1], ["generated", None], {"a": 1}])
def test_a_bad_ai_declarations_is_a_400_naming_the_field(value: object) -> None:
    label = caller(PartyKind.LABEL)
    response = label.client.post("/api/v1/consent/rules/", {
        "scope": "all_works", "uses": ["analyze"], "effect": "deny", "ai_declarations": value,
    }, format="json")  # fmt: skip
    assert response.status_code == 400, response.json()
    assert "ai_declarations" in str(response.json()["fields"]), response.json()


def test_rules_without_a_condition_ledger_as_before() -> None:
    label = caller(PartyKind.LABEL)
    rule(label, scope="all_works", uses=["analyze"], effect="allow")
    rows = PendingEntry.objects.filter(kind="consent_rule").values_list("data", flat=True)
    assert ["ai_declarations" in canonical.decode_entry(bytes(r)).payload for r in rows] == [False]
