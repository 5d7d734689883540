"""The Celery application. Settings come from Django's (``CELERY_*``); tasks are found in the
installed apps' ``tasks`` modules."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import setup_logging
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


@app.task(name="config.heartbeat", ignore_result=True, acks_late=False)
def heartbeat(nonce: str) -> None:
    """Readiness's round trip (api/health.py): tell the waiting API process, through
    PostgreSQL's NOTIFY, that a pool process took this task."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [HEARTBEAT_CHANNEL, nonce])
