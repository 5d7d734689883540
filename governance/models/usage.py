"""What each holder is owed (docs/lifecycle-statements.md): a licensee's usage reports on its
allowed decisions, the per-holder lines each report is split into when it is received, and
each holder's statement of a closed period as committed to the ledger.

Reports and lines are never edited: a line cites what it was computed from (the decision, the
rule version whose terms priced it, the share percentage the decision found in force and the
share rows), so a later change of shares or rules leaves it as it was.
"""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models

from governance.models.identity import Party
from governance.models.requests import Decision

AMOUNT_DIGITS, AMOUNT_PLACES = 28, 4
"""Amounts at the currency's minor unit (at most 4 places, ISO 4217's largest exponent)."""


class UsageReport(models.Model):
    """A licensee's report of its use under one decision in one period (a calendar month)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, related_name="usage_reports")
    licensee = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="usage_reports")
    period = models.CharField(max_length=7, help_text="The statement period, YYYY-MM.")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Inclusive: the last day of use reported.")
    territory = models.CharField(max_length=2, blank=True)
    unit = models.CharField(max_length=16)
    units = models.DecimalField(max_digits=24, decimal_places=6)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    rated = models.BooleanField(
        help_text="Priced by the terms' rates (else the amount is the licensee's)."
    )
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    request_sha256 = models.CharField(max_length=64)
    leaf_hash = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["licensee", "idempotency_key"], name="usage_report_idempotency"
            ),
            models.CheckConstraint(condition=models.Q(units__gte=0), name="usage_units"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="usage_amount"),
            models.CheckConstraint(
                condition=models.Q(period_start__lte=models.F("period_end")),
                name="usage_period",
            ),
        ]
        indexes = [models.Index(fields=["licensee", "created_at"])]

    def __str__(self) -> str:
        return f"usage report {self.id} on {self.decision_id} for {self.period}"


class UsageLine(models.Model):
    """What one holder is owed from one report: its part, or the report's rounding residual."""

    id = models.BigAutoField(primary_key=True)
    report = models.ForeignKey(UsageReport, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    holder = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="usage_lines")
    period = models.CharField(max_length=7)
    subject = models.UUIDField(help_text="The work (or, for likeness, the artist) used.")
    subject_kind = models.CharField(max_length=8)  # work | artist
    right = models.CharField(max_length=16)
    share = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    shares = ArrayField(models.UUIDField(), default=list, blank=True)
    rule = models.UUIDField(null=True, blank=True)
    rule_version = models.PositiveIntegerField(null=True, blank=True)
    compensation_ref = models.CharField(max_length=500, blank=True)
    rate = models.DecimalField(max_digits=28, decimal_places=10, null=True, blank=True)
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    residual = models.BooleanField(default=False)

    class Meta:
        ordering = ["report", "position"]
        constraints = [
            models.UniqueConstraint(fields=["report", "position"], name="usage_line_position"),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="usage_line_amount"),
        ]
        indexes = [models.Index(fields=["holder", "period"])]

    def __str__(self) -> str:
        return f"line {self.position} of {self.report_id}: {self.amount} {self.currency}"


class Statement(models.Model):
    """A holder's statement of a closed period as first shown, and its ledger entry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    holder = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="statements")
    period = models.CharField(max_length=7)
    content = models.JSONField(help_text="The committed statement, as shown.")
    leaf_hash = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["holder", "period"]
        constraints = [
            models.UniqueConstraint(fields=["holder", "period"], name="statement_once"),
        ]

    def __str__(self) -> str:
        return f"statement of {self.holder_id} for {self.period}"
