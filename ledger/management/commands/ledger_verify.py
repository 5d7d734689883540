"""``manage.py ledger_verify``: check the whole ledger against its own data, in the database.
Exit status 0 when everything holds; otherwise names the first entry or checkpoint that fails."""

from __future__ import annotations

import base64
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand

from ledger.audit import ledger_audit
from ledger.exceptions import VerificationError


class Command(BaseCommand):
    help = "Recompute the ledger from its entries and check every hash, node and checkpoint."

    def handle(self, *args: Any, **options: Any) -> None:
        t0 = time.perf_counter()

        def progress(done: int, total: int) -> None:
            if total and (done % 100_000 < 5000 or done == total):
                self.stderr.write(f"  {done:,}/{total:,} entries checked")

        try:
            result = ledger_audit(progress=progress)
        except VerificationError as exc:
            self.stderr.write(f"LEDGER DOES NOT VERIFY: {exc}")
            sys.exit(1)
        seconds = time.perf_counter() - t0
        self.stdout.write(
            f"ledger verifies: {result.size:,} entries, {result.checkpoints:,} checkpoints, "
            f"root {base64.b64encode(result.root_hash).decode()} ({seconds:.1f} s)"
        )
