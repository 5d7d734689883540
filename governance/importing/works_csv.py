"""Read a musical works CSV (CWR-like: docs/catalog-works.md) into composition records. Pure:
no Django.

One row is one line of a work, as CWR has one record per writer (SWR) and publisher (SPU) and
recording (REC): ``line`` is ``writer``, ``publisher`` or ``recording``. The rows of one ISWC
are one work: they must agree on its title and language, it needs at least one writer, and any
faulty row rejects the whole work (as a faulty element rejects an MWN work: dropping one
publisher would misstate who holds the rest), each problem naming its line. A file that
cannot be read as a whole raises :class:`~governance.importing.records.UnreadableFile`.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from governance import identifiers, validators
from governance.importing.records import (
    CreditRecord,
    HolderRecord,
    ImportRecord,
    Problem,
    ShareRecord,
    UnreadableFile,
)
from governance.rights import ShareTerms, find_overshoot

COLUMNS = (
    "iswc", "work_title", "language", "line", "name", "ipi", "isni", "role", "share",
    "territories", "valid_from", "valid_until", "isrc",
)  # fmt: skip
REQUIRED = ("iswc", "work_title", "line")
LINES = ("writer", "publisher", "recording")
WRITER_ROLES = {
    "composer": "composer", "c": "composer", "arranger": "composer", "ar": "composer",
    "lyricist": "songwriter", "a": "songwriter", "author": "songwriter",
    "composerlyricist": "songwriter", "ca": "songwriter", "songwriter": "songwriter",
    "": "songwriter",
}  # fmt: skip
"""Writer roles, by name or CWR designation code (C, A, CA, AR), as credit roles."""
MAX_FIELD = 2000


class RowError(ValueError):
    pass


@dataclass
class _Work:
    where: str
    iswc: str
    title: str
    language: str
    credits: list[CreditRecord] = field(default_factory=list)
    shares: list[ShareRecord] = field(default_factory=list)
    isrcs: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _date(row: dict[str, str], name: str) -> dt.date | None:
    if not (value := row.get(name, "").strip()):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def _id(row: dict[str, str], name: str, normalize: object) -> str:
    if not (value := row.get(name, "").strip()):
        return ""
    try:
        return str(normalize(value))  # type: ignore[operator]
    except ValueError as exc:
        raise RowError(f"{name}: {exc}") from None


def _line(row: dict[str, str], where: str, work: _Work) -> None:
    """Add one writer, publisher or recording row to its work, or :class:`RowError`."""
    kind = row.get("line", "").strip().lower()
    if kind not in LINES:
        raise RowError(f"line must be one of {list(LINES)}, got {kind[:40]!r}")
    if kind == "recording":
        if not (isrc := _id(row, "isrc", identifiers.normalize_isrc)):
            raise RowError("isrc: a recording line needs the recording's ISRC")
        work.isrcs.append(isrc)
        return
    name = row.get("name", "").strip()
    ipi = _id(row, "ipi", identifiers.normalize_ipi)
    isni = _id(row, "isni", identifiers.normalize_isni)
    if not (name or ipi or isni):
        raise RowError(f"name: a {kind} line needs a name or an IPI name number")
    name = name or (f"IPI {ipi}" if ipi else f"ISNI {isni}")
    if kind == "writer":
        role = row.get("role", "").strip().replace(" ", "").replace("_", "").casefold()
        if role not in WRITER_ROLES:
            raise RowError(f"role {role[:40]!r} is not a writer role (composer, lyricist, "
                           "composer_lyricist, arranger, or CWR C, A, CA, AR)")  # fmt: skip
        work.credits.append(CreditRecord(name[:300], WRITER_ROLES[role], isni, ipi))
    share = row.get("share", "").strip()
    if not share:
        return  # A writer or an administrator without a share of its own.
    try:
        terms = validators.share_fields(
            "publishing", share, row.get("territories", ""),
            _date(row, "valid_from"), _date(row, "valid_until"),
        )  # fmt: skip
    except validators.FieldError as exc:
        raise RowError(str(exc)) from None
    work.shares.append(ShareRecord(
        where, terms.right, terms.share, name[:200], terms.territory_mode, terms.territories,
        terms.valid_from, terms.valid_until, named=HolderRecord(name[:200], isni, ipi),
        controller_type=kind,
    ))  # fmt: skip


def _check(work: _Work) -> None:
    """A work's own rules once all its rows are read: a writer, shares within 100 %. A
    holder's lines with the same terms add up (one share)."""
    summed: dict[tuple[object, ...], ShareRecord] = {}
    for s in work.shares:
        key = (s.named, s.territory_mode, s.territories, s.valid_from, s.valid_until)
        first = summed.get(key)
        summed[key] = (
            s if first is None else dataclasses.replace(first, share=first.share + s.share)
        )
    work.shares = list(summed.values())
    if not work.credits:
        work.problems.append(Problem(work.where, f"ISWC {work.iswc}: the work has no writer line"))
    terms = [
        ShareTerms(s.where, s.holder, s.share, s.territory_mode, s.territories, s.valid_from,
                   s.valid_until)
        for s in work.shares
    ]  # fmt: skip
    if (over := find_overshoot(terms)) is not None:
        work.problems.append(Problem(over.shares[-1].id, f"ISWC {work.iswc}: publishing shares "
                                     f"add up to {over.total}% in {over.territory}, more "
                                     "than 100 %"))  # fmt: skip


def read_works_csv(data: bytes) -> Iterator[ImportRecord | Problem]:
    """Composition records and problems (see the module). Raises :class:`UnreadableFile` when
    the file as a whole cannot be read: not UTF-8, a NUL byte, an unknown or missing column, no
    row, malformed CSV."""
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
    works: dict[str, _Work] = {}
    problems: list[Problem] = []
    rows = 0
    try:
        header = reader.fieldnames or []
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in REQUIRED if c not in header]
        if unknown or missing:
            wrong = f"unknown column {unknown[0][:100]!r}" if unknown else ""
            wrong = wrong or f"missing column {missing[0]!r}"
            raise UnreadableFile("line 1", f"{wrong}; the columns are {', '.join(COLUMNS)}")
        for raw in reader:
            rows += 1
            where = f"line {reader.line_num}"
            row = {k: (v or "") for k, v in raw.items() if isinstance(v, str) or v is None}
            if raw.get("_extra"):
                problems.append(Problem(where, "more fields than columns in the header"))
                continue
            if not any(v.strip() for v in row.values()):
                continue
            if any(len(v) > MAX_FIELD for v in row.values()):
                problems.append(Problem(where, f"a field is longer than {MAX_FIELD} characters"))
                continue
            try:
                iswc = validators.identifier("iswc", row.get("iswc"), identifiers.normalize_iswc)
                if not iswc:
                    raise RowError("iswc: required (the work's ISWC)")
                title = validators.work_title(row.get("work_title"))[:500]
                language = validators.language(row.get("language"))
            except (validators.FieldError, RowError) as exc:
                problems.append(Problem(where, str(exc)))
                continue
            work = works.setdefault(iswc, _Work(where, iswc, title, language))
            if (work.title, work.language) != (title, language):
                why = f"ISWC {iswc} is described differently (work_title, language) at {work.where}"
                work.problems.append(Problem(where, why))
                continue
            try:
                _line(row, where, work)
            except RowError as exc:
                work.problems.append(Problem(where, f"ISWC {iswc}: {exc}"))
    except csv.Error as exc:
        raise UnreadableFile(f"line {reader.reader.line_num}", f"malformed CSV: {exc}") from None
    if not rows:
        raise UnreadableFile("line 2", "no rows after the header")
    yield from problems
    for work in works.values():
        _check(work)
        if work.problems:
            yield from (Problem(p.where, f"{p.reason}; the work is rejected")
                        for p in work.problems)  # fmt: skip
            continue
        record = ImportRecord(
            where=work.where, kind="composition", title=work.title,
            display_artist=", ".join(c.name for c in work.credits)[:500], iswc=work.iswc,
            language=work.language, credits=tuple(dict.fromkeys(work.credits)),
            recording_isrcs=tuple(dict.fromkeys(work.isrcs)),
        )  # fmt: skip
        record.shares.extend(work.shares)
        yield record
