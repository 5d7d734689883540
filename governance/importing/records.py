"""What the import sources produce and the applier consumes. Pure: no Django."""

from __future__ import annotations

import datetime as dt
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
    """A rejected row or element: ``where`` is ``line N`` (CSV) or an XPath (DDEX)."""

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
class ShareRecord:
    where: str
    right: str
    share: Decimal
    holder: str
    """A party id or name; empty means the importing party."""
    territory_mode: str = "worldwide"
    territories: frozenset[str] = frozenset()
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None


@dataclass(frozen=True)
class ReleaseRecord:
    upc: str
    title: str
    display_artist: str = ""
    release_date: dt.date | None = None


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
    credits: tuple[CreditRecord, ...] = ()
    shares: list[ShareRecord] = field(default_factory=list)
    releases: list[ReleaseRecord] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return ("isrc", self.isrc) if self.isrc else ("iswc", self.iswc or "")

    def work_fields(self) -> tuple[object, ...]:
        return (self.kind, self.title, self.display_artist, self.composition_iswc,
                self.duration_ms, self.language, self.release_date, self.p_line,
                self.credits)  # fmt: skip
