"""Seed the consent matrix's version 1 (DESIGN.md's defaults) with its ledger entry, and give
every existing artist party its likeness."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.utils import timezone

MATRIX_V1 = {
    "train": ["master", "publishing", "performer"],
    "reference": ["master", "publishing"],
    "output": ["master", "publishing"],
    "voice": ["likeness"],
    "style": ["likeness"],
    "lyrics": ["publishing"],
    "stems": ["master", "performer"],
    "analyze": ["master"],
}
NOTE = "DESIGN.md defaults"


def seed(apps: Any, schema_editor: Any) -> None:
    from ledger import canonical

    Matrix = apps.get_model("governance", "ConsentMatrixVersion")
    Party = apps.get_model("governance", "Party")
    Likeness = apps.get_model("governance", "Likeness")
    now = timezone.now()
    if not Matrix.objects.exists():
        Matrix.objects.create(version=1, matrix=MATRIX_V1, effective_from=now, note=NOTE)
        payload = {
            "version": 1,
            "matrix": MATRIX_V1,
            "effective_from": canonical.format_time(now),
            "note": NOTE,
        }
        data = canonical.encode_entry(kind="consent_matrix", time=now, payload=payload)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_pending (data, kind, created_at) VALUES (%s, %s, %s)",
                [data, "consent_matrix", now],
            )
    for party in Party.objects.filter(kind="artist", likeness__isnull=True):
        Likeness.objects.create(artist=party, aspects=["voice", "name", "image"])


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0003_catalog_and_consent"),
        ("ledger", "0002_append_only"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
