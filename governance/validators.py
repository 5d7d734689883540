"""The rules a work's fields obey, whoever gives them: the API (``services.catalog.work_spec``),
the CSV importer (``importing.csv_source``) and the DDEX importer (``importing.ddex_source``).

Pure: no Django. Each function returns the normalised value or raises :class:`FieldError`
naming the field and what is wrong, which each caller words in its own way (an HTTP 400 with
the field, a CSV problem naming the line, a DDEX problem naming the element). One set of rules
means a work the API refuses is refused by both importers too, and the other way round.

A work is registered under its identifier: a recording under its ISRC, a composition under its
ISWC. Requests, imports and the ledger name works by these identifiers, so a work without one
could be neither asked about by identifier nor updated by a later import.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from governance import identifiers
from governance.rights import share_percent
from governance.terms import RIGHTS

KINDS = ("recording", "composition")
TITLE_MAX = 500
DURATION_MAX_MS = 86_400_000  # a day


class FieldError(ValueError):
    """``field``: the name the caller's input uses; ``reason``: what is wrong, in a phrase."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def identifier(field: str, value: object, normalize: Callable[[str], str]) -> str | None:
    """An optional identifier: ``None`` when absent or blank, else its normal form."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    try:
        return str(normalize(text))
    except ValueError as exc:
        raise FieldError(field, str(exc)) from None


def work_kind(value: object) -> str:
    kind = str(value or "").strip().lower()
    if kind not in KINDS:
        raise FieldError("kind", f"must be one of {list(KINDS)}")
    return kind


def work_title(value: object) -> str:
    title = str(value or "").strip()
    if not title:
        raise FieldError("title", "must not be empty")
    return title[:TITLE_MAX]


def work_identifiers(
    kind: str, isrc: object, iswc: object, *, iswc_field: str = "iswc"
) -> tuple[str | None, str | None]:
    """A recording has an ISRC and no ISWC of its own; a composition an ISWC and no ISRC."""
    isrc_ = identifier("isrc", isrc, identifiers.normalize_isrc)
    iswc_ = identifier(iswc_field, iswc, identifiers.normalize_iswc)
    if kind == "recording":
        if iswc_:
            raise FieldError(
                iswc_field, "a recording has an ISRC; give its composition's ISWC there"
            )
        if not isrc_:
            raise FieldError("isrc", "a recording is registered under its ISRC")
    else:
        if isrc_:
            raise FieldError("isrc", "a composition has an ISWC, not an ISRC")
        if not iswc_:
            raise FieldError(iswc_field, "a composition is registered under its ISWC")
    return isrc_, iswc_


def composition_link(kind: str, *, given: bool, field: str = "composition") -> None:
    """Only a recording names the composition it embodies."""
    if given and kind != "recording":
        raise FieldError(field, "only a recording embodies a composition")


def duration_ms(value: object, *, field: str = "duration_ms") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < DURATION_MAX_MS:
        raise FieldError(field, "must be a number of milliseconds above 0 and under a day")
    return value


def language(value: object) -> str:
    return identifier("language", value, identifiers.normalize_language) or ""


@dataclass(frozen=True)
class ShareFields:
    right: str
    share: Decimal
    territory_mode: str
    territories: frozenset[str]
    valid_from: dt.date | None
    valid_until: dt.date | None


def share_fields(
    right: object,
    share: object,
    territories: str | Iterable[str] | None,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
) -> ShareFields:
    """A rights share's terms: a known right, a percentage above 0 and at most 100 with at most
    three decimals, territories as ``normalize_territories`` reads them, and a validity whose
    end (exclusive) comes after its start."""
    right_ = str(right or "").strip().lower()
    if right_ not in RIGHTS:
        raise FieldError("right", f"must be one of {list(RIGHTS)}")
    try:
        percent = share_percent(share)
    except ValueError as exc:
        raise FieldError("share", str(exc)) from None
    try:
        mode, codes = identifiers.normalize_territories(territories or "")
    except ValueError as exc:
        raise FieldError("territories", str(exc)) from None
    if valid_from and valid_until and valid_from >= valid_until:
        raise FieldError("valid_until", "must be after valid_from")
    return ShareFields(right_, percent, mode, codes, valid_from, valid_until)
