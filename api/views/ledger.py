"""The ledger's read API for auditors and mirrors (``/ledger/...``), formats as docs/ledger.md
describes: signed-note checkpoints, base64 entries and proof hashes, C2SP tlog-tiles."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from api.access import actor_of
from ledger import canonical, merkle, receipts, selectors, tiles
from ledger.exceptions import InvalidRange

IMMUTABLE = "public, max-age=31536000, immutable"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        raise InvalidRange(f"{name} is required.", fields={name: ["this parameter is required"]})
    if not raw.isdigit() or (len(raw) > 1 and raw[0] == "0") or len(raw) > 18:
        raise InvalidRange(
            f"{name} must be a non-negative decimal integer.",
            fields={name: ["must be a non-negative decimal integer without leading zeros"]},
        )
    return int(raw)


class _RawRenderer(renderers.BaseRenderer):
    """Lets clients ask for the raw formats by their media types; errors still render as the
    common JSON body (the response's own content type says so)."""

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode()
        if renderer_context and renderer_context.get("response") is not None:
            renderer_context["response"]["Content-Type"] = "application/json"
        return json.dumps(data).encode()


class PlainTextRenderer(_RawRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"


class OctetStreamRenderer(_RawRenderer):
    media_type = "application/octet-stream"
    format = "bin"
    charset = None


class LedgerReadPermission(permissions.BasePermission):
    """Public reads, unless LEDGER_READ_REQUIRES_AUDITOR asks for an auditor's credentials."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not settings.LEDGER_READ_REQUIRES_AUDITOR:
            return True
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        return actor_of(request).is_auditor


class LedgerView(APIView):
    permission_classes = [LedgerReadPermission]
    throttle_classes: list[Any] = []


class CheckpointView(LedgerView):
    renderer_classes = [PlainTextRenderer, renderers.JSONRenderer]

    @extend_schema(tags=["ledger"], responses={(200, "text/plain"): OpenApiTypes.STR})
    def get(self, request: Request) -> HttpResponse:
        checkpoint = selectors.latest_checkpoint()
        response = HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        return response


EntrySerializer = inline_serializer(
    "LedgerEntry",
    {
        "index": serializers.IntegerField(),
        "data": serializers.CharField(),
        "leaf_hash": serializers.CharField(),
    },
)


class EntriesView(LedgerView):
    @extend_schema(
        tags=["ledger"],
        parameters=[
            OpenApiParameter("start", int, required=True),
            OpenApiParameter(
                "end", int, required=True, description="exclusive; at most start+1000"
            ),
        ],
        responses=inline_serializer(
            "LedgerEntries", {"entries": EntrySerializer.__class__(many=True)}
        ),
    )
    def get(self, request: Request) -> HttpResponse:
        start, end = int_param(request, "start"), int_param(request, "end")
        rows = selectors.entries_range(start=start, end=end)
        # Written by hand: auditors page through millions of entries, and DRF's generic
        # rendering costs more than the query. Base64 needs no escaping, so these are the
        # bytes json.dumps writes ({"entries":[{"index":..,"data":"..","leaf_hash":".."},..]}),
        # in half the time.
        b2a = binascii.b2a_base64
        body = b",".join(
            b'{"index":%d,"data":"%s","leaf_hash":"%s"}'
            % (i, b2a(d, newline=False), b2a(h, newline=False))
            for i, d, h in rows
        )
        return HttpResponse(b'{"entries":[' + body + b"]}", content_type="application/json")


class EntryView(LedgerView):
    @extend_schema(
        tags=["ledger"], operation_id="ledger_entry_receipt", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request, index: int) -> Response:
        entry = selectors.entry_get(index=index)
        receipt = receipts.receipt_for(index=entry.index)
        decoded = canonical.decode_entry(bytes(entry.data))
        return Response(
            {
                **receipt,
                "decoded": {
                    "v": decoded.v,
                    "type": decoded.kind,
                    "time": canonical.format_time(decoded.time),
                    "payload": decoded.payload,
                },
            }
        )


class InclusionProofView(LedgerView):
    @extend_schema(
        tags=["ledger"],
        parameters=[
            OpenApiParameter("index", int, required=True),
            OpenApiParameter("tree_size", int, required=True),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        index, size = int_param(request, "index"), int_param(request, "tree_size")
        proof = selectors.inclusion_proof(index=index, tree_size=size)
        return Response({"index": index, "tree_size": size, "hashes": [b64(h) for h in proof]})


class ConsistencyProofView(LedgerView):
    @extend_schema(
        tags=["ledger"],
        parameters=[
            OpenApiParameter("first", int, required=True),
            OpenApiParameter("second", int, required=True),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        first, second = int_param(request, "first"), int_param(request, "second")
        proof = selectors.consistency_proof(first=first, second=second)
        return Response({"first": first, "second": second, "hashes": [b64(h) for h in proof]})


class KeysView(LedgerView):
    @extend_schema(tags=["ledger"], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(
            {
                "keys": [
                    {
                        "name": k.name,
                        "vkey": k.vkey,
                        "algorithm": "ed25519",
                        "public_key_pem": k.public_key_pem,
                        "valid_from": canonical.format_time(k.valid_from),
                        "valid_until": canonical.format_time(k.valid_until)
                        if k.valid_until
                        else None,
                    }
                    for k in selectors.keys_list()
                ]
            }
        )


class TileView(LedgerView):
    """C2SP tlog-tiles: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``."""

    renderer_classes = [OctetStreamRenderer, renderers.JSONRenderer]

    @extend_schema(
        tags=["ledger"], responses={(200, "application/octet-stream"): OpenApiTypes.BINARY}
    )
    def get(self, request: Request, path: str) -> HttpResponse:
        try:
            ref = tiles.parse_tile_path("tile/" + path)
        except ValueError as exc:
            raise InvalidRange(f"Not a tile path: {exc}", fields={"path": [str(exc)]}) from None
        data = selectors.tile_data(ref=ref)
        response = HttpResponse(data, content_type="application/octet-stream")
        response["Cache-Control"] = "no-cache" if ref.is_partial else IMMUTABLE
        return response


class LaterEntriesView(LedgerView):
    """The entries after entry ``after`` that name one of the ``rule`` ids (its
    ``consent_rule`` versions and ``consent_rule_withdrawn``) or the ``decision`` (any entry
    but a decision's whose ``decision`` member it is), each with its inclusion proof against
    the latest checkpoint, served with them: how ``python -m ledger.verify token --log URL``
    learns whether the consent a licence token rests on was withdrawn or superseded since.
    Everything in it is public in the log; at most 1,000 entries (``complete`` says whether
    that is all)."""

    # Unlike the other ledger reads (static, cacheable), each call searches the entries after
    # ``after``: throttled as the API is (API_THROTTLE_ANON / API_THROTTLE_USER).
    throttle_classes = [AnonRateThrottle, UserRateThrottle]

    @extend_schema(
        tags=["ledger"],
        operation_id="ledger_later_entries",
        parameters=[
            OpenApiParameter("after", int, required=True, description="an entry index"),
            OpenApiParameter(
                "rule",
                OpenApiTypes.UUID,
                many=True,
                description=f"a consent rule id; repeat, at most {selectors.MAX_LATER_RULES}",
            ),
            OpenApiParameter("decision", OpenApiTypes.UUID, description="a decision id"),
        ],
        responses=inline_serializer(
            "LedgerLaterEntries",
            {
                "after": serializers.IntegerField(),
                "tree_size": serializers.IntegerField(),
                "checkpoint": serializers.CharField(help_text="the signed note, verbatim"),
                "complete": serializers.BooleanField(),
                "entries": inline_serializer(
                    "LedgerLaterEntry",
                    {
                        "index": serializers.IntegerField(),
                        "data": serializers.CharField(help_text="base64 entry bytes"),
                        "leaf_hash": serializers.CharField(),
                        "inclusion_proof": serializers.ListField(child=serializers.CharField()),
                    },
                    many=True,
                ),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        after = int_param(request, "after")
        rules = [_uuid_param("rule", value) for value in request.query_params.getlist("rule")]
        if len(rules) > selectors.MAX_LATER_RULES:
            raise InvalidRange(
                f"rule: at most {selectors.MAX_LATER_RULES}.",
                fields={"rule": [f"at most {selectors.MAX_LATER_RULES} values"]},
            )
        raw_decision = request.query_params.get("decision")
        decision = None if raw_decision is None else _uuid_param("decision", raw_decision)
        checkpoint = selectors.latest_checkpoint()
        if after >= checkpoint.size:
            raise InvalidRange(
                f"after must be below the latest signed size {checkpoint.size}.",
                fields={"after": [f"must be below {checkpoint.size}"]},
            )
        rows, complete = selectors.later_entries(
            after=after, rules=rules, decision=decision, size=checkpoint.size
        )
        entries = [
            {
                "index": index,
                "data": b64(data),
                "leaf_hash": b64(merkle.leaf_hash(data)),
                "inclusion_proof": [
                    b64(h)
                    for h in selectors.inclusion_proof(index=index, tree_size=checkpoint.size)
                ],
            }
            for index, data in rows
        ]
        return Response(
            {
                "after": after,
                "tree_size": checkpoint.size,
                "checkpoint": checkpoint.note,
                "complete": complete,
                "entries": entries,
            }
        )


def _uuid_param(name: str, value: str) -> str:
    try:
        return str(uuid.UUID(value)) if len(value) == 36 else _bad_uuid(name)
    except ValueError:
        return _bad_uuid(name)


def _bad_uuid(name: str) -> NoReturn:
    raise InvalidRange(f"{name}: not a UUID.", fields={name: ["must be a UUID"]})
