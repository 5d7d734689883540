"""Periods of use: what a question asks about in time, and how a period is cut into parts.

Pure: no Django, and no clock (the time a request was asked is passed in).

A request names its period of use with ``period_start`` and ``period_end`` (exclusive); the
question the evaluator answers (``Question.at``, ``Question.until``) follows from them
(:func:`question_period`):

=============================  =========================================================
given                          the question is about
=============================  =========================================================
both                           the period ``[period_start, period_end)``
``period_start`` only          the period from ``period_start`` on, with no end
                               (``until`` is :data:`OPEN_END`)
``period_end`` only            the period from when it was asked to ``period_end``
neither                        the instant it was asked (``until`` is None)
=============================  =========================================================

A rule's window and a share's validity either cover a part of a period wholly or not at all
once the period is cut at every window boundary and every share's first and last day that
fall inside it (:func:`parts`); each part is then decided as its first instant would be, and
the period's answer is the strictest part's (``governance.evaluation``). In the trace a
period is ``{"start": "2027-06-01T00:00:00Z", "end": "2029-06-01T00:00:00Z"}`` (RFC 3339,
UTC; ``end`` null when the period has none).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Final

OPEN_END: Final = dt.datetime.max.replace(tzinfo=dt.UTC)
"""``Question.until`` for a period of use that has no end."""


def question_period(
    *, start: dt.datetime | None, end: dt.datetime | None, asked: dt.datetime
) -> tuple[dt.datetime, dt.datetime | None]:
    """The question's ``(at, until)`` for a request's period (module docstring's table), to
    the millisecond.

    Raises :class:`ValueError` for a period that ends before it starts (or, with only an
    end, before it was asked)."""
    if start is None and end is None:
        return _millisecond(asked), None
    at = _millisecond(asked if start is None else start)
    until = OPEN_END if end is None else _millisecond(end)
    if until <= at:
        raise ValueError(f"the period of use ends ({time_text(until)}) before it starts")
    return at, until


def _millisecond(value: dt.datetime) -> dt.datetime:
    """``value`` truncated to the millisecond, as the ledger writes times (``ledger.canonical``):
    the question evaluated is then exactly the one ledgered, and replay asks the same."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def midnight(day: dt.date) -> dt.datetime:
    """The first instant (UTC) of ``day``: where a share valid from or until ``day`` starts or
    stops counting."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def parts(
    start: dt.datetime, until: dt.datetime, boundaries: Iterable[dt.datetime]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """``[start, until)`` cut at every boundary strictly inside it, in order."""
    cuts = sorted({b for b in boundaries if start < b < until})
    points = [start, *cuts, until]
    return list(itertools.pairwise(points))


def time_text(value: dt.datetime) -> str:
    """``value`` as the trace writes it: RFC 3339, UTC, ``Z``."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def period_json(start: dt.datetime, until: dt.datetime) -> dict[str, str | None]:
    """A period as the trace holds it (``end`` null for :data:`OPEN_END`)."""
    return {"start": time_text(start), "end": None if until == OPEN_END else time_text(until)}


def during(start: dt.datetime, until: dt.datetime) -> str:
    """How a reason names a part of the period: ``from <start> to <end>`` or ``from <start>
    on``."""
    if until == OPEN_END:
        return f"from {time_text(start)} on"
    return f"from {time_text(start)} to {time_text(until)}"
