"""Disputes and appeals (docs/lifecycle-disputes.md): the licensee disputes a decision, the
holders whose answer decided it uphold or release it, the operator (staff users) rules on what
the holders left past the deadline and on appeals.

A dispute is visible to its licensee, to the deciding holders and to auditors; to everyone
else it does not exist (404). Changes go through ``governance.services.disputes``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.strict import StrictSerializer
from governance import selectors
from governance.exceptions import InvalidInput
from governance.models import REASON_CODES, Dispute, DisputeStatus
from governance.services import disputes as dispute_services


class DisputeAnswerSerializer(serializers.Serializer[Any]):
    party = serializers.UUIDField()
    answer = serializers.ChoiceField(choices=list(dispute_services.ANSWERS))
    reason = serializers.CharField()
    answered_at = serializers.DateTimeField()


class AppealSerializer(serializers.Serializer[Any]):
    statement = serializers.CharField()
    opened_at = serializers.DateTimeField()
    result = serializers.ChoiceField(choices=["upheld", "released"], allow_null=True)
    reason = serializers.CharField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)


class DisputeSerializer(serializers.Serializer[Any]):
    """A dispute (schema; rendered by ``governance.services.disputes.dispute_json``)."""

    id = serializers.UUIDField()
    decision = serializers.UUIDField()
    request = serializers.UUIDField()
    licensee = serializers.UUIDField()
    reason_code = serializers.ChoiceField(choices=list(REASON_CODES))
    statement = serializers.CharField()
    holders = serializers.ListField(
        child=serializers.UUIDField(),
        help_text="The parties whose answer decided the disputed outcome: they answer it.",
    )
    disputed_outcome = serializers.ChoiceField(choices=list(dispute_services.DISPUTABLE))
    status = serializers.ChoiceField(
        choices=DisputeStatus.choices,
        help_text="open (the holders answer), escalated (the operator rules), upheld, "
        "released, appealed (the operator decides the appeal).",
    )
    outcome = serializers.CharField(
        allow_null=True, help_text="The decision's outcome once resolved (null while open)."
    )
    resolved_by = serializers.ChoiceField(choices=list(dispute_services.DECIDERS), allow_null=True)
    operator_reason = serializers.CharField(allow_null=True)
    opened_at = serializers.DateTimeField()
    deadline = serializers.DateTimeField(help_text="The holders answer before it.")
    escalated_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    appeal_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Until when the licensee may appeal (a dispute its holders upheld, not "
        "appealed yet); else null.",
    )
    appeal = AppealSerializer(allow_null=True)
    answers = DisputeAnswerSerializer(many=True)


class DisputeOpenSerializer(StrictSerializer):
    reason_code = serializers.ChoiceField(
        choices=list(REASON_CODES),
        help_text="wrong_match (the item is not that work), wrong_rights_holder (the holder "
        "named does not hold the right), consent_misread (the holder's consent says "
        "otherwise), licence_held_outside (a licence granted outside Consentry covers it).",
    )
    statement = serializers.CharField(
        max_length=dispute_services.STATEMENT_MAX, help_text="Why, for the holders to read."
    )


class DisputeReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=dispute_services.REASON_MAX)


class AppealOpenSerializer(StrictSerializer):
    statement = serializers.CharField(
        max_length=dispute_services.STATEMENT_MAX, help_text="Why, for the operator to read."
    )


class RulingSerializer(StrictSerializer):
    ruling = serializers.ChoiceField(choices=list(dispute_services.ANSWERS))
    reason = serializers.CharField(max_length=dispute_services.REASON_MAX)


def _valid(serializer_class: type[StrictSerializer], request: Request) -> dict[str, Any]:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def _render(dispute: Dispute) -> dict[str, Any]:
    return dispute_services.dispute_json(dispute)


class DecisionDisputeView(GenericAPIView[Dispute]):
    """The licensee that asked disputes the decision (``deny`` or ``conditional`` as it reads
    now; once per decision): its deciding holders see it in their queue and answer by its
    deadline. Ledgered ``dispute_opened``; the request's callback is told."""

    serializer_class = DisputeSerializer

    @extend_schema(
        tags=["requests"],
        operation_id="decisions_disputes_create",
        request=DisputeOpenSerializer,
        responses={201: DisputeSerializer},
    )
    def post(self, request: Request, decision_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        decision = selectors.decision_get(actor=actor, decision_id=decision_id)
        data = _valid(DisputeOpenSerializer, request)
        dispute = dispute_services.dispute_open(
            actor=actor, decision=decision, reason_code=data["reason_code"],
            statement=data["statement"], now=timezone.now(),
        )  # fmt: skip
        return Response(_render(dispute), status=status.HTTP_201_CREATED)


class DisputeListView(GenericAPIView[Dispute]):
    """Disputes the caller's party is party to: those it opened as licensee, and those it is to
    answer as a deciding holder (its queue: ``?status=open``). ``?status=all`` (the default)
    or one status."""

    serializer_class = DisputeSerializer
    STATUSES = ("all", *DisputeStatus.values)

    @extend_schema(
        tags=["requests"],
        operation_id="disputes_list",
        parameters=[OpenApiParameter("status", str, enum=list(STATUSES))],
    )
    def get(self, request: Request) -> Response:
        disputes = selectors.dispute_list(actor=actor_of(request))
        wanted = request.query_params.get("status", "all")
        if wanted not in self.STATUSES:
            raise InvalidInput.field("status", f"must be one of {', '.join(self.STATUSES)}")
        if wanted != "all":
            disputes = disputes.filter(status=wanted)
        page = self.paginate_queryset(disputes.order_by("-opened_at", "id"))
        return self.get_paginated_response([_render(d) for d in page or []])


class DisputeDetailView(GenericAPIView[Dispute]):
    serializer_class = DisputeSerializer

    @extend_schema(tags=["requests"], operation_id="disputes_retrieve")
    def get(self, request: Request, dispute_id: uuid.UUID) -> Response:
        dispute = selectors.dispute_get(actor=actor_of(request), dispute_id=dispute_id)
        return Response(_render(dispute))


class DisputeAnswerView(GenericAPIView[Dispute]):
    serializer_class = DisputeSerializer
    answer = "uphold"

    def post(self, request: Request, dispute_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        dispute = selectors.dispute_get(actor=actor, dispute_id=dispute_id)
        data = _valid(DisputeReasonSerializer, request)
        dispute = dispute_services.dispute_answer(
            actor=actor, dispute=dispute, answer=self.answer, reason=data["reason"],
            now=timezone.now(),
        )  # fmt: skip
        return Response(_render(selectors.dispute_get(actor=actor, dispute_id=dispute.pk)))


class DisputeUpholdView(DisputeAnswerView):
    """A deciding holder upholds the dispute's decision, saying why: the dispute is upheld
    (the licensee may appeal within 7 days). Ledgered ``dispute_answered``."""

    answer = "uphold"

    @extend_schema(
        tags=["requests"], operation_id="disputes_uphold", request=DisputeReasonSerializer
    )
    def post(self, request: Request, dispute_id: uuid.UUID) -> Response:
        return super().post(request, dispute_id)


class DisputeReleaseView(DisputeAnswerView):
    """A deciding holder releases the use, saying why; once every deciding holder released
    it, the decision's outcome is superseded (allowed). Ledgered ``dispute_answered``."""

    answer = "release"

    @extend_schema(
        tags=["requests"], operation_id="disputes_release", request=DisputeReasonSerializer
    )
    def post(self, request: Request, dispute_id: uuid.UUID) -> Response:
        return super().post(request, dispute_id)


class DisputeAppealView(GenericAPIView[Dispute]):
    """The licensee appeals a dispute its holders upheld, once, within 7 days of the
    upholding; the operator decides. Ledgered ``appeal_opened``."""

    serializer_class = DisputeSerializer

    @extend_schema(tags=["requests"], operation_id="disputes_appeal", request=AppealOpenSerializer)
    def post(self, request: Request, dispute_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        dispute = selectors.dispute_get(actor=actor, dispute_id=dispute_id)
        data = _valid(AppealOpenSerializer, request)
        dispute = dispute_services.appeal_open(
            actor=actor, dispute=dispute, statement=data["statement"], now=timezone.now()
        )
        return Response(_render(selectors.dispute_get(actor=actor, dispute_id=dispute.pk)))


class DisputeRuleView(GenericAPIView[Dispute]):
    """The operator's ruling (staff users only, any dispute): on an escalated dispute (the
    holders were silent past the deadline, or none decided it) or on an appeal. Ledgered
    ``dispute_answered`` or ``appeal_decided`` with ``"by": "operator"``."""

    serializer_class = DisputeSerializer

    @extend_schema(tags=["requests"], operation_id="disputes_rule", request=RulingSerializer)
    def post(self, request: Request, dispute_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        data = _valid(RulingSerializer, request)
        dispute = dispute_services.staff_ruling(
            actor=actor, dispute_id=dispute_id, uphold=data["ruling"] == "uphold",
            reason=data["reason"], now=timezone.now(),
        )  # fmt: skip
        return Response(_render(Dispute.objects.select_related("decision").get(pk=dispute.pk)))
