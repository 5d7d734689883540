"""The ``text`` space's store (docs/matching.md, "The text store"): one vector per artist name
and alias (``governance_artistnamevector``) and one per stanza of a work's lyrics
(``governance_lyricsvector``), each table with its HNSW index (cosine, ``m`` 16,
``ef_construction`` 128), and ``lyrics`` as a kind of work content. The vectors of artists
registered before it are made by ``manage.py sync_artist_names`` (a migration does not load
the text model)."""

import django.db.models.deletion
import pgvector.django.indexes
import pgvector.django.vector
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('governance', '0011_voice_references'),
    ]

    operations = [
        migrations.CreateModel(
            name='ArtistNameVector',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=300)),
                ('alias', models.BooleanField(default=False)),
                ('model_version', models.CharField(max_length=32)),
                ('embedding', pgvector.django.vector.VectorField(dimensions=384)),
            ],
        ),
        migrations.CreateModel(
            name='LyricsVector',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('stanza', models.PositiveIntegerField()),
                ('model_version', models.CharField(max_length=32)),
                ('embedding', pgvector.django.vector.VectorField(dimensions=384)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='workcontent',
            name='work_content_kind',
        ),
        migrations.AlterField(
            model_name='workcontent',
            name='kind',
            field=models.CharField(choices=[('audio', "Audio (a recording's sound)"), ('lyrics', "Lyrics (a work's words, as text)")], default='audio', max_length=16),
        ),
        migrations.AddConstraint(
            model_name='workcontent',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['audio', 'lyrics'])), name='work_content_kind'),
        ),
        migrations.AddField(
            model_name='artistnamevector',
            name='party',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='name_vectors', to='governance.party'),
        ),
        migrations.AddField(
            model_name='lyricsvector',
            name='content',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stanzas', to='governance.workcontent'),
        ),
        migrations.AddField(
            model_name='lyricsvector',
            name='work',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lyrics_vectors', to='governance.work'),
        ),
        migrations.AddIndex(
            model_name='artistnamevector',
            index=pgvector.django.indexes.HnswIndex(ef_construction=128, fields=['embedding'], m=16, name='artist_name_vector_hnsw', opclasses=['vector_cosine_ops']),
        ),
        migrations.AddConstraint(
            model_name='artistnamevector',
            constraint=models.UniqueConstraint(fields=('party', 'name', 'model_version'), name='artist_name_vector_unique'),
        ),
        migrations.AddIndex(
            model_name='lyricsvector',
            index=pgvector.django.indexes.HnswIndex(ef_construction=128, fields=['embedding'], m=16, name='lyrics_vector_hnsw', opclasses=['vector_cosine_ops']),
        ),
    ]
