"""The evaluator's inputs and outputs: frozen dataclasses, constants, obligations' union."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from governance.terms import (
    POSTURES,
    Obligations,
    RuleContent,
)

TRACE_VERSION: Final = 1
OUTCOMES: Final = ("allow", "conditional", "review", "deny", "no_match")
STRICTNESS: Final[Mapping[str, int]] = {"allow": 0, "conditional": 1, "review": 2, "deny": 3}
ERROR: Final = "error"
"""The outcome a caller records for an item it could not resolve; never the evaluator's."""
ELSEWHERE: Final = "*"
"""In a worldwide question's trace: every territory that no share or rule involved names."""

FLOWS: Final = ("publishing",)
"""The rights a recording takes from the composition it embodies (docs/rights.md): the
composition's shares of these rights are shares of the recording too. The master, performer and
likeness rights belong to the recording and its performers alone."""

_THOUSANDTH: Final = Decimal("0.001")
_NONE: Final = Obligations()
ALLOWING: Final = ("allow", "conditional")
"""The outcomes that let the licensee proceed (``conditional``: with its obligations)."""


@dataclass(frozen=True, slots=True)
class Share:
    """A rights share of the work: who holds how much of which right, where and when.
    ``composition`` names the composition a recording's share comes from: the recording's
    ``publishing`` is held by its composition's publishing shares (:data:`FLOWS`)."""

    holder_id: str
    right: str
    share: Decimal
    territory_mode: str
    territories: frozenset[str]
    valid_from: dt.date | None
    valid_until: dt.date | None  # exclusive
    composition: str | None = None


@dataclass(frozen=True, slots=True)
class Holder:
    """A party as the evaluator needs it."""

    party_id: str
    name: str
    kind: str
    default_posture: str  # "opt_in" | "opt_out"

    def __post_init__(self) -> None:
        if self.default_posture not in POSTURES:
            raise ValueError(f"default posture must be one of {POSTURES}: {self.default_posture}")


@dataclass(frozen=True, slots=True)
class Match:
    """A similarity match of the item to the work in one embedding space (scores in 0..1).

    ``detail`` is what the trace says besides, as ``(key, JSON value)`` pairs in order: for the
    ``fingerprint`` space the model and version, the aligned seconds and the offsets
    (``governance.services.fingerprints``). The evaluator reads only the score and threshold."""

    space: str
    score: float
    threshold: float
    detail: tuple[tuple[str, Any], ...] = ()

    @property
    def passes(self) -> bool:
        return self.score >= self.threshold


@dataclass(frozen=True, slots=True)
class WorkFacts:
    """A work an item resolved to: its shares and credited main/featured artists."""

    work_id: str
    title: str
    shares: tuple[Share, ...]
    artist_ids: tuple[str, ...]
    matches: tuple[Match, ...] = ()
    identified_by: str | None = None  # "isrc:USRC17607839" when named rather than matched
    composition_id: str | None = None  # a recording's composition (its shares are in shares)
    rights_use: str | None = None
    """The use whose consent-matrix row gives the rights required, when not the question's:
    ``lyrics`` for a work an item matched by its lyrics (the item holds the words alone)."""
    ai_declaration: str = ""
    """What its label declared of its making with AI (``terms.AI_DECLARATIONS``; empty: no
    declaration): rules limited to AI declarations match on it, and the trace says it."""


ARTIST_RIGHTS: Final = ("likeness",)
"""What an artist an item matched (by name in a prompt, by voice) requires, whatever the use:
the artist's likeness (voice, name and image), which the artist alone holds. A prompt that
names an artist invokes the name; audio in an artist's voice invokes the voice."""


@dataclass(frozen=True, slots=True)
class ArtistFacts:
    """An artist an item matched, by similarity: the subject decided is the artist's likeness
    (:data:`ARTIST_RIGHTS`), by the artist's ``likeness`` rules and default posture. The
    artist is read from ``Facts.holders`` (a party that is not an artist holds no likeness:
    nobody holds the right, and it is denied, ``rights.unknown``)."""

    artist_id: str
    matches: tuple[Match, ...] = ()


@dataclass(frozen=True, slots=True)
class Question:
    """What a licensee asks: a use, where (ISO alpha-2; none: worldwide), when, commercially?

    ``at`` is the instant asked about, or the start of the period of use that ends (exclusive)
    at ``until`` (``periods.OPEN_END``: it has no end); ``until`` None: the instant alone."""

    use: str
    licensee_id: str
    territories: tuple[str, ...]
    at: dt.datetime
    commercial: bool
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What is decided from: the consent matrix, the parties, the rule versions in force."""

    matrix_version: int
    matrix: Mapping[str, tuple[str, ...]]
    holders: Mapping[str, Holder]
    rules: tuple[RuleContent, ...]


@dataclass(frozen=True, slots=True)
class WorkDecision:
    """The answer for one work; ``trace`` is the work's entry in an item's trace."""

    work_id: str
    outcome: str
    code: str
    reason: str
    obligations: Obligations
    trace: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItemDecision:
    """The answer for one item; ``trace`` is self-contained, to ledger and render."""

    outcome: str
    code: str
    reason: str
    obligations: Obligations
    trace: dict[str, Any]
    works: tuple[WorkDecision, ...] = ()
    artists: tuple[WorkDecision, ...] = ()
    """The decisions on the likeness of the artists the item matched (``ArtistFacts``)."""


@dataclass(frozen=True, slots=True)
class _Answer:
    outcome: str
    code: str
    reason: str
    obligations: Obligations = _NONE  # frozen: one instance serves every answer
    rule: RuleContent | None = None
    match: Match | None = None


def _is_empty(o: Obligations) -> bool:
    """``o.is_empty()``, without building an empty instance to compare with."""
    return o is _NONE or o == _NONE


def _lines(texts: Iterable[str]) -> str:
    return _distinct_lines(tuple(texts))


@functools.lru_cache(maxsize=4096)
def _distinct_lines(texts: tuple[str, ...]) -> str:
    """The distinct non-blank lines of ``texts``, stripped and sorted, one per line (the same
    few texts recur in every decision: worked out once)."""
    return "\n".join(sorted({s.strip() for t in texts for s in t.splitlines() if s.strip()}))


def obligations_union(*items: Obligations) -> Obligations:
    """United obligations: distinct text lines, sorted; disclosure if any; the lowest limit."""
    items = tuple(o for o in items if o is not _NONE and o != _NONE)
    if not items:
        return _NONE  # the common case: cheap
    if all(o.max_similarity is None for o in items):  # the union is a function of the key
        united = _UNIONS.get(items)
        if united is None:
            if len(_UNIONS) >= 4096:
                _UNIONS.clear()
            united = _UNIONS[items] = _union(items)
        return united
    return _union(items)


_UNIONS: dict[tuple[Obligations, ...], Obligations] = {}
"""Unions worked out (the same few obligations recur in every decision). Only of obligations
without a similarity limit: their union is then the same for every equal key (texts compare
exactly; ``any`` makes the disclosure a bool), which a limit's ``1`` and ``1.0`` would not be."""


def _union(items: tuple[Obligations, ...]) -> Obligations:
    limits = [o.max_similarity for o in items if o.max_similarity is not None]
    return Obligations(
        attribution=_lines(o.attribution for o in items),
        compensation_ref=_lines(o.compensation_ref for o in items),
        ai_disclosure=any(o.ai_disclosure for o in items),
        max_similarity=min(limits) if limits else None,
    )


def obligations_json(o: Obligations) -> dict[str, Any]:
    return {
        "attribution": o.attribution,
        "compensation_ref": o.compensation_ref,
        "ai_disclosure": o.ai_disclosure,
        "max_similarity": o.max_similarity,
    }
