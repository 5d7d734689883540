from django.db import migrations, models

# Contents completed before this field list their main space (the one ``model`` names): the
# fingerprint for audio, the text space for lyrics. Their composition vectors, if any, are in
# their work_content ledger entry's ``spaces``, which the ledger keeps.
MAIN_SPACE = {"audio": "fingerprint", "lyrics": "text"}


def backfill(apps, schema_editor):
    WorkContent = apps.get_model("governance", "WorkContent")
    for content in WorkContent.objects.filter(status="completed").iterator():
        content.spaces = [
            {
                "space": MAIN_SPACE.get(content.kind, content.kind),
                "model": content.model,
                "model_version": content.model_version,
                "vector_count": content.vector_count,
            }
        ]
        content.save(update_fields=["spaces"])


class Migration(migrations.Migration):
    dependencies = [
        ("governance", "0023_import_reading"),
    ]

    operations = [
        migrations.AddField(
            model_name="workcontent",
            name="spaces",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Once completed: per space its vectors were stored in, the space, model, "
                "model version and vector count (what its work_content ledger entry says).",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
