"""The ``composition`` space moves to version 3 of ``governance.content.composition``: the chroma
of a short-time Fourier transform at 2,756 Hz instead of a constant-Q transform, at a quarter of
the CPU time, with its own centre and calibrated threshold (docs/matching.md, "The composition
space" and "Decoding and import speed"). As in migration 0013, version 2's vectors cannot be
compared with version 3's queries and no column tells them apart, so they are deleted with the
move. ``manage.py import_content`` gives them again: a file whose content is completed (at the
fingerprint's version, which this does not change) but whose work has no composition vectors
has those alone computed from it. A space of that name with another model or dimension is
refused, as in migration 0010; the module's constants are copied here, not imported (see 0010).
"""

from typing import Any

from django.db import migrations

NAME = "composition"
MODEL = "chroma-2dftm"
OLD, NEW = "2", "3"
DIMENSION = 108
OLD_THRESHOLD, THRESHOLD = 0.82, 0.78


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
    dependencies = [("governance", "0013_composition_space_v2")]
    operations = [migrations.RunPython(forward, backward)]
