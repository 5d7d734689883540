"""The ledger in PostgreSQL: appends in the writer's transaction, gapless sequencing, signed
checkpoints, append-only tables, and proofs from stored nodes that match an in-memory tree."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ledger import canonical, merkle_trees, note, selectors, services
from ledger.models import Checkpoint, Entry, Head, Node, PendingEntry
from tests.dbroles import as_superuser
from tests.ledger.helpers import append_many, sequence

pytestmark = pytest.mark.django_db


def memory_tree() -> merkle_trees.MemoryTree:
    return merkle_trees.MemoryTree(bytes(e.leaf_hash) for e in Entry.objects.order_by("index"))


def test_an_append_rolls_back_with_the_writers_transaction() -> None:
    before = PendingEntry.objects.count()

    def failing_change() -> None:
        with transaction.atomic():
            services.entry_append(kind="test", payload={"x": 1}, time=timezone.now())
            raise RuntimeError("the writer's change fails")

    with pytest.raises(RuntimeError):
        failing_change()
    assert PendingEntry.objects.count() == before


def test_sequencing_gives_gapless_indexes_in_append_order_and_the_right_root() -> None:
    services.integrate_all(now=timezone.now())  # what the migrations ledgered
    base = selectors.head_size()
    append_many(300)
    integrated = services.integrate(now=timezone.now(), batch=128)
    assert integrated is not None
    assert (integrated.first_index, integrated.count) == (base, 128)
    services.integrate_all(now=timezone.now())
    indexes = list(Entry.objects.order_by("index").values_list("index", flat=True))
    assert indexes == list(range(base + 300))
    tail = Entry.objects.filter(index__gte=base).order_by("index")
    assert [int(bytes(e.data).split(b'"i":')[1].split(b"}")[0]) for e in tail] == list(range(300))
    head = Head.objects.get(pk=1)
    assert bytes(head.root_hash) == memory_tree().root()
    assert not PendingEntry.objects.exists()


def test_stored_nodes_give_the_same_proofs_as_an_in_memory_tree() -> None:
    append_many(77)
    checkpoint = sequence()
    tree = memory_tree()
    size = checkpoint.size
    for index in (0, 1, size // 2, size - 1):
        assert selectors.inclusion_proof(index=index, tree_size=size) == tree.inclusion_proof(
            index, size
        )
    for first in (1, 3, size // 3, size - 1):
        assert selectors.consistency_proof(first=first, second=size) == tree.consistency_proof(
            first, size
        )


def test_a_checkpoint_is_a_signed_note_over_the_head() -> None:
    append_many(5)
    checkpoint = sequence()
    signer = services.current_signer()
    opened = note.open_checkpoint(
        checkpoint.note.encode(), verifiers=[signer.verifier()], origin=services.origin()
    )
    assert opened.size == checkpoint.size
    assert opened.root_hash == memory_tree().root()


def test_no_checkpoint_is_signed_when_nothing_changed_or_too_soon() -> None:
    append_many(2)
    now = timezone.now()
    sequence(now)
    assert services.checkpoint_sign(now=now) is None
    append_many(2)
    services.integrate_all(now=now)
    soon = now + dt.timedelta(milliseconds=200)
    assert services.checkpoint_sign(now=soon, min_interval=dt.timedelta(seconds=1)) is None
    later = now + dt.timedelta(seconds=1)
    assert services.checkpoint_sign(now=later, min_interval=dt.timedelta(seconds=1)) is not None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET data = 'x'::bytea WHERE idx = 0",
        "DELETE FROM ledger_entry WHERE idx = 0",
        "TRUNCATE ledger_entry",
        "UPDATE ledger_node SET hash = 'x'::bytea",
        "DELETE FROM ledger_checkpoint",
        "TRUNCATE ledger_checkpoint CASCADE",
        "UPDATE ledger_head SET size = 0",
        "DELETE FROM ledger_head",
    ],
)
def test_raw_sql_cannot_change_the_ledger(statement: str) -> None:
    append_many(3)
    sequence()
    before = (
        list(Entry.objects.order_by("index").values_list("data", flat=True)),
        Node.objects.count(),
        Checkpoint.objects.count(),
        Head.objects.get(pk=1).size,
    )
    # As the superuser: the application role is refused by its privileges before any trigger
    # runs (tests/config/test_database_roles.py); the triggers refuse even the superuser.
    with (
        pytest.raises(DatabaseError, match=r"append-only|may not shrink"),
        as_superuser(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    after = (
        list(Entry.objects.order_by("index").values_list("data", flat=True)),
        Node.objects.count(),
        Checkpoint.objects.count(),
        Head.objects.get(pk=1).size,
    )
    assert before == after


def test_proofs_beyond_the_signed_size_are_refused() -> None:
    from ledger.exceptions import InvalidRange

    append_many(4)
    checkpoint = sequence()
    append_many(4)
    services.integrate_all(now=timezone.now())  # integrated, not yet signed
    with pytest.raises(InvalidRange):
        selectors.inclusion_proof(index=0, tree_size=checkpoint.size + 1)
    with pytest.raises(InvalidRange):
        selectors.consistency_proof(first=1, second=checkpoint.size + 1)


def test_a_batch_append_keeps_its_order_and_rolls_back_whole() -> None:
    services.integrate_all(now=timezone.now())  # what the migrations ledgered
    base = selectors.head_size()
    now = timezone.now()

    def failing_batch() -> None:
        with transaction.atomic():
            services.entries_append(items=[("test", {"i": 0})], time=now)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        failing_batch()
    services.entries_append(items=[("test", {"i": i}) for i in range(10)], time=now)
    services.integrate_all(now=now)
    tail = Entry.objects.filter(index__gte=base).order_by("index")
    assert [canonical.decode_entry(bytes(e.data)).payload["i"] for e in tail] == list(range(10))


def test_work_waiting_tells_an_idle_sequencer_when_a_pass_has_something_to_do() -> None:
    # What an idle sequencer asks instead of making a whole pass: pending entries, or a head no
    # checkpoint covers, are work; a signed head with nothing pending is not.
    sequence()
    sequence()  # signing the first checkpoint listed its key: an entry of its own
    assert not services.work_waiting()
    append_many(3)
    assert services.work_waiting()  # committed pending entries
    services.integrate_all(now=timezone.now())
    assert services.work_waiting()  # integrated, not signed yet
    services.checkpoint_sign(now=timezone.now())
    assert not services.work_waiting()
