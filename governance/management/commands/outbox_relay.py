"""``manage.py outbox_relay``: send to the broker what the API wrote to the outbox but could
not hand over (the broker was down at commit). ``make run`` starts it beside the worker."""

from __future__ import annotations

import signal
import time
from typing import Any

import structlog
from django.core.management.base import BaseCommand, CommandParser

from governance.services.requests import outbox_dispatch

log = structlog.get_logger("governance.outbox")


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
        while not stop:
            sent = outbox_dispatch(older_than=options["older_than"])
            if sent:
                log.info("outbox re-sent", count=sent)
            if options["once"]:
                break
            time.sleep(options["interval"])
        log.info("outbox relay stopped")
