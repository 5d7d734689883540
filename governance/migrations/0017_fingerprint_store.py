"""The packed fingerprint store (docs/matching.md, "The packed store"): segments of postings
packed by hash, in place of one row per posting. The postings stored before are moved into it
(a segment per 200 contents, keyed as ``governance.services.fingerprint_store`` keys them; the
next compaction merges them), then their table is dropped. Backwards, the packed postings go
back to one row each."""

import django.db.models.deletion
import numpy as np
from django.db import migrations, models

BATCH = 200


def pack(apps, schema_editor):
    from django.utils import timezone

    from governance.content import fingerprint, postings
    from governance.services.fingerprint_store import copy_rows

    source = apps.get_model("governance", "FingerprintSource")
    segment = apps.get_model("governance", "FingerprintSegment")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT p.content_id FROM governance_fingerprintposting p"
            " JOIN governance_workcontent c ON c.id = p.content_id ORDER BY 1"
        )
        contents = [row[0] for row in cursor.fetchall()]
    for start in range(0, len(contents), BATCH):
        sources = source.objects.bulk_create(
            source(content_id=c) for c in contents[start : start + BATCH]
        )
        held = []
        with schema_editor.connection.cursor() as cursor:
            for made in sources:
                cursor.execute(
                    "SELECT hash, t FROM governance_fingerprintposting WHERE content_id = %s",
                    [made.content_id],
                )
                pairs = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
                held.append((made.pk, pairs[:, 0], pairs[:, 1]))
        rows = postings.rows_of(postings.flat_of(held, hash_bits=fingerprint.HASH_BITS))
        made = segment.objects.create(
            format=postings.FORMAT, shift=rows.shift, postings=rows.postings, rows=len(rows),
            contents=len(held), created_at=timezone.now(),
        )
        copy_rows(made.pk, rows)


def unpack(apps, schema_editor):
    from governance.content import postings

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT shift, bucket, data FROM governance_fingerprintpostings")
        flat = postings.unpacked([(s, b, bytes(d)) for s, b, d in cursor.fetchall()])
        cursor.execute("SELECT id, content_id FROM governance_fingerprintsource")
        for key, content in cursor.fetchall():
            mine = flat.keys == key
            cursor.execute(
                "INSERT INTO governance_fingerprintposting (content_id, hash, t)"
                " SELECT %s, h, t FROM unnest(%s::int[], %s::int[]) AS p(h, t)",
                [content, flat.hashes[mine].tolist(), flat.times[mine].tolist()],
            )


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0016_ddex_fidelity_unclaimed_parties'),
    ]

    operations = [
        migrations.CreateModel(
            name='FingerprintPostings',
            fields=[
                ('pk', models.CompositePrimaryKey('shift', 'bucket', 'segment', blank=True, editable=False, primary_key=True, serialize=False)),
                ('shift', models.SmallIntegerField()),
                ('bucket', models.IntegerField()),
                ('segment', models.IntegerField()),
                ('n', models.IntegerField(help_text='Postings in data.')),
                ('data', models.BinaryField()),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('n__gt', 0)), name='fingerprint_postings_n')],
            },
        ),
        migrations.CreateModel(
            name='FingerprintSegment',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('format', models.SmallIntegerField(help_text="The rows' packing (postings.FORMAT).")),
                ('shift', models.SmallIntegerField(help_text='Its rows hold the hashes h >> shift = bucket.')),
                ('postings', models.BigIntegerField(help_text="Postings held, deleted contents' included.")),
                ('rows', models.IntegerField(help_text='Hashes held (rows).')),
                ('contents', models.IntegerField(help_text='Contents whose postings it holds.')),
                ('merges', models.IntegerField(default=0, help_text='Segments compacted into it, if any.')),
                ('created_at', models.DateTimeField()),
            ],
            options={
                'constraints': [models.CheckConstraint(condition=models.Q(('contents__gte', 0), ('postings__gte', 0), ('rows__gte', 0)), name='fingerprint_segment_counts')],
            },
        ),
        migrations.CreateModel(
            name='FingerprintSource',
            fields=[
                ('id', models.AutoField(primary_key=True, serialize=False)),
                ('content', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='fingerprint_source', to='governance.workcontent')),
            ],
        ),
        # Postings are read whole or not at all: stored out of line uncompressed (pglz would
        # cost an import CPU and save little on sorted pairs of integers).
        migrations.RunSQL(
            "ALTER TABLE governance_fingerprintpostings ALTER COLUMN data SET STORAGE EXTERNAL",
            migrations.RunSQL.noop,
        ),
        migrations.RunPython(pack, unpack),
        migrations.DeleteModel(
            name='FingerprintPosting',
        ),
    ]
