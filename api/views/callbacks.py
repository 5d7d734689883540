"""The licensee's callback secret (the HMAC-SHA256 key its callbacks are signed with)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.permissions import party_kind_in
from governance.models import PartyKind
from governance.services import callbacks


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
                "signed": "<X-Consentry-Timestamp>.<body>",
            }
        )
