"""DDEX ERN imports as a label's feed needs them (issue 17): rights controllers become shares
(held by the party they are, or by an unclaimed party the feed names), territories from the
details (3.8) or the deals of every Release and TrackRelease (4.x), strict per-recording
rejection naming the element and its line, statuses that tell the truth, idempotent re-imports,
and what a hostile feed cannot do.

The messages are in tests/governance/ern/ (written to the ERN 3.8.2 and 4.3 structure; each
file says what it holds) and docs/samples/ (the clean album in both versions)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from governance.importing.records import UnreadableFile
from governance.importing.run import import_catalog
from governance.models import (
    ImportJob,
    ImportStatus,
    Party,
    PartyKind,
    Release,
    RightsShare,
    Work,
)
from governance.services.imports import import_run
from ledger.models import PendingEntry
from tests.factories import PartyFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
ERN = Path(__file__).resolve().parent / "ern"
CLEAN = [SAMPLES / "ern-3.8.2-sample.xml", SAMPLES / "ern-4.3-sample.xml"]
NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)


def ddex(party: Party, path: Path | bytes, **kwargs):  # type: ignore[no-untyped-def]
    data = path if isinstance(path, bytes) else path.read_bytes()
    return import_catalog(party=party, data=data, fmt="ddex", now=timezone.now(), **kwargs)


def job(party: Party, path: Path, *, all_or_nothing: bool = False) -> ImportJob:
    data = path.read_bytes()
    stored = ImportJob.objects.create(
        party=party, format="ddex", filename=path.name, sha256="0" * 64, data=data,
        all_or_nothing=all_or_nothing,
    )  # fmt: skip
    return import_run(job_id=str(stored.pk), now=NOW)


def northwind() -> Party:
    return PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")


def line_of(path: Path, needle: str, after: str = "") -> int:
    """The 1-based line of the first ``needle`` after the first ``after`` in ``path``."""
    text = path.read_text()
    return text[: text.index(needle, text.index(after) if after else 0)].count("\n") + 1


def shares_of(isrc: str) -> dict[str, tuple[Decimal, str, list[str]]]:
    return {
        s.holder.name: (s.share, s.territory_mode, sorted(s.territories))
        for s in RightsShare.objects.filter(work__isrc=isrc).select_related("holder")
    }


# -- a clean album ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", CLEAN, ids=["3.8.2", "4.3"])
def test_a_clean_album_imports_every_recording_with_its_shares_and_reports_nothing(
    path: Path,
) -> None:
    label = northwind()

    done = job(label, path)

    assert (done.status, done.problems, done.error) == (ImportStatus.SUCCEEDED, [], "")
    assert Work.objects.count() == 3
    # 3.8.2 gives each recording Worldwide; 4.3's come from the album's one deal.
    where = ("worldwide", []) if "3.8" in path.name else ("include", ["CA", "GB", "IE", "US"])
    assert shares_of("GBNWR2400001") == {"Northwind Records": (Decimal("100.000"), *where)}
    assert shares_of("GBNWR2400002") == {
        "Northwind Records": (Decimal("75.000"), *where),
        "Ada Vale": (Decimal("25.000"), *where),
    }
    assert shares_of("GBNWR2400003") == {
        "Northwind Records": (Decimal("50.500"), *where),
        "Harbor Lane Music Publishing": (Decimal("49.500"), *where),
    }
    # Neither Ada Vale nor Harbor Lane has joined: each is an unclaimed party Northwind named,
    # with the identifiers the feed gave, and no members.
    ada, harbor = (Party.objects.get(name=n) for n in ("Ada Vale", "Harbor Lane Music Publishing"))
    assert ada.unclaimed
    assert harbor.unclaimed
    assert (ada.named_by, ada.isni, ada.memberships.count()) == (label, "0000000495127812", 0)
    share = RightsShare.objects.get(work__isrc="GBNWR2400001")
    assert (share.holder, share.controller_roles) == (label, ["RightsController"])


@pytest.mark.parametrize("path", CLEAN, ids=["3.8.2", "4.3"])
def test_what_a_label_sends_is_kept_and_ledgered(path: Path) -> None:
    label = northwind()
    ddex(label, path)

    compass = Work.objects.get(isrc="GBNWR2400003")
    assert (compass.p_year, compass.languages, compass.genre, compass.parental_warning) == (
        2023, ["ga"], "Folk", "NotExplicit",
    )  # fmt: skip
    release = Release.objects.get()
    assert (release.catalog_number, release.label_name) == ("NWR024", "Northwind Records")
    entries = {
        e.kind: json.loads(bytes(e.data))["payload"] for e in PendingEntry.objects.order_by("id")
    }
    assert entries["work"]["languages"]
    assert "parental_warning" in entries["work"]
    assert entries["release"]["catalog_number"] == "NWR024"
    assert entries["rights_share"]["controller_roles"] == ["RightsController"]


def test_a_4_3_recording_takes_the_territories_of_its_track_release_deals_too() -> None:
    label = northwind()
    path = ERN / "ern43-track-releases.xml"

    report = ddex(label, path)

    assert report.problems == []
    # A1: the album's GB and IE and its TrackRelease's US and JP; A2: its TrackRelease's
    # Worldwide absorbs the rest; A3 has no TrackRelease: the album's only.
    assert shares_of("GBNWR2400031") == {
        "Northwind Records": (Decimal("100.000"), "include", ["GB", "IE", "JP", "US"])
    }
    assert shares_of("GBNWR2400032") == {
        "Northwind Records": (Decimal("60.000"), "worldwide", []),
        "Quill & Fen Masters Ltd": (Decimal("40.000"), "worldwide", []),
    }
    assert shares_of("GBNWR2400033") == {
        "Northwind Records": (Decimal("100.000"), "include", ["GB", "IE"])
    }
    quill = Party.objects.get(name="Quill & Fen Masters Ltd")
    assert (quill.unclaimed, quill.dpid, quill.default_posture) == (
        True, "PADPIDA2024060301Q", "opt_in",
    )  # fmt: skip
    orchard = Work.objects.get(isrc="GBNWR2400032")
    assert orchard.genre == "Ambient"  # its TrackRelease's, not the album's Folk
    assert Work.objects.get(isrc="GBNWR2400031").languages == ["en", "ga"]


# -- strict per-recording rejection ----------------------------------------------------------

ANCHOR = "/ern:NewReleaseMessage/ResourceList/SoundRecording[ResourceReference='{}']"


def expected_rejections(path: Path) -> list[tuple[str, int, str]]:
    """(XPath, line of the element's start tag, the start of the reason) of each faulty
    recording of an errors file, in document order."""
    v4 = "43" in path.name
    isrc = "/SoundRecordingEdition/ResourceId/ISRC" if v4 else "/SoundRecordingId/ISRC"
    territory = (
        "/ResourceRightsController/DelegatedUsageRights/TerritoryOfRightsDelegation"
        if v4
        else "/SoundRecordingDetailsByTerritory/TerritoryCode"
    )
    rc = "/ResourceRightsController" if v4 else "/SoundRecordingDetailsByTerritory/RightsController"
    start = "<ResourceReference>A{}</ResourceReference>"

    def sr_line(n: int) -> int:
        # The SoundRecording's start tag: the line before (4.3) or two before (3.8.2) its
        # ResourceReference.
        return line_of(path, start.format(n)) - (1 if v4 else 3)

    return [
        (ANCHOR.format("A1") + isrc, line_of(path, "GBNWR24000X1"),
         "SoundRecording A1 rejected: ISRC 'GBNWR24000X1'"),
        (ANCHOR.format("A2"), sr_line(2), "SoundRecording A2 rejected: it has no title"),
        (ANCHOR.format("A3"), sr_line(3), "SoundRecording A3 rejected: it has no display artist"),
        (ANCHOR.format("A4") + territory, line_of(path, ">ZZ<"),
         "SoundRecording A4 rejected: " + territory.rsplit("/", 1)[1] + " 'ZZ' is not an ISO"),
        (ANCHOR.format("A5") + rc + "/RightSharePercentage", line_of(path, ">150<"),
         "SoundRecording A5 rejected: RightSharePercentage 150 is outside 0..100"),
        (ANCHOR.format("A6") + rc + "[2]",
         line_of(path, 'RightsController SequenceNumber="2"', start.format(6)),
         "SoundRecording A6 rejected: RightSharePercentage: the rights controllers' shares add "
         "up to 120 %"),
    ]  # fmt: skip


ERRORS = [ERN / "ern382-errors.xml", ERN / "ern43-errors.xml"]


@pytest.mark.parametrize("path", ERRORS, ids=["3.8.2", "4.3"])
def test_each_kind_of_error_rejects_exactly_its_recording_naming_the_element_and_line(
    path: Path,
) -> None:
    label = northwind()

    report = ddex(label, path)

    recordings = [p for p in report.problems if "SoundRecording" in p.where]
    expected = expected_rejections(path)
    assert len(recordings) == len(expected), recordings
    for problem, (xpath, line, reason) in zip(recordings, expected, strict=True):
        assert problem.where == f"{xpath} (line {line})"
        assert problem.reason.startswith(reason), (problem.reason, reason)
    # A7 alone is valid (70.00 % + 30 % = 100 %: percentages compare as numbers).
    assert list(Work.objects.values_list("isrc", flat=True)) == ["GBNWR2400017"]
    assert shares_of("GBNWR2400017") == {
        "Northwind Records": (Decimal("70.000"), "worldwide", []),
        "Ada Vale": (Decimal("30.000"), "worldwide", []),
    }
    # The album's ICPN has a wrong check digit: the identifier (and so the release) is
    # rejected, its valid recording is not.
    (icpn,) = [p for p in report.problems if "SoundRecording" not in p.where]
    assert icpn.where.startswith("/ern:NewReleaseMessage/ReleaseList/Release (line ")
    assert icpn.reason.startswith("ICPN rejected")
    assert not Release.objects.exists()


@pytest.mark.parametrize("path", ERRORS, ids=["3.8.2", "4.3"])
def test_a_file_with_rejections_succeeds_with_problems_and_all_or_nothing_rolls_it_back(
    path: Path,
) -> None:
    label = northwind()
    entries = PendingEntry.objects.count()

    whole = job(label, path, all_or_nothing=True)
    assert whole.status == ImportStatus.FAILED
    assert whole.problem_count == 7
    assert not Work.objects.exists()
    assert not Party.objects.filter(named_by=label).exists()
    assert PendingEntry.objects.count() == entries

    partial = job(label, path)
    assert (partial.status, partial.problem_count) == (ImportStatus.SUCCEEDED_WITH_PROBLEMS, 7)
    assert Work.objects.count() == 1


@pytest.mark.parametrize("path", CLEAN, ids=["3.8.2", "4.3"])
def test_all_or_nothing_imports_a_valid_file_whole(path: Path) -> None:
    done = job(northwind(), path, all_or_nothing=True)
    assert (done.status, done.problem_count) == (ImportStatus.SUCCEEDED, 0)
    assert Work.objects.count() == 3
    assert RightsShare.objects.count() == 5


def test_a_duplicated_isrc_rejects_every_recording_that_carries_it() -> None:
    path = ERN / "ern382-duplicate-isrc.xml"

    report = ddex(northwind(), path)

    assert [(p.where, p.reason) for p in report.problems] == [
        (
            ANCHOR.format(ref) + f"/SoundRecordingId/ISRC (line {line})",
            f"SoundRecording {ref} rejected: ISRC GBNWR2400021 is carried by 2 SoundRecordings "
            "(A1, A3): each of them is rejected",
        )
        for ref, line in (
            ("A1", line_of(path, "<ISRC>GBNWR2400021")),
            ("A3", line_of(path, "<ISRC>GB-NWR-24-00021")),
        )
    ]
    assert list(Work.objects.values_list("isrc", flat=True)) == ["GBNWR2400022"]


def test_a_truncated_file_fails_with_its_line_and_imports_nothing() -> None:
    label = northwind()
    path = ERN / "ern382-truncated.xml"
    entries = PendingEntry.objects.count()

    with pytest.raises(UnreadableFile, match=r"not well-formed XML \(line 124"):
        ddex(label, path)
    done = job(label, path)

    assert done.status == ImportStatus.FAILED
    assert done.error.startswith("the file cannot be read: / (line 124): not well-formed XML")
    assert not Work.objects.exists()
    assert not Party.objects.filter(named_by=label).exists()
    assert PendingEntry.objects.count() == entries


@pytest.mark.parametrize("path", [*CLEAN, ERN / "ern43-track-releases.xml"])
def test_importing_the_same_message_twice_changes_nothing_and_appends_nothing(
    path: Path,
) -> None:
    label = northwind()
    ddex(label, path)
    entries, parties = PendingEntry.objects.count(), Party.objects.count()
    versions = sorted(RightsShare.objects.values_list("id", "version"))

    again = ddex(label, path)

    assert again.problems == []
    assert again.counts["works_created"] == again.counts["works_updated"] == 0
    assert again.counts["shares_created"] == again.counts["shares_updated"] == 0
    assert again.counts["parties_named"] == 0
    assert PendingEntry.objects.count() == entries
    assert Party.objects.count() == parties
    assert sorted(RightsShare.objects.values_list("id", "version")) == versions


# -- what a hostile feed cannot do -----------------------------------------------------------


def test_a_feed_cannot_add_shares_or_parties_to_another_labels_recordings() -> None:
    ddex(northwind(), CLEAN[1])
    rival = PartyFactory(kind=PartyKind.LABEL, name="Rival Records")
    before = (RightsShare.objects.count(), Party.objects.count(), PendingEntry.objects.count())

    report = ddex(rival, CLEAN[1])

    assert {p.reason for p in report.problems} == {
        "shares of another party's work are registered by that party (file a claim)",
        "UPC 5060482139075 is registered by another party",
    }
    assert (RightsShare.objects.count(), Party.objects.count()) == before[:2]
    assert not Party.objects.filter(named_by=rival).exists()
    assert PendingEntry.objects.count() == before[2]


def test_a_feed_cannot_take_over_a_party_that_joined() -> None:
    # A real Harbor Lane has joined with its ISNI; a feed names "Harbor Lane Music Publishing"
    # with another ISNI: that is not the party that joined, so an unclaimed one holds the share,
    # and the real party is unchanged.
    harbor = PartyFactory(
        kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing", isni="0000000121032683"
    )
    document = (CLEAN[0].read_text()).replace(
        "<PartyName><FullName>Harbor Lane Music Publishing</FullName></PartyName>",
        "<PartyName><FullName>Harbor Lane Music Publishing</FullName></PartyName>"
        '<PartyId IsISNI="true">0000000512345679</PartyId>',
    )
    label = northwind()

    ddex(label, document.encode())

    holder = RightsShare.objects.get(work__isrc="GBNWR2400003", share=Decimal("49.5")).holder
    assert holder != harbor
    assert holder.unclaimed
    assert holder.isni == "0000000512345679"
    harbor.refresh_from_db()
    assert (harbor.isni, harbor.version, harbor.named_by) == ("0000000121032683", 1, None)


def test_a_controller_is_the_party_that_joined_with_its_identifier() -> None:
    # The 4.3 sample names Ada Vale by ISNI: the artist that joined with it holds her share,
    # whatever name she joined under.
    ada = PartyFactory(kind=PartyKind.ARTIST, name="Ada V.", isni="0000000495127812")
    label = northwind()

    ddex(label, CLEAN[1])

    assert RightsShare.objects.get(work__isrc="GBNWR2400002", holder=ada).share == Decimal(25)
    assert not Party.objects.filter(named_by=label, name="Ada Vale").exists()


def test_one_labels_unclaimed_party_is_never_reused_by_another_labels_feed() -> None:
    first = northwind()
    ddex(first, ERN / "ern43-track-releases.xml")
    other = PartyFactory(kind=PartyKind.LABEL, name="Other Records")
    document = (ERN / "ern43-track-releases.xml").read_text().replace("GBNWR24000", "GBOTH24000")
    document = document.replace("5060482139075", "5012345678900")

    ddex(other, document.encode())

    quills = Party.objects.filter(name="Quill & Fen Masters Ltd").order_by("created_at")
    assert [q.named_by for q in quills] == [first, other]
    assert RightsShare.objects.get(work__isrc="GBOTH2400032", share=40).holder == quills[1]


def test_progress_is_seen_while_an_all_or_nothing_import_is_still_one_open_transaction(
    committed: None,
) -> None:
    from django.db import transaction

    from governance.services.imports import _progress
    from tests.committed import on_own_connection

    def stored_job() -> ImportJob:
        return ImportJob.objects.create(
            party=northwind(), format="ddex", filename="a.xml", sha256="0" * 64, data=b"<x/>",
            all_or_nothing=True,
        )  # fmt: skip

    job_ = on_own_connection(stored_job)
    with transaction.atomic():  # as an all_or_nothing import runs its chunks
        _progress(str(job_.pk))(2000, 99_999)
        # Another connection (the API's, the label's page) sees it before the import ends.
        seen = on_own_connection(lambda: ImportJob.objects.get(pk=job_.pk))
        transaction.set_rollback(True)
    assert (seen.processed, seen.total) == (2000, 99_999)


def test_an_import_that_started_earlier_reuses_the_party_another_import_named_meanwhile() -> None:
    from governance.importing.apply import Applier, Report
    from governance.importing.run import merge, read

    label = northwind()
    feed = ERN / "ern43-track-releases.xml"
    earlier = Applier(party=label, now=NOW, report=Report())  # its view of parties: none named

    ddex(label, feed)  # another import of the same feed names Quill & Fen Masters meanwhile
    earlier.apply(merge(read(feed.read_bytes(), "ddex"), Report()))

    assert Party.objects.filter(named_by=label, dpid="PADPIDA2024060301Q").count() == 1
    assert earlier.report.counts["parties_named"] == 0


def test_reading_progress_is_seen_before_any_work_is_applied(committed: None) -> None:
    """A large message is read whole before its first work is applied: the job says how much
    of the file is read (``bytes_read`` of ``size``) on a connection of its own meanwhile."""
    from governance.services.imports import _reading
    from tests.committed import on_own_connection
    from tests.ddex_samples import ern_document

    data = ern_document(recordings=300, seed=31)
    job_ = on_own_connection(lambda: ImportJob.objects.create(
        party=PartyFactory(kind=PartyKind.LABEL, name="Reading Progress Records"),
        format="ddex", filename="a.xml", sha256="0" * 64, data=data, all_or_nothing=True,
    ))  # fmt: skip
    write, seen = _reading(str(job_.pk)), []

    def reading(done: int, size: int) -> None:
        write(done, size)
        job = on_own_connection(lambda: ImportJob.objects.get(pk=job_.pk))
        seen.append((job.bytes_read, job.size, job.processed))

    # The import runs on this test's connection, its own party (the job's is committed).
    report = import_catalog(party=northwind(), data=data, fmt="ddex", now=timezone.now(),
                            all_or_nothing=True, reading=reading)  # fmt: skip
    assert report.counts["works_created"] == 300
    assert any(0 < done < len(data) and size == len(data) and not works
               for done, size, works in seen)  # fmt: skip
    assert seen[-1] == (len(data), len(data), 0)
