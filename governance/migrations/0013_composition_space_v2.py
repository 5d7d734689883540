"""The ``composition`` space moves to version 2 of ``governance.content.composition`` (the
tuning estimated from the middle minute, the audio decoded by libsoxr: docs/matching.md,
"Decoding and import speed"). Version 1's vectors cannot be compared with version 2's queries,
and ``governance_workembedding`` has no version column to tell them apart, so they are deleted
with the move. Handing a work's audio in again computes them anew (with its fingerprint, whose
version 2 came with the same decoding: ``manage.py import_content`` skips only contents
completed at the current fingerprint version). The ledger keeps which version each
``work_content`` entry stored. A space of that name with another model or dimension is refused,
as in migration 0010; the module's constants are copied here, not imported (see 0010).
"""

from typing import Any

from django.db import migrations

NAME = "composition"
MODEL = "chroma-2dftm"
OLD, NEW = "1", "2"
DIMENSION = 108
THRESHOLD = 0.82


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
        space.model_version = OLD
        space.save(update_fields=["model_version"])


class Migration(migrations.Migration):
    dependencies = [("governance", "0012_text_store")]
    operations = [migrations.RunPython(forward, backward)]
