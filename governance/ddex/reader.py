"""Which elements of an ERN message make which fields of :mod:`governance.ddex.model`, and which
elements are rejected (each a :class:`~governance.ddex.model.DdexProblem`).

Elements read (``|``: the first one present)::

  both     MessageHeader/MessageId; MessageHeader/MessageSender/PartyName/FullName | PartyId
           DealList/ReleaseDeal: DealReleaseReference, Deal/DealTerms/TerritoryCode and
           ExcludedTerritoryCode (exclusions alone mean Worldwide minus them)
  ERN 3.8  ResourceList/SoundRecording: SoundRecordingId/ISRC (unless IsReplaced="true"),
           ResourceReference, ReferenceTitle/TitleText | Title[@TitleType=DisplayTitle]/TitleText,
           Duration, LanguageOfPerformance (all); SoundRecordingDetailsByTerritory (Worldwide
           first): TerritoryCode, DisplayArtistName, PLine/Year + PLineText, Genre/GenreText,
           ParentalWarningType, DisplayArtist (ArtistRole), ResourceContributor
           (ResourceContributorRole), IndirectResourceContributor
           (IndirectResourceContributorRole), RightsController (RightsControllerRole,
           RightsControllerType, RightSharePercentage | RightShareUnknown); each party inline as
           PartyName/FullName and PartyId (IsISNI="true" or Namespace="ISNI" -> isni,
           Namespace="IPI..." -> ipi, IsDPID="true" or no Namespace -> dpid)
           ReleaseList/Release: ReleaseId/ICPN | EAN | UPC, ReleaseId/CatalogNumber,
           ReleaseReference, ReferenceTitle/TitleText,
           ReleaseResourceReferenceList/ReleaseResourceReference, ReleaseDetailsByTerritory
           (TerritoryCode, ExcludedTerritoryCode, DisplayArtistName, LabelName, CLine/CLineText,
           Genre/GenreText, ParentalWarningType, ReleaseDate | OriginalReleaseDate),
           GlobalReleaseDate | GlobalOriginalReleaseDate
  ERN 4.x  PartyList/Party: PartyReference, PartyName/FullName, PartyId/ISNI,
           PartyId/IpiNameNumber, PartyId/DPID
           ResourceList/SoundRecording: ResourceReference, SoundRecordingEdition/ResourceId/ISRC
           (4.2+) | ResourceId/ISRC (4.1), DisplayTitleText | DisplayTitle/TitleText,
           DisplayArtistName, DisplayArtist (ArtistPartyReference, DisplayArtistRole,
           ArtisticRole), Contributor and SoundRecordingEdition/EditionContributor
           (ContributorPartyReference, Role), SoundRecordingEdition/PLine | PLine,
           ResourceRightsController (RightsControllerPartyReference, RightsControlType (4.2+) |
           RightsControllerRole (4.1), RightsControllerType, RightSharePercentage |
           RightShareUnknown, DelegatedUsageRights/TerritoryOfRightsDelegation), Duration,
           LanguageOfPerformance (all), ParentalWarningType
           ReleaseList/Release: ReleaseReference, ReleaseId/ICPN, ReleaseId/CatalogNumber,
           DisplayTitleText | DisplayTitle/TitleText, DisplayArtistName, ReleaseLabelReference
           (its Party's name), CLine/CLineText, Genre/GenreText, ParentalWarningType,
           ReleaseDate | OriginalReleaseDate, ResourceGroup//ReleaseResourceReference
           ReleaseList/TrackRelease: ReleaseReference, ReleaseResourceReference, Genre/GenreText
           (deals and genre only: a TrackRelease is no product of its own here)
  AI       (:mod:`~governance.ddex.ai`) 4.x SoundRecording/ContainsAI and
           Contributor/AiContribution (ERN 4.3.2), 4.x TrackRelease/Keywords and 3.8
           SoundRecordingDetailsByTerritory/Keywords (free-form flags); the strongest wins

Of repeated 4.x values the ``IsDefault="true"`` one wins, then one without
``ApplicableTerritoryCode``, then the first. Display artists whose roles include MainArtist or
Artist (or who have none) are ``artists``; every other role of any credited party is a
``(party, role)`` contributor; ``UserDefined`` reads as its ``UserDefinedValue``.

Territories. A 3.8 recording's are its details' TerritoryCodes, and each RightsController holds
its details' territories. A 4.x recording's are the union of the DealTerms of every ReleaseDeal
whose DealReleaseReference names a Release or TrackRelease that contains it (``Worldwide``
absorbs the rest; a deal given by exclusions alone is Worldwide minus them); without any deal,
its rights controllers' TerritoryOfRightsDelegation, else Worldwide. A 4.x rights controller
holds the recording's territories, narrowed to its TerritoryOfRightsDelegation when that names
countries.

Rejection (what DDEX recipients do): a SoundRecording is kept only when all its own data is
valid; any fault rejects it whole, as one problem per fault naming the faulty element by an XPath
anchored on the recording's ResourceReference (``SoundRecording[ResourceReference='A2']/...``)
and the line of its start tag. Faults: no ISRC or a malformed one (ISO 3901, via
:func:`governance.identifiers.normalize_isrc`); an ISRC carried by more than one SoundRecording
of the message (every one of them is rejected); no title; no display artist (neither a
DisplayArtist nor a DisplayArtistName); a party reference to nothing; a territory code that is
not ISO 3166-1 alpha-2 (or ``Worldwide``), in the recording or in a deal that covers it; a
RightSharePercentage that is not a decimal or outside 0..100, or shares of the rights controllers
(role RightsController, or none given) that add up to more than 100 in any territory; a 3.8
RightsController in details given only by ExcludedTerritoryCode; a Duration that is not ISO 8601;
a PLine Year that is not four digits; a ContainsAI or AiContribution outside All, Partly, None.
A release-level fault (a Release without a title, an
unreadable date, a reference to nothing) is a problem of that element only; its recordings stay.
``share_percent`` is None when unknown or absent (DDEX then presumes 100 %: the caller decides).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

from governance import identifiers
from governance.ddex import ai
from governance.ddex.document import ErnDocument, forget, node_text
from governance.ddex.model import (
    WORLDWIDE,
    DdexMessage,
    DdexParty,
    DdexProblem,
    DdexRecording,
    DdexRelease,
    DdexRightsController,
)

_DURATION: Final = re.compile(
    r"^P(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTIAL_DATE: Final = re.compile(r"^\d{4}(-\d{2})?$")
_PLAIN_ISRC: Final = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_ISRC_COUNTRIES: set[str] = set()
"""The country codes of ISRCs :func:`governance.identifiers.normalize_isrc` accepted: an ISRC
already in its normal form with one of them is valid as it is (no need to ask it again)."""
_MAIN_ROLES: Final = frozenset({"MainArtist", "Artist"})
_OWNER_ROLE: Final = "RightsController"
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
Fault = tuple[etree._Element, str]
Where = tuple[str, int]
"""An element's XPath and the line of its start tag."""
Located = tuple[str, int, str]
"""A fault: the XPath and line of the element at fault, and the reason."""
Scope = tuple[set[str], list[frozenset[str]]]
"""Territories as (included codes, [excluded codes of each Worldwide-minus grant]); ``WORLDWIDE``
among the included codes means everywhere."""


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _territories(codes: Iterable[str]) -> tuple[str, ...]:
    found = _unique(codes)
    return (WORLDWIDE,) if WORLDWIDE in found else found


def _resolve(scope: Scope) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(territories, excluded territories) of a union of grants: Worldwide absorbs the rest;
    Worldwide-minus grants leave out only what every one of them excludes and no grant lists."""
    included, exclusions = scope
    if WORLDWIDE in included:
        return (WORLDWIDE,), ()
    if exclusions:
        left = frozenset.intersection(*exclusions) - included
        return (WORLDWIDE,), tuple(sorted(left))
    return tuple(sorted(included)), ()


def _covers(territories: tuple[str, ...], excluded: tuple[str, ...], code: str) -> bool:
    if WORLDWIDE in territories:
        return code not in excluded
    return code in territories


class Reader(ErnDocument):
    """One pass over one message; it collects problems while it builds the dataclasses."""

    def __init__(self, root: etree._Element, digits: str) -> None:
        super().__init__(root, digits)
        self.parties: dict[str, DdexParty] = {}
        self.faults: list[Fault] | None = None  # The recording being read collects its faults.
        self.drafts: list[_Draft] = []
        self.resources: set[str] = set()
        self.list_paths: dict[etree._Element, str] = {}  # A list element -> its XPath.

    def fault(self, el: etree._Element, reason: str) -> None:
        """A fault of the recording being read (it rejects it), else a problem of ``el``."""
        if self.faults is None:
            self.problem(el, reason)
        else:
            self.faults.append((el, reason))

    def worldwide_first(self, blocks: list[etree._Element]) -> list[etree._Element]:
        return sorted(blocks, key=lambda block: WORLDWIDE not in self.texts(block, "TerritoryCode"))

    def codes(self, el: etree._Element, path: str) -> list[str]:
        """Territory codes under ``el``: ISO 3166-1 alpha-2 or Worldwide; each other is a fault."""
        found = []
        for node in self.all(el, path):
            if not (code := node_text(node)):
                continue
            if not _known(code):
                name = etree.QName(node).localname
                self.fault(node, f"{name} {code!r} is not an ISO 3166-1 alpha-2 territory code")
                continue
            found.append(code)
        return found

    def party(self, el: etree._Element) -> DdexParty:
        isni = ipi = dpid = None
        for pid in self.all(el, "PartyId"):
            value, scheme = node_text(pid), (pid.get("Namespace") or "").upper()
            if value and (pid.get("IsISNI") in ("true", "1") or scheme == "ISNI"):
                isni = isni or value
            elif value and scheme.startswith("IPI"):
                ipi = ipi or value
            elif value and (pid.get("IsDPID") in ("true", "1") or not scheme):
                dpid = dpid or value  # 3.8: "If no Namespace is given, the Identifier is a DPID"
            isni, ipi = isni or self.text(pid, "ISNI"), ipi or self.text(pid, "IpiNameNumber")
            dpid = dpid or self.text(pid, "DPID")
        return DdexParty(self.text(el, "PartyName/FullName") or "", isni, ipi, dpid)

    def party_of(self, el: etree._Element, ref_path: str) -> DdexParty | None:
        """ERN 4 names a Party by reference into the PartyList; ERN 3.8 describes it inline."""
        if not self.v4:
            return self.party(el)
        if (party := self.parties.get(ref := self.text(el, ref_path) or "")) is None:
            self.fault(el, f"{ref_path} {ref!r} names no Party in the PartyList")
        return party

    def duration_ms(self, sr: etree._Element) -> int | None:
        if not (text := node_text(node := next(iter(self.all(sr, "Duration")), None))):
            return None
        if not (match := _DURATION.match(text)) or text == "P":
            self.fault(node, f"Duration {text!r} is not an ISO 8601 duration such as PT3M20S")
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
            self.fault(node, f"PLine Year {year!r} is not a four-digit year")
            year = None
        return self.text(node, "PLineText"), int(year) if year else None

    def controller(
        self, rc: etree._Element, where: tuple[str, ...], excluded: tuple[str, ...] = ()
    ) -> DdexRightsController | None:
        if not where:
            self.fault(rc, "RightsController: its details name no TerritoryCode")
            return None
        party, share = self.party_of(rc, "RightsControllerPartyReference"), None
        for node in self.all(rc, "RightSharePercentage"):
            scale = 100 if node.get("HasMaxValueOfOne") == "true" else 1
            try:
                share = Decimal(node_text(node)) * scale
            except InvalidOperation:
                self.fault(node, f"RightSharePercentage {node.text!r} is not a decimal")
                return None
            if not share.is_finite() or not 0 <= share <= 100:
                self.fault(node, f"RightSharePercentage {share} is outside 0..100")
                return None
        roles = self.texts(rc, "RightsControllerRole") + self.texts(rc, "RightsControlType")
        kind = self.text(rc, "RightsControllerType")
        if party is None:
            return None
        if not (party.name or party.isni or party.ipi or party.dpid):
            self.fault(rc, "RightsController: its party has neither a name nor a PartyId")
            return None
        return DdexRightsController(party, _unique(roles), share, where, excluded, kind)

    def check_sums(self, pairs: list[tuple[Where, DdexRightsController]]) -> list[Located]:
        """Shares of the rights controllers add up to at most 100 in every territory: the
        fault of the controller that passes 100, if any."""
        owners = [(w, c) for w, c in pairs if not c.roles or _OWNER_ROLE in c.roles]
        named = {t for _, c in owners for t in (*c.territories, *c.excluded_territories)}
        for code in sorted(named - {WORLDWIDE}) or [""]:
            total = Decimal(0)
            for (xpath, line), c in owners:
                if (code and not _covers(c.territories, c.excluded_territories, code)) or (
                    not code and WORLDWIDE not in c.territories
                ):
                    continue
                total += (
                    Decimal(100)
                    if c.share_percent is None and len(owners) == 1
                    else (c.share_percent or Decimal(0))
                )
                if total > 100:
                    where = f" in {code}" if code else ""
                    return [(xpath, line, f"RightSharePercentage: the rights controllers' shares "
                             f"add up to {total.normalize():f} %{where}, over 100")]  # fmt: skip
        return []

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

    def located(self, el: etree._Element, sr: etree._Element, anchor: str) -> Where:
        """``el``'s XPath inside the SoundRecording ``sr`` (named by ``anchor``) and line: the
        steps from ``sr`` down, with positions among namesakes where there are several."""
        steps: list[str] = []
        node = el
        prefix = "ern:" if self.q else ""
        while node is not sr and (parent := node.getparent()) is not None:
            step = prefix + node.tag.rpartition("}")[2]
            same = list(parent.iterchildren(node.tag))  # Its namesakes, in C.
            steps.append(f"{step}[{same.index(node) + 1}]" if len(same) > 1 else step)
            node = parent
        return "/".join([anchor, *reversed(steps)]), el.sourceline or 0

    def draft(self, sr: etree._Element, ref: str, position: int) -> _Draft:
        """What a SoundRecording says on its own, read as it ends (it is then forgotten); its
        deal territories, sums and duplicates are settled in :meth:`message`."""
        # The XPath of its list is the same for every item: found once (a SoundRecording's
        # own position is left out, its anchor names it).
        parent = sr.getparent()
        if parent is None or (head := self.list_paths.get(parent)) is None:
            head = self.xpath(parent) if parent is not None else ""
            if parent is not None:
                self.list_paths[parent] = head
        local = sr.tag.rpartition("}")[2]
        base = f"{head}/{'ern:' if sr.tag.startswith('{') else ''}{local}"
        qualified = "ern:" if self.q else ""
        anchor = f"{base}[{qualified}ResourceReference='{ref}']" if ref and "'" not in ref else ""
        anchor = anchor or f"{base}[{position}]"
        self.faults = faults = list[Fault]()
        # The recording and its editions (3.8: details) are asked about some thirty times.
        blocks = ("SoundRecordingEdition", "SoundRecordingDetailsByTerritory")
        self.index(sr, *sr.iterchildren(*(self.q + tag for tag in blocks)))
        try:
            draft = self._draft(sr, ref, anchor)
        finally:
            self.faults = None
            self.positions.clear()  # Its elements are freed next: keep no reference to them.
            self.unindex()
        draft.faults[:0] = [(*self.located(el, sr, anchor), reason) for el, reason in faults]
        return draft

    def _draft(self, sr: etree._Element, ref: str, anchor: str) -> _Draft:
        assert self.faults is not None
        faults = self.faults
        if self.v4:
            blocks = [*self.all(sr, "SoundRecordingEdition"), sr]  # An edition's data comes first.
            isrc_nodes = [n for b in blocks for n in self.all(b, "ResourceId/ISRC")]
        else:
            blocks = self.worldwide_first(self.all(sr, "SoundRecordingDetailsByTerritory"))
            ids = [i for i in self.all(sr, "SoundRecordingId") if i.get("IsReplaced") != "true"]
            isrc_nodes = [n for i in ids for n in self.all(i, "ISRC")]
        isrc_node = next((n for n in isrc_nodes if node_text(n)), None)
        isrc = None
        if isrc_node is None:
            faults.append((sr, "it has no ISRC"))
        else:
            try:
                isrc = _isrc(node_text(isrc_node))
            except ValueError as exc:
                faults.append((isrc_node, f"ISRC {node_text(isrc_node)!r}: {exc}"))
        iswc_path = "WorkId/ISWC" if self.v4 else "IndirectSoundRecordingId/ISWC"
        iswc_node = next((n for n in self.all(sr, iswc_path) if node_text(n)), None)
        iswc = None
        if iswc_node is not None:  # The composition it embodies (docs/catalog-works.md).
            try:
                iswc = identifiers.normalize_iswc(node_text(iswc_node))
            except ValueError as exc:
                faults.append((iswc_node, f"ISWC {node_text(iswc_node)!r}: {exc}"))
        title, display = self.names(sr, blocks)
        if not title:
            faults.append((sr, "it has no title"))
        artists, contributors = self.credits(blocks)
        if not artists and not display:
            faults.append((sr, "it has no display artist (DisplayArtist or DisplayArtistName)"))
        own_codes = [c for b in blocks for c in self.codes(b, "TerritoryCode")]
        for block in blocks:
            self.codes(block, "ExcludedTerritoryCode")
        tag = "ResourceRightsController" if self.v4 else "RightsController"
        path = "DelegatedUsageRights/TerritoryOfRightsDelegation"
        controllers: list[tuple[Where, DdexRightsController, tuple[str, ...]]] = []
        delegated: list[str] = []
        for block in blocks:
            for rc in self.all(block, tag):
                if self.v4:
                    codes = _territories(self.codes(rc, path))
                    delegated += codes
                    where: tuple[str, ...] = (WORLDWIDE,)  # Settled with the deals.
                else:
                    codes = ()
                    raw = self.texts(block, "TerritoryCode")
                    where = _territories(c for c in raw if _known(c))
                    if raw and not where:
                        continue  # Its unknown codes are faults already.
                if (controller := self.controller(rc, where)) is not None:
                    controllers.append((self.located(rc, sr, anchor), controller, codes))
        pline = next((n for block in blocks for n in self.all(block, "PLine")), None)
        p_line, p_year = self.p_line(pline)
        duration = self.duration_ms(sr)
        languages = [v for n in self.all(sr, "LanguageOfPerformance") if (v := node_text(n))]
        declared = ai.read(self, sr, blocks, self.fault)
        isrc_where = None if isrc_node is None else self.located(isrc_node, sr, anchor)
        recording = None
        if isrc is not None and title:
            recording = DdexRecording(
                anchor,
                sr.sourceline or 0,
                isrc,
                title,
                display or ", ".join(artist.name for artist in artists),
                artists,
                contributors,
                duration,
                languages[0] if languages else None,
                p_line,
                p_year,
                (),
                _territories(own_codes),
                (),
                ref,
                _unique(languages),
                self.first(blocks, "Genre/GenreText"),
                self.first(blocks, "ParentalWarningType"),
                declared.value,
                declared.parts,
                declared.declared_in,
                iswc=iswc,
            )
        return _Draft(ref, recording, [], isrc, isrc_where, controllers, _unique(delegated))

    def settle(self, draft: _Draft, scope: Scope | None, genre: str | None) -> DdexRecording | None:
        """The recording with its territories and its controllers' (4.x: from the deals), or
        None with ``draft.faults`` saying why."""
        recording = draft.recording
        if self.v4:
            territories, excluded = _resolve(scope or ({*draft.delegated} or {WORLDWIDE}, []))
        else:
            territories, excluded = (() if recording is None else recording.territories), ()
        pairs = []
        for where, controller, codes in draft.controllers:
            if self.v4:
                held, out = territories, excluded
                if codes and WORLDWIDE not in codes:
                    narrowed = tuple(c for c in codes if _covers(territories, excluded, c))
                    held, out = narrowed or codes, ()
                controller = dataclasses.replace(
                    controller, territories=held, excluded_territories=out
                )
            pairs.append((where, controller))
        draft.faults += self.check_sums(pairs)
        if draft.faults or recording is None:
            return None
        return dataclasses.replace(
            recording,
            territories=territories if self.v4 else recording.territories,
            excluded_territories=excluded,
            rights_controllers=tuple(dict.fromkeys(c for _, c in pairs)),
            genre=recording.genre or genre,
        )

    def release(self, el: etree._Element, known: Known) -> DdexRelease | None:
        deals, isrcs, resources = known
        if self.v4:
            blocks: list[etree._Element] = []
            dates = [self.preferred(el, "ReleaseDate"), self.preferred(el, "OriginalReleaseDate")]
            refs = list(el.iter(self.q + "ReleaseResourceReference"))
            label_ref = self.text(el, "ReleaseLabelReference") or ""
            label = self.parties[label_ref].name if label_ref in self.parties else None
        else:
            blocks = self.worldwide_first(self.all(el, "ReleaseDetailsByTerritory"))
            tags = "ReleaseDate OriginalReleaseDate GlobalReleaseDate GlobalOriginalReleaseDate"
            dates = [n for tag in tags.split() for b in [*blocks, el] for n in self.all(b, tag)]
            refs = self.all(el, "ReleaseResourceReferenceList/ReleaseResourceReference")
            label = self.first(blocks, "LabelName")
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
        scopes = [el, *blocks]
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
            self.first(ids, "CatalogNumber"),
            label,
            self.first(scopes, "CLine/CLineText"),
            self.first(scopes, "Genre/GenreText"),
            self.first(scopes, "ParentalWarningType"),
        )

    def release_contents(self) -> dict[str, list[str]]:
        """Each Release's and TrackRelease's reference -> the ResourceReferences it contains."""
        contents: dict[str, list[str]] = {}
        elements = self.all(self.root, "ReleaseList/Release")
        elements += self.all(self.root, "ReleaseList/TrackRelease")
        for el in elements:
            if self.v4:
                refs = [node_text(n) for n in el.iter(self.q + "ReleaseResourceReference")]
            else:
                path = "ReleaseResourceReferenceList/ReleaseResourceReference"
                refs = [node_text(n) for n in self.all(el, path)]
            for ref in self.texts(el, "ReleaseReference"):
                contents.setdefault(ref, []).extend(refs)
        return contents

    def resource_genres(self) -> dict[str, str]:
        """ERN 4.x: a resource's genre is its TrackRelease's, else its Release's."""
        genres: dict[str, str] = {}
        for tag in ("TrackRelease", "Release"):
            for el in self.all(self.root, f"ReleaseList/{tag}"):
                if genre := self.text(el, "Genre/GenreText"):
                    for node in el.iter(self.q + "ReleaseResourceReference"):
                        genres.setdefault(node_text(node), genre)
        return genres

    def deal_scopes(
        self, contents: dict[str, list[str]], deals: dict[str, list[etree._Element]]
    ) -> tuple[dict[str, Scope], dict[str, list[Fault]]]:
        """ERN 4.x: each resource's territories from the deals of the releases containing it,
        and the faults (unknown territory codes) of those deals."""
        scopes: dict[str, Scope] = {}
        faults: dict[str, list[Fault]] = defaultdict(list)
        for release_ref, resource_refs in contents.items():
            for terms in deals.get(release_ref, []):
                self.faults = found = list[Fault]()
                included = self.codes(terms, "TerritoryCode")
                excluded = self.codes(terms, "ExcludedTerritoryCode")
                self.faults = None
                for resource in resource_refs:
                    scope = scopes.setdefault(resource, (set(), []))
                    faults[resource] += [(n, f"a deal that covers it: {r}") for n, r in found]
                    if included:
                        scope[0].update(included)
                    elif excluded:
                        scope[1].append(frozenset(excluded))
        return scopes, faults

    def take(self, el: etree._Element, list_name: str) -> None:
        """An item of one of the root's lists, as it ends (see ``stream_ern``)."""
        self.qualify(el)
        local = etree.QName(el).localname if isinstance(el.tag, str) else ""
        if list_name == "PartyList" and local == "Party":
            if ref := self.text(el, "PartyReference"):
                self.parties[ref] = self.party(el)
            else:
                self.problem(el, "Party rejected: it has no PartyReference")
        elif list_name == "ResourceList":
            ref = self.text(el, "ResourceReference") or ""
            self.resources.add(ref)
            if local == "SoundRecording":
                self.drafts.append(self.draft(el, ref, len(self.drafts) + 1))
            forget(el)

    def message(self) -> DdexMessage:
        """The message, once the whole file is read."""
        root, sender = self.root, "MessageHeader/MessageSender/"
        for child in root:
            self.qualify(child)
        contents = self.release_contents()
        deals: dict[str, list[etree._Element]] = {}
        for deal in self.all(root, "DealList/ReleaseDeal"):
            for node in self.all(deal, "DealReleaseReference"):
                if (ref := node_text(node)) not in contents:
                    self.problem(node, f"DealReleaseReference {ref!r} names no Release")
                deals.setdefault(ref, []).extend(self.all(deal, "Deal/DealTerms"))
        scopes, deal_faults = self.deal_scopes(contents, deals) if self.v4 else ({}, {})
        genres = self.resource_genres() if self.v4 else {}
        flags = ai.track_release_flags(self) if self.v4 else {}
        carried: dict[str, list[str]] = defaultdict(list)
        for draft in self.drafts:
            if draft.isrc is not None:
                carried[draft.isrc].append(draft.ref or "?")
        recordings, isrcs = [], {}
        for draft in self.drafts:
            draft.faults += [
                (self.xpath(n), n.sourceline or 0, r) for n, r in deal_faults.get(draft.ref, [])
            ]
            if draft.isrc is not None and len(carried[draft.isrc]) > 1:
                xpath, line = draft.isrc_where or ("", 0)
                holders = carried[draft.isrc]
                draft.faults.append((xpath, line, f"ISRC {draft.isrc} is carried by "
                                     f"{len(holders)} SoundRecordings ({', '.join(holders)}): "
                                     "each of them is rejected"))  # fmt: skip
            recording = self.settle(draft, scopes.get(draft.ref), genres.get(draft.ref))
            if recording is None:
                self.problems += [
                    DdexProblem(xpath, line, f"SoundRecording {draft.ref} rejected: {reason}")
                    for xpath, line, reason in draft.faults
                ]
                continue
            recordings.append(ai.with_flag(recording, flags.get(draft.ref)))
            isrcs[draft.ref] = recording.isrc
        known = (deals, isrcs, self.resources)
        elements = self.all(root, "ReleaseList/Release")
        releases = [r for el in elements if (r := self.release(el, known))]
        return DdexMessage(
            self.version,
            self.text(root, "MessageHeader/MessageId"),
            self.text(root, sender + "PartyName/FullName") or self.text(root, sender + "PartyId"),
            tuple(releases),
            tuple(recordings),
            tuple(self.problems),
        )


@dataclasses.dataclass(slots=True)
class _Draft:
    """A SoundRecording as read on its own (:meth:`Reader.draft`)."""

    ref: str
    recording: DdexRecording | None  # None: no ISRC or no title (faults say which).
    faults: list[Located]
    isrc: str | None  # Normalised, when valid: duplicates are counted on it.
    isrc_where: Where | None
    controllers: list[tuple[Where, DdexRightsController, tuple[str, ...]]]
    delegated: tuple[str, ...]  # 4.x: every TerritoryOfRightsDelegation.


def _isrc(value: str) -> str:
    """:func:`governance.identifiers.normalize_isrc`, quicker for a normalised ISRC."""
    if _PLAIN_ISRC.fullmatch(value) and value[:2] in _ISRC_COUNTRIES:
        return value
    isrc = identifiers.normalize_isrc(value)
    _ISRC_COUNTRIES.add(isrc[:2])
    return isrc


def _known(code: str) -> bool:
    return code == WORLDWIDE or code in identifiers.ALL_TERRITORIES


Credits = tuple[tuple[DdexParty, str], ...]
Known = tuple[dict[str, list[etree._Element]], dict[str, str], set[str]]
