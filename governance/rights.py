"""Rights-share arithmetic: shares of one right of one work, in one territory at one time,
never add up to more than 100 %. Pure: no Django.

The check looks for a witness: a (territory, day) where the shares in force add up to more
than 100 %. Only finitely many cases differ: the days between consecutive window bounds, and
the territories named by some share plus one territory that no share names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from governance.identifiers import ALL_TERRITORIES, territory_covers

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class ShareTerms:
    """What the total check needs of a share."""

    id: str
    holder: str
    share: Decimal
    territory_mode: str
    territories: frozenset[str]
    valid_from: dt.date | None
    valid_until: dt.date | None  # exclusive

    def in_force(self, day: dt.date | None) -> bool:
        """In force on ``day`` (``None``: before every bound)."""
        if day is None:
            return self.valid_from is None
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day < self.valid_until
        )


@dataclass(frozen=True, slots=True)
class Overshoot:
    """A witness that shares exceed 100 %: where, when, and which shares."""

    territory: str
    day: dt.date | None
    total: Decimal
    shares: tuple[ShareTerms, ...]

    def describe(self) -> str:
        when = "from the start" if self.day is None else f"on {self.day.isoformat()}"
        parts = ", ".join(f"share {s.id} ({s.share}%)" for s in self.shares)
        return f"{self.total}% in {self.territory} {when}: {parts}"


def share_percent(value: object) -> Decimal:
    """A share as written (``50``, ``"33.333"``, ``"50%"``), checked: above 0, at most 100,
    at most three decimals. ``ValueError`` says what is wrong, quoting the value."""
    text = str(value).strip().rstrip("%")
    try:
        percent = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not a percentage") from None
    if not percent.is_finite() or not Decimal(0) < percent <= HUNDRED:
        raise ValueError(f"{value!r} must be above 0 and at most 100 (percent)")
    if percent != percent.quantize(Decimal("0.001")):
        raise ValueError(f"{value!r} has more than three decimals")
    return percent


def _days(shares: Iterable[ShareTerms]) -> list[dt.date | None]:
    bounds = {d for s in shares for d in (s.valid_from, s.valid_until) if d is not None}
    return [None, *sorted(bounds)]


def _territories(shares: Sequence[ShareTerms]) -> list[str]:
    named = sorted({t for s in shares for t in s.territories})
    unnamed = sorted(ALL_TERRITORIES - set(named))
    return named + unnamed[:1]


def find_overshoot(shares: Sequence[ShareTerms]) -> Overshoot | None:
    """The first (territory, day) where ``shares`` (all of one right of one work) exceed
    100 %, or ``None`` if they never do."""
    if sum((s.share for s in shares), Decimal(0)) <= HUNDRED:
        return None  # the common case: cheap
    for day in _days(shares):
        active = [s for s in shares if s.in_force(day)]
        if sum((s.share for s in active), Decimal(0)) <= HUNDRED:
            continue
        for territory in _territories(active):
            covering = tuple(
                s
                for s in active
                if territory_covers(mode=s.territory_mode, codes=s.territories, territory=territory)
            )
            total = sum((s.share for s in covering), Decimal(0))
            if total > HUNDRED:
                return Overshoot(territory, day, total, covering)
    return None
