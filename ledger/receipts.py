"""Receipts: for any entry, one JSON object that proves it is in the log, checkable offline with
``python -m ledger.verify receipt FILE --vkey VKEY``::

    {"v": 1, "index": 41, "entry": "<base64 entry bytes>", "leaf_hash": "<base64>",
     "tree_size": 57, "inclusion_proof": ["<base64>", ...], "checkpoint": "<signed note>"}

The proof is made against the latest signed checkpoint; if none covers the entry yet, the
pending entries are integrated and a checkpoint is signed on demand.

An entry that supersedes an earlier one (a settled review's ``decision_settled`` entry, which
supersedes the decision's entry) has its receipt with the earlier entry's receipt, proved
against the same checkpoint, in ``supersedes`` (the verifier checks the outer receipt and
ignores other members; the inner one is a receipt in its own right)::

    {"v": 1, "index": 57, "entry": "...", ..., "checkpoint": "<signed note>",
     "supersedes": {"v": 1, "index": 41, "entry": "...", ..., "checkpoint": "<same note>"}}
"""

from __future__ import annotations

import base64
from typing import Any

from django.utils import timezone

from ledger import selectors, services
from ledger.exceptions import LedgerNotFound
from ledger.models import Checkpoint
from ledger.verify.receipt import RECEIPT_VERSION


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def receipt_for(*, index: int, supersedes: int | None = None) -> dict[str, Any]:
    """The receipt of entry ``index``; with ``supersedes``, the receipt of that earlier entry
    too, against the same checkpoint, in the member ``supersedes``."""
    checkpoint = selectors.latest_checkpoint() if selectors.signed_size() else None
    if checkpoint is None or checkpoint.size <= index:
        checkpoint = services.sequence_and_sign(now=timezone.now())
        if checkpoint is None or checkpoint.size <= index:
            raise LedgerNotFound(f"Entry {index} is not covered by a signed checkpoint yet.")
    receipt = _receipt(index=index, checkpoint=checkpoint)
    if supersedes is not None:
        if not 0 <= supersedes < index:
            raise LedgerNotFound(f"Entry {index} cannot supersede entry {supersedes}.")
        receipt["supersedes"] = _receipt(index=supersedes, checkpoint=checkpoint)
    return receipt


def receipt_for_leaves(*, leaf_hash: bytes, superseding: bytes | None = None) -> dict[str, Any]:
    """The receipt of the entry with ``leaf_hash``; with ``superseding`` (the leaf hash of an
    entry that supersedes it), the receipt of that entry with this one's in ``supersedes``.
    Entries not sequenced yet are sequenced (and a checkpoint signed) first; an entry still
    not in the log is a :class:`LedgerNotFound`."""
    leaves = [leaf_hash] if superseding is None else [leaf_hash, superseding]
    indexes = [selectors.entry_index_by_leaf_hash(leaf_hash=leaf) for leaf in leaves]
    if None in indexes:
        services.sequence_and_sign(now=timezone.now())
        indexes = [selectors.entry_index_by_leaf_hash(leaf_hash=leaf) for leaf in leaves]
    found = [i for i in indexes if i is not None]
    if len(found) < len(indexes):
        raise LedgerNotFound("The entry is not sequenced yet; retry shortly.")
    if len(found) == 2:
        return receipt_for(index=found[1], supersedes=found[0])
    return receipt_for(index=found[0])


def _receipt(*, index: int, checkpoint: Checkpoint) -> dict[str, Any]:
    entry = selectors.entry_get(index=index)
    proof = selectors.inclusion_proof(index=index, tree_size=checkpoint.size)
    return {
        "v": RECEIPT_VERSION,
        "index": index,
        "entry": _b64(bytes(entry.data)),
        "leaf_hash": _b64(bytes(entry.leaf_hash)),
        "tree_size": checkpoint.size,
        "inclusion_proof": [_b64(h) for h in proof],
        "checkpoint": checkpoint.note,
    }
