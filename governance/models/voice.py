"""An artist's voice: the reference recordings it hands in, kept only as their SHA-256 and the
voice vectors computed from them (docs/matching.md, "The voice space").

``VoiceEnrolment`` is one upload of one or more recordings and its job's outcome (per file:
SHA-256, size, seconds of audio and of speech, vectors, or the reason it failed);
``VoiceUpload`` holds one file's bytes only until the job has run (deleted in the transaction
that completes or fails the enrolment); ``VoiceEmbedding`` is one window of speech of a
completed enrolment's recording, a 256-d vector in the ``voice`` space with a cosine HNSW
index. Matching (``governance.services.voices``) reads ``governance_voiceembedding`` by name in
raw SQL.
"""

from __future__ import annotations

import uuid

from django.db import models
from pgvector.django import HnswIndex, VectorField

from governance.models.content import ContentStatus
from governance.models.identity import Party

VOICE_DIMENSION = 256
"""``governance.content.voice.DIMENSION``, repeated: models import nothing of the spaces."""


class VoiceEnrolment(models.Model):
    """One upload of an artist's voice reference recordings and what its job made of them.
    Completed: every file's vectors are stored (``files`` lists each with its SHA-256 and
    vector count). Failed: ``error`` and ``detail`` say why, ``files`` names each bad file's
    reason, and nothing of any file was kept."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    artist = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="voice_enrolments")
    status = models.CharField(
        max_length=16, choices=ContentStatus.choices, default=ContentStatus.RECEIVED
    )
    error = models.CharField(max_length=32, blank=True, help_text="Reason code if failed.")
    detail = models.TextField(blank=True)
    files = models.JSONField(
        default=list,
        help_text="Per file, in upload order: sha256, size; once run, seconds, speech_seconds, "
        "vector_count, or error and detail.",
    )
    model = models.CharField(max_length=64)
    model_version = models.CharField(max_length=32)
    vector_count = models.IntegerField(default=0)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["artist", "-created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ContentStatus.values), name="voice_enrolment_status"
            ),
            models.CheckConstraint(
                condition=models.Q(vector_count__gte=0), name="voice_enrolment_vector_count"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["received", "processing"], completed_at__isnull=True)
                | models.Q(status__in=["completed", "failed"], completed_at__isnull=False),
                name="voice_enrolment_completed_at",
            ),
            models.CheckConstraint(
                condition=models.Q(status="failed") & ~models.Q(error="")
                | ~models.Q(status="failed") & models.Q(error=""),
                name="voice_enrolment_error",
            ),
        ]

    def __str__(self) -> str:
        return f"voice enrolment {self.pk} of {self.artist_id} ({self.status})"


class VoiceUpload(models.Model):
    """One file's bytes waiting for its enrolment's job; deleted by the job in the transaction
    that completes or fails the enrolment (never kept afterwards)."""

    id = models.BigAutoField(primary_key=True)
    enrolment = models.ForeignKey(VoiceEnrolment, on_delete=models.CASCADE, related_name="uploads")
    position = models.PositiveIntegerField(help_text="The file's place in the upload, from 0.")
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrolment", "position"], name="voice_upload_position_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"file {self.position} of {self.enrolment_id}"


class VoiceEmbedding(models.Model):
    """One window of speech of an artist's reference recording, in the ``voice`` space."""

    id = models.BigAutoField(primary_key=True)
    artist = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="voice_embeddings")
    enrolment = models.ForeignKey(
        VoiceEnrolment, on_delete=models.CASCADE, related_name="embeddings"
    )
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the recording (hex).")
    window = models.PositiveIntegerField(help_text="The window's place in the recording.")
    start = models.FloatField(help_text="Where the window's speech starts, in seconds.")
    end = models.FloatField(help_text="Where the window's speech ends, in seconds.")
    model_version = models.CharField(max_length=32)
    embedding = VectorField(dimensions=VOICE_DIMENSION)

    class Meta:
        indexes = [
            HnswIndex(
                name="voice_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=128,
                opclasses=["vector_cosine_ops"],
            ),
            models.Index(fields=["artist", "sha256"], name="voice_embedding_artist"),
        ]

    def __str__(self) -> str:
        return f"voice window {self.window} of {self.sha256[:12]} ({self.artist_id})"
