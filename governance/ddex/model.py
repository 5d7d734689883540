"""What :func:`governance.ddex.parse_ern` answers: plain frozen dataclasses, and
:class:`DdexError` for a file that is unusable as a whole.

Territories are ISO 3166-1 alpha-2 codes (an unknown code rejects its recording), or
:data:`WORLDWIDE` alone, with ``excluded_territories`` then meaning "everywhere but these".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

WORLDWIDE: Final = "Worldwide"


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
    dpid: str | None = None  # A DDEX Party ID (PADPIDA...), as written.


@dataclass(frozen=True, slots=True)
class DdexRightsController:
    party: DdexParty
    roles: tuple[str, ...]  # RightsControllerRole (3.8, 4.1) or RightsControlType (4.2+).
    share_percent: Decimal | None
    territories: tuple[str, ...]  # ISO 3166-1 alpha-2 codes, or ("Worldwide",).
    excluded_territories: tuple[str, ...] = ()  # With ("Worldwide",): everywhere but these.
    controller_type: str | None = None  # RightsControllerType (OriginalOwner, Licensee...).


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
    excluded_territories: tuple[str, ...] = ()
    resource_reference: str = ""
    languages: tuple[str, ...] = ()  # Every LanguageOfPerformance, in order (language: the first).
    genre: str | None = None
    parental_warning: str | None = None
    ai_declaration: str | None = None  # terms.AI_DECLARATIONS; None: it says nothing.
    ai_parts: tuple[str, ...] = ()  # Roles of the Contributors declared made with AI.
    ai_declared_in: tuple[str, ...] = ()  # The elements that declared it (ContainsAI...).
    iswc: str | None = (
        None  # The composition it embodies: 3.8 IndirectSoundRecordingId, 4.x WorkId.
    )


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
    catalog_number: str | None = None
    label_name: str | None = None
    c_line: str | None = None
    genre: str | None = None
    parental_warning: str | None = None


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
