"""The ledger's tables. Entries, tree nodes and checkpoints are append-only: triggers made by
migration 0002 reject UPDATE, DELETE and TRUNCATE on them, whoever asks. The head row moves
forward only. Pending entries are a queue that the sequencer drains into the log.
"""

from __future__ import annotations

from django.db import models


class PendingEntry(models.Model):
    """An entry appended by a writer's transaction and not yet given its index. It commits or
    rolls back with the writer's own change; the sequencer later moves it into the log."""

    id = models.BigAutoField(primary_key=True)
    data = models.BinaryField()
    kind = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_pending"

    def __str__(self) -> str:
        return f"pending {self.kind} #{self.id}"


class Entry(models.Model):
    """Entry ``index`` of the log: its canonical bytes and leaf hash (RFC 6962)."""

    index = models.BigIntegerField(primary_key=True, db_column="idx")
    data = models.BinaryField()
    leaf_hash = models.BinaryField()
    kind = models.CharField(max_length=64, db_index=True)
    sequenced_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_entry"
        # Receipts find a writer's entry by the leaf hash it computed when appending.
        indexes = [models.Index(fields=["leaf_hash"], name="ledger_entry_leaf_hash")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(index__gte=0), name="ledger_entry_index_gte_0"
            )
        ]

    def __str__(self) -> str:
        return f"entry {self.index} ({self.kind})"


class Node(models.Model):
    """The hash of the perfect subtree ``[index·2^level, (index+1)·2^level)``; level 0 holds the
    leaf hashes. Any subtree hash, and so any proof, is assembled from these."""

    pk = models.CompositePrimaryKey("level", "index")
    level = models.SmallIntegerField()
    index = models.BigIntegerField(db_column="idx")
    hash = models.BinaryField()

    class Meta:
        db_table = "ledger_node"

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class Head(models.Model):
    """The one row that says how far the log is integrated. The sequencer moves it with a
    compare-and-swap (``UPDATE ... WHERE size = :old``); a trigger refuses to move it back."""

    id = models.SmallIntegerField(primary_key=True, default=1)
    size = models.BigIntegerField(default=0)
    root_hash = models.BinaryField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_head"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="ledger_head_single")]

    def __str__(self) -> str:
        return f"head at size {self.size}"


class Checkpoint(models.Model):
    """A signed checkpoint (C2SP signed note). Every one is kept."""

    size = models.BigIntegerField(primary_key=True)
    root_hash = models.BinaryField()
    note = models.TextField()
    key_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_checkpoint"

    def __str__(self) -> str:
        return f"checkpoint at size {self.size}"


class SigningKey(models.Model):
    """A public key that signs (or signed) checkpoints, with its validity period. The private
    key never enters the database; it stays in LEDGER_KEY_FILE."""

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=200)
    vkey = models.CharField(max_length=400, unique=True)
    public_key_pem = models.TextField()
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ledger_key"
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return self.vkey


class Opening(models.Model):
    """The opening of a committed field of an entry: the salt and the clear value that the
    entry's commitment hides (``ledger.commitments``). Written in the same transaction as the
    entry, found by the entry's leaf hash (known when appending, before the sequencer gives the
    entry its index). Append-only, like the log: a trigger made by migration 0004 rejects
    UPDATE, DELETE and TRUNCATE. Who may read which opening is the registry's decision."""

    id = models.BigAutoField(primary_key=True)
    leaf_hash = models.BinaryField()
    field = models.CharField(max_length=64)
    salt = models.BinaryField()
    value = models.BinaryField()  # the RFC 8785 bytes of the clear value, as hashed

    class Meta:
        db_table = "ledger_opening"
        constraints = [
            models.UniqueConstraint(fields=["leaf_hash", "field"], name="ledger_opening_unique"),
        ]

    def __str__(self) -> str:
        return f"opening of {self.field} in {bytes(self.leaf_hash).hex()[:12]}"
