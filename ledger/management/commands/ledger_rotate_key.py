"""``manage.py ledger_rotate_key``: replace the ledger signing key.

1. Make the new key in a file beside LEDGER_KEY_FILE (mode 0600 from the first byte).
2. In one transaction: ledger the rotation, integrate, sign a last checkpoint with the old key
   that covers the rotation entry, retire the old key and list the new one
   (``ledger.services.key_rotate``).
3. Keep the old key file as ``<name>.retired-<time>.pem`` (a hard link) and move the new one
   into place with one atomic rename, so LEDGER_KEY_FILE always holds a whole key.
   A running sequencer re-reads the file every round (``current_signer()``) and signs with the
   new key from its next round; until then no checkpoint is signed (the old key is retired).
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ledger import services
from ledger.keys import create_signing_key


class Command(BaseCommand):
    help = "Rotate the ledger's Ed25519 signing key; the old key signs one last checkpoint."

    def handle(self, *args: Any, **options: Any) -> None:
        path = settings.LEDGER_KEY_FILE
        now = timezone.now()
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        new_path = path.with_name(f"{path.stem}.new-{stamp}.pem")
        retired_path = path.with_name(f"{path.stem}.retired-{stamp}.pem")
        new_key = create_signing_key(new_path)  # step 1
        try:
            old, new = services.key_rotate(new_private_key=new_key, now=now)  # step 2
        except Exception as exc:
            new_path.unlink(missing_ok=True)
            raise CommandError(f"rotation failed, nothing changed: {exc}") from exc
        os.link(path, retired_path)  # step 3
        os.replace(new_path, path)
        self.stdout.write(f"retired {old.vkey}")
        self.stdout.write(f"current {new.vkey}")
        self.stdout.write(f"old key kept at {retired_path}")
