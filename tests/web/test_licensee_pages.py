"""The licensee's pages over HTTP (Django's test client): a use request submitted from the form
is the API's (the same items, terms and idempotency), bad input is shown on the field that
caused it and stores nothing, the downloads are the API's results and receipts, the callback
secret is the API's, and nobody reads another party's request or submits for a party that is
not a licensee."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from governance import tasks
from governance.models import Decision, Membership, Party, PartyKind, Role, UseRequest
from ledger import services as ledger_services
from ledger import verify
from tests.web.people import Person, person
from tests.world import rule

ISRC = "FRZ031900123"
UNREGISTERED = "USRC17607839"


def _ada_and_her_recording() -> Person:
    """Ada Vale holds the master and performer rights of "Paper Moons" and allows analysis;
    a label registered it and holds its publishing."""
    ada = person(PartyKind.ARTIST, "Ada Vale")
    label = person(PartyKind.LABEL, "Northwind Records")
    work = label.caller.client.post(
        "/api/v1/works/",
        {"kind": "recording", "title": "Paper Moons", "isrc": ISRC, "display_artist": "Ada Vale",
         "credits": [{"name": "Ada Vale", "role": "main_artist", "party": str(ada.party.pk)}]},
        format="json",
    )  # fmt: skip
    assert work.status_code == 201, work.json()
    for right, holder in (("master", ada), ("publishing", label), ("performer", ada)):
        share = {"work": work.json()["id"], "holder": str(holder.party.pk), "right": right,
                 "share": "100"}  # fmt: skip
        assert label.caller.client.post("/api/v1/shares/", share, format="json").status_code == 201
    rule(ada.caller, scope="all_works", uses=["analyze"], effect="conditional",
         obligations={"attribution": "Ada Vale"})  # fmt: skip
    return ada


def _signed_in(who: Person, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(who.caller.token.user)
    return client


def _form(**fields: Any) -> dict[str, Any]:
    return {"use": "analyze", "commercial": "yes", "key": str(uuid.uuid4())} | fields


def _new(who: Person) -> str:
    return f"/p/{who.party.pk}/requests/new/"


def test_a_licensee_submits_identifiers_and_reads_each_outcome() -> None:
    _ada_and_her_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    client = _signed_in(sonora)
    form = _form(identifiers=f"{ISRC}\n\n# not this one\nisrc:{UNREGISTERED}\n",
                 territories="FR, DE", period_start="2027-01-01", period_end="2027-12-31",
                 model_name="tagger-2")  # fmt: skip
    response = client.post(_new(sonora), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = UseRequest.objects.get(licensee=sonora.party)
    assert response["Location"] == f"/p/{sonora.party.pk}/requests/{stored.pk}/"
    assert (stored.use, stored.territories, stored.commercial, stored.model_name) == (
        "analyze", ["DE", "FR"], True, "tagger-2"
    )  # fmt: skip
    assert stored.period_start.isoformat() == "2027-01-01T00:00:00+00:00"
    assert stored.period_end.isoformat() == "2028-01-01T00:00:00+00:00"  # the last day included
    assert [i.reference for i in stored.items.order_by("position")] == [
        f"isrc:{ISRC}", f"isrc:{UNREGISTERED}"
    ]  # fmt: skip
    # The same form sent twice (a double click) is one request.
    assert client.post(_new(sonora), form)["Location"] == response["Location"]
    assert UseRequest.objects.filter(licensee=sonora.party).count() == 1

    # Before the workers: every item waits, and the page's script polls the progress.
    page = client.get(response["Location"]).content.decode()
    assert page.count("Waiting to be decided") == 2
    assert 'data-completed="false"' in page
    progress = client.get(f"{response['Location']}progress/").json()
    assert (progress["done"], progress["total"], progress["completed"]) == (0, 2, False)

    tasks.decide_request.apply(args=[str(stored.pk)]).get()
    progress = client.get(f"{response['Location']}progress/").json()
    assert (progress["done"], progress["completed"]) == (2, True)
    assert 'data-outcome="conditional"' in progress["items_html"]
    page = client.get(response["Location"]).content.decode()
    assert "Allowed with conditions" in page
    assert "No match" in page
    assert "Paper Moons" in page  # the matched work
    assert "credit “Ada Vale”" in page  # the explanation's conditions
    assert 'data-completed="true"' in page


def test_the_downloads_are_the_apis_results_and_receipts(tmp_path: Path) -> None:
    _ada_and_her_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    client = _signed_in(sonora)
    manifest = SimpleUploadedFile(
        "m.jsonl", f'{{"isrc": "{ISRC}"}}\n{{"isrc": "{UNREGISTERED}"}}\n'.encode()
    )
    response = client.post(_new(sonora), _form(manifest=manifest))
    assert response.status_code == 302, response.content.decode()[:2000]
    stored = UseRequest.objects.get(licensee=sonora.party)
    assert stored.kind == "manifest"
    tasks.decide_request.apply(args=[str(stored.pk)]).get()
    base = response["Location"]

    jsonl = client.get(base + "results.jsonl")
    assert jsonl["Content-Disposition"] == f'attachment; filename="{stored.pk}.jsonl"'
    lines = [json.loads(line) for line in b"".join(jsonl.streaming_content).splitlines()]
    api = sonora.caller.client.get(f"/api/v1/use-requests/{stored.pk}/results/")
    assert lines == [json.loads(line) for line in b"".join(api.streaming_content).splitlines()]
    assert [(x["item"], x["outcome"]) for x in lines] == [(0, "conditional"), (1, "no_match")]

    table = client.get(base + "results.csv")
    assert table["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(b"".join(table.streaming_content).decode())))
    assert [(r["item"], r["reference"], r["outcome"], r["decision"]) for r in rows] == [
        (str(x["item"]), x["reference"], x["outcome"], x["decision"]) for x in lines
    ]
    assert json.loads(rows[0]["obligations"]) == lines[0]["obligations"]

    # One item's receipt, as the API gives it, verifies offline with the ledger's key.
    decision = Decision.objects.get(request=stored, item__position=0)
    ledger_services.key_register(signer=ledger_services.current_signer(), now=timezone.now())
    receipt = client.get(f"{base}receipts/{decision.pk}.json")
    assert receipt.status_code == 200
    api_receipt = sonora.caller.client.get(f"/api/v1/decisions/{decision.pk}/receipt/").json()
    assert json.loads(receipt.content) == api_receipt
    path = tmp_path / "receipt.json"
    path.write_bytes(receipt.content)
    vkey = ledger_services.current_signer().verifier().key_string
    assert verify.main(["receipt", str(path), "--vkey", vkey]) == 0
    # Every item's receipt in one file, one a line.
    bundle = client.get(base + "receipts.jsonl")
    found = [json.loads(line) for line in b"".join(bundle.streaming_content).splitlines()]
    assert [(x["item"], x["decision"]) for x in found] == [
        (x["item"], x["decision"]) for x in lines
    ]
    assert found[0]["receipt"]["entry"] == api_receipt["entry"]


def test_bad_input_is_shown_on_its_field_and_stores_nothing() -> None:
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    client = _signed_in(sonora)
    cases = [
        (_form(identifiers=f"{ISRC}\nFRZ03190012X"), "id_identifiers_error", "Line 2:"),
        (_form(identifiers=ISRC, territories="FR Narnia"), "id_territories_error", "Narnia"),
        (_form(identifiers=ISRC, period_start="2027-02-01", period_end="2027-01-01"),
         "id_period_end_error", "must be after period_start"),
        (_form(), "id_identifiers_error", "Type at least one identifier"),
        (_form(identifiers=ISRC, manifest=SimpleUploadedFile("m.csv", b"isrc\n" + ISRC.encode())),
         "id_manifest_error", "not both"),
        (_form(manifest=SimpleUploadedFile("m.csv", b"title\nPaper Moons\n")),
         "id_manifest_error", "line 1: the columns are"),
        (_form(manifest=SimpleUploadedFile("m.jsonl", b'{"isrc": "FRZ031900123"}\n{"isrx": 1}\n')),
         "id_manifest_error", "line 2"),
        (_form(manifest=SimpleUploadedFile("m.csv", b"")), "id_manifest_error", "empty"),
        (_form(identifiers=ISRC, use="sing"), "id_use_error", "sing"),
        (_form(identifiers=ISRC, callback_url="ftp://example.org/x"), "id_callback_url_error", ""),
        (_form(identifiers=ISRC, key="not a key"), "form-errors", ""),
        (_form(identifiers=ISRC, key=""), "form-errors", ""),
    ]  # fmt: skip
    for data, where, reason in cases:
        response = client.post(_new(sonora), data)
        body = response.content.decode()
        assert response.status_code == 400, (data, body[:1500])
        assert f'id="{where}"' in body, (data, where)
        if reason:
            start = body.index(f'id="{where}"')
            assert reason in body[start : start + 600], (data, body[start : start + 600])
    assert not UseRequest.objects.exists()
    # A form whose hidden key was lost is given a new one, and says so.
    body = client.post(_new(sonora), _form(identifiers=ISRC, key="")).content.decode()
    assert "The form was incomplete" in body
    assert re.search(r'name="key" value="[0-9a-f-]{36}"', body)
    # More identifiers than a JSON request takes: a manifest is needed.
    many = "\n".join([ISRC] * 1001)
    response = client.post(_new(sonora), _form(identifiers=many))
    assert response.status_code == 400
    assert "At most 1,000 identifiers" in response.content.decode()
    assert not UseRequest.objects.exists()


def test_another_partys_request_results_and_receipts_are_not_found() -> None:
    _ada_and_her_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    other = person(PartyKind.LICENSEE, "Other AI")
    response = _signed_in(sonora).post(_new(sonora), _form(identifiers=ISRC))
    stored = UseRequest.objects.get(licensee=sonora.party)
    tasks.decide_request.apply(args=[str(stored.pk)]).get()
    decision = Decision.objects.get(request=stored)
    theirs = _signed_in(other)
    own = response["Location"]
    for path in ("", "progress/", "results.jsonl", "results.csv", "receipts.jsonl",
                 f"receipts/{decision.pk}.json"):  # fmt: skip
        # Under the other licensee's own address, and under Sonora's (not its party): 404.
        assert theirs.get(f"/p/{other.party.pk}/requests/{stored.pk}/{path}").status_code == 404
        assert theirs.get(own + path).status_code == 404, path
    assert theirs.get(f"/p/{other.party.pk}/requests/{uuid.uuid4()}/").status_code == 404
    # A decision of another request, under Sonora's own request, is not found either.
    mine = _signed_in(sonora)
    assert mine.get(f"{own}receipts/{uuid.uuid4()}.json").status_code == 404
    listed = theirs.get(f"/p/{other.party.pk}/requests/").content.decode()
    assert str(stored.pk) not in listed
    assert "No requests yet." in listed
    # Signed out: the sign-in page.
    assert Client().get(own)["Location"].startswith("/sign-in/")


def test_an_artist_or_a_label_cannot_ask_to_use_music() -> None:
    for kind, name in ((PartyKind.ARTIST, "Ada Vale"), (PartyKind.LABEL, "Northwind Records")):
        who = person(kind, name)
        client = _signed_in(who)
        for path in ("requests/", "requests/new/", "callback-secret/"):
            response = client.get(f"/p/{who.party.pk}/{path}")
            assert response.status_code == 403, path
            assert "Use requests are for licensees" in response.content.decode()
        response = client.post(_new(who), _form(identifiers=ISRC))
        assert response.status_code == 403
        # As the API answers the same party.
        api = who.caller.client.post(
            "/api/v1/use-requests/", {"use": "analyze", "items": [{"isrc": ISRC}]}, format="json"
        )
        assert api.status_code == 403
    assert not UseRequest.objects.exists()


def test_a_viewer_reads_the_requests_but_cannot_ask_or_read_the_secret() -> None:
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    Membership.objects.filter(party=sonora.party).update(role=Role.VIEWER)
    client = _signed_in(sonora)
    assert client.get(f"/p/{sonora.party.pk}/requests/").status_code == 200
    assert "Asking needs the editor role" in client.get(_new(sonora)).content.decode()
    response = client.post(_new(sonora), _form(identifiers=ISRC))
    assert response.status_code == 403
    assert not UseRequest.objects.exists()
    response = client.get(f"/p/{sonora.party.pk}/callback-secret/")
    assert response.status_code == 403
    assert "The callback secret is for your party&#x27;s admins." in response.content.decode()
    assert client.post(f"/p/{sonora.party.pk}/callback-secret/").status_code == 403


def test_the_callback_secret_is_the_apis_and_rotates() -> None:
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    client = _signed_in(sonora, csrf=True)
    url = f"/p/{sonora.party.pk}/callback-secret/"
    page = client.get(url).content.decode()
    secret = sonora.caller.client.get("/api/v1/callback-secret/").json()["secret"]
    assert f'<code id="secret" class="secret">{secret}</code>' in page
    # Without the form's CSRF token: refused, the secret unchanged.
    assert client.post(url).status_code == 403
    assert Party.objects.get(pk=sonora.party.pk).callback_secret == secret
    token = client.cookies["csrftoken"].value
    response = client.post(url, {"csrfmiddlewaretoken": token}, follow=True)
    assert response.status_code == 200
    rotated = sonora.caller.client.get("/api/v1/callback-secret/").json()["secret"]
    assert rotated != secret
    assert rotated in response.content.decode()
    assert "A new secret" in response.content.decode()


def test_a_use_request_without_its_csrf_token_is_refused() -> None:
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    client = _signed_in(sonora, csrf=True)
    client.get(_new(sonora))
    response = client.post(_new(sonora), _form(identifiers=ISRC))
    assert response.status_code == 403
    assert not UseRequest.objects.exists()
    token = client.cookies["csrftoken"].value
    response = client.post(_new(sonora), _form(identifiers=ISRC, csrfmiddlewaretoken=token))
    assert response.status_code == 302
    assert UseRequest.objects.filter(licensee=sonora.party).count() == 1


def test_an_oversized_manifest_is_refused_while_it_arrives(monkeypatch: Any) -> None:
    from governance.services import manifests

    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    client = _signed_in(sonora)
    parsed: list[int] = []
    real = manifests._manifest_item
    monkeypatch.setattr(
        manifests, "_manifest_item",
        lambda raw, line, spaces: parsed.append(line) or real(raw, line, spaces),
    )  # fmt: skip
    monkeypatch.setattr(manifests, "MANIFEST_MAX_ITEMS", 10)
    lines = SimpleUploadedFile("m.csv", b"isrc\n" + f"{ISRC}\n".encode() * 200)
    response = client.post(_new(sonora), _form(manifest=lines))
    body = response.content.decode()
    assert response.status_code == 400
    start = body.index('id="id_manifest_error"')
    assert "more than 10 items: refused at line 12" in body[start : start + 300]
    monkeypatch.setattr(manifests, "MANIFEST_MAX_BYTES", 1000)
    big = SimpleUploadedFile("m.jsonl", f'{{"isrc": "{ISRC}"}}\n'.encode() * 8)  # 200 bytes
    assert client.post(_new(sonora), _form(manifest=big)).status_code == 302  # under both
    huge = SimpleUploadedFile("m.jsonl", b"{}" + b" " * 5000 + b"\n")
    response = client.post(_new(sonora), _form(manifest=huge))
    assert response.status_code == 413
    assert "larger than 1,000 bytes" in response.content.decode()
    assert parsed == list(range(1, 9))  # only the accepted manifest's lines were read
    assert UseRequest.objects.filter(licensee=sonora.party).count() == 1
