"""Disputes of a decision by its licensee, the deciding holders' answers, and the appeal of an
upheld dispute to the operator (docs/lifecycle-disputes.md). The decision's row keeps its
original outcome; a resolution that changes it is recorded beside it (``Decision.resolved_*``)
and in its own ledger entry, which supersedes the outcome's entry."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from governance.models.identity import Party
from governance.models.requests import Decision

REASON_CODES = ("wrong_match", "wrong_rights_holder", "consent_misread", "licence_held_outside")
"""Why a licensee disputes a decision."""


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"  # waiting for the deciding holders
    ESCALATED = "escalated", "Escalated"  # the operator decides (silence past the deadline)
    UPHELD = "upheld", "Upheld"  # the decision stands (appealable once if holders upheld it)
    RELEASED = "released", "Released"  # the holders (or the operator) let the use go
    APPEALED = "appealed", "Appealed"  # the licensee appealed an upheld dispute: the operator


OPEN_STATUSES = (DisputeStatus.OPEN, DisputeStatus.ESCALATED, DisputeStatus.APPEALED)


class Dispute(models.Model):
    """A licensee's dispute of one decision (at most one per decision, ever: an upheld dispute
    is appealed, not disputed again). ``holders`` are the parties whose answer decided the
    disputed outcome, fixed when it is opened; each answers once (:class:`DisputeAnswer`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, related_name="dispute")
    licensee = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="disputes")
    reason_code = models.CharField(max_length=32, choices=[(c, c) for c in REASON_CODES])
    statement = models.TextField()
    holders = ArrayField(models.UUIDField(), default=list, blank=True)
    disputed_outcome = models.CharField(max_length=16)
    status = models.CharField(
        max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    outcome = models.CharField(max_length=16, blank=True)  # the decision's outcome after it
    resolved_by = models.CharField(max_length=16, blank=True)  # holders | operator
    operator_reason = models.TextField(blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    ruled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    opened_at = models.DateTimeField()
    deadline = models.DateTimeField()
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    appeal_statement = models.TextField(blank=True)
    appeal_opened_at = models.DateTimeField(null=True, blank=True)
    appeal_result = models.CharField(max_length=16, blank=True)  # upheld | released
    appeal_reason = models.TextField(blank=True)
    appeal_decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["status", "deadline"]),
            models.Index(fields=["licensee", "opened_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    reason_code__in=list(REASON_CODES),
                    status__in=[s.value for s in DisputeStatus],
                ),
                name="dispute_codes",
            ),
        ]

    def __str__(self) -> str:
        return f"dispute {self.id} of {self.decision_id}: {self.status}"


class DisputeAnswer(models.Model):
    """One deciding holder's answer to a dispute: ``uphold`` (the decision stands) or
    ``release`` (it lets the use go), with its reason; at most one per holder."""

    id = models.BigAutoField(primary_key=True)
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="answers")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="dispute_answers")
    answer = models.CharField(max_length=16)  # uphold | release
    reason = models.TextField()
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["answered_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "party"], name="dispute_answer_unique"),
            models.CheckConstraint(
                condition=models.Q(answer__in=["uphold", "release"]), name="dispute_answer_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.answer} of {self.dispute_id} by {self.party_id}"
