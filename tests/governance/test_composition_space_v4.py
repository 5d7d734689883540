"""Migration 0025: the ``composition`` space moves from version 3 to version 4 (the chroma's
filter bank applied by one BLAS thread) with the same threshold, and its version-3 vectors,
which no column tells apart from version 4's, are deleted; a space of that name with another
model is refused; backwards, version 3 comes back, without vectors."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from governance.content import composition
from governance.models import EmbeddingSpace, PartyKind, Work, WorkEmbedding, WorkKind
from tests.factories import PartyFactory

pytestmark = pytest.mark.django_db

migration = import_module("governance.migrations.0025_composition_space_v4")


def _space_at_version_3_with_a_vector() -> EmbeddingSpace:
    space = EmbeddingSpace.objects.get(name="composition")
    space.model_version, space.threshold = "3", 0.78
    space.save(update_fields=["model_version", "threshold"])
    label = PartyFactory(kind=PartyKind.LABEL)
    work = Work.objects.create(kind=WorkKind.RECORDING, title="Old vectors", registrant=label)
    WorkEmbedding.objects.create(space=space, work=work, embedding=[1.0] * composition.DIMENSION)
    return space


def test_the_module_and_the_migrated_space_agree_on_version_4_and_its_threshold() -> None:
    space = EmbeddingSpace.objects.get(name="composition")
    assert (space.model, space.model_version, space.threshold) == (
        composition.MODEL, composition.VERSION, composition.THRESHOLD) == (
        migration.MODEL, migration.NEW, migration.THRESHOLD)  # fmt: skip
    assert space.dimension == composition.DIMENSION == migration.DIMENSION


def test_version_3_vectors_are_deleted_and_the_space_moves_to_version_4() -> None:
    space = _space_at_version_3_with_a_vector()

    migration.forward(apps, None)

    space.refresh_from_db()
    assert (space.model_version, space.threshold) == ("4", composition.THRESHOLD)
    assert not WorkEmbedding.objects.filter(space=space).exists()

    migration.backward(apps, None)

    space.refresh_from_db()
    assert (space.model_version, space.threshold) == ("3", 0.78)


def test_a_composition_space_of_another_model_stops_the_migration() -> None:
    space = _space_at_version_3_with_a_vector()
    space.model = "someone-elses-chroma"
    space.save(update_fields=["model"])

    with pytest.raises(RuntimeError, match="rename it before migrating"):
        migration.forward(apps, None)
    assert WorkEmbedding.objects.filter(space=space).count() == 1
