"""Catalog imports: upload a CSV, DDEX ERN, DDEX MWN or works CSV file, then follow the job's
progress and report.

The job is stored with its outbox row and run by a worker (a broker outage only delays it). It
ends ``succeeded``, listing any rejected rows, or ``failed``: a file that cannot be read at all
(not UTF-8, not well-formed XML, a document type declaration, an oversized field, no header,
binary) fails with the reason in ``error`` and its line or XPath in ``problems``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.parsers import FormParser, MultiPartParser
from api.strict import StrictSerializer
from governance import selectors
from governance.exceptions import InvalidInput
from governance.models import ImportJob
from governance.services import imports as import_services


class ImportOutputSerializer(serializers.ModelSerializer[ImportJob]):
    party = serializers.UUIDField(source="party_id")
    progress = serializers.SerializerMethodField()
    read_progress = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = ["id", "party", "format", "filename", "sha256", "all_or_nothing", "status",
                  "total", "processed", "progress", "size", "bytes_read", "read_progress",
                  "counts", "problem_count", "problems",
                  "error", "created_at", "started_at", "finished_at"]  # fmt: skip

    def get_progress(self, job: ImportJob) -> float | None:
        """Share of the works done, 0 to 1 (``null`` until the file is read)."""
        return None if not job.total else round(job.processed / job.total, 4)

    def get_read_progress(self, job: ImportJob) -> float | None:
        """Share of the file read, 0 to 1 (``null`` until the job runs): the file is read whole
        before its works are applied (``progress``)."""
        return None if not job.size else round(job.bytes_read / job.size, 4)


class ImportListView(GenericAPIView[ImportJob]):
    """The caller's imports; ``POST`` a file (multipart ``file``) to start one (202, ``queued``)
    into the caller's own catalog. The format is detected (``format``): a catalog CSV, a DDEX
    ERN message, or musical works (a DDEX MWN message or the works CSV: docs/catalog-works.md).
    An empty file is a 400; any other file is accepted and its job tells what came of it."""

    class ImportUploadSerializer(StrictSerializer):
        file = serializers.FileField()
        all_or_nothing = serializers.BooleanField(default=False)

    serializer_class = ImportOutputSerializer
    parser_classes = [MultiPartParser, FormParser]
    ordering_fields = ["created_at"]

    def get_queryset(self) -> Any:
        return selectors.import_list(actor=actor_of(self.request))

    @extend_schema(tags=["catalog"], operation_id="imports_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["catalog"], operation_id="imports_create",
                   request={"multipart/form-data": ImportUploadSerializer},
                   responses={202: ImportOutputSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        data = self.ImportUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise InvalidInput(
                "file: too large.",
                fields={"file": [f"at most {settings.IMPORT_MAX_BYTES:,} bytes"]},
            )
        job = import_services.import_submit(
            actor=actor_of(request), filename=upload.name or "upload", data=upload.read(),
            all_or_nothing=data.validated_data["all_or_nothing"], now=timezone.now(),
        )  # fmt: skip
        response = Response(self.get_serializer(job).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/imports/{job.pk}/"
        return response


class ImportDetailView(GenericAPIView[ImportJob]):
    """One import: status, progress, counts and the rejected rows (the first 1,000)."""

    serializer_class = ImportOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="imports_retrieve")
    def get(self, request: Request, job_id: uuid.UUID) -> Response:
        job = selectors.import_get(actor=actor_of(request), job_id=job_id)
        return Response(self.get_serializer(job).data)
