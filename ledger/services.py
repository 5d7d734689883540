"""Writing to the ledger: append (any writer, inside its own transaction), integrate (the one
sequencer), sign checkpoints, register and rotate keys.

Appending and sequencing are split, as in Tessera and Sunlight. ``entry_append`` inserts the
entry's canonical bytes into ``ledger_pending`` in the caller's transaction, so a change and its
ledger entry commit or roll back together, and writers never wait for each other. The
sequencer (``integrate``) holds a PostgreSQL advisory lock, so exactly one runs at a time
however many processes call it; it takes committed pending entries in order, gives them the
next gapless indexes, bulk-inserts them with the new perfect-subtree hashes, and moves the head
row forward with a compare-and-swap.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from ledger import canonical, merkle, note, verified_tree
from ledger.keys import load_signing_key
from ledger.models import Checkpoint, Head, SigningKey

# pg_advisory_xact_lock key: "consentry ledger sequencer" (any fixed 64-bit number will do).
SEQUENCER_LOCK = 0x636F6E73656E7472
DEFAULT_BATCH = 5000


def entry_append(*, kind: str, payload: Mapping[str, Any], time: dt.datetime) -> int:
    """Append an entry in the caller's transaction; the sequencer gives it its index.
    Returns the pending entry's id. (Plain SQL: this is the ledger's hot path.)"""
    data = canonical.encode_entry(kind=kind, time=time, payload=payload)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_pending (data, kind, created_at) VALUES (%s, %s, %s) RETURNING id",
            [data, kind, time],
        )
        (pending_id,) = cursor.fetchone() or (0,)
    return int(pending_id)


@dataclass(frozen=True)
class EncodedEntry:
    """An entry's canonical bytes, made by :func:`entry_encode`: a writer that needs its leaf
    hash (to find its receipt later) encodes once and appends what it encoded."""

    kind: str
    data: bytes
    time: dt.datetime

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.data)


def entry_encode(*, kind: str, payload: Mapping[str, Any], time: dt.datetime) -> EncodedEntry:
    return EncodedEntry(kind, canonical.encode_entry(kind=kind, time=time, payload=payload), time)


def entries_encode(
    *, items: Sequence[tuple[str, Mapping[str, Any]]], time: dt.datetime
) -> list[EncodedEntry]:
    """:func:`entry_encode` of each (kind, payload) at the same ``time``, the same bytes."""
    data = canonical.encode_entries(items=items, time=time)
    return [EncodedEntry(kind, d, time) for (kind, _), d in zip(items, data, strict=True)]


def entries_append(*, items: Sequence[tuple[str, Mapping[str, Any]]], time: dt.datetime) -> int:
    """Append several entries, in order, in the caller's transaction, with one COPY: what a
    worker deciding a chunk of items uses. Returns how many were appended."""
    return entries_append_encoded(
        entries=[entry_encode(kind=k, payload=p, time=time) for k, p in items]
    )


PENDING_COLUMNS = ("data", "kind", "created_at")
"""The columns of ``ledger_pending`` a writer fills, in :func:`pending_rows`' order."""


def pending_rows(entries: Sequence[EncodedEntry]) -> list[tuple[bytes, str, dt.datetime]]:
    """The ``ledger_pending`` rows (:data:`PENDING_COLUMNS`) that append ``entries``: for a
    caller that inserts them with its other rows, in its transaction."""
    return [(entry.data, entry.kind, entry.time) for entry in entries]


def entries_append_encoded(*, entries: Sequence[EncodedEntry]) -> int:
    """:func:`entries_append` for entries encoded beforehand with :func:`entry_encode`."""
    columns = ", ".join(PENDING_COLUMNS)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ledger_pending ({columns}) FROM STDIN") as copy,
    ):
        for row in pending_rows(entries):
            copy.write_row(row)
    return len(entries)


@dataclass(frozen=True)
class Integrated:
    first_index: int
    count: int
    size: int
    root_hash: bytes


def integrate(
    *, now: dt.datetime, batch: int = DEFAULT_BATCH, up_to: int | None = None
) -> Integrated | None:
    """Sequence up to ``batch`` committed pending entries (those with an id up to ``up_to``, if
    given). Returns None when there was nothing to do, or when another sequencer holds the lock
    (it will do the work).

    The tree is extended from this process's verified range (:mod:`ledger.verified_tree`),
    never from stored node hashes; raises :class:`~ledger.exceptions.LedgerTampered` when the
    database disagrees with it."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
            (locked,) = cursor.fetchone() or (False,)
        if not locked:
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, data, kind FROM ledger_pending WHERE id <= %s ORDER BY id LIMIT %s",
                [up_to if up_to is not None else 2**63 - 1, batch],
            )
            pending = [(int(i), bytes(d), str(k)) for i, d, k in cursor.fetchall()]
        if not pending:
            return None
        tree = verified_tree.verified_tree()
        size = tree.size
        entry_rows: list[tuple[int, bytes, bytes, str, dt.datetime]] = []
        node_rows: list[tuple[int, int, bytes]] = []
        for offset, (_, data, kind) in enumerate(pending):
            # Each append completes the perfect subtrees whose hashes are stored, the leaf first.
            completed = tree.append_entry(data)
            entry_rows.append((size + offset, data, completed[0][2], kind, now))
            node_rows.extend(completed)
        new_size, root = tree.size, tree.root()
        with connection.cursor() as cursor:
            raw = cursor.cursor  # psycopg 3: COPY is the fastest bulk insert PostgreSQL has
            with raw.copy(
                "COPY ledger_entry (idx, data, leaf_hash, kind, sequenced_at) FROM STDIN"
            ) as copy:
                for row in entry_rows:
                    copy.write_row(row)
            with raw.copy("COPY ledger_node (level, idx, hash) FROM STDIN") as copy:
                for node_row in node_rows:
                    copy.write_row(node_row)
            cursor.execute(
                "DELETE FROM ledger_pending WHERE id = ANY(%s)", [[p[0] for p in pending]]
            )
            # Compare-and-swap: moves only from the size this sequencer verified.
            cursor.execute(
                "UPDATE ledger_head SET size = %s, root_hash = %s, updated_at = %s "
                "WHERE id = 1 AND size = %s",
                [new_size, root, now, size],
            )
            moved = cursor.rowcount
        if moved != 1:  # cannot happen while the lock holds; refuse rather than fork the log
            raise RuntimeError(f"ledger head moved under the sequencer (expected size {size})")
        verified_tree.remember(tree)
        return Integrated(first_index=size, count=len(pending), size=new_size, root_hash=root)


def work_waiting() -> bool:
    """Whether a sequencer's pass has anything to do: committed pending entries, or a head that
    no checkpoint covers yet. One read outside any transaction, no lock: what an idle sequencer
    asks between passes instead of making a whole one (the advisory lock's transaction, the
    head row locked ``FOR UPDATE`` and a commit, the checkpoint's ORM queries): at 20 passes
    a second that cost the sequencer and PostgreSQL together about 50 ms of CPU a second, the
    reads about 20 (docs/benchmarks.md). It sees what a pass would see: committed rows (a
    writer's entry counts once its transaction commits), and a head at or below the latest
    checkpoint is no work for a pass either (``checkpoint_sign`` returns at once)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM ledger_pending) "
            "OR COALESCE((SELECT size FROM ledger_head WHERE id = 1), 0) "
            "> COALESCE((SELECT max(size) FROM ledger_checkpoint), 0)"
        )
        (waiting,) = cursor.fetchone() or (True,)
    return bool(waiting)


def integrate_all(*, now: dt.datetime, up_to: int | None = None) -> int:
    """Integrate every entry pending when called (only those with an id up to ``up_to``, if
    given); returns how many were sequenced. Entries that writers commit meanwhile are left to
    the next call (or the sequencer), so a steady stream of writes cannot keep it, or the
    transaction it runs in, going for ever."""
    last: int | None = up_to
    if last is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(id) FROM ledger_pending")
            (last,) = cursor.fetchone() or (None,)
    if last is None:
        return 0
    total = 0
    while (done := integrate(now=now, up_to=int(last))) is not None:
        total += done.count
    return total


def integrate_through(*, now: dt.datetime, entry_id: int) -> None:
    """Integrate the pending entries up to and including ``entry_id`` (a pending row of this
    transaction) and stop with the batch that sequences it. An entry with a smaller id whose
    writer commits meanwhile is then sequenced after it, by the next call, never slipped in
    behind it: ids are taken at insert, and commits come in any order. The caller holds the
    sequencer's lock."""
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM ledger_pending WHERE id = %s", [entry_id])
            if cursor.fetchone() is None:
                return
        if integrate(now=now, up_to=entry_id) is None:
            raise RuntimeError(f"pending entry {entry_id} could not be integrated")


def origin() -> str:
    return str(settings.LEDGER_ORIGIN)


_signer_cache: dict[tuple[str, int, int], note.Signer] = {}


def current_signer() -> note.Signer:
    """The signer of LEDGER_KEY_FILE, re-read whenever the file changes (key rotation)."""
    path = settings.LEDGER_KEY_FILE
    stat = path.stat()
    cache_key = (str(path), stat.st_ino, stat.st_mtime_ns)
    signer = _signer_cache.get(cache_key)
    if signer is None:
        signer = note.Signer(name=str(settings.LEDGER_KEY_NAME), private_key=load_signing_key(path))
        _signer_cache.clear()
        _signer_cache[cache_key] = signer
    return signer


def signer_is_current(signer: note.Signer) -> bool:
    """Whether this key may sign now: listed and not retired."""
    vkey = signer.verifier().key_string
    return SigningKey.objects.filter(vkey=vkey, valid_until__isnull=True).exists()


def key_register(*, signer: note.Signer, now: dt.datetime) -> SigningKey:
    """Make sure the signer's public key is listed; a new key is ledgered as a ``key`` entry."""
    from cryptography.hazmat.primitives import serialization

    vkey = signer.verifier().key_string
    existing = SigningKey.objects.filter(vkey=vkey).first()
    if existing is not None:
        return existing
    pem = (
        signer.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key = SigningKey.objects.create(name=signer.name, vkey=vkey, public_key_pem=pem, valid_from=now)
    entry_append(
        kind="key",
        payload={
            "event": "added",
            "name": signer.name,
            "vkey": vkey,
            "algorithm": "ed25519",
            "valid_from": canonical.format_time(now),
        },
        time=now,
    )
    return key


def checkpoint_sign(
    *, now: dt.datetime, min_interval: dt.timedelta | None = None, signer: note.Signer | None = None
) -> Checkpoint | None:
    """Sign a checkpoint of the current head unless the latest one already covers it (or is
    younger than ``min_interval``). Never signs a size below a checkpoint already signed.

    What is signed is the root this process computed from the entries' data
    (:mod:`ledger.verified_tree`), after checking that the head agrees with it; raises
    :class:`~ledger.exceptions.LedgerTampered` instead of signing when it does not."""
    with transaction.atomic():
        head = Head.objects.select_for_update().get(pk=1)
        latest = Checkpoint.objects.order_by("-size").first()
        if latest is not None:
            if latest.size >= head.size:
                return None
            if min_interval is not None and now - latest.signed_at < min_interval:
                return None
        signer = signer or current_signer()
        if not SigningKey.objects.exists():
            key_register(signer=signer, now=now)  # a new log lists its first key
        if not signer_is_current(signer):
            # A rotation retired this key; the new one is not in place yet. Sign next round.
            return None
        tree = verified_tree.verified_tree()  # raises rather than sign a rewritten tree
        root = tree.root()
        body = note.Checkpoint(origin=origin(), size=tree.size, root_hash=root)
        signed = note.sign_checkpoint(body, [signer])
        return Checkpoint.objects.create(
            size=tree.size,
            root_hash=root,
            note=signed.decode(),
            key_name=signer.verifier().key_string,
            signed_at=now,
        )


def key_rotate(*, new_private_key: Any, now: dt.datetime) -> tuple[SigningKey, SigningKey]:
    """Rotate the signing key, in one transaction (the caller then puts the new key file in
    place, atomically, at LEDGER_KEY_FILE):

    1. take the sequencer's lock, then the head row, so nothing is integrated or signed
       meanwhile (in the order every sequencer takes them, so none deadlocks);
    2. append a ``key`` entry (event ``rotated``) naming the old and the new verifier key;
    3. integrate what is pending up to that entry and stop there (not the writes other
       transactions commit meanwhile, even with smaller ids: :func:`integrate_through`), so the
       rotation entry is the last one the old key covers;
    4. sign one last checkpoint with the OLD key, ending at the rotation entry;
    5. end the old key's validity and list the new key, valid from now.

    From the commit until the new key file is in place, no key may sign (the old one is
    retired, the new one not readable yet): checkpoints wait. A running sequencer reads the key
    file through :func:`current_signer` every round, so it signs with the new key from the
    first round after the file is replaced.
    """
    old_signer = current_signer()
    new_signer = note.Signer(name=old_signer.name, private_key=new_private_key)
    with transaction.atomic():
        with connection.cursor() as cursor:  # step 1
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
        Head.objects.select_for_update().get(pk=1)
        old_key = key_register(signer=old_signer, now=now)
        rotation_entry = entry_append(  # step 2
            kind="key",
            payload={
                "event": "rotated",
                "name": new_signer.name,
                "previous_vkey": old_key.vkey,
                "vkey": new_signer.verifier().key_string,
                "algorithm": "ed25519",
                "valid_from": canonical.format_time(now),
            },
            time=now,
        )
        integrate_through(now=now, entry_id=rotation_entry)  # step 3
        checkpoint_sign(now=now, signer=old_signer)  # step 4
        SigningKey.objects.filter(pk=old_key.pk).update(valid_until=now)  # step 5
        from cryptography.hazmat.primitives import serialization

        pem = (
            new_private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        new_key = SigningKey.objects.create(
            name=new_signer.name,
            vkey=new_signer.verifier().key_string,
            public_key_pem=pem,
            valid_from=now,
        )
    old_key.refresh_from_db()
    return old_key, new_key


def sequence_and_sign(*, now: dt.datetime) -> Checkpoint | None:
    """What a receipt needs: everything committed so far integrated and covered by a
    checkpoint. Returns the checkpoint that covers the head."""
    integrate_all(now=now)
    checkpoint_sign(now=now)
    return Checkpoint.objects.order_by("-size").first()
