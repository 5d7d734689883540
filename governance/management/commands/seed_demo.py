"""``manage.py seed_demo``: create the demo parties, members and tokens (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from governance.demo import OPERATOR_USERNAME, demo_seed


class Command(BaseCommand):
    help = "Seed the demo: a label, a publisher, two artists, a licensee and an auditor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials-file",
            type=Path,
            default=settings.VAR_DIR / "demo" / "credentials.json",
            help="Where the demo token secrets are kept (mode 0600).",
        )
        parser.add_argument("--quiet-tokens", action="store_true", help="Do not print tokens.")

    def handle(self, *args: Any, **options: Any) -> None:
        creds, password = demo_seed(
            credentials_file=options["credentials_file"], now=timezone.now()
        )
        if options["quiet_tokens"]:
            self.stdout.write(f"demo seeded: {len(creds)} parties")
            return
        self.stdout.write(
            "Demo parties and their API tokens (header: Authorization: Api-Key <token>):"
        )
        for c in creds:
            self.stdout.write(f"  {c.kind:<10} {c.party:<30} {c.token}")
        self.stdout.write("Sign in to the pages (user and password):")
        for c in creds:
            self.stdout.write(f"  {c.kind:<10} {c.party:<30} {c.username:<10} {c.password}")
        self.stdout.write(f"  admin      user {OPERATOR_USERNAME!r} password {password}")
