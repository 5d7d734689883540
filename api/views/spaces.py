"""Embedding spaces (anyone reads them; staff register them) and a work's vectors in them."""

from __future__ import annotations

import uuid

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.strict import StrictSerializer
from governance import selectors
from governance.models import EmbeddingSpace
from governance.services import request_specs
from governance.services import spaces as space_services


class SpaceSerializer(StrictSerializer, serializers.ModelSerializer[EmbeddingSpace]):
    class Meta:
        model = EmbeddingSpace
        fields = [
            "name",
            "model",
            "model_version",
            "dimension",
            "metric",
            "threshold",
            "created_at",
        ]
        read_only_fields = ["metric", "created_at"]


class SpaceListView(GenericAPIView[EmbeddingSpace]):
    """Embedding spaces (anyone reads them); staff register new ones."""

    serializer_class = SpaceSerializer
    pagination_class = None

    @extend_schema(tags=["requests"], operation_id="spaces_list")
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(EmbeddingSpace.objects.all(), many=True).data)

    @extend_schema(tags=["requests"], operation_id="spaces_create")
    def post(self, request: Request) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        space = space_services.space_create(user=actor_of(request).user, **data.validated_data)
        return Response(self.get_serializer(space).data, status=status.HTTP_201_CREATED)


class WorkEmbeddingsView(APIView):
    """Register a work's vectors in spaces (its registrant or a holder of its rights)."""

    class EmbeddingInputSerializer(StrictSerializer):
        vectors = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=8)

    @extend_schema(
        tags=["catalog"],
        operation_id="work_embeddings_create",
        request=EmbeddingInputSerializer,
        responses=OpenApiTypes.OBJECT,
    )
    def post(self, request: Request, work_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        work = selectors.work_get(actor=actor, work_id=work_id)
        data = self.EmbeddingInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        spaces = request_specs.spaces_by_name()
        vectors = request_specs.vectors_spec(
            data.validated_data["vectors"], name="vectors", spaces=spaces
        )
        count = space_services.embeddings_add(
            actor=actor, work=work, vectors=vectors, now=timezone.now()
        )
        return Response({"work": str(work.pk), "added": count}, status=status.HTTP_201_CREATED)
