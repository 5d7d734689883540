"""Compensation terms and the arithmetic that turns a usage report into per-holder lines
(docs/lifecycle-statements.md).

Pure: no Django, and no floats anywhere. Amounts are :class:`~decimal.Decimal` at the
currency's minor unit; the split is computed exactly with :class:`~fractions.Fraction`, so a
third of a cent is a third of a cent until the one place where it is rounded:

1. each part's exact amount is ``base * weight / sum of weights`` (``base``: the part's rate
   times the units reported, or the amount the licensee reported where the terms set no
   rate);
2. the report's total is the sum of the exact parts rounded half-even to the minor unit (for
   a reported amount, the amount itself);
3. each part's line is its exact amount rounded *down* to the minor unit;
4. what that left (the total less the lines: never negative, less than one minor unit per
   line) is one **residual** line, assigned to the part with the largest exact amount (ties:
   the first part in the order given).

So the lines of a report always add up to its total exactly, each holder is never paid more
than its exact part except by the residual, and the residual is visible as a line of its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Final

import pycountry

UNITS: Final = ("streams", "generations", "training_epochs", "tokens")
"""What a rate is per and a report counts."""

MINOR_UNITS: Final = {
    # ISO 4217's exponents other than 2 (the 2024 list); every other currency has 2.
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
NOT_MONEY: Final = frozenset(
    # Precious metals, special drawing rights, bond-market units and the test and "no
    # currency" codes: ISO 4217 gives them no minor unit, and nobody is paid in them here.
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)
RATE_PLACES: Final = 10
"""Decimal places a rate per unit may have (a fraction of a cent per stream needs several)."""
UNITS_PLACES: Final = 6
MAX_DIGITS: Final = 18
"""Integer digits an amount, a rate or a count of units may have, at most."""

_DECIMAL = re.compile(r"[0-9]{1,18}(\.[0-9]{1,10})?", re.ASCII)


def currency_places(code: str) -> int:
    """The minor unit (decimal places) of ISO 4217 currency ``code``; ``ValueError`` if it is
    not an active currency one is paid in."""
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{3}", code) or code in NOT_MONEY:
        raise ValueError("must be an ISO 4217 currency code, such as EUR")
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return MINOR_UNITS.get(code, 2)


def parse_decimal(value: Any, *, places: int, positive: bool = False) -> Decimal:
    """A non-negative decimal from a JSON string (``"0.0035"``) or number, with at most
    ``places`` decimal places and :data:`MAX_DIGITS` integer digits; ``ValueError`` saying why.
    A JSON number with a fraction is read as the shortest decimal that gives back the same
    binary float (Python's ``repr``, as DRF's ``DecimalField`` reads one): what was written,
    unless it had more digits than a float keeps. A string is exact."""
    if isinstance(value, bool):
        raise ValueError('must be a decimal, such as "12.50"')
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("must be a finite decimal")
        out = Decimal(repr(value))
    elif isinstance(value, int) or (isinstance(value, str) and _DECIMAL.fullmatch(value)):
        out = Decimal(value)
    else:
        raise ValueError('must be a non-negative decimal, such as "12.50"')
    if out < 0:
        raise ValueError("must not be negative")
    exponent = out.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > places:
        raise ValueError(f"at most {places} decimal places")
    if out.adjusted() >= MAX_DIGITS:
        raise ValueError(f"at most {MAX_DIGITS} digits before the decimal point")
    if positive and out == 0:
        raise ValueError("must be more than zero")
    return out


@dataclass(frozen=True)
class Part:
    """One holder's part of a report, before rounding: its weight (the share percentage in
    force) and its base (the rate times the units of its terms, or the reported amount)."""

    weight: Decimal
    base: Decimal


@dataclass(frozen=True)
class Split:
    """A report's total and its lines: ``lines[i]`` is part ``i``'s, rounded down; ``residual``
    is what rounding left, owed to part ``residual_to``."""

    total: Decimal
    lines: tuple[Decimal, ...]
    residual: Decimal
    residual_to: int


def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _to_decimal(minor: int, places: int) -> Decimal:
    return (Decimal(minor) * _quantum(places)).quantize(_quantum(places))


def split(parts: Sequence[Part], *, places: int, total: Decimal | None = None) -> Split:
    """Split exactly (module docstring): ``total`` is the reported amount where the terms set
    no rate (then every part's base is that amount), else ``None`` (the total is the exact
    sum rounded half-even). ``parts`` must have a positive total weight."""
    weights = sum((Fraction(p.weight) for p in parts), Fraction(0))
    if not parts or weights <= 0:
        raise ValueError("nothing to split: no part has a weight")
    scale = 10**places
    exact = [Fraction(p.base) * Fraction(p.weight) / weights * scale for p in parts]
    if total is None:
        total_minor = round(sum(exact, Fraction(0)))  # Fraction rounds half to even
    else:
        total_minor = int(Fraction(total) * scale)
        if Fraction(total_minor) != Fraction(total) * scale:
            raise ValueError(f"at most {places} decimal places")
    lines = [math.floor(e) for e in exact]
    residual = total_minor - sum(lines)
    assert 0 <= residual <= len(lines), (residual, lines)
    largest = max(range(len(exact)), key=lambda i: (exact[i], -i))
    return Split(
        total=_to_decimal(total_minor, places),
        lines=tuple(_to_decimal(m, places) for m in lines),
        residual=_to_decimal(residual, places),
        residual_to=largest,
    )
