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
    size = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Bytes of the file (known once the job runs)."
    )
    bytes_read = models.PositiveBigIntegerField(
        default=0, help_text="Bytes of the file read so far: reading comes before any work."
    )
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


class ImportDigest(models.Model):
    """What the last import of a party stored for a work, as a digest of what it read: a
    re-import of the same content by the same party skips the work without building it or
    loading its rows (docs/catalog-ddex.md, "Re-delivery").

    ``digest`` is the record's (for DDEX: its SoundRecording element's bytes with everything
    else of the message its fields are read from; for CSV: the merged record's fields, shares
    and releases). ``element`` is the DDEX element's alone, so a reader can skip an element
    before reading it. ``stamp`` is the work's state when the digest was written (its version,
    its shares' ids and versions, its releases): a work changed since by anyone no longer
    matches and is imported the long way, which writes a new digest."""

    work = models.OneToOneField(
        "governance.Work", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64)
    element = models.CharField(max_length=64, blank=True)
    stamp = models.CharField(max_length=32)
    shares = models.PositiveIntegerField(help_text="Shares the record had (for the counts).")

    class Meta:
        indexes = [models.Index(fields=["party", "element"])]

    def __str__(self) -> str:
        return f"import digest of {self.work_id}"
