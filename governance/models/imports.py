"""Catalog import jobs: a file handed in through the API, imported by a Celery worker."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from governance.models.identity import Party


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV (docs/catalog-csv.md)"
    DDEX = "ddex", "DDEX ERN NewReleaseMessage 3.8.x or 4.x"
    MWN = "mwn", "DDEX MWN musical works notification (docs/catalog-works.md)"
    WORKS = "works", "Musical works CSV, CWR-like (docs/catalog-works.md)"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    SUCCEEDED_WITH_PROBLEMS = "succeeded_with_problems", "Succeeded with rejected rows or elements"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One import of a catalog file for a party; its progress and its report."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="imports")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    format = models.CharField(max_length=8, choices=ImportFormat.choices)
    filename = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    all_or_nothing = models.BooleanField(default=False)
    status = models.CharField(
        max_length=32, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total = models.PositiveIntegerField(null=True, blank=True)
    processed = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.filename} ({self.status})"
