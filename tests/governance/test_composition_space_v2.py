"""Migration 0013: the ``composition`` space moves to version 2 and its version-1 vectors, which
no column tells apart from version 2's, are deleted; a space of that name with another model is
refused, as migration 0010 refuses one. (Migration 0014 moves it on to version 3:
test_composition_space_v3.py.)"""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from governance.content import composition
from governance.models import EmbeddingSpace, PartyKind, Work, WorkEmbedding, WorkKind
from tests.factories import PartyFactory

pytestmark = pytest.mark.django_db

migration = import_module("governance.migrations.0013_composition_space_v2")


def _space_at_version_1_with_a_vector() -> EmbeddingSpace:
    space = EmbeddingSpace.objects.get(name="composition")
    space.model_version = "1"
    space.save(update_fields=["model_version"])
    label = PartyFactory(kind=PartyKind.LABEL)
    work = Work.objects.create(kind=WorkKind.RECORDING, title="Old vectors", registrant=label)
    WorkEmbedding.objects.create(space=space, work=work, embedding=[1.0] * composition.DIMENSION)
    return space


def test_version_1_vectors_are_deleted_and_the_space_moves_to_version_2() -> None:
    space = _space_at_version_1_with_a_vector()

    migration.forward(apps, None)

    space.refresh_from_db()
    assert (space.model_version, space.threshold) == ("2", migration.THRESHOLD)
    assert not WorkEmbedding.objects.filter(space=space).exists()


def test_a_composition_space_of_another_model_stops_the_migration() -> None:
    space = _space_at_version_1_with_a_vector()
    space.model = "someone-elses-chroma"
    space.save(update_fields=["model"])

    with pytest.raises(RuntimeError, match="rename it before migrating"):
        migration.forward(apps, None)
    assert WorkEmbedding.objects.filter(space=space).count() == 1
