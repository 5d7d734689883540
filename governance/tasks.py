"""Celery tasks of the governance domain: thin, named, id-based, safe to run twice.

Tasks import the services they call inside their functions; services never import this
module: they enqueue a task by name through the outbox (``governance.services.outbox``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import DatabaseError

from governance.exceptions import TRANSIENT_DB_ERRORS as TRANSIENT


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
    other failure is recorded on the job (never lost, never retried forever). A file that
    cannot be read at all is not an error here: ``import_run`` fails the job with the reason."""
    from django.utils import timezone

    from governance.services.imports import import_fail, import_run

    try:
        job = import_run(job_id=job_id, now=timezone.now())
    except TRANSIENT:
        if self.request.retries >= self.max_retries:
            import_fail(job_id=job_id, now=timezone.now(),
                        error="the database stayed unavailable; retries exhausted")  # fmt: skip
        raise
    except (DatabaseError, ValueError, LookupError) as exc:
        import_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}", now=timezone.now())
        raise
    return str(job.status)


# A content job (a work's audio or lyrics, an artist's voice): acked late and redelivered if its
# worker dies (a redelivery finds the object final and does nothing); transient database errors
# retried with backoff, then the object fails (``_run_or_fail``).
CONTENT_JOB: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "max_retries": 8,
}


@shared_task(name="governance.fingerprint_content", **CONTENT_JOB)
def fingerprint_content(self: Any, content_id: str) -> str:
    """Fingerprint a work's content and store its postings (``content_run``); bad content is
    not an error here (the content fails with the reason). A transient database error retries
    with backoff; retries exhausted, or any other error, fails the content (never lost, never
    retried forever). A redelivery finds the content completed or failed and does nothing."""
    from django.utils import timezone

    from governance.services.content import content_fail, content_run

    return _run_or_fail(
        self,
        lambda: content_run(content_id=content_id, now=timezone.now()),
        lambda **failure: content_fail(content_id=content_id, **failure),
    )


@shared_task(name="governance.compact_fingerprints", ignore_result=True, acks_late=False)
def compact_fingerprints() -> int:
    """Merge the fingerprint store's segments (``fingerprint_store.compact``), sent after a
    content's postings are stored; a no-op unless a tier holds enough segments, or while
    another compaction runs (which merges what this one would have). How many merges."""
    from governance.services import fingerprint_store

    return len(fingerprint_store.compact())


@shared_task(name="governance.enrol_voice", **CONTENT_JOB)
def enrol_voice(self: Any, enrolment_id: str) -> str:
    """Embed an artist's voice reference recordings and store their vectors (``voice_run``);
    bad content is not an error here (the enrolment fails naming each bad file). A transient
    database error retries with backoff; retries exhausted, or any other error, fails the
    enrolment (never lost, never retried forever). A redelivery finds it final and does
    nothing."""
    from django.utils import timezone

    from governance.services.voices import voice_fail, voice_run

    return _run_or_fail(
        self,
        lambda: voice_run(enrolment_id=enrolment_id, now=timezone.now()),
        lambda **failure: voice_fail(enrolment_id=enrolment_id, **failure),
    )


def _run_or_fail(task: Any, run: Callable[[], Any], fail: Callable[..., Any]) -> str:
    """A content job's run (``run``: the object it finished, whose status it answers): a
    transient database error retries with the task's backoff, and once its retries are
    exhausted fails the object (``fail``: ``unavailable``); any other error fails it
    (``internal``) and is raised, so that the object never stays "processing"."""
    from django.utils import timezone

    try:
        return str(run().status)
    except TRANSIENT:
        if task.request.retries >= task.max_retries:
            fail(reason="unavailable", now=timezone.now(),
                 detail="The database stayed unavailable; retries exhausted.")  # fmt: skip
        raise
    except Exception as exc:  # whatever it was, the object must not stay "processing"
        fail(reason="internal", now=timezone.now(),
             detail=f"The job could not run: {type(exc).__name__}.")  # fmt: skip
        raise


# Deciding: acked late and rejected on worker loss (a killed worker's task is redelivered and
# decides nothing twice); transient database errors retried with backoff.
DECIDING: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": 120,
    "max_retries": 10,
}


@shared_task(name="governance.decide_request", **DECIDING)
def decide_request(self: Any, request_id: str) -> None:
    """Decide a request (small ones at once) or split it into chunks for the workers."""
    from django.utils import timezone

    from governance.services.deciding import decide_request as decide

    decide(request_id=request_id, now=timezone.now())


@shared_task(name="governance.decide_chunk", **DECIDING)
def decide_chunk(self: Any, request_id: str, start: int, end: int) -> int:
    """Decide items ``start`` to ``end`` of a request; a redelivery decides nothing twice, and
    a failure retrying cannot cure becomes ``error`` outcomes (``decide_chunk_or_fail``)."""
    from django.utils import timezone

    from governance.services.deciding import decide_chunk_or_fail

    return decide_chunk_or_fail(request_id=request_id, start=start, end=end, now=timezone.now())


@shared_task(
    name="governance.deliver_callback",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=8,
)
def deliver_callback(self: Any, request_id: str, event_id: str | None = None) -> int:
    """POST event ``event_id`` of a request (its latest without one) to its callback URL;
    retried with backoff (10 s, 20 s, ... up to an hour) while the receiver fails; every attempt
    is recorded with its own delivery id, and carries the same event id and body."""
    from django.utils import timezone

    from governance.services.callbacks import CallbackFailed, callback_deliver

    try:
        return callback_deliver(request_id=request_id, now=timezone.now(), event_id=event_id)
    except CallbackFailed as exc:
        raise self.retry(exc=exc, countdown=min(10 * 2**self.request.retries, 3600)) from exc
