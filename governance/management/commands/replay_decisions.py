"""``manage.py replay_decisions``: re-evaluate every ledgered decision from ledgered state only
(committed fields opened and checked against their commitments) and report any whose outcome
differs, or whose openings do not match (exit status 1 if one does)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from governance.replay import replay


class Command(BaseCommand):
    help = "Replay decisions from the ledger alone; report those whose outcome differs."

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(n: int) -> None:
            self.stderr.write(f"  {n:,} decisions replayed...")

        count, differences = replay(progress=progress)
        for d in differences:
            self.stdout.write(d.describe())
        self.stdout.write(f"{count:,} decisions replayed, {len(differences)} differ")
        if differences:
            raise SystemExit(1)
