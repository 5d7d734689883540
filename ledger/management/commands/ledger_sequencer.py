"""``manage.py ledger_sequencer``: the loop that integrates pending entries into the log and
signs a checkpoint at least every LEDGER_CHECKPOINT_INTERVAL seconds while entries arrive.

Several may run (for availability): the advisory lock lets one integrate at a time, and a
checkpoint is only signed over a head no checkpoint covers yet.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from typing import Any

import structlog
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import OperationalError, close_old_connections
from django.utils import timezone

from ledger import services

log = structlog.get_logger("ledger.sequencer")


class Command(BaseCommand):
    help = "Integrate pending ledger entries and sign checkpoints, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="integrate and sign once, then exit"
        )
        parser.add_argument(
            "--idle-sleep", type=float, default=0.05, help="seconds to wait when idle"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        interval = dt.timedelta(seconds=settings.LEDGER_CHECKPOINT_INTERVAL)
        signer = services.current_signer()
        services.key_register(signer=signer, now=timezone.now())
        if options["once"]:
            services.integrate_all(now=timezone.now())
            services.checkpoint_sign(now=timezone.now(), signer=signer)
            return
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        log.info("sequencer started", key=signer.verifier().key_string)
        while not stopping:
            try:
                done = services.integrate(now=timezone.now())
                checkpoint = services.checkpoint_sign(
                    now=timezone.now(), min_interval=interval, signer=signer
                )
            except OperationalError as exc:  # the database restarts or is away: retry
                log.warning("sequencer database error; retrying", error=str(exc))
                close_old_connections()
                time.sleep(1)
                continue
            if checkpoint is not None:
                log.info("checkpoint signed", size=checkpoint.size)
            if done is None or done.count < services.DEFAULT_BATCH:
                # Caught up: let entries gather for a moment, so that under a steady trickle
                # each pass sequences many (one transaction and one tree update) instead of
                # one or two. A backlog (a full batch) is worked off without pausing.
                time.sleep(options["idle_sleep"])
        # Leave nothing unsigned behind on a clean stop.
        services.integrate_all(now=timezone.now())
        services.checkpoint_sign(now=timezone.now(), signer=signer)
        log.info("sequencer stopped")
