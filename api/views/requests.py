"""AI-use requests (JSON items or a manifest), synchronous checks, decisions with their
explanation and ledger receipt, reviews, insights, embedding spaces and callback secrets."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import language
from api.access import actor_of
from api.parsers import FormParser, JSONParser, MultiPartParser
from api.uploads import ManifestUploadHandler
from governance import disclosure, explanation, insights, selectors
from governance.exceptions import InvalidInput, NotFound, PermissionDenied
from governance.models import Decision, EmbeddingSpace, PartyKind, Review, UseRequest
from governance.services import callbacks, checks
from governance.services import requests as request_services
from governance.services import reviews as review_services
from governance.services import spaces as space_services
from governance.terms import USES
from ledger import receipts
from ledger import selectors as ledger_selectors

IDEMPOTENCY_KEY_MAX = 200
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
    OpenApiParameter.HEADER,
    required=False,
)


def idempotency_key_of(request: Request) -> str | None:
    """The ``Idempotency-Key`` header, if any (a 400 if too long)."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > IDEMPOTENCY_KEY_MAX:
        raise InvalidInput.field("Idempotency-Key", f"at most {IDEMPOTENCY_KEY_MAX} characters")
    return key


class RequestInputSerializer(serializers.Serializer[Any]):
    use = serializers.ChoiceField(choices=USES)
    model_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    territories = serializers.ListField(
        child=serializers.CharField(max_length=3),
        required=False,
        default=list,
        help_text="ISO 3166-1 alpha-2 codes of the territories of use; empty for worldwide.",
    )
    commercial = serializers.BooleanField(default=True)
    period_start = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Start of the period of use (RFC 3339). The whole period is decided: a rule "
        "answers only for the part its window covers. Without period_end, the use has no end.",
    )
    period_end = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="End of the period of use (exclusive). Without period_start, the period runs "
        "from the request's time; without either, the request's time alone is decided.",
    )
    callback_url = serializers.URLField(required=False, allow_blank=True, max_length=500)


class ItemsRequestSerializer(RequestInputSerializer):
    items = serializers.ListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=request_services.MAX_ITEMS,
        help_text='Each {"isrc"|"iswc"|"upc"|"work_id": "..."} or {"vectors": [{"space": '
        '"...", "vector": [...]}]}.',
    )


class ManifestRequestSerializer(RequestInputSerializer):
    manifest = serializers.FileField(help_text="CSV (isrc/iswc/upc/work_id columns) or JSONL.")
    # A form field: "FR DE" or "FR,DE".
    territories = serializers.CharField(  # type: ignore[assignment]
        required=False, allow_blank=True, default=""
    )


class UseRequestSerializer(serializers.ModelSerializer[UseRequest]):
    licensee = serializers.UUIDField(source="licensee_id")
    status_url = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = UseRequest
        fields = [
            "id",
            "licensee",
            "kind",
            "use",
            "model_name",
            "territories",
            "commercial",
            "period_start",
            "period_end",
            "callback_url",
            "status",
            "item_count",
            "done_count",
            "progress",
            "summary",
            "outcome",
            "created_at",
            "completed_at",
            "status_url",
        ]

    def get_status_url(self, r: UseRequest) -> str:
        return f"/api/v1/use-requests/{r.pk}/"

    def get_progress(self, r: UseRequest) -> float:
        return round(r.done_count / r.item_count, 4) if r.item_count else 1.0


def _item_row(d: Decision) -> dict[str, Any]:
    settled = review_services.decision_settlement(d)
    return {
        "item": d.item.position,
        "reference": d.item.reference or None,
        "content_sha256": d.item.content_sha256,
        "decision": str(d.pk),
        "outcome": d.final_outcome,
        "code": d.code if settled is None else settled.code,
        "reason": d.reason if settled is None else settled.reason,
        "obligations": d.obligations,
        "works": [str(w) for w in d.works],
    }


class UseRequestListView(GenericAPIView[UseRequest]):
    """A licensee asks before it uses music: 202 with the status URL; the items are decided by
    workers. JSON with ``items`` (up to 1,000), or multipart with a ``manifest`` file (up to
    1,000,000 items, decided in parallel chunks)."""

    serializer_class = UseRequestSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    ordering_fields = ["created_at"]
    filterset_fields = ["status", "use"]

    def get_queryset(self) -> Any:
        return selectors.use_request_list(actor=actor_of(self.request))

    @extend_schema(tags=["requests"], operation_id="use_requests_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=["requests"],
        operation_id="use_requests_create",
        request={
            "application/json": ItemsRequestSerializer,
            "multipart/form-data": ManifestRequestSerializer,
        },
        parameters=[IDEMPOTENCY],
        responses={202: UseRequestSerializer},
    )
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        actor.require_kind(PartyKind.LICENSEE, action="Asking to use music")
        idempotency_key = idempotency_key_of(request)
        if request.content_type.startswith("multipart/"):
            # A manifest's bytes and lines are counted as they arrive, and an oversized one is
            # refused before it is read whole (api/uploads.py).
            request._request.upload_handlers = [ManifestUploadHandler(request._request)]
        spaces = request_services.spaces_by_name()
        if "manifest" in request.data:
            data = ManifestRequestSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            upload = data.validated_data["manifest"]
            items = request_services.manifest_items(
                upload.file, filename=upload.name or "", spaces=spaces
            )
            fields = dict(data.validated_data)
            fields["territories"] = fields["territories"].replace(",", " ").split()
            kind = "manifest"
        else:
            json_data = ItemsRequestSerializer(data=request.data)
            json_data.is_valid(raise_exception=True)
            raw_items = json_data.validated_data["items"]
            names = [f"items.{n}" for n in range(len(raw_items))]
            items = [
                request_services.item_spec(raw, name=name, spaces=spaces)
                for raw, name in zip(raw_items, names, strict=True)
            ]
            fields, kind = dict(json_data.validated_data), "items"
        spec = request_services.request_spec(fields)
        use_request, created = request_services.request_submit(
            actor=actor,
            spec=spec,
            items=items,
            now=timezone.now(),
            kind=kind,
            idempotency_key=idempotency_key,
        )
        code = status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK
        response = Response(self.get_serializer(use_request).data, status=code)
        response["Location"] = f"/api/v1/use-requests/{use_request.pk}/"
        return response


class UseRequestDetailView(GenericAPIView[UseRequest]):
    """A request's status and the outcome of each item decided so far (the first 1,000; the
    whole list from ``results``)."""

    serializer_class = UseRequestSerializer

    @extend_schema(tags=["requests"], operation_id="use_requests_retrieve")
    def get(self, request: Request, request_id: uuid.UUID) -> Response:
        use_request = selectors.use_request_get(actor=actor_of(request), request_id=request_id)
        body = dict(self.get_serializer(use_request).data)
        decisions = (
            Decision.objects.filter(request=use_request)
            .select_related("item")
            .prefetch_related(review_services.REVIEWS_PREFETCH)
            .order_by("item__position")[:1000]
        )
        body["items"] = [_item_row(d) for d in decisions]
        return Response(body)


class UseRequestResultsView(APIView):
    """Every item's decision as JSON Lines, streamed in item order."""

    @extend_schema(
        tags=["requests"],
        operation_id="use_requests_results",
        responses={(200, "application/jsonl"): OpenApiTypes.STR},
    )
    def get(self, request: Request, request_id: uuid.UUID) -> StreamingHttpResponse:
        use_request = selectors.use_request_get(actor=actor_of(request), request_id=request_id)

        def lines() -> Iterator[bytes]:
            decisions = (
                Decision.objects.filter(request=use_request)
                .select_related("item")
                .prefetch_related(review_services.REVIEWS_PREFETCH)
                .order_by("item__position")
                .iterator(chunk_size=2000)
            )
            for d in decisions:
                yield json.dumps(_item_row(d), separators=(",", ":")).encode() + b"\n"

        response = StreamingHttpResponse(lines(), content_type="application/jsonl")
        response["Content-Disposition"] = f'attachment; filename="{use_request.pk}.jsonl"'
        return response


_TIME = serializers.DateTimeField()


class ReviewAnswerSerializer(serializers.Serializer[Any]):
    party = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["approved", "denied"])
    reason = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)


class SettlementSerializer(serializers.Serializer[Any]):
    """How a ``review`` decision was settled (schema only; rendered by
    ``governance.services.reviews.settlement_json``)."""

    by = serializers.UUIDField(help_text="The reviewer whose answer decided it.")
    by_name = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True, help_text="When the last reviewer answered.")
    outcome = serializers.CharField()
    code = serializers.ChoiceField(choices=["review.denied", "review.approved"])
    reason = serializers.CharField()
    reviews = ReviewAnswerSerializer(many=True)


class DecisionSerializer(serializers.ModelSerializer[Decision]):
    """A decision as its reader may see it: the trace through ``governance.disclosure`` for the
    request's actor (no request in the context: the least, as a licensee sees it). A settled
    review reads as settled: ``outcome``, ``code`` and ``reason`` are the settlement's, and
    ``settlement`` says who settled it, when and why; ``initial_*`` keep the first answer."""

    request = serializers.UUIDField(source="request_id")
    item = serializers.IntegerField(source="item.position")
    outcome = serializers.CharField(source="final_outcome")
    initial_outcome = serializers.CharField(source="outcome")
    initial_code = serializers.CharField(source="code")
    initial_reason = serializers.CharField(source="reason")
    trace = serializers.SerializerMethodField()
    settlement = serializers.SerializerMethodField()

    class Meta:
        model = Decision
        fields = [
            "id",
            "request",
            "item",
            "outcome",
            "initial_outcome",
            "code",
            "initial_code",
            "reason",
            "initial_reason",
            "obligations",
            "works",
            "trace",
            "settlement",
            "created_at",
        ]

    def to_representation(self, instance: Decision) -> dict[str, Any]:
        # The same fields as the declared ones (the schema's), built directly: a check answers
        # with one, and DRF's field-by-field path cost more than deciding it.
        settled = review_services.decision_settlement(instance)
        return {
            "id": str(instance.pk),
            "request": str(instance.request_id),
            "item": instance.item.position,
            "outcome": instance.final_outcome,
            "initial_outcome": instance.outcome,
            "code": instance.code if settled is None else settled.code,
            "initial_code": instance.code,
            "reason": instance.reason if settled is None else settled.reason,
            "initial_reason": instance.reason,
            "obligations": instance.obligations,
            "works": [str(w) for w in instance.works],
            "trace": self.get_trace(instance),
            "settlement": None if settled is None else review_services.settlement_json(settled),
            "created_at": _TIME.to_representation(instance.created_at),
        }

    @extend_schema_field(SettlementSerializer(allow_null=True))
    def get_settlement(self, instance: Decision) -> dict[str, Any] | None:
        settled = review_services.decision_settlement(instance)
        return None if settled is None else review_services.settlement_json(settled)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_trace(self, instance: Decision) -> dict[str, Any]:
        request = self.context.get("request")
        viewer = disclosure.NOBODY if request is None else actor_of(request).viewer
        return disclosure.trace_for(instance.trace, viewer=viewer)


class CheckView(GenericAPIView[Decision]):
    """Decide one item now, with the same semantics, ledgered the same way."""

    serializer_class = DecisionSerializer

    class CheckInputSerializer(RequestInputSerializer):
        item = serializers.DictField()

    @extend_schema(
        tags=["requests"],
        operation_id="checks_create",
        request=CheckInputSerializer,
        parameters=[IDEMPOTENCY],
        responses={200: DecisionSerializer},
    )
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        actor.require_kind(PartyKind.LICENSEE, action="Asking to use music")
        idempotency_key = idempotency_key_of(request)
        data = self.CheckInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        raw = data.validated_data["item"]
        # Only an item with vectors needs the spaces (a check by identifier skips the query).
        spaces = request_services.spaces_by_name() if "vectors" in raw else {}
        item = request_services.item_spec(raw, name="item", spaces=spaces)
        spec = request_services.request_spec(data.validated_data)
        decision = checks.check_decide(
            actor=actor, spec=spec, item=item, now=timezone.now(), idempotency_key=idempotency_key
        )
        return Response(self.get_serializer(decision).data)


class DecisionDetailView(GenericAPIView[Decision]):
    serializer_class = DecisionSerializer

    @extend_schema(tags=["requests"], operation_id="decisions_retrieve")
    def get(self, request: Request, decision_id: uuid.UUID) -> Response:
        decision = selectors.decision_get(actor=actor_of(request), decision_id=decision_id)
        return Response(self.get_serializer(decision).data)


class DecisionExplanationView(APIView):
    """The decision's trace in plain language, per work: what matched and how closely, whose
    consent was needed, which rule version answered (with its note for licensees, to the
    licensee it matched for), what a conditional allow asks for, and who settled a review and
    why; ``summary`` says in one sentence why it was answered so. In English or French
    (``?lang=``, else ``Accept-Language``)."""

    @extend_schema(
        tags=["requests"],
        operation_id="decisions_explanation",
        parameters=[OpenApiParameter("lang", str, enum=["en", "fr"])],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, decision_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        if request.query_params.get("lang", "en") not in language.SUPPORTED:
            raise InvalidInput("lang: en or fr.", fields={"lang": ["must be en or fr"]})
        lang = language.request_language(request._request)
        decision = selectors.decision_get(actor=actor, decision_id=decision_id)
        settled = review_services.decision_settlement(decision)
        settlement = None if settled is None else review_services.settlement_json(settled)
        trace = disclosure.trace_for(decision.trace, viewer=actor.viewer)
        notes = selectors.decision_rule_notes(actor=actor, decision=decision)
        return Response(
            {
                "decision": str(decision.pk),
                "outcome": decision.final_outcome,
                "language": lang,
                "summary": explanation.summary(trace, language=lang, settlement=settlement),
                "settlement": settlement,
                "works": explanation.explain(
                    trace, language=lang, settlement=settlement, notes=notes
                ),
            }
        )


class DecisionReceiptView(APIView):
    """The ledger receipt of the decision (entry, inclusion proof, signed checkpoint), which
    ``python -m ledger.verify receipt FILE --vkey VKEY`` checks offline. For a settled review,
    the receipt of its ``decision_settled`` entry, with the receipt of the decision entry it
    supersedes in ``supersedes``."""

    @extend_schema(
        tags=["requests"], operation_id="decisions_receipt", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request, decision_id: uuid.UUID) -> Response:
        decision = selectors.decision_get(actor=actor_of(request), decision_id=decision_id)
        # A settled review: the settlement's entry, with the original decision's entry
        # (which it supersedes) proved against the same checkpoint.
        leaves = [bytes(decision.leaf_hash)]
        if decision.settled_leaf_hash is not None:
            leaves.append(bytes(decision.settled_leaf_hash))
        indexes = [ledger_selectors.entry_index_by_leaf_hash(leaf_hash=leaf) for leaf in leaves]
        if None in indexes:
            from ledger import services as ledger_services

            ledger_services.sequence_and_sign(now=timezone.now())
            indexes = [ledger_selectors.entry_index_by_leaf_hash(leaf_hash=lf) for lf in leaves]
        found = [i for i in indexes if i is not None]
        if len(found) < len(indexes):
            raise NotFound("The decision's ledger entry is not sequenced yet; retry shortly.")
        if len(found) == 2:
            return Response(receipts.receipt_for(index=found[1], supersedes=found[0]))
        return Response(receipts.receipt_for(index=found[0]))


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

    class ReasonSerializer(serializers.Serializer[Any]):
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


class InsightsView(APIView):
    """For the caller's works and likeness: requests by use, licensee, outcome and week, the
    most requested works, and the closest matches of submitted content to them."""

    @extend_schema(
        tags=["requests"], operation_id="insights_retrieve", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        if actor.party.kind not in (PartyKind.LABEL, PartyKind.PUBLISHER, PartyKind.ARTIST):
            raise PermissionDenied("Insights are for rights holders.")
        return Response(insights.insights_for(actor=actor))


class CallbackSecretView(APIView):
    """The licensee's HMAC-SHA256 key for verifying callbacks (admins only)."""

    @extend_schema(
        tags=["requests"], operation_id="callback_secret_retrieve", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        actor.require_kind(PartyKind.LICENSEE, action="Reading the callback secret")
        actor.require_role("admin", action="Reading the callback secret")
        return Response(
            {
                "secret": callbacks.callback_secret(party=actor.party),
                "algorithm": "HMAC-SHA256",
                "signed": "<X-Consentry-Timestamp>.<body>",
            }
        )


class SpaceSerializer(serializers.ModelSerializer[EmbeddingSpace]):
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

    class EmbeddingInputSerializer(serializers.Serializer[Any]):
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
        spaces = request_services.spaces_by_name()
        vectors = request_services.vectors_spec(
            data.validated_data["vectors"], name="vectors", spaces=spaces
        )
        count = space_services.embeddings_add(
            actor=actor, work=work, vectors=vectors, now=timezone.now()
        )
        return Response({"work": str(work.pk), "added": count}, status=status.HTTP_201_CREATED)
