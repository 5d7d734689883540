"""The outbox: the one way any Celery job is enqueued (DESIGN.md, Request pipeline).

A service calls :func:`job_enqueue` inside its transaction; the row commits with what the job
concerns, and is sent to the broker when that transaction commits. If the broker is down then,
the row stays undispatched and the relay (``manage.py outbox_relay``) sends it when the broker
answers again: a broker outage loses no job of any kind. Services name a task by its Celery
name and never import ``governance.tasks`` (the tasks import the services, inside their
functions), so there is no cycle and no second way to enqueue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from django.db import transaction

from governance.models import Outbox

log = structlog.get_logger("governance.outbox")

Send = Callable[[str, list[Any]], object]
"""Hands one job (task name, arguments) to the broker; raises if the broker cannot take it."""
BATCH = 1000
"""Rows sent in one call of :func:`outbox_dispatch`."""


def job_enqueue(*, task: str, args: list[Any], now: dt.datetime) -> Outbox:
    """Record job ``task(*args)`` in the caller's transaction, and send it when that commits.
    If the broker is down then, the relay sends it later."""
    row = Outbox.objects.create(task=task, args=args, created_at=now)
    row_id = row.pk
    transaction.on_commit(lambda: outbox_dispatch(ids=[row_id]))
    return row


def broker_send(task: str, args: list[Any]) -> object:
    """Celery's ``send_task`` on the project's app (the default ``send``)."""
    from celery import current_app

    return current_app.send_task(task, args=args)


def outbox_dispatch(
    *,
    ids: Iterable[int] | None = None,
    older_than: float = 0.0,
    send: Send | None = None,
) -> int:
    """Send undispatched outbox rows (these ``ids``, or all older than ``older_than`` seconds)
    to the broker (``send``: :func:`broker_send` by default), oldest first; a broker error
    leaves the row and those after it for the next try. Returns how many were sent."""
    from django.utils import timezone

    send = send or broker_send
    rows = Outbox.objects.filter(dispatched_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    else:
        rows = rows.filter(created_at__lte=timezone.now() - dt.timedelta(seconds=older_than))
    sent = 0
    for row in rows.order_by("id")[:BATCH]:
        try:
            send(row.task, row.args)
        except Exception as exc:  # any broker failure: the relay tries again
            error = f"{type(exc).__name__}: {exc}"
            log.warning("outbox_dispatch_failed", task=row.task, outbox=row.pk,
                        attempts=row.attempts + 1, error=error)  # fmt: skip
            Outbox.objects.filter(pk=row.pk).update(attempts=row.attempts + 1)
            break
        Outbox.objects.filter(pk=row.pk).update(
            dispatched_at=timezone.now(), attempts=row.attempts + 1
        )
        sent += 1
    return sent


def outbox_prune(*, older_than: dt.timedelta, now: dt.datetime) -> int:
    """Delete outbox rows dispatched more than ``older_than`` before ``now``; how many."""
    deleted, _ = Outbox.objects.filter(dispatched_at__lt=now - older_than).delete()
    return int(deleted)


def broker_messages_prune(*, older_than: dt.timedelta) -> int:
    """With kombu's SQLAlchemy transport (the embedded broker), delete delivered messages
    (``visible = false``) older than ``older_than``; 0 with any other broker."""
    from django.conf import settings
    from django.db import connection

    if not str(settings.CELERY_BROKER_URL).startswith("sqla+"):
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('kombu_message') IS NOT NULL")
        row = cursor.fetchone()
        if not row or not row[0]:
            return 0
        cursor.execute(
            "DELETE FROM kombu_message WHERE visible = false"
            " AND timestamp < now() - make_interval(secs => %s)",
            [older_than.total_seconds()],
        )
        return int(cursor.rowcount)
