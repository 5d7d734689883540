"""One writer process of the concurrency test: appends entries, each in its own transaction,
and now and then runs the sequencer itself (so several sequencers contend for the lock)."""

from __future__ import annotations

import os
import sys

import django


def main(writer: int, count: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from ledger import services

    for i in range(count):
        with transaction.atomic():
            services.entry_append(
                kind="test", payload={"writer": writer, "i": i}, time=timezone.now()
            )
        if i % 50 == 0:
            services.integrate(now=timezone.now(), batch=100)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
