"""A label's pages over HTTP (Django's test client, signed in): the catalog search finds what
``GET /api/v1/works/`` finds; a work's page shows its shares, credits, the consent in force and
the decisions about it, with their receipts; an upload starts the API's import job, a bad one
is refused naming why and creates nothing; and the forbidden cases (another party's catalog,
work, decision or job: 404; a form without CSRF: 403; a viewer: no import); a work's page
shows the AI declaration its label's feed made."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from governance import tasks
from governance.models import ApiToken, ImportJob, Membership, Party, PartyKind, Role, Work
from tests.ddex_samples import ern_document
from tests.factories import Caller, PartyFactory, UserFactory, caller
from tests.world import rule

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "samples" / "catalog-sample.csv"


def member_of(party: Party) -> Caller:
    """A new admin member of ``party``, with an API token."""
    user = UserFactory()
    Membership.objects.create(party=party, user=user, role=Role.ADMIN)
    token, secret = ApiToken.objects.create_key(name="test", party=party, user=user, role="admin")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return Caller(party=party, token=token, secret=secret, client=client)


def signed_in(who: Any, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(who.token.user)
    return client


def imported(label: Any, data: bytes, name: str = "catalog.csv") -> dict[str, Any]:
    """An import through the API, its task run as the API's tests run it."""
    response = label.client.post("/api/v1/imports/", {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 202, response.json()
    tasks.run_import.apply(args=[response.json()["id"]])
    return dict(label.client.get(f"/api/v1/imports/{response.json()['id']}/").json())


@pytest.fixture
def northwind() -> Any:
    """A label whose catalog is the sample CSV (a composition, three recordings on a release),
    the publisher the sample names, and a rival label with a work of its own."""
    PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    label = caller(PartyKind.LABEL, name="Northwind Records")
    assert imported(label, SAMPLE.read_bytes())["status"] == "succeeded"
    rival = caller(PartyKind.LABEL, name="Rival Records")
    rival.client.post("/api/v1/works/", {"kind": "recording", "title": "Northern Rival",
                                         "isrc": "USRC17607839"}, format="json")  # fmt: skip
    return label


def found_titles(body: str) -> list[str]:
    return re.findall(
        r'<tr class="work" data-work="[^"]+"><td[^>]*><a href="[^"]+">([^<]+)</a>', body
    )


def test_a_publisher_finds_the_works_it_holds_a_share_of(northwind: Any) -> None:
    # The sample's composition, registered by the label, with its publishing share the
    # publisher's (holder "Harbor Lane Music Publishing" in the file).
    harbor = member_of(Party.objects.get(name="Harbor Lane Music Publishing"))
    composition = Work.objects.get(kind="composition", registrant=northwind.party)
    client, url = signed_in(harbor), f"/p/{harbor.party.pk}/catalog/"
    held = harbor.client.get("/api/v1/shares/", {"holder": str(harbor.party.pk)}).json()
    held_titles = sorted(Work.objects.get(pk=s["work"]).title for s in held["results"])
    assert held_titles == ["Northern Lights"]
    assert found_titles(client.get(url).content.decode()) == held_titles
    assert found_titles(client.get(url, {"whose": "held"}).content.decode()) == held_titles
    assert found_titles(client.get(url, {"whose": "registered"}).content.decode()) == []
    assert found_titles(client.get(url, {"whose": "held", "kind": "recording"})
                        .content.decode()) == []  # fmt: skip
    # Its work's page opens for it; a rival's catalog search does not find the work.
    assert client.get(f"{url}{composition.pk}/").status_code == 200
    rival = caller(PartyKind.PUBLISHER)
    assert found_titles(signed_in(rival).get(f"/p/{rival.party.pk}/catalog/")
                        .content.decode()) == []  # fmt: skip
    assert signed_in(rival).get(f"/p/{rival.party.pk}/catalog/{composition.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("query", "api"),
    [
        ({"title": "northern"}, {"title": "northern"}),
        ({"artist": "rui sol"}, {"display_artist": "rui sol"}),
        ({"isrc": "GB-NWR-23-00001"}, {"isrc": "GB-NWR-23-00001"}),
        ({"iswc": "T-034.524.680-1"}, {"iswc": "T-034.524.680-1"}),
        ({"upc": "5012345678900"}, {"upc": "5012345678900"}),
        ({"kind": "composition"}, {"kind": "composition"}),
        ({}, {}),
    ],
)
def test_the_catalog_search_finds_what_the_api_finds(
    northwind: Any, query: dict[str, str], api: dict[str, str]
) -> None:
    url = f"/p/{northwind.party.pk}/catalog/"
    response = signed_in(northwind).get(url, query | {"whose": "registered"})
    assert response.status_code == 200
    body = response.content.decode()
    wanted = {"registrant": str(northwind.party.pk)} | api
    listed = northwind.client.get("/api/v1/works/", wanted).json()["results"]
    assert found_titles(body) == [w["title"] for w in listed]
    assert found_titles(body), query
    assert f"GET /api/v1/works/?registrant={northwind.party.pk}" in body
    # The label holds a share of each work it registered but the composition (the
    # publisher's): by default, the two together, the same works.
    default = signed_in(northwind).get(url, query).content.decode()
    assert found_titles(default) == found_titles(body)
    assert "Northern Rival" not in body  # another label's work, never in this catalog
    assert len(found_titles(signed_in(northwind).get(f"/p/{northwind.party.pk}/catalog/").content
                            .decode())) == 4  # fmt: skip


def test_the_catalog_search_names_a_bad_field_and_pages_its_results(
    northwind: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(northwind)
    url = f"/p/{northwind.party.pk}/catalog/"
    bad = client.get(url, {"kind": "mixtape"})
    assert bad.status_code == 400
    assert re.search(r'id="id_kind-error"[^>]*>Select a valid choice', bad.content.decode())
    assert client.get(url, {"isrc": "NOPE"}).status_code == 200  # no such work: none found
    monkeypatch.setattr("web.label.CATALOG_PAGE_SIZE", 2)
    first = client.get(url, {"kind": "recording"}).content.decode()
    second = client.get(url, {"kind": "recording", "page": "2"}).content.decode()
    api = northwind.client.get("/api/v1/works/", {"registrant": str(northwind.party.pk),
                                                  "kind": "recording"}).json()  # fmt: skip
    assert found_titles(first) + found_titles(second) == [w["title"] for w in api["results"]]
    assert 'href="?kind=recording&amp;page=2"' in first
    assert "Page 2 of 2" in second
    assert client.get(url, {"page": "abc"}).status_code == 200  # the first page


def test_a_works_page_shows_shares_credits_consent_in_force_and_decisions(
    world: dict[str, Any],
) -> None:
    label, artist, licensee = world["label"], world["artist"], world["licensee"]
    rule(label, scope="all_works", uses=["train"], effect="deny")
    rule(label, scope="all_works", uses=["analyze"], effect="allow")
    rule(artist, scope="all_works", uses=["analyze"], effect="allow")
    check = licensee.client.post("/api/v1/checks/", {"use": "analyze", "item": {
        "isrc": world["work"]["isrc"]}}, format="json").json()  # fmt: skip
    assert check["outcome"] == "allow"
    client = signed_in(label)
    url = f"/p/{label.party.pk}/catalog/{world['work']['id']}/"
    body = client.get(url).content.decode()
    assert "<h1>Northern Lights</h1>" in body
    assert re.findall(r'<tr class="share" data-right="(\w+)">', body) == [
        "master", "performer", "publishing"
    ]  # fmt: skip
    assert "Ada Vale — Main artist" in body
    outcomes = dict(re.findall(r'class="in-force" data-use="(\w+)" data-outcome="(\w+)"', body))
    assert outcomes["train"] == "deny"
    assert outcomes["analyze"] == "allow"
    # The artist, who holds the performer share, answers nothing for voice: her default.
    assert set(outcomes) == {"train", "reference", "output", "voice", "style", "lyrics",
                             "stems", "analyze"}  # fmt: skip
    decision = re.search(r'<tr class="decision" data-use="analyze" data-outcome="allow">', body)
    assert decision
    assert "Sonora AI Labs" in body
    receipt_url = f"{url}decisions/{check['id']}/receipt/"
    assert receipt_url in body
    # A receipt signs a checkpoint, which the append-only ledger keeps: rolled back here, so
    # that the browser tests after this one still find a ledger with none (test_verify.py).
    with transaction.atomic():
        receipt = client.get(receipt_url)
        api = label.client.get(f"/api/v1/decisions/{check['id']}/receipt/").json()
        transaction.set_rollback(True)
    assert receipt.status_code == 200
    assert receipt["Content-Disposition"].startswith("attachment")
    assert json.loads(receipt.content)["entry"] == api["entry"]
    # The artist holds a share too, but has no catalog page (not a label or publisher).
    assert signed_in(artist).get(f"/p/{artist.party.pk}/catalog/").status_code == 404


def test_another_partys_catalog_work_decision_and_job_answer_404(world: dict[str, Any]) -> None:
    label, licensee = world["label"], world["licensee"]
    rule(label, scope="all_works", uses=["analyze"], effect="allow")
    check = licensee.client.post("/api/v1/checks/", {"use": "analyze", "item": {
        "isrc": world["work"]["isrc"]}}, format="json").json()  # fmt: skip
    job = label.client.post("/api/v1/imports/", {
        "file": SimpleUploadedFile("c.csv", b"title\nA\n")}).json()  # fmt: skip
    rival = caller(PartyKind.LABEL, name="Rival Records")
    mine, theirs = signed_in(rival), label.party.pk
    work = world["work"]["id"]
    for path in (f"/p/{theirs}/catalog/", f"/p/{theirs}/catalog/{work}/",
                 f"/p/{theirs}/imports/", f"/p/{theirs}/imports/{job['id']}/",
                 f"/p/{theirs}/imports/{job['id']}/rejected.csv",
                 f"/p/{theirs}/catalog/{work}/decisions/{check['id']}/receipt/"):  # fmt: skip
        assert mine.get(path).status_code == 404, path
    # Under its own party: another's work (public metadata, but not its catalog), decision
    # and job are not found either.
    own = rival.party.pk
    for path in (f"/p/{own}/catalog/{work}/", f"/p/{own}/imports/{job['id']}/",
                 f"/p/{own}/imports/{job['id']}/rejected.csv",
                 f"/p/{own}/catalog/{work}/decisions/{check['id']}/receipt/"):  # fmt: skip
        assert mine.get(path).status_code == 404, path
    # A decision about another work is not found under this one.
    other = label.client.post(
        "/api/v1/works/",
        {"kind": "recording", "title": "Other", "isrc": "GBAYE0601498"},
        format="json",
    ).json()
    path = f"/p/{theirs}/catalog/{other['id']}/decisions/{check['id']}/receipt/"
    assert signed_in(label).get(path).status_code == 404
    # A licensee and an auditor have no catalog pages.
    assert signed_in(licensee).get(f"/p/{licensee.party.pk}/imports/").status_code == 404
    # Signed out: to sign in.
    assert Client().get(f"/p/{theirs}/catalog/").status_code == 302


def test_an_upload_starts_the_apis_import_job_and_its_page_lists_the_rejected_rows() -> None:
    label = caller(PartyKind.LABEL, name="Northwind Records")
    client = signed_in(label)
    data = (b"kind,isrc,title,display_artist\n"
            b"recording,USRC17607839,Good,Ada Vale\n"
            b"recording,NOPE,Bad,=HYPERLINK(\"x\")\n"
            b"recording,GBAYE0601498,,Nobody\n")  # fmt: skip
    response = client.post(f"/p/{label.party.pk}/imports/", {
        "file": SimpleUploadedFile("mine.csv", data, content_type="text/csv")})  # fmt: skip
    job = ImportJob.objects.get(party=label.party)
    assert response.status_code == 302
    assert response["Location"] == f"/p/{label.party.pk}/imports/{job.pk}/"
    assert (job.status, job.format, job.filename, bytes(job.data)) == (
        "queued", "csv", "mine.csv", data)  # fmt: skip
    queued = client.get(response["Location"]).content.decode()
    assert 'data-status="queued"' in queued
    assert f'data-api="/api/v1/imports/{job.pk}/"' in queued
    assert "web/import" in queued  # the polling script, while it runs
    assert tasks.run_import.apply(args=[str(job.pk)]).get() == "succeeded_with_problems"
    body = client.get(response["Location"]).content.decode()
    assert 'data-status="succeeded_with_problems"' in body
    assert 'value="100"' in body
    assert "web/import" not in body  # finished: nothing to poll
    wheres = [
        html.unescape(w)
        for w in re.findall(r"<li class=\"problem\" data-where=\"([^\"]+)\">", body)
    ]
    assert wheres == ["line 3", "line 4"]
    # A rejected row opens on what the file said there.
    row = body[body.index('id="row-1"') : body.index('id="row-2"')]
    assert '<th scope="row">isrc</th><td>NOPE</td>' in row
    assert "2 rejected rows" in body
    assert Work.objects.filter(registrant=label.party).count() == 1
    download = client.get(f"/p/{label.party.pk}/imports/{job.pk}/rejected.csv")
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    api = label.client.get(f"/api/v1/imports/{job.pk}/").json()["problems"]
    assert rows == [["where", "reason"]] + [[p["where"], p["reason"]] for p in api]
    listing = client.get(f"/p/{label.party.pk}/imports/").content.decode()
    assert f'href="/p/{label.party.pk}/imports/{job.pk}/">mine.csv</a>' in listing


def test_a_spreadsheet_formula_in_a_reason_is_not_run_from_the_download() -> None:
    label = caller(PartyKind.LABEL)
    job = ImportJob.objects.create(party=label.party, format="csv", filename="x.csv",
                                   sha256="0" * 64, data=b"x", status="succeeded",
                                   problems=[{"where": "line 2", "reason": "=1+2"}],
                                   problem_count=1)  # fmt: skip
    body = signed_in(label).get(f"/p/{label.party.pk}/imports/{job.pk}/rejected.csv").content
    assert body.decode().splitlines() == ["where,reason", "line 2,'=1+2"]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({}, "Choose a file to import."),
        ({"file": SimpleUploadedFile("c.csv", b"")}, "The file is empty."),
        ({"file": SimpleUploadedFile("c.csv", b" \n\n")}, "The file is empty (blank lines only)"),
        (
            {"file": SimpleUploadedFile("c.csv", b"title\n" + b"A\n" * 20)},
            "The file is too large: at most 16 bytes.",
        ),
    ],
)
def test_a_bad_upload_is_refused_naming_why_and_creates_nothing(
    files: dict[str, Any], reason: str, settings: Any
) -> None:
    settings.IMPORT_MAX_BYTES = 16
    label = caller(PartyKind.LABEL)
    response = signed_in(label).post(f"/p/{label.party.pk}/imports/", files)
    assert response.status_code == 400
    error = re.search(r'<span class="error" id="file-error" role="alert">([^<]+)</span>',
                      response.content.decode())  # fmt: skip
    assert error, response.content.decode()
    assert error.group(1).startswith(reason)
    assert 'aria-invalid="true"' in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_upload_without_csrf_or_by_a_viewer_is_refused_and_creates_nothing() -> None:
    label = caller(PartyKind.LABEL)
    url = f"/p/{label.party.pk}/imports/"
    upload = {"file": SimpleUploadedFile("c.csv", b"title\nA\n")}
    assert signed_in(label, csrf=True).post(url, upload).status_code == 403
    viewer = caller(PartyKind.LABEL, role=Role.VIEWER)
    url = f"/p/{viewer.party.pk}/imports/"
    page = signed_in(viewer).get(url).content.decode()
    assert "starting one needs the editor role" in page
    assert 'type="file"' not in page
    refused = signed_in(viewer).post(url, {"file": SimpleUploadedFile("c.csv", b"title\nA\n")})
    assert refused.status_code == 403
    assert "Importing needs the editor role." in refused.content.decode()
    assert not ImportJob.objects.exists()


def test_a_ddex_upload_lists_its_rejected_elements_by_xpath_and_an_unreadable_file_fails() -> None:
    label = caller(PartyKind.LABEL, name="Northwind Records")
    client = signed_in(label)
    ern = (SAMPLE.parent / "ern-4.3-sample.xml").read_bytes()
    broken = ern.replace(b"<ISRC>GBNWR2400002</ISRC>", b"<ISRC>NOPE</ISRC>")
    upload = SimpleUploadedFile("release.xml", broken, content_type="application/xml")
    response = client.post(f"/p/{label.party.pk}/imports/", {"file": upload})
    job = ImportJob.objects.get(party=label.party)
    assert job.format == "ddex"
    tasks.run_import.apply(args=[str(job.pk)])
    body = client.get(response["Location"]).content.decode()
    assert 'data-status="succeeded_with_problems"' in body
    wheres = [
        html.unescape(w)
        for w in re.findall(r"<li class=\"problem\" data-where=\"([^\"]+)\">", body)
    ]
    assert wheres == [p["where"] for p in ImportJob.objects.get(pk=job.pk).problems]
    assert wheres[0] == (
        "/ern:NewReleaseMessage/ResourceList/SoundRecording[ResourceReference='A2']"
        "/SoundRecordingEdition/ResourceId/ISRC (line 100)"
    )
    assert "names the element of the DDEX message" in body
    # A file that is not UTF-8 text: the job fails, saying why, and nothing is imported.
    response = client.post(f"/p/{label.party.pk}/imports/", {
        "file": SimpleUploadedFile("latin1.csv", "title\nCafé\n".encode("latin-1"))})  # fmt: skip
    failed = ImportJob.objects.get(party=label.party, filename="latin1.csv")
    assert tasks.run_import.apply(args=[str(failed.pk)]).get() == "failed"
    body = client.get(response["Location"]).content.decode()
    assert 'data-status="failed"' in body
    assert '<strong id="import-status" class="status failed" role="status">Failed</strong>' in body
    assert "the file cannot be read: file: not UTF-8 text (byte 9)" in body
    assert "The file cannot be read as rows here." in body
    listing = client.get(f"/p/{label.party.pk}/imports/").content.decode()
    assert re.findall(r'<tr class="job" data-status="(\w+)">', listing) == [
        "failed",
        "succeeded_with_problems",
    ]


def test_all_or_nothing_fails_the_job_and_imports_nothing() -> None:
    label = caller(PartyKind.LABEL)
    client = signed_in(label)
    data = b"kind,isrc,title\nrecording,USRC17607839,Good\nrecording,NOPE,Bad\n"
    response = client.post(f"/p/{label.party.pk}/imports/", {
        "file": SimpleUploadedFile("c.csv", data), "all_or_nothing": "on"})  # fmt: skip
    job = ImportJob.objects.get(party=label.party)
    assert job.all_or_nothing
    tasks.run_import.apply(args=[str(job.pk)])
    body = client.get(response["Location"]).content.decode()
    assert 'data-status="failed"' in body
    assert "1 problems; with all_or_nothing nothing was imported" in body
    assert re.findall(r'<li class="problem" data-where="([^"]+)">', body) == ["line 3"]
    assert not Work.objects.exists()


def test_the_demo_labels_and_publishers_pages_open_on_the_demo_catalog(tmp_path: Path) -> None:
    call_command("seed_demo", credentials_file=tmp_path / "c.json", stdout=io.StringIO())
    northwind = Party.objects.get(name="Northwind Records")
    client = Client()
    client.force_login(Membership.objects.filter(party=northwind).first().user)  # type: ignore[union-attr]
    url = f"/p/{northwind.pk}/catalog/"
    titles = found_titles(client.get(url).content.decode())
    assert titles == ["Harbour Song", "Low Tide (Instrumental)", "Northern Lights",
                      "Northern Lights"]  # fmt: skip
    recording = Work.objects.get(isrc="GBNWR2300001")
    body = client.get(f"{url}{recording.pk}/").content.decode()
    # Its composition (the label's too, so linked), release, credits and shares.
    assert f'href="/p/{northwind.pk}/catalog/{recording.composition_id}/"' in body
    assert 'Aurora <span class="muted">(UPC <code>5012345678900</code>)' in body
    assert "Ada Vale — Main artist" in body
    assert "worldwide except CA US" in body or "worldwide except US CA" in body
    outcomes = dict(re.findall(r'class="in-force" data-use="(\w+)" data-outcome="(\w+)"', body))
    # The demo label allows analysing with a credit.
    assert outcomes["analyze"] == "conditional"
    assert "credit “Northwind Records”" in body
    assert "Harbor Lane Music Publishing" in body
    harbor = Party.objects.get(name="Harbor Lane Music Publishing")
    client.force_login(Membership.objects.filter(party=harbor).first().user)  # type: ignore[union-attr]
    composition = client.get(f"/p/{harbor.pk}/catalog/{recording.composition_id}/")
    assert composition.status_code == 200
    assert found_titles(client.get(f"/p/{harbor.pk}/catalog/").content.decode()) == [
        "Northern Lights"]  # fmt: skip


def test_a_works_page_shows_the_ai_declaration_its_label_made() -> None:
    label = caller(PartyKind.LABEL, name="Northwind Records")
    document = ern_document(recordings=2, version="4.3.2", ai={1: "Partly"})
    assert imported(label, document, "album.xml")["problems"] == []
    declared, silent = Work.objects.order_by("isrc")
    client = signed_in(label)
    page = client.get(f"/p/{label.party.pk}/catalog/{declared.pk}/").content.decode()
    assert "AI-assisted (part of it made with generative AI)" in page
    assert "declared by its label" in page
    other = client.get(f"/p/{label.party.pk}/catalog/{silent.pk}/").content.decode()
    assert "AI declaration" not in other
    french = client.get(
        f"/p/{label.party.pk}/catalog/{declared.pk}/", HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert "Assisté par l’IA (en partie créé avec l’IA générative)" in html.unescape(french)  # noqa: RUF001
