"""What each holder is owed (docs/lifecycle-statements.md): a licensee's usage reports on its
allowed decisions, and each holder's statement of a month, as JSON or CSV. The work is done in
``governance.services.usage``."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.strict import StrictSerializer
from api.views.requests import IDEMPOTENCY, idempotency_key_of
from governance import compensation
from governance.exceptions import InvalidInput
from governance.models import UsageReport
from governance.services import usage
from ledger import licence_tokens
from ledger import services as ledger_services

# --- Reports --------------------------------------------------------------------------------


class UsageReportInputSerializer(StrictSerializer):
    """A report names what it is reported under: one of :data:`SUBJECTS`, the decision's id or
    its licence token (docs/lifecycle-tokens.md), which is verified with this log's key and
    stands for the decision it names."""

    SUBJECTS = ("decision", "token")

    decision = serializers.UUIDField(
        required=False, help_text="Your allow or conditional decision the use was made under."
    )
    token = serializers.CharField(
        required=False, max_length=16384, trim_whitespace=False,
        help_text="Instead of `decision`: the decision's licence token, as "
        "`GET /api/v1/decisions/{id}/token/` gave it (its `token` member).",
    )  # fmt: skip
    period = serializers.CharField(
        max_length=21, help_text="The month of use, YYYY-MM, or days within one month, "
        "YYYY-MM-DD/YYYY-MM-DD (both included).",
    )  # fmt: skip
    territory = serializers.CharField(
        max_length=2, required=False, allow_blank=True, default="",
        help_text="ISO 3166-1 alpha-2: needed only when the decision's holders differ by "
        "territory.",
    )  # fmt: skip
    unit = serializers.ChoiceField(choices=compensation.UNITS, help_text="What was counted.")
    units = serializers.DecimalField(
        max_digits=24, decimal_places=compensation.UNITS_PLACES, min_value=0, coerce_to_string=True,
        help_text="How many units were used (a decimal string, or an integer).",
    )  # fmt: skip
    amount = serializers.DecimalField(
        max_digits=22, decimal_places=4, min_value=0, required=False, allow_null=True,
        default=None, help_text="The amount owed, at the currency's minor unit: only where "
        "the terms set no rate (where they do, it is their rate times the units).",
    )  # fmt: skip
    currency = serializers.CharField(
        max_length=3, required=False, allow_blank=True, default="",
        help_text="ISO 4217 code of the amount (where the terms set a rate, theirs).",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        named = [s for s in self.SUBJECTS if attrs.get(s) is not None]
        if len(named) != 1:
            raise serializers.ValidationError(
                {self.SUBJECTS[0]: [f"name exactly one of {', '.join(self.SUBJECTS)}"]}
            )
        if attrs.get("token") is not None:
            attrs["decision"] = _token_decision(attrs.pop("token"))
        return attrs


def _token_decision(text: str) -> uuid.UUID:
    """The decision a licence token of this log names, once its signature verifies with the
    log's key; a 400 naming ``token`` otherwise. Whose decision it is, and whether it may be
    reported on, is then checked as for a decision named by id."""
    try:
        claims = licence_tokens.verify_token(text, ledger_services.current_signer().verifier())
    except licence_tokens.TokenError as exc:
        raise serializers.ValidationError({"token": [str(exc)]}) from None
    if claims.document.get("log") != ledger_services.origin():
        raise serializers.ValidationError({"token": ["was issued by another log"]})
    return uuid.UUID(claims.decision)


class UsageReportSerializer(serializers.ModelSerializer[UsageReport]):
    decision = serializers.UUIDField(source="decision_id")
    licensee = serializers.UUIDField(source="licensee_id")
    units = serializers.DecimalField(max_digits=24, decimal_places=6)
    amount = serializers.DecimalField(
        max_digits=28, decimal_places=4,
        help_text="The total owed, split among the holders' statements to the minor unit.",
    )  # fmt: skip
    rated = serializers.BooleanField(help_text="Whether the terms' rates priced it.")
    leaf_hash = serializers.SerializerMethodField(help_text="Its usage_report ledger entry's.")

    class Meta:
        model = UsageReport
        fields = ["id", "decision", "licensee", "period", "period_start", "period_end",
                  "territory", "unit", "units", "currency", "amount", "rated", "leaf_hash",
                  "created_at"]  # fmt: skip

    def get_leaf_hash(self, report: UsageReport) -> str:
        return bytes(report.leaf_hash).hex()


class UsageReportListView(GenericAPIView[UsageReport]):
    """Usage reports: a licensee reports its use under its own allow or conditional decision;
    each report is split at once into the holders' statement lines (which the licensee does
    not see: they carry the holders' shares). Lists a licensee's own reports (auditors: all)."""

    serializer_class = UsageReportSerializer
    ordering_fields = ["created_at"]

    def get_queryset(self) -> Any:
        return usage.reports_of(actor=actor_of(self.request)).order_by("-created_at", "id")

    @extend_schema(tags=["usage"], operation_id="usage_reports_list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        tags=["usage"], operation_id="usage_reports_create", request=UsageReportInputSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: UsageReportSerializer, 200: UsageReportSerializer},
        description="Report use under your allow or conditional decision (another's: 404; a "
        "deny, review or no_match decision: 400). 201 with the report; a retry with the same "
        "Idempotency-Key and body: 200 with the first; another body: 409.",
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        actor = actor_of(request)
        key = idempotency_key_of(request)
        data = UsageReportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        spec = usage.report_spec({**data.validated_data, "units": str(data.validated_data["units"]),
                                  "amount": None if data.validated_data["amount"] is None
                                  else str(data.validated_data["amount"])})  # fmt: skip
        report, created = usage.report_submit(
            actor=actor, spec=spec, idempotency_key=key, now=timezone.now()
        )
        return Response(
            self.get_serializer(report).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- Statements -----------------------------------------------------------------------------

CSV_COLUMNS = (
    "kind", "report", "decision", "licensee", "period_start", "period_end", "subject",
    "subject_kind", "right", "share", "shares", "rule", "rule_version", "compensation_ref",
    "unit", "units", "rate", "currency", "amount",
)  # fmt: skip


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP's CSV injection advice, as
    ``web.label``'s rejected rows)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def statement_csv(data: Mapping[str, Any]) -> str:
    """A statement's lines, one row each (``kind`` ``share`` or ``residual``), then one
    ``total`` row per currency."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in data["lines"]:
        rule = line["rule"] or {}
        row = {**line, "kind": "residual" if line["residual"] else "share",
               "shares": " ".join(line["shares"]), "rule": rule.get("id"),
               "rule_version": rule.get("version")}  # fmt: skip
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    for total in data["totals"]:
        row = {"kind": "total", "currency": total["currency"], "amount": total["amount"]}
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    return out.getvalue()


class StatementCsvRenderer(renderers.BaseRenderer):
    """``?format=csv`` or ``Accept: text/csv``; errors still render as the JSON error body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:  # fmt: skip
        if isinstance(data, Mapping) and "lines" in data and "totals" in data:
            return statement_csv(data).encode()
        if renderer_context and renderer_context.get("response") is not None:
            renderer_context["response"]["Content-Type"] = "application/json"
        return json.dumps(data).encode()


class RuleCitedSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    version = serializers.IntegerField()


class StatementLineSerializer(serializers.Serializer[Any]):
    report = serializers.UUIDField()
    decision = serializers.UUIDField(help_text="The decision the use was reported under.")
    licensee = serializers.UUIDField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    subject = serializers.UUIDField(help_text="The work used (for likeness, the artist).")
    subject_kind = serializers.ChoiceField(choices=["work", "artist"])
    right = serializers.CharField()
    share = serializers.CharField(
        allow_null=True, help_text="Your percentage the decision found in force (null: a "
        "credited artist's likeness without a registered share).",
    )  # fmt: skip
    shares = serializers.ListField(
        child=serializers.UUIDField(), help_text="Your share rows valid on the decision's day."
    )
    rule = RuleCitedSerializer(
        allow_null=True, help_text="The rule version whose answer entitled you (null: a default)."
    )
    compensation_ref = serializers.CharField(allow_blank=True)
    unit = serializers.CharField()
    units = serializers.CharField()
    rate = serializers.CharField(allow_null=True)
    currency = serializers.CharField()
    amount = serializers.CharField()
    residual = serializers.BooleanField(
        help_text="The report's rounding residual (docs/lifecycle-statements.md), not a share."
    )


class TotalSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    amount = serializers.CharField()


class StatementLedgerSerializer(serializers.Serializer[Any]):
    entry = serializers.IntegerField(
        allow_null=True, help_text="The statement entry's index (null until sequenced)."
    )
    leaf_hash = serializers.CharField()
    field = serializers.CharField(help_text='The committed payload member: "statement".')
    commitment = serializers.CharField()
    salt = serializers.CharField(help_text="Hex: with the content, it opens the commitment.")


class StatementSerializer(serializers.Serializer[Any]):
    holder = serializers.UUIDField()
    holder_name = serializers.CharField()
    period = serializers.CharField()
    lines = StatementLineSerializer(many=True)
    totals = TotalSerializer(many=True)
    status = serializers.ChoiceField(choices=["open", "closed"])
    closes_at = serializers.DateTimeField()
    ledger = StatementLedgerSerializer(
        allow_null=True, help_text="Where the closed statement is committed (null while open)."
    )


class StatementView(APIView):
    """A rights holder's statement of one month: every line it is owed from the usage reported
    in that month, each citing the decision, the rule version and the share, and its totals.
    Open until ``closes_at`` (provisional); once closed, the first read commits it to the
    ledger, and every read answers what was committed."""

    renderer_classes = [renderers.JSONRenderer, StatementCsvRenderer]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        try:
            return super().perform_content_negotiation(request, force)
        except Http404:
            raise InvalidInput.field("format", "must be json or csv") from None

    @extend_schema(
        tags=["usage"], operation_id="statements_retrieve",
        parameters=[
            OpenApiParameter("period", str, required=True, description="The month, YYYY-MM."),
            OpenApiParameter("holder", OpenApiTypes.UUID, required=False,
                             description="Auditors: the holder (others: their own party)."),
            OpenApiParameter("format", str, enum=["json", "csv"], required=False,
                             description="csv for a spreadsheet (or Accept: text/csv)."),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(StatementSerializer,
                                                       description="The statement."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per "
                                               "line, then a total row per currency."),
        },
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        view = usage.statement_get(
            actor=actor_of(request), period=request.query_params.get("period"),
            holder_id=request.query_params.get("holder"), now=timezone.now(),
        )  # fmt: skip
        body = {
            **view.content, "status": "closed" if view.closed else "open",
            "closes_at": view.closes_at.isoformat().replace("+00:00", "Z"), "ledger": view.ledger,
        }  # fmt: skip
        response = Response(body)
        response["X-Consentry-Statement-Status"] = body["status"]
        if view.ledger is not None:
            response["X-Consentry-Statement-Commitment"] = view.ledger["commitment"]
            response["X-Consentry-Statement-Leaf-Hash"] = view.ledger["leaf_hash"]
            if view.ledger["entry"] is not None:
                response["X-Consentry-Ledger-Entry"] = str(view.ledger["entry"])
        return response
