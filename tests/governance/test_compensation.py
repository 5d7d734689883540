"""The laws of a report's split (``governance.compensation``, docs/lifecycle-statements.md): the
lines and the residual add up to the total exactly; no line is more than its exact part; the
residual is less than one minor unit per line and goes to the largest part; a rated total is
the exact sum rounded half-even."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance import compensation
from governance.compensation import Part

weights = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(100), places=3)
amounts = st.decimals(min_value=Decimal(0), max_value=Decimal("1000000"), places=2)
rates = st.decimals(min_value=Decimal("0.0000000001"), max_value=Decimal(10), places=10)


@settings(max_examples=300, deadline=None)
@given(weights=st.lists(weights, min_size=1, max_size=12), amount=amounts)
def test_a_reported_amount_is_split_into_lines_that_add_up_to_it(
    weights: list[Decimal], amount: Decimal
) -> None:
    parts = [Part(weight=w, base=amount) for w in weights]
    split = compensation.split(parts, places=2, total=amount)
    assert split.total == amount
    assert sum(split.lines) + split.residual == amount
    total_weight = sum(Fraction(w) for w in weights)
    for line, w in zip(split.lines, weights, strict=True):
        exact = Fraction(amount) * Fraction(w) / total_weight
        assert Fraction(line) <= exact < Fraction(line) + Fraction(1, 100)
    assert Decimal(0) <= split.residual < Decimal(len(weights)) / 100
    exacts = [Fraction(amount) * Fraction(w) / total_weight for w in weights]
    assert exacts[split.residual_to] == max(exacts)
    assert split.residual_to == exacts.index(max(exacts))  # ties: the first


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.tuples(weights, rates), min_size=1, max_size=8),
    units=st.integers(min_value=0, max_value=10**9),
    places=st.sampled_from([0, 2, 3]),
)
def test_rated_parts_total_the_exact_sum_rounded_half_even(
    parts: list[tuple[Decimal, Decimal]], units: int, places: int
) -> None:
    split = compensation.split([Part(weight=w, base=r * units) for w, r in parts], places=places)
    total_weight = sum(Fraction(w) for w, _ in parts)
    exact = sum(Fraction(r * units) * Fraction(w) / total_weight for w, r in parts)
    assert Fraction(split.total) == Fraction(round(exact * 10**places), 10**places)
    assert sum(split.lines) + split.residual == split.total
    assert split.residual >= 0


def test_the_examples_of_the_documentation() -> None:
    thirds = [Part(weight=Decimal(w), base=Decimal("100.00"))
              for w in ("33.333", "33.333", "33.334")]  # fmt: skip
    split = compensation.split(thirds, places=2, total=Decimal("100.00"))
    assert split.lines == (Decimal("33.33"),) * 3
    assert (split.residual, split.residual_to) == (Decimal("0.01"), 2)
    half = [Part(weight=Decimal(50), base=Decimal("0.005")) for _ in range(2)]
    assert compensation.split(half, places=2).total == Decimal("0.00")  # 0.005: half to even
    with pytest.raises(ValueError, match="decimal places"):
        compensation.split(half, places=2, total=Decimal("0.001"))
    with pytest.raises(ValueError, match="no part"):
        compensation.split([], places=2, total=Decimal(1))


def test_currencies_and_decimals_are_read_strictly() -> None:
    assert compensation.currency_places("EUR") == 2
    assert compensation.currency_places("JPY") == 0
    assert compensation.currency_places("BHD") == 3
    for bad in ("eur", "XAU", "ZZZ", "EURO", 5):
        with pytest.raises(ValueError, match="ISO 4217"):
            compensation.currency_places(bad)  # type: ignore[arg-type]
    assert compensation.parse_decimal("0.0035", places=10) == Decimal("0.0035")
    assert compensation.parse_decimal(0.1, places=2) == Decimal("0.1")
    assert compensation.parse_decimal(12, places=0) == Decimal(12)
    for value in (True, "-1", "1e3", "1.234", float("nan"), float("inf"), "", None, [1]):
        with pytest.raises(ValueError):  # noqa: PT011 - each says why; any reason will do here
            compensation.parse_decimal(value, places=2)
    with pytest.raises(ValueError, match="more than zero"):
        compensation.parse_decimal("0", places=2, positive=True)
