"""``manage.py sync_artist_names``: give every artist the name vectors of the text space that
its name and likeness aliases call for (``governance.services.texts.artist_names_sync``), for
artists registered before the text store existed or embedded under another model version.
Idempotent: an artist whose vectors are current costs one query. Exit status 1 where the text
model cannot run (no AVX2)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from governance.models import Party, PartyKind
from governance.services.texts import TextSpaceUnavailable, artist_names_sync, text_model_check


class Command(BaseCommand):
    help = "Embed every artist's name and aliases in the text space (the missing ones only)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text_model_check()
        except TextSpaceUnavailable as exc:
            raise CommandError(str(exc)) from exc
        artists = embedded = 0
        for party in Party.objects.filter(kind=PartyKind.ARTIST).order_by("pk"):
            with transaction.atomic():
                embedded += artist_names_sync(party=party)
            artists += 1
        self.stdout.write(f"{artists} artists, {embedded} names embedded")
