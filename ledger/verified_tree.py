"""The sequencer's own view of the log's tree, computed from the entries' data and never from a
stored hash it did not compute itself.

A database superuser can bypass the append-only triggers and rewrite an entry, its leaf hash and
every ancestor node consistently. A sequencer that extended the tree from the stored right-edge
nodes would then sign the rewritten history. Instead, each process keeps the compact range
(:class:`~ledger.compact_range.CompactRange`) of the tree it verified, and before it integrates
or signs:

1. On first use in the process, it recomputes the whole tree from ``ledger_entry.data`` (not
   ``leaf_hash``, not ``ledger_node``), with gapless indexes, and checks that it reproduces the
   root of the latest signed checkpoint (whose signature must verify with a listed key) and the
   head row's size and root.
2. Later, it starts from the range it remembers. The head may only have grown; entries another
   sequencer integrated meanwhile (failover) are caught up from their data.
3. The stored right-edge nodes at the head's size must equal its own subtree hashes, and its
   root the head's root.
4. The range is remembered only when the transaction that verified or extended it commits, so a
   rolled-back integration leaves nothing behind.

Any disagreement logs an error-level ``ledger tampered`` alert naming the first entry index that
disagrees (as exactly as the data allows), and raises :class:`~ledger.exceptions.LedgerTampered`:
nothing is signed.

A running sequencer also re-reads the stored entries a slice per round (:class:`Scrubber`), so
an edit of old rows that leaves the right-edge nodes alone (an entry's data, its leaf hash, a
few nodes) is found within one pass over the log (about 50 s a million entries at the
sequencer's default ``--scrub-rate``), even though such an edit never reaches a signature: what
is signed is this process's own root.

Cost: step 1 hashes every entry once per process (about a second per million entries); after it,
a call reads the head row, at most ``log2(size)`` node rows and the entries added since.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import NoReturn

import structlog
from django.conf import settings
from django.db import connection, transaction

from ledger import merkle, merkle_trees, note
from ledger.compact_range import CompactRange, frontier
from ledger.exceptions import LedgerTampered, VerificationError
from ledger.models import Checkpoint, SigningKey

log = structlog.get_logger("ledger.tamper")

CHUNK = 5000

_lock = threading.Lock()
_remembered: dict[str, CompactRange] = {}


def _database() -> str:
    return f"{connection.alias}:{connection.settings_dict.get('NAME')}"


def forget() -> None:
    """Drop the remembered ranges, so the next use recomputes from the entries (tests, and a
    test database rolled back under a long-lived process)."""
    with _lock:
        _remembered.clear()


def remembered_size() -> int | None:
    """The size of the tree this process verified, if any (for tests and health)."""
    with _lock:
        tree = _remembered.get(_database())
    return None if tree is None else tree.size


def remember(tree: CompactRange) -> None:
    """Keep ``tree`` as this process's verified range once the current transaction commits
    (step 4)."""
    database, snapshot = _database(), tree.copy()

    def publish() -> None:
        with _lock:
            current = _remembered.get(database)
            if current is None or snapshot.size >= current.size:
                _remembered[database] = snapshot

    transaction.on_commit(publish)


def verified_tree() -> CompactRange:
    """The verified range at the head's size; the caller holds the head still (the sequencer's
    advisory lock, or the head row ``FOR UPDATE``). Raises :class:`LedgerTampered`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT size, root_hash FROM ledger_head WHERE id = 1")
        row = cursor.fetchone()
    if row is None:
        _tampered("the ledger head row is missing", first_index=0)
    head_size, head_root = int(row[0]), bytes(row[1])
    with _lock:
        known = _remembered.get(_database())
        known = None if known is None else known.copy()
    if known is None:
        tree = _recompute(head_size)  # step 1
    else:
        # Step 2: the head only grows; catch up from the data of what another process added.
        if head_size < known.size:
            _tampered(
                f"the head moved back from size {known.size} to {head_size}",
                first_index=head_size,
                known=known,
            )
        tree = known.copy()
        signed = _latest_signed(head_size) if head_size > known.size else None
        _extend_and_check(tree, signed, end=head_size, known=known)
    # Step 3: the stored right edge and the head agree with what this process computed.
    _check_store(tree, head_root=head_root, known=known)
    remember(tree)  # step 4
    return tree


def _recompute(head_size: int) -> CompactRange:
    """Step 1: the whole tree from the entries' data, checked against the latest signed
    checkpoint and the head."""
    tree = CompactRange()
    _extend_and_check(tree, _latest_signed(head_size), end=head_size, known=None)
    return tree


def _extend_and_check(
    tree: CompactRange, signed: note.Checkpoint | None, *, end: int, known: CompactRange | None
) -> None:
    """Extend ``tree`` from the data of entries ``[tree.size, end)``; on the way, when it
    passes the signed checkpoint's size, its root must be the signed one."""
    entries = (data for _, data in _entries(start=tree.size, end=end, known=known))
    if signed is not None and signed.size >= tree.size:
        tree.extend_entries(itertools.islice(entries, signed.size - tree.size))
        if tree.size == signed.size and tree.root() != signed.root_hash:
            _tampered(
                f"the entries do not reproduce the root signed at size {signed.size}", known=known
            )
    tree.extend_entries(entries)


def _latest_signed(head_size: int) -> note.Checkpoint | None:
    """The latest checkpoint, once its signature verifies with a listed key."""
    latest = Checkpoint.objects.order_by("-size").first()
    if latest is None:
        return None
    verifiers = [note.parse_verifier_key_string(k.vkey) for k in SigningKey.objects.all()]
    try:
        signed = note.open_checkpoint(
            latest.note.encode(), verifiers=verifiers, origin=str(settings.LEDGER_ORIGIN)
        )
    except (VerificationError, ValueError) as exc:
        _tampered(f"the latest checkpoint (size {latest.size}) does not verify: {exc}")
    if signed.size != latest.size or signed.root_hash != bytes(latest.root_hash):
        _tampered(f"checkpoint {latest.size}: its row differs from its signed note")
    if signed.size > head_size:
        _tampered(
            f"checkpoint {signed.size} is signed beyond the head's size {head_size}",
            first_index=head_size,
        )
    return signed


def _entries(*, start: int, end: int, known: CompactRange | None) -> Iterator[tuple[int, bytes]]:
    """``(index, data)`` of entries ``[start, end)``, in order; a gap, or an entry beyond the
    head, is tampering."""
    expected = start
    while expected < end:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT idx, data FROM ledger_entry WHERE idx >= %s AND idx < %s "
                "ORDER BY idx LIMIT %s",
                [expected, end, CHUNK],
            )
            rows = cursor.fetchall()
        if not rows:
            break
        for index, data in rows:
            if index != expected:
                _tampered(f"entry {expected} is missing", first_index=expected, known=known)
            yield int(index), bytes(data)
            expected += 1
    if expected != end:
        _tampered(f"entry {expected} is missing", first_index=expected, known=known)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(idx) FROM ledger_entry WHERE idx >= %s", [end])
        (beyond,) = cursor.fetchone() or (None,)
    if beyond is not None:
        _tampered(f"entry {beyond} is stored beyond the head's size {end}", first_index=beyond)


def _check_store(tree: CompactRange, *, head_root: bytes, known: CompactRange | None) -> None:
    keys = frontier(tree.size)
    stored: dict[tuple[int, int], bytes] = {}
    if keys:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT level, idx, hash FROM ledger_node WHERE (level, idx) IN "
                "(SELECT * FROM unnest(%s::smallint[], %s::bigint[]))",
                [[level for level, _ in keys], [index for _, index in keys]],
            )
            stored = {(int(lv), int(ix)): bytes(h) for lv, ix, h in cursor.fetchall()}
    for level, index, value in tree.subtrees():
        if stored.get((level, index)) != value:
            _tampered(
                f"stored node {level}/{index} differs from the tree computed from the entries",
                known=known,
            )
    if tree.root() != head_root:
        _tampered(f"the head's root differs from the root at size {tree.size}", known=known)


def _tampered(
    reason: str, *, first_index: int | None = None, known: CompactRange | None = None
) -> NoReturn:
    """Alert and refuse. When no index is given, find the first one that disagrees."""
    last_index = first_index
    if first_index is None:
        try:
            first_index, last_index = locate_disagreement(known=known)
        except Exception as exc:  # the alert must go out whatever the diagnosis runs into
            log.warning("ledger tamper diagnosis failed", error=str(exc))
    where = ""
    if first_index is not None:
        where = (
            f" (first entry that disagrees: {first_index})"
            if last_index == first_index
            else f" (the first entry that disagrees is in [{first_index}, {last_index}])"
        )
    log.error(
        "ledger tampered",
        alert="ledger_tampered",
        reason=reason,
        first_index=first_index,
        last_index=last_index,
    )
    raise LedgerTampered(
        f"Refusing to sign: the ledger database disagrees with the verified tree: {reason}{where}.",
        first_index=first_index,
    )


def locate_disagreement(*, known: CompactRange | None) -> tuple[int | None, int | None]:
    """Where the stored ledger first disagrees with what is known good, as ``(first, last)``
    entry indexes (equal when exact). Only runs once tampering is found, so it may read
    everything:

    1. an entry whose data does not hash to its stored leaf hash or level-0 node is exact;
    2. otherwise the first perfect subtree this process verified (``known``), or the first
       signed checkpoint, that the entries' data no longer reproduces bounds it.
    """
    tree = merkle_trees.MemoryTree()
    last = -1
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.idx, e.data, e.leaf_hash, n.hash FROM ledger_entry e "
                "LEFT JOIN ledger_node n ON n.level = 0 AND n.idx = e.idx "
                "WHERE e.idx > %s ORDER BY e.idx LIMIT %s",
                [last, CHUNK],
            )
            rows = cursor.fetchall()
        if not rows:
            break
        for index, data, stored_leaf, stored_node in rows:
            if index != tree.size:
                return tree.size, tree.size
            leaf = merkle.leaf_hash(bytes(data))
            if bytes(stored_leaf) != leaf or stored_node is None or bytes(stored_node) != leaf:
                return int(index), int(index)
            tree.append(leaf)
        last = int(rows[-1][0])
    if known is not None:
        for level, index, value in known.subtrees():
            start, end = index << level, (index + 1) << level
            if end > tree.size:
                return start, end - 1
            if tree.perfect_hash(level, index) != value:
                return start, end - 1
    verifiers = [note.parse_verifier_key_string(k.vkey) for k in SigningKey.objects.all()]
    previous = 0
    for checkpoint in Checkpoint.objects.order_by("size").iterator():
        try:
            signed = note.open_checkpoint(
                checkpoint.note.encode(), verifiers=verifiers, origin=str(settings.LEDGER_ORIGIN)
            )
        except (VerificationError, ValueError):
            continue  # a forged row proves nothing either way
        if signed.size > tree.size or tree.root(signed.size) != signed.root_hash:
            return previous, max(previous, signed.size - 1)
        previous = signed.size
    return None, None


SCRUB_SLICE = 5000


class Scrubber:
    """Re-hashes the stored entries ``SCRUB_SLICE`` at a time, from index 0 to the size this
    process had verified when the pass began, and compares

    1. each entry's data with its stored leaf hash and level-0 node (exact: names the entry);
    2. each perfect subtree it completes that is one of the verified right-edge subtrees
       (bounds the entry to that subtree; :func:`locate_disagreement` narrows it).

    One instance per sequencer process; :meth:`step` once per round, outside any transaction.
    With ``rate`` (entries a second), a step reads only what the time since the last step
    allows, so an idle sequencer does not re-read a large log flat out.
    """

    def __init__(self, *, slice_size: int = SCRUB_SLICE, rate: float | None = None) -> None:
        self.slice_size = slice_size
        self.rate = rate
        self._last_step = time.monotonic()
        self._target: CompactRange | None = None
        self._expected: dict[tuple[int, int], bytes] = {}
        self._tree = CompactRange()

    @property
    def position(self) -> int:
        """How far the current pass got."""
        return self._tree.size

    def step(self) -> None:
        if self._target is None or self._tree.size >= self._target.size:
            with _lock:
                known = _remembered.get(_database())
            if known is None or known.size == 0:
                return
            self._target = known.copy()
            self._expected = {(lv, ix): h for lv, ix, h in self._target.subtrees()}
            self._tree = CompactRange()
        budget = self.slice_size
        now = time.monotonic()
        if self.rate is not None:
            budget = max(1, min(budget, int((now - self._last_step) * self.rate)))
        self._last_step = now
        start = self._tree.size
        end = min(self._target.size, start + budget)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.idx, e.data, e.leaf_hash, n.hash FROM ledger_entry e "
                "LEFT JOIN ledger_node n ON n.level = 0 AND n.idx = e.idx "
                "WHERE e.idx >= %s AND e.idx < %s ORDER BY e.idx",
                [start, end],
            )
            rows = cursor.fetchall()
        for index, data, stored_leaf, stored_node in rows:
            if index != self._tree.size:
                _tampered(f"entry {self._tree.size} is missing", first_index=self._tree.size)
            leaf = merkle.leaf_hash(bytes(data))
            if bytes(stored_leaf) != leaf:
                _tampered(
                    f"entry {index}: its data does not hash to its stored leaf hash",
                    first_index=int(index),
                )
            if stored_node is None or bytes(stored_node) != leaf:
                _tampered(
                    f"entry {index}: its data does not hash to its stored tree node",
                    first_index=int(index),
                )
            for level, position, value in self._tree.append_leaf_hash(leaf):
                expected = self._expected.get((level, position))
                if expected is not None and expected != value:
                    _tampered(
                        f"the entries [{position << level}, {(position + 1) << level}) no longer "
                        "hash to the subtree this process verified",
                        known=self._target,
                    )
        if self._tree.size != end:
            _tampered(f"entry {self._tree.size} is missing", first_index=self._tree.size)
