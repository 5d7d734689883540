"""``manage.py replay_decisions``: re-evaluate every ledgered decision from ledgered state only
(committed fields opened and checked against their commitments) and report any whose outcome
differs, or whose openings do not match (exit status 1 if one does).

``--workers 2`` decodes the entries and checks their openings in a second process while this
one replays them (the default on a log of more than 20,000 entries, given two processors);
``--workers 1`` does everything in one process. Both report the same (docs/ledger.md,
"Replaying decisions")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from governance.replay import PARALLEL_FROM, replay


class Command(BaseCommand):
    help = "Replay decisions from the ledger alone; report those whose outcome differs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers",
            type=int,
            choices=(1, 2),
            default=None,
            help=(
                "processes: 2 decodes the entries and checks their openings in a second"
                " process while this one replays them, in log order; 1 does it all in one."
                f" Default: 2 on a log of more than {PARALLEL_FROM:,} entries if the machine"
                " has two processors, else 1. Both report the same differences and errors."
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(n: int) -> None:
            self.stderr.write(f"  {n:,} decisions replayed...")

        count, differences = replay(progress=progress, workers=options["workers"])
        for d in differences:
            self.stdout.write(d.describe())
        self.stdout.write(f"{count:,} decisions replayed, {len(differences)} differ")
        if differences:
            raise SystemExit(1)
