"""``manage.py replay_decisions`` with a second process decoding the entries and checking their
openings (``--workers 2``, :mod:`governance.replay`) is as strict as in one process: the same
differences, an opening tampered with reported with its entry's index (a decision's trace too,
whose clear value the replaying process is not given), and an entry that cannot be read stops
both with the same error after the same entries. The chunks are made small, so that the log
spans several and the second process works ahead of the replay."""

from __future__ import annotations

import gc
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from governance import replay as replay_module
from governance.replay import Difference, default_workers, replay
from governance.replaying import Replay
from ledger import services as ledger_services
from tests.dbroles import as_superuser
from tests.governance.test_replay import behind_the_ledgers_back, check, entry_index
from tests.world import rule

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_module, "CHUNK", 3)
    monkeypatch.setattr(replay_module, "AHEAD", 1)


def a_log_of_several_chunks(world: dict[str, Any]) -> None:
    """Rules whose licensee list and note are commitments, shares whose percentages are, and
    five decisions, sequenced: more entries than three chunks hold."""
    rule(
        world["label"], scope="all_works", uses=["analyze"], effect="allow",
        licensee_mode="listed", licensees=[str(world["licensee"].party.pk)], note="Private.",
    )  # fmt: skip
    for _ in range(5):
        assert check(world) == "allow"
    ledger_services.integrate_all(now=timezone.now())


def both(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[int], object]]:
    """For one process and for two: the indexes of the entries fed to the replay, in order,
    and what the replay gave (or the exception it raised, as its type and message)."""
    results: list[tuple[list[int], object]] = []
    feed = Replay.feed
    for workers in (1, 2):
        fed: list[int] = []

        def recording(self: Replay, index: int, *args: Any, _fed: list[int] = fed) -> None:
            _fed.append(index)
            feed(self, index, *args)

        monkeypatch.setattr(Replay, "feed", recording)
        try:
            outcome: object = replay(workers=workers)
        except Exception as exc:  # compared between the two
            outcome = (type(exc), str(exc))
        monkeypatch.setattr(Replay, "feed", feed)
        results.append((fed, outcome))
    return results


def test_the_log_replays_the_same_in_two_processes(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a_log_of_several_chunks(world)
    (fed, alone), parallel = both(monkeypatch)
    assert alone == (5, [])
    assert len(fed) > 3 * replay_module.CHUNK
    assert parallel == (fed, alone)


def test_a_tampered_opening_is_reported_in_two_processes_as_in_one(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a_log_of_several_chunks(world)
    share, share_leaf = entry_index("rights_share", right="master")
    note, note_leaf = entry_index("consent_rule")
    behind_the_ledgers_back(
        "UPDATE ledger_opening SET value = %s WHERE leaf_hash = %s AND field = 'share'",
        [b'"0.001"', share_leaf],
    )
    behind_the_ledgers_back(
        "DELETE FROM ledger_opening WHERE leaf_hash = %s AND field = 'note'", [note_leaf]
    )
    (fed, alone), parallel = both(monkeypatch)
    assert parallel == (fed, alone)
    assert isinstance(alone, tuple)
    count, differences = alone
    assert count == 5
    openings = [(d.index, d.ledgered, d.reason) for d in differences if d.kind == "opening"]
    assert [(index, kind) for index, kind, _ in openings] == sorted(
        [(share, "rights_share"), (note, "consent_rule")]
    )
    reasons = {index: reason for index, _, reason in openings}
    assert reasons[share].startswith("the opening of 'share' does not match its commitment")
    assert reasons[note].startswith("no opening for the committed field 'note'")
    outs = []
    for workers in ("1", "2"):
        out = StringIO()
        with pytest.raises(SystemExit):
            call_command("replay_decisions", "--workers", workers, stdout=out, stderr=StringIO())
        outs.append(out.getvalue())
    assert outs[1] == outs[0]
    assert f"entry {share} (rights_share): the opening of 'share' does not match" in outs[0]


def test_a_tampered_trace_is_reported_though_its_value_is_not_replayed(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a_log_of_several_chunks(world)
    index, leaf = entry_index("decision")
    behind_the_ledgers_back(
        "UPDATE ledger_opening SET value = %s WHERE leaf_hash = %s AND field = 'trace'",
        [b'{"trace_version":1}', leaf],
    )
    (fed, alone), parallel = both(monkeypatch)
    assert parallel == (fed, alone)
    assert isinstance(alone, tuple)
    count, differences = alone
    first: Difference = differences[0]
    assert (count, first.kind, first.index, first.ledgered) == (5, "opening", index, "decision")
    assert "the opening of 'trace' does not match its commitment" in first.reason


def test_an_entry_that_cannot_be_read_stops_both_after_the_same_entries(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a_log_of_several_chunks(world)
    bad = 2 * replay_module.CHUNK + 1  # the second entry of the third chunk
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute("UPDATE ledger_entry SET data = %s WHERE idx = %s", [b"{not json", bad])
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
    (fed, alone), parallel = both(monkeypatch)
    assert parallel == (fed, alone)
    assert alone[0] is ValueError, alone  # type: ignore[index]
    assert str(alone[1]).startswith("entry is not JSON")  # type: ignore[index]
    assert fed == list(range(2 * replay_module.CHUNK))  # the chunks before it, not its own


def test_two_processes_are_the_default_for_a_long_log_only(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a_log_of_several_chunks(world)
    assert default_workers() == 1
    monkeypatch.setattr(replay_module, "PARALLEL_FROM", 3)
    monkeypatch.setattr(replay_module.os, "cpu_count", lambda: 2)
    assert default_workers() == 2
    monkeypatch.setattr(replay_module.os, "cpu_count", lambda: 1)
    assert default_workers() == 1


def test_the_replay_collects_garbage_less_often_and_then_as_before(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a_log_of_several_chunks(world)
    before = gc.get_threshold()
    seen: set[tuple[int, int, int]] = set()
    feed = Replay.feed

    def recording(self: Replay, *args: Any) -> None:
        seen.add(gc.get_threshold())
        feed(self, *args)

    monkeypatch.setattr(Replay, "feed", recording)
    assert replay(workers=1) == (5, [])
    assert seen == {replay_module.GC_THRESHOLD}
    assert gc.get_threshold() == before != replay_module.GC_THRESHOLD
