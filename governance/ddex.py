"""Read DDEX ERN ``NewReleaseMessage`` files (ERN 3.8.x and 4.x) into plain frozen dataclasses.

Pure: no Django, DRF or Celery; lxml only. :func:`parse_ern` raises :class:`DdexError` when the
whole file is unusable (not well-formed XML, a document type declaration, not a
``NewReleaseMessage``, an unsupported namespace). Anything smaller is an answer: a rejected
element becomes a :class:`DdexProblem` (XPath, line, reason) and the valid ones are kept.
Identifiers are returned as written (trimmed); check digits are validated elsewhere.

Namespaces: ``http://ddex.net/xml/ern/`` + ``38``, ``381``, ``382``, ``383`` (ERN 3.8.x) or
``4*`` (``41``, ``411``, ``42``, ``43``...: 4.x); ``ern_version`` dots the digits (``3.8.2``).
Children are unqualified as the XSDs say (``elementFormDefault="unqualified"``); files that put
them in the ERN namespace are read too. Elements read (``|``: the first one present)::

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

Security, in two steps marked in the code: (1) entities are never resolved or fetched
(``resolve_entities=False``, ``no_network``, no DTD loading, no ``huge_tree``); (2) any document
type declaration is refused, since ERN messages never need one. Past line 65,535 libxml2
estimates an element's line from nearby text nodes, so it may be a line or two off.
"""

from __future__ import annotations

import datetime as dt
import io
import pathlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import BinaryIO, Final

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

ERN_NAMESPACE: Final = re.compile(r"^http://ddex\.net/xml/ern/(38[1-3]?|4\d*)$")
WORLDWIDE: Final = "Worldwide"
_SAFE_PARSING: Final = dict(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
)
_ANY_ERN: Final = re.compile(r"^http://ddex\.net/xml/ern/(\d+)$")
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


class DdexError(ValueError):
    """The whole file is unusable: not XML, not a NewReleaseMessage, or an unsupported ERN;
    ``line`` is where the XML parser stopped (0 when it did not)."""

    def __init__(self, message: str, *, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class DdexParty:
    name: str
    isni: str | None = None
    ipi: str | None = None


@dataclass(frozen=True, slots=True)
class DdexRightsController:
    party: DdexParty
    roles: tuple[str, ...]
    share_percent: Decimal | None
    territories: tuple[str, ...]  # Codes as written (ISO 3166 expected), or ("Worldwide",).


@dataclass(frozen=True, slots=True)
class DdexRecording:
    xpath: str
    line: int
    isrc: str
    title: str
    display_artist: str
    artists: tuple[DdexParty, ...]
    contributors: tuple[tuple[DdexParty, str], ...]
    duration_ms: int | None
    language: str | None
    p_line: str | None
    p_year: int | None
    rights_controllers: tuple[DdexRightsController, ...]
    territories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DdexRelease:
    xpath: str
    line: int
    upc: str | None
    title: str
    display_artist: str
    release_date: dt.date | None
    recording_isrcs: tuple[str, ...]
    territories: tuple[str, ...]
    excluded_territories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DdexProblem:
    xpath: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class DdexMessage:
    ern_version: str
    message_id: str | None
    sender: str | None
    releases: tuple[DdexRelease, ...]
    recordings: tuple[DdexRecording, ...]
    problems: tuple[DdexProblem, ...]


def parse_ern(source: bytes | str | pathlib.Path | BinaryIO) -> DdexMessage:
    """Parse one NewReleaseMessage. A ``str`` is XML text; pass a ``pathlib.Path`` for a file."""
    return _Reader(*_load(source)).message()


def _load(source: bytes | str | pathlib.Path | BinaryIO) -> tuple[etree._Element, str]:
    """The root element and the ERN namespace's version digits, or :class:`DdexError`."""
    if isinstance(source, str) and not source.lstrip().startswith("<"):
        raise DdexError("not XML: a str is parsed as XML text (pass a pathlib.Path for a file)")
    # Security 1/2: never resolve or fetch entities, load a DTD or build a huge tree. A str is
    # already decoded, so it is re-encoded as UTF-8 and any encoding it declares is overridden.
    parser = etree.XMLParser(encoding="utf-8" if isinstance(source, str) else None, **_SAFE_PARSING)
    if isinstance(source, str | bytes):
        source = io.BytesIO(source.encode() if isinstance(source, str) else source)
    try:
        tree = etree.parse(str(source) if isinstance(source, pathlib.Path) else source, parser)
    except etree.XMLSyntaxError as error:
        line, column = error.position
        raise DdexError(
            f"not well-formed XML (line {line}, column {column}): {error.msg}", line=line or 0
        ) from None
    # Security 2/2: refuse any document type declaration, the vehicle of XXE and entity bombs.
    if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
        raise DdexError("document type declarations are refused: ERN messages never need one")
    root: etree._Element = tree.getroot()
    local, namespace = etree.QName(root).localname, _namespace(root)
    if local != "NewReleaseMessage":
        raise DdexError(f"root element is {local!r}, not a DDEX ERN NewReleaseMessage")
    if not (supported := ERN_NAMESPACE.match(namespace)):
        known = _ANY_ERN.match(namespace)
        what = f"ERN {'.'.join(known.group(1))}" if known else f"namespace {namespace!r}"
        raise DdexError(f"{what} is not supported: this reader takes ERN 3.8.x and 4.x")
    return root, supported.group(1)


def _namespace(el: etree._Element) -> str:
    return etree.QName(el).namespace or ""


def _value(node: etree._Element | None) -> str:
    return "" if node is None else (node.text or "").strip()


def _role(node: etree._Element) -> str:
    """An allowed-value element's value; ``UserDefined`` reads as its ``UserDefinedValue``."""
    value = _value(node)
    return (node.get("UserDefinedValue") or value) if value == "UserDefined" else value


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _territories(codes: Iterable[str]) -> tuple[str, ...]:
    found = _unique(codes)
    return (WORLDWIDE,) if WORLDWIDE in found else found


class _Reader:
    """One pass over one message; it collects problems while it builds the dataclasses."""

    def __init__(self, root: etree._Element, digits: str) -> None:
        self.root, self.version, self.v4 = root, ".".join(digits), digits.startswith("4")
        qualified = any(_namespace(child) for child in root if isinstance(child.tag, str))
        self.q = f"{{{_namespace(root)}}}" if qualified else ""
        self.paths: dict[str, str] = {}
        self.problems: list[DdexProblem] = []
        self.parties: dict[str, DdexParty] = {}
        self.positions: dict[tuple[etree._Element, str], dict[etree._Element, int]] = {}

    def all(self, el: etree._Element, path: str) -> list[etree._Element]:
        if path not in self.paths:
            self.paths[path] = "/".join(self.q + step for step in path.split("/"))
        return list(el.iterfind(self.paths[path]))

    def text(self, el: etree._Element, path: str) -> str | None:
        return next((value for node in self.all(el, path) if (value := _value(node))), None)

    def first(self, els: Iterable[etree._Element], path: str) -> str | None:
        return next(filter(None, (self.text(el, path) for el in els)), None)

    def texts(self, el: etree._Element, path: str) -> list[str]:
        return [value for node in self.all(el, path) if (value := _role(node))]

    def problem(self, el: etree._Element, reason: str) -> None:
        self.problems.append(DdexProblem(self.xpath(el), el.sourceline or 0, reason))

    def xpath(self, el: etree._Element) -> str:
        """An XPath to ``el``: the ERN namespace as ``ern:``, positions among namesakes."""
        steps: list[str] = []
        node: etree._Element | None = el
        while node is not None:
            parent = node.getparent()
            step = ("ern:" if _namespace(node) else "") + etree.QName(node).localname
            if parent is not None:
                if (key := (parent, node.tag)) not in self.positions:
                    same = [sibling for sibling in parent if sibling.tag == node.tag]
                    self.positions[key] = dict(zip(same, range(1, len(same) + 1), strict=True))
                step += f"[{self.positions[key][node]}]" if len(self.positions[key]) > 1 else ""
            steps.append(step)
            node = parent
        return "/" + "/".join(reversed(steps))

    def preferred(self, el: etree._Element, path: str) -> etree._Element | None:
        """The IsDefault one, else one without ApplicableTerritoryCode, else the first."""
        found = [node for node in self.all(el, path) if _value(node)]
        found.sort(
            key=lambda n: (n.get("IsDefault") != "true", "ApplicableTerritoryCode" in n.attrib)
        )
        return found[0] if found else None

    def worldwide_first(self, blocks: list[etree._Element]) -> list[etree._Element]:
        return sorted(blocks, key=lambda block: WORLDWIDE not in self.texts(block, "TerritoryCode"))

    def party(self, el: etree._Element) -> DdexParty:
        isni = ipi = None
        for pid in self.all(el, "PartyId"):
            value, scheme = _value(pid), (pid.get("Namespace") or "").upper()
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
        if not (text := _value(node := next(iter(self.all(sr, "Duration")), None))):
            return None
        if not (match := _DURATION.match(text)) or text == "P":
            self.problem(node, f"Duration {text!r} is not an ISO 8601 duration such as PT3M20S")
            return None
        days, hours, minutes, seconds = (Decimal(group or 0) for group in match.groups())
        total = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000
        return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def date(self, node: etree._Element | None) -> dt.date | None:
        if not (text := _value(node)) or _PARTIAL_DATE.match(text):
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
                share = Decimal(_value(node)) * scale
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
            title: str | None = _value(self.preferred(el, "DisplayTitleText"))
            title = title or self.text(el, "DisplayTitle/TitleText")
            return title, _value(self.preferred(el, "DisplayArtistName"))
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
            if (key := _value(ref)) in isrcs:
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
            self.date(next((n for n in dates if _value(n)), None)),
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
                if (ref := _value(node)) not in named:
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
