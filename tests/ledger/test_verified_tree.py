"""The sequencer signs only the tree it computed from the entries' data (issue 12, "A database
superuser can get a rewritten history signed"). Each step of the attack, as a superuser with the
append-only triggers bypassed, ends in a refused signature: for a freshly started process (which
recomputes from the entries) and for a running one (which holds its verified compact range).

The process-level versions, with a real sequencer process, are in test_sequencer_process.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from structlog.testing import capture_logs

from ledger import canonical, services, verified_tree
from ledger.exceptions import LedgerTampered
from ledger.models import Checkpoint, Head, PendingEntry
from tests.dbroles import as_superuser
from tests.ledger.helpers import append_many, sequence
from tests.ledger.tamper import Bypass, Through, rewrite_entry

pytestmark = pytest.mark.django_db

VICTIM = 7
Committing = Callable[..., AbstractContextManager[Any]]


def forged() -> bytes:
    return canonical.encode_entry(kind="test", time=timezone.now(), payload={"i": "forged"})


def attack(*, through: Through, bypass: Bypass = "replica") -> None:
    """Steps 1-4 of the attack: bypass the triggers, rewrite entry VICTIM (data, then leaf
    hash, then its ancestor nodes), then one ordinary write."""
    with as_superuser(), connection.cursor() as cursor:
        rewrite_entry(cursor, index=VICTIM, data=forged(), through=through, bypass=bypass)
    append_many(1, start=1000)


@pytest.fixture
def running(django_capture_on_commit_callbacks: Committing) -> Committing:
    """Runs the on-commit callbacks, as a real commit would: the process remembers its tree."""
    return django_capture_on_commit_callbacks


@pytest.fixture
def log_with_checkpoints(running: Committing) -> int:
    """A log of 22 entries (the seeded consent matrix, the key, 20 more), with a checkpoint at
    sizes 7, 12, 17 and 22, as a sequencer signing every second leaves them. This process
    sequenced and signed them: it remembers the tree it verified."""
    services.key_register(signer=services.current_signer(), now=timezone.now())
    for _ in range(4):
        append_many(5)
        with running(execute=True):
            sequence()
    size = Head.objects.get().size
    assert size == 22
    assert sorted(Checkpoint.objects.values_list("size", flat=True)) == [7, 12, 17, 22]
    assert verified_tree.remembered_size() == size
    return size


def refused(**kwargs: Any) -> tuple[LedgerTampered, list[dict[str, Any]]]:
    before = set(Checkpoint.objects.values_list("size", flat=True))
    with capture_logs() as logs, pytest.raises(LedgerTampered) as info:
        services.sequence_and_sign(now=timezone.now(), **kwargs)
    assert set(Checkpoint.objects.values_list("size", flat=True)) == before, "nothing is signed"
    alerts = [e for e in logs if e["event"] == "ledger tampered"]
    assert len(alerts) == 1
    assert alerts[0]["log_level"] == "error"
    return info.value, alerts


@pytest.mark.parametrize(
    ("through", "bypass", "first", "last"),
    [
        ("data", "replica", VICTIM, VICTIM),
        ("leaf", "disable_trigger", VICTIM, VICTIM),
        # A consistent rewrite of the stored tree leaves only the signed checkpoints to bound
        # the entry: it lies between the checkpoints of size 7 and 12.
        ("nodes", "replica", 7, 11),
        ("nodes", "disable_trigger", 7, 11),
    ],
)
def test_a_freshly_started_sequencer_refuses_to_sign_a_rewritten_history(
    log_with_checkpoints: int, through: Through, bypass: Bypass, first: int, last: int
) -> None:
    attack(through=through, bypass=bypass)
    verified_tree.forget()  # a process that starts now

    exc, alerts = refused()

    assert exc.first_index == first
    assert (alerts[0]["first_index"], alerts[0]["last_index"]) == (first, last)
    assert exc.code == "ledger_tampered"
    assert exc.status == 503
    assert Head.objects.get().size == log_with_checkpoints, "the ordinary write is not integrated"
    assert PendingEntry.objects.count() == 1


def test_a_running_sequencer_refuses_to_extend_a_rewritten_right_edge(
    log_with_checkpoints: int, running: Committing
) -> None:
    attack(through="nodes")

    with running(execute=True):
        exc, alerts = refused()

    # The running process knows the right edge it verified: [0, 16) holds the rewritten entry.
    assert (exc.first_index, alerts[0]["last_index"]) == (0, 15)
    assert "stored node 4/0 differs from the tree computed from the entries" in exc.message
    assert Head.objects.get().size == log_with_checkpoints


@pytest.mark.parametrize(
    ("through", "first", "last"), [("data", 7, 7), ("leaf", 7, 7), ("nodes", 0, 15)]
)
def test_the_scrub_of_a_running_sequencer_finds_each_step_of_the_rewrite(
    log_with_checkpoints: int, running: Committing, through: Through, first: int, last: int
) -> None:
    scrubber = verified_tree.Scrubber()
    scrubber.step()  # a full pass over the honest log finds nothing
    assert scrubber.position == log_with_checkpoints
    attack(through=through)

    with capture_logs() as logs, pytest.raises(LedgerTampered) as info:
        scrubber.step()

    assert info.value.first_index == first
    alert = next(e for e in logs if e["event"] == "ledger tampered")
    assert (alert["first_index"], alert["last_index"]) == (first, last)


def test_a_sequencer_catches_up_from_the_data_of_entries_another_process_integrated(
    log_with_checkpoints: int, running: Committing
) -> None:
    # Another sequencer (whose commits this process does not see as its own) moves on.
    append_many(9, start=100)
    services.integrate_all(now=timezone.now())
    assert verified_tree.remembered_size() == log_with_checkpoints

    with running(execute=True):
        checkpoint = sequence()

    assert checkpoint.size == log_with_checkpoints + 9
    assert verified_tree.remembered_size() == log_with_checkpoints + 9


@pytest.mark.parametrize("through", ["data", "leaf", "nodes"])
def test_a_catch_up_over_a_rewritten_entry_is_refused(
    log_with_checkpoints: int, running: Committing, through: Through
) -> None:
    append_many(9, start=100)
    services.integrate_all(now=timezone.now())  # another process, which also signs
    services.checkpoint_sign(now=timezone.now())
    victim = log_with_checkpoints + 3
    with as_superuser(), connection.cursor() as cursor:
        rewrite_entry(cursor, index=victim, data=forged(), through=through)
    append_many(1, start=1000)

    exc, _ = refused()

    assert exc.first_index is not None
    assert log_with_checkpoints <= exc.first_index <= victim


def test_a_head_moved_back_behind_the_triggers_is_refused(
    log_with_checkpoints: int, running: Committing
) -> None:
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("UPDATE ledger_head SET size = 11")
        cursor.execute("SET session_replication_role = DEFAULT")
    append_many(1, start=1000)

    exc, _ = refused()

    assert "the head moved back from size 22 to 11" in exc.message


def test_a_checkpoint_row_that_is_not_signed_is_refused_on_start(log_with_checkpoints: int) -> None:
    verified_tree.forget()
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE ledger_checkpoint SET note = replace(note, '\n22\n', '\n20\n') WHERE size = 22"
        )
        cursor.execute("SET session_replication_role = DEFAULT")
    append_many(1, start=1000)

    exc, _ = refused()

    assert "the latest checkpoint (size 22) does not verify" in exc.message


def test_an_honest_log_is_verified_once_per_process_and_then_extended(
    log_with_checkpoints: int, running: Committing
) -> None:
    with running(execute=True):
        append_many(3, start=100)
        assert sequence().size == log_with_checkpoints + 3
    assert verified_tree.remembered_size() == log_with_checkpoints + 3


def test_a_throttled_scrub_reads_only_what_its_rate_allows(log_with_checkpoints: int) -> None:
    scrubber = verified_tree.Scrubber(rate=0.0)
    scrubber.step()
    scrubber.step()
    assert scrubber.position == 2
