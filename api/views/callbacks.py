"""The licensee's callback secret (the HMAC-SHA256 key its callbacks are signed with), its
rotation, and the callbacks' schema (``REQUEST_EVENT_CALLBACK``, the OpenAPI ``callbacks`` of
``use_requests_create``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiCallback, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.permissions import party_kind_in
from api.strict import takes_no_body
from governance.models import PartyKind
from governance.services import callbacks
from governance.services.callbacks import EVENT_TYPES

SIGNED = "<X-Consentry-Timestamp>.<body>"


class CallbackSecretView(APIView):
    """The licensee's HMAC-SHA256 key for verifying callbacks (admins only)."""

    permission_classes = [party_kind_in(PartyKind.LICENSEE)]

    @extend_schema(
        tags=["requests"], operation_id="callback_secret_retrieve", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        actor.require_role("admin", action="Reading the callback secret")
        return Response(
            {
                "secret": callbacks.callback_secret(party=actor.party),
                "algorithm": "HMAC-SHA256",
                "signed": SIGNED,
            }
        )


class CallbackSecretRotateView(APIView):
    """A new callback secret for the licensee (admins only), returned once here and from
    ``GET /api/v1/callback-secret/``; callbacks are signed with it from now on, retries of
    earlier events included."""

    permission_classes = [party_kind_in(PartyKind.LICENSEE)]

    @extend_schema(
        tags=["requests"],
        operation_id="callback_secret_rotate",
        request=None,
        responses=OpenApiTypes.OBJECT,
    )
    @takes_no_body
    def post(self, request: Request) -> Response:
        secret = callbacks.callback_secret_rotate(actor=actor_of(request))
        return Response(
            {"secret": secret, "algorithm": "HMAC-SHA256", "signed": SIGNED},
            status=status.HTTP_200_OK,
        )


class CallbackItemSerializer(serializers.Serializer[Any]):
    item = serializers.IntegerField()
    decision = serializers.UUIDField()
    outcome = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField()
    obligations = serializers.DictField(
        help_text=(
            "What the licensee must do under `outcome` (conditional); for a `review` still"
            " waiting, what an approval will require (the other holders' conditions)."
        )
    )
    settlement = serializers.DictField(allow_null=True)


class CallbackEventSerializer(serializers.Serializer[Any]):
    """What a callback POSTs (schema only; built by ``governance.services.callbacks``)."""

    event = serializers.UUIDField(help_text="The event's id: every delivery of it carries it.")
    type = serializers.ChoiceField(choices=list(EVENT_TYPES))
    created_at = serializers.DateTimeField()
    request = serializers.UUIDField()
    status = serializers.CharField(required=False, help_text="request.* events")
    outcome = serializers.CharField(required=False, help_text="request.* events")
    summary = serializers.DictField(child=serializers.IntegerField(), required=False)
    items = CallbackItemSerializer(many=True, required=False, help_text="request.* events")
    items_truncated = serializers.BooleanField(required=False)
    rule = serializers.UUIDField(required=False, help_text="consent.withdrawn: the rule")
    version = serializers.IntegerField(required=False, help_text="consent.withdrawn")
    change = serializers.ChoiceField(choices=["withdrawn", "narrowed"], required=False)
    at = serializers.DateTimeField(required=False, help_text="consent.withdrawn: when")
    decisions = serializers.ListField(child=serializers.UUIDField(), required=False)
    works = serializers.ListField(child=serializers.UUIDField(), required=False)


CALLBACK_DESCRIPTION = """POSTed to the request's callback_url once per event, with the headers
X-Consentry-Timestamp (Unix seconds), X-Consentry-Signature ("sha256=" and the hex
HMAC-SHA256 of "<timestamp>.<body>" under the callback secret), X-Consentry-Event (the
event's id, as in the body: the retries of one event share it) and X-Consentry-Delivery (this
attempt's own id). A receiver that does not answer 2xx is retried with backoff.
docs/callbacks.md."""

REQUEST_EVENT_CALLBACK = OpenApiCallback(
    "requestEvent",
    "{$request.body#/callback_url}",
    extend_schema(
        summary="An event of the request: completed, settled, or consent withdrawn",
        description=CALLBACK_DESCRIPTION,
        request=CallbackEventSerializer,
        responses={200: None},
    ),
)
