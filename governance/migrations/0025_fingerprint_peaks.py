"""Each fingerprint source's landmark peaks (docs/matching.md, "The packed store"), packed on its
row: the column, stored out of line, then the peaks of the sources stored before, computed from
their postings (``governance.services.fingerprint_store.backfill_peaks``). Backwards, the
column goes."""

from django.db import migrations, models

# Above this many stored postings (about 1,000 three-minute tracks, a pass of some seconds) the
# migration leaves the peaks to ``manage.py fingerprint_peaks``, which shows its progress; a
# content without peaks is matched by coverage alone meanwhile.
IN_MIGRATION = 50_000_000


def backfill(apps, schema_editor):
    from governance.services.fingerprint_store import backfill_peaks, stored_postings

    held = stored_postings()
    if held > IN_MIGRATION:
        print(f"\n  {held:,} postings stored: run manage.py fingerprint_peaks to compute the "
              f"contents' peaks (until then they are matched by coverage alone)")  # fmt: skip
        return
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
