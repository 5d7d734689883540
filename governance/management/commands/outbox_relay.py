"""``manage.py outbox_relay``: send to the broker the jobs of every kind (deciding requests and
chunks, callbacks, catalog imports) that the services wrote to the outbox but could not hand
over (the broker was down at commit). ``make run`` starts it beside the worker.

Every minute it sends to the operator the disputes whose holders let the deadline pass
(:func:`governance.services.disputes.disputes_escalate`). Every ten minutes it also hands
again to the workers any request that made no progress for 30 minutes (a task lost with a
killed worker on a broker that does not redeliver), and prunes
outbox rows dispatched over a week ago and, with the embedded SQLAlchemy broker, the delivered
messages kombu leaves in ``kombu_message`` (it marks them invisible and never deletes them).

A database restart does not stop it: on a connection error (``OperationalError``,
``InterfaceError``) it closes its connections, waits (1 s, doubling up to 30 s) and tries again,
logging each failure and the recovery."""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections.abc import Callable
from typing import Any

import structlog
from django.core.management.base import BaseCommand, CommandParser
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

from governance.services.disputes import disputes_escalate
from governance.services.outbox import broker_messages_prune, outbox_dispatch, outbox_prune
from governance.services.requests import stalled_requests_redispatch

log = structlog.get_logger("governance.outbox")
PRUNE_EVERY = 600.0
"""Seconds between prunes of dispatched outbox rows and delivered broker messages."""
DISPUTES_EVERY = 60.0
"""Seconds between sweeps of disputes past their deadline."""
BACKOFF_MAX = 30.0
"""Longest wait, in seconds, between tries while the database is away."""


class Command(BaseCommand):
    help = "Re-send outbox rows the broker has not received (every few seconds, or --once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0)
        parser.add_argument("--older-than", type=float, default=5.0,
                            help="Leave younger rows to the on-commit send (seconds).")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        stop = False

        def _stop(*_: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        log.info("outbox relay started")
        last_prune = last_sweep = 0.0
        backoff = 0.0
        while not stop:
            try:
                last_prune = self.round(options, last_prune)
                last_sweep = self.sweep(last_sweep)
            except (OperationalError, InterfaceError) as exc:
                backoff = min(BACKOFF_MAX, backoff * 2 or 1.0)
                log.warning("outbox relay database error; reconnecting",
                            error=str(exc).strip(), retry_in=backoff)  # fmt: skip
                connections.close_all()
                if options["once"]:
                    raise
                deadline = time.monotonic() + backoff
                while not stop and time.monotonic() < deadline:
                    time.sleep(0.2)
                continue
            if backoff:
                log.info("outbox relay reconnected to the database")
                backoff = 0.0
            if options["once"]:
                break
            time.sleep(options["interval"])
        log.info("outbox relay stopped")

    @staticmethod
    def sweep(last_sweep: float, now: Callable[[], dt.datetime] = timezone.now) -> float:
        """Escalate the disputes past their deadline at ``now()`` (a clock tests inject), at
        most every :data:`DISPUTES_EVERY` seconds; returns when the last sweep ran."""
        if time.monotonic() - last_sweep < DISPUTES_EVERY:
            return last_sweep
        escalated = disputes_escalate(now=now())
        if escalated:
            log.info("disputes past their deadline sent to the operator", count=escalated)
        return time.monotonic()

    @staticmethod
    def round(options: dict[str, Any], last_prune: float) -> float:
        """One pass; returns when the last prune ran."""
        sent = outbox_dispatch(older_than=options["older_than"])
        if sent:
            log.info("outbox re-sent", count=sent)
        if time.monotonic() - last_prune > PRUNE_EVERY:
            stalled = stalled_requests_redispatch(
                stalled_for=dt.timedelta(minutes=30), now=timezone.now()
            )
            if stalled:
                log.warning("stalled requests handed to the workers again", count=stalled)
            pruned = outbox_prune(older_than=dt.timedelta(days=7), now=timezone.now())
            pruned += broker_messages_prune(older_than=dt.timedelta(hours=1))
            if pruned:
                log.info("pruned delivered messages", count=pruned)
            last_prune = time.monotonic()
        return last_prune
