"""The Celery application. Settings come from Django's (``CELERY_*``); tasks are found in the
installed apps' ``tasks`` modules."""

from __future__ import annotations

import contextlib
import os

from celery import Celery
from celery.signals import setup_logging, task_prerun
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
TRANSPORT_ALIASES["sqla"] = "config.broker:SQLAlchemyTransport"

app = Celery("consentry")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**_: object) -> None:
    """Keep Celery from replacing the structured logging that settings configured."""
    from django.conf import settings

    settings.LOGGING_CONFIG  # noqa: B018 - touching settings configures logging (config.logs)


@app.task(name="config.ping")
def ping() -> str:
    """A no-op task: readiness probes and the broker benchmark send it."""
    return "pong"


HEARTBEAT_CHANNEL = "consentry_worker_heartbeat"
TASK_STARTED = "task"
"""The notification a pool process sends as it starts any task: proof it takes work, for a
readiness check whose heartbeat waits behind long chunks on a busy worker."""


def _notify(payload: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [HEARTBEAT_CHANNEL, payload])


@task_prerun.connect
def _task_started(sender: object = None, **_: object) -> None:
    if getattr(sender, "name", "") == "config.heartbeat":
        return
    with contextlib.suppress(Exception):  # the task itself meets a database error, if any
        _notify(TASK_STARTED)


@app.task(name="config.heartbeat", ignore_result=True, acks_late=False)
def heartbeat(nonce: str) -> None:
    """Readiness's round trip (api/health.py): tell the waiting API process, through
    PostgreSQL's NOTIFY, that a pool process took this task."""
    _notify(nonce)
