"""Works, releases, rights shares and likeness over HTTP, with the forbidden cases."""

from __future__ import annotations

from typing import Any

import pytest

from governance.models import PartyKind, Role, Work
from ledger.models import PendingEntry as Pending
from tests.factories import PartyFactory, caller

pytestmark = pytest.mark.django_db

ISRC = "USRC17607839"
ISWC = "T0345246801"  # T-034.524.680-1, CISAC's documented example
UPC = "5012345678900"


def recording(**extra: Any) -> dict[str, Any]:
    return {"kind": "recording", "title": "Northern Lights", "display_artist": "Ada Vale",
            "isrc": ISRC, **extra}  # fmt: skip


def ledger_kinds() -> list[str]:
    return list(Pending.objects.order_by("id").values_list("kind", flat=True))


def test_a_label_registers_a_recording_and_it_is_ledgered() -> None:
    label = caller(PartyKind.LABEL)
    before = len(ledger_kinds())
    response = label.client.post("/api/v1/works/", recording(isrc="us-rc1-76-07839"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["isrc"] == ISRC
    assert body["version"] == 1
    assert body["registrant"] == str(label.party.pk)
    assert ledger_kinds()[before:] == ["work"]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("isrc", "USRC1760783", "ISRC"),
        ("iswc", "T0345246802", "check digit"),
        ("language", "xx-not", "language"),
    ],
)
def test_a_bad_identifier_is_a_400_naming_the_field(field: str, value: str, reason: str) -> None:
    label = caller(PartyKind.LABEL)
    data = recording() if field != "iswc" else {"kind": "composition", "title": "Song"}
    data[field] = value
    response = label.client.post("/api/v1/works/", data, format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body["fields"], body
    assert reason.lower() in " ".join(body["fields"][field]).lower() or reason == field
    assert not Work.objects.exists()


def test_re_registering_an_isrc_is_a_409() -> None:
    label = caller(PartyKind.LABEL)
    assert label.client.post("/api/v1/works/", recording(), format="json").status_code == 201
    again = label.client.post("/api/v1/works/", recording(title="Other"), format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert "isrc" in again.json()["fields"]


def test_a_recording_links_its_composition() -> None:
    publisher = caller(PartyKind.PUBLISHER)
    comp = publisher.client.post(
        "/api/v1/works/", {"kind": "composition", "title": "Northern Lights", "iswc": ISWC,
                           "credits": [{"name": "Ada Vale", "role": "songwriter"}]},
        format="json",
    ).json()  # fmt: skip
    label = caller(PartyKind.LABEL)
    rec = label.client.post("/api/v1/works/", recording(composition=comp["id"]), format="json")
    assert rec.status_code == 201
    assert rec.json()["composition"] == comp["id"]
    listed = label.client.get(f"/api/v1/works/?composition={comp['id']}").json()
    assert [w["id"] for w in listed["results"]] == [rec.json()["id"]]


def test_an_artist_or_licensee_cannot_register_works_but_reads_them() -> None:
    label = caller(PartyKind.LABEL)
    work = label.client.post("/api/v1/works/", recording(), format="json").json()
    for kind in (PartyKind.ARTIST, PartyKind.LICENSEE, PartyKind.AUDITOR):
        other = caller(kind)
        denied = other.client.post("/api/v1/works/", recording(isrc="GBAYE0601498"), format="json")
        assert denied.status_code == 403, kind
        assert other.client.get(f"/api/v1/works/{work['id']}/").status_code == 200
        assert other.client.get(f"/api/v1/works/?isrc={ISRC}").json()["count"] == 1


def test_a_label_cannot_edit_another_labels_work() -> None:
    owner = caller(PartyKind.LABEL)
    work = owner.client.post("/api/v1/works/", recording(), format="json").json()
    rival = caller(PartyKind.LABEL)
    response = rival.client.patch(f"/api/v1/works/{work['id']}/", {"title": "Mine"}, format="json")
    assert response.status_code == 403
    ok = owner.client.patch(f"/api/v1/works/{work['id']}/", {"title": "Aurora"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    assert ok.json()["title"] == "Aurora"


def test_a_viewer_token_cannot_write() -> None:
    viewer = caller(PartyKind.LABEL, role=Role.VIEWER)
    assert viewer.client.post("/api/v1/works/", recording(), format="json").status_code == 403


def test_shares_of_one_right_never_exceed_100_percent() -> None:
    label = caller(PartyKind.LABEL)
    work = label.client.post("/api/v1/works/", recording(), format="json").json()
    other = PartyFactory(kind=PartyKind.LABEL)
    first = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(label.party.pk), "right": "master", "share": "60",
    }, format="json")  # fmt: skip
    assert first.status_code == 201, first.json()
    # 50 % more in France only: 110 % in FR.
    second = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(other.pk), "right": "master", "share": "50",
        "territories": ["FR"],
    }, format="json")  # fmt: skip
    assert second.status_code == 400
    assert first.json()["id"] in " ".join(second.json()["fields"]["share"])
    # Everywhere but France is fine.
    third = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(other.pk), "right": "master", "share": "40",
        "territories": ["-FR"],
    }, format="json")  # fmt: skip
    assert third.status_code == 201, third.json()
    assert third.json()["territory_mode"] == "exclude"
    # After the first share ends, the full 100 % is free again from that date.
    end = label.client.patch(f"/api/v1/shares/{first.json()['id']}/",
                             {"valid_until": "2030-01-01"}, format="json")  # fmt: skip
    assert end.status_code == 200
    assert end.json()["version"] == 2
    later = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(other.pk), "right": "master", "share": "60",
        "territories": ["FR"], "valid_from": "2030-01-01",
    }, format="json")  # fmt: skip
    assert later.status_code == 201, later.json()


def test_a_share_registered_in_error_is_removed_by_its_registrant_only() -> None:
    label = caller(PartyKind.LABEL)
    work = label.client.post("/api/v1/works/", recording(), format="json").json()
    body = {"work": work["id"], "holder": str(label.party.pk), "right": "master", "share": "100"}
    share = label.client.post("/api/v1/shares/", body, format="json").json()
    rival = caller(PartyKind.LABEL)
    assert rival.client.delete(f"/api/v1/shares/{share['id']}/").status_code == 404
    auditor = caller(PartyKind.AUDITOR)
    assert auditor.client.delete(f"/api/v1/shares/{share['id']}/").status_code == 403
    assert label.client.delete(f"/api/v1/shares/{share['id']}/").status_code == 204
    assert label.client.get(f"/api/v1/shares/{share['id']}/").status_code == 404
    assert ledger_kinds()[-1] == "rights_share_removed"


def test_a_licensee_sees_no_shares_and_a_stranger_none_of_anothers() -> None:
    label = caller(PartyKind.LABEL)
    work = label.client.post("/api/v1/works/", recording(), format="json").json()
    share = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(label.party.pk), "right": "master", "share": "100",
    }, format="json").json()  # fmt: skip
    licensee = caller(PartyKind.LICENSEE)
    assert licensee.client.get("/api/v1/shares/").json()["count"] == 0
    assert licensee.client.get(f"/api/v1/shares/{share['id']}/").status_code == 404
    auditor = caller(PartyKind.AUDITOR)
    assert auditor.client.get(f"/api/v1/shares/{share['id']}/").status_code == 200
    patch = auditor.client.patch(f"/api/v1/shares/{share['id']}/", {"share": "50"}, format="json")
    assert patch.status_code in (403, 404)


def test_only_an_artist_can_hold_a_likeness_right() -> None:
    label = caller(PartyKind.LABEL)
    work = label.client.post("/api/v1/works/", recording(), format="json").json()
    response = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(label.party.pk), "right": "likeness", "share": "100",
    }, format="json")  # fmt: skip
    assert response.status_code == 400
    assert "holder" in response.json()["fields"]
    artist = PartyFactory(kind=PartyKind.ARTIST)
    ok = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(artist.pk), "right": "likeness", "share": "100",
    }, format="json")  # fmt: skip
    assert ok.status_code == 201


def test_only_the_artist_edits_its_likeness() -> None:
    artist = caller(PartyKind.ARTIST)
    url = f"/api/v1/parties/{artist.party.pk}/likeness/"
    assert artist.client.get(url).json()["aspects"] == ["voice", "name", "image"]
    ok = artist.client.patch(url, {"aliases": ["A. Vale", "Ada"]}, format="json")
    assert ok.status_code == 200
    assert ok.json()["aliases"] == ["A. Vale", "Ada"]
    label = caller(PartyKind.LABEL)
    assert label.client.patch(url, {"aliases": []}, format="json").status_code == 403


def test_a_release_groups_recordings_by_upc() -> None:
    label = caller(PartyKind.LABEL)
    work = label.client.post("/api/v1/works/", recording(), format="json").json()
    response = label.client.post("/api/v1/releases/", {
        "upc": UPC[1:] if UPC.startswith("0") else UPC, "title": "Aurora", "tracks": [work["id"]],
    }, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["tracks"] == [work["id"]]
    bad = label.client.post("/api/v1/releases/", {"upc": "5012345678901", "title": "X",
                                                   "tracks": []}, format="json")  # fmt: skip
    assert bad.status_code == 400
    assert "upc" in bad.json()["fields"]
