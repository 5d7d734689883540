"""Checking pages in worker processes, the fast paths, and the tree built page by page."""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import verify
from ledger.exceptions import VerificationError
from ledger.merkle import leaf_hash
from ledger.merkle_trees import MemoryTree, PagedTree, page_levels
from ledger.verify import (
    CanonicalChecker,
    FetchError,
    HttpLogClient,
    page_check,
    verify_log,
)
from tests.ledger.fakelog import FakeLog, b64, make_entry
from tests.ledger.verify.support import (
    REPO,
    CompactClient,
    edited_entry,
    not_canonical,
    run_log,
    verify_outcome,
)

# ---- several worker processes --------------------------------------------------------------


@pytest.mark.parametrize("client", ["json", "compact", "memory"])
def test_one_and_two_workers_verify_the_same_log(tampered: FakeLog, client: str) -> None:
    one = verify_outcome(tampered, workers=1, client=client)

    assert one == f"verified {b64(tampered.tree.root())} size 3500"
    assert verify_outcome(tampered, workers=2, client=client) == one


# (what is tampered with, at which entries) -> the entry named
EARLIEST_FAILURES = {
    "canonical in an earlier page, hash in a later": (
        [("canonical", 1500), ("hash", 2700)],
        "entry 1500: not canonical JSON: entry bytes are not RFC 8785 canonical",
    ),
    "hash in an earlier page, canonical in a later": (
        [("hash", 1500), ("canonical", 2700)],
        "entry 1500: served leaf hash does not match its data",
    ),
    "first page and last page": (
        [("hash", 3499), ("canonical", 400)],
        "entry 400: not canonical JSON",
    ),
    "canonical before a hash in one page": (
        [("canonical", 1100), ("hash", 1900)],
        "entry 1100: not canonical JSON",
    ),
    "hash before canonical in one page": (
        [("hash", 1100), ("canonical", 1900)],
        "entry 1100: served leaf hash does not match its data",
    ),
    "a missing entry before a bad page": (
        [("skip", 2100), ("canonical", 2900), ("hash", 3100)],
        "entry 2100: the log served index 2101 in its place",
    ),
    "a page of failures after a good one": (
        [("hash", i) for i in range(1999, 1000, -7)] + [("canonical", 1000)],
        "entry 1000: not canonical JSON",
    ),
}


def tamper(log: FakeLog, how: str, index: int) -> None:
    if how == "canonical":
        log.rewrite(index, not_canonical(index))
    elif how == "hash":
        log.served_data[index] = edited_entry(index)
    else:
        log.skip_index = index


@pytest.mark.parametrize("case", sorted(EARLIEST_FAILURES))
def test_the_earliest_bad_entry_is_named_whatever_the_workers(tampered: FakeLog, case: str) -> None:
    edits, expected = EARLIEST_FAILURES[case]
    for how, index in edits:
        tamper(tampered, how, index)

    outcomes = {
        (workers, client): verify_outcome(tampered, workers=workers, client=client)
        for workers in (1, 2)
        for client in ("json", "compact")
    }

    assert len(set(outcomes.values())) == 1, outcomes
    assert outcomes[2, "compact"].startswith(f"FAILED {expected}")


def test_several_workers_page_on_when_the_log_serves_fewer_entries(
    tampered: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    tampered.page_limit = 333
    tampered.requests.clear()

    status, out, _ = run_log(capsys, tampered, "--workers", "2", "--samples", "0")

    assert status == 0
    assert "in 2 processes" in out
    asked = [r for r in tampered.requests if r.startswith("/ledger/entries?")]
    assert "/ledger/entries?start=333&end=1333" in asked
    assert "/ledger/entries?start=3330&end=3500" in asked


def test_the_command_line_counts_workers_only_for_logs_of_several_pages(
    tampered: FakeLog, log: FakeLog, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run_log(capsys, tampered, "--workers", "2", "--samples", "0")
    assert status == 0
    assert "entries/s in 2 processes;" in out

    status, out, _ = run_log(capsys, log, "--workers", "2")
    assert status == 0
    assert "in 2 processes" not in out

    with pytest.raises(SystemExit) as exited:
        run_log(capsys, log, "--workers", "0")
    assert exited.value.code == 2
    assert "argument --workers: it must be at least 1" in capsys.readouterr().err


class FailingFrom(HttpLogClient):
    """Fails to fetch every page from ``start`` on."""

    def __init__(self, url: str, start: int) -> None:
        super().__init__(url)
        self.start = start

    def entries_body(self, start: int, end: int) -> bytes:
        if start >= self.start:
            url = self.entries_url(start, end)
            raise FetchError(f"GET {url}: HTTP 503", url=url, status=503)
        return super().entries_body(start, end)


def test_a_fetch_error_after_a_bad_entry_leaves_the_bad_entry_named(tampered: FakeLog) -> None:
    tampered.served_data[1234] = edited_entry(1234)

    client = FailingFrom(tampered.url, 2000)

    for workers in (1, 2):
        with pytest.raises(VerificationError, match="entry 1234: served leaf hash"):
            verify_log(client, tampered.signer.verifier(), workers=workers)
    tampered.served_data.clear()
    for workers in (1, 2):
        with pytest.raises(FetchError, match="start=2000&end=3000: HTTP 503"):
            verify_log(client, tampered.signer.verifier(), workers=workers)


class EmptyFrom(CompactClient):
    def entries_body(self, start: int, end: int) -> bytes:
        return b'{"entries":[]}' if start >= 3000 else super().entries_body(start, end)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_page_served_empty_is_named(big_log: FakeLog, workers: int) -> None:
    with pytest.raises(
        VerificationError,
        match="entry 3000: the log served no entries from 3000 to 3500 although its checkpoint "
        "has size 3500",
    ):
        verify_log(EmptyFrom(big_log.url), big_log.signer.verifier(), workers=workers)


def test_the_module_runs_workers_as_a_command(big_log: FakeLog) -> None:
    command = [sys.executable, "-m", "ledger.verify", "--url", big_log.url, "--vkey"]
    done = subprocess.run(
        [*command, big_log.vkey, "--workers", "2", "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "size: 3500" in done.stdout
    assert "entries/s in 2 processes;" in done.stdout
    assert done.stderr == ""


# ---- the fast paths agree with the plain ones ---------------------------------------------


def compact_body(items: list[dict[str, object]]) -> bytes:
    return json.dumps({"entries": items}, separators=(",", ":")).encode()


def page_items(entries: list[bytes], start: int) -> list[dict[str, object]]:
    return [
        {"index": start + k, "data": b64(e), "leaf_hash": b64(leaf_hash(e))}
        for k, e in enumerate(entries)
    ]


BODY_EDITS = [" ", "\\/", "=", "==", "A", "/", '"', ",", "}", "{", "0", "1", "-", "é", "\\u0041"]


@given(
    count=st.integers(min_value=0, max_value=6),
    start=st.sampled_from([0, 1, 999, 4096]),
    asked=st.integers(min_value=1, max_value=8),
    edits=st.lists(
        st.tuples(st.floats(min_value=0, max_value=1), st.sampled_from(BODY_EDITS), st.booleans()),
        max_size=2,
    ),
)
@settings(max_examples=400, deadline=None)
def test_a_page_body_is_checked_as_its_json_reads(
    count: int, start: int, asked: int, edits: list[tuple[float, str, bool]]
) -> None:
    entries = [make_entry(start + k) for k in range(count)]
    body = compact_body(page_items(entries, start))
    for where, text, replace in edits:
        at = int(where * len(body))
        body = body[:at] + text.encode() + body[at + (len(text) if replace else 0) :]
    task = page_check.PageTask(start, start + asked, body, "u", True)

    checked = page_check.check_page(task, CanonicalChecker())

    try:
        items = verify.parse_entries_body(body, url="u")
    except VerificationError as exc:
        not_json = str(exc)
    else:
        not_json = None
    if not_json is not None:
        assert (checked.count, checked.levels, checked.error) == (0, [], not_json)
        return
    as_json = page_check.check_page(page_check.PageTask(start, start + asked, items, "u", True))
    assert (checked.count, checked.levels, checked.error) == (
        as_json.count,
        as_json.levels,
        as_json.error,
    )


def test_a_compact_page_takes_the_fast_path() -> None:
    entries = [make_entry(k) for k in range(1000, 1300)]
    body = compact_body(page_items(entries, 1000))

    assert page_check._compact_page(body, 1000, 2000) == (
        entries,
        b"".join(b64(leaf_hash(e)).encode() for e in entries),
    )
    assert page_check._compact_page(body, 1001, 2000) is None, "the indexes must be those asked"
    assert page_check._compact_page(body, 1000, 1299) is None, "more entries than asked"
    assert page_check._compact_page(body.replace(b":", b": "), 1000, 2000) is None


def test_a_served_hash_with_stray_bits_matches_as_base64_decodes_it() -> None:
    entry = make_entry(7)
    served = b64(leaf_hash(entry))
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".index(served[-2])
    stray = (
        served[:-2]
        + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last | 1]
        + "="
    )
    assert stray != served
    assert base64.b64decode(stray) == leaf_hash(entry)
    body = compact_body([{"index": 0, "data": b64(entry), "leaf_hash": stray}])

    checked = page_check.check_page(page_check.PageTask(0, 1000, body, "u", True))

    assert (checked.count, checked.error) == (1, None)


def test_the_tree_built_page_by_page_is_the_memory_tree() -> None:
    page_sizes = itertools.cycle([1, 2, 3, 333, 1000, 517, 1199, 64, 1000, 999])
    for size in (1, 2, 3, 8, 255, 257, 1000, 1025, 3000, 4097):
        leaves = [leaf_hash(str((size, i)).encode()) for i in range(size)]
        expected = MemoryTree(leaves)
        tree = PagedTree()
        while tree.size < size:
            start = tree.size
            page = leaves[start : start + next(page_sizes)]
            tree.add_page(page_levels(page, start))

        assert tree.size == size
        for level in range(size.bit_length()):
            for index in range(size >> level):
                assert tree.perfect_hash(level, index) == expected.perfect_hash(level, index)
        for first in {0, 1, size // 3, size - 1, size}:
            assert tree.root(first) == expected.root(first)
        with pytest.raises(ValueError, match="no complete subtree"):
            tree.perfect_hash(0, size)


WORKERS_OF_A_DYING_PROCESS = """
import os, sys
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from ledger.verify import pages

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(2, mp_context=context, initializer=pages._start_worker)
    pids = {pool.submit(os.getpid).result() for _ in range(20)}
    print(*pids, flush=True)
    os._exit(0)  # no shutdown: as if killed
"""


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_worker_processes_end_with_the_process_that_started_them() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WORKERS_OF_A_DYING_PROCESS],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    ) as started:
        assert started.stdout is not None
        pids = [int(pid) for pid in started.stdout.readline().split()]
        assert started.wait(timeout=60) == 0
    assert pids

    try:
        deadline = time.monotonic() + 20
        while any(map(running, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(running, pids))
    finally:
        for pid in filter(running, pids):
            os.kill(pid, signal.SIGKILL)
