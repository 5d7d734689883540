"""Rights claims: a label, publisher or artist that believes it holds a right of a work it was
not given files a claim; the work's registrant accepts (the share is registered) or rejects it.

A claim is visible to its claimant, to the work's registrant and to auditors; to everyone
else it does not exist (404). Changes go through ``governance.services.claims``.
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
from governance.models import ClaimStatus, Right, RightsClaim
from governance.services import claims as claim_services
from governance.services import shares as share_services


class ClaimOutputSerializer(serializers.ModelSerializer[RightsClaim]):
    work = serializers.UUIDField(source="work_id")
    claimant = serializers.UUIDField(source="claimant_id")
    claimant_name = serializers.CharField(source="claimant.name")
    decided_by = serializers.SerializerMethodField(
        help_text="The deciding party's id, \"operator\" for an operator's ruling, or null."
    )
    granted_share = serializers.UUIDField(source="granted_share_id", allow_null=True)

    class Meta:
        model = RightsClaim
        fields = ["id", "work", "claimant", "claimant_name", "right", "share", "territory_mode",
                  "territories", "valid_from", "valid_until", "statement", "status", "reason",
                  "decided_by", "decided_at", "granted_share",
                  "created_at"]  # fmt: skip

    def get_decided_by(self, claim: RightsClaim) -> str | None:
        if claim.decided_at is None:
            return None
        return "operator" if claim.decided_by_party_id is None else str(claim.decided_by_party_id)


class ClaimInputSerializer(StrictSerializer):
    work = serializers.UUIDField()
    right = serializers.ChoiceField(choices=Right.choices)
    share = serializers.DecimalField(
        max_digits=6, decimal_places=3, min_value=Decimal("0.001"), max_value=Decimal(100)
    )
    territories = serializers.ListField(
        child=serializers.CharField(max_length=3), required=False, default=list, max_length=300,
        help_text='ISO 3166-1 alpha-2 codes; empty or ["WW"] for worldwide; prefix each with '
        '"-" to exclude.',
    )  # fmt: skip
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    statement = serializers.CharField(
        max_length=claim_services.STATEMENT_MAX,
        help_text="Why you hold this right (contract, registration, ...).",
    )


class ClaimDecisionSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=claim_services.REASON_MAX, required=False, allow_blank=True, default=""
    )


class ClaimFilter(django_filters.FilterSet):  # type: ignore[misc]
    work = django_filters.UUIDFilter(field_name="work_id")
    claimant = django_filters.UUIDFilter(field_name="claimant_id")
    right = django_filters.ChoiceFilter(choices=Right.choices)
    status = django_filters.ChoiceFilter(choices=ClaimStatus.choices)

    class Meta:
        model = RightsClaim
        fields = ["work", "claimant", "right", "status"]


class ClaimListView(GenericAPIView[RightsClaim]):
    """Claims the caller filed or that concern works it registered (auditors: all). A label,
    publisher or artist files one; it changes nothing until the registrant decides."""

    serializer_class = ClaimOutputSerializer
    filterset_class = ClaimFilter
    ordering_fields = ["created_at", "decided_at"]

    def get_queryset(self) -> Any:
        return selectors.claim_list(actor=actor_of(self.request))

    @extend_schema(tags=["catalog"], operation_id="claims_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["catalog"], operation_id="claims_create", request=ClaimInputSerializer,
                   responses={201: ClaimOutputSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        data = ClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        work = selectors.work_get(actor=actor, work_id=v.pop("work"))
        statement = v.pop("statement")
        spec = share_services.share_spec({**v, "holder": str(actor.party.pk)})
        claim = claim_services.claim_file(
            actor=actor, work=work, spec=spec, statement=statement, now=timezone.now()
        )
        claim = selectors.claim_get(actor=actor, claim_id=claim.pk)
        return Response(self.get_serializer(claim).data, status=status.HTTP_201_CREATED)


class ClaimDetailView(GenericAPIView[RightsClaim]):
    serializer_class = ClaimOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="claims_retrieve")
    def get(self, request: Request, claim_id: uuid.UUID) -> Response:
        claim = selectors.claim_get(actor=actor_of(request), claim_id=claim_id)
        return Response(self.get_serializer(claim).data)


class ClaimDecideView(GenericAPIView[RightsClaim]):
    serializer_class = ClaimOutputSerializer
    accept = True

    def post(self, request: Request, claim_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        claim = selectors.claim_get(actor=actor, claim_id=claim_id)
        data = ClaimDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decide = claim_services.claim_accept if self.accept else claim_services.claim_reject
        claim = decide(
            actor=actor, claim=claim, reason=data.validated_data["reason"], now=timezone.now()
        )
        claim = selectors.claim_get(actor=actor, claim_id=claim.pk)
        return Response(self.get_serializer(claim).data)


class ClaimAcceptView(ClaimDecideView):
    """The work's registrant accepts the claim: the claimed share is registered (subject to the
    100 % rule) and both are ledgered."""

    accept = True

    @extend_schema(tags=["catalog"], operation_id="claims_accept", request=ClaimDecisionSerializer)
    def post(self, request: Request, claim_id: uuid.UUID) -> Response:
        return super().post(request, claim_id)


class ClaimRejectView(ClaimDecideView):
    """The work's registrant rejects the claim, saying why."""

    accept = False

    @extend_schema(tags=["catalog"], operation_id="claims_reject", request=ClaimDecisionSerializer)
    def post(self, request: Request, claim_id: uuid.UUID) -> Response:
        return super().post(request, claim_id)
