"""More work on each page in the verifier's one pass (:class:`ledger.verify.pages.PageHook`, what
``--replay`` uses): the work gets exactly the entries checked and hashed into the tree, page
after page in log order, and nothing of a page that fails."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.exceptions import VerificationError
from ledger.merkle import leaf_hash
from ledger.verify import FetchError, HttpLogClient, verify_log
from ledger.verify.pages import PageHook
from tests.ledger.fakelog import FakeLog
from tests.ledger.verify.support import CLIENTS, MemoryClient, edited_entry


def seen(start: int, entries: list[bytes], leaves: list[bytes], fetched: Any) -> Any:
    """The work: what it was given (module level, so that a worker process can run it)."""
    return start, entries, leaves, fetched


class Recorder:
    """A hook recording, in order, the pages fetched and taken, and the progress reported."""

    def __init__(self, *, fail_from: int | None = None) -> None:
        self.events: list[tuple[str, int]] = []
        self.taken: list[tuple[int, list[bytes], list[bytes], Any]] = []
        self.fail_from = fail_from
        self.hook = PageHook(fetch=self.fetch, work=seen, take=self.take)

    def fetch(self, start: int, end: int) -> dict[str, int]:
        if self.fail_from is not None and start >= self.fail_from:
            url = f"/more?start={start}"
            raise FetchError(f"GET {url}: HTTP 403", url=url, status=403)
        return {"start": start, "end": end}

    def take(self, worked: tuple[int, list[bytes], list[bytes], Any]) -> None:
        self.events.append(("take", worked[0]))
        self.taken.append(worked)

    def progress(self, done: int, size: int) -> None:
        self.events.append(("progress", done))


def client_for(log: FakeLog, client: str) -> Any:
    return MemoryClient(log) if client == "memory" else CLIENTS[client](log.url)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("client", ["json", "compact", "memory"])
def test_the_work_gets_each_page_checked_once_in_order_after_it_is_in_the_tree(
    tampered: FakeLog, workers: int, client: str
) -> None:
    recorder = Recorder()

    result = verify_log(
        client_for(tampered, client),
        tampered.signer.verifier(),
        workers=workers,
        samples=2,
        progress=recorder.progress,
        hook=recorder.hook,
    )

    assert result.size == 3500
    starts = [0, 1000, 2000, 3000]
    assert recorder.events == [
        ("progress", 1000), ("take", 0), ("progress", 2000), ("take", 1000),
        ("progress", 3000), ("take", 2000), ("progress", 3500), ("take", 3000),
    ]  # fmt: skip
    assert [worked[0] for worked in recorder.taken] == starts
    entries = [e for worked in recorder.taken for e in worked[1]]
    assert entries == tampered.entries
    assert [h for worked in recorder.taken for h in worked[2]] == [leaf_hash(e) for e in entries]
    fetched = [worked[3] for worked in recorder.taken]
    assert fetched == [{"start": s, "end": min(s + 1000, 3500)} for s in starts]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_page_that_fails_its_check_is_not_given_to_the_work(
    tampered: FakeLog, workers: int
) -> None:
    tampered.served_data[2500] = edited_entry(2500)  # its served leaf hash no longer matches
    recorder = Recorder()

    with pytest.raises(VerificationError, match="entry 2500: served leaf hash"):
        verify_log(
            HttpLogClient(tampered.url),
            tampered.signer.verifier(),
            workers=workers,
            hook=recorder.hook,
        )

    assert [worked[0] for worked in recorder.taken] == [0, 1000]


@pytest.mark.parametrize("workers", [1, 2])
def test_entries_that_do_not_give_the_signed_root_fail_after_the_work_saw_them(
    tampered: FakeLog, workers: int
) -> None:
    # Another entry with its own leaf hash served: every page checks, the root does not.
    tampered.served_data[1500] = edited_entry(1500)
    tampered.served_leaf_hash[1500] = leaf_hash(edited_entry(1500))
    recorder = Recorder()

    with pytest.raises(VerificationError, match="root mismatch at size 3500"):
        verify_log(
            HttpLogClient(tampered.url),
            tampered.signer.verifier(),
            workers=workers,
            hook=recorder.hook,
        )

    # (the caller uses what the work made only once verify_log returns)
    assert edited_entry(1500) in recorder.taken[1][1]


@pytest.mark.parametrize("workers", [1, 2])
def test_pages_asked_again_when_the_log_serves_fewer_are_worked_on_once(
    tampered: FakeLog, workers: int
) -> None:
    tampered.page_limit = 333
    recorder = Recorder()

    verify_log(
        HttpLogClient(tampered.url), tampered.signer.verifier(), workers=workers, hook=recorder.hook
    )

    assert [e for worked in recorder.taken for e in worked[1]] == tampered.entries
    starts = [worked[0] for worked in recorder.taken]
    assert starts == sorted(set(starts))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failure_to_fetch_what_the_work_needs_stops_as_a_page_would(
    tampered: FakeLog, workers: int
) -> None:
    recorder = Recorder(fail_from=2000)

    with pytest.raises(FetchError, match=r"/more\?start=2000: HTTP 403"):
        verify_log(
            HttpLogClient(tampered.url),
            tampered.signer.verifier(),
            workers=workers,
            hook=recorder.hook,
        )

    assert [worked[0] for worked in recorder.taken] == [0, 1000]


def test_a_fetch_error_survives_pickling_with_its_url_and_status() -> None:
    import pickle

    pickled = pickle.dumps(FetchError("GET /x: HTTP 403", url="/x", status=403))
    error = pickle.loads(pickled)  # noqa: S301 - its own bytes

    assert (type(error), str(error), error.url, error.status) == (
        FetchError,
        "GET /x: HTTP 403",
        "/x",
        403,
    )
