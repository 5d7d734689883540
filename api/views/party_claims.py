"""Party claims: the organisation behind an unclaimed party (a rights holder a label's feed
named) claims it when its identifiers match the feed's; the party whose feed named it accepts
(the shares move to the claimant) or rejects it.

A claim is visible to its claimant, to the party that named the claimed party and to auditors;
to everyone else it does not exist (404). Changes go through
``governance.services.party_claims``.
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
from governance.models import Party, PartyClaim
from governance.services import party_claims as services


class PartyClaimOutputSerializer(serializers.ModelSerializer[PartyClaim]):
    party = serializers.UUIDField(source="party_id")
    party_name = serializers.CharField(source="party.name")
    claimant = serializers.UUIDField(source="claimant_id")
    claimant_name = serializers.CharField(source="claimant.name")
    decided_by = serializers.SerializerMethodField(
        help_text="The deciding party's id, \"operator\" for an operator's ruling, or null."
    )

    class Meta:
        model = PartyClaim
        fields = ["id", "party", "party_name", "claimant", "claimant_name", "matched_on",
                  "statement", "status", "reason", "decided_by", "decided_at",
                  "created_at"]  # fmt: skip

    def get_decided_by(self, claim: PartyClaim) -> str | None:
        if claim.decided_at is None:
            return None
        return "operator" if claim.decided_by_party_id is None else str(claim.decided_by_party_id)


class UnclaimedPartySerializer(serializers.ModelSerializer[Party]):
    named_by = serializers.UUIDField(source="named_by_id")

    class Meta:
        model = Party
        fields = ["id", "name", "isni", "ipi", "dpid", "named_by", "created_at"]


class PartyClaimInputSerializer(StrictSerializer):
    party = serializers.UUIDField(help_text="The unclaimed party's id.")
    statement = serializers.CharField(
        max_length=services.STATEMENT_MAX, help_text="Why this party is yours."
    )


class PartyClaimDecisionSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=services.REASON_MAX, required=False, allow_blank=True, default=""
    )


class PartyClaimListView(GenericAPIView[PartyClaim]):
    """Party claims the caller filed or that concern parties its feeds named (auditors: all).
    A label, publisher or artist files one for an unclaimed party its identifiers match."""

    serializer_class = PartyClaimOutputSerializer
    ordering_fields = ["created_at", "decided_at"]

    def get_queryset(self) -> Any:
        return selectors.party_claim_list(actor=actor_of(self.request))

    @extend_schema(tags=["catalog"], operation_id="party_claims_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["catalog"], operation_id="party_claims_create",
                   request=PartyClaimInputSerializer,
                   responses={201: PartyClaimOutputSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        data = PartyClaimInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        party = selectors.unclaimed_party_get(party_id=data.validated_data["party"])
        claim = services.party_claim_file(
            actor=actor, party=party, statement=data.validated_data["statement"],
            now=timezone.now(),
        )  # fmt: skip
        claim = selectors.party_claim_get(actor=actor, claim_id=claim.pk)
        return Response(self.get_serializer(claim).data, status=status.HTTP_201_CREATED)


class PartyClaimCandidatesView(GenericAPIView[Party]):
    """The unclaimed parties the caller's identifiers (DPID, ISNI, IPI; its name when a feed
    gave none) match: the ones it may claim."""

    serializer_class = UnclaimedPartySerializer
    pagination_class = None

    @extend_schema(tags=["catalog"], operation_id="party_claims_candidates")
    def get(self, request: Request) -> Response:
        found = services.party_claim_candidates(actor=actor_of(request))
        return Response(self.get_serializer(found, many=True).data)


class PartyClaimDetailView(GenericAPIView[PartyClaim]):
    serializer_class = PartyClaimOutputSerializer

    @extend_schema(tags=["catalog"], operation_id="party_claims_retrieve")
    def get(self, request: Request, claim_id: uuid.UUID) -> Response:
        claim = selectors.party_claim_get(actor=actor_of(request), claim_id=claim_id)
        return Response(self.get_serializer(claim).data)


class PartyClaimDecideView(GenericAPIView[PartyClaim]):
    serializer_class = PartyClaimOutputSerializer
    accept = True

    def post(self, request: Request, claim_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        claim = selectors.party_claim_get(actor=actor, claim_id=claim_id)
        data = PartyClaimDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decide = services.party_claim_accept if self.accept else services.party_claim_reject
        claim = decide(
            actor=actor, claim=claim, reason=data.validated_data["reason"], now=timezone.now()
        )
        claim = selectors.party_claim_get(actor=actor, claim_id=claim.pk)
        return Response(self.get_serializer(claim).data)


class PartyClaimAcceptView(PartyClaimDecideView):
    """The party whose feed named the claimed party accepts: every share the unclaimed party
    holds becomes the claimant's, each ledgered."""

    accept = True

    @extend_schema(tags=["catalog"], operation_id="party_claims_accept",
                   request=PartyClaimDecisionSerializer)  # fmt: skip
    def post(self, request: Request, claim_id: uuid.UUID) -> Response:
        return super().post(request, claim_id)


class PartyClaimRejectView(PartyClaimDecideView):
    """The party whose feed named the claimed party rejects the claim, saying why."""

    accept = False

    @extend_schema(tags=["catalog"], operation_id="party_claims_reject",
                   request=PartyClaimDecisionSerializer)  # fmt: skip
    def post(self, request: Request, claim_id: uuid.UUID) -> Response:
        return super().post(request, claim_id)
