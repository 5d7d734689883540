"""POST /api/v1/works/{id}/content/: the work's registrant or a holder of a share of it hands in
audio; the job fingerprints it, writes its postings, completes it and ledgers its SHA-256 in one
transaction, and deletes the bytes; bad content fails with its reason and keeps nothing; an
identical upload answers with the earlier content; the forbidden cases."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from governance import tasks
from governance.content import fingerprint
from governance.models import (
    ContentUpload,
    Outbox,
    PartyKind,
    Role,
    WorkContent,
)
from governance.services import content as content_services
from governance.services import fingerprint_store, outbox
from ledger.models import PendingEntry
from tests.audio import tones
from tests.committed import all_at_once, on_own_connection
from tests.factories import MembershipFactory, caller

pytestmark = pytest.mark.django_db


def audio(data: bytes, name: str = "track.wav") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="audio/wav")


def url(world: dict[str, Any]) -> str:
    return f"/api/v1/works/{world['work']['id']}/content/"


def entries(kind: str) -> list[dict[str, Any]]:
    rows = PendingEntry.objects.filter(kind=kind).order_by("id")
    return [json.loads(bytes(r.data))["payload"] for r in rows]


def hand_in(who: Any, world: dict[str, Any], data: bytes) -> Any:
    with mock.patch.object(outbox, "broker_send"):
        return who.client.post(url(world), {"file": audio(data)}, format="multipart")


def test_a_registrants_audio_is_fingerprinted_stored_as_postings_and_ledgered(  # type: ignore[no-untyped-def]
    world, django_capture_on_commit_callbacks
) -> None:
    data = tones(10, seed=1)
    with (
        mock.patch.object(outbox, "broker_send") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = world["label"].client.post(url(world), {"file": audio(data)})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "received"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size"] == len(data)
    assert body["model"] == fingerprint.MODEL
    assert body["model_version"] == fingerprint.VERSION
    assert response["Location"] == body["url"] == f"{url(world)}{body['id']}/"
    send.assert_called_once_with("governance.fingerprint_content", [body["id"]])
    assert ContentUpload.objects.filter(content_id=body["id"]).exists()

    assert tasks.fingerprint_content.apply(args=[body["id"]]).get() == "completed"

    done = world["label"].client.get(body["url"]).json()
    assert done["status"] == "completed"
    assert done["error"] == ""
    assert done["codec"]
    assert 9.5 < done["seconds"] < 10.5
    hashes, _ = fingerprint_store.postings_of(body["id"])
    assert done["vector_count"] == len(hashes) == fingerprint_store.stored_postings() > 0
    assert done["completed_at"]
    # The bytes went with the job: only the SHA-256 and the postings are left.
    assert not ContentUpload.objects.exists()
    [entry] = entries("work_content")
    assert entry == {
        "id": body["id"], "work": world["work"]["id"], "kind": "audio",
        "space": fingerprint.SPACE, "sha256": body["sha256"], "model": fingerprint.MODEL,
        "model_version": fingerprint.VERSION, "vector_count": done["vector_count"],
        "spaces": [{"space": fingerprint.SPACE, "model": fingerprint.MODEL,
                    "model_version": fingerprint.VERSION, "vector_count": done["vector_count"]}],
    }  # fmt: skip
    # (10 s: too short for the composition space, which the content says)
    assert done["detail"].startswith("No composition vectors: the audio lasts 10.0 s")
    listed = world["label"].client.get(url(world)).json()["results"]
    assert [c["id"] for c in listed] == [body["id"]]
    assert "data" not in listed[0]

    # A redelivered job changes nothing: no second set of postings, no second entry.
    assert tasks.fingerprint_content.apply(args=[body["id"]]).get() == "completed"
    assert fingerprint_store.stored_postings() == done["vector_count"]
    assert len(entries("work_content")) == 1


def test_an_identical_upload_answers_200_with_the_earlier_content_and_no_new_job(  # type: ignore[no-untyped-def]
    world,
) -> None:
    data = tones(10, seed=2)
    first = hand_in(world["label"], world, data).json()
    jobs = Outbox.objects.count()
    waiting = hand_in(world["label"], world, data)  # before the job ran
    assert waiting.status_code == 200
    assert waiting.json()["id"] == first["id"]
    tasks.fingerprint_content.apply(args=[first["id"]])
    again = hand_in(world["artist"], world, data)  # another holder, the same bytes
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "completed"
    assert Outbox.objects.count() == jobs
    assert WorkContent.objects.count() == 1
    # Other bytes are another content.
    other = hand_in(world["label"], world, tones(10, seed=3))
    assert other.status_code == 202
    assert other.json()["id"] != first["id"]


def test_bad_content_fails_with_its_reason_and_nothing_of_it_is_kept(world) -> None:  # type: ignore[no-untyped-def]
    body = hand_in(world["label"], world, b"this is not audio at all " * 40).json()
    assert tasks.fingerprint_content.apply(args=[body["id"]]).get() == "failed"
    failed = world["label"].client.get(body["url"]).json()
    assert failed["status"] == "failed"
    assert failed["error"] in ("unsupported", "corrupt")
    assert failed["detail"]
    assert failed["vector_count"] == 0
    assert fingerprint_store.stored_postings() == 0
    assert not ContentUpload.objects.exists()
    assert entries("work_content") == []


def test_audio_too_short_to_fingerprint_fails_as_too_short(world) -> None:  # type: ignore[no-untyped-def]
    short = tones(max(fingerprint.MIN_SECONDS / 4, 0.05), seed=4)
    body = hand_in(world["label"], world, short).json()
    tasks.fingerprint_content.apply(args=[body["id"]])
    failed = world["label"].client.get(body["url"]).json()
    assert (failed["status"], failed["error"]) == ("failed", "too_short")


def test_a_holder_of_a_share_hands_in_audio(world) -> None:  # type: ignore[no-untyped-def]
    # The credited artist holds the performer share (tests/world.py).
    response = hand_in(world["artist"], world, tones(10, seed=5))
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "received"


def test_those_who_neither_registered_nor_hold_the_work_may_not_hand_in_or_read(  # type: ignore[no-untyped-def]
    world,
) -> None:
    data = tones(10, seed=6)
    mine = hand_in(world["label"], world, data).json()
    outsiders = {
        "licensee": world["licensee"],
        "artist with no share": caller(PartyKind.ARTIST),
        "another label": caller(PartyKind.LABEL),
        "publisher": caller(PartyKind.PUBLISHER),
    }
    for who, outsider in outsiders.items():
        response = hand_in(outsider, world, data)
        assert response.status_code == 403, who
        assert response.json()["code"] == "permission_denied", who
        assert outsider.client.get(url(world)).status_code == 404, who
        assert outsider.client.get(mine["url"]).status_code == 404, who
    auditor = caller(PartyKind.AUDITOR)
    assert hand_in(auditor, world, data).status_code == 403
    assert auditor.client.get(url(world)).json()["results"][0]["id"] == mine["id"]
    assert auditor.client.get(mine["url"]).status_code == 200
    # A viewer of the registrant reads, but does not hand in.
    viewer = MembershipFactory(party=world["label"].party, role=Role.VIEWER)
    client = APIClient()
    client.force_authenticate(viewer.user)
    assert client.get(url(world)).status_code == 200
    assert client.post(url(world), {"file": audio(data)}).status_code == 403
    assert WorkContent.objects.count() == 1


def test_a_missing_work_or_content_is_a_404(world) -> None:  # type: ignore[no-untyped-def]
    label = world["label"].client
    missing = "00000000-0000-4000-8000-000000000000"
    assert label.get(f"/api/v1/works/{missing}/content/").status_code == 404
    assert label.post(f"/api/v1/works/{missing}/content/",
                      {"file": audio(tones(10))}).status_code == 404  # fmt: skip
    assert label.get(f"{url(world)}{missing}/").status_code == 404


def test_an_upload_past_the_limit_is_a_413_naming_file_and_nothing_is_stored(world) -> None:  # type: ignore[no-untyped-def]
    with mock.patch.object(content_services, "max_bytes", return_value=10_000):
        response = hand_in(world["label"], world, tones(10))
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_large"
    assert body["fields"] == {"file": ["larger than 10,000 bytes"]}
    assert not WorkContent.objects.exists()


def test_an_empty_file_a_missing_file_and_an_unknown_field_are_400s_naming_them(world) -> None:  # type: ignore[no-untyped-def]
    label = world["label"].client
    empty = label.post(url(world), {"file": audio(b"")})
    assert empty.status_code == 400
    assert "file" in empty.json()["fields"]
    missing = label.post(url(world), {"note": "x"})
    assert missing.status_code == 400
    assert set(missing.json()["fields"]) == {"file", "note"}
    assert missing.json()["fields"]["note"] == ["Unknown field."]
    json_body = label.post(url(world), {"file": "x"}, format="json")
    assert json_body.status_code == 415
    assert not WorkContent.objects.exists()


@pytest.mark.usefixtures("committed")
def test_the_same_audio_handed_in_twice_at_once_is_one_content_and_one_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each upload waits (up to 3 s) after its "handed in already?" look-up until the other has
    looked: without the lock on the bytes' SHA-256 both would find nothing and both store."""
    looked = threading.Barrier(2)
    real = content_services._existing

    def look_then_wait(**kwargs: Any) -> Any:
        found = real(**kwargs)
        with contextlib.suppress(threading.BrokenBarrierError):
            looked.wait(timeout=3)
        return found

    monkeypatch.setattr(content_services, "_existing", look_then_wait)

    def registered() -> tuple[Any, str]:
        label = caller(PartyKind.LABEL)
        body = {"kind": "recording", "title": "Aurora", "isrc": "GBXXX2300042"}
        return label, str(label.client.post("/api/v1/works/", body, format="json").json()["id"])

    label, work_id = on_own_connection(registered)
    data = tones(10, seed=7)

    def post() -> Any:
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {label.secret}")
        return client.post(f"/api/v1/works/{work_id}/content/", {"file": audio(data)})

    # Patched once, here: a patch entered and left by each thread can restore the other's mock
    # (thread A patches, B saves A's mock as "the original", A restores, B restores A's mock),
    # which left every later test's jobs going to a mock.
    with mock.patch.object(outbox, "broker_send"):
        got = all_at_once(post, threads=2)
    assert not [r for r in got if isinstance(r, BaseException)], got
    codes = sorted(r.status_code for r in got)  # type: ignore[union-attr]
    assert codes == [200, 202], [r.json() for r in got]  # type: ignore[union-attr]
    assert len({r.json()["id"] for r in got}) == 1  # type: ignore[union-attr]
    assert WorkContent.objects.filter(work_id=work_id).count() == 1
    assert Outbox.objects.filter(task="governance.fingerprint_content").count() == 1


def test_audio_is_handed_in_for_a_recording_not_for_a_composition(world) -> None:  # type: ignore[no-untyped-def]
    label = world["label"].client
    body = {"kind": "composition", "title": "Northern Lights", "iswc": "T0345246801"}
    composition = label.post("/api/v1/works/", body, format="json").json()
    response = hand_in(world["label"], {"work": composition}, tones(10))
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["file"]
    assert "recording" in response.json()["fields"]["file"][0]
    assert not WorkContent.objects.exists()
