"""The attack of issue 12, step by step, as a database superuser: bypass the append-only
triggers, then rewrite an entry's data, its leaf hash, and its ancestor nodes (recomputed so the
stored tree is consistent again). ``through`` says how far the attacker goes."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from ledger import merkle, merkle_trees

Through = Literal["data", "leaf", "nodes"]
Bypass = Literal["replica", "disable_trigger"]
STEPS: tuple[Through, ...] = ("data", "leaf", "nodes")
TABLES = ("ledger_entry", "ledger_node")


class Cursor(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...
    def fetchall(self) -> list[Any]: ...


def rewrite_entry(
    cursor: Cursor, *, index: int, data: bytes, through: Through, bypass: Bypass = "replica"
) -> None:
    """Replace entry ``index`` by ``data``; with ``through`` "leaf" its leaf hash too, with
    "nodes" also its tree node and every stored ancestor node, as a careful attacker would."""
    if bypass == "replica":
        cursor.execute("SET session_replication_role = replica")
    else:
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        cursor.execute("UPDATE ledger_entry SET data = %s WHERE idx = %s", [data, index])
        if through in ("leaf", "nodes"):
            leaf = merkle.leaf_hash(data)
            cursor.execute("UPDATE ledger_entry SET leaf_hash = %s WHERE idx = %s", [leaf, index])
        if through == "nodes":
            cursor.execute(
                "UPDATE ledger_node SET hash = %s WHERE level = 0 AND idx = %s",
                [merkle.leaf_hash(data), index],
            )
            cursor.execute("SELECT data FROM ledger_entry ORDER BY idx")
            tree = merkle_trees.MemoryTree.from_entries([bytes(d) for (d,) in cursor.fetchall()])
            level = 1
            while (1 << level) <= tree.size:
                position = index >> level
                if (position + 1) << level <= tree.size:
                    cursor.execute(
                        "UPDATE ledger_node SET hash = %s WHERE level = %s AND idx = %s",
                        [tree.perfect_hash(level, position), level, position],
                    )
                level += 1
    finally:
        if bypass == "replica":
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            for table in TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
