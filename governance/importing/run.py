"""An import from start to end: read the file, merge rows per work, apply in chunks.

A file that cannot be read at all raises :class:`~governance.importing.records.UnreadableFile`
and imports nothing: it is a failed import, never a successful one with no records. Without
``all_or_nothing`` each chunk is its own transaction and valid rows are imported
whatever else is wrong; with it, the whole file is one transaction that is rolled back if any
row or element was rejected.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Literal

from django.db import connection, transaction

from governance.importing import digests
from governance.importing.apply import Applier, Report
from governance.importing.csv_source import read_csv
from governance.importing.ddex_source import read_ddex
from governance.importing.links import link_recordings
from governance.importing.mwn_source import read_mwn
from governance.importing.records import ImportRecord, Problem, Unchanged
from governance.importing.works_csv import read_works_csv
from governance.models import Party

CHUNK = 2000
Progress = Callable[[int, int], None]
"""Called with (records done, records in all) after each chunk."""
Reading = Callable[[int, int], None]
"""Called with (bytes of the file read, its size) while it is read: a DDEX ERN message about
each 1 % of it; other formats once, when read."""


class _RollBack(Exception):
    pass


Format = Literal["csv", "ddex", "mwn", "works"]
"""A catalog CSV, a DDEX ERN message, a DDEX MWN message, a musical works CSV."""


def read(
    data: bytes,
    fmt: Format,
    *,
    party_name: str = "",
    known: Mapping[str, tuple[str, str]] | None = None,
    on_read: Reading | None = None,
) -> Iterable[ImportRecord | Problem | Unchanged]:
    """``known``, ``on_read``: see :func:`~governance.importing.ddex_source.read_ddex` (DDEX ERN
    only)."""
    if fmt == "csv":
        return read_csv(data)
    if fmt == "mwn":
        return read_mwn(data)
    if fmt == "works":
        return read_works_csv(data)
    return read_ddex(data, party_name=party_name, known=known, on_read=on_read)


def merge(
    items: Iterable[ImportRecord | Problem | Unchanged],
    report: Report,
    stored: digests.Stored | None = None,
) -> list[ImportRecord]:
    """One record per work: rows of the same work add shares and releases, and must agree on
    the work's fields. Compositions come first, so recordings can name them. What a source
    did not read (unchanged, by the ``stored`` digests it was given) is counted, not kept."""
    merged: dict[tuple[str, str], ImportRecord] = {}
    for item in items:
        if isinstance(item, Problem):
            report.problems.append(item)
            continue
        if isinstance(item, Unchanged):
            report.counts["records"] += 1
            report.counts["works_unchanged"] += 1
            report.counts["shares_unchanged"] += (stored or {})[item.key][2]
            continue
        first = merged.get(item.key)
        if first is None:
            merged[item.key] = item
        elif first.kind != item.kind or first.work_fields() != item.work_fields():
            report.reject(item.where, f"{item.key[0].upper()} {item.key[1]} is described "
                          f"differently at {first.where}")  # fmt: skip
        else:
            first.shares.extend(item.shares)
            first.releases.extend(r for r in item.releases if r not in first.releases)
    records = list(merged.values())
    return [r for r in records if r.kind == "composition"] + [
        r for r in records if r.kind != "composition"
    ]


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """CSV problems by line (reading finds some, applying others); DDEX's as found."""
    if all(p.where.startswith("line ") and p.where[5:].isdigit() for p in problems):
        return sorted(problems, key=lambda p: int(p.where[5:]))
    return problems


ANALYZE_AFTER = 10_000


def _analyze(records: int) -> None:
    """After a large import, refresh the planner's statistics of the catalog tables, so that
    the first decisions on the new catalog are not planned on an empty table's figures."""
    if records >= ANALYZE_AFTER:
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE governance_work, governance_rightsshare, governance_credit,"
                " governance_releasetrack"
            )


GC_THRESHOLD = (100_000, 50, 1000)
"""The garbage collector's thresholds during an import (:func:`gc.set_threshold`)."""
_gc_lock = threading.Lock()
_gc_users = 0
_gc_before: tuple[int, int, int] = (700, 10, 10)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the import with :data:`GC_THRESHOLD`: a 100,000-recording file keeps about a
    million objects alive (its records, then their rows), and with the default thresholds the
    collector walks them again and again, a quarter of the import's CPU (16 s of 68 s,
    measured). The thresholds as they were when the last import of the process ends; what
    :func:`_long_lived` froze is unfrozen then."""
    global _gc_users, _gc_before
    with _gc_lock:
        if _gc_users == 0:
            _gc_before = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLD)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_before)
                gc.unfreeze()


def _long_lived() -> None:
    """The records read live until the import ends: the collector leaves them (and whatever
    else is alive now) alone from now on (:func:`gc.freeze`) instead of walking them at each
    full collection while the records are applied. Unfrozen by :func:`_fewer_collections`."""
    gc.freeze()


def import_catalog(
    *,
    party: Party,
    data: bytes,
    fmt: Format,
    now: dt.datetime,
    all_or_nothing: bool = False,
    progress: Progress | None = None,
    reading: Reading | None = None,
) -> Report:
    """Import ``data`` for ``party``; the report counts what changed and lists every problem.

    Raises :class:`~governance.importing.records.UnreadableFile`, before anything is written,
    when the file as a whole cannot be read (all of it is read before the first chunk).
    ``progress`` is called as records are applied, ``reading`` as the file is read before."""
    with _fewer_collections():
        return _import(party=party, data=data, fmt=fmt, now=now, all_or_nothing=all_or_nothing,
                       progress=progress, reading=reading)  # fmt: skip


def _import(
    *,
    party: Party,
    data: bytes,
    fmt: Format,
    now: dt.datetime,
    all_or_nothing: bool,
    progress: Progress | None,
    reading: Reading | None,
) -> Report:
    report = Report()
    started = time.process_time()
    # A DDEX source skips the elements this party imported last, unchanged since.
    stored = digests.stored(party) if fmt == "ddex" else {}
    known = {element: (digest, code) for (_, code), (digest, element, _) in stored.items()
             if element}  # fmt: skip
    items = read(data, fmt, party_name=party.name, known=known, on_read=reading)
    records = merge(items, report, stored)
    _long_lived()
    if reading is not None and fmt != "ddex":
        reading(len(data), len(data))
    skipped = report.counts["records"]
    total = report.counts["records"] = skipped + len(records)
    report.cpu["read"] = time.process_time() - started
    if all_or_nothing and report.problems:
        report.counts["imported"] = 0
        return report
    applier = Applier(party=party, now=now, report=report)

    def chunks() -> None:
        started = time.process_time()
        for start in range(0, len(records), CHUNK):
            with transaction.atomic():
                applier.apply(records[start : start + CHUNK])
                link_recordings(party=party, records=records[start : start + CHUNK], now=now,
                                report=report)  # fmt: skip
            if progress is not None:
                progress(skipped + min(start + CHUNK, len(records)), total)
        if progress is not None and not records:
            progress(total, total)
        report.cpu["apply"] = time.process_time() - started

    if not all_or_nothing:
        chunks()
        _analyze(len(records))
        report.problems = _in_file_order(report.problems)
        return report
    try:
        with transaction.atomic():
            chunks()
            if report.problems:
                raise _RollBack
    except _RollBack:
        kept = report.problems
        report.counts.clear()
        report.counts["records"] = total
        report.problems = kept
    report.counts["imported"] = 0 if report.problems else total
    if not report.problems:
        _analyze(len(records))
    report.problems = _in_file_order(report.problems)
    return report
