"""``manage.py compact_fingerprints [--full]``: merge the fingerprint store's segments
(``governance.services.fingerprint_store.compact``): those of a tier holding ``FANOUT`` or more
into one of the next, until none does; ``--full``, every segment into one, the postings of
deleted contents dropped. Each merge is one transaction: queries and imports go on meanwhile.
Prints what each merge did and the segments left; nothing if another compaction is running.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from governance.services import fingerprint_store


class Command(BaseCommand):
    help = "Merge the fingerprint store's segments (size-tiered; --full: into one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true", help="Merge every segment into one.")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        done = fingerprint_store.compact(full=options["full"])
        for merge in done:
            self.stdout.write(
                f"merged {merge['segments']} segments: {merge['postings']:,} postings in "
                f"{merge['rows']:,} rows, {merge['dropped']:,} of deleted contents dropped"
            )
        left = fingerprint_store.segments()
        self.stdout.write(
            f"{len(done)} merges in {time.perf_counter() - started:.1f} s; {len(left)} segments "
            f"hold {sum(s['postings'] for s in left):,} postings"
        )
