"""How the OpenAPI schema (drf-spectacular) describes the API, so that it tells the truth:

- ``ApiTokenScheme``: our token authentication.
- ``AutoSchema`` (``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``), for every operation:

  * a ``GET`` whose view answers with ``get_paginated_response`` is documented as the page
    wrapper ``{"count", "next", "previous", "results": [...]}`` with its ``page`` and
    ``page_size`` parameters and its filters (with their enums); one that serializes
    ``many=True`` as an array. drf-spectacular guesses this only for generic list views, and
    documented our ten list operations as a single object. Views here are one operation each
    (STYLE.md), so the view's own code is the reliable witness; tests/api/test_schemathesis.py
    checks every answer against the schema, so a wrong guess fails the suite.
  * every error status the service can answer, with the common error body (``api.errors``):
    400, 401, 403, 404 and 429 on every operation; 409, 413 and 415 on those that take a body.
    An operation's own description of one of these (``@extend_schema``) wins.
  * a request body read by an ``api.strict.StrictSerializer`` (every one) as an object with
    ``additionalProperties: false``: a field the operation does not take is a 400.
  * a serializer's description is its own docstring, never a base class's.
  * a request's or a check's item (``ItemField``) as the one-of its members (``ITEM_SCHEMA``).
"""

from __future__ import annotations

import functools
import inspect
from http import HTTPStatus
from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import is_basic_type
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.strict import StrictSerializer


class ApiTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "ApiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <prefix>.<secret>`, as issued by POST /api/v1/tokens/",
        }


class ErrorSerializer(serializers.Serializer[Any]):
    """The common error body (``api.errors``)."""

    code = serializers.CharField(help_text="Stable and machine-readable: `not_found`, `invalid`…")
    message = serializers.CharField(help_text="For people.")
    # A field named like Serializer.fields: DRF's metaclass moves it into _declared_fields.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Each bad input (dotted path for nested fields) with its reasons.",
    )

    class Meta:
        ref_name = "Error"


ERRORS_OF_EVERY_OPERATION = (400, 401, 403, 404, 429)
ERRORS_OF_A_BODY = (409, 413, 415)
_BODY_METHODS = ("POST", "PUT", "PATCH")


@functools.cache
def _source(view_class: Any, method: str) -> str:
    handler = getattr(view_class, method, None)
    try:
        return inspect.getsource(handler) if handler is not None else ""
    except (OSError, TypeError):
        return ""


def _answers_many(view_class: Any, method: str) -> str | None:
    """``"page"`` if the view's handler answers with a paginated page, ``"list"`` if it
    serializes ``many=True``, else None."""
    source = _source(view_class, method)
    if "get_paginated_response(" in source:
        return "page"
    if "many=True" in source:
        return "list"
    return None


def _model_of(view: Any) -> Any:
    filterset = getattr(view, "filterset_class", None)
    serializer = getattr(view, "serializer_class", None)
    for meta_of in (filterset, serializer):
        model = getattr(getattr(meta_of, "Meta", None), "model", None)
        if model is not None:
            return model
    return None


class AutoSchema(openapi.AutoSchema):
    def _is_list_view(self, serializer: Any = None) -> bool:
        if isinstance(serializer, ErrorSerializer) or serializer is ErrorSerializer:
            return False
        if serializer is not None and is_basic_type(serializer):
            return False
        if (
            self.method == "GET"
            and self._answers_with_its_serializer()
            and _answers_many(self._view_class(), "get")
        ):
            return True
        return bool(super()._is_list_view(serializer))

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(  # type: ignore[no-untyped-call]
            serializer, direction
        )
        strict = serializer if isinstance(serializer, type) else type(serializer)
        if direction == "request" and issubclass(strict, StrictSerializer):
            schema["additionalProperties"] = False
        if not strict.__dict__.get("__doc__"):
            # drf-spectacular falls back on a base class's docstring: ours (StrictSerializer's)
            # speaks to the code's readers, not to the API's clients.
            schema.pop("description", None)
        return schema

    def _view_class(self) -> Any:
        return type(self.view)

    def _answers_with_its_serializer(self) -> bool:
        """The operation's response is the view's ``serializer_class`` (not an
        ``@extend_schema(responses=...)`` of its own, which describes itself)."""
        own = getattr(self.view, "serializer_class", None)
        responses = self.get_response_serializers()
        return own is not None and (responses is own or isinstance(responses, own))

    def get_filter_backends(self) -> list[Any]:
        # Filters (and ordering) only where the view applies them.
        if "filter_queryset(" not in _source(self._view_class(), self.method.lower()):
            return []
        if getattr(self.view, "queryset", None) is None:
            # django-filter's extension reads the model from the view's queryset, and our
            # views build theirs from the caller, who is absent while the schema is made.
            model = _model_of(self.view)
            if model is not None:
                # Only this schema-time view instance gets it; requests build their own.
                self.view.queryset = model._default_manager.none()  # type: ignore[attr-defined]
        return list(super().get_filter_backends())

    def _get_paginator(self) -> Any:
        if (
            self._answers_with_its_serializer()
            and _answers_many(self._view_class(), self.method.lower()) == "list"
        ):
            return None  # an array, whatever the view's pagination class
        return super()._get_paginator()  # type: ignore[no-untyped-call]

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes: tuple[int, ...] = ERRORS_OF_EVERY_OPERATION
        if self.method in _BODY_METHODS:
            codes += ERRORS_OF_A_BODY
        for code in codes:
            if str(code) not in responses:
                response = self._get_response_for_code(  # type: ignore[no-untyped-call]
                    ErrorSerializer, str(code), ["application/json"], direction
                )
                response["description"] = HTTPStatus(code).phrase
                responses[str(code)] = response
        return dict(sorted(responses.items()))


def _only(key: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "title": key,
        "description": description,
        "properties": {key: schema},
        "required": [key],
        "additionalProperties": False,
    }


def _vectors_of(member: str, item: dict[str, Any], description: str) -> dict[str, Any]:
    """A client's vectors of one space: the model, the version served and ``member``."""
    return {
        "type": "object",
        "description": description,
        "properties": {
            "model": {"type": "string"},
            "model_version": {"type": "string"},
            member: {"type": "array", "items": item},
        },
        "required": ["model_version", member],
        "additionalProperties": False,
    }


_VECTOR: dict[str, Any] = {"type": "array", "items": {"type": "number"}}
ITEM_SCHEMA: dict[str, Any] = {
    "description": "Exactly one member, as docs/api.md describes each: an identifier, "
    "vectors of an embedding space, audio, a client's fingerprint, a prompt or lyrics.",
    "oneOf": [
        *(
            _only(key, {"type": "string"}, f"A registered work by its {key.upper()}.")
            for key in ("isrc", "iswc", "upc")
        ),
        _only("work_id", {"type": "string", "format": "uuid"}, "A registered work by its id."),
        _only(
            "vectors",
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"space": {"type": "string"}, "vector": _VECTOR},
                    "required": ["space", "vector"],
                    "additionalProperties": False,
                },
            },
            "Vectors in embedding spaces (GET /api/v1/embedding-spaces/).",
        ),
        _only(
            "audio_base64",
            {"type": "string", "format": "byte"},
            "Audio (WAV, FLAC, MP3, AAC/M4A, OGG), base64.",
        ),
        _only(
            "fingerprint",
            {
                "type": "object",
                "properties": {
                    "model": {"type": "string"},
                    "model_version": {"type": "string"},
                    "data": {"type": "string", "format": "byte"},
                    "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                    "voice": _vectors_of(
                        "windows",
                        {
                            "type": "object",
                            "properties": {
                                "start": {"type": "number"},
                                "end": {"type": "number"},
                                "vector": _VECTOR,
                            },
                            "required": ["start", "end", "vector"],
                            "additionalProperties": False,
                        },
                        "The voice space's windows of the audio's speech, unit vectors.",
                    ),
                    "composition": _vectors_of(
                        "segments", _VECTOR, "The composition space's segments, unit vectors."
                    ),
                },
                "required": ["model_version", "data", "sha256"],
                "additionalProperties": False,
            },
            "A fingerprint computed by the licensee's client (python -m consentry.client), "
            "with the audio's SHA-256 and, optionally, its voice windows and composition "
            "segments; the model versions must be those served.",
        ),
        _only(
            "text",
            {"type": "string"},
            "A prompt: an artist it names is decided on their likeness.",
        ),
        _only("lyrics", {"type": "string"}, "Lyrics: the work whose lyrics they are."),
    ],
}
"""One item of a request or a check, as ``governance.services.request_specs.item_spec``
reads it (it, not this schema, decides what is valid: this tells a client what to send)."""


@extend_schema_field(ITEM_SCHEMA)
class ItemField(serializers.DictField):
    """One item of a request or a check (``ITEM_SCHEMA``)."""
