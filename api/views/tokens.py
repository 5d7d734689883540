"""API tokens of the caller's party: issue (secret shown once), list, revoke. Admins only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.permissions import IsPartyAdmin
from api.strict import StrictSerializer, takes_no_body
from governance import selectors, services
from governance.models import ApiToken, Role


class TokenOutputSerializer(serializers.ModelSerializer[ApiToken]):
    id = serializers.CharField(source="prefix", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True)
    expires_at = serializers.DateTimeField(source="expiry_date", allow_null=True)
    created_at = serializers.DateTimeField(source="created")

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "role",
            "user",
            "created_at",
            "expires_at",
            "revoked",
            "last_used_at",
        ]


class TokenListView(GenericAPIView[ApiToken]):
    permission_classes = [IsPartyAdmin]
    serializer_class = TokenOutputSerializer

    class InputSerializer(StrictSerializer):
        name = serializers.CharField(max_length=50)
        role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)
        expires_at = serializers.DateTimeField(
            required=False, allow_null=True, help_text="Default: API_TOKEN_DEFAULT_DAYS from now."
        )

    class IssuedSerializer(TokenOutputSerializer):
        secret = serializers.CharField(help_text="Shown once; only its hash is stored.")

        class Meta(TokenOutputSerializer.Meta):
            fields = [*TokenOutputSerializer.Meta.fields, "secret"]

    def get_queryset(self) -> Any:
        return selectors.api_token_list(actor=actor_of(self.request))

    @extend_schema(tags=["tokens"], operation_id="tokens_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=["tokens"],
        operation_id="tokens_issue",
        request=InputSerializer,
        responses={201: IssuedSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        now = timezone.now()
        expires_at = data.validated_data.get(
            "expires_at",
            services.default_token_expiry(now=now, days=settings.API_TOKEN_DEFAULT_DAYS),
        )
        token, secret = services.api_token_issue(
            actor=actor_of(request),
            name=data.validated_data["name"],
            role=data.validated_data["role"],
            expires_at=expires_at,
            now=now,
        )
        body = dict(TokenOutputSerializer(token).data)
        body["secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED)


class TokenRevokeView(GenericAPIView[ApiToken]):
    permission_classes = [IsPartyAdmin]
    serializer_class = TokenOutputSerializer

    @extend_schema(tags=["tokens"], operation_id="tokens_revoke", request=None)
    @takes_no_body
    def post(self, request: Request, token_id: str) -> Response:
        actor = actor_of(request)
        token = selectors.api_token_get(actor=actor, prefix=token_id)
        token = services.api_token_revoke(actor=actor, token=token)
        return Response(self.get_serializer(token).data)
