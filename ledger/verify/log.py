"""Verifying the whole log: :func:`verify_log`."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.exceptions import VerificationError
from ledger.merkle import (
    empty_root,
    verify_consistency,
    verify_inclusion,
)
from ledger.merkle_trees import PagedTree
from ledger.note import Checkpoint, Verifier
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, split_tile, tile_width_for_size
from ledger.verify.client import FetchError, LogClient, b64encode_text, open_log_checkpoint
from ledger.verify.pages import PageHook, ProgressCallback, fetch_and_check_entries
from ledger.verify.state import State

DEFAULT_SAMPLES = 32
"""Random inclusion proofs checked per run, besides the first and last entry's."""


@dataclass(frozen=True)
class LogResult:
    """What :func:`verify_log` verified, and how long it took."""

    checkpoint: Checkpoint
    note: bytes
    signed_by: tuple[str, ...]
    previous_size: int | None
    inclusion_proofs_checked: int
    canonical_checked: bool
    fetch_seconds: float
    """Waiting for the log. With worker processes, pages are fetched ahead while others are
    checked: only the waits that checking did not hide count."""
    compute_seconds: float
    """The recomputation itself, in CPU time: reading the pages, checking entries, hashing and
    building the tree. Pages checked side by side in worker processes count their CPU time
    divided by how many ran at once (the workers, or the CPUs if fewer): the time it takes on
    that many CPUs of its own, whatever else (such as the log's server) shares them."""
    workers: int = 1
    """Processes that checked the entries (1: this one)."""

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root_hash(self) -> bytes:
        return self.checkpoint.root_hash

    @property
    def entries_per_second(self) -> float:
        return self.size / self.compute_seconds if self.compute_seconds > 0 else float("inf")

    @property
    def state(self) -> State:
        return State(
            origin=self.origin,
            size=self.size,
            root_hash=self.root_hash,
            checkpoint=self.note.decode("utf-8"),
        )


def verify_log(
    client: LogClient,
    verifiers: Verifier | Sequence[Verifier],
    *,
    state: State | None = None,
    state_label: str = "the saved state",
    samples: int = DEFAULT_SAMPLES,
    origin: str | None = None,
    check_canonical: bool = True,
    progress: ProgressCallback | None = None,
    rng: random.Random | None = None,
    workers: int = 1,
    hook: PageHook | None = None,
) -> LogResult:
    """Verify the whole log behind ``client``; raise :class:`VerificationError` at the first fault.

    ``state`` is what an earlier run remembered (see :func:`load_state`); ``state_label`` names it
    in messages. ``samples`` random inclusion proofs are checked besides the first and last
    entry's. Network failures propagate as :class:`FetchError`.

    With ``workers`` above 1 (the command line's default is :func:`default_workers`), that many
    processes check the entries while pages are fetched ahead in threads; with 1, or a log of one
    page, everything happens in this process, page after page. Either way the failure reported is
    the one of the lowest entry index. The processes are started with the "spawn" method, so a
    script calling this must guard its top level with ``if __name__ == "__main__":``; entries
    that a ``client`` other than :class:`HttpLogClient` returns must be picklable.

    ``hook``: more done with each page's entries as they are checked, in the same pass
    (:class:`~ledger.verify.pages.PageHook`); what it made of them is the caller's to use only
    if this returns (the log verified).
    """
    keys = [verifiers] if isinstance(verifiers, Verifier) else list(verifiers)
    if not keys:
        raise ValueError("at least one verifier key is needed")
    if samples < 0:
        raise ValueError(f"samples must not be negative, not {samples}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    fetch_seconds = 0.0

    started = time.perf_counter()
    note = client.checkpoint()
    fetch_seconds += time.perf_counter() - started
    checkpoint, signed_by = open_log_checkpoint(note, keys, origin=origin)
    size = checkpoint.size

    if state is not None:
        if state.origin != checkpoint.origin:
            raise VerificationError(
                f"checkpoint: it is for origin {checkpoint.origin!r} but {state_label} "
                f"remembers origin {state.origin!r}"
            )
        if size < state.size:
            raise VerificationError(f"log shrank from {state.size} to {size} entries")

    entries = fetch_and_check_entries(
        client,
        size,
        check_canonical=check_canonical,
        progress=progress,
        workers=workers,
        hook=hook,
    )
    fetch_seconds += entries.fetch_seconds
    started = time.thread_time()
    tree = entries.tree
    recomputed = tree.root()
    compute_seconds = entries.compute_seconds + time.thread_time() - started

    if recomputed != checkpoint.root_hash:
        raise VerificationError(
            f"root mismatch at size {size}: recomputed {b64encode_text(recomputed)} "
            f"signed {b64encode_text(checkpoint.root_hash)}; {_locate_difference(client, tree)}"
        )

    started = time.perf_counter()
    checked = _check_inclusion_samples(
        client, tree, checkpoint, samples=samples, rng=rng or random.SystemRandom()
    )

    if state is not None:
        _check_consistency(client, tree, checkpoint, state, state_label=state_label)
    fetch_seconds += time.perf_counter() - started

    return LogResult(
        checkpoint=checkpoint,
        note=note,
        signed_by=tuple(signed_by),
        previous_size=None if state is None else state.size,
        inclusion_proofs_checked=checked,
        canonical_checked=check_canonical,
        fetch_seconds=fetch_seconds,
        compute_seconds=compute_seconds,
        workers=entries.workers,
    )


def _locate_difference(client: LogClient, tree: PagedTree) -> str:
    """Find the first entry whose leaf hash differs from the log's level-0 tiles.

    Full level-0 tiles are first compared through level-1 tiles (one hash per 256 entries), so
    only the level-0 tiles under a differing level-1 hash are fetched.
    """
    size = tree.size
    full_tiles = size // TILE_WIDTH
    candidates: list[int] = []
    try:
        for tile_index in range((full_tiles + TILE_WIDTH - 1) // TILE_WIDTH):
            ref = TileRef(
                level=1,
                index=tile_index,
                width=tile_width_for_size(level=1, index=tile_index, tree_size=size),
            )
            hashes = _fetch_tile(client, ref)
            for offset, theirs in enumerate(hashes):
                below = tile_index * TILE_WIDTH + offset
                if theirs != tree.perfect_hash(TILE_HEIGHT, below):
                    candidates.append(below)
        if size % TILE_WIDTH:
            candidates.append(full_tiles)
        for tile_index in candidates:
            ref = TileRef(
                level=0,
                index=tile_index,
                width=tile_width_for_size(level=0, index=tile_index, tree_size=size),
            )
            for offset, theirs in enumerate(_fetch_tile(client, ref)):
                index = tile_index * TILE_WIDTH + offset
                ours = tree.leaf_hash(index)
                if theirs != ours:
                    return (
                        f"entry {index} is the first that differs from the log's tiles: its "
                        f"data hashes to {b64encode_text(ours)}, /ledger/{ref.path} has "
                        f"{b64encode_text(theirs)}"
                    )
    except (FetchError, VerificationError) as exc:
        return f"the first differing entry could not be located from the log's tiles: {exc}"
    return (
        "the log's tiles show no entry that differs from the recomputed leaf hashes: the tree "
        "does not reach the signed root"
    )


def _fetch_tile(client: LogClient, ref: TileRef) -> list[bytes]:
    data = client.tile(ref)
    try:
        hashes = split_tile(data)
    except ValueError as exc:
        raise VerificationError(f"tile /ledger/{ref.path} is malformed: {exc}") from None
    if len(hashes) != ref.width:
        raise VerificationError(
            f"tile /ledger/{ref.path} holds {len(hashes)} hashes, not {ref.width}"
        )
    return hashes


def _check_inclusion_samples(
    client: LogClient,
    tree: PagedTree,
    checkpoint: Checkpoint,
    *,
    samples: int,
    rng: random.Random,
) -> int:
    size = checkpoint.size
    if size == 0:
        return 0
    chosen = set(rng.sample(range(size), min(samples, size)))
    chosen.update((0, size - 1))
    for index in sorted(chosen):
        proof = client.inclusion_proof(index, size)
        verify_inclusion(
            index=index,
            size=size,
            leaf_hash=tree.leaf_hash(index),
            proof=proof,
            root=checkpoint.root_hash,
        )
    return len(chosen)


def _check_consistency(
    client: LogClient, tree: PagedTree, checkpoint: Checkpoint, state: State, *, state_label: str
) -> None:
    old = state.size
    if tree.root(old) != state.root_hash:
        raise VerificationError(
            f"history rewritten: the first {old} entries no longer have the root remembered "
            f"in {state_label}"
        )
    proof = client.consistency_proof(old, checkpoint.size) if 0 < old < checkpoint.size else []
    try:
        verify_consistency(
            first=old,
            second=checkpoint.size,
            first_root=state.root_hash if old else empty_root(),
            second_root=checkpoint.root_hash,
            proof=proof,
        )
    except VerificationError as exc:
        raise VerificationError(f"the log's {exc}") from None
