"""Manifests are read within bounds (issue 12, "No 500, ever"): an oversized one is refused
from its size or line count while it arrives, before a line is parsed; a JSONL line is read like
any JSON body (bounded depth, no NUL or lone surrogate)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, FakePayload, encode_multipart

from governance.exceptions import InvalidInput
from governance.models import UseRequest
from tests.world import ISRC

pytestmark = pytest.mark.django_db


class CountingPayload(FakePayload):
    """The request body as the server would hand it over, counting the bytes the app reads."""

    def __init__(self, body: bytes) -> None:
        super().__init__(body)
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def _post_manifest(client: Any, name: str, content: bytes) -> tuple[Any, CountingPayload]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = encode_multipart(
        BOUNDARY, {"use": "analyze", "manifest": SimpleUploadedFile(name, content)}
    )
    payload = CountingPayload(body)
    response = client.generic(
        "POST", "/api/v1/use-requests/", body, MULTIPART_CONTENT, **{"wsgi.input": payload}
    )
    return response, payload


def test_a_manifest_of_a_million_and_one_items_is_refused_before_any_line_is_parsed(
    world, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from governance.services import manifests

    parsed: list[int] = []
    real = manifests._manifest_item
    monkeypatch.setattr(
        manifests,
        "_manifest_item",
        lambda raw, line, spaces: parsed.append(line) or real(raw, line, spaces),
    )
    line = b'{"isrc":"USRC17607839"}\n'
    content = line * 1_000_001  # the 1,000,001 items (24 MB here)
    response, _ = _post_manifest(world["licensee"].client, "m.jsonl", content)
    assert response.status_code == 400
    body = response.json()
    assert "more than 1,000,000 items" in body["fields"]["manifest"][0]
    assert parsed == []  # refused from the line count, not after parsing
    assert not UseRequest.objects.exists()


def test_an_oversized_manifest_stops_being_read_at_the_limit(world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from governance.services import manifests

    monkeypatch.setattr(manifests, "MANIFEST_MAX_ITEMS", 1000)
    content = b"isrc\n" + f"{ISRC}\n".encode() * 200_000  # 2.6 MB, 200 times the limit
    response, payload = _post_manifest(world["licensee"].client, "m.csv", content)
    assert response.status_code == 400
    assert "more than 1,000 items: refused at line 1,002" in response.json()["message"]
    assert payload.bytes_read < len(content) / 10  # it stopped reading the body early
    assert not UseRequest.objects.exists()


def test_a_manifest_larger_than_its_byte_limit_is_a_413_naming_the_limit(
    world, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from governance.services import manifests

    monkeypatch.setattr(manifests, "MANIFEST_MAX_BYTES", 100_000)
    content = b"isrc\n" + f"{ISRC}\n".encode() * 100_000
    response, payload = _post_manifest(world["licensee"].client, "m.csv", content)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["fields"] == {"manifest": ["larger than 100,000 bytes"]}
    assert payload.bytes_read < len(content) / 2
    assert not UseRequest.objects.exists()


def test_the_manifest_reader_refuses_at_the_first_extra_line_without_reading_on(
    monkeypatch,
) -> None:  # type: ignore[no-untyped-def]
    import io

    from governance.services import manifests

    monkeypatch.setattr(manifests, "MANIFEST_MAX_ITEMS", 10)
    stream = io.BytesIO(b"isrc\n" + f"{ISRC}\n".encode() * 100_000)
    with pytest.raises(InvalidInput, match="refused at line 12"):
        manifests.manifest_items(stream, filename="m.csv", spaces={})
    assert stream.tell() <= 12 * 13 + 8192  # one read-ahead buffer past line 12, no more


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"isrc":' * 5000 + b"1" + b"}" * 5000, "nested deeper than 64 levels"),
        (b'{"work_id": "\\u0000"}', "work_id: text holds NUL"),
        (b'{"isrc": "\\ud800"}', "isrc: text holds a lone surrogate"),
        (b'{"isrc": NaN}', "not JSON"),
    ],
)
def test_a_jsonl_manifest_line_that_cannot_be_stored_is_a_400_naming_the_line(
    world, line: bytes, reason: str
) -> None:  # type: ignore[no-untyped-def]
    content = b'{"isrc": "USRC17607839"}\n' + line + b"\n"
    response, _ = _post_manifest(world["licensee"].client, "m.jsonl", content)
    assert response.status_code == 400, response.content[:300]
    message = response.json()["fields"]["manifest"][0]
    assert message.startswith("line 2")
    assert reason in message
    assert not UseRequest.objects.exists()


def test_a_too_long_idempotency_key_is_a_400(world) -> None:  # type: ignore[no-untyped-def]
    response = world["licensee"].client.post(
        "/api/v1/use-requests/",
        {"use": "analyze", "items": [{"isrc": ISRC}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k" * 201,
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["Idempotency-Key"]
    assert not UseRequest.objects.exists()
