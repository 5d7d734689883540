"""A work's content: the audio its registrant or holders hand in, kept only as its SHA-256 and
the vectors computed from it (docs/matching.md, "Content").

``WorkContent`` is one upload and its job's outcome; ``FingerprintSource``, ``FingerprintSegment``
and ``FingerprintPostings`` the packed inverted index the fingerprint space matches against;
``ContentUpload`` holds the uploaded bytes only until the job has run: the job deletes it in the
transaction that completes or fails the content, so content is never stored, only its SHA-256
and the vectors. Matching reads ``governance_fingerprintpostings``, ``governance_fingerprintsource``
and ``governance_workcontent`` by name in raw SQL (``governance.services.fingerprint_store``).
"""

from __future__ import annotations

import uuid

from django.db import models
from pgvector.django import HnswIndex, VectorField

from governance.models.catalog import Work
from governance.models.identity import Party


class ContentKind(models.TextChoices):
    AUDIO = "audio", "Audio (a recording's sound)"
    LYRICS = "lyrics", "Lyrics (a work's words, as text)"


class ContentStatus(models.TextChoices):
    RECEIVED = "received", "Received (waiting for a worker)"
    PROCESSING = "processing", "Processing (a worker is fingerprinting it)"
    COMPLETED = "completed", "Completed (its vectors are matched against)"
    FAILED = "failed", "Failed (see error and detail; nothing of it was kept)"


class WorkContent(models.Model):
    """One piece of content handed in for a work, and what its job made of it. A completed
    content's vectors are in its space's store (fingerprint postings) and, audio of 30 s or
    more, the work's ``composition`` vectors (``WorkEmbedding`` rows); a completed content's
    ``detail`` says why it has no composition vectors, if so. A failed one has ``error`` (a
    reason code) and ``detail`` (a sentence) and no vectors. One work has at most one
    completed content per SHA-256 and model version."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    work = models.ForeignKey(Work, on_delete=models.PROTECT, related_name="contents")
    kind = models.CharField(max_length=16, choices=ContentKind.choices, default=ContentKind.AUDIO)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the bytes handed in (hex).")
    size = models.BigIntegerField(help_text="Bytes handed in.")
    seconds = models.FloatField(null=True, blank=True, help_text="Decoded duration.")
    codec = models.CharField(max_length=32, blank=True)
    status = models.CharField(
        max_length=16, choices=ContentStatus.choices, default=ContentStatus.RECEIVED
    )
    error = models.CharField(max_length=32, blank=True, help_text="Reason code if failed.")
    detail = models.TextField(blank=True)
    submitted_by = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="+")
    model = models.CharField(max_length=64)
    model_version = models.CharField(max_length=32)
    vector_count = models.IntegerField(default=0)
    spaces = models.JSONField(
        default=list,
        blank=True,
        help_text="Once completed: per space its vectors were stored in, the space, model, "
        "model version and vector count (what its work_content ledger entry says).",
    )
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["work", "-created_at", "id"]
        indexes = [models.Index(fields=["work", "sha256"], name="work_content_sha256")]
        constraints = [
            models.UniqueConstraint(
                fields=["work", "sha256", "model_version"],
                condition=models.Q(status="completed"),
                name="work_content_completed_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ContentKind.values), name="work_content_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ContentStatus.values), name="work_content_status"
            ),
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="work_content_sha256_hex"
            ),
            models.CheckConstraint(
                condition=models.Q(size__gte=0, vector_count__gte=0), name="work_content_counts"
            ),
            # Completed and failed contents say when; only a failed one has an error.
            models.CheckConstraint(
                condition=models.Q(status__in=["received", "processing"], completed_at__isnull=True)
                | models.Q(status__in=["completed", "failed"], completed_at__isnull=False),
                name="work_content_completed_at",
            ),
            models.CheckConstraint(
                condition=models.Q(status="failed") & ~models.Q(error="")
                | ~models.Q(status="failed") & models.Q(error=""),
                name="work_content_error",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12]} of {self.work_id} ({self.status})"


class ContentUpload(models.Model):
    """The bytes of a content waiting for its job; deleted by the job in the transaction that
    completes or fails the content (never kept afterwards)."""

    content = models.OneToOneField(
        WorkContent, primary_key=True, on_delete=models.CASCADE, related_name="upload"
    )
    data = models.BinaryField()

    def __str__(self) -> str:
        return f"upload of {self.content_id}"


class FingerprintSource(models.Model):
    """A completed content's key in the fingerprint store: the small integer its postings carry
    (``governance.content.postings``). Deleted with its content, which its postings then no
    longer match (the store reads only the postings of keys that have a source); the next
    compaction drops them. Keeps the content's landmark peaks, for the presence verification
    (docs/matching.md, "The packed store")."""

    id = models.AutoField(primary_key=True)
    content = models.OneToOneField(
        WorkContent, on_delete=models.CASCADE, related_name="fingerprint_source"
    )
    peaks = models.BinaryField(
        null=True,
        help_text="Its landmark peaks, rebuilt from its postings (governance.content.peaks, "
        "packed); null: not yet computed (fingerprint_store.backfill_peaks).",
    )

    def __str__(self) -> str:
        return f"fingerprint key {self.pk} of {self.content_id}"


class FingerprintSegment(models.Model):
    """A segment of the packed fingerprint store: the postings some contents' imports (or a
    compaction of earlier segments) wrote in one transaction, kept as one
    ``FingerprintPostings`` row per hash (docs/matching.md, "The packed store")."""

    id = models.AutoField(primary_key=True)
    format = models.SmallIntegerField(help_text="The rows' packing (postings.FORMAT).")
    shift = models.SmallIntegerField(help_text="Its rows hold the hashes h >> shift = bucket.")
    postings = models.BigIntegerField(help_text="Postings held, deleted contents' included.")
    rows = models.IntegerField(help_text="Hashes held (rows).")
    contents = models.IntegerField(help_text="Contents whose postings it holds.")
    merges = models.IntegerField(default=0, help_text="Segments compacted into it, if any.")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(postings__gte=0, rows__gte=0, contents__gte=0),
                name="fingerprint_segment_counts",
            ),
        ]

    def __str__(self) -> str:
        return f"segment {self.pk} ({self.postings} postings, {self.rows} hashes)"


class FingerprintPostings(models.Model):
    """The postings of the hashes ``h`` with ``h >> shift == bucket`` in one segment: ``n``
    postings packed in ``data`` (``governance.content.postings``: little-endian int32 records
    sorted by hash, content key and frame; at shift 0, one hash a row, (key, frame) pairs). The
    inverted index of the fingerprint space: a query reads its hashes' rows."""

    pk = models.CompositePrimaryKey("shift", "bucket", "segment")
    shift = models.SmallIntegerField()
    bucket = models.IntegerField()
    # No foreign key: the segment's rows are written with it and deleted with it, in one
    # transaction, by governance.services.fingerprint_store alone.
    segment = models.IntegerField()
    n = models.IntegerField(help_text="Postings in data.")
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(n__gt=0), name="fingerprint_postings_n"),
        ]

    def __str__(self) -> str:
        return f"bucket {self.bucket} >> {self.shift} in segment {self.segment} ({self.n})"


TEXT_DIMENSION = 384
"""The ``text`` space's dimension (``governance.content.text.DIMENSION``; a test checks)."""


class ArtistNameVector(models.Model):
    """One name of an artist, the party's own or an alias of its likeness, as a vector of the
    ``text`` space (docs/matching.md, "The text store"): what a prompt's spans are matched
    against. Kept current by ``governance.services.texts.artist_names_sync``, called by the
    services that create an artist or change its likeness's aliases, in their transaction."""

    id = models.BigAutoField(primary_key=True)
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="name_vectors")
    name = models.CharField(max_length=300)
    alias = models.BooleanField(default=False)
    model_version = models.CharField(max_length=32)
    embedding = VectorField(dimensions=TEXT_DIMENSION)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["party", "name", "model_version"], name="artist_name_vector_unique"
            ),
        ]
        indexes = [
            HnswIndex(
                name="artist_name_vector_hnsw", fields=["embedding"], m=16, ef_construction=128,
                opclasses=["vector_cosine_ops"],
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"name {self.name!r} of {self.party_id}"


class LyricsVector(models.Model):
    """One stanza of a work's lyrics (a completed ``lyrics`` content) as a vector of the
    ``text`` space; the words themselves are not kept."""

    id = models.BigAutoField(primary_key=True)
    content = models.ForeignKey(WorkContent, on_delete=models.CASCADE, related_name="stanzas")
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="lyrics_vectors")
    stanza = models.PositiveIntegerField()
    model_version = models.CharField(max_length=32)
    embedding = VectorField(dimensions=TEXT_DIMENSION)

    class Meta:
        indexes = [
            HnswIndex(
                name="lyrics_vector_hnsw", fields=["embedding"], m=16, ef_construction=128,
                opclasses=["vector_cosine_ops"],
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"stanza {self.stanza} of {self.content_id}"
