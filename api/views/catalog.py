"""The catalog: works (recordings and compositions) and releases.

Their metadata is public to every party (licensees included); labels and publishers register
them and only a work's registrant changes it, through ``governance.services.catalog``, which
checks who may. Rights shares and likeness: ``api.views.shares``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.strict import StrictSerializer
from governance import selectors
from governance.catalog_search import WorkFilter
from governance.models import Credit, CreditRole, Release, Work, WorkKind
from governance.services import catalog as catalog_services

# ---------------------------------------------------------------------------------------------
# Works
# ---------------------------------------------------------------------------------------------


class CreditSerializer(serializers.ModelSerializer[Credit]):
    party = serializers.UUIDField(source="party_id", allow_null=True, required=False)

    class Meta:
        model = Credit
        fields = ["name", "role", "party", "isni", "ipi"]


class WorkOutputSerializer(serializers.ModelSerializer[Work]):
    credits = CreditSerializer(many=True, read_only=True)
    composition = serializers.UUIDField(source="composition_id", allow_null=True)
    registrant = serializers.UUIDField(source="registrant_id")

    class Meta:
        model = Work
        fields = ["id", "kind", "title", "display_artist", "isrc", "iswc", "composition",
                  "declared_iswc", "duration_ms", "language", "languages", "release_date",
                  "p_line", "p_year", "genre", "parental_warning", "ai_declaration", "ai_parts",
                  "ai_declared_in", "credits", "registrant", "version", "created_at",
                  "updated_at"]  # fmt: skip


class CreditInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=300)
    role = serializers.ChoiceField(choices=CreditRole.choices)
    party = serializers.UUIDField(required=False, allow_null=True)
    isni = serializers.CharField(required=False, allow_blank=True, max_length=32)
    ipi = serializers.CharField(required=False, allow_blank=True, max_length=32)


class WorkInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=WorkKind.choices)
    title = serializers.CharField(max_length=500)
    display_artist = serializers.CharField(max_length=500, required=False, allow_blank=True)
    isrc = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Required for a recording; none for a composition.",
    )
    iswc = serializers.CharField(
        max_length=32,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Required for a composition; none for a recording.",
    )
    composition = serializers.UUIDField(required=False, allow_null=True)
    duration_ms = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=86_399_999
    )
    language = serializers.CharField(max_length=8, required=False, allow_blank=True)
    release_date = serializers.DateField(required=False, allow_null=True)
    p_line = serializers.CharField(max_length=300, required=False, allow_blank=True)
    credits = CreditInputSerializer(many=True, required=False)


class WorkListView(GenericAPIView[Work]):
    """Registered works (public catalog metadata); labels and publishers register new ones."""

    serializer_class = WorkOutputSerializer
    filterset_class = WorkFilter
    ordering_fields = ["title", "created_at", "updated_at"]

    def get_queryset(self) -> Any:
        return selectors.work_list(actor=actor_of(self.request))

    @extend_schema(tags=["catalog"], operation_id="works_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["catalog"], operation_id="works_create", request=WorkInputSerializer,
                   responses={201: WorkOutputSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        data = WorkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        spec = catalog_services.work_spec(data.validated_data)
        work = catalog_services.work_register(
            actor=actor_of(request), spec=spec, now=timezone.now()
        )
        work = selectors.work_get(actor=actor_of(request), work_id=work.pk)
        return Response(self.get_serializer(work).data, status=status.HTTP_201_CREATED)


class WorkDetailView(GenericAPIView[Work]):
    serializer_class = WorkOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="works_retrieve")
    def get(self, request: Request, work_id: uuid.UUID) -> Response:
        work = selectors.work_get(actor=actor_of(request), work_id=work_id)
        return Response(self.get_serializer(work).data)

    @extend_schema(tags=["catalog"], operation_id="works_partial_update",
                   request=WorkInputSerializer(partial=True))  # fmt: skip
    def patch(self, request: Request, work_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        work = selectors.work_get(actor=actor, work_id=work_id)
        data = WorkInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "credits" in changes:
            changes["credits"] = [dict(c) for c in changes["credits"]]
        work = catalog_services.work_update(
            actor=actor, work=work, changes=changes, now=timezone.now()
        )
        return Response(self.get_serializer(selectors.work_get(actor=actor, work_id=work.pk)).data)


# ---------------------------------------------------------------------------------------------
# Releases
# ---------------------------------------------------------------------------------------------


class ReleaseOutputSerializer(serializers.ModelSerializer[Release]):
    registrant = serializers.UUIDField(source="registrant_id")
    tracks = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = ["id", "upc", "title", "display_artist", "release_date", "catalog_number",
                  "label_name", "c_line", "tracks", "registrant", "version",
                  "created_at"]  # fmt: skip

    def get_tracks(self, release: Release) -> list[str]:
        rows = sorted(release.releasetrack_set.all(), key=lambda t: t.position)
        return [str(t.work_id) for t in rows]


class ReleaseListView(GenericAPIView[Release]):
    class ReleaseInputSerializer(StrictSerializer):
        upc = serializers.CharField(max_length=32)
        title = serializers.CharField(max_length=500)
        display_artist = serializers.CharField(max_length=500, required=False, default="")
        release_date = serializers.DateField(required=False, allow_null=True, default=None)
        tracks = serializers.ListField(child=serializers.UUIDField(), max_length=500)

    serializer_class = ReleaseOutputSerializer
    filterset_fields = ["upc"]
    ordering_fields = ["title", "created_at"]

    def get_queryset(self) -> Any:
        return selectors.release_list(actor=actor_of(self.request))

    @extend_schema(tags=["catalog"], operation_id="releases_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["catalog"], operation_id="releases_create", request=ReleaseInputSerializer,
                   responses={201: ReleaseOutputSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        data = self.ReleaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        release = catalog_services.release_register(
            actor=actor, upc=v["upc"], title=v["title"], display_artist=v["display_artist"],
            release_date=v["release_date"], track_ids=v["tracks"], now=timezone.now(),
        )  # fmt: skip
        release = selectors.release_get(actor=actor, release_id=release.pk)
        return Response(self.get_serializer(release).data, status=status.HTTP_201_CREATED)


class ReleaseDetailView(GenericAPIView[Release]):
    serializer_class = ReleaseOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="releases_retrieve")
    def get(self, request: Request, release_id: uuid.UUID) -> Response:
        release = selectors.release_get(actor=actor_of(request), release_id=release_id)
        return Response(self.get_serializer(release).data)
