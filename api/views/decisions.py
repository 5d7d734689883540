"""Decisions: one decision as its reader may see it, its explanation in plain language and its
ledger receipt."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import language
from api.access import actor_of
from api.schema import ErrorSerializer
from governance import disclosure, explanation, selectors
from governance.exceptions import InvalidInput
from governance.models import Decision
from governance.services import disputes as dispute_services
from governance.services import licence_tokens
from governance.services import reviews as review_services
from ledger import receipts

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
    obligations = serializers.DictField(
        help_text=(
            "What the licensee must do under the settled outcome: an approval keeps every other"
            " holder's conditions (`conditional`); a deny has none."
        )
    )
    reviews = ReviewAnswerSerializer(many=True)


class ResolutionSerializer(serializers.Serializer[Any]):
    """How a dispute changed the decision's outcome (schema only; rendered by
    ``governance.services.disputes.decision_resolution``)."""

    dispute = serializers.UUIDField()
    step = serializers.ChoiceField(choices=["dispute", "appeal"])
    by = serializers.ChoiceField(choices=list(dispute_services.DECIDERS))
    outcome = serializers.CharField(help_text="The decision's outcome now.")
    code = serializers.ChoiceField(choices=["dispute.released"])
    reason = serializers.CharField()
    at = serializers.DateTimeField(allow_null=True)
    entry = serializers.CharField(
        help_text="Hex leaf hash of the ledger entry that superseded the outcome."
    )
    supersedes = serializers.CharField(
        help_text="Hex leaf hash of the entry whose outcome it superseded (the decision's, or "
        "its review settlement's): that entry is never rewritten."
    )


class DecisionSerializer(serializers.ModelSerializer[Decision]):
    """A decision as its reader may see it: the trace through ``governance.disclosure`` for the
    request's actor (no request in the context: the least, as a licensee sees it). A settled
    review reads as settled: ``outcome``, ``code`` and ``reason`` are the settlement's, and
    ``settlement`` says who settled it, when and why; ``initial_*`` keep the first answer. A
    decision whose dispute (or appeal) was released reads as resolved: ``outcome``, ``code``
    and ``reason`` are the resolution's, and ``resolution`` names the superseding entry."""

    request = serializers.UUIDField(source="request_id")
    item = serializers.IntegerField(source="item.position")
    outcome = serializers.CharField(source="final_outcome")
    initial_outcome = serializers.CharField(source="outcome")
    initial_code = serializers.CharField(source="code")
    initial_reason = serializers.CharField(source="reason")
    obligations = serializers.DictField(
        source="final_obligations",
        read_only=True,
        help_text=(
            "What the licensee must do under `outcome` (conditional). For a `review` still"
            " waiting: what an approval will require (the other holders' conditions); once"
            " settled, the settlement's."
        ),
    )
    trace = serializers.SerializerMethodField()
    settlement = serializers.SerializerMethodField()
    resolution = serializers.SerializerMethodField()

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
            "resolution",
            "created_at",
        ]

    def to_representation(self, instance: Decision) -> dict[str, Any]:
        # The same fields as the declared ones (the schema's), built directly: a check answers
        # with one, and DRF's field-by-field path cost more than deciding it.
        settled = review_services.decision_settlement(instance)
        resolution = dispute_services.decision_resolution(instance)
        code = instance.code if settled is None else settled.code
        reason = instance.reason if settled is None else settled.reason
        if resolution is not None:
            code, reason = resolution["code"], resolution["reason"]
        return {
            "id": str(instance.pk),
            "request": str(instance.request_id),
            "item": instance.item.position,
            "outcome": instance.final_outcome,
            "initial_outcome": instance.outcome,
            "code": code,
            "initial_code": instance.code,
            "reason": reason,
            "initial_reason": instance.reason,
            "obligations": instance.final_obligations,
            "works": [str(w) for w in instance.works],
            "trace": self.get_trace(instance),
            "settlement": None if settled is None else review_services.settlement_json(settled),
            "resolution": resolution,
            "created_at": _TIME.to_representation(instance.created_at),
        }

    @extend_schema_field(SettlementSerializer(allow_null=True))
    def get_settlement(self, instance: Decision) -> dict[str, Any] | None:
        settled = review_services.decision_settlement(instance)
        return None if settled is None else review_services.settlement_json(settled)

    @extend_schema_field(ResolutionSerializer(allow_null=True))
    def get_resolution(self, instance: Decision) -> dict[str, Any] | None:
        return dispute_services.decision_resolution(instance)

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_trace(self, instance: Decision) -> dict[str, Any]:
        request = self.context.get("request")
        viewer = disclosure.NOBODY if request is None else actor_of(request).viewer
        return disclosure.trace_for(instance.trace, viewer=viewer)


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
    why; ``summary`` says in one sentence why it was answered so; ``resolution``, for a decision
    whose dispute released it, who released it and why (the sentences explain the first
    answer). In English or French (``?lang=``, else ``Accept-Language``)."""

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
                "resolution": dispute_services.decision_resolution(decision),
                "works": explanation.explain(
                    trace, language=lang, settlement=settlement, notes=notes
                ),
            }
        )


class DecisionReceiptView(APIView):
    """The ledger receipt of the decision (entry, inclusion proof, signed checkpoint), which
    ``python -m ledger.verify receipt FILE --vkey VKEY`` checks offline. For a settled review,
    the receipt of its ``decision_settled`` entry, with the receipt of the decision entry it
    supersedes in ``supersedes``; for a decision whose dispute was released, the receipt of
    the resolution's entry (``dispute_answered`` or ``appeal_decided``), likewise."""

    @extend_schema(
        tags=["requests"], operation_id="decisions_receipt", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request, decision_id: uuid.UUID) -> Response:
        decision = selectors.decision_get(actor=actor_of(request), decision_id=decision_id)
        # A settled review: the settlement's entry, with the original decision's entry
        # (which it supersedes) proved against the same checkpoint.
        # A dispute released since: its resolution's entry, superseding the same original.
        settled = decision.resolved_leaf_hash or decision.settled_leaf_hash
        return Response(
            receipts.receipt_for_leaves(
                leaf_hash=bytes(decision.leaf_hash),
                superseding=None if settled is None else bytes(settled),
            )
        )


class TokenClaimsSerializer(serializers.Serializer[Any]):
    """The claims a licence token carries (docs/lifecycle-tokens.md; schema only)."""

    v = serializers.IntegerField(help_text="The claims' format version, 1.")
    log = serializers.CharField(help_text="The origin of the log the entries are in.")
    decision = serializers.UUIDField()
    request = serializers.UUIDField()
    item = serializers.IntegerField()
    licensee = serializers.DictField(help_text="{id, name}: the party the grant is for.")
    use = serializers.CharField()
    commercial = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=["allow", "conditional"])
    code = serializers.CharField()
    decided_at = serializers.CharField(help_text="When the outcome became final.")
    at = serializers.CharField(help_text="The time of use asked about, or the period's start.")
    period = serializers.DictField(allow_null=True, help_text="{start, end}, or null.")
    territories = serializers.ListField(
        child=serializers.CharField(), help_text="ISO 3166-1 alpha-2; empty: worldwide."
    )
    works = serializers.ListField(
        child=serializers.DictField(), help_text="Each {id, kind, title, isrc, iswc}."
    )
    artists = serializers.ListField(child=serializers.UUIDField())
    obligations = serializers.DictField()
    rule_versions = serializers.ListField(child=serializers.DictField())
    matrix_version = serializers.IntegerField(allow_null=True)
    entry = serializers.DictField(help_text="{index, leaf_hash} of the decision's entry.")
    settlement = serializers.DictField(
        allow_null=True, help_text="{index, leaf_hash} of a settled review's entry, or null."
    )


class LicenceTokenSerializer(serializers.Serializer[Any]):
    """A licence token with what goes with it (schema only; rendered by
    ``governance.services.licence_tokens.IssuedToken.as_json``)."""

    token = serializers.CharField(help_text="The token: a C2SP signed note, verbatim.")
    claims = TokenClaimsSerializer(help_text="The token's claims, decoded for reading.")
    receipt = serializers.DictField(
        help_text="The receipt of the entries the token names (as /receipt/ answers)."
    )
    vkey = serializers.CharField(help_text="The verifier key that signed the token.")
    c2pa_assertion = serializers.DictField(
        help_text="The org.consentry.licence assertion to add to a C2PA manifest."
    )


class DecisionTokenView(APIView):
    """The decision's licence token: what an ``allow`` or ``conditional`` decision grants
    (decision, licensee, use, works with their ISRC and ISWC, territories, period,
    obligations, rule versions, the ledger entry its receipt proves), signed with the ledger's
    key as a C2SP signed note, which ``python -m ledger.verify token FILE --vkey VKEY`` checks
    offline (this answer saved as FILE carries its receipt too). For the licensee, the
    decision's holders and auditors; anyone else reads 404. A decision that was denied, waits
    for review or found nothing answers 409 ``no_licence``."""

    @extend_schema(
        tags=["requests"],
        operation_id="decisions_token",
        responses={
            200: LicenceTokenSerializer,
            409: OpenApiResponse(ErrorSerializer, description="no_licence: nothing to carry"),
        },
    )
    def get(self, request: Request, decision_id: uuid.UUID) -> Response:
        decision = selectors.decision_get(actor=actor_of(request), decision_id=decision_id)
        return Response(licence_tokens.token_issue(decision=decision).as_json())
