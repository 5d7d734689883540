"""Catalog import: CSV rows and DDEX elements into works, shares and releases, with ledger
entries, line-numbered rejections, all-or-nothing, idempotent re-imports, and files that cannot
be read at all failing whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from governance.importing.records import UnreadableFile
from governance.importing.run import import_catalog
from governance.models import Credit, PartyKind, Release, RightsShare, Work
from ledger.models import PendingEntry as Pending
from tests.factories import PartyFactory

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
HEADER = "kind,isrc,iswc,title,display_artist,right,share,holder,territories\n"


def run(data: bytes, party, **kwargs):  # type: ignore[no-untyped-def]
    return import_catalog(party=party, data=data, fmt="csv", now=timezone.now(), **kwargs)


def ledger_count() -> int:
    return Pending.objects.count()


def test_the_sample_csv_imports_with_its_shares_release_and_ledger_entries() -> None:
    label = PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")
    artist = PartyFactory(kind=PartyKind.ARTIST, name="Ada Vale")
    publisher = PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    before = ledger_count()
    report = run((SAMPLES / "catalog-sample.csv").read_bytes(), label)
    assert report.problems == []
    assert report.counts["works_created"] == 4  # one composition, three recordings
    assert report.counts["shares_created"] == 5
    assert report.counts["releases_created"] == 1
    northern = Work.objects.get(isrc="GBNWR2300001")
    assert northern.composition == Work.objects.get(iswc="T0345246801")
    assert northern.duration_ms == 215_000
    assert Credit.objects.get(work=northern, role="main_artist").party == artist
    performer = RightsShare.objects.get(work=northern, right="performer")
    assert (performer.territory_mode, performer.territories) == ("exclude", ["CA", "US"])
    assert performer.valid_from == dt.date(2024, 3, 1)
    assert RightsShare.objects.get(right="publishing").holder == publisher
    release = Release.objects.get(upc="5012345678900")
    assert release.tracks.count() == 3
    assert ledger_count() - before == 4 + 5 + 1


def test_re_importing_the_same_file_changes_nothing() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    data = (SAMPLES / "catalog-sample.csv").read_bytes()
    run(data, label)
    before = (ledger_count(), Work.objects.count(), RightsShare.objects.count())
    report = run(data, label)
    assert report.problems == []
    assert (report.counts["works_created"], report.counts["works_updated"]) == (0, 0)
    assert report.counts["shares_created"] == report.counts["shares_updated"] == 0
    assert (ledger_count(), Work.objects.count(), RightsShare.objects.count()) == before


def test_a_changed_row_updates_the_work_and_bumps_its_version() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    run((HEADER + "recording,USRC17607839,,Old,A,master,100,,\n").encode(), label)
    report = run((HEADER + "recording,USRC17607839,,New,A,master,100,,\n").encode(), label)
    assert report.counts["works_updated"] == 1
    work = Work.objects.get(isrc="USRC17607839")
    assert (work.title, work.version) == ("New", 2)


def test_bad_rows_are_reported_by_line_and_the_valid_ones_imported() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    data = (
        HEADER
        + "recording,USRC17607839,,Good,A,master,100,,\n"
        + "recording,USRC1760783,,Short ISRC,A,master,100,,\n"
        + "recording,USRC17607840,,Bad share,A,master,140,,\n"
        + "recording,USRC17607841,,Bad territory,A,master,10,,FR QQ\n"
        + "recording,USRC17607842,,Unknown holder,A,master,10,Nobody Inc,\n"
        + "song,USRC17607843,,Bad kind,A,,,,\n"
    ).encode()
    report = run(data, label)
    wheres = [p.where for p in report.problems]
    assert wheres == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    reasons = " | ".join(p.reason for p in report.problems)
    assert "ISRC" in reasons
    assert "140" in reasons
    assert "QQ" in reasons
    assert "Nobody Inc" in reasons
    # A row that cannot be read is rejected whole; a row whose share is refused when applied
    # (its holder, the 100 % rule) keeps its valid work.
    assert set(Work.objects.values_list("title", flat=True)) == {"Good", "Unknown holder"}


def test_all_or_nothing_imports_nothing_if_anything_is_wrong() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    before = ledger_count()
    data = (
        HEADER
        + "recording,USRC17607839,,Good,A,master,60,,\n"
        + "recording,USRC17607839,,Good,A,master,60,Other Label,\n"
    ).encode()
    PartyFactory(kind=PartyKind.LABEL, name="Other Label")
    before = ledger_count()
    report = run(data, label, all_or_nothing=True)
    assert [p.where for p in report.problems] == ["line 3"]
    assert "100 %" in report.problems[0].reason
    assert not Work.objects.exists()
    assert ledger_count() == before


def test_an_overshooting_share_names_the_share_it_conflicts_with() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    run((HEADER + "recording,USRC17607839,,Song,A,master,70,,\n").encode(), label)
    existing = RightsShare.objects.get()
    PartyFactory(kind=PartyKind.LABEL, name="Rival")
    report = run((HEADER + "recording,USRC17607839,,Song,A,master,40,Rival,FR\n").encode(), label)
    assert str(existing.pk) in report.problems[0].reason
    assert "FR" in report.problems[0].reason


def test_another_partys_work_cannot_be_changed_by_import() -> None:
    owner = PartyFactory(kind=PartyKind.LABEL)
    run((HEADER + "recording,USRC17607839,,Song,A,master,100,,\n").encode(), owner)
    rival = PartyFactory(kind=PartyKind.LABEL)
    report = run((HEADER + "recording,USRC17607839,,Stolen,A,master,10,,\n").encode(), rival)
    assert "another party" in report.problems[0].reason
    assert Work.objects.get().title == "Song"


ERN = b'<NewReleaseMessage xmlns="http://ddex.net/xml/ern/43">'
BIG = 50 * 1024 * 1024
UNREADABLE = [
    # (file, format, where, reason)
    (b"title,colour\nA,red\n", "csv", "line 1", "unknown column 'colour'"),
    (b"isrc\nUSRC17607839\n", "csv", "line 1", "missing column 'title'"),
    (b"\xff\xfe", "csv", "file", "not UTF-8"),
    (b"title\nCaf\xc3\n", "csv", "file", "not UTF-8 text (byte 9)"),
    (b"title\n\xed\xa0\x80\n", "csv", "file", "not UTF-8"),  # a lone surrogate, encoded
    (b"", "csv", "file", "empty"),
    (b" \r\n\n", "csv", "file", "empty"),
    (b"title,isrc\n", "csv", "line 2", "no rows after the header"),
    (b"title\nA\nB\x00\x01\x02\n", "csv", "line 3", "NUL byte"),  # a binary file
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "csv", "file", "not UTF-8"),
    (b"title\nA\n" + b"x" * BIG + b"\n", "csv", "line 3", "longer than 131,072 characters"),
    (b"<NewReleaseMessage", "ddex", "/ (line 1)", "not well-formed XML"),
    (ERN + b"<Title>Caf\xe9</Title></NewReleaseMessage>", "ddex", "/ (line 1)", "not well-formed"),
    (
        b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        + ERN + b"&x;</NewReleaseMessage>",
        "ddex", "/", "document type declarations are refused",
    ),
    (
        b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        + ERN + b"&b;</NewReleaseMessage>",
        "ddex", "/", "document type declarations are refused",
    ),
    (ERN + b"\n<T>" + b"x" * BIG + b"</T></NewReleaseMessage>", "ddex", "/ (line 2)",
     "Text node too long"),
    (b"<html/>", "ddex", "/", "root element is 'html', not a DDEX ERN NewReleaseMessage"),
    (b"", "ddex", "/ (line 1)", "not well-formed XML"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "fmt", "where", "reason"), UNREADABLE)
def test_a_file_that_cannot_be_read_at_all_fails_whole_naming_where_and_why(
    data: bytes, fmt: str, where: str, reason: str
) -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    before = ledger_count()
    with pytest.raises(UnreadableFile) as unreadable:
        import_catalog(party=label, data=data, fmt=fmt, now=timezone.now())  # type: ignore[arg-type]
    assert unreadable.value.problem.where == where
    assert reason in unreadable.value.problem.reason
    assert not Work.objects.exists()
    assert ledger_count() == before


def test_rows_read_before_an_unreadable_line_are_not_imported() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    data = (HEADER + "recording,USRC17607839,,Good,A,master,100,,\n").encode()
    with pytest.raises(UnreadableFile, match="line 3: malformed CSV"):
        run(data + b'recording,USRC17607840,,"' + b"x" * 200_000 + b'",A,,,,\n', label)
    assert not Work.objects.exists()


def test_a_readable_file_with_a_bad_row_still_rejects_only_that_row() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    report = run(b'title,isrc\n"A,USRC17607839\n', label)  # a quote left open to the end
    assert [p.where for p in report.problems] == ["line 2"]
    assert "isrc" in report.problems[0].reason


def test_the_command_imports_and_exits_1_on_rejections(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")
    PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    call_command("import_catalog", str(SAMPLES / "catalog-sample.csv"),
                 "--party", "Northwind Records")  # fmt: skip
    assert "works_created 4" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "recording,USRC1760783,,Bad,A,,,,\n")
    with pytest.raises(SystemExit) as exit_:
        call_command("import_catalog", str(bad), "--party", "Northwind Records")
    assert exit_.value.code == 1
    assert "line 2: isrc: ISRC must be 12 characters" in capsys.readouterr().err


def test_the_command_exits_2_naming_the_problem_when_the_file_cannot_be_read(
    tmp_path: Path,
) -> None:
    PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")
    for name, data, named in [
        ("bad.csv", b"title\n\xff\n", "file: not UTF-8 text (byte 6)"),
        ("bad.xml", b"<NewReleaseMessage>\n<unclosed>", "/ (line 2): not well-formed XML"),
        ("xxe.xml", UNREADABLE[13][0], "/: document type declarations are refused"),
        ("header.csv", b"isrc\nUSRC17607839\n", "line 1: missing column 'title'"),
    ]:
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CommandError) as error:
            call_command("import_catalog", str(path), "--party", "Northwind Records")
        assert error.value.returncode == 2
        assert f"{path}: the file cannot be read: {named}" in str(error.value)
        assert "nothing was imported" in str(error.value)
    assert not Work.objects.exists()


@pytest.mark.parametrize("sample", ["ern-3.8.2-sample.xml", "ern-4.3-sample.xml"])
def test_a_ddex_sample_imports_its_recordings_release_and_shares(sample: str) -> None:
    label = PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")
    data = (SAMPLES / sample).read_bytes()
    # Ada Vale and Harbor Lane have joined: the feed's controllers of those names are them.
    ada = PartyFactory(kind=PartyKind.ARTIST, name="Ada Vale")
    harbor = PartyFactory(kind=PartyKind.PUBLISHER, name="Harbor Lane Music Publishing")
    report = import_catalog(party=label, data=data, fmt="ddex", now=timezone.now())
    assert report.problems == [], report.problems
    assert report.counts["works_created"] == 3
    assert report.counts["releases_created"] == 1
    assert report.counts["shares_created"] == 5
    assert report.counts["parties_named"] == 0
    assert RightsShare.objects.filter(holder=ada).count() == 1
    assert RightsShare.objects.filter(holder=harbor).count() == 1
    release = Release.objects.get()
    assert release.tracks.count() == 3
    assert all(len(w.isrc or "") == 12 for w in Work.objects.all())
    assert RightsShare.objects.filter(right="master", holder=label).exists()
    again = import_catalog(party=label, data=data, fmt="ddex", now=timezone.now())
    assert again.counts["works_created"] == again.counts["works_updated"] == 0
    assert again.counts["shares_created"] == 0


def test_a_generated_ddex_file_of_1000_recordings_imports_whole() -> None:
    from tests.ddex_samples import ern_document

    label = PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")
    for version in ("3.8.2", "4.3"):
        data = ern_document(recordings=1000, version=version, seed=7)
        report = import_catalog(party=label, data=data, fmt="ddex", now=timezone.now())
        assert report.problems == []
    assert Work.objects.count() == 1000  # the same recordings in both versions: upserted


def test_a_bad_ddex_element_is_reported_by_xpath_and_the_rest_imported() -> None:
    from tests.ddex_samples import ern_document

    label = PartyFactory(kind=PartyKind.LABEL, name="Northwind Records")
    data = ern_document(recordings=3, version="4.3", seed=1)
    first_isrc = data.split(b"<ISRC>")[1].split(b"</ISRC>")[0]
    data = data.replace(first_isrc, b"NOT-AN-ISRC", 1)
    report = import_catalog(party=label, data=data, fmt="ddex", now=timezone.now())
    assert len(report.problems) == 1
    assert "SoundRecording[ResourceReference='A1']" in report.problems[0].where
    assert "ISRC" in report.problems[0].reason
    assert Work.objects.count() == 2


def test_the_ai_declaration_column_is_read_and_a_bad_value_rejects_its_row() -> None:
    label = PartyFactory(kind=PartyKind.LABEL)
    data = (
        b"kind,isrc,iswc,title,ai_declaration\n"
        b"recording,USRC17607839,,Made by a model,generated\n"
        b"recording,USRC17607840,,Helped by one,Partly\n"
        b"recording,USRC17607841,,Silent,\n"
        b"recording,USRC17607842,,Unsure,maybe\n"
        b"composition,,T0345246801,A song,none\n"
    )
    report = run(data, label)
    assert [(p.where, p.reason) for p in report.problems] == [
        ("line 5", "ai_declaration: 'maybe' is not one of generated, assisted, none"),
        ("line 6", "ai_declaration: only a recording is declared made with AI"),
    ]
    stored = dict(Work.objects.values_list("title", "ai_declaration"))
    assert stored == {"Made by a model": "generated", "Helped by one": "assisted", "Silent": ""}
    assert Work.objects.get(title="Helped by one").ai_declared_in == ["ai_declaration"]
