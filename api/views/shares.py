"""Rights shares in the catalog's works (register, change, transfer part of, remove) and
artists' likeness.

Shares are visible to the parties involved and to auditors; that a likeness exists is public.
Changes go through ``governance.services.shares``, which checks who may make them. Works and
releases: ``api.views.catalog``.
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
from governance.models import Likeness, Right, RightsShare
from governance.services import shares as share_services

# ---------------------------------------------------------------------------------------------
# Rights shares
# ---------------------------------------------------------------------------------------------


class ShareOutputSerializer(serializers.ModelSerializer[RightsShare]):
    work = serializers.UUIDField(source="work_id")
    holder = serializers.UUIDField(source="holder_id")
    holder_name = serializers.CharField(source="holder.name")
    holder_unclaimed = serializers.BooleanField(
        source="holder.unclaimed", read_only=True,
        help_text="The holder is a rights controller a catalog feed named that has not joined "
        "(it answers with its default posture, opt-in, until the organisation claims it).",
    )  # fmt: skip

    class Meta:
        model = RightsShare
        fields = ["id", "work", "holder", "holder_name", "holder_unclaimed", "right", "share",
                  "territory_mode", "territories", "valid_from", "valid_until",
                  "controller_roles", "controller_type", "version", "created_at",
                  "updated_at"]  # fmt: skip
        read_only_fields = ["controller_roles", "controller_type"]


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
