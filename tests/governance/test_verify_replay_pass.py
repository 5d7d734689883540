"""``python -m ledger.verify --replay`` verifies and replays in one pass over the log's pages
(``governance.replaying.offline.VerifiedReplay``): with worker processes (pages of a few entries
here, so that a small log has several) it reports what it reports in one process; an entry
edited behind the ledger's back fails the verification and no replay is reported; openings
that cannot be fetched are named; progress is reported as the pages are checked."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from ledger import canonical, merkle
from ledger.models import Entry
from ledger.verify import cli, main, pages
from tests.dbroles import as_superuser
from tests.factories import Caller
from tests.governance.test_replay import behind_the_ledgers_back, entry_index
from tests.governance.test_verify_replay import (
    Served,
    auditor,  # noqa: F401 - a fixture
    confidential_world,
    served,  # noqa: F401 - a fixture
    signed,
    verify_replay,
)

pytestmark = pytest.mark.django_db

PAGE = 4
"""Entries a page, so that the world's log is several pages, checked in worker processes."""


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "ENTRIES_PAGE_SIZE", PAGE)


def replay_with(
    capsys: pytest.CaptureFixture[str], server: Served, vkey: str, workers: int, *extra: str
) -> tuple[int, list[str], str]:
    return verify_replay(capsys, server, vkey, "--workers", str(workers), *extra)


def edit_decision_behind_the_ledgers_back() -> int:
    """A decision's outcome rewritten in the log, its leaf hash with it (the page served is
    consistent; the tree no longer gives the signed root); its index."""
    index, _ = entry_index("decision")
    entry = canonical.decode_entry(bytes(Entry.objects.get(index=index).data))
    outcome = "deny" if entry.payload["outcome"] != "deny" else "allow"
    payload = {**entry.payload, "outcome": outcome}
    data = canonical.encode_entry(kind=entry.kind, time=entry.time, payload=payload)
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE ledger_entry SET data = %s, leaf_hash = %s WHERE idx = %s",
            [data, merkle.leaf_hash(data), index],
        )
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
    return index


@pytest.mark.parametrize("workers", [1, 2])
def test_an_entry_edited_behind_the_ledgers_back_fails_and_no_replay_is_reported(
    world: dict[str, Any],
    served: Served,  # noqa: F811
    auditor: Caller,  # noqa: F811
    small_pages: None,
    workers: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confidential_world(world)
    vkey = signed()
    assert Entry.objects.count() > 2 * PAGE
    edit_decision_behind_the_ledgers_back()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)

    status, lines, err = replay_with(capsys, served, vkey, workers)

    assert status == 1
    assert "verification FAILED: root mismatch at size" in err
    assert not [line for line in lines if "decisions replayed" in line]


def test_in_worker_processes_the_replay_and_its_differences_are_the_same(
    world: dict[str, Any],
    served: Served,  # noqa: F811
    auditor: Caller,  # noqa: F811
    small_pages: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confidential_world(world)
    vkey = signed()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)
    assert replay_with(capsys, served, vkey, 2)[:2] == (0, ["1 decisions replayed, 0 differ"])

    index, leaf = entry_index("rights_share", right="master")
    behind_the_ledgers_back(
        "UPDATE ledger_opening SET value = %s WHERE leaf_hash = %s AND field = 'share'",
        [b'"0.001"', leaf],
    )
    alone = replay_with(capsys, served, vkey, 1)
    in_workers = replay_with(capsys, served, vkey, 2)

    assert in_workers[:2] == alone[:2]
    status, lines, _ = in_workers
    assert status == 1
    assert lines[0].startswith(
        f"entry {index} (rights_share): the opening of 'share' does not match its commitment"
    )


def test_in_worker_processes_openings_that_cannot_be_fetched_are_named(
    world: dict[str, Any],
    served: Served,  # noqa: F811
    small_pages: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    confidential_world(world)
    vkey = signed()

    status, lines, err = replay_with(capsys, served, vkey, 2)

    assert status == 2
    assert "error: GET " in err
    assert "/api/v1/ledger/openings/?start=" in err
    assert not [line for line in lines if "decisions replayed" in line]


def test_progress_is_reported_page_by_page_while_replaying(
    world: dict[str, Any],
    served: Served,  # noqa: F811
    auditor: Caller,  # noqa: F811
    small_pages: None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confidential_world(world)
    vkey = signed()
    size = Entry.objects.count()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)
    monkeypatch.setattr(cli, "PROGRESS_EVERY", PAGE)

    with served.sharing():
        status = main(["--url", served.url, "--vkey", vkey, "--workers", "2", "--replay"])
    out, err = capsys.readouterr()

    assert status == 0, err
    reported = [line for line in err.splitlines() if line.startswith("checked ")]
    expected = [*range(PAGE, size, PAGE), size]
    assert reported == [f"checked {n:,} of {size:,} entries ({100 * n // size}%)" for n in expected]
    assert out.splitlines()[-1] == "1 decisions replayed, 0 differ"
