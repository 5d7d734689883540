"""Checking pages of entries, in this process or in worker processes, while threads fetch the
next pages; and joining the checked pages into the recomputed tree.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import hashlib
import multiprocessing
import multiprocessing.connection
import operator
import os
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ledger.exceptions import VerificationError
from ledger.merkle import LEAF_PREFIX
from ledger.merkle_trees import PagedTree, page_levels
from ledger.verify.canonical_check import CanonicalChecker
from ledger.verify.client import (
    ENTRIES_PAGE_SIZE,
    EXIT_CANNOT_CHECK,
    HttpLogClient,
    LogClient,
    parse_entries_body,
)


def default_workers() -> int:
    """Worker processes the command line uses by default: one per CPU it may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


ProgressCallback = Callable[[int, int], None]
"""Called with (entries checked, tree size) after every page."""


@dataclass(frozen=True, slots=True)
class _PageTask:
    """One answer of ``/ledger/entries?start=&end=`` to check."""

    start: int
    end: int
    payload: bytes | list[Any]
    """The response body as served (parsed by the checker), or the parsed ``entries`` list."""
    url: str
    """Names the request in messages about a body that is not what the API promises."""
    check_canonical: bool


@dataclass(frozen=True, slots=True)
class _PageResult:
    """What checking one page found."""

    count: int
    """Entries the log served for the page (at most ``end - start``)."""
    levels: list[bytes]
    """The page's part of the tree, as :func:`~ledger.merkle_trees.page_levels` computes it;
    empty if ``error``."""
    error: str | None
    """The failure of the lowest entry index in the page, if any."""
    seconds: float
    """CPU time spent on the page: parsing the body, base64, hashing, the canonical check."""


_INDEX = operator.itemgetter("index")
_DATA = operator.itemgetter("data")
_LEAF_HASH = operator.itemgetter("leaf_hash")
_DIGEST = operator.methodcaller("digest")
_a2b_strict = functools.partial(binascii.a2b_base64, strict_mode=True)


def _check_page(task: _PageTask, checker: CanonicalChecker | None = None) -> _PageResult:
    """Check one page; never raises :class:`VerificationError` (the result carries it).

    Runs in a worker process, with the process's own checker, or in this one with ``checker``.
    """
    started = time.thread_time()
    if not task.check_canonical:
        checker = None
    elif checker is None:
        checker = _process_checker()
    count = 0
    levels: list[bytes] = []
    error = None
    try:
        leaf_hashes = None
        if not isinstance(task.payload, bytes):
            items = task.payload
        else:
            compact = _compact_page(task.payload, task.start, task.end)
            if compact is not None:
                count = len(compact[0])
                leaf_hashes = _compact_page_leaf_hashes(*compact, task.start, checker)
            if leaf_hashes is None:
                count = 0
                items = parse_entries_body(task.payload, url=task.url)
        if leaf_hashes is None:
            items = items[: task.end - task.start]
            count = len(items)
            leaf_hashes = _page_leaf_hashes(items, task.start, checker)
        levels = page_levels(leaf_hashes, task.start)
    except VerificationError as exc:
        error = str(exc)
    return _PageResult(count, levels, error, time.thread_time() - started)


@functools.cache
def _process_checker() -> CanonicalChecker:
    return CanonicalChecker()


_COMPACT_HEAD = [b"{", b"entries", b":[{"]
_B64_HASH_LENGTH = 44  # 32 bytes: 43 characters and one "="


def _compact_page(body: bytes, start: int, end: int) -> tuple[list[bytes], bytes] | None:
    """The entries' data and served leaf hashes of a body in the log's own compact form
    ``{"entries":[{"index":<start>,"data":"<base64>","leaf_hash":"<base64>"},...]}`` with
    indexes ``start, start + 1, ...`` and at most ``end - start`` entries: the data decoded, the
    leaf hashes as served, concatenated. ``None`` for any other body, which is then parsed as
    JSON: what this accepts, JSON reads as the same entries.

    Cut at its quotes (no string holds a quote or, as checked, a backslash), such a body is
    three pieces and ten per entry, each entry's at the same place in every ten.
    """
    pieces = body.split(b'"')
    count, rest = divmod(len(pieces) - 3, 10)
    if rest or not 0 < count <= end - start or pieces[:3] != _COMPACT_HEAD or b"\\" in body:
        return None
    separators = pieces[12::10]
    if (
        pieces[3::10].count(b"index") != count
        or pieces[5::10].count(b"data") != count
        or pieces[6::10].count(b":") != count
        or pieces[8::10].count(b",") != count
        or pieces[9::10].count(b"leaf_hash") != count
        or pieces[10::10].count(b":") != count
        or separators.count(b"},{") != count - 1
        or separators[-1] != b"}]}"
        or pieces[4::10] != _index_pieces(start, count)
    ):
        return None
    try:
        entries = list(map(_a2b_strict, pieces[7::10]))  # base64: no control characters either
    except ValueError:
        return None
    return entries, b"".join(pieces[11::10])


def _index_pieces(start: int, count: int) -> list[bytes]:
    """``[b":<start>,", b":<start + 1>,", ...]``, formatted at once."""
    return (b":%d,\n" * count % tuple(range(start, start + count))).split(b"\n")[:-1]


def _compact_page_leaf_hashes(
    entries: list[bytes], served: bytes, start: int, checker: CanonicalChecker | None
) -> list[bytes] | None:
    """The leaf hashes of a :func:`_compact_page`, checked (and the entries checked for canonical
    JSON, given a checker); ``None`` unless every served hash is the usual base64 of the right
    hash: then the page is checked one entry at a time, to name the first that fails.

    The served hashes are decoded at once, each ``=`` read as ``A``: 33 bytes a hash, the last
    being 0 for the usual encoding.
    """
    count = len(entries)
    if (
        len(served) != _B64_HASH_LENGTH * count
        or served.count(b"=") != count
        or served[_B64_HASH_LENGTH - 1 :: _B64_HASH_LENGTH].count(b"=") != count
    ):
        return None
    try:
        served_hashes = _a2b_strict(served.replace(b"=", b"A"))
    except ValueError:
        return None
    leaf_hashes = list(map(_DIGEST, map(hashlib.sha256, map(LEAF_PREFIX.__add__, entries))))
    if b"\x00".join(leaf_hashes) + b"\x00" != served_hashes:
        return None
    if checker is not None:
        checker.check(entries, first_index=start)
    return leaf_hashes


def _page_leaf_hashes(
    items: list[Any], start: int, checker: CanonicalChecker | None
) -> list[bytes]:
    """The leaf hashes of entries ``start, start + 1, ...``, checked against those served (and
    for canonical JSON, given a checker). Raise :class:`VerificationError` for the first entry
    that fails: a column at a time while all is well, entry by entry to name a failure."""
    try:
        indexes = list(map(_INDEX, items))
        entries = list(map(_a2b_strict, map(_DATA, items)))
        served = list(map(_a2b_strict, map(_LEAF_HASH, items)))
    except (TypeError, KeyError, ValueError):
        return _page_leaf_hashes_one_by_one(items, start, checker)
    leaf_hashes = list(map(_DIGEST, map(hashlib.sha256, map(LEAF_PREFIX.__add__, entries))))
    if (
        leaf_hashes != served
        or indexes != list(range(start, start + len(indexes)))
        or not set(map(type, indexes)) <= {int}  # not True for 1, nor 1.0
    ):
        return _page_leaf_hashes_one_by_one(items, start, checker)
    if checker is not None:
        checker.check(entries, first_index=start)
    return leaf_hashes


def _page_leaf_hashes_one_by_one(
    items: list[Any], start: int, checker: CanonicalChecker | None
) -> list[bytes]:
    entries: list[bytes] = []
    leaf_hashes: list[bytes] = []
    for position, item in enumerate(items, start):
        try:
            index = item["index"]
            entry = binascii.a2b_base64(item["data"], strict_mode=True)
            served = binascii.a2b_base64(item["leaf_hash"], strict_mode=True)
        except (TypeError, KeyError, ValueError):
            problem = (
                f"entry {position}: malformed in the log's answer (an entry needs an integer "
                "'index' and base64 'data' and 'leaf_hash')"
            )
        else:
            leaf = hashlib.sha256(LEAF_PREFIX + entry).digest()
            if type(index) is not int or index != position:
                problem = f"entry {position}: the log served index {index!r} in its place"
            elif leaf != served:
                problem = f"entry {position}: served leaf hash does not match its data"
            else:
                entries.append(entry)
                leaf_hashes.append(leaf)
                continue
        if checker is not None:
            checker.check(entries, first_index=start)  # a failure of an earlier entry wins
        raise VerificationError(problem)
    if checker is not None:
        checker.check(entries, first_index=start)
    return leaf_hashes


class _Timing:
    log_wait: float = 0.0
    """The main thread waiting for the log."""
    checking: float = 0.0
    """CPU time spent checking pages, in all processes."""

    def add(self, result: _PageResult) -> None:
        self.checking += result.seconds


def _fetch_page(client: LogClient, start: int, end: int) -> tuple[bytes | list[Any], str]:
    if isinstance(client, HttpLogClient):
        return client.entries_body(start, end), client.entries_url(start, end)
    return client.entries(start, end), f"/ledger/entries?start={start}&end={end}"


def _pages_in_process(
    client: LogClient, size: int, *, check_canonical: bool, timing: _Timing
) -> Generator[_PageResult, None, None]:
    """Fetch and check page after page, here."""
    checker = CanonicalChecker() if check_canonical else None
    done = 0
    while done < size:
        end = min(done + ENTRIES_PAGE_SIZE, size)
        started = time.perf_counter()
        payload, url = _fetch_page(client, done, end)
        timing.log_wait += time.perf_counter() - started
        result = _check_page(_PageTask(done, end, payload, url, check_canonical), checker)
        timing.add(result)
        yield result
        if not result.count:
            return
        done += result.count


_PAGES_AHEAD = 4
"""Pages being fetched or checked per worker process, at most."""
_FETCH_THREADS = 2
"""Concurrent requests to the log (for :class:`HttpLogClient`; one for other clients)."""


def _pages_in_workers(
    client: LogClient, size: int, *, check_canonical: bool, timing: _Timing, workers: int
) -> Generator[_PageResult, None, None]:
    """Fetch pages ahead in threads and check them in ``workers`` processes; yield in order.

    Pages are asked for assuming the log serves as many entries as asked (or as many as it
    served the last time it served fewer). When a page comes back with another count, the pages
    asked for after it are dropped and asking resumes after its last entry.
    """
    pipeline = _Pipeline(client, workers=workers, check_canonical=check_canonical)
    in_flight: deque[tuple[int, int, Future[Future[_PageResult]]]] = deque()
    try:
        done = asked = 0
        per_answer = ENTRIES_PAGE_SIZE
        while done < size:
            while asked < size and len(in_flight) < _PAGES_AHEAD * workers:
                end = min(asked + ENTRIES_PAGE_SIZE, size)
                in_flight.append((asked, end, pipeline.fetch(asked, end)))
                asked += min(per_answer, end - asked)
            start, end, fetching = in_flight.popleft()
            started = time.perf_counter()
            checking = fetching.result()
            timing.log_wait += time.perf_counter() - started
            result = checking.result()
            timing.add(result)
            yield result
            if not result.count:
                return
            done += result.count
            if in_flight and in_flight[0][0] != done:
                # The log served another count than assumed: what was asked after is misplaced.
                per_answer = result.count if result.count < end - start else ENTRIES_PAGE_SIZE
                for _, _, misplaced in in_flight:
                    misplaced.cancel()
                in_flight.clear()
                asked = done
    finally:
        for _, _, fetching in in_flight:
            fetching.cancel()
        pipeline.close()


_FetchJob = tuple[int, int, "Future[Future[_PageResult]]"]


class _Pipeline:
    """Fetch threads handing pages to a pool of worker processes that check them."""

    def __init__(self, client: LogClient, *, workers: int, check_canonical: bool) -> None:
        self._client = client
        self._check_canonical = check_canonical
        # "spawn": no copy of this process's threads and locks (fork), the same on every OS.
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
        )
        self._jobs: queue.SimpleQueue[_FetchJob | None] = queue.SimpleQueue()
        threads = _FETCH_THREADS if isinstance(client, HttpLogClient) else 1
        self._threads = [
            threading.Thread(target=self._fetch_loop, name=f"ledger-verify-fetch-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def fetch(self, start: int, end: int) -> Future[Future[_PageResult]]:
        """Fetch a page, then have a worker check it: the future of the check's future."""
        job: _FetchJob = (start, end, Future())
        self._jobs.put(job)
        return job[2]

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _fetch_loop(self) -> None:
        while (job := self._jobs.get()) is not None:
            start, end, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                payload, url = _fetch_page(self._client, start, end)
                task = _PageTask(start, end, payload, url, self._check_canonical)
                checking = self._pool.submit(_check_page, task)
            except BaseException as exc:  # the main thread raises it, in page order
                future.set_exception(exc)
            else:
                future.set_result(checking)


def _start_worker() -> None:
    """In a worker process: leave Ctrl-C to the main process, which stops the workers; and end
    when the main process ends, however it ends (the workers would otherwise wait for work)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(parent_sentinel: int) -> None:
    multiprocessing.connection.wait([parent_sentinel])
    os._exit(EXIT_CANNOT_CHECK)


@dataclass(frozen=True)
class Recomputed:
    tree: PagedTree
    fetch_seconds: float
    compute_seconds: float
    """CPU time checking pages (divided among the CPUs that worked side by side), and this
    thread's joining them into the tree."""
    workers: int
    """Processes that checked pages."""


def fetch_and_check_entries(
    client: LogClient,
    size: int,
    *,
    check_canonical: bool,
    progress: ProgressCallback | None,
    workers: int,
) -> Recomputed:
    """The tree of all entries, each checked; and the time it took."""
    timing = _Timing()
    parallel = workers > 1 and size > ENTRIES_PAGE_SIZE
    pages = (
        _pages_in_workers(
            client, size, check_canonical=check_canonical, timing=timing, workers=workers
        )
        if parallel
        else _pages_in_process(client, size, check_canonical=check_canonical, timing=timing)
    )
    tree = PagedTree()
    own = 0.0
    with contextlib.closing(pages):
        for result in pages:
            done = tree.size
            if result.error is not None:
                raise VerificationError(result.error)
            if not result.count:
                end = min(done + ENTRIES_PAGE_SIZE, size)
                raise VerificationError(
                    f"entry {done}: the log served no entries from {done} to {end} "
                    f"although its checkpoint has size {size}"
                )
            started = time.thread_time()
            tree.add_page(result.levels)
            own += time.thread_time() - started
            if progress is not None:
                progress(tree.size, size)
    # Pages are checked side by side on as many CPUs as there are workers, or CPUs if fewer.
    side_by_side = min(workers, default_workers()) if parallel else 1
    return Recomputed(
        tree, timing.log_wait, timing.checking / side_by_side + own, workers if parallel else 1
    )
