"""governance.ddex reads ERN 3.8.x and 4.x NewReleaseMessages; no database is needed.

Known answers come from docs/samples/ern-3.8.2-sample.xml and docs/samples/ern-4.3-sample.xml,
which describe the same fictional album; large files come from tests/ddex_samples.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from stdnum import ean, isrc

from governance.ddex import (
    DdexError,
    DdexMessage,
    DdexParty,
    DdexRecording,
    DdexRelease,
    DdexRightsController,
    parse_ern,
)
from tests.ddex_samples import ern_document

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
ERN_382 = SAMPLES / "ern-3.8.2-sample.xml"
ERN_43 = SAMPLES / "ern-4.3-sample.xml"

ADA = DdexParty("Ada Vale", isni="0000000495127812")
JONAH = DdexParty("Jonah Reed", isni="0000000512345679")
MIRO = DdexParty("Miro Hale", isni="0000000488123450")
NORTHWIND = DdexParty("Northwind Records")
HARBOUR_PINE = DdexParty("Harbor Lane Music Publishing")
WORLD = ("Worldwide",)
DEALT = ("CA", "GB", "IE", "US")  # The 4.3 sample's one deal: a 4.x recording's territories.


def _controller(
    party: DdexParty, share: str, where: tuple[str, ...] = WORLD
) -> DdexRightsController:
    return DdexRightsController(party, ("RightsController",), Decimal(share), where)


def _recording(position: int, line: int, **fields: object) -> DdexRecording:
    defaults: dict[str, object] = {
        "display_artist": "Ada Vale",
        "artists": (ADA,),
        "language": "en",
        "languages": ("en",),
        "p_line": "(P) 2024 Northwind Records",
        "p_year": 2024,
        "territories": WORLD,
        "resource_reference": f"A{position}",
        "genre": "Folk",
        "parental_warning": "NotExplicit",
    }
    xpath = f"/ern:NewReleaseMessage/ResourceList/SoundRecording[ResourceReference='A{position}']"
    return DdexRecording(xpath=xpath, line=line, **(defaults | fields))  # type: ignore[arg-type]


def _expected(version: str, lines: tuple[int, int, int, int]) -> DdexMessage:
    """The sample album as each sample file must read it. 3.8.2 gives territories per
    recording (Worldwide); 4.3 takes a recording's from the deals of its releases (the album's:
    CA, GB, IE, US), and names Northwind by its DPID."""
    v4 = version == "4.3"
    where = DEALT if v4 else WORLD
    northwind = DdexParty("Northwind Records", dpid="PADPIDA2024051501N") if v4 else NORTHWIND

    def controller(party: DdexParty, share: str) -> DdexRightsController:
        return _controller(northwind if party == NORTHWIND else party, share, where)

    def recording(position: int, line: int, **fields: object) -> DdexRecording:
        return _recording(position, line, territories=where, **fields)

    recordings = (
        recording(
            1,
            lines[0],
            isrc="GBNWR2400001",
            title="Harbour Lights",
            contributors=((MIRO, "Producer"), (ADA, "Composer")),
            duration_ms=200_000,
            rights_controllers=(controller(NORTHWIND, "100"),),
        ),
        recording(
            2,
            lines[1],
            isrc="GBNWR2400002",
            title="Low Tide",
            display_artist="Ada Vale feat. Jonah Reed",
            contributors=(
                (JONAH, "FeaturedArtist"),
                (MIRO, "Producer"),
                (ADA, "Composer"),
                (ADA, "Lyricist"),
            ),
            duration_ms=245_500,
            rights_controllers=(controller(NORTHWIND, "75"), controller(ADA, "25")),
        ),
        recording(
            3,
            lines[2],
            isrc="GBNWR2400003",
            title="Compass Rose",
            contributors=((MIRO, "Composer"),),
            duration_ms=178_000,
            language="ga",
            languages=("ga",),
            p_line="(P) 2023 Harbor Lane Music Publishing, under exclusive licence to "
            + NORTHWIND.name,
            p_year=2023,
            rights_controllers=(controller(NORTHWIND, "50.5"), controller(HARBOUR_PINE, "49.5")),
        ),
    )
    release = DdexRelease(
        xpath="/ern:NewReleaseMessage/ReleaseList/Release",
        line=lines[3],
        upc="5060482139075",
        title="Northern Lights",
        display_artist="Ada Vale",
        release_date=dt.date(2024, 5, 17),
        recording_isrcs=("GBNWR2400001", "GBNWR2400002", "GBNWR2400003"),
        territories=("GB", "IE", "US", "CA"),
        excluded_territories=(),
        catalog_number="NWR024",
        label_name="Northwind Records",
        genre="Folk",
        parental_warning="NotExplicit",
    )
    message_id = "NWR-2024-0517-0001" if version == "3.8.2" else "NWR-2024-0517-0002"
    return DdexMessage(version, message_id, "Northwind Records", (release,), recordings, ())


def _edited(path: Path, old: str, new: str, count: int = 1) -> bytes:
    text = path.read_text()
    assert text.count(old) >= count, f"{old!r} is not in {path.name}"
    return text.replace(old, new, count).encode()


def _unplaced(message: DdexMessage) -> tuple[object, ...]:
    def strip(item: DdexRecording | DdexRelease) -> object:
        return dataclasses.replace(item, xpath="", line=0)

    return tuple(map(strip, message.recordings)), tuple(map(strip, message.releases))


def test_it_reads_the_ern_382_sample_exactly() -> None:
    assert parse_ern(ERN_382) == _expected("3.8.2", (30, 70, 122, 172))


def test_it_reads_the_ern_43_sample_exactly() -> None:
    assert parse_ern(ERN_43) == _expected("4.3", (56, 95, 148, 199))


def test_both_samples_describe_the_same_album() -> None:
    # But for what only one version says: 4.3's territories come from its deal, and it gives
    # Northwind's DPID.
    assert _unplaced(_as_382(parse_ern(ERN_43))) == _unplaced(parse_ern(ERN_382))


def _as_382(message: DdexMessage) -> DdexMessage:
    def recording(r: DdexRecording) -> DdexRecording:
        controllers = tuple(
            dataclasses.replace(c, party=dataclasses.replace(c.party, dpid=None), territories=WORLD)
            for c in r.rights_controllers
        )
        return dataclasses.replace(r, territories=WORLD, rights_controllers=controllers)

    return dataclasses.replace(message, recordings=tuple(map(recording, message.recordings)))


def test_it_accepts_bytes_xml_text_and_binary_files() -> None:
    expected = parse_ern(ERN_43)
    assert parse_ern(ERN_43.read_bytes()) == expected
    assert parse_ern(ERN_43.read_text()) == expected
    with ERN_43.open("rb") as handle:
        assert parse_ern(handle) == expected


@pytest.mark.parametrize("version", ["4.3", "3.8.2"])
def test_a_generated_file_of_1000_recordings_parses_whole(version: str) -> None:
    # Its speed is measured by `make bench BENCH=catalog_import`, not asserted here: a timed
    # assertion measures the machine's other load as much as the parser.
    document = ern_document(recordings=1000, version=version)

    message = parse_ern(document)

    assert message.ern_version == version
    assert message.problems == ()
    assert len(message.recordings) == 1000
    isrcs = [recording.isrc for recording in message.recordings]
    assert len(set(isrcs)) == 1000
    assert all(isrc.is_valid(code) for code in isrcs)
    (release,) = message.releases
    assert release.recording_isrcs == tuple(isrcs)
    assert ean.is_valid(release.upc)
    assert release.territories == WORLD


def test_generated_documents_are_deterministic_and_vary_with_the_seed() -> None:
    first = ern_document(recordings=3, seed=1)
    assert first == ern_document(recordings=3, seed=1)
    assert first != ern_document(recordings=3, seed=2)
    labelled = parse_ern(ern_document(recordings=2, version="3.8.2", label="Fox & Hound"))
    assert labelled.recordings[0].rights_controllers[0].party == DdexParty("Fox & Hound")
    with pytest.raises(ValueError, match="version"):
        ern_document(recordings=1, version="3.4.1")


@pytest.mark.parametrize(
    ("sample", "isrc_element", "line"),
    [
        (ERN_382, "<SoundRecordingId><ISRC>GBNWR2400002</ISRC></SoundRecordingId>", 70),
        (ERN_43, "<ResourceId><ISRC>GBNWR2400002</ISRC></ResourceId>", 95),
    ],
)
def test_a_recording_without_isrc_is_one_problem_and_the_others_are_kept(
    sample: Path, isrc_element: str, line: int
) -> None:
    message = parse_ern(_edited(sample, isrc_element, "<!-- ISRC withheld -->"))

    (problem,) = message.problems
    assert problem.xpath == (
        "/ern:NewReleaseMessage/ResourceList/SoundRecording[ResourceReference='A2']"
    )
    assert problem.line == line
    assert problem.reason == "SoundRecording A2 rejected: it has no ISRC"
    assert [r.isrc for r in message.recordings] == ["GBNWR2400001", "GBNWR2400003"]
    assert message.releases[0].recording_isrcs == ("GBNWR2400001", "GBNWR2400003")


def test_an_unknown_party_reference_rejects_its_recording() -> None:
    message = parse_ern(
        _edited(ERN_43, "<ArtistPartyReference>P_JONAH_REED", "<ArtistPartyReference>P_NOBODY")
    )

    (problem,) = message.problems
    assert problem.xpath == (
        "/ern:NewReleaseMessage/ResourceList/SoundRecording[ResourceReference='A2']"
        "/DisplayArtist[2]"
    )
    assert "'P_NOBODY' names no Party" in problem.reason
    assert [r.isrc for r in message.recordings] == ["GBNWR2400001", "GBNWR2400003"]


def test_bad_values_reject_their_recording_naming_each() -> None:
    document = _edited(ERN_43, "<Duration>PT2M58S</Duration>", "<Duration>2:58</Duration>")
    document = document.replace(b">49.5<", b">149.5<")
    message = parse_ern(document)

    assert [p.reason for p in message.problems] == [
        "SoundRecording A3 rejected: RightSharePercentage 149.5 is outside 0..100",
        "SoundRecording A3 rejected: Duration '2:58' is not an ISO 8601 duration such as PT3M20S",
    ]
    assert [r.isrc for r in message.recordings] == ["GBNWR2400001", "GBNWR2400002"]


def test_an_unknown_share_reads_as_none() -> None:
    known = "<RightSharePercentage>100</RightSharePercentage>"
    message = parse_ern(_edited(ERN_382, known, "<RightShareUnknown>true</RightShareUnknown>"))
    assert message.recordings[0].rights_controllers[0].share_percent is None


def test_a_deal_given_by_exclusions_covers_the_world_minus_them() -> None:
    document = _edited(ERN_43, "<TerritoryCode>GB</TerritoryCode>", "")
    document = document.replace(b"<TerritoryCode>", b"<ExcludedTerritoryCode>").replace(
        b"</TerritoryCode>", b"</ExcludedTerritoryCode>"
    )
    (release,) = parse_ern(document).releases
    assert release.territories == WORLD
    assert release.excluded_territories == ("IE", "US", "CA")


def test_ern_382_ipi_party_ids_and_user_defined_roles_are_read() -> None:
    document = _edited(
        ERN_382,
        "<ResourceContributorRole>Producer</ResourceContributorRole>",
        '<ResourceContributorRole UserDefinedValue="Programmer">UserDefined'
        "</ResourceContributorRole>",
    ).replace(b'IsISNI="true">0000000488123450', b'Namespace="IPI">00052210040', 1)
    harbour_lights = parse_ern(document).recordings[0]
    assert harbour_lights.contributors[0] == (
        DdexParty("Miro Hale", ipi="00052210040"),
        "Programmer",
    )


def test_ern_41_shapes_are_read() -> None:
    # ERN 4.1 has no SoundRecordingEdition and names the role RightsControllerRole.
    document = ERN_43.read_text().replace(
        "http://ddex.net/xml/ern/43", "http://ddex.net/xml/ern/411"
    )
    document = document.replace("<SoundRecordingEdition>", "").replace(
        "</SoundRecordingEdition>", ""
    )
    document = document.replace("<Type>NonImmersiveEdition</Type>", "")
    document = document.replace("RightsControlType>", "RightsControllerRole>")
    message = parse_ern(document)
    assert message.ern_version == "4.1.1"
    assert _unplaced(message) == _unplaced(parse_ern(ERN_43))


def test_children_in_the_ern_namespace_are_read_too() -> None:
    # Some senders declare the ERN namespace as the default, which qualifies every child.
    document = (
        ERN_43.read_text().replace("xmlns:ern=", "xmlns=").replace("ern:NewRelease", "NewRelease")
    )
    message = parse_ern(document)
    assert _unplaced(message) == _unplaced(parse_ern(ERN_43))
    assert message.recordings[2].xpath == (
        "/ern:NewReleaseMessage/ern:ResourceList/ern:SoundRecording[ern:ResourceReference='A3']"
    )


def test_non_xml_is_refused_with_its_line_and_column() -> None:
    with pytest.raises(DdexError, match=r"not well-formed XML \(line 2, column 9\)"):
        parse_ern(b"<a>\n <b></a>")
    with pytest.raises(DdexError, match="not XML"):
        parse_ern(str(ERN_43))  # A path given as str is not read from disk.


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"<catalog/>", "root element is 'catalog', not a DDEX ERN NewReleaseMessage"),
        (
            b'<ern:PurgeReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43"/>',
            "root element is 'PurgeReleaseMessage'",
        ),
        (
            b'<NewReleaseMessage xmlns="http://example.com/ern"/>',
            "namespace 'http://example.com/ern' is not supported",
        ),
        (b"<NewReleaseMessage/>", "namespace '' is not supported"),
        (
            b'<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/341"/>',
            "ERN 3.4.1 is not supported: this reader takes ERN 3.8.x and 4.x",
        ),
    ],
)
def test_a_wrong_root_or_namespace_is_refused(document: bytes, message: str) -> None:
    with pytest.raises(DdexError, match=message.replace("(", r"\(")):
        parse_ern(document)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "secret"])
def test_an_external_entity_does_not_leak_the_file(tmp_path: Path, target: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:TOP-SECRET\n")
    url = secret.as_uri() if target == "secret" else target
    doctype = f'<!DOCTYPE ern:NewReleaseMessage [<!ENTITY leak SYSTEM "{url}">]>'
    document = (
        ERN_43.read_text()
        .replace("<ern:NewReleaseMessage", f"{doctype}\n<ern:NewReleaseMessage")
        .replace("<MessageId>NWR-2024-0517-0002", "<MessageId>&leak;")
    )

    with pytest.raises(DdexError, match="document type declarations are refused") as refused:
        parse_ern(document.encode())
    assert "root:" not in str(refused.value)
    assert "TOP-SECRET" not in str(refused.value)


def test_an_entity_bomb_is_refused_without_expansion() -> None:
    bomb = (
        b'<!DOCTYPE lol [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43">&b;</ern:NewReleaseMessage>'
    )
    with pytest.raises(DdexError, match="document type declarations are refused"):
        parse_ern(io.BytesIO(bomb))


def test_references_to_nothing_are_problems() -> None:
    document = _edited(ERN_382, '"SecondaryResource">A4<', '"SecondaryResource">A9<')
    document = document.replace(b"<DealReleaseReference>R0<", b"<DealReleaseReference>R7<")
    message = parse_ern(document)

    assert [(p.xpath, p.line, p.reason) for p in message.problems] == [
        (
            "/ern:NewReleaseMessage/DealList/ReleaseDeal/DealReleaseReference",
            209,
            "DealReleaseReference 'R7' names no Release",
        ),
        (
            "/ern:NewReleaseMessage/ReleaseList/Release/ReleaseResourceReferenceList"
            "/ReleaseResourceReference[4]",
            183,
            "ReleaseResourceReference 'A9' names no ResourceList item",
        ),
    ]
    # Without a deal, an ERN 3.8 release's territories come from its details.
    assert message.releases[0].territories == WORLD


def test_a_recording_without_isrc_or_title_is_rejected_with_both_reasons() -> None:
    document = ERN_382.read_text().replace("<ISRC>GBNWR2400003</ISRC>", "")
    document = document.replace(
        "<ReferenceTitle><TitleText>Compass Rose</TitleText></ReferenceTitle>", ""
    )
    document = document.replace(
        '<Title TitleType="DisplayTitle"><TitleText>Compass Rose</TitleText></Title>', ""
    )
    assert [p.reason for p in parse_ern(document).problems] == [
        "SoundRecording A3 rejected: it has no ISRC",
        "SoundRecording A3 rejected: it has no title",
    ]


def test_an_ern_382_rights_controller_under_exclusions_rejects_its_recording() -> None:
    # The file's first Worldwide is Harbour Lights' details. Reading "everywhere but FR" as
    # Worldwide would grant too much, and dropping the controller would misstate ownership.
    worldwide = "<TerritoryCode>Worldwide</TerritoryCode>"
    all_but_fr = "<ExcludedTerritoryCode>FR</ExcludedTerritoryCode>"
    message = parse_ern(_edited(ERN_382, worldwide, all_but_fr))

    (problem,) = message.problems
    assert problem.reason == (
        "SoundRecording A1 rejected: RightsController: its details name no TerritoryCode"
    )
    assert [r.isrc for r in message.recordings] == ["GBNWR2400002", "GBNWR2400003"]


def test_reading_reports_bytes_read_up_to_the_size() -> None:
    from governance.ddex.digest import parse_ern_digested
    from tests.ddex_samples import ern_document

    data = ern_document(recordings=300, seed=10)
    seen: list[tuple[int, int]] = []
    parse_ern_digested(data, on_read=lambda done, size: seen.append((done, size)))
    assert len(seen) > 10  # about each 1 % of the file
    assert all(size == len(data) for _, size in seen)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (len(data), len(data))
