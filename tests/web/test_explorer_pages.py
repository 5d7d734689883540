"""The ledger explorer's pages (web/explorer.py), server-side: what they show and to whom, as
the ledger's read API shows it (public, or auditors only with LEDGER_READ_REQUIRES_AUDITOR;
nothing beyond the latest signed checkpoint), a decision's explanation only to the members of
the parties concerned, receipts that the project's own verifier accepts, bad input refused
naming the field."""

from __future__ import annotations

import base64
import json
import random
import re
import string
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from governance.models import PartyKind
from ledger import selectors, services
from ledger.verify.receipt import verify_receipt
from tests.web.people import PASSWORD, Person, person
from tests.web.test_consent_page import ISRC, artist_with_a_recording


def signed_in(who: Person) -> Client:
    client = Client()
    assert client.login(username=who.username, password=PASSWORD)
    return client


def unique_type() -> str:
    letters = random.choices(string.ascii_lowercase, k=8)  # noqa: S311 - a name, not a secret
    return "explorer.t" + "".join(letters)


def append(kind: str, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        services.entry_append(kind=kind, payload={"i": i, "name": f"item {i}"}, time=now)


def sign() -> int:
    checkpoint = services.sequence_and_sign(now=timezone.now())
    assert checkpoint is not None
    return int(checkpoint.size)


def indexes(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-index="(\d+)"', html)]


def test_the_latest_checkpoint_and_the_entries_by_type_page_by_page(client: Client) -> None:
    kind = unique_type()
    append(kind, 60)
    size = sign()
    checkpoint = selectors.latest_checkpoint()

    home = client.get("/explorer/")
    assert home.status_code == 200
    text = home.content.decode()
    assert f'<dd id="checkpoint-size">{size}</dd>' in text
    assert bytes(checkpoint.root_hash).hex() in text
    assert checkpoint.note.splitlines()[-1].split(" ")[-1] in text  # the signature line
    assert services.current_signer().verifier().key_string in text

    # Newest first, 50 a page, of one type; "older" then "newer" walk back and forth.
    first = client.get("/explorer/entries/", {"type": kind})
    assert first.status_code == 200
    shown = indexes(first.content.decode())
    assert shown == list(range(size - 1, size - 51, -1))
    assert f"before={size - 50}" in first.content.decode()
    assert "after=" not in first.content.decode()
    second = client.get("/explorer/entries/", {"type": kind, "before": size - 50})
    assert indexes(second.content.decode()) == list(range(size - 51, size - 61, -1))
    assert f"after={size - 51}" in second.content.decode()
    back = client.get("/explorer/entries/", {"type": kind, "after": size - 51})
    assert indexes(back.content.decode()) == shown

    # "Open entry N" goes to its page.
    opened = client.get("/explorer/entries/", {"go": size - 1})
    assert (opened.status_code, opened["Location"]) == (302, f"/explorer/entries/{size - 1}/")


def test_nothing_beyond_the_latest_signed_checkpoint_is_shown(client: Client) -> None:
    kind = unique_type()
    append(kind, 2)
    size = sign()
    append(kind, 1)
    services.integrate_all(now=timezone.now())  # sequenced, not signed
    assert selectors.head_size() == size + 1
    assert selectors.signed_size() == size

    assert client.get(f"/explorer/entries/{size - 1}/").status_code == 200
    assert client.get(f"/explorer/entries/{size}/").status_code == 404
    assert client.get(f"/ledger/entries?start={size}&end={size + 1}").status_code == 400
    assert client.get(f"/explorer/entries/{size}/receipt.json").status_code == 404
    assert indexes(client.get("/explorer/entries/", {"type": kind}).content.decode()) == [
        size - 1, size - 2
    ]  # fmt: skip
    refused = client.get("/explorer/entries/", {"go": size})
    assert refused.status_code == 400
    assert f"Entry {size} is not in the signed log, which has {size} entries." in (
        refused.content.decode()
    )
    assert client.get("/explorer/entries/99999999999999999999/").status_code == 404
    sign()


@pytest.mark.parametrize(
    ("query", "field_says"),
    [
        ({"before": "x1"}, "before must be an entry index"),
        ({"after": "-3"}, "after must be an entry index"),
        ({"go": "1e3"}, "go must be an entry index"),
        ({"before": "1", "after": "2"}, "Give before or after, not both."),
        ({"type": "Not A Type!"}, "type must be an entry type"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: Client, query: dict[str, str], field_says: str
) -> None:
    response = client.get("/explorer/entries/", query)
    assert response.status_code == 400
    assert field_says in response.content.decode()


def test_an_entry_and_its_receipt(client: Client) -> None:
    kind = unique_type()
    append(kind, 3)
    size = sign()
    index = size - 2
    response = client.get(f"/explorer/entries/{index}/")
    assert response.status_code == 200
    text = response.content.decode()
    entry = selectors.entry_get(index=index)
    assert f'<code id="entry-type">{kind}</code>' in text
    assert bytes(entry.leaf_hash).hex() in text
    assert "&quot;name&quot;: &quot;item 1&quot;" in text
    assert f'href="/verify/?entry={index}#entry-form"' in text

    download = client.get(f"/explorer/entries/{index}/receipt.json")
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        f'attachment; filename="consentry-entry-{index}-receipt.json"'
    )
    receipt = json.loads(download.content)
    verify_receipt(receipt, services.current_signer().verifier(), origin=services.origin())
    assert receipt["index"] == index


def a_decision() -> tuple[Person, Person, str]:
    """Ada's recording, analysed by Sonora (refused by Ada's opt-in default): the artist, the
    licensee and the decision's id."""
    ada = artist_with_a_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    checked = sonora.caller.client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    )
    assert checked.status_code == 200, checked.json()
    return ada, sonora, str(checked.json()["id"])


def test_a_decision_public_and_to_the_parties_concerned(client: Client) -> None:
    ada, sonora, decision = a_decision()
    stranger = person(PartyKind.LICENSEE, "Elsewhere Inc")

    # Before it is signed, the public sees nothing of it; the licensee sees its explanation.
    services.integrate_all(now=timezone.now())
    if selectors.signed_size() < selectors.head_size():
        assert client.get(f"/explorer/decisions/{decision}/").status_code == 404
        assert client.get(f"/explorer/decisions/{decision}/receipt.json").status_code == 404
        early = signed_in(sonora).get(f"/explorer/decisions/{decision}/")
        assert early.status_code == 200
        assert 'id="not-signed"' in early.content.decode()
    sign()

    public = client.get(f"/explorer/decisions/{decision}/")
    assert public.status_code == 200
    text = public.content.decode()
    assert '<span class="outcome deny" id="ledger-outcome">deny</span>' in text
    assert "Sonora AI Labs" in text
    assert "Paper Moons" in text
    assert 'id="explanation"' not in text  # the explanation is for the parties concerned
    assert (
        'id="explanation"'
        not in signed_in(stranger).get(f"/explorer/decisions/{decision}/").content.decode()
    )

    for who in (sonora, ada):
        mine = signed_in(who).get(f"/explorer/decisions/{decision}/").content.decode()
        assert 'id="explanation"' in mine
        assert f"as a member of {who.party.name}" in mine
        assert "Ada Vale" in mine  # the explanation names the holder who refused

    # The receipt: the public's, built from the signed entries, and the licensee's (the API's).
    vkey = services.current_signer().verifier()
    for c in (client, signed_in(sonora)):
        download = c.get(f"/explorer/decisions/{decision}/receipt.json")
        assert download.status_code == 200
        receipt = json.loads(download.content)
        verify_receipt(receipt, vkey, origin=services.origin())
        assert json.loads(base64.b64decode(receipt["entry"]))["payload"]["decision"] == decision
    assert (
        client.get("/explorer/decisions/00000000-0000-0000-0000-000000000000/").status_code == 404
    )


def test_with_the_ledger_for_auditors_only_the_pages_follow_the_api(
    client: Client, settings: Any
) -> None:
    ada, sonora, decision = a_decision()
    sign()
    auditor = person(PartyKind.AUDITOR, "Clearview Audit")
    settings.LEDGER_READ_REQUIRES_AUDITOR = True
    pages = ["/explorer/", "/explorer/entries/", "/explorer/entries/0/",
             "/explorer/entries/0/receipt.json"]  # fmt: skip

    for url in pages:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/sign-in/?next=")
        assert signed_in(ada).get(url).status_code == 403
        assert signed_in(auditor).get(url).status_code == 200
    # As the JSON ledger endpoints do.
    assert client.get("/ledger/checkpoint").status_code in (401, 403)
    assert signed_in(ada).get("/ledger/checkpoint").status_code == 403

    # A decision: the parties concerned still read theirs (as through the API), others do not.
    url = f"/explorer/decisions/{decision}/"
    assert client.get(url).status_code == 302
    assert signed_in(person(PartyKind.LICENSEE, "Elsewhere Inc")).get(url).status_code == 403
    for who in (sonora, auditor):
        response = signed_in(who).get(url)
        assert response.status_code == 200
        assert 'id="explanation"' in response.content.decode()
    assert signed_in(sonora).get(f"{url}receipt.json").status_code == 200
    assert client.get(f"{url}receipt.json").status_code == 302


def test_the_pages_name_their_assets_by_hash_and_the_app_serves_them(client: Client) -> None:
    """No CDN: the pages link their stylesheets and script by names with their content's hash
    (WhiteNoise's manifest storage, collected once a session as make run collects them), and
    the app serves those names itself, cacheable for ever."""
    assets = []
    for url in ("/explorer/", "/verify/", "/sign-in/"):
        html = client.get(url).content.decode()
        assets += re.findall(r'(?:href|src)="(/static/web/[^"]+)"', html)
    names = {re.sub(r"\.[0-9a-f]{12}\.", ".", a) for a in assets}
    assert names == {
        "/static/web/site.css", "/static/web/explorer.css", "/static/web/merkle.js",
        "/static/web/verify.js",
    }  # fmt: skip
    for asset in set(assets):
        assert re.fullmatch(
            r"/static/web/(site|explorer|merkle|verify)\.[0-9a-f]{12}\.(css|js)", asset
        )
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert "immutable" in served["Cache-Control"]
        body = b"".join(served.streaming_content)  # type: ignore[attr-defined]
        source = Path(__file__).resolve().parents[2] / "web" / "static" / asset[len("/static/") :]
        unhashed = re.sub(r"\.[0-9a-f]{12}\.", ".", str(source))
        assert body == Path(unhashed).read_bytes()


def test_a_settled_review_shows_its_settlement_and_its_receipt_nests_the_decision(
    client: Client,
) -> None:
    ada = artist_with_a_recording()
    sonora = person(PartyKind.LICENSEE, "Sonora AI Labs")
    ruled = ada.caller.client.post(
        "/api/v1/consent/rules/",
        {"scope": "all_works", "uses": ["analyze"], "effect": "review"},
        format="json",
    )
    assert ruled.status_code == 201, ruled.json()
    checked = sonora.caller.client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    )
    assert checked.json()["outcome"] == "review"
    decision = str(checked.json()["id"])
    (review,) = ada.caller.client.get("/api/v1/reviews/").json()["results"]
    denied = ada.caller.client.post(
        f"/api/v1/reviews/{review['id']}/deny/", {"reason": "Not for analysis."}, format="json"
    )
    assert denied.status_code == 200, denied.json()
    sign()

    text = client.get(f"/explorer/decisions/{decision}/").content.decode()
    assert '<span class="outcome review" id="ledger-outcome">review</span>' in text
    assert '<span class="outcome deny" id="settled-outcome">deny</span>' in text
    receipt = json.loads(client.get(f"/explorer/decisions/{decision}/receipt.json").content)
    vkey = services.current_signer().verifier()
    verify_receipt(receipt, vkey, origin=services.origin())
    verify_receipt(receipt["supersedes"], vkey, origin=services.origin())
    settled = json.loads(base64.b64decode(receipt["entry"]))
    original = json.loads(base64.b64decode(receipt["supersedes"]["entry"]))
    assert (settled["type"], original["type"]) == ("decision_settled", "decision")
    assert (
        settled["payload"]["supersedes"]
        == base64.b64decode(receipt["supersedes"]["leaf_hash"]).hex()
    )
    assert original["payload"]["decision"] == decision
    # The licensee's, from the API, is the same proof.
    mine = json.loads(signed_in(sonora).get(f"/explorer/decisions/{decision}/receipt.json").content)
    assert (mine["index"], mine["supersedes"]["index"]) == (
        receipt["index"], receipt["supersedes"]["index"]
    )  # fmt: skip
