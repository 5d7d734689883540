"""Celery tasks of the governance domain: thin, named, id-based, safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.db import DatabaseError, InterfaceError, OperationalError

TRANSIENT = (OperationalError, InterfaceError)


@shared_task(
    name="governance.run_import",
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=8,
)
def run_import(self: Any, job_id: str) -> str:
    """Run catalog import ``job_id``; a transient database error retries with backoff, any
    other failure is recorded on the job (never lost, never retried forever)."""
    from governance.services.imports import import_fail, import_run

    try:
        job = import_run(job_id=job_id)
    except TRANSIENT:
        if self.request.retries >= self.max_retries:
            import_fail(job_id=job_id, error="the database stayed unavailable; retries exhausted")
        raise
    except (DatabaseError, ValueError, LookupError) as exc:
        import_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
        raise
    return str(job.status)
