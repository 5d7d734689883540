"""Reading the ledger: entries, proofs against signed checkpoints, tiles, keys.

Proofs are assembled from stored perfect-subtree hashes (``ledger_node``). The (level, index)
pairs a proof needs do not depend on hash values, so they are collected in a first pass and
fetched in one query, then the proof is computed from them.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from django.db import connection

from ledger import merkle_proofs, tiles
from ledger.exceptions import InvalidRange, LedgerNotFound
from ledger.models import Checkpoint, Entry, Head, Node, SigningKey

MAX_ENTRIES_PER_CALL = 1000
_PLACEHOLDER = b"\x00" * 32


def head_size() -> int:
    return int(Head.objects.values_list("size", flat=True).get(pk=1))


def latest_checkpoint() -> Checkpoint:
    checkpoint = Checkpoint.objects.order_by("-size").first()
    if checkpoint is None:
        raise LedgerNotFound("No checkpoint has been signed yet.")
    return checkpoint


def signed_size() -> int:
    checkpoint = Checkpoint.objects.order_by("-size").values_list("size", flat=True).first()
    return int(checkpoint or 0)


def _perfect_hashes(keys: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    if not keys:
        return {}
    levels, indexes = zip(*sorted(keys), strict=True)
    with connection.cursor() as cursor:
        # One round trip, one primary-key lookup per wanted node.
        cursor.execute(
            "SELECT n.level, n.idx, n.hash"
            " FROM unnest(%s::smallint[], %s::bigint[]) AS k(level, idx)"
            " JOIN ledger_node n ON n.level = k.level AND n.idx = k.idx",
            [list(levels), list(indexes)],
        )
        found = {(int(lv), int(ix)): bytes(h) for lv, ix, h in cursor.fetchall()}
    missing = keys - found.keys()
    if missing:
        raise RuntimeError(f"ledger_node is missing {sorted(missing)[:3]}...: the tree is damaged")
    return found


def _with_stored_hashes(
    compute: Callable[[merkle_proofs.SubtreeHashSource], list[bytes]],
) -> list[bytes]:
    wanted: set[tuple[int, int]] = set()

    def record(level: int, index: int) -> bytes:
        wanted.add((level, index))
        return _PLACEHOLDER

    compute(
        lambda s, e: merkle_proofs.subtree_hash_from_perfect(start=s, end=e, perfect_hash=record)
    )
    stored = _perfect_hashes(wanted)

    def lookup(level: int, index: int) -> bytes:
        return stored[(level, index)]

    return compute(
        lambda s, e: merkle_proofs.subtree_hash_from_perfect(start=s, end=e, perfect_hash=lookup)
    )


def inclusion_proof(*, index: int, tree_size: int) -> list[bytes]:
    limit = signed_size()
    if not 0 < tree_size <= limit:
        raise InvalidRange(
            f"tree_size must be between 1 and the latest signed size {limit}.",
            fields={"tree_size": [f"must be 1..{limit}"]},
        )
    if not 0 <= index < tree_size:
        raise InvalidRange(
            f"index must be below tree_size {tree_size}.",
            fields={"index": [f"must be 0..{tree_size - 1}"]},
        )
    return _with_stored_hashes(
        lambda source: merkle_proofs.inclusion_proof(index, tree_size, source)
    )


def consistency_proof(*, first: int, second: int) -> list[bytes]:
    limit = signed_size()
    if not 0 <= second <= limit:
        raise InvalidRange(
            f"second must be at most the latest signed size {limit}.",
            fields={"second": [f"must be 0..{limit}"]},
        )
    if not 0 <= first <= second:
        raise InvalidRange(
            "first must not exceed second.", fields={"first": [f"must be 0..{second}"]}
        )
    if first == 0 or first == second:
        return []
    return _with_stored_hashes(
        lambda source: merkle_proofs.consistency_proof(first, second, source)
    )


def entries_range(*, start: int, end: int) -> list[tuple[int, bytes, bytes]]:
    """(index, data, leaf hash) of entries ``start`` to ``end`` (exclusive, at most 1,000)."""
    limit = signed_size()
    if not 0 <= start < end:
        raise InvalidRange("start must be below end.", fields={"start": ["must be below end"]})
    if end > limit:
        raise InvalidRange(
            f"end must be at most the latest signed size {limit}.",
            fields={"end": [f"must be at most {limit}"]},
        )
    end = min(end, start + MAX_ENTRIES_PER_CALL)
    # Read in PostgreSQL's binary format, on a cursor of the driver's own: auditors page
    # through every entry, and the text format's hexadecimal took longer to read than the
    # page takes to write (no query hooks of Django's see it, as ledger.openings's).
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            "SELECT idx, data, leaf_hash FROM ledger_entry WHERE idx >= %s AND idx < %s"
            " ORDER BY idx",
            [start, end],
            binary=True,
        )
        rows = cursor.fetchall()
    return [(int(i), bytes(d), bytes(h)) for i, d, h in rows]


def entry_get(*, index: int) -> Entry:
    try:
        return Entry.objects.get(index=index)
    except Entry.DoesNotExist:
        raise LedgerNotFound(f"No entry {index} in the log.") from None


def tile_data(*, ref: tiles.TileRef) -> bytes:
    """The bytes of a tile (hashes) or an entry bundle, within the latest signed checkpoint."""
    size = signed_size()
    level = ref.level
    try:
        expected = tiles.tile_width_for_size(
            level=0 if level == tiles.ENTRIES else int(level), index=ref.index, tree_size=size
        )
    except ValueError:
        raise LedgerNotFound(f"No tile {ref.path} at the signed size {size}.") from None
    if ref.width > expected:
        raise LedgerNotFound(f"Tile {ref.path} is wider than the signed tree allows ({expected}).")
    first = ref.index * tiles.TILE_WIDTH
    if level == tiles.ENTRIES:
        rows = Entry.objects.filter(index__gte=first, index__lt=first + ref.width).order_by("index")
        return tiles.encode_entry_bundle([bytes(e.data) for e in rows])
    node_level = int(level) * 8
    nodes = Node.objects.filter(
        level=node_level, index__gte=first, index__lt=first + ref.width
    ).order_by("index")
    return b"".join(bytes(n.hash) for n in nodes)


def keys_list() -> list[SigningKey]:
    return list(SigningKey.objects.order_by("-valid_from"))


def entry_index_by_leaf_hash(*, leaf_hash: bytes) -> int | None:
    """The index of the entry with this leaf hash (the first, should two entries have the same
    bytes), or ``None`` while it is still pending."""
    index = (
        Entry.objects.filter(leaf_hash=leaf_hash).order_by("index").values_list("index", flat=True)
    ).first()
    return None if index is None else int(index)


RULE_ENTRY_KINDS = ("consent_rule", "consent_rule_withdrawn")
MAX_LATER_RULES = 50


def later_entries(
    *, after: int, rules: list[str], decision: str | None, size: int
) -> tuple[list[tuple[int, bytes]], bool]:
    """The entries after entry ``after`` and below ``size`` that name one of ``rules`` (a
    ``consent_rule`` or ``consent_rule_withdrawn`` entry whose ``rule`` member is one of
    them) or ``decision`` (any entry but a ``decision`` entry, whose ``decision`` member is
    it), at most 1,000 in index order, and whether that is all of them.

    Entries are canonical JSON, so ``"rule":"<id>"`` appears in an entry's bytes exactly when
    a member ``rule`` has that value somewhere in it; the reader decodes and judges each entry
    (``ledger.licence_tokens.judge_later_entries``), so a needle found elsewhere costs an entry
    more, never a wrong answer."""
    needles: list[bytes] = [b'"rule":"%s"' % r.encode() for r in rules]
    clauses, params = [], []
    if needles:
        found = " OR ".join("position(%s::bytea in data) > 0" for _ in needles)
        clauses.append(f"(kind IN ('consent_rule', 'consent_rule_withdrawn') AND ({found}))")
        params.extend(needles)
    if decision is not None:
        clauses.append("(kind <> 'decision' AND position(%s::bytea in data) > 0)")
        params.append(b'"decision":"%s"' % decision.encode())
    if not clauses:
        return [], True
    # The clauses are constant text; every value is a parameter.
    sql = (
        "SELECT idx, data FROM ledger_entry WHERE idx > %s AND idx < %s"  # noqa: S608
        f" AND ({' OR '.join(clauses)}) ORDER BY idx LIMIT %s"
    )
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(
            sql,
            [after, size, *params, MAX_ENTRIES_PER_CALL + 1],
            binary=True,
        )
        rows = cursor.fetchall()
    complete = len(rows) <= MAX_ENTRIES_PER_CALL
    return [(int(i), bytes(d)) for i, d in rows[:MAX_ENTRIES_PER_CALL]], complete
