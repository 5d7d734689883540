"""``manage.py fingerprint_peaks``: compute the landmark peaks of the fingerprint sources that
have none (``governance.services.fingerprint_store.backfill_peaks``: those stored before the
peaks were kept), from their postings, in one pass over the store's segments and one
transaction; an import writes its own. Prints a progress bar (the postings read), then how many
sources it filled; nothing to do if every source has its peaks.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from governance.services import fingerprint_store


class Command(BaseCommand):
    help = "Compute the fingerprint sources' missing landmark peaks from their postings."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        bar = tqdm(total=0, unit="postings", unit_scale=True, desc="reading the segments",
                   disable=None)  # fmt: skip

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            filled = fingerprint_store.backfill_peaks(progress=progress)
        finally:
            bar.close()
        self.stdout.write(
            f"{filled:,} sources given their peaks in {time.perf_counter() - started:.1f} s"
        )
