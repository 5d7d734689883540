"""Parties and their members: what the caller's party is, and who acts for it."""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from governance import selectors
from governance.models import Party, PartyKind


class PartyOutputSerializer(serializers.ModelSerializer[Party]):
    unclaimed = serializers.BooleanField(
        read_only=True,
        help_text="Named by a catalog feed, and not yet claimed by the organisation.",
    )

    class Meta:
        model = Party
        fields = ["id", "kind", "name", "unclaimed", "created_at"]


class PartyFilter(django_filters.FilterSet):  # type: ignore[misc]
    kind = django_filters.ChoiceFilter(choices=PartyKind.choices)
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Party
        fields = ["kind", "name"]


class PartyListView(GenericAPIView[Party]):
    """The parties the caller may see: its own, or all of them for an auditor."""

    serializer_class = PartyOutputSerializer
    filterset_class = PartyFilter
    ordering_fields = ["name", "created_at", "kind"]

    def get_queryset(self) -> Any:
        return selectors.party_list(actor=actor_of(self.request))

    @extend_schema(tags=["parties"], operation_id="parties_list")
    def get(self, request: Request) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class PartyDetailView(GenericAPIView[Party]):
    """One party, if the caller may see it (404 otherwise)."""

    serializer_class = PartyOutputSerializer

    @extend_schema(tags=["parties"], operation_id="parties_retrieve")
    def get(self, request: Request, party_id: uuid.UUID) -> Response:
        party = selectors.party_get(actor=actor_of(request), party_id=party_id)
        return Response(self.get_serializer(party).data)


class MeView(GenericAPIView[Party]):
    """Who the caller is: user, acting party and role."""

    class OutputSerializer(serializers.Serializer[Any]):
        username = serializers.CharField()
        party = PartyOutputSerializer()
        role = serializers.CharField()
        token = serializers.CharField(allow_null=True, help_text="The token's id, if any.")

    serializer_class = OutputSerializer

    @extend_schema(tags=["parties"], operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        data = {
            "username": actor.user.get_username(),
            "party": actor.party,
            "role": actor.role,
            "token": actor.token.prefix if actor.token else None,
        }
        return Response(self.OutputSerializer(data).data)
