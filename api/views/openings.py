"""The openings of the ledger's committed fields, for those entitled to them
(``GET /api/v1/ledger/openings/``; who sees what: ``governance.openings``; the format:
docs/ledger.md, "Committed fields")."""

from __future__ import annotations

import base64
from json.encoder import encode_basestring
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from api.access import actor_of
from api.schema import ErrorSerializer
from api.views.ledger import OctetStreamRenderer
from governance import openings
from governance.access import Actor
from governance.exceptions import InvalidInput
from ledger import opening_bundles


class OpeningSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(help_text="The payload member that is committed.")
    commitment = serializers.CharField(help_text="As in the entry: sha256:<64 hex digits>.")
    salt = serializers.CharField(help_text="The 32-byte salt, 64 lowercase hex digits.")
    value = serializers.JSONField(
        required=False,
        help_text="The clear value (any JSON): unless `values=jcs` was asked for.",
    )
    value_jcs = serializers.CharField(
        required=False,
        help_text=(
            "With `values=jcs`, instead of `value`: the exact RFC 8785 text the value was "
            "committed with, as a string. Its UTF-8 bytes are what the commitment hashes "
            "(with the domain tag, field and salt); parse it for the value."
        ),
    )


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


_STRING = encode_basestring  # a str as a JSON string (non-ASCII kept, as DRF writes it)
_VALUES = ("json", "jcs", "bytes")


def _render(found: openings.EntryOpenings, *, jcs: bool) -> str:
    """One entry of the answer as JSON text, written here rather than by a serializer: each
    opening's stored bytes are RFC 8785 JSON already, and go out as they are (as the value, or
    as the string ``value_jcs``), neither read nor written again."""
    rendered = []
    for o in found.openings:
        text = o.value_bytes.decode("utf-8")
        head = (
            f'{{"field":{_STRING(o.field)},'
            f'"commitment":{_STRING(found.committed.get(o.field, ""))},'
            f'"salt":"{o.salt.hex()}",'
        )
        rendered.append(
            f'{head}"value_jcs":{_STRING(text)}}}' if jcs else f'{head}"value":{text}}}'
        )
    leaf = base64.b64encode(found.leaf_hash).decode()
    return (
        f'{{"index":{found.index},"leaf_hash":"{leaf}","type":{_STRING(found.kind)},'
        f'"openings":[{",".join(rendered)}]}}'
    )


def _values(request: Request) -> str:
    """``json`` (the default), ``jcs`` or ``bytes``, as asked for."""
    raw = request.query_params.get("values", "json")
    if raw not in _VALUES:
        raise InvalidInput(
            "values must be json, jcs or bytes.", fields={"values": ["json, jcs or bytes"]}
        )
    return raw


def _bundle(actor: Actor, *, entry: int | None, start: int | None, end: int | None) -> HttpResponse:
    """``values=bytes``: the openings of ``[start, end)`` as an opening bundle."""
    if entry is not None or start is None or end is None or start > end:
        raise InvalidInput(
            "values=bytes needs start and end with start <= end (not entry).",
            fields={"values": ["bytes: give start and end, not entry"]},
        )
    if end - start > openings.MAX_ENTRIES_PER_CALL:
        raise InvalidInput(
            f"At most {openings.MAX_ENTRIES_PER_CALL:,} entries per call.",
            fields={"end": [f"at most start+{openings.MAX_ENTRIES_PER_CALL}"]},
        )
    records = openings.opening_records_in_range(actor=actor, start=start, end=end)
    return HttpResponse(
        opening_bundles.encode_bundle(records), content_type=opening_bundles.CONTENT_TYPE
    )


class OpeningsView(APIView):
    # JSON first (the default, and every error); an opening bundle for who asks for it.
    renderer_classes = [renderers.JSONRenderer, OctetStreamRenderer]

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
            OpenApiParameter(
                "values",
                str,
                required=False,
                enum=list(_VALUES),
                description=(
                    "`json` (the default): each opening's `value`; `jcs`: its `value_jcs` "
                    "instead, the RFC 8785 text committed (what a verifier hashes); `bytes` "
                    "(with `start` and `end`): the whole answer as an opening bundle, "
                    "`application/octet-stream`, each value the bytes committed "
                    '(docs/ledger.md, "Opening bundles")'
                ),
            ),
        ],
        responses={
            (200, "application/json"): OpeningsOutputSerializer,
            (200, opening_bundles.CONTENT_TYPE): OpenApiTypes.BINARY,
            400: OpenApiResponse(ErrorSerializer, description="bad parameters"),
            404: OpenApiResponse(
                ErrorSerializer, description="no openings of that entry that the caller may see"
            ),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        actor = actor_of(request)
        values = _values(request)
        jcs = values == "jcs"
        entry = _index(request, "entry")
        start, end = _index(request, "start"), _index(request, "end")
        if values == "bytes":
            return _bundle(actor, entry=entry, start=start, end=end)
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
        body = '{"entries":[' + ",".join(_render(f, jcs=jcs) for f in found) + "]}"
        return HttpResponse(body.encode("utf-8"), content_type="application/json")
