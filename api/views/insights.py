"""Insights for rights holders: who asks for their works and likeness, how, and with what
answers."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.permissions import party_kind_in
from governance import insights
from governance.models import PartyKind


class InsightsView(APIView):
    """For the caller's works and likeness: requests by use, licensee, outcome and week, the
    most requested works, the closest matches of submitted content to them, and (an artist)
    the prompts or voices matched to the artist's likeness (``likeness_matches``)."""

    permission_classes = [party_kind_in(PartyKind.LABEL, PartyKind.PUBLISHER, PartyKind.ARTIST)]

    @extend_schema(
        tags=["requests"], operation_id="insights_retrieve", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        return Response(insights.insights_for(actor=actor_of(request)))
