"""Read DDEX MWN musical works notifications (``MusicalWorkClaimNotificationMessage``) into
plain frozen dataclasses: each MusicalWork with its ISWC, title, writers (with their IPI name
numbers and roles), its publishing shares and the recordings that embody it.

Pure: no Django; lxml only. The element names are MWN 1.3's (the DDEX "Musical Works
Notification and Licensing" choreography XSD, namespace ``http://ddex.net/xml/mc-notif/13``,
as The MLC publishes it): ``PartyList/Party`` (``PartyReference``, ``PartyId/IpiNameNumber``,
``ISNI``, ``DPID``, ``PartyName/FullName``), ``WorkList/MusicalWork`` (``MusicalWorkReference``,
``MusicalWorkId/ISWC``, ``Title/TitleText``, ``LanguageOfLyrics``, ``Writer`` with
``WriterPartyReference`` and ``Role``), ``ResourceList/SoundRecording`` (``SoundRecordingId/ISRC``
and its ``ResourceMusicalWorkReferenceList``), ``RightShareList/RightShare``
(``RightShareReference``, ``RightShareType``, ``RightShareWorkReference``, ``TerritoryCode``,
``ExcludedTerritoryCode`` or ``TerritoryReference`` into ``TerritoryList``, ``RightsType``,
``RightsController/RightsControllerPartyReference``, ``ValidityPeriod``,
``RightSharePercentage`` / ``RightShareUnknown`` / ``RightShareNotClaimed``). The root may
also be named ``MusicalWorkNotificationMessage`` (a name senders use) and be in an
``http://ddex.net/xml/mwn/NN`` namespace: it is read the same.

The policy is ERN's (docs/catalog-ddex.md, "The rejection policy"; docs/catalog-works.md): a
MusicalWork is kept only when all its own data is valid, and each fault is a problem naming the
element (an XPath anchored on the work's, the party's or the right share's reference) and the
line of its start tag. The file is read as a stream: each item of the root's lists is read when
it ends and then freed; references are resolved once the whole file is read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import pathlib
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import BinaryIO, Final

from lxml import etree  # type: ignore[import-untyped]  # lxml-stubs are not installed

from governance import identifiers
from governance.ddex.document import _SAFE_PARSING, forget, node_text
from governance.ddex.model import WORLDWIDE, DdexError, DdexParty, DdexProblem
from governance.rights import ShareTerms, find_overshoot

MWN_NAMESPACE: Final = re.compile(r"^http://ddex\.net/xml/(mc-notif|mwn)/(\d+)$")
ROOTS: Final = frozenset({"MusicalWorkClaimNotificationMessage", "MusicalWorkNotificationMessage"})
_STREAMED: Final = frozenset(
    {"TerritoryList", "PartyList", "WorkList", "ResourceList", "RightShareList"}
)
PREFERRED_RIGHTS_TYPE: Final = "MechanicalRight"
"""The RightsType whose shares become ``publishing`` shares when a work's RightShares name it:
reproducing the composition is what training, referencing and output do. Otherwise the first
RightsType its RightShares name is read."""
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclasses.dataclass(frozen=True, slots=True)
class MwnShare:
    """A RightShare of a work as Consentry keeps it: a publishing share of its controller."""

    where: str  # The RightShare's XPath and line, for the applier's problems.
    party: DdexParty
    percent: Decimal
    territories: tuple[str, ...]  # ISO codes, or ("Worldwide",) with ``excluded`` left out.
    excluded: tuple[str, ...]
    rights_types: tuple[str, ...]
    share_type: str
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None  # Exclusive: the day after the EndDate.


@dataclasses.dataclass(frozen=True, slots=True)
class MwnWork:
    xpath: str
    line: int
    reference: str
    iswc: str  # Normalised: "T" and ten digits.
    title: str
    writers: tuple[tuple[DdexParty, tuple[str, ...]], ...]  # (party, Role values)
    shares: tuple[MwnShare, ...]
    recording_isrcs: tuple[str, ...]  # Normalised ISRCs of the SoundRecordings embodying it.
    languages: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class MwnMessage:
    version: str
    message_id: str | None
    works: tuple[MwnWork, ...]
    problems: tuple[DdexProblem, ...]


Where = tuple[str, str, int]
"""An element kept for a later problem: its item's anchor (one string per item, shared), the
steps below it (interned: few distinct ones) and its line. :func:`_at` makes the XPath."""
Fault = tuple[str, int, str]


@dataclasses.dataclass(slots=True)
class _Party:
    party: DdexParty
    faults: list[Fault]  # An invalid identifier: each work it writes or controls is rejected.


@dataclasses.dataclass(slots=True)
class _Work:
    ref: str
    where: Where
    iswc: str | None
    iswc_where: Where
    title: str
    writers: list[tuple[str, tuple[str, ...], Where]]  # (party reference, roles, where)
    languages: tuple[str, ...]
    faults: list[Fault]


@dataclasses.dataclass(slots=True)
class _Share:
    ref: str
    where: Where
    works: list[str]
    share_type: str
    rights_types: tuple[str, ...]
    territories: tuple[str, ...]
    excluded: tuple[str, ...]
    territory_refs: list[tuple[str, Where]]
    controller: tuple[str, Where] | None
    percent: Decimal | None
    claimed: bool
    valid_from: dt.date | None
    valid_until: dt.date | None
    faults: list[Fault]


def stream_mwn(
    source: bytes | pathlib.Path | BinaryIO,
) -> Iterator[tuple[etree._Element, str, etree._Element | None]]:
    """Like :func:`governance.ddex.document.stream_ern`, for an MWN message: first
    ``(root, version digits, None)``, then ``(item, list name, root)`` as each item of the
    root's lists ends, then ``(root, "", root)``. :class:`DdexError` for an unusable file."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    events = etree.iterparse(
        str(source) if isinstance(source, pathlib.Path) else source,
        events=("start", "end"), **_SAFE_PARSING,
    )  # fmt: skip
    depth, root, refused = 0, None, None
    try:
        for event, el in events:
            if event == "start":
                depth += 1
                if depth == 1:
                    root = el
                    try:
                        digits = _check_root(el)
                    except DdexError as error:
                        refused = error  # Named once the file is known to be well-formed.
                    else:
                        yield el, digits, None
                continue
            depth -= 1
            if refused is not None:
                el.clear()
            elif depth == 2 and (parent := el.getparent()) is not None:
                list_name = etree.QName(parent).localname
                if list_name in _STREAMED and parent.getparent() is root:
                    yield el, list_name, root
    except etree.XMLSyntaxError as error:
        line, column = max(error.position[0], 1), max(error.position[1], 1)
        raise DdexError(
            f"not well-formed XML (line {line}, column {column}): {error.msg}", line=line
        ) from None
    if refused is not None:
        raise refused
    if root is None:  # pragma: no cover - the parser raises on an empty document
        raise DdexError("not XML: no root element")
    yield root, "", root


def _check_root(root: etree._Element) -> str:
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.doctype:
        raise DdexError("document type declarations are refused: MWN messages never need one")
    local, namespace = etree.QName(root).localname, etree.QName(root).namespace or ""
    if local not in ROOTS:
        raise DdexError(
            f"root element is {local!r}, not a DDEX MusicalWorkClaimNotificationMessage"
        )
    if not (match := MWN_NAMESPACE.match(namespace)):
        raise DdexError(f"namespace {namespace!r} is not a DDEX MWN namespace")
    return match.group(2)


def parse_mwn(source: bytes | pathlib.Path | BinaryIO) -> MwnMessage:
    """Parse one MWN message (see the module's docstring); :class:`DdexError` when the file is
    unusable as a whole (not well-formed, a document type declaration, another root)."""
    reader: _Reader | None = None
    for el, name, root in stream_mwn(source):
        if root is None:
            reader = _Reader(el, name)
        elif name:
            assert reader is not None  # The root came first.
            reader.take(el, name)
    assert reader is not None
    return reader.message()


class _Reader:
    """One pass over one message: drafts of its items, settled in :meth:`message`."""

    def __init__(self, root: etree._Element, digits: str) -> None:
        self.root = root
        self.version = ".".join(digits)
        self.prefix = etree.QName(root).localname
        self.q: str | None = None
        self.parties: dict[str, _Party] = {}
        self.territories: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {}
        self.works: list[_Work] = []
        self.shares: list[_Share] = []
        self.embodied: dict[str, list[str]] = defaultdict(list)  # work reference -> ISRCs
        self.problems: list[DdexProblem] = []

    # -- finding elements ------------------------------------------------------------------

    def all(self, el: etree._Element, path: str) -> list[etree._Element]:
        found = [el]
        for step in path.split("/"):
            found = [c for node in found for c in node.iterchildren(f"{self.q}{step}")]
        return found

    def text(self, el: etree._Element, path: str) -> str:
        return next((v for n in self.all(el, path) if (v := node_text(n))), "")

    def texts(self, el: etree._Element, path: str) -> list[str]:
        values = []
        for node in self.all(el, path):
            value = node_text(node)
            if value == "UserDefined":
                value = node.get("UserDefinedValue") or value
            if value:
                values.append(value)
        return values

    def anchor(self, item: etree._Element, list_name: str, ref_name: str, ref: str) -> str:
        """The item's XPath, anchored on its reference (else on its position)."""
        local = etree.QName(item).localname
        base = f"/mwn:{self.prefix}/{list_name}/{local}"
        if ref and "'" not in ref:
            return f"{base}[{ref_name}='{ref}']"
        parent = item.getparent()
        position = 1 if parent is None else list(parent).index(item) + 1
        return f"{base}[{position}]"

    @staticmethod
    def located(el: etree._Element, item: etree._Element, anchor: str) -> Where:
        """``el`` under the streamed ``item`` (its XPath ``anchor``), as a :data:`Where`."""
        steps: list[str] = []
        node = el
        while node is not item and (parent := node.getparent()) is not None:
            same = [s for s in parent if s.tag == node.tag]
            step = etree.QName(node).localname
            steps.append(f"{step}[{same.index(node) + 1}]" if len(same) > 1 else step)
            node = parent
        return anchor, sys.intern("/".join(reversed(steps))), el.sourceline or 0

    # -- items, as they end ----------------------------------------------------------------

    def take(self, el: etree._Element, list_name: str) -> None:
        if self.q is None and isinstance(el.tag, str):
            namespace = etree.QName(el).namespace
            self.q = f"{{{namespace}}}" if namespace else ""
        if not isinstance(el.tag, str):
            return
        local = etree.QName(el).localname
        if list_name == "TerritoryList" and local == "Territory":
            self.territory(el)
        elif list_name == "PartyList" and local == "Party":
            self.party(el)
        elif list_name == "WorkList" and local == "MusicalWork":
            self.work(el)
        elif list_name == "ResourceList" and local == "SoundRecording":
            self.recording(el)
        elif list_name == "RightShareList" and local == "RightShare":
            self.share(el)
        forget(el)

    def codes(
        self, el: etree._Element, item: etree._Element, anchor: str, faults: list[Fault]
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(TerritoryCodes, ExcludedTerritoryCodes) under ``el``; an unknown code is a fault."""
        found: dict[str, list[str]] = {"TerritoryCode": [], "ExcludedTerritoryCode": []}
        for name, codes in found.items():
            for node in self.all(el, name):
                if not (code := node_text(node)):
                    continue
                if code != WORLDWIDE and code not in identifiers.ALL_TERRITORIES:
                    where = self.located(node, item, anchor)
                    faults.append((*_at(where), f"{name} {code!r} is not an ISO 3166-1 alpha-2 "
                                   "territory code"))  # fmt: skip
                    continue
                codes.append(code)
        included = tuple(dict.fromkeys(found["TerritoryCode"]))
        if WORLDWIDE in included:
            included = (WORLDWIDE,)
        return included, tuple(dict.fromkeys(found["ExcludedTerritoryCode"]))

    def territory(self, el: etree._Element) -> None:
        ref = self.text(el, "TerritoryReference")
        anchor = self.anchor(el, "TerritoryList", "TerritoryReference", ref)
        faults: list[Fault] = []
        codes = self.codes(el, el, anchor, faults)
        for xpath, line, reason in faults:
            self.problems.append(DdexProblem(xpath, line, f"Territory {ref} rejected: {reason}"))
        if ref:
            self.territories[ref] = None if faults else codes

    def party(self, el: etree._Element) -> None:
        ref = self.text(el, "PartyReference")
        anchor = self.anchor(el, "PartyList", "PartyReference", ref)
        if not ref:
            reason = "Party rejected: it has no PartyReference"
            self.problems.append(DdexProblem(anchor, el.sourceline or 0, reason))
            return
        faults: list[Fault] = []
        ids: dict[str, str | None] = {"ISNI": None, "IpiNameNumber": None, "DPID": None}
        checks = {"ISNI": identifiers.normalize_isni, "IpiNameNumber": identifiers.normalize_ipi}
        for pid in self.all(el, "PartyId"):
            for name in ids:
                node = next(iter(self.all(pid, name)), None)
                if node is None or not (value := node_text(node)) or ids[name]:
                    continue
                if (check := checks.get(name)) is not None:
                    try:
                        value = check(value)
                    except ValueError as exc:
                        where = self.located(node, el, anchor)
                        faults.append((*_at(where), f"{name} {value!r}: {exc}"))
                        continue
                ids[name] = value
        name = self.text(el, "PartyName/FullName")
        party = DdexParty(name, ids["ISNI"], ids["IpiNameNumber"], ids["DPID"])
        if not (name or party.isni or party.ipi or party.dpid):
            faults.append((anchor, el.sourceline or 0, "it has neither a name nor a PartyId"))
        self.parties[ref] = _Party(party, faults)

    def work(self, el: etree._Element) -> None:
        ref = self.text(el, "MusicalWorkReference")
        anchor = self.anchor(el, "WorkList", "MusicalWorkReference", ref)
        where = (anchor, "", el.sourceline or 0)
        faults: list[Fault] = []
        iswc_node = next((n for n in self.all(el, "MusicalWorkId/ISWC") if node_text(n)), None)
        iswc, iswc_where = None, where
        if iswc_node is None:
            faults.append((*_at(where), "it has no ISWC (MusicalWorkId/ISWC)"))
        else:
            iswc_where = self.located(iswc_node, el, anchor)
            try:
                iswc = identifiers.normalize_iswc(node_text(iswc_node))
            except ValueError as exc:
                faults.append((*_at(iswc_where), f"ISWC {node_text(iswc_node)!r}: {exc}"))
        title = self.text(el, "Title/TitleText")
        if not title:
            faults.append((*_at(where), "it has no title (Title/TitleText)"))
        writers = []
        for writer in self.all(el, "Writer"):
            ref_node = next(iter(self.all(writer, "WriterPartyReference")), None)
            writer_where = self.located(writer if ref_node is None else ref_node, el, anchor)
            roles = tuple(sys.intern(r) for r in dict.fromkeys(self.texts(writer, "Role")))
            writers.append((node_text(ref_node), roles, writer_where))
        if not writers:
            faults.append((*_at(where), "it has no writer (Writer/WriterPartyReference)"))
        languages = tuple(dict.fromkeys(self.texts(el, "LanguageOfLyrics")))
        self.works.append(_Work(ref, where, iswc, iswc_where, title, writers, languages, faults))

    def recording(self, el: etree._Element) -> None:
        ref = self.text(el, "ResourceReference")
        anchor = self.anchor(el, "ResourceList", "ResourceReference", ref)
        isrc_node = next((n for n in self.all(el, "SoundRecordingId/ISRC") if node_text(n)), None)
        if isrc_node is None:
            return  # Nothing to link it by.
        try:
            isrc = identifiers.normalize_isrc(node_text(isrc_node))
        except ValueError as exc:
            xpath, line = _at(self.located(isrc_node, el, anchor))
            self.problems.append(DdexProblem(xpath, line, f"SoundRecording {ref} is not linked: "
                                             f"ISRC {node_text(isrc_node)!r}: {exc}"))  # fmt: skip
            return
        for node in el.iter(f"{self.q}ResourceMusicalWorkReference"):
            if len(node) == 0 and (work_ref := node_text(node)):
                self.embodied[work_ref].append(isrc)

    def share(self, el: etree._Element) -> None:
        ref = self.text(el, "RightShareReference")
        anchor = self.anchor(el, "RightShareList", "RightShareReference", ref)
        faults: list[Fault] = []
        territories, excluded = self.codes(el, el, anchor, faults)
        if excluded and not territories:
            territories = (WORLDWIDE,)
        territory_refs = [
            (value, self.located(node, el, anchor))
            for node in self.all(el, "TerritoryReference")
            if (value := node_text(node))
        ]
        controller = None
        rc = next(iter(self.all(el, "RightsController/RightsControllerPartyReference")), None)
        if rc is not None and node_text(rc):
            controller = (node_text(rc), self.located(rc, el, anchor))
        percent: Decimal | None = None
        for node in self.all(el, "RightSharePercentage"):
            try:
                percent = Decimal(node_text(node))
            except InvalidOperation:
                where = self.located(node, el, anchor)
                faults.append((*_at(where), f"RightSharePercentage {node.text!r} is not a decimal"))
                continue
            if not percent.is_finite() or not 0 <= percent <= 100:
                where = self.located(node, el, anchor)
                faults.append((*_at(where), f"RightSharePercentage {percent} is outside 0..100"))
                percent = None
        claimed = self.text(el, "RightShareNotClaimed") not in ("true", "1")
        claimed = claimed and self.text(el, "RightsControllerUnknown") not in ("true", "1")
        valid_from, valid_until = self.period(el, anchor, faults)
        self.shares.append(_Share(
            ref, (anchor, "", el.sourceline or 0), self.texts(el, "RightShareWorkReference"),
            sys.intern(self.text(el, "RightShareType")),
            tuple(sys.intern(t) for t in dict.fromkeys(self.texts(el, "RightsType"))),
            territories, excluded, territory_refs, controller, percent, claimed, valid_from,
            valid_until, faults,
        ))  # fmt: skip

    def period(
        self, el: etree._Element, anchor: str, faults: list[Fault]
    ) -> tuple[dt.date | None, dt.date | None]:
        bounds: list[dt.date | None] = []
        for name in ("StartDate", "EndDate"):
            node = next(iter(self.all(el, f"ValidityPeriod/{name}")), None)
            value, day = node_text(node), None
            if value and _DATE.match(value):
                try:
                    day = dt.date.fromisoformat(value)
                except ValueError:
                    day = None
            if value and day is None and node is not None:
                where = self.located(node, el, anchor)
                faults.append((*_at(where), f"{name} {value!r} is not a date (YYYY-MM-DD)"))
            bounds.append(day)
        start, end = bounds
        until = None if end is None else end + dt.timedelta(days=1)
        if start and until and start >= until:
            faults.append((anchor, el.sourceline or 0, "its ValidityPeriod ends before it starts"))
        return start, until

    # -- the message, once read ------------------------------------------------------------

    def message(self) -> MwnMessage:
        for work in self.works:  # Resolve the writers: each must name a valid Party.
            for ref, _, at in work.writers:
                xpath, line = _at(at)
                if (party := self.parties.get(ref)) is None:
                    work.faults.append((xpath, line, f"WriterPartyReference {ref!r} names no "
                                        "Party in the PartyList"))  # fmt: skip
                else:
                    work.faults += party.faults
        by_ref = {w.ref: w for w in self.works if w.ref}
        carried: dict[str, list[str]] = defaultdict(list)
        for work in self.works:
            if work.iswc:
                carried[work.iswc].append(work.ref or "?")
        for work in self.works:
            if work.iswc and len(holders := carried[work.iswc]) > 1:
                work.faults.append((*_at(work.iswc_where), f"ISWC {work.iswc} is carried by "
                                    f"{len(holders)} MusicalWorks ({', '.join(holders)}): each "
                                    "of them is rejected"))  # fmt: skip
        shares_of: dict[str, list[_Share]] = defaultdict(list)
        for share in self.shares:
            self.settle(share)
            known = [r for r in share.works if r in by_ref]
            if not known:
                why = f"RightShare {share.ref} rejected: its RightShareWorkReference names no work"
                self.problems.append(DdexProblem(*_at(share.where), why))
            for ref in dict.fromkeys(known):
                shares_of[ref].append(share)
        works = []
        for work in self.works:
            shares = self.publishing(work, shares_of.get(work.ref, []))
            if work.faults or work.iswc is None:
                self.problems += [
                    DdexProblem(xpath, line, f"MusicalWork {work.ref or '?'} rejected: {reason}")
                    for xpath, line, reason in work.faults
                ]
                continue
            writers = tuple((self.parties[ref].party, roles) for ref, roles, _ in work.writers)
            works.append(MwnWork(
                *_at(work.where), work.ref, work.iswc, work.title,
                tuple(dict.fromkeys(writers)), tuple(shares),
                tuple(dict.fromkeys(self.embodied.get(work.ref, []))), work.languages,
            ))  # fmt: skip
        message_id = self.text(self.root, "MessageHeader/MessageId") or None
        return MwnMessage(self.version, message_id, tuple(works), tuple(self.problems))

    def settle(self, share: _Share) -> None:
        """Resolve a RightShare's territory references and controller (faults if they name
        nothing or an invalid Party)."""
        for ref, at in share.territory_refs:
            xpath, line = _at(at)
            codes = self.territories.get(ref)
            if codes is None:
                share.faults.append((xpath, line, f"TerritoryReference {ref!r} names no valid "
                                     "Territory in the TerritoryList"))  # fmt: skip
                continue
            included, excluded = codes
            share.territories = tuple(dict.fromkeys((*share.territories, *included)))
            share.excluded = tuple(dict.fromkeys((*share.excluded, *excluded)))
        if WORLDWIDE in share.territories or (share.excluded and not share.territories):
            share.territories = (WORLDWIDE,)
        if not share.territories:
            share.faults.append((*_at(share.where), "it names no territory"))
        if share.controller is not None:
            ref, at = share.controller
            xpath, line = _at(at)
            if (party := self.parties.get(ref)) is None:
                share.faults.append((xpath, line, f"RightsControllerPartyReference {ref!r} names "
                                     "no Party in the PartyList"))  # fmt: skip
            else:
                share.faults += party.faults

    def publishing(self, work: _Work, shares: list[_Share]) -> list[MwnShare]:
        """The work's publishing shares; faults of its RightShares, and sums over 100 % in any
        RightShareType and RightsType, are the work's faults (they reject it whole)."""
        for share in shares:
            work.faults += [(x, n, f"RightShare {share.ref}: {r}") for x, n, r in share.faults]
        if any(share.faults for share in shares):
            return []
        groups: dict[tuple[str, str], list[_Share]] = defaultdict(list)
        for share in shares:
            for rights_type in share.rights_types or ("",):
                groups[(share.share_type, rights_type)].append(share)
        for (share_type, rights_type), group in groups.items():
            known = [s for s in group if s.percent is not None]
            terms = [
                ShareTerms(s.ref, s.ref, s.percent or Decimal(0), *_mode(s), s.valid_from,
                           s.valid_until)
                for s in known
            ]  # fmt: skip
            if (over := find_overshoot(terms)) is not None:
                what = " ".join(filter(None, (share_type, rights_type))) or "RightShares"
                culprit = next(s for s in known if s.ref == over.shares[-1].id)
                why = f"{what} shares add up to more than 100 %: {over.describe()}"
                work.faults.append((*_at(culprit.where), why))
        if work.faults or not groups:
            return []
        chosen = _chosen(list(groups))
        group = groups[chosen]
        out = []
        for share in group:
            percent = share.percent
            if percent is None:
                if len(group) > 1:
                    continue  # An unknown share among several: nothing to register.
                percent = Decimal(100)  # The sole controller holds it all.
            if not share.claimed or share.controller is None or percent == 0:
                continue
            party = self.parties[share.controller[0]].party
            out.append(MwnShare(
                _where(share.where),
                party, percent, share.territories, share.excluded if WORLDWIDE in
                share.territories else (), share.rights_types, share.share_type,
                share.valid_from, share.valid_until,
            ))  # fmt: skip
        return out


def _at(where: Where) -> tuple[str, int]:
    """The XPath and line of a kept element."""
    anchor, steps, line = where
    return (f"{anchor}/{steps}" if steps else anchor), line


def _where(where: Where) -> str:
    xpath, line = _at(where)
    return f"{xpath} (line {line})" if line else xpath


def _mode(share: _Share) -> tuple[str, frozenset[str]]:
    if WORLDWIDE in share.territories:
        return (
            ("exclude", frozenset(share.excluded)) if share.excluded else ("worldwide", frozenset())
        )
    return "include", frozenset(share.territories)


def _chosen(keys: list[tuple[str, str]]) -> tuple[str, str]:
    """The (RightShareType, RightsType) read as ``publishing``: collection shares (who controls
    and collects) before manuscript shares, and :data:`PREFERRED_RIGHTS_TYPE` before the
    others; otherwise the first given."""

    def rank(key: tuple[str, str]) -> tuple[bool, bool, int]:
        share_type, rights_type = key
        return ("Manuscript" in share_type, rights_type != PREFERRED_RIGHTS_TYPE, keys.index(key))

    return min(keys, key=rank)
