"""The operator's check of the ledger straight from the database (``manage.py ledger_verify``),
which finds rows edited behind the triggers' back:

1. indexes are gapless from 0 to the head's size;
2. every entry is canonical JSON and its stored leaf hash is SHA-256(0x00 || data);
3. the stored level-0 node of every entry equals the recomputed leaf hash;
4. the root recomputed from the data equals the head's root;
5. every checkpoint's note verifies with a listed key valid when it was signed, and its root
   equals the root recomputed at its size (so all checkpoints are consistent with each other).
The first failure raises VerificationError naming the entry or checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ledger import canonical, merkle, merkle_trees, note
from ledger.exceptions import VerificationError
from ledger.models import Checkpoint, Entry, Head, Node, SigningKey

CHUNK = 5000


@dataclass(frozen=True)
class AuditResult:
    size: int
    checkpoints: int
    root_hash: bytes


def ledger_audit(*, progress: Callable[[int, int], None] | None = None) -> AuditResult:
    head = Head.objects.get(pk=1)
    size = head.size
    tree = merkle_trees.MemoryTree()
    expected = 0
    last = -1
    while True:
        rows = list(
            Entry.objects.filter(index__gt=last)
            .order_by("index")
            .values_list("index", "data", "leaf_hash")[:CHUNK]
        )
        if not rows:
            break
        nodes = dict(
            Node.objects.filter(level=0, index__gte=rows[0][0], index__lte=rows[-1][0]).values_list(
                "index", "hash"
            )
        )
        for index, data, stored_leaf in rows:
            if index != expected:
                raise VerificationError(f"entry {expected}: missing (next stored index is {index})")
            data = bytes(data)
            try:
                canonical.decode_entry(data)
            except ValueError as exc:
                raise VerificationError(f"entry {index}: not a canonical entry: {exc}") from None
            leaf = merkle.leaf_hash(data)
            if leaf != bytes(stored_leaf):
                raise VerificationError(f"entry {index}: stored leaf hash does not match its data")
            if index not in nodes or bytes(nodes[index]) != leaf:
                raise VerificationError(f"entry {index}: tree node does not match its data")
            tree.append(leaf)
            expected += 1
        last = rows[-1][0]
        if progress:
            progress(expected, size)
    if expected != size:
        raise VerificationError(f"head says {size} entries, the table holds {expected}")
    root = tree.root()
    if root != bytes(head.root_hash):
        raise VerificationError(f"head root does not match the root recomputed at size {size}")
    verifiers = [
        (k, note.parse_verifier_key_string(k.vkey))
        for k in SigningKey.objects.order_by("valid_from")
    ]
    count = 0
    for checkpoint in Checkpoint.objects.order_by("size").iterator():
        valid = [
            v
            for k, v in verifiers
            if k.valid_from <= checkpoint.signed_at
            and (k.valid_until is None or checkpoint.signed_at <= k.valid_until)
        ]
        try:
            body = note.Checkpoint.from_body(
                note.open_note(checkpoint.note.encode(), valid or [v for _, v in verifiers])[0]
            )
        except (VerificationError, ValueError) as exc:
            raise VerificationError(f"checkpoint {checkpoint.size}: {exc}") from None
        if body.size != checkpoint.size or body.size > size:
            raise VerificationError(f"checkpoint {checkpoint.size}: signed size is {body.size}")
        if body.root_hash != tree.root(body.size) or body.root_hash != bytes(checkpoint.root_hash):
            raise VerificationError(
                f"checkpoint {checkpoint.size}: signed root does not match the entries"
            )
        count += 1
    return AuditResult(size=size, checkpoints=count, root_hash=root)
