"""Reviews: what waits for a holder's answer, and the answer (approve or deny, with a reason)."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.strict import StrictSerializer
from governance import selectors
from governance.exceptions import InvalidInput
from governance.models import Review
from governance.services import reviews as review_services


class ReviewSerializer(serializers.ModelSerializer[Review]):
    decision = serializers.UUIDField(source="decision_id")
    request = serializers.UUIDField(source="decision.request_id")
    use = serializers.CharField(source="decision.request.use")
    licensee = serializers.UUIDField(source="decision.request.licensee_id")
    works = serializers.ListField(source="decision.works", child=serializers.UUIDField())

    class Meta:
        model = Review
        fields = [
            "id",
            "decision",
            "request",
            "use",
            "licensee",
            "works",
            "status",
            "reason",
            "created_at",
            "decided_at",
        ]


class ReviewListView(GenericAPIView[Review]):
    """What waits for the caller's party (``?status=pending``, the default; or all)."""

    serializer_class = ReviewSerializer

    STATUSES = ("pending", "approved", "denied", "all")

    def get_queryset(self) -> Any:
        reviews = selectors.review_list(actor=actor_of(self.request))
        wanted = self.request.query_params.get("status", "pending")
        if wanted not in self.STATUSES:
            raise InvalidInput.field("status", f"must be one of {', '.join(self.STATUSES)}")
        return reviews if wanted == "all" else reviews.filter(status=wanted)

    @extend_schema(
        tags=["requests"],
        operation_id="reviews_list",
        parameters=[OpenApiParameter("status", str, enum=STATUSES)],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class ReviewDecideView(GenericAPIView[Review]):
    serializer_class = ReviewSerializer
    approve = True

    class ReasonSerializer(StrictSerializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(tags=["requests"], request=ReasonSerializer)
    def post(self, request: Request, review_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        review = selectors.review_get(actor=actor, review_id=review_id)
        data = self.ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = review_services.review_decide(
            actor=actor,
            review=review,
            approve=self.approve,
            reason=data.validated_data["reason"],
            now=timezone.now(),
        )
        return Response(self.get_serializer(review).data)


class ReviewApproveView(ReviewDecideView):
    approve = True


class ReviewDenyView(ReviewDecideView):
    approve = False
