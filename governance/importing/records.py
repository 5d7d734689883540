"""What the import sources produce and the applier consumes. Pure: no Django."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal


class UnreadableFile(ValueError):
    """The whole file cannot be read (not UTF-8, not well-formed XML, a document type
    declaration, an oversized field, no header, empty or binary): nothing in it is imported, and
    the import fails with this problem rather than succeeding with no records."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.problem = Problem(where, reason)


@dataclass(frozen=True)
class Problem:
    """A rejected row or element: ``where`` is ``line N`` (CSV) or an XPath (DDEX, with the
    line of the element's start tag). Every problem is a rejection: what it names was not
    imported."""

    where: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"where": self.where, "reason": self.reason}


@dataclass(frozen=True)
class CreditRecord:
    name: str
    role: str
    isni: str = ""
    ipi: str = ""


@dataclass(frozen=True)
class HolderRecord:
    """A holder as a feed names it (a DDEX rights controller): by identifiers where given,
    else by name. The applier finds the party it is, or names an unclaimed one."""

    name: str
    isni: str = ""
    ipi: str = ""
    dpid: str = ""


@dataclass(frozen=True)
class ShareRecord:
    where: str
    right: str
    share: Decimal
    holder: str
    """A party id or name; empty means the importing party (unless ``named`` is given)."""
    territory_mode: str = "worldwide"
    territories: frozenset[str] = frozenset()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    named: HolderRecord | None = None
    """A feed's holder: found by its identifiers, or an unclaimed party is named for it."""
    controller_roles: tuple[str, ...] = ()
    controller_type: str = ""


@dataclass(frozen=True)
class ReleaseRecord:
    upc: str
    title: str
    display_artist: str = ""
    release_date: dt.date | None = None
    catalog_number: str = ""
    label_name: str = ""
    c_line: str = ""


@dataclass
class ImportRecord:
    """One work with its shares and the release it appears on, from one or more rows."""

    where: str
    kind: str
    title: str
    display_artist: str = ""
    isrc: str | None = None
    iswc: str | None = None
    composition_iswc: str | None = None
    duration_ms: int | None = None
    language: str = ""
    release_date: dt.date | None = None
    p_line: str = ""
    p_year: int | None = None
    languages: tuple[str, ...] = ()
    genre: str = ""
    parental_warning: str = ""
    ai_declaration: str = ""
    ai_parts: tuple[str, ...] = ()
    ai_declared_in: tuple[str, ...] = ()
    credits: tuple[CreditRecord, ...] = ()
    shares: list[ShareRecord] = field(default_factory=list)
    releases: list[ReleaseRecord] = field(default_factory=list)
    declared_iswc: str = ""
    """A recording's ISWC as its feed declares it (ERN): linked once that composition is
    registered (``composition_iswc`` instead requires it registered now)."""
    composition_stated: bool = True
    """Whether the record states the recording's composition (CSV, API: no
    ``composition_iswc`` unlinks it). A feed states only what it declares: an existing link
    stays when it declares nothing or an ISWC not registered yet."""
    recording_isrcs: tuple[str, ...] = ()
    """A composition's recordings, by ISRC, as a works message names them (linked by
    ``governance.importing.links``)."""
    digest: str = ""
    """What it was read from (a DDEX source sets it: its element with the message's context);
    else :func:`content_digest` of its fields. Compared with the work's stored one."""
    element: str = ""
    """A DDEX source's digest of its element alone (see :mod:`governance.ddex.digest`)."""

    @property
    def key(self) -> tuple[str, str]:
        return ("isrc", self.isrc) if self.isrc else ("iswc", self.iswc or "")

    def work_fields(self) -> tuple[object, ...]:
        return (self.kind, self.title, self.display_artist, self.composition_iswc,
                self.duration_ms, self.language, self.release_date, self.p_line,
                self.p_year, self.languages, self.genre, self.parental_warning,
                self.ai_declaration, self.ai_parts, self.ai_declared_in,
                self.credits, self.declared_iswc, self.recording_isrcs)  # fmt: skip


@dataclass(frozen=True)
class Unchanged:
    """A work the source did not read, since what it would be read from is what this party
    imported last (its digest; the applier checked the work has not changed since)."""

    key: tuple[str, str]
    digest: str


DIGEST_SCHEME: str = "1:" + ",".join(
    f"{cls.__name__}({','.join(f.name for f in dataclasses.fields(cls))})"
    for cls in (ImportRecord, ShareRecord, ReleaseRecord, CreditRecord, HolderRecord)
)
"""Part of every digest: a field added to what is read or stored (or a change of meaning,
with the number) makes every stored digest stale, so the next import reads everything."""


def content_digest(record: ImportRecord) -> str:
    """A digest of everything the applier stores from ``record``: the work's fields and
    credits, each share (holder, percentage, territories, validity, controller roles and
    type) and each release; not where in the file it was."""
    shares = [
        (s.right, str(s.share), s.holder, s.territory_mode, sorted(s.territories),
         s.valid_from, s.valid_until, s.named, s.controller_roles, s.controller_type)
        for s in record.shares
    ]  # fmt: skip
    content = (DIGEST_SCHEME, record.key, record.iswc, record.work_fields(), shares,
               record.releases)  # fmt: skip
    return hashlib.sha256(repr(content).encode()).hexdigest()
