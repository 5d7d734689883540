"""Musical works through the API (docs/catalog-works.md): an MWN message or a works CSV is
detected and imported for the caller's own party; a check on a linked recording asks the
composition's publishers; who may not import; and an ERN re-delivery racing the MWN import
that links its recording (real threads and commits)."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance import tasks
from governance.importing import apply as import_apply
from governance.importing.run import import_catalog
from governance.models import Decision, ImportJob, PartyKind, Role, Work
from tests.committed import on_own_connection
from tests.factories import caller

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
MWN = (SAMPLES / "mwn-1.3-sample.xml").read_bytes()
CSV = (SAMPLES / "works-sample.csv").read_bytes()
ERN = (SAMPLES / "ern-4.3-sample.xml").read_text()
W1, A1 = "T1234567894", "GBNWR2400001"
UNNAMED = re.sub(rb"<ResourceList>.*</ResourceList>", b"", MWN, flags=re.S)
"""The MWN sample naming no recording: A1 is linked by the ISWC it declares alone."""


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def declaring(iswc: str | None, *, a2: str | None = None) -> bytes:
    """The ERN 4.3 sample, A1 (and A2) declaring the ISWC given (``WorkId/ISWC``)."""
    text = ERN
    for ref, code in (("A1", iswc), ("A2", a2)):
        tag = f"<ResourceReference>{ref}</ResourceReference>"
        text = text.replace(tag, f"{tag}<WorkId><ISWC>{code}</ISWC></WorkId>", 1) if code else text
    return text.encode()


@pytest.mark.parametrize(("name", "data", "fmt"), [("works.xml", MWN, "mwn"),
                                                   ("works.csv", CSV, "works")])  # fmt: skip
def test_a_works_file_is_detected_imported_and_a_check_asks_its_publishers(
    name: str, data: bytes, fmt: str
) -> None:
    label = caller(PartyKind.LABEL, name="Northwind Records")
    harbor = caller(PartyKind.PUBLISHER, name="Harbor Lane Music Publishing", ipi="23456789157")
    licensee = caller(PartyKind.LICENSEE)
    assert not import_catalog(party=label.party, data=declaring(W1, a2="T9876543214"), fmt="ddex",
                              now=timezone.now()).problems  # fmt: skip
    job = harbor.client.post("/api/v1/imports/", {"file": upload(name, data)})
    assert job.status_code == 202, job.json()
    assert job.json()["format"] == fmt
    assert tasks.run_import.apply(args=[job.json()["id"]]).get() == "succeeded"
    body = harbor.client.get(f"/api/v1/imports/{job.json()['id']}/").json()
    assert (body["counts"]["works_created"], body["counts"]["recordings_linked"]) == (2, 2)

    def check(use: str) -> Decision:
        response = licensee.client.post("/api/v1/checks/", {
            "use": use, "territories": ["FR"], "item": {"isrc": A1}}, format="json")  # fmt: skip
        assert response.status_code == 200, response.json()
        return Decision.objects.get(pk=response.json()["id"])

    composition = str(Work.objects.get(iswc=W1).pk)
    shown = label.client.get(f"/api/v1/works/{Work.objects.get(isrc=A1).pk}/").json()
    assert (shown["declared_iswc"], shown["composition"]) == (W1, composition)
    decision = check("lyrics")  # lyrics need the publishing right alone
    (work,) = decision.trace["works"]
    (publishing,) = [r for r in work["rights"] if r["right"] == "publishing"]
    holders = {h["name"]: h for h in publishing["holders"]}
    assert holders.keys() == {"Harbor Lane Music Publishing", "Tidewater Songs"}
    assert {h["share"] for h in holders.values()} == {"50.000"}
    assert {h["composition"] for h in holders.values()} == {composition}
    assert decision.outcome == "deny"
    # Harbor Lane allows lyrics on all its works: Tidewater, an unclaimed holder with no rules,
    # still answers with its default posture (opt-in), and deny overrides.
    rule = harbor.client.post("/api/v1/consent/rules/", {
        "effect": "allow", "scope": "all_works", "uses": ["lyrics"]}, format="json")  # fmt: skip
    assert rule.status_code == 201, rule.json()
    again = check("lyrics")
    assert (again.outcome, again.reason) == ("deny", "No consent on record from Tidewater Songs")


def test_only_a_label_or_publisher_writer_imports_works_and_only_into_its_own_catalog() -> None:
    harbor = caller(PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    for kind, role in [(PartyKind.PUBLISHER, Role.VIEWER), (PartyKind.ARTIST, Role.ADMIN),
                       (PartyKind.LICENSEE, Role.ADMIN)]:  # fmt: skip
        other = caller(kind, role=role)
        response = other.client.post("/api/v1/imports/", {"file": upload("w.xml", MWN)})
        assert response.status_code == 403, (kind, role)
    # An upload has no party field: another party's id in the form is refused, not followed.
    rival = caller(PartyKind.PUBLISHER)
    response = rival.client.post("/api/v1/imports/", {
        "file": upload("w.xml", MWN), "party": str(harbor.party.pk)})  # fmt: skip
    assert response.status_code == 400
    assert "party" in response.json()["fields"]
    assert not ImportJob.objects.exists()
    assert not Work.objects.exists()


def test_the_openapi_schema_names_the_works_formats() -> None:
    who = caller(PartyKind.PUBLISHER)
    schema = who.client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    text = str(schema)
    assert "mwn" in text
    assert "works" in text


@pytest.mark.usefixtures("committed")
def test_an_ern_redelivery_racing_the_mwn_import_keeps_the_link(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The label re-delivers A1 now declaring W1 while the publisher's MWN (naming no
    recording) registers W1, which links A1 by its declaration. The ERN import reads A1 and the
    compositions, then waits (up to 3 s) for the MWN import to finish before writing. Both take
    W1's lock (``ordering.registering``: the ERN for its declared ISWC), so the MWN import
    waits for the ERN one and then links A1. Without the ERN's lock on its declared ISWC, the
    MWN import commits while the ERN one waits, and the ERN write, planned before W1 existed,
    leaves A1 unlinked."""
    label, harbor = on_own_connection(lambda: [
        caller(PartyKind.LABEL, name="Northwind Records"),
        caller(PartyKind.PUBLISHER, name="Harbor Lane Music Publishing", ipi="23456789157"),
    ])  # fmt: skip
    on_own_connection(lambda: import_catalog(party=label.party, data=declaring(None),
                                             fmt="ddex", now=timezone.now()))  # fmt: skip
    mwn_done, ern_read = threading.Event(), threading.Event()
    local = threading.local()
    real_copy = import_apply.copy_insert

    def copy_after_the_mwn(model: Any, rows: Any) -> Any:
        if model is Work and getattr(local, "role", "") == "ern":
            ern_read.set()
            mwn_done.wait(timeout=3)
        return real_copy(model, rows)

    monkeypatch.setattr(import_apply, "copy_insert", copy_after_the_mwn)

    def ern() -> Any:
        local.role = "ern"
        return import_catalog(party=label.party, data=declaring(W1), fmt="ddex",
                              now=timezone.now())  # fmt: skip

    def mwn() -> Any:
        ern_read.wait(timeout=3)
        try:
            return import_catalog(party=harbor.party, data=UNNAMED, fmt="mwn", now=timezone.now())
        finally:
            mwn_done.set()

    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda f=f: results.append(on_own_connection(f)))
        for f in (ern, mwn)
    ]  # type: ignore[misc]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 2
    recording = Work.objects.get(isrc=A1)
    assert recording.declared_iswc == W1
    assert recording.composition == Work.objects.get(iswc=W1)
