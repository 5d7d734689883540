"""AI-use requests and their decisions: embedding spaces and work embeddings (pgvector), use
requests with their items, the decision of each item, reviews waiting for a holder, callback
attempts, and the outbox that hands requests to the workers."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from pgvector.django import VectorField

from governance.models.catalog import Work
from governance.models.identity import Party
from governance.terms import USES


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ")) for v in values]


OUTCOMES = ("allow", "conditional", "deny", "review", "no_match", "error")


class EmbeddingSpace(models.Model):
    """A named vector space (model, version, dimension, cosine metric, calibrated threshold).
    Each has its own partial HNSW index on ``governance_workembedding`` (see services)."""

    id = models.BigAutoField(primary_key=True)
    name = models.SlugField(max_length=64, unique=True)
    model = models.CharField(max_length=200)
    model_version = models.CharField(max_length=100)
    dimension = models.PositiveIntegerField()
    metric = models.CharField(max_length=16, default="cosine")
    threshold = models.FloatField(help_text="A match passes at this cosine similarity or above.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(dimension__gte=1, dimension__lte=2000), name="space_dimension"
            ),
            models.CheckConstraint(
                condition=models.Q(threshold__gte=0, threshold__lte=1), name="space_threshold"
            ),
            models.CheckConstraint(condition=models.Q(metric="cosine"), name="space_metric"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.model} {self.model_version}, {self.dimension}d)"


class WorkEmbedding(models.Model):
    """A work's vector in a space. The column has no fixed dimension; each space's partial
    index casts to its own (``embedding::vector(<d>)``)."""

    id = models.BigAutoField(primary_key=True)
    space = models.ForeignKey(EmbeddingSpace, on_delete=models.PROTECT, related_name="embeddings")
    work = models.ForeignKey(Work, on_delete=models.CASCADE, related_name="embeddings")
    embedding = VectorField()

    class Meta:
        indexes = [models.Index(fields=["work", "space"])]

    def __str__(self) -> str:
        return f"embedding of {self.work_id} in {self.space_id}"


class RequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"


class UseRequest(models.Model):
    """A licensee's question: may we use these items for this use, there, then?"""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    licensee = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="use_requests")
    kind = models.CharField(max_length=16, default="items")  # items | manifest | check
    use = models.CharField(max_length=16, choices=_choices(USES))
    model_name = models.CharField(max_length=200, blank=True)
    territories = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    commercial = models.BooleanField(default=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    callback_url = models.URLField(max_length=500, blank=True)
    # NULL, not "": requests without a key must not collide in the unique constraint.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    request_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=16, choices=RequestStatus.choices, default=RequestStatus.RECEIVED
    )
    item_count = models.PositiveIntegerField(default=0)
    done_count = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["licensee", "idempotency_key"], name="request_idempotency_unique"
            ),
        ]
        indexes = [models.Index(fields=["licensee", "created_at"])]

    def __str__(self) -> str:
        return f"request {self.id} ({self.use})"


class RequestItem(models.Model):
    """One item of a request: a work named by identifier, vectors in named spaces, or audio
    kept as its fingerprint (``governance.services.fingerprints``: one ``vectors`` entry of the
    ``fingerprint`` space); only a SHA-256 identifies the content, which is never stored."""

    id = models.BigAutoField(primary_key=True)
    request = models.ForeignKey(UseRequest, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    reference = models.CharField(max_length=100, blank=True)  # "isrc:...", "iswc:...", ...
    vectors = models.JSONField(default=list, blank=True)  # [{"space": ..., "vector": [...]}]
    content_sha256 = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="item_position_unique")
        ]

    def __str__(self) -> str:
        return f"item {self.position} of {self.request_id}"


class Decision(models.Model):
    """The decision on one item, with its full trace; ledgered in the same transaction. A
    ``review`` decision is later settled (``settled_outcome``) and that is ledgered too; a
    dispute released by its holders or the operator (``resolved_outcome``) is ledgered too, and
    neither rewrites the decision's own outcome or entry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    item = models.OneToOneField(RequestItem, on_delete=models.CASCADE, related_name="decision")
    request = models.ForeignKey(UseRequest, on_delete=models.CASCADE, related_name="decisions")
    outcome = models.CharField(max_length=16, choices=_choices(OUTCOMES))
    code = models.CharField(max_length=64)
    reason = models.TextField()
    obligations = models.JSONField(default=dict, blank=True)
    trace = models.JSONField(default=dict)
    works = ArrayField(models.UUIDField(), default=list, blank=True)
    holders = ArrayField(models.UUIDField(), default=list, blank=True)
    leaf_hash = models.BinaryField()
    settled_outcome = models.CharField(max_length=16, blank=True)
    settled_leaf_hash = models.BinaryField(null=True, blank=True)
    # A dispute's resolution that changed the outcome (governance.services.disputes): the
    # outcome now, and the leaf hash of the entry that superseded the one before.
    resolved_outcome = models.CharField(max_length=16, blank=True)
    resolved_leaf_hash = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["request", "created_at"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"decision {self.id}: {self.outcome}"

    @property
    def final_outcome(self) -> str:
        return self.resolved_outcome or self.settled_outcome or self.outcome

    @property
    def final_obligations(self) -> dict[str, Any]:
        """The obligations as the decision reads now: a ``review``'s are what an approval
        settles it with (every other holder's conditions), so a review settled by a deny has
        none; a dispute's release to ``allow`` released them, one to ``conditional`` keeps the
        decision's own (governance.services.disputes.released_outcome); otherwise the
        decision's own."""
        if self.resolved_outcome:
            return dict(self.obligations or {}) if self.resolved_outcome == "conditional" else {}
        return {} if self.settled_outcome == "deny" else dict(self.obligations or {})


class Review(models.Model):
    """A holder's human decision that a ``review`` answer waits for."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    decision = models.ForeignKey(Decision, on_delete=models.CASCADE, related_name="reviews")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField(max_length=16, default="pending")  # pending | approved | denied
    reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["decision", "party"], name="review_unique"),
        ]
        indexes = [models.Index(fields=["party", "status"])]

    def __str__(self) -> str:
        return f"review of {self.decision_id} by {self.party_id}: {self.status}"


class Outbox(models.Model):
    """Work handed to Celery, written in the same transaction as what it concerns; a relay
    sends again what the broker never got (DESIGN.md, Request pipeline)."""

    id = models.BigAutoField(primary_key=True)
    task = models.CharField(max_length=100)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], name="outbox_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"outbox {self.task}{self.args}"


class RequestEvent(models.Model):
    """Something a licensee is told about its request, once: the request completed
    (``request.completed``), a review on it was settled (``request.settled``), or consent that
    allowed some of its decisions was withdrawn (``consent.withdrawn``). ``body`` is the event
    as it was when it happened: every delivery of it (retries included) carries the same body
    and event id. The status page lists the ``consent.withdrawn`` ones."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(UseRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["request", "created_at", "id"]
        indexes = [models.Index(fields=["request", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk} of {self.request_id}"


class CallbackAttempt(models.Model):
    """One delivery of a request's event to its callback URL: each attempt has its own
    ``delivery`` id; the retries of one event share its ``event``."""

    id = models.BigAutoField(primary_key=True)
    request = models.ForeignKey(UseRequest, on_delete=models.CASCADE, related_name="callbacks")
    event = models.ForeignKey(
        RequestEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="attempts"
    )
    delivery = models.UUIDField(default=uuid.uuid4, editable=False)
    attempt = models.PositiveIntegerField()
    status_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    body_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["request", "attempt"]

    def __str__(self) -> str:
        return f"callback {self.attempt} of {self.request_id}: {self.status_code or self.error}"
