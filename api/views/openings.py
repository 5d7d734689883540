"""The openings of the ledger's committed fields, for those entitled to them
(``GET /api/v1/ledger/openings/``; who sees what: ``governance.openings``; the format:
docs/ledger.md, "Committed fields")."""

from __future__ import annotations

import base64
from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.schema import ErrorSerializer
from governance import openings
from governance.exceptions import InvalidInput


class OpeningSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(help_text="The payload member that is committed.")
    commitment = serializers.CharField(help_text="As in the entry: sha256:<64 hex digits>.")
    salt = serializers.CharField(help_text="The 32-byte salt, 64 lowercase hex digits.")
    value = serializers.JSONField(help_text="The clear value (any JSON).")


class EntryOpeningsSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    leaf_hash = serializers.CharField(help_text="The entry's leaf hash, base64.")
    type = serializers.CharField()
    openings = OpeningSerializer(many=True)


class OpeningsOutputSerializer(serializers.Serializer[Any]):
    entries = EntryOpeningsSerializer(many=True)


def _index(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not raw.isascii() or (len(raw) > 1 and raw[0] == "0") or len(raw) > 18:
        raise InvalidInput(
            f"{name} must be a non-negative decimal integer.",
            fields={name: ["must be a non-negative decimal integer without leading zeros"]},
        )
    return int(raw)


def _render(found: openings.EntryOpenings) -> dict[str, Any]:
    return {
        "index": found.index,
        "leaf_hash": base64.b64encode(found.leaf_hash).decode(),
        "type": found.kind,
        "openings": [
            {
                "field": o.field,
                "commitment": found.committed.get(o.field, ""),
                "salt": o.salt.hex(),
                "value": o.value,
            }
            for o in found.openings
        ],
    }


class OpeningsView(APIView):
    @extend_schema(
        tags=["ledger"],
        operation_id="ledger_openings",
        summary="The clear values behind an entry's commitments",
        description=(
            "Either `entry` (one entry: 404 when it has no openings the caller may see), or "
            "`start` and `end` (at most 1,000 entries; those the caller may not see are left "
            "out). Auditors see every opening; a work's registrant and holders those of its "
            "shares; a rule's owner those of its rule; a decision's holders those of its trace."
        ),
        parameters=[
            OpenApiParameter("entry", int, required=False, description="one entry's index"),
            OpenApiParameter("start", int, required=False),
            OpenApiParameter("end", int, required=False, description="exclusive"),
        ],
        responses={
            200: OpeningsOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="bad parameters"),
            404: OpenApiResponse(
                ErrorSerializer, description="no openings of that entry that the caller may see"
            ),
        },
    )
    def get(self, request: Request) -> Response:
        actor = actor_of(request)
        entry = _index(request, "entry")
        start, end = _index(request, "start"), _index(request, "end")
        if entry is not None and start is None and end is None:
            found = [openings.openings_of_entry(actor=actor, index=entry)]
        elif entry is None and start is not None and end is not None and start <= end:
            if end - start > openings.MAX_ENTRIES_PER_CALL:
                raise InvalidInput(
                    f"At most {openings.MAX_ENTRIES_PER_CALL:,} entries per call.",
                    fields={"end": [f"at most start+{openings.MAX_ENTRIES_PER_CALL}"]},
                )
            found = openings.openings_in_range(actor=actor, start=start, end=end)
        else:
            raise InvalidInput(
                "Give either entry, or start and end with start <= end.",
                fields={"entry": ["give either entry, or start and end"]},
            )
        return Response({"entries": [_render(f) for f in found]})
