"""Deterministic DDEX ERN ``NewReleaseMessage`` documents for tests and benchmarks (test data:
tests/governance/test_ddex.py, tests/governance/test_import.py, benchmarks/catalog_import.py).

Pure: no Django, no clock, no randomness; the same arguments give the same bytes. Each document
is one album Release by one artist on ``label`` with ``recordings`` SoundRecordings, shaped like
``docs/samples/ern-4.3-sample.xml`` or ``docs/samples/ern-3.8.2-sample.xml``::

    ISRC   GB + registrant (3 letters from the seed) + 24 + track number (00001..99999)
    ICPN   EAN-13: 50 + 10 digits from the seed + GS1 check digit (python-stdnum)
    rights the label controls each recording at 100 %, worldwide; one worldwide streaming deal

Values are derived from SHA-256 of the seed, so different seeds give different registrants,
ICPNs, artists, titles and durations, while one document never repeats an ISRC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from xml.sax.saxutils import escape

from stdnum import ean

VERSIONS: Final = ("4.3", "3.8.2", "4.3.2")
MAX_RECORDINGS: Final = 99_999
"""An ISRC designation code has five digits."""

_ARTISTS: Final = ("Ada Vale", "Jonah Reed", "Mara Quill", "Tobias Fen", "Lior Ashby")
_WORDS: Final = (
    ("Harbour", "Low", "Northern", "Silver", "Quiet", "Amber", "Distant", "Paper", "Winter"),
    ("Lights", "Tide", "Compass", "Rose", "Lantern", "Shore", "Orchard", "Signal", "Harvest"),
)


def ern_document(
    *,
    recordings: int,
    version: str = "4.3",
    label: str = "Northwind Records",
    seed: int = 0,
    ai: Mapping[int, str] | None = None,
) -> bytes:
    """A NewReleaseMessage in ERN ``version`` ("4.3", "3.8.2" or "4.3.2": 4.3's shape in the
    ``ern/432`` namespace) with ``recordings`` tracks. ``ai`` gives tracks (by number, from 1)
    an AI declaration: ERN 4.3.2 a ``ContainsAI`` with that value (after
    ``ParentalWarningType``, as the 4.3.2 schema orders it), ERN 3.8.2 a ``Keywords`` with that
    text in the track's details (the free-form flag); ERN 4.3 has no such element."""
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}, not {version!r}")
    if ai and version == "4.3":
        raise ValueError("ERN 4.3 has no ContainsAI: declare AI in 4.3.2 (or 3.8.2 Keywords)")
    if not 1 <= recordings <= MAX_RECORDINGS:
        raise ValueError(f"recordings must be 1..{MAX_RECORDINGS}, not {recordings}")
    registrant = "".join(chr(ord("A") + _number(seed, "registrant", i) % 26) for i in range(3))
    digits = "50" + "".join(str(_number(seed, "icpn", i) % 10) for i in range(10))
    album = _Album(
        label=escape(label),
        artist=escape(_ARTISTS[_number(seed, "artist") % len(_ARTISTS)]),
        title=escape(_title(seed, "album")),
        icpn=digits + ean.calc_check_digit(digits),
        message_id=f"CSY-{seed}-{recordings}-{version}",
        tracks=tuple(
            _Track(
                ref=f"A{n}",
                isrc=f"GB{registrant}24{n:05d}",
                title=escape(_title(seed, n)),
                duration=_duration(120 + _number(seed, "duration", n) % 300),
                ai=escape((ai or {}).get(n, "")),
            )
            for n in range(1, recordings + 1)
        ),
    )
    if version == "3.8.2":
        return _ern382(album).encode()
    document = _ern43(album)
    if version == "4.3.2":
        document = document.replace('xmlns:ern="http://ddex.net/xml/ern/43"',
                                    'xmlns:ern="http://ddex.net/xml/ern/432"', 1)  # fmt: skip
    return document.encode()


@dataclass(frozen=True, slots=True)
class _Track:
    ref: str
    isrc: str
    title: str
    duration: str
    ai: str = ""


@dataclass(frozen=True, slots=True)
class _Album:
    label: str
    artist: str
    title: str
    icpn: str
    message_id: str
    tracks: tuple[_Track, ...]


def _number(seed: int, *parts: object) -> int:
    data = ":".join(str(part) for part in (seed, *parts)).encode()
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def _title(seed: int, which: object) -> str:
    first, second = _WORDS
    n = _number(seed, "title", which)
    return f"{first[n % len(first)]} {second[(n // len(first)) % len(second)]}"


def _duration(seconds: int) -> str:
    return f"PT{seconds // 60}M{seconds % 60}S"


def _header(album: _Album) -> str:
    return f"""  <MessageHeader>
    <MessageThreadId>{album.message_id}</MessageThreadId>
    <MessageId>{album.message_id}</MessageId>
    <MessageSender>
      <PartyId>PADPIDA2024051501N</PartyId>
      <PartyName><FullName>{album.label}</FullName></PartyName>
    </MessageSender>
    <MessageRecipient>
      <PartyId>PADPIDA2024051502C</PartyId>
      <PartyName><FullName>Consentry</FullName></PartyName>
    </MessageRecipient>
    <MessageCreatedDateTime>2024-05-01T09:30:00Z</MessageCreatedDateTime>
    <MessageControlType>TestMessage</MessageControlType>
  </MessageHeader>
"""


def _ern43(album: _Album) -> str:
    recordings = "".join(
        f"""    <SoundRecording>
      <ResourceReference>{t.ref}</ResourceReference>
      <Type>MusicalWorkSoundRecording</Type>
      <SoundRecordingEdition>
        <ResourceId><ISRC>{t.isrc}</ISRC></ResourceId>
        <PLine><Year>2024</Year><PLineText>(P) 2024 {album.label}</PLineText></PLine>
      </SoundRecordingEdition>
      <DisplayTitleText>{t.title}</DisplayTitleText>
      <DisplayTitle><TitleText>{t.title}</TitleText></DisplayTitle>
      <DisplayArtistName>{album.artist}</DisplayArtistName>
      <DisplayArtist SequenceNumber="1">
        <ArtistPartyReference>P_ARTIST</ArtistPartyReference>
        <DisplayArtistRole>MainArtist</DisplayArtistRole>
      </DisplayArtist>
      <ResourceRightsController>
        <RightsControllerPartyReference>P_LABEL</RightsControllerPartyReference>
        <RightsControlType>RightsController</RightsControlType>
        <RightSharePercentage>100</RightSharePercentage>
        <DelegatedUsageRights>
          <UseType>OnDemandStream</UseType>
          <TerritoryOfRightsDelegation>Worldwide</TerritoryOfRightsDelegation>
        </DelegatedUsageRights>
      </ResourceRightsController>
      <Duration>{t.duration}</Duration>
      <ParentalWarningType>NotExplicit</ParentalWarningType>
{f"      <ContainsAI>{t.ai}</ContainsAI>{chr(10)}" if t.ai else ""}\
    </SoundRecording>
"""
        for t in album.tracks
    )
    items = "".join(
        f"""          <ResourceGroupContentItem>
            <SequenceNumber>{n}</SequenceNumber>
            <ReleaseResourceReference>{t.ref}</ReleaseResourceReference>
          </ResourceGroupContentItem>
"""
        for n, t in enumerate(album.tracks, start=1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43" AvsVersionId="4" \
LanguageAndScriptCode="en">
{_header(album)}  <PartyList>
    <Party>
      <PartyReference>P_ARTIST</PartyReference>
      <PartyName><FullName>{album.artist}</FullName></PartyName>
    </Party>
    <Party>
      <PartyReference>P_LABEL</PartyReference>
      <PartyName><FullName>{album.label}</FullName></PartyName>
    </Party>
  </PartyList>
  <ResourceList>
{recordings}  </ResourceList>
  <ReleaseList>
    <Release>
      <ReleaseReference>R0</ReleaseReference>
      <ReleaseType>Album</ReleaseType>
      <ReleaseId><ICPN>{album.icpn}</ICPN></ReleaseId>
      <DisplayTitleText>{album.title}</DisplayTitleText>
      <DisplayTitle><TitleText>{album.title}</TitleText></DisplayTitle>
      <DisplayArtistName>{album.artist}</DisplayArtistName>
      <DisplayArtist SequenceNumber="1">
        <ArtistPartyReference>P_ARTIST</ArtistPartyReference>
        <DisplayArtistRole>MainArtist</DisplayArtistRole>
      </DisplayArtist>
      <ReleaseLabelReference>P_LABEL</ReleaseLabelReference>
      <Genre><GenreText>Folk</GenreText></Genre>
      <ReleaseDate>2024-05-17</ReleaseDate>
      <ParentalWarningType>NotExplicit</ParentalWarningType>
      <ResourceGroup>
        <ResourceGroup>
          <SequenceNumber>1</SequenceNumber>
{items}        </ResourceGroup>
      </ResourceGroup>
    </Release>
  </ReleaseList>
  <DealList>
    <ReleaseDeal>
      <DealReleaseReference>R0</DealReleaseReference>
      <Deal>
        <DealTerms>
          <TerritoryCode>Worldwide</TerritoryCode>
          <ValidityPeriod><StartDate>2024-05-17</StartDate></ValidityPeriod>
          <CommercialModelType>SubscriptionModel</CommercialModelType>
          <UseType>OnDemandStream</UseType>
        </DealTerms>
      </Deal>
    </ReleaseDeal>
  </DealList>
</ern:NewReleaseMessage>
"""


def _ern382(album: _Album) -> str:
    recordings = "".join(
        f"""    <SoundRecording>
      <SoundRecordingType>MusicalWorkSoundRecording</SoundRecordingType>
      <SoundRecordingId><ISRC>{t.isrc}</ISRC></SoundRecordingId>
      <ResourceReference>{t.ref}</ResourceReference>
      <ReferenceTitle><TitleText>{t.title}</TitleText></ReferenceTitle>
      <Duration>{t.duration}</Duration>
      <SoundRecordingDetailsByTerritory>
        <TerritoryCode>Worldwide</TerritoryCode>
        <Title TitleType="DisplayTitle"><TitleText>{t.title}</TitleText></Title>
        <DisplayArtist SequenceNumber="1">
          <PartyName><FullName>{album.artist}</FullName></PartyName>
          <ArtistRole>MainArtist</ArtistRole>
        </DisplayArtist>
        <DisplayArtistName>{album.artist}</DisplayArtistName>
        <LabelName>{album.label}</LabelName>
        <RightsController>
          <PartyName><FullName>{album.label}</FullName></PartyName>
          <RightsControllerRole>RightsController</RightsControllerRole>
          <RightSharePercentage>100</RightSharePercentage>
        </RightsController>
        <PLine><Year>2024</Year><PLineText>(P) 2024 {album.label}</PLineText></PLine>
        <ParentalWarningType>NotExplicit</ParentalWarningType>
{f"        <Keywords>{t.ai}</Keywords>{chr(10)}" if t.ai else ""}\
      </SoundRecordingDetailsByTerritory>
    </SoundRecording>
"""
        for t in album.tracks
    )
    references = "".join(
        f"        <ReleaseResourceReference>{t.ref}</ReleaseResourceReference>\n"
        for t in album.tracks
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/382" MessageSchemaVersionId="ern/382" \
LanguageAndScriptCode="en">
{_header(album)}  <ResourceList>
{recordings}  </ResourceList>
  <ReleaseList>
    <Release IsMainRelease="true">
      <ReleaseId><ICPN IsEan="true">{album.icpn}</ICPN></ReleaseId>
      <ReleaseReference>R0</ReleaseReference>
      <ReferenceTitle><TitleText>{album.title}</TitleText></ReferenceTitle>
      <ReleaseResourceReferenceList>
{references}      </ReleaseResourceReferenceList>
      <ReleaseType>Album</ReleaseType>
      <ReleaseDetailsByTerritory>
        <TerritoryCode>Worldwide</TerritoryCode>
        <DisplayArtistName>{album.artist}</DisplayArtistName>
        <LabelName>{album.label}</LabelName>
        <Title TitleType="DisplayTitle"><TitleText>{album.title}</TitleText></Title>
        <ReleaseDate>2024-05-17</ReleaseDate>
      </ReleaseDetailsByTerritory>
    </Release>
  </ReleaseList>
  <DealList>
    <ReleaseDeal>
      <DealReleaseReference>R0</DealReleaseReference>
      <Deal>
        <DealTerms>
          <CommercialModelType>SubscriptionModel</CommercialModelType>
          <Usage><UseType>OnDemandStream</UseType></Usage>
          <TerritoryCode>Worldwide</TerritoryCode>
          <ValidityPeriod><StartDate>2024-05-17</StartDate></ValidityPeriod>
        </DealTerms>
      </Deal>
    </ReleaseDeal>
  </DealList>
</ern:NewReleaseMessage>
"""
