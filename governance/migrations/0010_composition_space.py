"""The ``composition`` embedding space exists in every database (docs/matching.md, "The
composition space"): its row, with the model, version, dimension and calibrated threshold of
``governance.content.composition``, and its partial HNSW index, made by the same function a
space created through the API gets its index from (``governance_space_index_create``,
migration 0007). A space of that name created earlier is kept if it agrees with the module;
one that does not is refused (its vectors could not be compared with the content job's).

The module's constants are copied here, not imported: a migration replays the schema as it
was, and importing the module would load librosa into every ``migrate``.
"""

from typing import Any

from django.db import migrations

NAME = "composition"
MODEL = "chroma-2dftm"
VERSION = "1"
DIMENSION = 108
THRESHOLD = 0.82


def create(apps: Any, schema_editor: Any) -> None:
    space_model = apps.get_model("governance", "EmbeddingSpace")
    space, _ = space_model.objects.get_or_create(
        name=NAME,
        defaults={"model": MODEL, "model_version": VERSION, "dimension": DIMENSION,
                  "threshold": THRESHOLD},
    )  # fmt: skip
    if (space.model, space.model_version, space.dimension) != (MODEL, VERSION, DIMENSION):
        raise RuntimeError(
            f"An embedding space named {NAME!r} exists with model {space.model} "
            f"{space.model_version}, {space.dimension}-d: rename it before migrating."
        )
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT governance_space_index_create(%s)", [space.pk])


def remove(apps: Any, schema_editor: Any) -> None:
    space_model = apps.get_model("governance", "EmbeddingSpace")
    embedding_model = apps.get_model("governance", "WorkEmbedding")
    space = space_model.objects.filter(name=NAME).first()
    if space is None:
        return
    embedding_model.objects.filter(space=space).delete()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS governance_embedding_space_{int(space.pk)}_hnsw")
    space.delete()


class Migration(migrations.Migration):
    dependencies = [("governance", "0009_work_content")]
    operations = [migrations.RunPython(create, remove)]
