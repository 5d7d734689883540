"""Writes take only the fields they document: a field an operation does not take is a 400 naming
it, not silently dropped (a misspelt ``perod_start`` would otherwise leave the licensee
believing it sent a period of use).

- :class:`StrictSerializer` is the base of every serializer that reads a request body (nested
  ones included): a key that is not one of its fields is ``{"key": ["Unknown field."]}``, a
  read-only field is ``{"key": ["Read-only field: ..."]}``, beside any other field's errors.
  The OpenAPI schema says so (``additionalProperties: false`` on its request components,
  ``api.schema``).
- :func:`takes_no_body` marks the handler of an operation that takes no body (``request=None``
  in its schema): a non-empty body is refused the same way.

``tests/api/test_strict_inputs.py`` walks every write operation of the URLconf and fails if
one reads its body through anything else. Objects that the services read as plain JSON
(request items, vectors, obligations) check their own keys with the same reason
(``governance.exceptions.UNKNOWN_FIELD``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.request import Request

from governance.exceptions import UNKNOWN_FIELD

READ_ONLY_FIELD = "Read-only field: it cannot be set."
FORM_TRANSPORT_FIELDS = frozenset({"csrfmiddlewaretoken"})
"""Fields of a form body that Django itself consumes (the CSRF check of a session's form, as
the browsable API posts it), not input of the operation."""

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def refused_keys(data: Any, known: Mapping[str, bool]) -> dict[str, list[str]]:
    """Each key of ``data`` (a mapping) that is not a writable field: ``known`` maps each field
    to whether it is writable."""
    if not isinstance(data, Mapping):
        return {}
    form = isinstance(data, QueryDict)
    refused: dict[str, list[str]] = {}
    for key in data:
        if form and key in FORM_TRANSPORT_FIELDS:
            continue
        writable = known.get(str(key))
        if writable is None:
            refused[str(key)] = [UNKNOWN_FIELD]
        elif not writable:
            refused[str(key)] = [READ_ONLY_FIELD]
    return refused


class StrictSerializer(serializers.Serializer[Any]):
    """A serializer that refuses the keys it has no writable field for (the module's
    docstring). Mix it in before ``ModelSerializer`` for a model serializer that reads input."""

    def to_internal_value(self, data: Any) -> Any:
        known = {name: not field.read_only for name, field in self.fields.items()}
        refused = refused_keys(data, known)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if refused and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **refused}) from None
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


def takes_no_body(handler: _Handler) -> _Handler:
    """Mark a view handler whose operation takes no body: a non-empty one is a 400 naming each
    of its fields (an empty body, ``{}`` or an empty form passes)."""

    @functools.wraps(handler)
    def checked(self: Any, request: Request, *args: Any, **kwargs: Any) -> Any:
        refused = refused_keys(request.data, {})
        if refused:
            raise serializers.ValidationError(refused)
        return handler(self, request, *args, **kwargs)

    checked.takes_no_body = True  # type: ignore[attr-defined]
    return checked  # type: ignore[return-value]
