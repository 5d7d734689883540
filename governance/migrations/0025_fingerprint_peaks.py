"""Each fingerprint source's landmark peaks (docs/matching.md, "The packed store"), packed on its
row: the column, stored out of line, then the peaks of the sources stored before, computed from
their postings (``governance.services.fingerprint_store.backfill_peaks``). Backwards, the
column goes."""

from django.db import migrations, models


def backfill(apps, schema_editor):
    from governance.services.fingerprint_store import backfill_peaks

    backfill_peaks()


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0024_content_spaces"),
    ]

    operations = [
        migrations.AddField(
            model_name="fingerprintsource",
            name="peaks",
            field=models.BinaryField(
                help_text="Its landmark peaks, rebuilt from its postings "
                "(governance.content.peaks, packed); null: not yet computed "
                "(fingerprint_store.backfill_peaks).",
                null=True,
            ),
        ),
        # Read whole or not at all, by key: stored out of line uncompressed (as the postings'
        # data), which keeps the table the queries map keys to contents in small.
        migrations.RunSQL(
            "ALTER TABLE governance_fingerprintsource ALTER COLUMN peaks SET STORAGE EXTERNAL",
            "ALTER TABLE governance_fingerprintsource ALTER COLUMN peaks SET STORAGE EXTENDED",
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
