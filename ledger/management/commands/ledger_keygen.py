"""``manage.py ledger_keygen``: create the ledger signing key if none exists (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from ledger.keys import KeyFileError, create_signing_key, load_signing_key


class Command(BaseCommand):
    help = "Create the Ed25519 ledger signing key at LEDGER_KEY_FILE unless one exists."
    # The key check (consentry.E004) would refuse to run the command that fixes it.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.LEDGER_KEY_FILE
        if path.exists():
            try:
                load_signing_key(path)
            except KeyFileError as exc:
                raise SystemExit(f"LEDGER_KEY_FILE: {exc}") from None
            self.stdout.write(f"ledger key present: {path}")
            return
        create_signing_key(path)
        self.stdout.write(f"ledger key created: {path} (mode 0600)")
