"""The receipt format, for the writer (:mod:`ledger.receipts`) and the verifier."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.canonical import (
    Entry,
    decode_entry,
)
from ledger.exceptions import VerificationError
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.note import Verifier
from ledger.verify.client import b64_bytes, open_log_checkpoint

RECEIPT_VERSION = 1
"""Version of the receipt format (member ``v``)."""


@dataclass(frozen=True)
class ReceiptResult:
    """A verified receipt: entry ``index`` is in the log ``origin`` of size ``tree_size``."""

    index: int
    tree_size: int
    origin: str
    signed_by: tuple[str, ...]
    entry: Entry

    @property
    def summary(self) -> str:
        return (
            f"entry {self.index} is included in {self.origin} at size {self.tree_size}, "
            f"checkpoint signed by {', '.join(self.signed_by)}"
        )


def verify_receipt(
    receipt: Mapping[str, Any],
    verifiers: Verifier | Sequence[Verifier],
    *,
    origin: str | None = None,
) -> ReceiptResult:
    """Verify a receipt (docs/ledger.md, "Receipts"); raise :class:`VerificationError`.

    Members other than the receipt's own (such as the ``decoded`` entry that
    ``GET /ledger/entries/<i>`` adds) are ignored: they are not covered by any proof.
    """
    keys = [verifiers] if isinstance(verifiers, Verifier) else list(verifiers)
    if not keys:
        raise ValueError("at least one verifier key is needed")
    if not isinstance(receipt, Mapping):
        raise VerificationError("receipt: it is not a JSON object")
    version = receipt.get("v")
    if type(version) is not int or version != RECEIPT_VERSION:
        raise VerificationError(f"receipt: version {version!r} is not {RECEIPT_VERSION}")
    index, tree_size = receipt.get("index"), receipt.get("tree_size")
    if type(index) is not int or index < 0:
        raise VerificationError("receipt: 'index' must be a non-negative integer")
    if type(tree_size) is not int or tree_size < 0:
        raise VerificationError("receipt: 'tree_size' must be a non-negative integer")
    entry = b64_bytes(receipt.get("entry"), what=f"entry {index}: receipt 'entry'")
    served_leaf = b64_bytes(receipt.get("leaf_hash"), what=f"entry {index}: receipt 'leaf_hash'")
    proof_values = receipt.get("inclusion_proof")
    if not isinstance(proof_values, list):
        raise VerificationError("receipt: 'inclusion_proof' must be a list of base64 hashes")
    proof = [
        b64_bytes(value, what=f"entry {index}: inclusion proof hash {position}")
        for position, value in enumerate(proof_values)
    ]
    note = receipt.get("checkpoint")
    if not isinstance(note, str):
        raise VerificationError("receipt: 'checkpoint' must be the signed note text")

    checkpoint, signed_by = open_log_checkpoint(note.encode("utf-8"), keys, origin=origin)
    if checkpoint.size != tree_size:
        raise VerificationError(
            f"receipt: 'tree_size' is {tree_size} but its checkpoint has size {checkpoint.size}"
        )
    leaf = leaf_hash(entry)
    if leaf != served_leaf:
        raise VerificationError(
            f"entry {index}: the receipt's leaf_hash does not match SHA-256(0x00 || entry)"
        )
    try:
        decoded = decode_entry(entry)
    except ValueError as exc:
        raise VerificationError(f"entry {index}: not canonical JSON: {exc}") from None
    verify_inclusion(
        index=index, size=tree_size, leaf_hash=leaf, proof=proof, root=checkpoint.root_hash
    )
    return ReceiptResult(
        index=index,
        tree_size=tree_size,
        origin=checkpoint.origin,
        signed_by=tuple(signed_by),
        entry=decoded,
    )
