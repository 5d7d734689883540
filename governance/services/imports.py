"""Catalog imports handed in through the API: stored as a job with its outbox row in one
transaction, run by a Celery worker (``governance.run_import``), their progress and report
kept on the job.

A job ends ``succeeded`` (nothing was rejected), ``succeeded_with_problems`` (what was valid was
imported; each rejected row or element is listed on it) or ``failed``: with ``all_or_nothing``
and something really rejected (nothing was imported), when the file cannot be read at all (not
well-formed XML, not UTF-8...: the reason and, where known, its line or XPath in ``error`` and
``problems``; nothing was imported), or when it could not run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from typing import cast

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from governance.access import Actor
from governance.exceptions import InvalidInput
from governance.importing.records import UnreadableFile
from governance.importing.run import Format, import_catalog
from governance.models import ImportJob, ImportStatus, PartyKind
from governance.services.outbox import job_enqueue

MAX_PROBLEMS_KEPT = 1000
IMPORT_KINDS = (PartyKind.LABEL, PartyKind.PUBLISHER)
RUN_TASK = "governance.run_import"
FINISHED = (ImportStatus.SUCCEEDED, ImportStatus.SUCCEEDED_WITH_PROBLEMS, ImportStatus.FAILED)
REPORT_FIELDS = ["status", "error", "counts", "problems", "problem_count", "processed", "total",
                 "size", "bytes_read", "finished_at"]  # fmt: skip


MWN_ROOTS = (b"MusicalWorkClaimNotificationMessage", b"MusicalWorkNotificationMessage")


def detect_format(*, filename: str, data: bytes) -> Format:
    """For XML (by name or by content): ``mwn`` when its root is an MWN message (named in the
    first 4 KiB), else ``ddex`` (ERN); for the rest, ``works`` when the header names the
    musical works CSV's ``work_title`` and ``line`` columns (docs/catalog-works.md), else
    ``csv``."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if filename.lower().endswith(".xml") or head.startswith(b"<"):
        return "mwn" if any(root in head for root in MWN_ROOTS) else "ddex"
    header = {
        c.strip().strip('"') for c in head.split(b"\n", 1)[0].decode("utf-8", "replace").split(",")
    }
    return "works" if {"work_title", "line"} <= header else "csv"


@transaction.atomic
def import_submit(
    *, actor: Actor, filename: str, data: bytes, all_or_nothing: bool, now: dt.datetime
) -> ImportJob:
    """Store the job and enqueue its run through the outbox, in one transaction."""
    actor.require_writer(action="Importing a catalog")
    actor.require_kind(*IMPORT_KINDS, action="Importing a catalog")
    if not data.strip():
        raise InvalidInput("file: the file is empty.", fields={"file": ["is empty"]})
    job = ImportJob.objects.create(
        party=actor.party, user_id=actor.user.pk,
        format=detect_format(filename=filename, data=data),
        filename=filename[:300], sha256=hashlib.sha256(data).hexdigest(), data=data,
        all_or_nothing=all_or_nothing,
    )  # fmt: skip
    job_enqueue(task=RUN_TASK, args=[str(job.pk)], now=now)
    return job


def _progress(job_id: str) -> Callable[[int, int], None]:
    """Write a job's progress on a connection of its own, committed at once: an
    ``all_or_nothing`` import runs in one transaction, whose own writes nobody sees before it
    ends, and the API and the label's page read progress while it runs."""
    table = ImportJob._meta.db_table

    def report(done: int, total: int) -> None:
        side = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET processed = %s, total = %s WHERE id = %s",  # noqa: S608 - the model's table
                    [done, total, job_id],
                )
        finally:
            side.close()

    return report


def _reading(job_id: str) -> Callable[[int, int], None]:
    """Write how much of a job's file is read, as ``_progress`` writes its works done: a
    100,000-recording message takes a while to read before the first work is applied."""
    table = ImportJob._meta.db_table

    def report(done: int, size: int) -> None:
        side = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET bytes_read = %s, size = %s WHERE id = %s",  # noqa: S608 - the model's table
                    [done, size, job_id],
                )
        finally:
            side.close()

    return report


def import_run(*, job_id: str, now: dt.datetime) -> ImportJob:
    """Run a queued job as of ``now`` (its start, and the time of its ledger entries); safe to
    run twice (a finished job is left alone, and an interrupted one starts over: the import
    itself is an upsert, so what was done is not done twice). A file that cannot be read at
    all fails the job with the reason; nothing of it is imported."""
    started = time.monotonic()
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job_id)
        if job.status in FINISHED:
            return job
        job.status, job.started_at = ImportStatus.RUNNING, now
        job.save(update_fields=["status", "started_at"])
    fmt = cast(Format, job.format if job.format in ("ddex", "mwn", "works") else "csv")
    try:
        report = import_catalog(
            party=job.party, data=bytes(job.data), fmt=fmt, now=now,
            all_or_nothing=job.all_or_nothing, progress=_progress(str(job.pk)),
            reading=_reading(str(job.pk)),
        )  # fmt: skip
    except UnreadableFile as unreadable:
        job.status, job.error = ImportStatus.FAILED, f"the file cannot be read: {unreadable}"
        job.problems, job.problem_count = [unreadable.problem.as_dict()], 1
        job.counts, job.processed, job.total = {"records": 0}, 0, 0
    else:
        job.counts = dict(report.counts)
        job.problems = [p.as_dict() for p in report.problems[:MAX_PROBLEMS_KEPT]]
        job.problem_count = len(report.problems)
        job.processed = job.total = report.counts.get("records", 0)
        job.status = ImportStatus.SUCCEEDED
        if report.problems:
            job.status = ImportStatus.SUCCEEDED_WITH_PROBLEMS
        if job.all_or_nothing and report.problems:
            job.status = ImportStatus.FAILED
            job.error = f"{len(report.problems)} problems; with all_or_nothing nothing was imported"
    # Reading is over, whatever came of it (a file that cannot be read: as far as it went).
    job.size = job.bytes_read = len(job.data)
    # The run's end on the clock it was given: its start plus the time it took.
    job.finished_at = now + dt.timedelta(seconds=time.monotonic() - started)
    job.save(update_fields=REPORT_FIELDS)  # not ``data``: the file is not written twice
    return job


def import_fail(*, job_id: str, error: str, now: dt.datetime) -> None:
    """Record a job that could not run (retries exhausted, or an unexpected error)."""
    finished_well = (ImportStatus.SUCCEEDED, ImportStatus.SUCCEEDED_WITH_PROBLEMS)
    ImportJob.objects.filter(pk=job_id).exclude(status__in=finished_well).update(
        status=ImportStatus.FAILED, error=error[:2000], finished_at=now
    )
