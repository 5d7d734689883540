"""Checking one page of entries, as ``/ledger/entries?start=&end=`` served it: each entry is at
its index, hashes to the leaf hash served and (optionally) is canonical; the page's part of the
tree is computed for :class:`~ledger.merkle_trees.PagedTree`.

:func:`check_page` runs in a worker process or in the verifier's own (:mod:`ledger.verify.pages`
hands it pages). A body in the log's own compact form takes a fast path; any other is parsed as
JSON and checked a column at a time, and entry by entry to name the first that fails.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.exceptions import VerificationError
from ledger.merkle import LEAF_PREFIX
from ledger.merkle_trees import page_levels
from ledger.verify.canonical_check import CanonicalChecker
from ledger.verify.client import parse_entries_body


@dataclass(frozen=True, slots=True)
class PageTask:
    """One answer of ``/ledger/entries?start=&end=`` to check."""

    start: int
    end: int
    payload: bytes | list[Any]
    """The response body as served (parsed by the checker), or the parsed ``entries`` list."""
    url: str
    """Names the request in messages about a body that is not what the API promises."""
    check_canonical: bool
    work: PageWork | None = None
    """More to do with the page's entries once they are checked (a module-level function, to
    run in a worker process), given ``fetched``; its answer is :attr:`PageResult.worked`."""
    fetched: Any = None


PageWork = Callable[[int, list[bytes], list[bytes], Any], Any]
"""``work(start, entries, leaf_hashes, fetched)``: given a page's entries once checked (their
bytes as hashed into the tree, and their leaf hashes), where the page was checked."""


@dataclass(frozen=True, slots=True)
class PageResult:
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
    worked: Any = None
    """What :attr:`PageTask.work` gave for the page (None without work, or if ``error``)."""


_INDEX = operator.itemgetter("index")
_DATA = operator.itemgetter("data")
_LEAF_HASH = operator.itemgetter("leaf_hash")
_DIGEST = operator.methodcaller("digest")
_a2b_strict = functools.partial(binascii.a2b_base64, strict_mode=True)


def check_page(task: PageTask, checker: CanonicalChecker | None = None) -> PageResult:
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
        checked = None
        if not isinstance(task.payload, bytes):
            items = task.payload
        else:
            compact = _compact_page(task.payload, task.start, task.end)
            if compact is not None:
                count = len(compact[0])
                checked = _compact_page_leaf_hashes(*compact, task.start, checker)
            if checked is None:
                count = 0
                items = parse_entries_body(task.payload, url=task.url)
        if checked is None:
            items = items[: task.end - task.start]
            count = len(items)
            checked = _page_leaf_hashes(items, task.start, checker)
        leaf_hashes, entries = checked
        levels = page_levels(leaf_hashes, task.start)
    except VerificationError as exc:
        error = str(exc)
    seconds = time.thread_time() - started
    worked = None
    if error is None and task.work is not None:
        # The entries hashed into the page's part of the tree, and nothing else.
        worked = task.work(task.start, entries, leaf_hashes, task.fetched)
    return PageResult(count, levels, error, seconds, worked)


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
) -> tuple[list[bytes], list[bytes]] | None:
    """The leaf hashes and the entries of a :func:`_compact_page`, checked (and the entries
    checked for canonical JSON, given a checker); ``None`` unless every served hash is the usual
    base64 of the right hash: then the page is checked one entry at a time, to name the first
    that fails.

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
    return leaf_hashes, entries


def _page_leaf_hashes(
    items: list[Any], start: int, checker: CanonicalChecker | None
) -> tuple[list[bytes], list[bytes]]:
    """The leaf hashes and the bytes of entries ``start, start + 1, ...``, checked against the
    hashes served (and for canonical JSON, given a checker). Raise :class:`VerificationError`
    for the first entry that fails: a column at a time while all is well, entry by entry to
    name a failure."""
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
    return leaf_hashes, entries


def _page_leaf_hashes_one_by_one(
    items: list[Any], start: int, checker: CanonicalChecker | None
) -> tuple[list[bytes], list[bytes]]:
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
    return leaf_hashes, entries
