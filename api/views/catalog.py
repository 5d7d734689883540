"""The catalog: works, releases, rights shares and artists' likeness.

Work and release metadata is public to every party (licensees included); shares are visible
to the parties involved and to auditors. Changes go through ``governance.services.catalog``
and ``governance.services.shares``, which check who may make them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.strict import StrictSerializer
from governance import selectors
from governance.exceptions import PermissionDenied
from governance.models import (
    Credit,
    CreditRole,
    Likeness,
    Release,
    Right,
    RightsShare,
    Work,
    WorkKind,
)
from governance.services import catalog as catalog_services
from governance.services import shares as share_services

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
                  "duration_ms", "language", "release_date", "p_line", "credits", "registrant",
                  "version", "created_at", "updated_at"]  # fmt: skip


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


class WorkFilter(django_filters.FilterSet):  # type: ignore[misc]
    kind = django_filters.ChoiceFilter(choices=WorkKind.choices)
    title = django_filters.CharFilter(lookup_expr="icontains")
    display_artist = django_filters.CharFilter(lookup_expr="icontains")
    isrc = django_filters.CharFilter(method="_upper")
    iswc = django_filters.CharFilter(method="_upper")
    registrant = django_filters.UUIDFilter(field_name="registrant_id")
    composition = django_filters.UUIDFilter(field_name="composition_id")

    class Meta:
        model = Work
        fields = ["kind", "title", "display_artist", "isrc", "iswc", "registrant", "composition"]

    def _upper(self, queryset: Any, name: str, value: str) -> Any:
        compact = "".join(ch for ch in value if ch.isalnum()).upper()
        return queryset.filter(**{name: compact})


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
        fields = ["id", "upc", "title", "display_artist", "release_date", "tracks", "registrant",
                  "version", "created_at"]  # fmt: skip

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


# ---------------------------------------------------------------------------------------------
# Rights shares
# ---------------------------------------------------------------------------------------------


class ShareOutputSerializer(serializers.ModelSerializer[RightsShare]):
    work = serializers.UUIDField(source="work_id")
    holder = serializers.UUIDField(source="holder_id")
    holder_name = serializers.CharField(source="holder.name")

    class Meta:
        model = RightsShare
        fields = ["id", "work", "holder", "holder_name", "right", "share", "territory_mode",
                  "territories", "valid_from", "valid_until", "version", "created_at",
                  "updated_at"]  # fmt: skip


class ShareInputSerializer(StrictSerializer):
    work = serializers.UUIDField()
    holder = serializers.UUIDField()
    right = serializers.ChoiceField(choices=Right.choices)
    share = serializers.DecimalField(max_digits=6, decimal_places=3)
    territories = serializers.ListField(
        child=serializers.CharField(max_length=3), required=False, default=list,
        help_text='ISO 3166-1 alpha-2 codes; empty or ["WW"] for worldwide; prefix each with '
        '"-" to exclude ("-US" means everywhere but the US).',
    )  # fmt: skip
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)


class ShareFilter(django_filters.FilterSet):  # type: ignore[misc]
    work = django_filters.UUIDFilter(field_name="work_id")
    holder = django_filters.UUIDFilter(field_name="holder_id")
    right = django_filters.ChoiceFilter(choices=Right.choices)

    class Meta:
        model = RightsShare
        fields = ["work", "holder", "right"]


class ShareListView(GenericAPIView[RightsShare]):
    """Rights shares the caller may see. Only the work's registrant registers one (an artist
    credited on the work its own likeness share); a holder transfers part of its own share
    (``shares/<id>/transfer/``); anyone else files a claim (``claims/``)."""

    serializer_class = ShareOutputSerializer
    filterset_class = ShareFilter
    ordering_fields = ["created_at", "right"]

    def get_queryset(self) -> Any:
        return selectors.share_list(actor=actor_of(self.request))

    @extend_schema(tags=["catalog"], operation_id="shares_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["catalog"], operation_id="shares_create", request=ShareInputSerializer,
                   responses={201: ShareOutputSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        data = ShareInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        work = selectors.work_get(actor=actor, work_id=v.pop("work"))
        spec = share_services.share_spec(v)
        share = share_services.share_register(actor=actor, work=work, spec=spec, now=timezone.now())
        share = selectors.share_get(actor=actor, share_id=share.pk)
        return Response(self.get_serializer(share).data, status=status.HTTP_201_CREATED)


class ShareDetailView(GenericAPIView[RightsShare]):
    serializer_class = ShareOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="shares_retrieve")
    def get(self, request: Request, share_id: uuid.UUID) -> Response:
        share = selectors.share_get(actor=actor_of(request), share_id=share_id)
        return Response(self.get_serializer(share).data)

    @extend_schema(tags=["catalog"], operation_id="shares_partial_update",
                   request=ShareInputSerializer(partial=True))  # fmt: skip
    def patch(self, request: Request, share_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        share = selectors.share_get(actor=actor, share_id=share_id)
        data = ShareInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "work" in changes and changes.pop("work") != share.work_id:
            return _bad("work", "a share's work cannot change; register a new share")
        share = share_services.share_update(
            actor=actor, share=share, changes=changes, now=timezone.now()
        )
        return Response(
            self.get_serializer(selectors.share_get(actor=actor, share_id=share.pk)).data
        )

    @extend_schema(tags=["catalog"], operation_id="shares_destroy", responses={204: None})
    def delete(self, request: Request, share_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        share = selectors.share_get(actor=actor, share_id=share_id)
        share_services.share_remove(actor=actor, share=share, now=timezone.now())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ShareTransferView(GenericAPIView[RightsShare]):
    """The holder carves part of its share out for another party: the new share has the same
    right, territories and period, and the holder's share shrinks by as much (removed when all
    of it goes). Both changes are ledgered in one transaction."""

    class TransferInputSerializer(StrictSerializer):
        holder = serializers.UUIDField(help_text="The party that receives the part.")
        share = serializers.DecimalField(
            max_digits=6, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal(100),
            help_text="Percentage points taken from the holder's share.",
        )  # fmt: skip

    serializer_class = ShareOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="shares_transfer",
                   request=TransferInputSerializer,
                   responses={201: ShareOutputSerializer})  # fmt: skip
    def post(self, request: Request, share_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        share = selectors.share_get(actor=actor, share_id=share_id)
        data = self.TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new = share_services.share_transfer(
            actor=actor, share=share, holder_id=str(data.validated_data["holder"]),
            percent=data.validated_data["share"], now=timezone.now(),
        )  # fmt: skip
        new = selectors.share_get(actor=actor, share_id=new.pk)
        return Response(self.get_serializer(new).data, status=status.HTTP_201_CREATED)


def _bad(name: str, reason: str) -> Response:
    body = {"code": "invalid", "message": f"{name}: {reason}", "fields": {name: [reason]}}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


# ---------------------------------------------------------------------------------------------
# Likeness
# ---------------------------------------------------------------------------------------------


class LikenessSerializer(StrictSerializer, serializers.ModelSerializer[Likeness]):
    artist = serializers.UUIDField(source="artist_id", read_only=True)
    artist_name = serializers.CharField(source="artist.name", read_only=True)

    class Meta:
        model = Likeness
        fields = ["id", "artist", "artist_name", "aspects", "aliases", "version", "updated_at"]
        read_only_fields = ["id", "aspects", "version", "updated_at"]


class LikenessView(GenericAPIView[Likeness]):
    """An artist's likeness (voice, name, image): public that it exists; only the artist edits
    its aliases, and only the artist's consent rules answer for it."""

    serializer_class = LikenessSerializer

    @extend_schema(tags=["catalog"], operation_id="likeness_retrieve")
    def get(self, request: Request, party_id: uuid.UUID) -> Response:
        likeness = selectors.likeness_get(actor=actor_of(request), artist_id=party_id)
        return Response(self.get_serializer(likeness).data)

    @extend_schema(tags=["catalog"], operation_id="likeness_partial_update")
    def patch(self, request: Request, party_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        likeness = selectors.likeness_get(actor=actor, artist_id=party_id)
        if party_id != actor.party.pk:
            raise PermissionDenied("Only the artist changes its likeness.")
        data = LikenessSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        likeness = share_services.likeness_update(
            actor=actor,
            aliases=data.validated_data.get("aliases", likeness.aliases),
            now=timezone.now(),
        )
        return Response(self.get_serializer(likeness).data)
