"""Consent: a party's rules (immutable versions, ``?at=`` for the past), its default posture,
the consent matrix, and exports in public vocabularies.

A party sees and edits only its own rules; auditors read every rule; licensees own none.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import actor_of
from api.strict import StrictSerializer, takes_no_body
from governance import selectors
from governance.exceptions import InvalidInput
from governance.models import ConsentMatrixVersion, ConsentRule, ConsentRuleVersion, Posture
from governance.services import consent as consent_services
from governance.terms import AI_CONDITIONS, COMMERCIAL, EFFECTS, LICENSEE_MODES, SCOPES, USES

AT = OpenApiParameter(
    "at", OpenApiTypes.DATETIME, description="Show what was in force at this time (RFC 3339)."
)


def at_param(request: Request) -> dt.datetime | None:
    raw = request.query_params.get("at")
    if raw is None:
        return None
    value = serializers.DateTimeField().to_internal_value  # DRF's own parser, its error text
    try:
        at = value(raw)
    except serializers.ValidationError:
        raise InvalidInput(
            "at: not a date-time.", fields={"at": ["must be an RFC 3339 date-time"]}
        ) from None
    assert isinstance(at, dt.datetime)
    return at


class RuleVersionSerializer(serializers.ModelSerializer[ConsentRuleVersion]):
    rule = serializers.UUIDField(source="rule_id")
    owner = serializers.UUIDField(source="rule.owner_id")
    scope_artist = serializers.UUIDField(source="scope_artist_id", allow_null=True)
    territories = serializers.SerializerMethodField()

    class Meta:
        model = ConsentRuleVersion
        fields = ["rule", "version", "owner", "effective_from", "effective_until", "scope",
                  "scope_works", "scope_artist", "uses", "licensee_mode", "licensees",
                  "territory_mode", "territories", "window_start", "window_end", "commercial",
                  "effect", "obligations", "note", "ai_declarations"]  # fmt: skip

    def get_territories(self, v: ConsentRuleVersion) -> list[str]:
        return list(v.territories)


class RuleInputSerializer(StrictSerializer):
    scope = serializers.ChoiceField(choices=SCOPES)
    scope_works = serializers.ListField(child=serializers.UUIDField(), required=False,
                                        max_length=10_000)  # fmt: skip
    scope_artist = serializers.UUIDField(required=False, allow_null=True)
    uses = serializers.ListField(child=serializers.ChoiceField(choices=USES), min_length=1)
    licensee_mode = serializers.ChoiceField(choices=LICENSEE_MODES, default="any")
    licensees = serializers.ListField(child=serializers.UUIDField(), required=False,
                                      max_length=10_000)  # fmt: skip
    territories = serializers.ListField(
        child=serializers.CharField(max_length=3), required=False, default=list,
        help_text='ISO 3166-1 alpha-2 codes; empty for worldwide; "-FR" excludes FR.',
    )  # fmt: skip
    window_start = serializers.DateTimeField(required=False, allow_null=True)
    window_end = serializers.DateTimeField(required=False, allow_null=True)
    commercial = serializers.ChoiceField(choices=COMMERCIAL, default="both")
    effect = serializers.ChoiceField(choices=EFFECTS)
    obligations = serializers.DictField(required=False, default=dict)
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    ai_declarations = serializers.ListField(
        child=serializers.ChoiceField(choices=AI_CONDITIONS), required=False, default=list,
        max_length=len(AI_CONDITIONS),
        help_text="Only works whose label declared them so: generated (AI-generated), assisted "
        "(AI-assisted), none (made without AI), undeclared (no declaration). Empty: every work.",
    )  # fmt: skip


class RuleListView(GenericAPIView[ConsentRuleVersion]):
    """The caller's consent rules as in force now, or at ``?at=`` (auditors: everyone's)."""

    serializer_class = RuleVersionSerializer

    def get_queryset(self) -> Any:
        versions = selectors.rule_versions_in_force(
            actor=actor_of(self.request), at=at_param(self.request)
        )
        return versions.select_related("rule").order_by("rule__created_at", "rule_id")

    @extend_schema(tags=["consent"], operation_id="consent_rules_list", parameters=[AT])
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(tags=["consent"], operation_id="consent_rules_create",
                   request=RuleInputSerializer, responses={201: RuleVersionSerializer})  # fmt: skip
    def post(self, request: Request) -> Response:
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _, version = consent_services.rule_create(
            actor=actor_of(request), data=data.validated_data, now=timezone.now()
        )
        return Response(self.get_serializer(version).data, status=status.HTTP_201_CREATED)


class RuleDetailView(GenericAPIView[ConsentRuleVersion]):
    """One rule: its version in force now or at ``?at=``; ``PUT`` writes a new version."""

    serializer_class = RuleVersionSerializer

    @extend_schema(tags=["consent"], operation_id="consent_rules_retrieve", parameters=[AT])
    def get(self, request: Request, rule_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        rule = selectors.rule_get(actor=actor, rule_id=rule_id)
        version = (
            selectors.rule_versions_in_force(actor=actor, at=at_param(request))
            .filter(rule=rule)
            .first()
        )
        if version is None:
            return Response(
                {"code": "not_in_force", "fields": {},
                 "message": "The rule was not in force then (not yet created, or withdrawn)."},
                status=status.HTTP_404_NOT_FOUND,
            )  # fmt: skip
        return Response(self.get_serializer(version).data)

    @extend_schema(tags=["consent"], operation_id="consent_rules_update",
                   request=RuleInputSerializer)  # fmt: skip
    def put(self, request: Request, rule_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        rule = selectors.rule_get(actor=actor, rule_id=rule_id)
        data = RuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = consent_services.rule_revise(
            actor=actor, rule=rule, data=data.validated_data, now=timezone.now()
        )
        return Response(self.get_serializer(version).data)


class RuleVersionsView(GenericAPIView[ConsentRuleVersion]):
    """Every version of a rule, oldest first: its history."""

    serializer_class = RuleVersionSerializer
    pagination_class = None

    @extend_schema(tags=["consent"], operation_id="consent_rules_versions")
    def get(self, request: Request, rule_id: uuid.UUID) -> Response:
        rule = selectors.rule_get(actor=actor_of(request), rule_id=rule_id)
        versions = rule.versions.select_related("rule").order_by("version")
        return Response(self.get_serializer(versions, many=True).data)


class RuleWithdrawView(GenericAPIView[ConsentRule]):
    """End a rule: its last version stops being in force now."""

    class RuleWithdrawnSerializer(serializers.ModelSerializer[ConsentRule]):
        class Meta:
            model = ConsentRule
            fields = ["id", "current_version", "withdrawn_at"]

    serializer_class = RuleWithdrawnSerializer

    @extend_schema(tags=["consent"], operation_id="consent_rules_withdraw", request=None)
    @takes_no_body
    def post(self, request: Request, rule_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        rule = selectors.rule_get(actor=actor, rule_id=rule_id)
        rule = consent_services.rule_withdraw(actor=actor, rule=rule, now=timezone.now())
        return Response(self.get_serializer(rule).data)


class PostureView(GenericAPIView[Any]):
    """The caller's party's default posture: ``opt_in`` (the default) or ``opt_out``."""

    class PostureSerializer(StrictSerializer):
        default_posture = serializers.ChoiceField(choices=Posture.choices)

    serializer_class = PostureSerializer

    @extend_schema(tags=["consent"], operation_id="consent_posture_retrieve")
    def get(self, request: Request) -> Response:
        return Response({"default_posture": actor_of(request).party.default_posture})

    @extend_schema(tags=["consent"], operation_id="consent_posture_update")
    def put(self, request: Request) -> Response:
        data = self.PostureSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        party = consent_services.party_posture_set(
            actor=actor_of(request), posture=data.validated_data["default_posture"],
            now=timezone.now(),
        )  # fmt: skip
        return Response({"default_posture": party.default_posture})


class MatrixSerializer(serializers.ModelSerializer[ConsentMatrixVersion]):
    class Meta:
        model = ConsentMatrixVersion
        fields = ["version", "matrix", "effective_from", "note"]


class MatrixView(GenericAPIView[ConsentMatrixVersion]):
    """Which rights must consent to which use: the version in force now or at ``?at=``.
    Anyone reads it; staff (``PUT``) make a new version."""

    class MatrixInputSerializer(StrictSerializer):
        matrix = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
        note = serializers.CharField(required=False, allow_blank=True, default="")

    serializer_class = MatrixSerializer

    @extend_schema(tags=["consent"], operation_id="consent_matrix_retrieve", parameters=[AT])
    def get(self, request: Request) -> Response:
        return Response(self.get_serializer(selectors.matrix_at(at=at_param(request))).data)

    @extend_schema(tags=["consent"], operation_id="consent_matrix_update",
                   request=MatrixInputSerializer)  # fmt: skip
    def put(self, request: Request) -> Response:
        data = self.MatrixInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = consent_services.matrix_revise(
            user=actor_of(request).user, matrix=data.validated_data["matrix"],
            note=data.validated_data["note"], now=timezone.now(),
        )  # fmt: skip
        return Response(self.get_serializer(version).data)
