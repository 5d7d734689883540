"""A work's content: its registrant or a holder of a share of it hands in audio (multipart
``file``), which a worker fingerprints, or its lyrics (``lyrics``), which a worker embeds; the
content is never stored, only its SHA-256 and the vectors (docs/matching.md, "Content").
Those who may hand it in, and auditors, read the list.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.parsers import MultiPartParser
from api.strict import StrictSerializer
from api.uploads import ContentUploadHandler
from governance import selectors
from governance.models import WorkContent
from governance.services import content as content_services


class ContentSpaceSerializer(serializers.Serializer[dict[str, Any]]):
    """What one space holds of a content: the space, its model and version, and how many
    vectors (fingerprint hashes, composition segments, lyric stanzas) were stored."""

    space = serializers.CharField()
    model = serializers.CharField()
    model_version = serializers.CharField()
    vector_count = serializers.IntegerField()


class ContentOutputSerializer(serializers.ModelSerializer[WorkContent]):
    work = serializers.UUIDField(source="work_id")
    spaces = ContentSpaceSerializer(
        many=True,
        read_only=True,
        help_text="Once completed, per space its vectors are stored in (fingerprint, then "
        "composition for audio of 30 s or more; text for lyrics): as its ledger entry says. "
        "Never the content itself.",
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = WorkContent
        fields = ["id", "work", "kind", "status", "error", "detail", "sha256", "size", "seconds",
                  "codec", "model", "model_version", "vector_count", "spaces", "created_at",
                  "completed_at", "url"]  # fmt: skip

    def get_url(self, content: WorkContent) -> str:
        """Where the content's status is read (``Location`` of its 202)."""
        return reverse(
            "api:work-content-detail", kwargs={"work_id": content.work_id, "content_id": content.pk}
        )


class WorkContentListView(GenericAPIView[WorkContent]):
    """A work's contents, newest first (never their bytes); ``POST`` audio (multipart ``file``)
    to hand in another: 202 and a job (``received``, then ``completed`` or ``failed``), or 200
    with the earlier one if the same bytes were handed in already for this model version."""

    class ContentUploadSerializer(StrictSerializer):
        """A work's audio, as one multipart ``file`` part, or its ``lyrics`` (one of them)."""

        file = serializers.FileField(
            required=False, help_text="Audio: WAV, FLAC, MP3, AAC/M4A, OGG Vorbis or Opus."
        )
        lyrics = serializers.CharField(
            required=False, trim_whitespace=False, allow_blank=True,
            help_text="The work's lyrics as text, stanzas separated by blank lines (at most "
            "20,000 characters and 64 stanzas); a recording's or a composition's. Embedded in "
            "the text space, one vector per stanza; the text itself is not kept.",
        )  # fmt: skip

        def to_internal_value(self, data: Any) -> Any:
            # Said with the other fields' errors (an unknown field, say), not after them.
            given = {k for k in ("file", "lyrics") if hasattr(data, "keys") and k in data}
            wrong = {}
            if len(given) != 1:
                wrong = {"file": ["give exactly one of file (audio) and lyrics (text)"]}
            try:
                value = super().to_internal_value(data)
            except serializers.ValidationError as exc:
                if wrong and isinstance(exc.detail, dict):
                    raise serializers.ValidationError({**wrong, **exc.detail}) from None
                raise
            if wrong:
                raise serializers.ValidationError(wrong)
            return value

    serializer_class = ContentOutputSerializer
    parser_classes = [MultiPartParser]

    def get_queryset(self) -> Any:
        actor = actor_of(self.request)
        work = selectors.work_get(actor=actor, work_id=self.kwargs["work_id"])
        return selectors.content_list(actor=actor, work=work)

    @extend_schema(tags=["catalog"], operation_id="work_content_list")
    def get(self, request: Request, work_id: uuid.UUID) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["catalog"], operation_id="work_content_create",
                   request={"multipart/form-data": ContentUploadSerializer},
                   responses={202: ContentOutputSerializer,
                              200: ContentOutputSerializer})  # fmt: skip
    def post(self, request: Request, work_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        work = selectors.work_get(actor=actor, work_id=work_id)
        content_services.content_submit_check(actor=actor, work=work)  # before the body is read
        # The bytes are counted as they arrive: an oversized upload is refused before it is
        # read whole (api/uploads.py).
        request._request.upload_handlers = [ContentUploadHandler(request._request)]
        data = self.ContentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data.get("file")
        content, created = content_services.content_submit(
            actor=actor, work=work, data=None if upload is None else upload.read(),
            lyrics=data.validated_data.get("lyrics"), now=timezone.now(),
        )  # fmt: skip
        body = self.get_serializer(content).data
        response = Response(
            body, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        )
        response["Location"] = body["url"]
        return response


class WorkContentDetailView(GenericAPIView[WorkContent]):
    """One content of a work: its job's status, and what it made of it."""

    serializer_class = ContentOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="work_content_retrieve")
    def get(self, request: Request, work_id: uuid.UUID, content_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        work = selectors.work_get(actor=actor, work_id=work_id)
        content = selectors.content_get(actor=actor, work=work, content_id=content_id)
        return Response(self.get_serializer(content).data)
