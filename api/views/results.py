"""A request's status (its items decided so far, paged by cursor and filtered by outcome, and the
consent withdrawn since) and its results as JSON Lines."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.filters import items_filtered
from api.pagination import ItemCursorPagination
from api.views.callbacks import CallbackEventSerializer
from api.views.requests import RETRY_AFTER, UseRequestSerializer, retry_after
from governance import selectors
from governance.models import RequestStatus
from governance.models.requests import OUTCOMES
from governance.services.results import item_row, results_jsonl

ITEM_PARAMETERS = [
    OpenApiParameter(
        "outcome",
        str,
        enum=list(OUTCOMES),
        description="Only the items with this outcome (a settled review's, as settled).",
    ),
    OpenApiParameter("cursor", str, description="The next page: from ``items_next``."),
    OpenApiParameter("page_size", int, description="Items in a page, at most 1,000 (default)."),
]


class ItemRowSerializer(serializers.Serializer[Any]):
    """An item as the status page and the results carry it (schema only; see
    ``governance.services.results.item_row``)."""

    item = serializers.IntegerField()
    reference = serializers.CharField(allow_null=True)
    content_sha256 = serializers.CharField()
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
    works = serializers.ListField(child=serializers.UUIDField())


class UseRequestStatusSerializer(UseRequestSerializer):
    """A request's status page (schema only): the request, a page of its items, the next
    page's URL and the consent withdrawn since."""

    items = ItemRowSerializer(many=True, read_only=True)
    items_next = serializers.URLField(allow_null=True, read_only=True)
    withdrawals = CallbackEventSerializer(many=True, read_only=True)

    class Meta(UseRequestSerializer.Meta):
        fields = [*UseRequestSerializer.Meta.fields, "items", "items_next", "withdrawals"]


class UseRequestDetailView(GenericAPIView[Any]):
    """A request's status and the outcome of each item decided so far, a page at a time in item
    order (``items``; the next page at ``items_next``, null on the last), filtered by
    ``?outcome=``; ``withdrawals`` lists the consent withdrawn or narrowed since that had
    allowed some of its items (the ``consent.withdrawn`` callback events). While the request
    is not completed, ``Retry-After`` says when to look again."""

    serializer_class = UseRequestSerializer

    @extend_schema(
        tags=["requests"],
        operation_id="use_requests_retrieve",
        parameters=[*ITEM_PARAMETERS, RETRY_AFTER],
        responses=UseRequestStatusSerializer,
    )
    def get(self, request: Request, request_id: uuid.UUID) -> Response:
        use_request = selectors.use_request_get(actor=actor_of(request), request_id=request_id)
        decisions = items_filtered(
            selectors.use_request_item_rows(use_request), request.query_params
        )
        paginator = ItemCursorPagination()
        page = paginator.paginate_queryset(decisions, request, view=self) or []
        body = dict(UseRequestSerializer(use_request).data)
        body["items"] = [item_row(d) for d in page]
        body["items_next"] = paginator.get_next_link()
        body["withdrawals"] = selectors.use_request_withdrawals(use_request)
        response = Response(body)
        if use_request.status != RequestStatus.COMPLETED:
            response["Retry-After"] = str(retry_after(use_request))
        return response


class UseRequestResultsView(APIView):
    """Every item's decision as JSON Lines, streamed in item order; ``?outcome=`` keeps only
    those with that outcome. With ``?page_size=`` or ``?cursor=``, one page of lines, and the
    next page's URL in ``Link: <...>; rel="next"`` (no ``Link`` on the last page)."""

    @extend_schema(
        tags=["requests"],
        operation_id="use_requests_results",
        parameters=ITEM_PARAMETERS,
        responses={(200, "application/jsonl"): OpenApiTypes.STR},
    )
    def get(self, request: Request, request_id: uuid.UUID) -> StreamingHttpResponse:
        use_request = selectors.use_request_get(actor=actor_of(request), request_id=request_id)
        decisions = items_filtered(
            selectors.use_request_item_rows(use_request), request.query_params
        )
        next_link = None
        rows: Any = decisions.iterator(chunk_size=2000)
        if "cursor" in request.query_params or "page_size" in request.query_params:
            paginator = ItemCursorPagination()
            rows = paginator.paginate_queryset(decisions, request, view=self) or []
            next_link = paginator.get_next_link()

        response = StreamingHttpResponse(results_jsonl(rows), content_type="application/jsonl")
        response["Content-Disposition"] = f'attachment; filename="{use_request.pk}.jsonl"'
        if next_link:
            response["Link"] = f'<{next_link}>; rel="next"'
        return response
