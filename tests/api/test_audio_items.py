"""Items that carry audio (issue 15), their forms and their failures: ``{"audio_base64": ...}``
and multipart ``file`` uploads are fingerprinted on arrival, a ``{"fingerprint": ...}`` comes
from the licensee's client; malformed input is a 400 naming the field, audio that cannot be
read an ``error`` item naming why (tests/api/test_audio_matching.py: what they match)."""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.
# ruff: noqa: RUF001

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from governance import tasks
from governance.content import fingerprint
from governance.models import Decision, RequestItem, UseRequest
from governance.services import fingerprints
from tests.audio_support import (
    b64,
    check,
    excerpt,
    melody,
    never_registered,
    other,
    song,
    wav,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("audio", "reason"),
    [
        (b"", "empty"),
        (wav(melody(4, 2.0)), "too_short"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt garbage that is no header", "corrupt"),
        (b"%PDF-1.7 not audio at all" * 10, "unsupported"),
    ],
)
def test_audio_that_cannot_be_read_is_an_error_item_naming_why(
    catalog: dict[str, Any], audio: bytes, reason: str
) -> None:
    response = check(catalog["licensee"], {"audio_base64": b64(audio)})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["outcome"], body["code"]) == ("error", f"content.{reason}")
    assert body["reason"]
    url = f"/api/v1/decisions/{body['id']}/explanation/"
    sentence = catalog["licensee"].client.get(url, {"lang": "fr"}).json()["works"][0]
    assert sentence["sentences"][0].startswith("Votre audio n’a pas pu être décidé")


def test_in_a_request_a_bad_audio_item_is_an_error_and_the_others_are_decided(
    catalog: dict[str, Any],
) -> None:
    items = [
        {"audio_base64": b64(wav(excerpt(other(), start=5.0, seconds=12.0)))},
        {"audio_base64": b64(wav(melody(5, 1.0)))},
        {"isrc": "USRC17607839"},
    ]
    response = catalog["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "items": items}, format="json"
    )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    decisions = Decision.objects.filter(request_id=response.json()["id"]).order_by("item__position")
    assert [(d.outcome, d.code) for d in decisions] == [
        ("allow", "consent.allowed"),
        ("error", "content.too_short"),
        ("allow", "consent.allowed"),
    ]
    assert [str(w) for w in decisions[0].works] == [catalog["other"]["id"]]
    request = UseRequest.objects.get(pk=response.json()["id"])
    assert request.summary == {"allow": 2, "error": 1}


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"audio_base64": "not base64 at all!"}, "item.audio_base64"),
        ({"audio_base64": 12}, "item.audio_base64"),
        ({"fingerprint": {"model_version": "0", "data": "AA==", "sha256": "0" * 64}},
         "item.fingerprint.model_version"),
        ({"fingerprint": {"model_version": fingerprint.VERSION, "data": "AAAA",
                          "sha256": "0" * 64}}, "item.fingerprint.data"),
        ({"fingerprint": {"model_version": fingerprint.VERSION, "data": "AA==",
                          "sha256": "xyz"}}, "item.fingerprint.sha256"),
        ({"fingerprint": {"model_version": fingerprint.VERSION, "data": "AA==",
                          "sha256": "0" * 64, "audio": "x"}}, "item.fingerprint.audio"),
    ],
)  # fmt: skip
def test_malformed_audio_or_fingerprints_are_a_400_naming_the_field(
    catalog: dict[str, Any], item: dict[str, Any], field: str
) -> None:
    response = check(catalog["licensee"], item)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"], response.json()
    assert not UseRequest.objects.exists()


def test_audio_over_the_size_limit_is_a_400_before_it_is_decoded(
    catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprints, "AUDIO_MAX_BYTES", 1000)
    response = check(catalog["licensee"], {"audio_base64": b64(bytes(2000))})
    assert response.status_code == 400
    assert "larger than 1,000 bytes" in response.json()["fields"]["item.audio_base64"][0]


def test_a_check_may_upload_its_audio_as_a_multipart_file(catalog: dict[str, Any]) -> None:
    audio = wav(excerpt(song(), start=25.0, seconds=9.0))
    response = catalog["licensee"].client.post(
        "/api/v1/checks/",
        {"use": "analyze", "territories": "FR DE", "file": SimpleUploadedFile("a.wav", audio)},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["outcome"], body["works"]) == ("allow", [catalog["work"]["id"]])
    assert body["trace"]["territories"] == ["DE", "FR"]
    item = RequestItem.objects.get(request_id=body["request"])
    assert item.content_sha256 == hashlib.sha256(audio).hexdigest()


def test_a_request_may_upload_several_audio_files_an_item_each(catalog: dict[str, Any]) -> None:
    files = [
        SimpleUploadedFile("one.wav", wav(excerpt(other(), start=30.0, seconds=10.0))),
        SimpleUploadedFile("two.wav", b"not audio"),
        SimpleUploadedFile("three.wav", wav(never_registered())),
    ]
    response = catalog["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "file": files}
    )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    decisions = Decision.objects.filter(request_id=response.json()["id"]).order_by("item__position")
    assert [(d.outcome, d.code) for d in decisions] == [
        ("allow", "consent.allowed"),
        ("error", "content.unsupported"),
        ("no_match", "match.none"),
    ]


def test_an_uploaded_audio_file_over_the_limit_is_refused_while_it_arrives(
    catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprints, "AUDIO_MAX_BYTES", 100_000)
    big = SimpleUploadedFile("big.wav", wav(excerpt(song(), start=0.0, seconds=10.0)))
    response = catalog["licensee"].client.post("/api/v1/checks/", {"use": "analyze", "file": big})
    assert response.status_code == 413, response.json()
    assert response.json()["code"] == "too_large"
    assert "larger than 100,000 bytes" in response.json()["fields"]["file"][0]
    assert not UseRequest.objects.exists()


@pytest.mark.parametrize(
    "forged",
    [
        {"seconds": float("nan")},
        {"seconds": 1e12},
        {"hashes": np.array([2**fingerprint.HASH_BITS], dtype=np.int64)},
        {"times": np.array([2**30], dtype=np.int64)},
    ],
)
def test_a_fingerprint_no_client_could_compute_is_a_400(
    catalog: dict[str, Any], forged: dict[str, Any]
) -> None:
    real = fingerprint.fingerprint(wav(excerpt(song(), start=0.0, seconds=8.0)))
    values = {"hashes": real.hashes[:1], "times": real.times[:1], "seconds": real.seconds}
    try:
        data = fingerprint.Fingerprint(**(values | forged)).to_bytes()
    except (ValueError, OverflowError):  # the packed form cannot even hold it
        return
    sent = {"model_version": fingerprint.VERSION, "data": b64(data), "sha256": "ab" * 32}
    response = check(catalog["licensee"], {"fingerprint": sent})
    assert response.status_code == 400, response.json()
    assert "item.fingerprint.data" in response.json()["fields"]


@pytest.mark.parametrize("damage", ["cut", "frames", "garbage", "rank"])
def test_a_fingerprint_whose_map_is_damaged_is_a_400_and_decides_nothing(
    catalog: dict[str, Any], damage: str
) -> None:
    real = fingerprint.fingerprint(wav(excerpt(song(), start=0.0, seconds=8.0))).to_bytes()
    header = 20 + 8 * int.from_bytes(real[16:20], "little")  # the pairs end, the map begins
    assert fingerprint.Fingerprint.from_bytes(real).maxima is not None
    if damage == "cut":  # its last number unfinished
        data = real[:-1] + bytes([real[-1] | 0x80])
    elif damage == "frames":  # more frames than the audio
        data = real[:header] + (10**6).to_bytes(4, "little") + real[header + 4 :]
    elif damage == "garbage":  # a map of nothing but continuation bytes
        data = real[: header + 8] + b"\xff" * 40
    else:  # a maximum's rank above the 255 bins' highest, 254
        data = real[: header + 8] + b"\xff" + real[header + 9 :]
    sent = {"model_version": fingerprint.VERSION, "data": b64(data), "sha256": "ab" * 32}
    decisions = Decision.objects.count()
    response = check(catalog["licensee"], {"fingerprint": sent})
    assert response.status_code == 400, response.json()
    assert "item.fingerprint.data" in response.json()["fields"]
    assert Decision.objects.count() == decisions


def test_an_item_fingerprinted_with_a_model_no_longer_served_is_an_error_not_a_guess(
    catalog: dict[str, Any],
) -> None:
    # given a request stored before the model changed (its item's fingerprint is of version 0)
    item = {"audio_base64": b64(wav(excerpt(song(), start=5.0, seconds=8.0)))}
    response = catalog["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "items": [item]}, format="json"
    )
    stored = RequestItem.objects.get(request_id=response.json()["id"])
    stored.vectors = [stored.vectors[0] | {"model_version": "0"}]
    stored.save(update_fields=["vectors"])
    # when it is decided, then it is an error naming the version, not a match across models
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    decision = Decision.objects.get(request_id=response.json()["id"])
    assert (decision.outcome, decision.code) == ("error", "item.unresolved")
    assert "fingerprint model version 0 is no longer served" in decision.reason


def test_a_check_of_audio_retried_with_its_idempotency_key_answers_the_first_decision(
    catalog: dict[str, Any],
) -> None:
    audio = wav(excerpt(other(), start=9.0, seconds=8.0))
    body = {"use": "analyze", "item": {"audio_base64": b64(audio)}}
    client = catalog["licensee"].client
    first = client.post("/api/v1/checks/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client.post("/api/v1/checks/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["works"] == [catalog["other"]["id"]]
    other_audio = {"audio_base64": b64(wav(excerpt(other(), start=20.0, seconds=8.0)))}
    reused = client.post(
        "/api/v1/checks/", body | {"item": other_audio}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert reused.status_code == 409
