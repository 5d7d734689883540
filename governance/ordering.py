"""One order for changes of state and decisions: the ledger's (docs/ledger.md, "One order").

A decision reads state (a work's shares and credits, its holders' postures and rule versions,
the consent matrix) and appends its entry; a change of state writes rows and appends its entry.
Without more, a decision may read the state as it was before a change that commits, and is
sequenced, before the decision's entry: replaying the log would then evaluate it against state
it never saw. So every change and every decision takes PostgreSQL advisory locks, held until
its transaction ends, on the keys of what it changes or reads:

- ``work:<id>``, a work's shares and credits (and a recording's link to its composition);
- ``holder:<id>``, a party's default posture and the rules it owns;
- ``matrix``, the consent matrix.

A change takes its keys exclusively before it appends its entry (``governance.ledgering``); a
decision takes them shared, in one statement per set, before it reads
(``governance.services.facts``). Two that touch one key are thus one after the other, and the
second appends its entry (allocating its pending id, the order the sequencer follows) only
once the first has committed: the ledger's order is the order in which each saw the other.
Times come from the database's clock read once the locks are held (:func:`locked_at`), so a
version in force from ``t`` was written after every decision timed before ``t`` committed.

Keys are hashed into :data:`BUCKETS` locks, so that a chunk holds a bounded number. Decisions
take only shared locks, so a decision never waits for a decision; a change takes its keys in
one sorted statement (a change that locks in several statements could meet a decision in a
deadlock, which PostgreSQL breaks by failing one: a check is retried, a chunk redelivered).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import connection

MATRIX = "matrix"


def work_key(work_id: Any) -> str:
    return f"work:{work_id}"


def holder_key(party_id: Any) -> str:
    return f"holder:{party_id}"


BUCKETS = 256
"""Keys are hashed into this many locks (PostgreSQL's two-integer advisory locks, first integer
:data:`LOCK_CLASS`): a chunk of 1,000 works and their holders takes at most 256 locks, not
thousands (the lock table is shared, ``max_locks_per_transaction`` times the connections), at
the price of false conflicts: a change waits for the decisions in flight on its buckets."""
LOCK_CLASS = 0x636F6E73  # "cons"


IDENTIFIER_CLASS = 0x69647321  # "ids!"
"""The first integer of the locks on identifiers being registered (:func:`registering`)."""


def _lock_sql(function: str, lock_class: int = LOCK_CLASS) -> str:
    """One statement: lock the bucket of each key of ``%(keys)s`` (in order, each once), then
    read the database's clock."""
    return (
        f"SELECT clock_timestamp() FROM (SELECT count({function}({lock_class}, b)) FROM ("  # noqa: S608 - constants
        f"SELECT DISTINCT (hashtextextended(k, 0) & {BUCKETS - 1})::int AS b"
        " FROM unnest(%(keys)s::text[]) k ORDER BY b) keys) locked"
    )


LOCK_SHARED_SQL = _lock_sql("pg_advisory_xact_lock_shared")
"""What a decision runs before it reads (``%(keys)s``: the keys it reads)."""
LOCK_SQL = _lock_sql("pg_advisory_xact_lock")
REGISTERING_SQL = _lock_sql("pg_advisory_xact_lock", IDENTIFIER_CLASS)


def changing(keys: Iterable[str]) -> dt.datetime:
    """Lock ``keys`` exclusively until the transaction ends (a change of state); the database's
    clock once they are held: the time the change takes effect."""
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SQL, {"keys": sorted(set(keys))})
        (now,) = cursor.fetchone() or (None,)
    assert isinstance(now, dt.datetime)
    return now


def registering(identifiers: Iterable[str]) -> None:
    """Lock identifiers about to be registered (``isrc:<code>``, ``iswc:<code>``,
    ``upc:<code>``) exclusively until the transaction ends; taken before looking whether they
    are registered already. Two registrations of one identifier (an API call and an import
    chunk, say) are then one after the other, and the second finds the first's row instead of
    meeting the unique index. A class of locks of their own (:data:`IDENTIFIER_CLASS`), that no
    decision takes, taken in one sorted statement before any work or holder lock: no cycle can
    form with a decision or another registration."""
    keys = sorted(set(identifiers))
    if keys:
        with connection.cursor() as cursor:
            cursor.execute(REGISTERING_SQL, {"keys": keys})


def reading(keys: Iterable[str]) -> dt.datetime:
    """Lock ``keys`` shared until the transaction ends (a decision reading them); the clock."""
    with connection.cursor() as cursor:
        cursor.execute(LOCK_SHARED_SQL, {"keys": sorted(set(keys))})
        (now,) = cursor.fetchone() or (None,)
    assert isinstance(now, dt.datetime)
    return now


def entry_keys(kind: str, payload: Mapping[str, Any]) -> list[str]:
    """The keys of what a ledger entry of ``kind`` changes, that a decision reads."""
    if kind == "consent_matrix":
        return [MATRIX]
    field, key = _KEYED.get(kind, ("", work_key))
    value = payload.get(field) if field else None
    return [] if value is None else [key(value)]


_KEYED = {
    "party": ("id", holder_key),
    "work": ("id", work_key),
    "rights_share": ("work", work_key),
    "rights_share_removed": ("work", work_key),
    "consent_rule": ("owner", holder_key),
    "consent_rule_withdrawn": ("owner", holder_key),
}
"""Per entry type, the payload member naming what it changes, and that thing's key."""
