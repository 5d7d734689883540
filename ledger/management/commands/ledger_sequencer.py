"""``manage.py ledger_sequencer``: the loop that integrates pending entries into the log and
signs a checkpoint at least every LEDGER_CHECKPOINT_INTERVAL seconds while entries arrive.

Idle (its last pass neither integrated nor signed), it makes no whole pass: it asks, every
``--idle-sleep`` seconds, with one cheap read (``services.work_waiting``), whether entries are
pending or the head is unsigned, and makes a pass when they are. New entries are still picked up
within ``--idle-sleep``. What an idle sequencer still costs is mostly the scrubber's
(``--scrub-rate``): docs/benchmarks.md measures both.

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

A database restart does not stop it: on a connection error (``OperationalError``,
``InterfaceError``) it closes its connections, waits (0.5 s, doubling up to 30 s) and tries
again, logging each failure and the recovery.
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
from django.db import InterfaceError, OperationalError, connections
from django.utils import timezone

from ledger import note, services, verified_tree
from ledger.exceptions import LedgerTampered
from ledger.keys import KeyFileError

log = structlog.get_logger("ledger.sequencer")

EXIT_TAMPERED = 3
# A pass over a million entries every 50 s, for a few percent of one CPU.
SCRUB_RATE = 20_000.0
BACKOFF_MAX = 30.0
"""Longest wait, in seconds, between tries while the database is away."""
DB_ERRORS = (OperationalError, InterfaceError)


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
        if once:
            services.key_register(signer=signer, now=timezone.now())
            services.integrate_all(now=timezone.now())
            services.checkpoint_sign(now=timezone.now(), signer=signer)
            return
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        backoff = 0.0

        def wait() -> None:
            """After a database error: close the connections, back off."""
            nonlocal backoff
            backoff = min(BACKOFF_MAX, backoff * 2 or 0.5)
            connections.close_all()
            deadline = time.monotonic() + backoff
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.1)

        while not stopping:
            try:
                services.key_register(signer=signer, now=timezone.now())
                break
            except DB_ERRORS as exc:
                log.warning("sequencer database error; retrying", error=str(exc).strip())
                wait()
        log.info("sequencer started", key=signer.verifier().key_string)
        scrubber = verified_tree.Scrubber(rate=scrub_rate)
        idle = False

        def reached() -> None:
            """The database answered: after errors, say so once and stop backing off."""
            nonlocal backoff
            if backoff:
                log.info("sequencer reconnected to the database")
                backoff = 0.0

        while not stopping:
            signer = self.signer(signer)
            try:
                if idle and not services.work_waiting():
                    # Nothing pending and the head signed: one cheap read, not a whole pass
                    # (the scrubber still reads its share of the log, by the time elapsed).
                    reached()
                    scrubber.step()
                    time.sleep(idle_sleep)
                    continue
                done = services.integrate(now=timezone.now())
                # Between integrating and signing: an edit committed before this round's
                # entries is found before they are signed.
                scrubber.step()
                checkpoint = services.checkpoint_sign(
                    now=timezone.now(), min_interval=interval, signer=signer
                )
            except DB_ERRORS as exc:  # the database restarts or is away: reconnect
                log.warning("sequencer database error; retrying", error=str(exc).strip(),
                            retry_in=min(BACKOFF_MAX, backoff * 2 or 0.5))  # fmt: skip
                wait()
                continue
            reached()
            if checkpoint is not None:
                log.info("checkpoint signed", size=checkpoint.size, key=checkpoint.key_name)
            # A pass that neither integrated nor signed: the next ones ask first (a head left
            # unsigned by the checkpoint interval is still waiting work, so it is signed in time).
            idle = done is None and checkpoint is None
            if done is None or done.count < services.DEFAULT_BATCH:
                # Caught up: let entries gather for a moment, so that under a steady trickle
                # each pass sequences many (one transaction and one tree update) instead of
                # one or two. A backlog (a full batch) is worked off without pausing.
                time.sleep(idle_sleep)
        # Leave nothing unsigned behind on a clean stop (the next start does it otherwise).
        try:
            services.integrate_all(now=timezone.now())
            services.checkpoint_sign(now=timezone.now(), signer=self.signer(signer))
        except DB_ERRORS as exc:
            log.warning("sequencer stopped with the database away", error=str(exc).strip())
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
