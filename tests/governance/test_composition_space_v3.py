"""Migration 0014: the ``composition`` space moves from version 2 to version 3 (the STFT chroma)
with its threshold, and its version-2 vectors, which no column tells apart from version 3's,
are deleted; a space of that name with another model is refused; backwards, version 2's
threshold comes back."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from governance.content import composition
from governance.models import EmbeddingSpace, PartyKind, Work, WorkEmbedding, WorkKind
from tests.factories import PartyFactory

pytestmark = pytest.mark.django_db

migration = import_module("governance.migrations.0014_composition_space_v3")


def _space_at_version_2_with_a_vector() -> EmbeddingSpace:
    space = EmbeddingSpace.objects.get(name="composition")
    space.model_version, space.threshold = "2", 0.82
    space.save(update_fields=["model_version", "threshold"])
    label = PartyFactory(kind=PartyKind.LABEL)
    work = Work.objects.create(kind=WorkKind.RECORDING, title="Old vectors", registrant=label)
    WorkEmbedding.objects.create(space=space, work=work, embedding=[1.0] * composition.DIMENSION)
    return space


def test_the_module_and_the_migrated_space_agree_on_version_3_and_its_threshold() -> None:
    space = EmbeddingSpace.objects.get(name="composition")
    assert (space.model, space.model_version, space.threshold) == (
        composition.MODEL, composition.VERSION, composition.THRESHOLD) == (
        migration.MODEL, migration.NEW, migration.THRESHOLD)  # fmt: skip
    assert space.dimension == composition.DIMENSION == migration.DIMENSION


def test_version_2_vectors_are_deleted_and_the_space_moves_to_version_3() -> None:
    space = _space_at_version_2_with_a_vector()

    migration.forward(apps, None)

    space.refresh_from_db()
    assert (space.model_version, space.threshold) == ("3", composition.THRESHOLD)
    assert not WorkEmbedding.objects.filter(space=space).exists()

    migration.backward(apps, None)

    space.refresh_from_db()
    assert (space.model_version, space.threshold) == ("2", 0.82)


def test_a_composition_space_of_another_model_stops_the_migration() -> None:
    space = _space_at_version_2_with_a_vector()
    space.model = "someone-elses-chroma"
    space.save(update_fields=["model"])

    with pytest.raises(RuntimeError, match="rename it before migrating"):
        migration.forward(apps, None)
    assert WorkEmbedding.objects.filter(space=space).count() == 1
