"""The ``composition`` space moves to version 4 of ``governance.content.composition``: version 3's
chroma, its filter bank's product computed by OpenBLAS in one thread instead of one a core (the
idle threads' spinning cost more CPU time than the space's other work; docs/matching.md,
"Decoding and import speed"). The vectors differ from version 3's by a float32 rounding at most
(the sums run in another order), the threshold is the same; as in migrations 0013 and 0014,
version 3's vectors are deleted with the move (no column tells them apart, and a space's
vectors are all of one version), and ``manage.py import_content`` gives them again from the
same files. A space of that name with another model is refused, as in migration 0010; the
module's constants are copied here, not imported (see 0010).
"""

from typing import Any

from django.db import migrations

NAME = "composition"
MODEL = "chroma-2dftm"
OLD, NEW = "3", "4"
DIMENSION = 108
OLD_THRESHOLD, THRESHOLD = 0.78, 0.78


def forward(apps: Any, schema_editor: Any) -> None:
    space_model = apps.get_model("governance", "EmbeddingSpace")
    embedding_model = apps.get_model("governance", "WorkEmbedding")
    space = space_model.objects.filter(name=NAME).first()
    if space is None or space.model_version == NEW:
        return
    if (space.model, space.model_version, space.dimension) != (MODEL, OLD, DIMENSION):
        raise RuntimeError(
            f"An embedding space named {NAME!r} exists with model {space.model} "
            f"{space.model_version}, {space.dimension}-d: rename it before migrating."
        )
    embedding_model.objects.filter(space=space).delete()
    space.model_version, space.threshold = NEW, THRESHOLD
    space.save(update_fields=["model_version", "threshold"])


def backward(apps: Any, schema_editor: Any) -> None:
    space_model = apps.get_model("governance", "EmbeddingSpace")
    embedding_model = apps.get_model("governance", "WorkEmbedding")
    space = space_model.objects.filter(name=NAME, model_version=NEW).first()
    if space is not None:
        embedding_model.objects.filter(space=space).delete()
        space.model_version, space.threshold = OLD, OLD_THRESHOLD
        space.save(update_fields=["model_version", "threshold"])


class Migration(migrations.Migration):
    # (Numbered after main's 0024; it follows this branch's last migration.)
    dependencies = [("governance", "0023_import_reading")]
    operations = [migrations.RunPython(forward, backward)]
