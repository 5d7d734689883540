"""AI-use requests (JSON items or a manifest), their status and results, and synchronous
checks. Decisions, reviews, insights, embedding spaces and the callback secret have their own
modules beside this one."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.filters import UseRequestFilter
from api.parsers import FormParser, JSONParser, MultiPartParser
from api.permissions import party_kind_in
from api.schema import ItemField
from api.strict import StrictSerializer
from api.uploads import ManifestUploadHandler
from api.views.callbacks import REQUEST_EVENT_CALLBACK
from api.views.decisions import DecisionSerializer
from governance import selectors
from governance.exceptions import InvalidInput
from governance.models import Decision, PartyKind, RequestStatus, UseRequest
from governance.services import checks, request_specs
from governance.services import requests as request_services
from governance.terms import USES

__all__ = ["DecisionSerializer"]  # re-exported: its home is api.views.decisions

IDEMPOTENCY_KEY_MAX = 200
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
    OpenApiParameter.HEADER,
    required=False,
)


def idempotency_key_of(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, if any (a 400 if too long)."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise InvalidInput.field("Idempotency-Key", f"at most {IDEMPOTENCY_KEY_MAX} characters")
    return key


class RequestInputSerializer(StrictSerializer):
    use = serializers.ChoiceField(choices=USES)
    model_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    territories = serializers.ListField(
        child=serializers.CharField(max_length=3),
        required=False,
        default=list,
        help_text="ISO 3166-1 alpha-2 codes of the territories of use; empty for worldwide.",
    )
    commercial = serializers.BooleanField(default=True)
    period_start = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Start of the period of use (RFC 3339). The whole period is decided: a rule "
        "answers only for the part its window covers. Without period_end, the use has no end.",
    )
    period_end = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="End of the period of use (exclusive). Without period_start, the period runs "
        "from the request's time; without either, the request's time alone is decided.",
    )
    callback_url = serializers.URLField(required=False, allow_blank=True, max_length=500)


class ItemsRequestSerializer(RequestInputSerializer):
    items = serializers.ListField(
        child=ItemField(),
        min_length=1,
        max_length=request_specs.MAX_ITEMS,
        help_text='Each {"isrc"|"iswc"|"upc"|"work_id": "..."}, {"vectors": [{"space": '
        '"...", "vector": [...]}]}, {"audio_base64": "..."}, {"fingerprint": {"model_version": '
        '"...", "data": "<base64>", "sha256": "<hex of the audio>"}}, {"text": "<a prompt>"} '
        "(matched against artists' names and aliases: a named artist is decided on their "
        'likeness) or {"lyrics": "<text>"} (matched against works\' lyrics) (docs/api.md).',
    )


class ManifestRequestSerializer(RequestInputSerializer):
    manifest = serializers.FileField(
        help_text="CSV (isrc/iswc/upc/work_id columns) or JSONL. Instead of a manifest, "
        "multipart may carry audio: one or more `file` parts (up to 100), an item each."
    )
    # A form field: "FR DE" or "FR,DE".
    territories = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, default=""
    )


MAX_AUDIO_FILES = 100
"""Audio files in one multipart request (Django's ``DATA_UPLOAD_MAX_NUMBER_FILES``)."""


class AudioFilesRequestSerializer(RequestInputSerializer):
    file = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=MAX_AUDIO_FILES,
        help_text="Audio files (WAV, FLAC, MP3, AAC/M4A, OGG), one item each.",
    )
    territories = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, default=""
    )


class UseRequestSerializer(serializers.ModelSerializer[UseRequest]):
    licensee = serializers.UUIDField(source="licensee_id")
    status_url = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = UseRequest
        fields = [
            "id",
            "licensee",
            "kind",
            "use",
            "model_name",
            "territories",
            "commercial",
            "period_start",
            "period_end",
            "callback_url",
            "status",
            "item_count",
            "done_count",
            "progress",
            "summary",
            "outcome",
            "created_at",
            "completed_at",
            "status_url",
        ]

    def get_status_url(self, r: UseRequest) -> str:
        return status_url_of(r)

    def get_progress(self, r: UseRequest) -> float:
        return round(r.done_count / r.item_count, 4) if r.item_count else 1.0


RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    response=[200, 202],
    description="Seconds to wait before reading the status again (while it is not completed).",
)


def retry_after(use_request: UseRequest) -> int:
    """Seconds until a request's status is worth reading again: a couple for a small request,
    more for the items a large one still has to decide (at most a minute)."""
    remaining = max(use_request.item_count - use_request.done_count, 0)
    return min(60, 2 + remaining // 10_000)


def status_url_of(use_request: UseRequest) -> str:
    """Where a request's status is read (``Location`` of its 202, ``status_url`` of its body)."""
    return reverse("api:use-request-detail", kwargs={"request_id": use_request.pk})


class UseRequestListView(GenericAPIView[UseRequest]):
    """A licensee asks before it uses music: 202 with the status URL; the items are decided by
    workers. JSON with ``items`` (up to 1,000), or multipart with a ``manifest`` file (up to
    1,000,000 items, decided in parallel chunks)."""

    serializer_class = UseRequestSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    ordering_fields = ["created_at"]
    filterset_class = UseRequestFilter

    def get_queryset(self) -> Any:
        return selectors.use_request_list(actor=actor_of(self.request))

    @extend_schema(tags=["requests"], operation_id="use_requests_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=["requests"],
        operation_id="use_requests_create",
        request={
            "application/json": ItemsRequestSerializer,
            "multipart/form-data": ManifestRequestSerializer,
        },
        parameters=[IDEMPOTENCY, RETRY_AFTER],
        responses={202: UseRequestSerializer},
        callbacks=[REQUEST_EVENT_CALLBACK],
    )
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        actor.require_kind(PartyKind.LICENSEE, action="Asking to use music")
        idempotency_key = idempotency_key_of(request)
        if request.content_type.startswith("multipart/"):
            # A manifest's bytes and lines are counted as they arrive, and an oversized one is
            # refused before it is read whole (api/uploads.py).
            request._request.upload_handlers = [ManifestUploadHandler(request._request)]
        data: serializers.Serializer[Any]
        if "file" in request.data:
            data = AudioFilesRequestSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            fields = {k: v for k, v in data.validated_data.items() if k != "file"}
            use_request, created = request_services.use_request_submit(
                actor=actor,
                fields=fields,
                audio_files=[upload.file for upload in data.validated_data["file"]],
                idempotency_key=idempotency_key,
                now=timezone.now(),
            )
        elif "manifest" in request.data:
            data = ManifestRequestSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            upload = data.validated_data["manifest"]
            use_request, created = request_services.use_request_submit(
                actor=actor,
                fields=data.validated_data,
                manifest=upload.file,
                manifest_name=upload.name or "",
                idempotency_key=idempotency_key,
                now=timezone.now(),
            )
        else:
            data = ItemsRequestSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            use_request, created = request_services.use_request_submit(
                actor=actor,
                fields=data.validated_data,
                items=data.validated_data["items"],
                idempotency_key=idempotency_key,
                now=timezone.now(),
            )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        body = self.get_serializer(use_request).data
        response = Response(body, status=code)
        response["Location"] = body["status_url"]
        if use_request.status != RequestStatus.COMPLETED:
            response["Retry-After"] = str(retry_after(use_request))
        return response


class CheckView(GenericAPIView[Decision]):
    """Decide one item now, with the same semantics, ledgered the same way: JSON with an
    ``item``, or multipart with the request's fields and one audio ``file``."""

    serializer_class = DecisionSerializer
    permission_classes = [party_kind_in(PartyKind.LICENSEE)]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    class CheckFileSerializer(RequestInputSerializer):
        file = serializers.FileField(help_text="An audio file: WAV, FLAC, MP3, AAC/M4A, OGG.")
        territories = serializers.CharField(  # type: ignore[assignment]
            required=False, allow_blank=True, default=""
        )

    class CheckInputSerializer(RequestInputSerializer):
        item = ItemField(
            help_text="One item, as in a request's items: an identifier, vectors, "
            "audio_base64, a fingerprint, text (a prompt: the artist it names is decided on "
            "their likeness) or lyrics (the work whose lyrics they are)."
        )

    @extend_schema(
        tags=["requests"],
        operation_id="checks_create",
        request={
            "application/json": CheckInputSerializer,
            "multipart/form-data": CheckFileSerializer,
        },
        parameters=[IDEMPOTENCY],
        responses={200: DecisionSerializer},
    )
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        idempotency_key = idempotency_key_of(request)
        if request.content_type.startswith("multipart/"):
            # An audio file's bytes are counted as they arrive (api/uploads.py).
            request._request.upload_handlers = [ManifestUploadHandler(request._request)]
            form = self.CheckFileSerializer(data=request.data)
            form.is_valid(raise_exception=True)
            terms = {k: v for k, v in form.validated_data.items() if k != "file"}
            terms["territories"] = terms["territories"].replace(",", " ").split()
            item = request_specs.audio_file_item(form.validated_data["file"].read(), name="file")
            spec = request_specs.request_spec(terms)
            decision = checks.check_decide(
                actor=actor, spec=spec, item=item, now=timezone.now(),
                idempotency_key=idempotency_key,
            )  # fmt: skip
            return Response(self.get_serializer(decision).data)
        data = self.CheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        raw = data.validated_data["item"]
        # Only an item with vectors needs the spaces (a check by identifier skips the query).
        spaces = request_specs.spaces_by_name() if "vectors" in raw else {}
        item = request_specs.item_spec(raw, name="item", spaces=spaces)
        spec = request_specs.request_spec(data.validated_data)
        decision = checks.check_decide(
            actor=actor, spec=spec, item=item, now=timezone.now(), idempotency_key=idempotency_key
        )
        return Response(self.get_serializer(decision).data)
