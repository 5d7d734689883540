"""``manage.py ledger_sequencer``: the loop that integrates pending entries into the log and
signs a checkpoint at least every LEDGER_CHECKPOINT_INTERVAL seconds while entries arrive.

Several may run (for availability): the advisory lock lets one integrate at a time, and a
checkpoint is only signed over a head no checkpoint covers yet. Each keeps its own verified
range of the tree (:mod:`ledger.verified_tree`) and catches up from the entries' data when
another one moved the head.

Each round it reads the key through ``current_signer()``, which re-reads LEDGER_KEY_FILE when
the file changed: after ``manage.py ledger_rotate_key`` it signs with the new key from the next
round on.

When the database disagrees with the tree it verified (a rewritten entry, node, head or
checkpoint), it signs nothing, logs an error-level ``ledger tampered`` alert naming the first
entry that disagrees, and exits with status 3, so a supervisor (or ``config.launch``) sees it.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
import time
from typing import Any

import structlog
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import OperationalError, close_old_connections
from django.utils import timezone

from ledger import note, services, verified_tree
from ledger.exceptions import LedgerTampered
from ledger.keys import KeyFileError

log = structlog.get_logger("ledger.sequencer")

EXIT_TAMPERED = 3
# A pass over a million entries every 50 s, for a few percent of one CPU.
SCRUB_RATE = 20_000.0


class Command(BaseCommand):
    help = "Integrate pending ledger entries and sign checkpoints, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="integrate and sign once, then exit"
        )
        parser.add_argument(
            "--idle-sleep", type=float, default=0.05, help="seconds to wait when idle"
        )
        parser.add_argument(
            "--scrub-rate",
            type=float,
            default=SCRUB_RATE,
            help="stored entries re-hashed a second to find edited rows (default %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.run(
                once=options["once"],
                idle_sleep=options["idle_sleep"],
                scrub_rate=options["scrub_rate"],
            )
        except LedgerTampered as exc:
            # The alert itself was logged where the disagreement was found.
            self.stderr.write(f"LEDGER TAMPERED, nothing signed: {exc.message}")
            sys.exit(EXIT_TAMPERED)

    def run(self, *, once: bool, idle_sleep: float, scrub_rate: float) -> None:
        interval = dt.timedelta(seconds=settings.LEDGER_CHECKPOINT_INTERVAL)
        signer = services.current_signer()
        services.key_register(signer=signer, now=timezone.now())
        if once:
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
        scrubber = verified_tree.Scrubber(rate=scrub_rate)
        while not stopping:
            signer = self.signer(signer)
            try:
                done = services.integrate(now=timezone.now())
                # Between integrating and signing: an edit committed before this round's
                # entries is found before they are signed.
                scrubber.step()
                checkpoint = services.checkpoint_sign(
                    now=timezone.now(), min_interval=interval, signer=signer
                )
            except OperationalError as exc:  # the database restarts or is away: retry
                log.warning("sequencer database error; retrying", error=str(exc))
                close_old_connections()
                time.sleep(1)
                continue
            if checkpoint is not None:
                log.info("checkpoint signed", size=checkpoint.size, key=checkpoint.key_name)
            if done is None or done.count < services.DEFAULT_BATCH:
                # Caught up: let entries gather for a moment, so that under a steady trickle
                # each pass sequences many (one transaction and one tree update) instead of
                # one or two. A backlog (a full batch) is worked off without pausing.
                time.sleep(idle_sleep)
        # Leave nothing unsigned behind on a clean stop.
        services.integrate_all(now=timezone.now())
        services.checkpoint_sign(now=timezone.now(), signer=self.signer(signer))
        log.info("sequencer stopped")

    @staticmethod
    def signer(previous: note.Signer) -> note.Signer:
        """The key in LEDGER_KEY_FILE now (re-read only when the file changed). While a
        rotation swaps the file, keep the previous one: it is retired, so it signs nothing."""
        try:
            signer = services.current_signer()
        except (KeyFileError, OSError) as exc:
            log.warning("ledger key file unreadable; keeping the previous key", error=str(exc))
            return previous
        if signer.key_id != previous.key_id:
            log.info("ledger signing key changed", key=signer.verifier().key_string)
        return signer
