"""The consent vocabulary (DESIGN.md, Vocabulary) and a rule version's content, as plain data.

Pure: no Django. The registry stores rule versions in the database; the evaluator, the ledger
payloads and the exports (ODRL, CAWG) all read them as :class:`RuleContent`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

USES: Final = ("train", "reference", "output", "voice", "style", "lyrics", "stems", "analyze")
"""What a licensee wants to do with a work (DESIGN.md, Vocabulary)."""

RIGHTS: Final = ("master", "publishing", "performer", "likeness")

EFFECTS: Final = ("allow", "conditional", "deny", "review")

SCOPES: Final = ("all_works", "works", "artist_works", "likeness")
"""What a rule covers: every work where its owner holds a right, listed works, the works of one
artist (where the owner holds a right), or the owner's own likeness (artists only)."""

AI_DECLARATIONS: Final = ("generated", "assisted", "none")
"""What a recording's label declares of its making with generative AI: all of it, part of it,
none of it (DDEX ERN 4.3.2 ``ContainsAI``: All, Partly, None). A work without a declaration is
``undeclared`` (:data:`AI_CONDITIONS`)."""
AI_CONDITIONS: Final = (*AI_DECLARATIONS, "undeclared")
"""What a rule's ``ai_declarations`` may list: the works it speaks for (none listed: every work)."""
LICENSEE_MODES: Final = ("any", "listed", "except")
TERRITORY_MODES: Final = ("worldwide", "include", "exclude")
COMMERCIAL: Final = ("commercial", "non_commercial", "both")
POSTURES: Final = ("opt_in", "opt_out")
"""A party's default when none of its rules answers: opt-in (no consent on record → deny, the
default) or opt-out (allowed unless reserved)."""

DEFAULT_MATRIX: Final[Mapping[str, tuple[str, ...]]] = {
    "train": ("master", "publishing", "performer"),
    "reference": ("master", "publishing"),
    "output": ("master", "publishing"),
    "voice": ("likeness",),
    "style": ("likeness",),
    "lyrics": ("publishing",),
    "stems": ("master", "performer"),
    "analyze": ("master",),
}
"""Which rights must consent to which use: DESIGN.md's defaults, the consent matrix's version 1."""


@dataclass(frozen=True, slots=True)
class Obligations:
    """What a licensee must do under a ``conditional`` allow."""

    attribution: str = ""
    """Attribution text to show with the output or model."""
    compensation_ref: str = ""
    """A reference to compensation terms agreed elsewhere (a contract or rate card id)."""
    ai_disclosure: bool = False
    """Outputs must be labelled as AI-generated."""
    max_similarity: float | None = None
    """Outputs may resemble the work at most this closely (0..1, the matching spaces' scale)."""

    def is_empty(self) -> bool:
        return self == Obligations()


@dataclass(frozen=True, slots=True)
class RuleContent:
    """One version of a consent rule: what it says, without who stores it where.

    Sets are frozensets of strings (work and party ids are UUID strings, territories ISO 3166-1
    alpha-2 codes); ``window_start``/``window_end`` bound the time of use the rule speaks for
    (``None``: unbounded; the end is exclusive).
    """

    rule_id: str
    version: int
    owner_id: str
    scope: str
    uses: frozenset[str]
    effect: str
    scope_works: frozenset[str] = frozenset()
    scope_artist_id: str | None = None
    licensee_mode: str = "any"
    licensees: frozenset[str] = frozenset()
    territory_mode: str = "worldwide"
    territories: frozenset[str] = frozenset()
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    commercial: str = "both"
    obligations: Obligations = field(default_factory=Obligations)
    note: str = ""
    ai_declarations: frozenset[str] = frozenset()
    """The works it speaks for by their AI declaration (:data:`AI_CONDITIONS`); empty: all."""
