"""Which elements of an ERN message make which fields of :mod:`governance.ddex.model`, and which
elements are rejected (each a :class:`~governance.ddex.model.DdexProblem`).

Elements read (``|``: the first one present)::

  both     MessageHeader/MessageId; MessageHeader/MessageSender/PartyName/FullName | PartyId
           DealList/ReleaseDeal: DealReleaseReference, Deal/DealTerms/TerritoryCode and
           ExcludedTerritoryCode (exclusions alone mean Worldwide minus them)
  ERN 3.8  ResourceList/SoundRecording: SoundRecordingId/ISRC (unless IsReplaced="true"),
           ResourceReference, ReferenceTitle/TitleText | Title[@TitleType=DisplayTitle]/TitleText,
           Duration, LanguageOfPerformance; SoundRecordingDetailsByTerritory (Worldwide first):
           TerritoryCode, DisplayArtistName, PLine/Year + PLineText, DisplayArtist (ArtistRole),
           ResourceContributor (ResourceContributorRole), IndirectResourceContributor
           (IndirectResourceContributorRole), RightsController (RightsControllerRole,
           RightSharePercentage | RightShareUnknown); each party inline as PartyName/FullName and
           PartyId (IsISNI="true" or Namespace="ISNI" -> isni, Namespace="IPI..." -> ipi)
           ReleaseList/Release: ReleaseId/ICPN | EAN | UPC, ReleaseReference,
           ReferenceTitle/TitleText, ReleaseResourceReferenceList/ReleaseResourceReference,
           ReleaseDetailsByTerritory (TerritoryCode, ExcludedTerritoryCode, DisplayArtistName,
           ReleaseDate | OriginalReleaseDate), GlobalReleaseDate | GlobalOriginalReleaseDate
  ERN 4.x  PartyList/Party: PartyReference, PartyName/FullName, PartyId/ISNI, PartyId/IpiNameNumber
           ResourceList/SoundRecording: ResourceReference, SoundRecordingEdition/ResourceId/ISRC
           (4.2+) | ResourceId/ISRC (4.1), DisplayTitleText | DisplayTitle/TitleText,
           DisplayArtistName, DisplayArtist (ArtistPartyReference, DisplayArtistRole,
           ArtisticRole), Contributor and SoundRecordingEdition/EditionContributor
           (ContributorPartyReference, Role), SoundRecordingEdition/PLine | PLine,
           ResourceRightsController (RightsControllerPartyReference, RightsControlType (4.2+) |
           RightsControllerRole (4.1), RightSharePercentage | RightShareUnknown,
           DelegatedUsageRights/TerritoryOfRightsDelegation), Duration, LanguageOfPerformance
           ReleaseList/Release (not TrackRelease): ReleaseReference, ReleaseId/ICPN,
           DisplayTitleText | DisplayTitle/TitleText, DisplayArtistName, ReleaseDate |
           OriginalReleaseDate, ResourceGroup//ReleaseResourceReference

Of repeated 4.x values the ``IsDefault="true"`` one wins, then one without
``ApplicableTerritoryCode``, then the first. Display artists whose roles include MainArtist or
Artist (or who have none) are ``artists``; every other role of any credited party is a
``(party, role)`` contributor; ``UserDefined`` reads as its ``UserDefinedValue``. A 3.8
recording's ``territories`` are its details' TerritoryCodes; a 4.x recording's are its rights
controllers' (default Worldwide). A 4.x rights controller without TerritoryOfRightsDelegation is
Worldwide; a 3.8 one in details given only by ExcludedTerritoryCode is rejected, as the
dataclass cannot carry the exclusion and widening it would over-grant. ``share_percent`` is
None when unknown or absent (DDEX then presumes 100 %: the caller decides).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

from governance.ddex.document import ErnDocument, node_text
from governance.ddex.model import (
    WORLDWIDE,
    DdexMessage,
    DdexParty,
    DdexRecording,
    DdexRelease,
    DdexRightsController,
)

_DURATION: Final = re.compile(
    r"^P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTIAL_DATE: Final = re.compile(r"^\d{4}(-\d{2})?$")
_MAIN_ROLES: Final = frozenset({"MainArtist", "Artist"})
_DISPLAY_TITLE: Final = "Title[@TitleType='DisplayTitle']/TitleText"
_CREDITS: Final = {  # (credited element, party reference, role elements) for ERN 3.8 and 4.x
    False: (
        ("DisplayArtist", "", ("ArtistRole",)),
        ("ResourceContributor", "", ("ResourceContributorRole",)),
        ("IndirectResourceContributor", "", ("IndirectResourceContributorRole",)),
    ),
    True: (
        ("DisplayArtist", "ArtistPartyReference", ("DisplayArtistRole", "ArtisticRole")),
        ("Contributor", "ContributorPartyReference", ("Role",)),
        ("EditionContributor", "ContributorPartyReference", ("Role",)),
    ),
}


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _territories(codes: Iterable[str]) -> tuple[str, ...]:
    found = _unique(codes)
    return (WORLDWIDE,) if WORLDWIDE in found else found


class Reader(ErnDocument):
    """One pass over one message; it collects problems while it builds the dataclasses."""

    def __init__(self, root: etree._Element, digits: str) -> None:
        super().__init__(root, digits)
        self.parties: dict[str, DdexParty] = {}

    def worldwide_first(self, blocks: list[etree._Element]) -> list[etree._Element]:
        return sorted(blocks, key=lambda block: WORLDWIDE not in self.texts(block, "TerritoryCode"))

    def party(self, el: etree._Element) -> DdexParty:
        isni = ipi = None
        for pid in self.all(el, "PartyId"):
            value, scheme = node_text(pid), (pid.get("Namespace") or "").upper()
            if value and (pid.get("IsISNI") in ("true", "1") or scheme == "ISNI"):
                isni = isni or value
            elif value and scheme.startswith("IPI"):
                ipi = ipi or value
            isni, ipi = isni or self.text(pid, "ISNI"), ipi or self.text(pid, "IpiNameNumber")
        return DdexParty(self.text(el, "PartyName/FullName") or "", isni, ipi)

    def party_of(self, el: etree._Element, ref_path: str) -> DdexParty | None:
        """ERN 4 names a Party by reference into the PartyList; ERN 3.8 describes it inline."""
        if not self.v4:
            return self.party(el)
        if (party := self.parties.get(ref := self.text(el, ref_path) or "")) is None:
            self.problem(el, f"{ref_path} {ref!r} names no Party in the PartyList")
        return party

    def duration_ms(self, sr: etree._Element) -> int | None:
        if not (text := node_text(node := next(iter(self.all(sr, "Duration")), None))):
            return None
        if not (match := _DURATION.match(text)) or text == "P":
            self.problem(node, f"Duration {text!r} is not an ISO 8601 duration such as PT3M20S")
            return None
        days, hours, minutes, seconds = (Decimal(group or 0) for group in match.groups())
        total = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def date(self, node: etree._Element | None) -> dt.date | None:
        if not (text := node_text(node)) or _PARTIAL_DATE.match(text):
            return None  # Absent, or a valid YYYY / YYYY-MM that names no single day.
        try:
            if _DATE.match(text):
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
        self.problem(node, f"{etree.QName(node).localname} {text!r} is not an ISO 8601 date")
        return None

    def p_line(self, node: etree._Element | None) -> tuple[str | None, int | None]:
        if node is None:
            return None, None
        if (year := self.text(node, "Year")) and not (year.isdigit() and len(year) == 4):
            self.problem(node, f"PLine Year {year!r} is not a four-digit year")
            year = None
        return self.text(node, "PLineText"), int(year) if year else None

    def controller(self, rc: etree._Element, where: tuple[str, ...]) -> DdexRightsController | None:
        if not where:
            self.problem(rc, "RightsController rejected: its details name no TerritoryCode")
            return None
        party, share = self.party_of(rc, "RightsControllerPartyReference"), None
        for node in self.all(rc, "RightSharePercentage"):
            scale = 100 if node.get("HasMaxValueOfOne") == "true" else 1
            try:
                share = Decimal(node_text(node)) * scale
            except InvalidOperation:
                self.problem(node, f"RightSharePercentage {node.text!r} is not a decimal")
                return None
            if not 0 <= share <= 100:
                self.problem(node, f"RightSharePercentage {share} is outside 0..100")
                return None
        roles = self.texts(rc, "RightsControllerRole") + self.texts(rc, "RightsControlType")
        return None if party is None else DdexRightsController(party, _unique(roles), share, where)

    def credits(self, blocks: list[etree._Element]) -> tuple[tuple[DdexParty, ...], Credits]:
        """Main display artists, then every other (party, role) in ``_CREDITS`` order."""
        artists: dict[DdexParty, None] = {}
        contributors: dict[tuple[DdexParty, str], None] = {}
        for tag, ref_path, role_paths in _CREDITS[self.v4]:
            for el in (el for block in blocks for el in self.all(block, tag)):
                if (party := self.party_of(el, ref_path)) is None:
                    continue
                roles = [role for path in role_paths for role in self.texts(el, path)]
                if tag == "DisplayArtist" and (not roles or _MAIN_ROLES.intersection(roles)):
                    artists[party] = None
                contributors.update(((party, r), None) for r in roles if r not in _MAIN_ROLES)
        return tuple(artists), tuple(contributors)

    def names(self, el: etree._Element, blocks: list[etree._Element]) -> tuple[str | None, str]:
        """The title and display artist name of a SoundRecording or a Release."""
        if self.v4:
            title: str | None = node_text(self.preferred(el, "DisplayTitleText"))
            title = title or self.text(el, "DisplayTitle/TitleText")
            return title, node_text(self.preferred(el, "DisplayArtistName"))
        title = self.text(el, "ReferenceTitle/TitleText") or self.first(blocks, _DISPLAY_TITLE)
        return title, self.first(blocks, "DisplayArtistName") or ""

    def recording(self, sr: etree._Element) -> DdexRecording | None:
        if self.v4:
            blocks = [*self.all(sr, "SoundRecordingEdition"), sr]  # An edition's data comes first.
            isrc = self.first(blocks, "ResourceId/ISRC")
        else:
            blocks = self.worldwide_first(self.all(sr, "SoundRecordingDetailsByTerritory"))
            ids = [i for i in self.all(sr, "SoundRecordingId") if i.get("IsReplaced") != "true"]
            isrc = self.first(ids, "ISRC")
        title, display = self.names(sr, blocks)
        if not isrc or not title:
            missing = " and no ".join(n for n, v in (("ISRC", isrc), ("title", title)) if not v)
            self.problem(sr, f"SoundRecording rejected: it has no {missing}")
            return None
        artists, contributors = self.credits(blocks)
        controllers, tag = [], "ResourceRightsController" if self.v4 else "RightsController"
        for block in blocks:
            for rc in self.all(block, tag):
                if self.v4:
                    codes = self.texts(rc, "DelegatedUsageRights/TerritoryOfRightsDelegation")
                    where = _territories(codes) or (WORLDWIDE,)
                else:
                    where = _territories(self.texts(block, "TerritoryCode"))
                controllers.append(self.controller(rc, where))
        kept = tuple(dict.fromkeys(c for c in controllers if c is not None))
        if self.v4:
            territories = _territories(t for c in kept for t in c.territories) or (WORLDWIDE,)
        else:
            territories = _territories(t for b in blocks for t in self.texts(b, "TerritoryCode"))
        pline = next((n for block in blocks for n in self.all(block, "PLine")), None)
        return DdexRecording(
            self.xpath(sr),
            sr.sourceline or 0,
            isrc,
            title,
            display or ", ".join(artist.name for artist in artists),
            artists,
            contributors,
            self.duration_ms(sr),
            self.text(sr, "LanguageOfPerformance"),
            *self.p_line(pline),
            kept,
            territories,
        )

    def release(self, el: etree._Element, known: Known) -> DdexRelease | None:
        deals, isrcs, resources = known
        if self.v4:
            blocks: list[etree._Element] = []
            dates = [self.preferred(el, "ReleaseDate"), self.preferred(el, "OriginalReleaseDate")]
            refs = list(el.iter(self.q + "ReleaseResourceReference"))
        else:
            blocks = self.worldwide_first(self.all(el, "ReleaseDetailsByTerritory"))
            tags = "ReleaseDate OriginalReleaseDate GlobalReleaseDate GlobalOriginalReleaseDate"
            dates = [n for tag in tags.split() for b in [*blocks, el] for n in self.all(b, tag)]
            refs = self.all(el, "ReleaseResourceReferenceList/ReleaseResourceReference")
        title, display = self.names(el, blocks)
        if not title:
            self.problem(el, "Release rejected: it has no title")
            return None
        ids = self.all(el, "ReleaseId")
        tracks = []
        for ref in refs:
            if (key := node_text(ref)) in isrcs:
                tracks.append(isrcs[key])
            elif key not in resources:
                self.problem(ref, f"ReleaseResourceReference {key!r} names no ResourceList item")
        included: list[str] = []
        excluded: list[str] = []
        terms = [t for ref in self.texts(el, "ReleaseReference") for t in deals.get(ref, [])]
        for scope in terms or blocks:  # A release's deals, else its 3.8 details.
            codes = self.texts(scope, "TerritoryCode")
            excl = self.texts(scope, "ExcludedTerritoryCode")
            included += codes or ([WORLDWIDE] if excl else [])
            excluded += excl
        return DdexRelease(
            self.xpath(el),
            el.sourceline or 0,
            self.first(ids, "ICPN") or self.first(ids, "EAN") or self.first(ids, "UPC"),
            title,
            display,
            self.date(next((n for n in dates if node_text(n)), None)),
            _unique(tracks),
            _territories(included),
            _unique(excluded),
        )

    def message(self) -> DdexMessage:
        root, sender = self.root, "MessageHeader/MessageSender/"
        for party in self.all(root, "PartyList/Party"):
            if ref := self.text(party, "PartyReference"):
                self.parties[ref] = self.party(party)
            else:
                self.problem(party, "Party rejected: it has no PartyReference")
        recordings, isrcs = [], {}
        for sr in self.all(root, "ResourceList/SoundRecording"):
            if (recording := self.recording(sr)) is not None:
                recordings.append(recording)
                isrcs[self.text(sr, "ResourceReference") or ""] = recording.isrc
        elements = self.all(root, "ReleaseList/Release")
        named = {ref for el in elements for ref in self.texts(el, "ReleaseReference")}
        deals: dict[str, list[etree._Element]] = {}
        for deal in self.all(root, "DealList/ReleaseDeal"):
            for node in self.all(deal, "DealReleaseReference"):
                if (ref := node_text(node)) not in named:
                    self.problem(node, f"DealReleaseReference {ref!r} names no Release")
                deals.setdefault(ref, []).extend(self.all(deal, "Deal/DealTerms"))
        resources = {
            self.text(item, "ResourceReference") for item in self.all(root, "ResourceList/*")
        }
        known = (deals, isrcs, resources)
        releases = [r for el in elements if (r := self.release(el, known))]
        return DdexMessage(
            self.version,
            self.text(root, "MessageHeader/MessageId"),
            self.text(root, sender + "PartyName/FullName") or self.text(root, sender + "PartyId"),
            tuple(releases),
            tuple(recordings),
            tuple(self.problems),
        )


Credits = tuple[tuple[DdexParty, str], ...]
Known = tuple[dict[str, list[etree._Element]], dict[str, str], set[str | None]]
