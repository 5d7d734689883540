"""Musical works (issue 17, item 7; docs/catalog-works.md): compositions from a DDEX MWN message
(docs/samples/mwn-1.3-sample.xml) or the works CSV (docs/samples/works-sample.csv), with their
writers as credits and their publishing shares held by the parties named (unclaimed where they
have not joined), linked to recordings by ISWC so that a check on a recording asks the
composition's publishers; strict per-work rejection naming the element and line; what another
party's message cannot do."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from governance.importing.apply import Report
from governance.importing.records import UnreadableFile
from governance.importing.run import import_catalog
from governance.models import (
    ImportJob,
    ImportStatus,
    Party,
    PartyKind,
    RightsShare,
    Work,
)
from governance.services.imports import detect_format, import_run
from ledger.models import PendingEntry
from tests.factories import PartyFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
MWN = (SAMPLES / "mwn-1.3-sample.xml").read_text()
CSV = (SAMPLES / "works-sample.csv").read_text()
ERN = (SAMPLES / "ern-4.3-sample.xml").read_text()
W1, W2 = "T1234567894", "T9876543214"
A1, A2 = "GBNWR2400001", "GBNWR2400002"
HARBOR_IPI = "23456789157"


def works(party: Party, data: str | bytes, fmt: str = "mwn", **kwargs: Any) -> Report:
    raw = data.encode() if isinstance(data, str) else data
    return import_catalog(party=party, data=raw, fmt=fmt, now=timezone.now(), **kwargs)  # type: ignore[arg-type]


def publisher() -> Party:
    return PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing",
                        ipi=HARBOR_IPI)  # fmt: skip


def northwind() -> Party:
    return PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")


def ern_declaring(declared: dict[str, str]) -> bytes:
    """The ERN 4.3 sample with ``WorkId/ISWC`` on the recordings named (reference -> ISWC)."""
    text = ERN
    for ref, iswc in declared.items():
        tag = f"<ResourceReference>{ref}</ResourceReference>"
        text = text.replace(tag, f"{tag}<WorkId><ISWC>{iswc}</ISWC></WorkId>", 1)
    return text.encode()


def line_of(text: str, needle: str, after: str = "") -> int:
    return text[: text.index(needle, text.index(after) if after else 0)].count("\n") + 1


def publishing(iswc: str) -> dict[str, tuple[Decimal, str, list[str]]]:
    return {
        s.holder.name: (s.share, s.territory_mode, sorted(s.territories))
        for s in RightsShare.objects.filter(work__iswc=iswc, right="publishing")
        .select_related("holder")
    }  # fmt: skip


def snapshot() -> tuple[Any, ...]:
    return (
        sorted(Work.objects.values_list("pk", "version", "composition_id")),
        sorted(RightsShare.objects.values_list("pk", "version", "share")),
        PendingEntry.objects.count(),
        Party.objects.count(),
    )


# -- a clean message ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["mwn", "works"])
def test_a_clean_message_imports_works_writers_shares_and_links_recordings(fmt: str) -> None:
    label, harbor = northwind(), publisher()
    assert not works(label, ern_declaring({"A1": W1, "A2": "T-987.654.321-4"}), "ddex").problems
    recording = Work.objects.get(isrc=A1)
    assert (recording.declared_iswc, recording.composition_id) == (W1, None)
    report = works(harbor, MWN if fmt == "mwn" else CSV, fmt)
    assert report.problems == []
    assert (report.counts["works_created"], report.counts["recordings_linked"]) == (2, 2)
    assert report.counts["parties_named"] == 1  # Tidewater Songs; Harbor Lane is the importer
    first, second = Work.objects.get(iswc=W1), Work.objects.get(iswc=W2)
    assert (first.kind, first.title, first.registrant, first.language) == (
        "composition", "Harbour Lights", harbor, "en",
    )  # fmt: skip
    assert [(c.name, c.role, c.ipi) for c in first.credits.all()] == [
        ("Ada Vale", "songwriter", "00000002585"), ("Jon Mercer", "composer", "12345678993"),
    ]  # fmt: skip
    assert publishing(W1) == {
        "Harbor Lane Music Publishing": (Decimal(50), "worldwide", []),
        "Tidewater Songs": (Decimal(50), "worldwide", []),
    }
    assert publishing(W2) == {
        "Harbor Lane Music Publishing": (Decimal(100), "include", ["GB", "IE"]),
        "Tidewater Songs": (Decimal(100), "exclude", ["GB", "IE"]),
    }
    tidewater = Party.objects.get(name="Tidewater Songs")
    assert (tidewater.named_by, tidewater.ipi) == (harbor, "34567891230")  # unclaimed
    assert RightsShare.objects.get(work=first, holder=harbor).holder == harbor
    assert Work.objects.get(isrc=A1).composition == first
    assert Work.objects.get(isrc=A2).composition == second
    # The links are ledgered in the recordings' own work entries.
    payloads = [json.loads(bytes(e.data))["payload"]
                for e in PendingEntry.objects.filter(kind="work").order_by("id")]  # fmt: skip
    linked = [p for p in payloads if p.get("isrc") == A1]
    assert linked[-1]["composition"] == str(first.pk)
    assert linked[-1]["declared_iswc"] == W1
    if fmt == "mwn":  # the RightsTypes and RightShareType are kept with the share
        share = RightsShare.objects.get(work=first, holder=harbor)
        assert (share.controller_roles, share.controller_type) == (
            ["MechanicalRight"], "MusicalWorkCollectionShare",
        )  # fmt: skip


def test_a_recording_delivered_after_its_composition_is_linked_by_its_declared_iswc() -> None:
    label, harbor = northwind(), publisher()
    report = works(harbor, MWN)
    # The label's recordings are not registered yet: counted, not a problem.
    assert (report.problems, report.counts["recordings_not_registered"]) == ([], 2)
    assert not works(label, ern_declaring({"A1": W1}), "ddex").problems
    assert Work.objects.get(isrc=A1).composition == Work.objects.get(iswc=W1)
    assert Work.objects.get(isrc=A2).composition is None  # it declares no ISWC
    # The same delivery again changes nothing; one that no longer declares the ISWC keeps
    # the link (a feed never unlinks: docs/catalog-works.md).
    before = snapshot()
    works(label, ern_declaring({"A1": W1}), "ddex")
    assert snapshot() == before
    works(label, ern_declaring({}), "ddex")
    assert Work.objects.get(isrc=A1).composition == Work.objects.get(iswc=W1)


def test_a_publishers_own_recording_named_in_its_message_is_linked() -> None:
    harbor = publisher()
    csv = "kind,isrc,title\nrecording,GBNWR2400001,Harbour Lights (demo)\n"
    assert not works(harbor, csv, "csv").problems
    report = works(harbor, MWN)
    assert report.counts["recordings_linked"] == 1
    assert Work.objects.get(isrc=A1).composition == Work.objects.get(iswc=W1)


@pytest.mark.parametrize("fmt", ["mwn", "works"])
def test_importing_the_same_message_twice_changes_nothing_and_appends_nothing(fmt: str) -> None:
    label, harbor = northwind(), publisher()
    works(label, ern_declaring({"A1": W1}), "ddex")
    data = MWN if fmt == "mwn" else CSV
    first = works(harbor, data, fmt)
    assert first.counts["works_created"] == 2
    before = snapshot()
    again = works(harbor, data, fmt)
    assert snapshot() == before
    assert (again.counts["works_created"], again.counts["works_updated"]) == (0, 0)
    assert (again.counts["shares_created"], again.counts["shares_updated"]) == (0, 0)
    assert (again.counts["recordings_linked"], again.counts["parties_named"]) == (0, 0)


# -- strict rejection --------------------------------------------------------------------------

# (id, text replaced, by, the works rejected, the element named, the text at its line)
ERRORS = [
    ("iswc-check-digit", "T-123.456.789-4", "T-123.456.789-5", {"W1"},
     "MusicalWork[MusicalWorkReference='W1']/MusicalWorkId/ISWC", "T-123.456.789-5"),
    ("duplicate-iswc", "T-987.654.321-4", "T-123.456.789-4", {"W1", "W2"},
     "MusicalWork[MusicalWorkReference='W2']/MusicalWorkId/ISWC", "<ISWC>T-123.456.789-4</ISWC><ProprietaryId Namespace=\"HLMP\">HL-0002"),  # noqa: E501
    ("blank-title", "<TitleText>Low Tide</TitleText></Title>\n      <Writer>",
     "<TitleText> </TitleText></Title>\n      <Writer>", {"W2"},
     "MusicalWork[MusicalWorkReference='W2'] ", "<MusicalWork>\n      <MusicalWorkReference>W2"),
    ("no-writer", "      <Writer>\n        <WriterPartyReference>P2</WriterPartyReference>\n"
     "        <Role>Composer</Role>\n      </Writer>\n    </MusicalWork>\n  </WorkList>",
     "    </MusicalWork>\n  </WorkList>", {"W2"},
     "MusicalWork[MusicalWorkReference='W2'] ", "<MusicalWork>\n      <MusicalWorkReference>W2"),
    ("ipi-format", "00000002585", "00000002586", {"W1"},
     "Party[PartyReference='P1']/PartyId/IpiNameNumber", "00000002586"),
    ("share-over-100", "<RightSharePercentage>100</RightSharePercentage>\n    </RightShare>\n"
     "    <RightShare>\n      <RightShareReference>S5",
     "<RightSharePercentage>150</RightSharePercentage>\n    </RightShare>\n"
     "    <RightShare>\n      <RightShareReference>S5", {"W2"},
     "RightShare[RightShareReference='S4']/RightSharePercentage", "150"),
    ("sum-over-100", "<RightSharePercentage>50</RightSharePercentage>",
     "<RightSharePercentage>60</RightSharePercentage>", {"W1"},
     "RightShare[RightShareReference='S2'] ", "<RightShare>\n      <RightShareReference>S2"),
    ("unknown-territory", "<ExcludedTerritoryCode>IE</ExcludedTerritoryCode>",
     "<ExcludedTerritoryCode>ZZ</ExcludedTerritoryCode>", {"W2"},
     "RightShare[RightShareReference='S5']/ExcludedTerritoryCode[2]", "ZZ"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "rejected", "element", "at"),
                         [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])  # fmt: skip
def test_each_kind_of_error_rejects_exactly_its_work_naming_the_element_and_line(
    old: str, new: str, rejected: set[str], element: str, at: str
) -> None:
    assert old in MWN
    text = MWN.replace(old, new, 1)
    report = works(publisher(), text)
    line = line_of(text, at)
    named = [p for p in report.problems if element.strip() in p.where]
    assert named, report.problems
    assert any(p.where.endswith(f"(line {line})") for p in named), (line, named)
    refs = {m for p in report.problems for m in re.findall(r"MusicalWork (W\d) rejected", p.reason)}
    assert refs == rejected
    kept = {"W1": W1, "W2": W2}
    assert set(Work.objects.values_list("iswc", flat=True)) == {
        kept[r] for r in kept.keys() - rejected
    }


def test_a_rejected_work_means_succeeded_with_problems_and_all_or_nothing_imports_nothing() -> None:
    harbor = publisher()
    data = MWN.replace("T-123.456.789-4", "T-123.456.789-5", 1).encode()
    job = ImportJob.objects.create(party=harbor, format="mwn", filename="w.xml",
                                   sha256="0" * 64, data=data)  # fmt: skip
    assert import_run(job_id=str(job.pk), now=timezone.now()).status == (
        ImportStatus.SUCCEEDED_WITH_PROBLEMS
    )
    strict = ImportJob.objects.create(party=publisher_b(), format="mwn", filename="w.xml",
                                      sha256="0" * 64, data=data, all_or_nothing=True)  # fmt: skip
    before = snapshot()
    assert import_run(job_id=str(strict.pk), now=timezone.now()).status == ImportStatus.FAILED
    assert snapshot() == before


def publisher_b() -> Party:
    return PartyFactory(kind=PartyKind.PUBLISHER, name="Other Publishing")


@pytest.mark.parametrize("fmt", ["mwn", "works"])
def test_a_truncated_file_fails_and_imports_nothing(fmt: str) -> None:
    harbor = publisher()
    data = (MWN if fmt == "mwn" else CSV.replace("\n", "\0", 1)).encode()
    data = data[: len(data) // 2] if fmt == "mwn" else data
    with pytest.raises(UnreadableFile):
        works(harbor, data, fmt)
    job = ImportJob.objects.create(party=harbor, format=fmt, filename="w", sha256="0" * 64,
                                   data=data)  # fmt: skip
    done = import_run(job_id=str(job.pk), now=timezone.now())
    assert done.status == ImportStatus.FAILED
    assert done.problems
    assert "line" in done.problems[0]["where"]
    assert not Work.objects.exists()
    assert not PendingEntry.objects.filter(kind="work").exists()


# -- the CSV's own errors ----------------------------------------------------------------------

CSV_ERRORS = [
    # The row is left out; its work then has no writer and is rejected too.
    ("bad-iswc", "T-987.654.321-4,Low Tide,,writer", "T-987.654.321-5,Low Tide,,writer",
     {W2}, 7),
    ("bad-ipi", "Tidewater Songs,34567891230,,,50", "Tidewater Songs,34567891231,,,50",
     {W1}, 5),
    ("sum-over-100", "Tidewater Songs,34567891230,,,50", "Tidewater Songs,34567891230,,,60",
     {W1}, 5),
    ("unknown-territory", ",,100,-GB -IE,", ",,100,-GB -ZZ,", {W2}, 9),
    ("no-writer", "T-987.654.321-4,Low Tide,,writer,Jon Mercer,12345678993,,C,,,,,\n", "",
     {W2}, 7),
    ("title-differs", "T-987.654.321-4,Low Tide,,recording", "T-987.654.321-4,Low Tides,,recording",
     {W2}, 10),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "rejected", "line"), [e[1:] for e in CSV_ERRORS],
                         ids=[e[0] for e in CSV_ERRORS])  # fmt: skip
def test_each_csv_error_rejects_its_work_naming_the_line(
    old: str, new: str, rejected: set[str], line: int
) -> None:
    assert old in CSV
    report = works(publisher(), CSV.replace(old, new, 1), "works")
    assert f"line {line}" in {p.where for p in report.problems}, report.problems
    assert set(Work.objects.values_list("iswc", flat=True)) == {W1, W2} - rejected


# -- what another party's message cannot do ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["mwn", "works"])
def test_another_publishers_message_cannot_rewrite_a_registered_composition(fmt: str) -> None:
    harbor, rival = publisher(), publisher_b()
    works(harbor, MWN)
    before = snapshot()
    # The same ISWCs with the rival holding everything (and the titles unchanged).
    data = (MWN if fmt == "mwn" else CSV).replace("Tidewater Songs", "Other Publishing")
    data = data.replace("Harbor Lane Music Publishing", "Other Publishing")
    data = data.replace(HARBOR_IPI, "45678912312").replace("34567891230", "45678912312")
    report = works(rival, data, fmt)
    assert snapshot() == before  # no share, party, link or ledger entry
    reasons = " ".join(p.reason for p in report.problems)
    assert "shares of another party's work are registered by that party" in reasons
    assert publishing(W1) == {
        "Harbor Lane Music Publishing": (Decimal(50), "worldwide", []),
        "Tidewater Songs": (Decimal(50), "worldwide", []),
    }
    # Nor can it retitle them: the work is registered by another party.
    retitled = works(rival, MWN.replace("Harbour Lights", "Stolen Lights"))
    assert any("registered by another party" in p.reason for p in retitled.problems)
    assert Work.objects.get(iswc=W1).title == "Harbour Lights"
    assert snapshot() == before


def test_a_message_cannot_link_another_labels_recording_that_does_not_declare_the_iswc() -> None:
    label, harbor = northwind(), publisher()
    works(label, ern_declaring({}), "ddex")  # declares no ISWC
    before = Work.objects.get(isrc=A1).version
    report = works(harbor, MWN)
    assert report.counts["recordings_linked"] == 0
    not_linked = [p for p in report.problems if "is not linked" in p.reason]
    where = {p.reason.split()[1]: p.where for p in not_linked}
    assert where.keys() == {A1, A2}
    assert "MusicalWork[MusicalWorkReference='W1'] (line 57)" in where[A1]
    recording = Work.objects.get(isrc=A1)
    assert (recording.composition, recording.version) == (None, before)


def test_detect_format_tells_mwn_and_the_works_csv_from_ern_and_the_catalog_csv() -> None:
    assert detect_format(filename="w.xml", data=MWN.encode()) == "mwn"
    assert detect_format(filename="a.xml", data=ERN.encode()) == "ddex"
    assert detect_format(filename="w.csv", data=CSV.encode()) == "works"
    assert detect_format(filename="c.csv", data=b"kind,isrc,title\n") == "csv"


def test_an_ern_recording_declaring_an_invalid_iswc_is_rejected_naming_it() -> None:
    label = northwind()
    text = ern_declaring({"A1": "T-123.456.789-5"}).decode()
    report = works(label, text, "ddex")
    line = line_of(text, "<WorkId><ISWC>T-123.456.789-5")
    (problem,) = report.problems
    assert problem.where.endswith(f"[ResourceReference='A1']/WorkId/ISWC (line {line})")
    assert "SoundRecording A1 rejected: ISWC" in problem.reason
    assert not Work.objects.filter(isrc=A1).exists()
    assert Work.objects.filter(isrc=A2).exists()


def test_the_command_imports_works_files_by_their_detected_format(tmp_path: Path) -> None:
    harbor = publisher()
    for name, data in (("works.xml", MWN), ("works.csv", CSV)):
        path = tmp_path / name
        path.write_text(data)
        call_command("import_catalog", str(path), "--party", harbor.name, stdout=io.StringIO())
    assert set(Work.objects.values_list("iswc", flat=True)) == {W1, W2}
    truncated = tmp_path / "cut.xml"
    truncated.write_text(MWN[: len(MWN) // 2])
    with pytest.raises(CommandError) as raised:
        call_command("import_catalog", str(truncated), "--party", harbor.name)
    assert raised.value.returncode == 2


ROOT = '<MusicalWorkClaimNotificationMessage xmlns="http://ddex.net/xml/mc-notif/13">'
HOSTILE = [
    b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'
    + ROOT.encode()
    + b"&a;</MusicalWorkClaimNotificationMessage>",
    (ROOT + "<WorkList>" + "<MusicalWork>" * 300 + "</MusicalWork>" * 300 + "</WorkList>"
     + "</MusicalWorkClaimNotificationMessage>").encode(),
    (ROOT + "<WorkList><MusicalWork>\0</MusicalWork></WorkList>").encode(),
    b"<NewReleaseMessage xmlns='http://ddex.net/xml/mwn/11'/>",
    b"\xff\xfe<not xml",
]  # fmt: skip
ODD = [
    ROOT + "<WorkList><MusicalWork/><MusicalWork><MusicalWorkReference>W'1</MusicalWorkReference>"
    "<MusicalWorkId><ISWC>nope</ISWC></MusicalWorkId></MusicalWork></WorkList>"
    "<RightShareList><RightShare><RightSharePercentage>NaN</RightSharePercentage>"
    "<RightShareWorkReference>W9</RightShareWorkReference></RightShare></RightShareList>"
    "</MusicalWorkClaimNotificationMessage>",
    ROOT + "</MusicalWorkClaimNotificationMessage>",
]  # fmt: skip


@pytest.mark.parametrize("data", HOSTILE, ids=["dtd", "deep", "nul", "root", "binary"])
def test_a_hostile_file_fails_whole_and_imports_nothing(data: bytes) -> None:
    with pytest.raises(UnreadableFile):
        works(publisher(), data)
    assert not Work.objects.exists()


@pytest.mark.parametrize("text", ODD, ids=["empty-elements", "empty-message"])
def test_odd_but_well_formed_messages_are_answered_with_problems_never_an_error(text: str) -> None:
    report = works(publisher(), text)
    assert not Work.objects.exists()
    assert all(p.where.startswith("/mwn:") for p in report.problems)
    assert bool(report.problems) == ("<WorkList>" in text)
