"""Works, releases, rights shares and likeness over HTTP, with the forbidden cases."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from governance.importing.run import import_catalog
from governance.models import PartyKind, RightsShare, Role, Work
from ledger.models import PendingEntry as Pending
from tests.factories import Caller, PartyFactory, caller
from tests.world import rule

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


def test_only_an_artist_credited_on_the_work_can_hold_its_likeness_right() -> None:
    """Changed by issue 12: the registrant could link the likeness of any artist; now only an
    artist credited on the work holds a likeness share of it."""
    label = caller(PartyKind.LABEL)
    artist = PartyFactory(kind=PartyKind.ARTIST)
    credit = {"name": "Ada Vale", "role": "main_artist", "party": str(artist.pk)}
    work = label.client.post("/api/v1/works/", recording(credits=[credit]), format="json").json()
    response = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(label.party.pk), "right": "likeness", "share": "100",
    }, format="json")  # fmt: skip
    assert response.status_code == 400
    assert "holder" in response.json()["fields"]
    stranger = PartyFactory(kind=PartyKind.ARTIST)
    uncredited = label.client.post("/api/v1/shares/", {
        "work": work["id"], "holder": str(stranger.pk), "right": "likeness", "share": "100",
    }, format="json")  # fmt: skip
    assert uncredited.status_code == 400
    assert "credited" in " ".join(uncredited.json()["fields"]["holder"])
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


# ---------------------------------------------------------------------------------------------
# Issue 12, the share takeover: who may create, change and remove shares, and change works.
# ---------------------------------------------------------------------------------------------


def share_of(who: Caller, work: dict[str, Any], right: str, holder: Any, share: str) -> Any:
    body = {"work": work["id"], "holder": str(holder), "right": right, "share": share}
    return who.client.post("/api/v1/shares/", body, format="json")


def test_it_refuses_an_unrelated_publisher_a_share_of_a_labels_recording(world) -> None:  # type: ignore[no-untyped-def]
    publisher = caller(PartyKind.PUBLISHER)
    shares, entries = RightsShare.objects.count(), Pending.objects.count()
    for right in ("master", "publishing", "performer"):
        response = share_of(publisher, world["work"], right, publisher.party.pk, "1")
        assert response.status_code == 403, response.json()
        assert response.json()["code"] == "permission_denied"
    assert RightsShare.objects.count() == shares
    assert not RightsShare.objects.filter(holder=publisher.party).exists()
    assert Pending.objects.count() == entries


def test_the_refused_publisher_sees_no_holders_shares_and_cannot_change_the_work(world) -> None:  # type: ignore[no-untyped-def]
    publisher = caller(PartyKind.PUBLISHER)
    assert share_of(publisher, world["work"], "master", publisher.party.pk, "1").status_code == 403
    listed = publisher.client.get("/api/v1/shares/", {"work": world["work"]["id"]}).json()
    assert listed["count"] == 0
    label_share = RightsShare.objects.get(work_id=world["work"]["id"], right="master")
    assert publisher.client.get(f"/api/v1/shares/{label_share.pk}/").status_code == 404
    url = f"/api/v1/works/{world['work']['id']}/"
    title = publisher.client.patch(url, {"title": "Stolen"}, format="json")
    assert title.status_code == 403
    isrc = publisher.client.patch(url, {"isrc": "GBAYE0601498"}, format="json")
    assert isrc.status_code == 403
    work = Work.objects.get(pk=world["work"]["id"])
    assert (work.title, work.isrc, work.version) == ("Northern Lights", world["work"]["isrc"], 1)


def test_the_refused_publishers_deny_rule_does_not_decide_a_licensees_check(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    publisher = caller(PartyKind.PUBLISHER)
    assert share_of(publisher, world["work"], "master", publisher.party.pk, "1").status_code == 403
    rule(publisher, scope="all_works", uses=["analyze"], effect="deny")
    check = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": world["work"]["isrc"]}},
        format="json",
    )  # fmt: skip
    assert check.status_code == 200, check.json()
    assert check.json()["outcome"] == "allow"
    assert str(publisher.party.pk) not in str(check.json())


def test_it_refuses_an_uncredited_artist_its_likeness_on_a_work(world) -> None:  # type: ignore[no-untyped-def]
    stranger = caller(PartyKind.ARTIST)
    entries = Pending.objects.count()
    response = share_of(stranger, world["work"], "likeness", stranger.party.pk, "100")
    assert response.status_code == 403, response.json()
    assert not RightsShare.objects.filter(right="likeness").exists()
    assert Pending.objects.count() == entries


def test_a_credited_artist_registers_its_own_likeness_share_and_no_other(world) -> None:  # type: ignore[no-untyped-def]
    artist = world["artist"]
    own = share_of(artist, world["work"], "likeness", artist.party.pk, "100")
    assert own.status_code == 201, own.json()
    assert own.json()["holder"] == str(artist.party.pk)
    # Its credit gives it no say over the work's other rights.
    master = share_of(artist, world["work"], "master", artist.party.pk, "1")
    assert master.status_code == 403
    # The likeness is the artist's own: it cannot be handed on.
    other = PartyFactory(kind=PartyKind.ARTIST)
    given = artist.client.post(f"/api/v1/shares/{own.json()['id']}/transfer/",
                               {"holder": str(other.pk), "share": "10"}, format="json")  # fmt: skip
    assert given.status_code == 400


def test_the_registrant_registers_shares_for_the_works_holders(world) -> None:  # type: ignore[no-untyped-def]
    publisher = PartyFactory(kind=PartyKind.PUBLISHER)
    label = world["label"]
    assert label.client.patch(
        f"/api/v1/shares/{RightsShare.objects.get(right='publishing').pk}/", {"share": "50"},
        format="json",
    ).status_code == 200  # fmt: skip
    response = share_of(label, world["work"], "publishing", publisher.pk, "50")
    assert response.status_code == 201, response.json()
    assert ledger_kinds()[-2:] == ["rights_share", "rights_share"]


def transfer(who: Caller, share_id: Any, holder: Any, share: str) -> Any:
    return who.client.post(f"/api/v1/shares/{share_id}/transfer/",
                           {"holder": str(holder), "share": share}, format="json")  # fmt: skip


def test_a_holder_transfers_part_of_its_own_share_and_no_more(world) -> None:  # type: ignore[no-untyped-def]
    label = world["label"]
    master = RightsShare.objects.get(work_id=world["work"]["id"], right="master")
    buyer = PartyFactory(kind=PartyKind.LABEL)
    before = len(ledger_kinds())
    response = transfer(label, master.pk, buyer.pk, "30")
    assert response.status_code == 201, response.json()
    assert response.json()["holder"] == str(buyer.pk)
    assert response.json()["share"] == "30.000"
    master.refresh_from_db()
    assert (master.share, master.version) == (70, 2)
    assert ledger_kinds()[before:] == ["rights_share", "rights_share"]
    # More than its portion: refused, nothing written.
    entries = Pending.objects.count()
    too_much = transfer(label, master.pk, buyer.pk, "70.001")
    assert too_much.status_code == 400
    assert "portion" in " ".join(too_much.json()["fields"]["share"])
    master.refresh_from_db()
    assert master.share == 70
    assert Pending.objects.count() == entries
    assert RightsShare.objects.filter(holder=buyer).count() == 1
    # All of it: the grantor's share goes.
    assert transfer(label, master.pk, buyer.pk, "70").status_code == 201
    assert not RightsShare.objects.filter(pk=master.pk).exists()
    assert sum(s.share for s in RightsShare.objects.filter(right="master")) == 100


def test_only_the_holder_transfers_its_share(world) -> None:  # type: ignore[no-untyped-def]
    performer = RightsShare.objects.get(work_id=world["work"]["id"], right="performer")
    other = PartyFactory(kind=PartyKind.LABEL)
    # The registrant changes terms, it does not give away the artist's share.
    assert transfer(world["label"], performer.pk, other.pk, "10").status_code == 403
    stranger = caller(PartyKind.LABEL)
    assert transfer(stranger, performer.pk, stranger.party.pk, "10").status_code == 404
    auditor = caller(PartyKind.AUDITOR)
    assert transfer(auditor, performer.pk, other.pk, "10").status_code == 403
    assert RightsShare.objects.filter(holder=other).count() == 0


def test_a_holder_relinquishes_its_share_but_only_the_registrant_changes_terms(world) -> None:  # type: ignore[no-untyped-def]
    artist = world["artist"]
    performer = RightsShare.objects.get(work_id=world["work"]["id"], right="performer")
    url = f"/api/v1/shares/{performer.pk}/"
    assert artist.client.patch(url, {"share": "50"}, format="json").status_code == 403
    assert artist.client.patch(url, {"territories": ["FR"]}, format="json").status_code == 403
    performer.refresh_from_db()
    assert (performer.share, performer.version) == (100, 1)
    assert world["label"].client.patch(url, {"share": "90"}, format="json").status_code == 200
    assert artist.client.delete(url).status_code == 204
    assert ledger_kinds()[-1] == "rights_share_removed"


def test_a_holder_of_a_share_does_not_change_the_work(world) -> None:  # type: ignore[no-untyped-def]
    master = RightsShare.objects.get(work_id=world["work"]["id"], right="master")
    buyer = caller(PartyKind.LABEL)
    assert transfer(world["label"], master.pk, buyer.party.pk, "50").status_code == 201
    url = f"/api/v1/works/{world['work']['id']}/"
    # A holder reads the work's shares...
    assert buyer.client.get("/api/v1/shares/", {"work": world["work"]["id"]}).json()["count"] == 4
    # ...but neither its identifiers nor its metadata.
    assert buyer.client.patch(url, {"title": "Mine"}, format="json").status_code == 403
    assert buyer.client.patch(url, {"isrc": "GBAYE0601498"}, format="json").status_code == 403
    ok = world["label"].client.patch(url, {"isrc": "GBAYE0601498"}, format="json")
    assert ok.status_code == 200


def test_an_import_cannot_register_the_importers_share_of_anothers_work(world) -> None:  # type: ignore[no-untyped-def]
    publisher = PartyFactory(kind=PartyKind.PUBLISHER)
    # The same work as registered (so the row is not refused as a change of another's work),
    # with a 1 % share for the importer itself.
    data = ("kind,isrc,title,display_artist,main_artists,right,share,holder\n"
            f"recording,{world['work']['isrc']},Northern Lights,Ada Vale,Ada Vale,master,1,\n"
            ).encode()  # fmt: skip
    entries = Pending.objects.count()
    report = import_catalog(party=publisher, data=data, fmt="csv", now=timezone.now())
    assert [p.reason for p in report.problems] == [
        "shares of another party's work are registered by that party (file a claim)"
    ]
    assert not RightsShare.objects.filter(holder=publisher).exists()
    assert Pending.objects.count() == entries


def test_an_import_links_a_likeness_only_to_a_credited_artist() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    PartyFactory(kind=PartyKind.ARTIST, name="Ada Vale")
    PartyFactory(kind=PartyKind.ARTIST, name="Rui Sol")
    data = (b"kind,isrc,title,main_artists,right,share,holder\n"
            b"recording,USRC17607839,Song,Ada Vale,likeness,100,Rui Sol\n"
            b"recording,USRC17607839,Song,Ada Vale,likeness,100,Ada Vale\n")  # fmt: skip
    report = import_catalog(party=label, data=data, fmt="csv", now=timezone.now())
    assert [p.where for p in report.problems] == ["line 2"]
    assert "credited" in report.problems[0].reason
    assert RightsShare.objects.get(right="likeness").holder.name == "Ada Vale"


def test_an_import_by_a_holder_does_not_change_the_registrants_work(world) -> None:  # type: ignore[no-untyped-def]
    master = RightsShare.objects.get(work_id=world["work"]["id"], right="master")
    buyer = caller(PartyKind.LABEL)
    assert transfer(world["label"], master.pk, buyer.party.pk, "50").status_code == 201
    data = f"kind,isrc,title\nrecording,{world['work']['isrc']},Renamed\n".encode()
    report = import_catalog(party=buyer.party, data=data, fmt="csv", now=timezone.now())
    assert [p.reason for p in report.problems] == [
        f"ISRC {world['work']['isrc']} is registered by another party"
    ]
    assert Work.objects.get(pk=world["work"]["id"]).title == "Northern Lights"
