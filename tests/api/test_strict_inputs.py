"""Every write operation of the URLconf reads its body through ``api.strict``: each serializer
that takes a request body, and each serializer nested in one, is a ``StrictSerializer`` (an
unknown field is a 400), and an operation that takes no body is marked ``takes_no_body`` (a
body is a 400). A new endpoint that reads its body any other way fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import QueryDict
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.settings import spectacular_settings
from rest_framework import serializers

from api.strict import UNKNOWN_FIELD, StrictSerializer, refused_keys

WRITES = ("POST", "PUT", "PATCH")


def _write_operations() -> Iterator[tuple[str, str, Any]]:
    """(method, path, view) of every write operation, as the schema generator sees them."""
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _, method, view in generator._get_paths_and_endpoints():
        if method in WRITES:
            view.request = spectacular_settings.GET_MOCK_REQUEST(method, path, view, None)
            yield method, path, view


def _request_serializers(view: Any) -> list[Any]:
    found = view.schema.get_request_serializer()
    if found is None:
        return []
    return list(found.values()) if isinstance(found, dict) else [found]


def _serializers_within(serializer: Any, where: str) -> Iterator[tuple[str, Any]]:
    """The serializer and every serializer nested in its fields (lists of them too)."""
    instance = serializer() if isinstance(serializer, type) else serializer
    if isinstance(instance, serializers.ListSerializer):
        instance = instance.child
    yield where, instance
    for name, field in instance.fields.items():
        if field.read_only:
            continue
        child = getattr(field, "child", None)
        if isinstance(field, serializers.BaseSerializer):  # a ListSerializer too (many=True)
            yield from _serializers_within(field, f"{where}.{name}")
        elif isinstance(child, serializers.BaseSerializer):  # ListField(child=Serializer())
            yield from _serializers_within(child, f"{where}.{name}[]")


def test_every_write_operation_refuses_unknown_fields() -> None:
    operations, not_strict = 0, []
    for method, path, view in _write_operations():
        operations += 1
        handler = getattr(view, method.lower())
        found = _request_serializers(view)
        if not found:
            if not getattr(handler, "takes_no_body", False):
                not_strict.append(f"{method} {path}: takes no body but is not @takes_no_body")
            continue
        for serializer in found:
            name = getattr(serializer, "__name__", type(serializer).__name__)
            for where, inner in _serializers_within(serializer, name):
                if not isinstance(inner, StrictSerializer):
                    not_strict.append(f"{method} {path}: {where} is not a StrictSerializer")
    assert operations >= 25
    assert not not_strict, "\n".join(not_strict)


def test_the_walk_reaches_serializers_nested_in_lists() -> None:
    """The walk above would notice a nested serializer that is not strict."""

    class Loose(serializers.Serializer[Any]):
        name = serializers.CharField()

    class Outer(StrictSerializer):
        loose = Loose(many=True)
        listed = serializers.ListField(child=Loose())

    found = {where: type(s) for where, s in _serializers_within(Outer, "Outer")}
    assert found == {"Outer": Outer, "Outer.loose": Loose, "Outer.listed[]": Loose}


def test_the_schema_says_request_bodies_take_no_other_fields() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    bodies = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                name = content["schema"]["$ref"].rsplit("/", 1)[-1]
                assert components[name].get("additionalProperties") is False, (method, path, media)
                bodies += 1
    assert bodies >= 22


def test_a_forms_csrf_token_is_not_an_unknown_field_but_only_in_a_form() -> None:
    form = QueryDict("name=a&csrfmiddlewaretoken=t&nme=b")
    assert refused_keys(form, {"name": True}) == {"nme": [UNKNOWN_FIELD]}
    body = {"name": "a", "csrfmiddlewaretoken": "t"}
    assert refused_keys(body, {"name": True}) == {"csrfmiddlewaretoken": [UNKNOWN_FIELD]}
