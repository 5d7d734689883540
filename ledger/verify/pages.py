"""Fetching pages of entries while they are checked, in this process or in worker processes,
and joining the checked pages into the recomputed tree. Checking one page is
:mod:`ledger.verify.page_check`.

A :class:`PageHook` does more with each page's entries in the same pass (``python -m
ledger.verify --replay`` replays them: :mod:`governance.replaying.offline`): what it needs
besides the entries is fetched with the page, its work on the entries checked runs where the
page is checked, and what that gives is handed back here page after page, in log order.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import multiprocessing.connection
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
from ledger.merkle_trees import PagedTree
from ledger.verify.canonical_check import CanonicalChecker
from ledger.verify.client import (
    ENTRIES_PAGE_SIZE,
    EXIT_CANNOT_CHECK,
    HttpLogClient,
    LogClient,
)
from ledger.verify.page_check import PageResult, PageTask, PageWork, check_page


def default_workers() -> int:
    """Worker processes the command line uses by default: one per CPU it may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


ProgressCallback = Callable[[int, int], None]
"""Called with (entries checked, tree size) after every page."""


@dataclass(frozen=True)
class PageHook:
    """More to do with every page of entries checked, in the same pass over the log."""

    fetch: Callable[[int, int], Any]
    """``fetch(start, end)``, where the page of entries ``[start, end)`` is fetched, after it
    (a fetching thread, or this one): what :attr:`work` needs besides the entries (picklable).
    An exception it raises stops the verification as a failure to fetch the page does."""
    work: PageWork
    """Where the page is checked (a worker process: a module-level function), once its
    entries are checked: :data:`~ledger.verify.page_check.PageWork`; its answer, picklable."""
    take: Callable[[Any], None]
    """In this process, with :attr:`work`'s answer, page after page in log order, each once
    its leaf hashes are in the recomputed tree."""


class _Timing:
    log_wait: float = 0.0
    """The main thread waiting for the log."""
    checking: float = 0.0
    """CPU time spent checking pages, in all processes."""

    def add(self, result: PageResult) -> None:
        self.checking += result.seconds


def _fetch_page(client: LogClient, start: int, end: int) -> tuple[bytes | list[Any], str]:
    if isinstance(client, HttpLogClient):
        return client.entries_body(start, end), client.entries_url(start, end)
    return client.entries(start, end), f"/ledger/entries?start={start}&end={end}"


def _task(
    client: LogClient, start: int, end: int, check_canonical: bool, hook: PageHook | None
) -> PageTask:
    """Fetch a page (and what ``hook`` needs with it): the task of checking it."""
    payload, url = _fetch_page(client, start, end)
    if hook is None:
        return PageTask(start, end, payload, url, check_canonical)
    return PageTask(start, end, payload, url, check_canonical, hook.work, hook.fetch(start, end))


def _pages_in_process(
    client: LogClient,
    size: int,
    *,
    check_canonical: bool,
    timing: _Timing,
    hook: PageHook | None = None,
) -> Generator[PageResult, None, None]:
    """Fetch and check page after page, here."""
    checker = CanonicalChecker() if check_canonical else None
    done = 0
    while done < size:
        end = min(done + ENTRIES_PAGE_SIZE, size)
        started = time.perf_counter()
        task = _task(client, done, end, check_canonical, hook)
        timing.log_wait += time.perf_counter() - started
        result = check_page(task, checker)
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
    client: LogClient,
    size: int,
    *,
    check_canonical: bool,
    timing: _Timing,
    workers: int,
    hook: PageHook | None = None,
) -> Generator[PageResult, None, None]:
    """Fetch pages ahead in threads and check them in ``workers`` processes; yield in order.

    Pages are asked for assuming the log serves as many entries as asked (or as many as it
    served the last time it served fewer). When a page comes back with another count, the pages
    asked for after it are dropped and asking resumes after its last entry.
    """
    pipeline = _Pipeline(client, workers=workers, check_canonical=check_canonical, hook=hook)
    in_flight: deque[tuple[int, int, Future[Future[PageResult]]]] = deque()
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


_FetchJob = tuple[int, int, "Future[Future[PageResult]]"]


class _Pipeline:
    """Fetch threads handing pages to a pool of worker processes that check them."""

    def __init__(
        self, client: LogClient, *, workers: int, check_canonical: bool, hook: PageHook | None
    ) -> None:
        self._client = client
        self._check_canonical = check_canonical
        self._hook = hook
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

    def fetch(self, start: int, end: int) -> Future[Future[PageResult]]:
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
                task = _task(self._client, start, end, self._check_canonical, self._hook)
                checking = self._pool.submit(check_page, task)
            except BaseException as exc:  # the main thread raises it, in page order
                future.set_exception(exc)
            else:
                future.set_result(checking)


WORKER_GC_THRESHOLD = (50_000, 20, 100)
"""The garbage collector's thresholds in a worker process (:func:`gc.set_threshold`): checking
a page makes hundreds of thousands of short-lived objects and no cycles to collect, and at the
default (700 allocations) the collector's youngest generation ran every few entries (a tenth
of the workers' CPU time on a log of 224,558 entries, ``--replay``)."""


def _start_worker() -> None:
    """In a worker process: leave Ctrl-C to the main process, which stops the workers; end
    when the main process ends, however it ends (the workers would otherwise wait for work);
    collect garbage less often (:data:`WORKER_GC_THRESHOLD`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.set_threshold(*WORKER_GC_THRESHOLD)
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
    hook: PageHook | None = None,
) -> Recomputed:
    """The tree of all entries, each checked; and the time it took. ``hook``: more done with
    each page's entries (:class:`PageHook`); the CPU time of its work is not counted, the wait
    for what it fetches is counted as waiting for the log."""
    timing = _Timing()
    parallel = workers > 1 and size > ENTRIES_PAGE_SIZE
    pages = (
        _pages_in_workers(
            client,
            size,
            check_canonical=check_canonical,
            timing=timing,
            workers=workers,
            hook=hook,
        )
        if parallel
        else _pages_in_process(
            client, size, check_canonical=check_canonical, timing=timing, hook=hook
        )
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
            if hook is not None:
                hook.take(result.worked)
    # Pages are checked side by side on as many CPUs as there are workers, or CPUs if fewer.
    side_by_side = min(workers, default_workers()) if parallel else 1
    return Recomputed(
        tree, timing.log_wait, timing.checking / side_by_side + own, workers if parallel else 1
    )
