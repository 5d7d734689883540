"""The request body parsers of every API view (``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``).

Each refuses, as a 400 in the common error body and before any view code runs, what would
otherwise reach a view or the database and fail there with a 500:

- JSON (:mod:`governance.jsontext`): nesting deeper than 64 levels (``parse_error``), NUL or a
  lone surrogate in any key or value (``invalid``, naming the field path), ``NaN`` and
  ``Infinity``, and a body that is not a JSON object (``null``, ``1``, ``true``, ``[]``:
  ``invalid`` naming ``body``). Every operation of the API takes an object.
- Forms and multipart: NUL in a field's name or value (``invalid``, naming the field).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.http import QueryDict
from rest_framework import exceptions, parsers

from governance import jsontext

_JSON_TYPES = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
}


class BodyParseError(exceptions.ParseError):
    """A body that cannot be read, with the ``fields`` that say where (``{"body": [...]}``);
    ``api.errors`` renders them."""

    def __init__(self, message: str, *, fields: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.fields = fields


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read()
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise BodyParseError(
                f"JSON parse error - the body is not {encoding}.",
                fields={"body": [f"not {encoding} text ({exc})"]},
            ) from None
        try:
            value = jsontext.loads(text)
        except jsontext.TooDeep as exc:
            raise BodyParseError(
                f"JSON parse error - {exc.reason}.", fields={"body": [exc.reason]}
            ) from None
        except jsontext.UnstorableText as exc:
            raise exceptions.ValidationError({exc.path or "body": [exc.reason]}) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if not isinstance(value, dict):
            kind = _JSON_TYPES.get(type(value), type(value).__name__)
            raise exceptions.ValidationError({"body": [f"must be a JSON object, not {kind}"]})
        return value


def _check_form(data: QueryDict) -> None:
    for key, values in data.lists():
        if "\x00" in key:
            raise exceptions.ValidationError({"body": ["a field name holds NUL (\\u0000)"]})
        if any(isinstance(v, str) and "\x00" in v for v in values):
            raise exceptions.ValidationError({key: ["holds NUL (\\u0000), which cannot be stored"]})


class FormParser(parsers.FormParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> parsers.DataAndFiles[Any, Any]:
        parsed = super().parse(stream, media_type, parser_context)
        _check_form(parsed.data)
        for key in parsed.files:
            if "\x00" in key:
                raise exceptions.ValidationError({"body": ["a field name holds NUL (\\u0000)"]})
        return parsed
