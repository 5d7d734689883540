"""Read a catalog CSV (docs/catalog-csv.md) into import records. Pure: no Django.

One row is a work, and optionally one rights share of it; rows with the same ISRC (or ISWC)
add shares to the same work and must agree on its fields. Every rejected row is reported
with its line number and the reason; the others are kept. A file that cannot be read as a
whole raises :class:`~governance.importing.records.UnreadableFile` instead.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation

from governance import identifiers, validators
from governance.importing.records import (
    CreditRecord,
    ImportRecord,
    Problem,
    ReleaseRecord,
    ShareRecord,
    UnreadableFile,
)

COLUMNS = (
    "kind", "isrc", "iswc", "title", "display_artist", "composition_iswc", "duration",
    "language", "release_date", "p_line", "upc", "release_title", "main_artists",
    "featured_artists", "songwriters", "composers", "producers", "right", "share", "holder",
    "territories", "valid_from", "valid_until", "ai_declaration",
)  # fmt: skip
REQUIRED = ("title",)
CREDIT_COLUMNS = {
    "main_artists": "main_artist",
    "featured_artists": "featured",
    "songwriters": "songwriter",
    "composers": "composer",
    "producers": "producer",
}
MAX_FIELD = 2000
"""Characters in a field: a longer one rejects its row."""
MAX_CSV_FIELD = csv.field_size_limit()
"""Characters in a field the CSV reader takes at all (131,072): a longer one makes the whole
file unreadable."""


class RowError(ValueError):
    pass


def _date(row: dict[str, str], name: str) -> dt.date | None:
    value = row.get(name, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def _duration_ms(value: str) -> int | None:
    """``215``, ``215.5`` (seconds), ``3:35`` or ``1:03:35``."""
    value = value.strip()
    if not value:
        return None
    try:
        parts = [Decimal(p) for p in value.split(":")]
        if len(parts) > 3 or any(p < 0 for p in parts) or not all(p.is_finite() for p in parts):
            raise InvalidOperation
        seconds = Decimal(0)
        for part in parts:
            seconds = seconds * 60 + part
    except InvalidOperation:
        raise RowError(f"duration {value!r} is not seconds or m:ss") from None
    try:
        return validators.duration_ms(int(seconds * 1000), field="duration")
    except validators.FieldError:
        raise RowError(f"duration {value!r} must be above 0 and under a day") from None


def _identifier(row: dict[str, str], name: str, normalize: object) -> str | None:
    value = row.get(name, "").strip()
    if not value:
        return None
    try:
        return str(normalize(value))  # type: ignore[operator]
    except ValueError as exc:
        raise RowError(f"{name}: {exc}") from None


def _share(row: dict[str, str], where: str) -> ShareRecord | None:
    right = row.get("right", "").strip().lower()
    share = row.get("share", "").strip()
    if not right and not share:
        return None
    try:
        terms = validators.share_fields(
            right, share, row.get("territories", ""),
            _date(row, "valid_from"), _date(row, "valid_until"),
        )  # fmt: skip
    except validators.FieldError as exc:
        raise RowError(str(exc)) from None
    holder = row.get("holder", "").strip()
    return ShareRecord(
        where, terms.right, terms.share, holder, terms.territory_mode, terms.territories,
        terms.valid_from, terms.valid_until,
    )  # fmt: skip


AI_VALUES = {"generated": "generated", "assisted": "assisted", "none": "none",
             "all": "generated", "partly": "assisted"}  # fmt: skip
"""The ``ai_declaration`` column: Consentry's words, or DDEX ContainsAI's (All, Partly, None)."""


def _ai_declaration(kind: str, text: str) -> str:
    """A recording's AI declaration as its label states it (empty: none stated)."""
    if not (text := text.strip()):
        return ""
    if (value := AI_VALUES.get(text.casefold())) is None:
        raise validators.FieldError(
            "ai_declaration", f"{text!r} is not one of generated, assisted, none"
        )
    if kind != "recording":
        raise validators.FieldError("ai_declaration", "only a recording is declared made with AI")
    return value


def _record(row: dict[str, str], where: str) -> ImportRecord:
    for name, value in row.items():
        if value is not None and len(value) > MAX_FIELD:
            raise RowError(f"{name} is longer than {MAX_FIELD} characters")
    try:
        kind = validators.work_kind(row.get("kind") or "recording")
        title = validators.work_title(row.get("title"))
        isrc, iswc = validators.work_identifiers(kind, row.get("isrc"), row.get("iswc"))
        composition = validators.identifier(
            "composition_iswc", row.get("composition_iswc"), identifiers.normalize_iswc
        )
        validators.composition_link(kind, given=bool(composition), field="composition_iswc")
        language = validators.language(row.get("language"))
        declared = _ai_declaration(kind, row.get("ai_declaration") or "")
    except validators.FieldError as exc:
        raise RowError(str(exc)) from None
    credits = tuple(
        CreditRecord(name.strip()[:300], role)
        for column, role in CREDIT_COLUMNS.items()
        for name in (row.get(column) or "").split(";")
        if name.strip()
    )
    record = ImportRecord(
        where=where, kind=kind, title=title[:500],
        display_artist=row.get("display_artist", "").strip()[:500], isrc=isrc, iswc=iswc,
        composition_iswc=composition, duration_ms=_duration_ms(row.get("duration", "")),
        language=language, release_date=_date(row, "release_date"),
        p_line=row.get("p_line", "").strip()[:300], credits=credits,
        ai_declaration=declared, ai_declared_in=("ai_declaration",) if declared else (),
    )  # fmt: skip
    upc = _identifier(row, "upc", identifiers.normalize_upc)
    if upc:
        release_title = row.get("release_title", "").strip() or title
        record.releases.append(
            ReleaseRecord(upc, release_title[:500], record.display_artist, record.release_date)
        )
    share = _share(row, where)
    if share is not None:
        record.shares.append(share)
    return record


def read_csv(data: bytes) -> Iterator[ImportRecord | Problem]:
    """Records and problems, in file order, one per row (the applier merges rows of a work).

    Raises :class:`UnreadableFile` when the file as a whole cannot be read: empty, not UTF-8, a
    NUL byte (a binary file), no header naming the columns, no rows, or malformed CSV (a field
    longer than :data:`MAX_CSV_FIELD`) at a given line.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("file", f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UnreadableFile("file", "the file is empty")
    if (nul := text.find("\0")) >= 0:
        line = text.count("\n", 0, nul) + 1
        raise UnreadableFile(f"line {line}", "a NUL byte: this is a binary file, not CSV text")
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="_extra")
    try:
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in REQUIRED if c not in header]
        if unknown or missing:
            wrong = f"unknown column {unknown[0][:100]!r}" if unknown else ""
            wrong = wrong or f"missing column {missing[0]!r}"
            raise UnreadableFile("line 1", f"{wrong}; the columns are {', '.join(COLUMNS)}")
        rows = 0
        for row in reader:
            rows += 1
            where = f"line {reader.line_num}"
            if row.get("_extra"):
                yield Problem(where, "more fields than columns in the header")
                continue
            if not any((v or "").strip() for v in row.values()):
                continue
            try:
                yield _record({k: v or "" for k, v in row.items()}, where)
            except RowError as exc:
                yield Problem(where, str(exc))
    except csv.Error as exc:
        reason = str(exc)
        if "field larger than field limit" in reason:
            reason = f"a field is longer than {MAX_CSV_FIELD:,} characters"
        # DictReader's own line_num is updated after a row is read: the line that failed to
        # read is its underlying reader's.
        line = reader.reader.line_num
        raise UnreadableFile(f"line {line}", f"malformed CSV: {reason}") from None
    if not rows:
        raise UnreadableFile("line 2", "no rows after the header")
