"""POST /api/v1/parties/{id}/likeness/voice/: the artist alone hands in recordings of its own
voice; the job embeds them, stores the vectors, ledgers each recording's SHA-256 with the model
version and deletes the audio; a bad file fails the whole upload with its reason and keeps
nothing; the forbidden cases; and ``voice_matches`` finds the artist whose voice a query is."""

from __future__ import annotations

import hashlib
import io
import json
import wave
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from governance import tasks
from governance.content import voice
from governance.models import (
    Outbox,
    PartyKind,
    Role,
    VoiceEmbedding,
    VoiceEnrolment,
    VoiceUpload,
)
from governance.services import outbox, voices
from ledger.models import PendingEntry
from tests.factories import MembershipFactory, caller
from tests.voice_samples import sample

pytestmark = pytest.mark.django_db


def recording(data: bytes, name: str = "voice.ogg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="audio/ogg")


def url(artist: Any) -> str:
    return f"/api/v1/parties/{artist.party.pk}/likeness/voice/"


def entries(kind: str) -> list[dict[str, Any]]:
    rows = PendingEntry.objects.filter(kind=kind).order_by("id")
    return [json.loads(bytes(r.data))["payload"] for r in rows]


def hand_in(who: Any, artist: Any, *datas: bytes) -> Any:
    with mock.patch.object(outbox, "broker_send"):
        return who.client.post(
            url(artist), {"file": [recording(d, f"{n}.ogg") for n, d in enumerate(datas)]}
        )


def enrol(artist: Any, *names: str) -> dict[str, Any]:
    body = hand_in(artist, artist, *(sample(n) for n in names)).json()
    assert tasks.enrol_voice.apply(args=[body["id"]]).get() == "completed"
    return dict(artist.client.get(body["url"]).json())


def silent_wav(seconds: float = 3.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(b"\x00\x00" * int(16_000 * seconds))
    return out.getvalue()


def test_the_artists_recordings_are_embedded_stored_and_ledgered_without_the_audio(  # type: ignore[no-untyped-def]
    django_capture_on_commit_callbacks,
) -> None:
    artist = caller(PartyKind.ARTIST, name="Lena Marsh")
    datas = [sample("slt_ref1"), sample("slt_ref2")]
    with (
        mock.patch.object(outbox, "broker_send") as send,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = artist.client.post(
            url(artist), {"file": [recording(datas[0], "a.ogg"), recording(datas[1], "b.ogg")]}
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "received"
    assert body["artist"] == str(artist.party.pk)
    assert (body["model"], body["model_version"]) == (voice.MODEL, voice.VERSION)
    shas = [hashlib.sha256(d).hexdigest() for d in datas]
    assert [f["sha256"] for f in body["files"]] == shas
    assert [f["size"] for f in body["files"]] == [len(d) for d in datas]
    assert response["Location"] == body["url"] == f"{url(artist)}{body['id']}/"
    send.assert_called_once_with("governance.enrol_voice", [body["id"]])
    assert VoiceUpload.objects.filter(enrolment_id=body["id"]).count() == 2

    assert tasks.enrol_voice.apply(args=[body["id"]]).get() == "completed"

    done = artist.client.get(body["url"]).json()
    assert done["status"] == "completed"
    assert done["error"] == ""
    assert done["completed_at"]
    assert [f["vector_count"] for f in done["files"]] == [1, 1]
    assert all(4 < f["seconds"] < 6 and 0 < f["speech_seconds"] <= f["seconds"]
               for f in done["files"])  # fmt: skip
    stored = VoiceEmbedding.objects.filter(artist=artist.party)
    assert done["vector_count"] == stored.count() == 2
    assert sorted(stored.values_list("sha256", flat=True)) == sorted(shas)
    assert set(stored.values_list("model_version", flat=True)) == {voice.VERSION}
    # The audio went with the job: only the SHA-256s and the vectors are left.
    assert not VoiceUpload.objects.exists()
    [entry] = entries("voice_reference")
    assert entry == {
        "id": body["id"], "artist": str(artist.party.pk), "space": "voice",
        "model": voice.MODEL, "model_version": voice.VERSION,
        "recordings": [{"sha256": shas[0], "vector_count": 1},
                       {"sha256": shas[1], "vector_count": 1}],
        "vector_count": 2,
    }  # fmt: skip

    listed = artist.client.get(url(artist)).json()
    assert listed["artist"] == str(artist.party.pk)
    assert (listed["space"], listed["model"], listed["model_version"]) == (
        "voice", voice.MODEL, voice.VERSION,
    )  # fmt: skip
    assert listed["recording_count"] == 2
    assert listed["vector_count"] == 2
    assert [r["sha256"] for r in listed["recordings"]] == shas
    assert [e["id"] for e in listed["enrolments"]] == [body["id"]]

    # A redelivered job changes nothing: no second set of vectors, no second entry.
    assert tasks.enrol_voice.apply(args=[body["id"]]).get() == "completed"
    assert stored.count() == 2
    assert len(entries("voice_reference")) == 1


def test_a_recording_handed_in_again_adds_no_vector() -> None:
    artist = caller(PartyKind.ARTIST)
    enrol(artist, "slt_ref1")
    again = enrol(artist, "slt_ref1", "slt_ref2")
    assert [f.get("duplicate", False) for f in again["files"]] == [True, False]
    assert [f["vector_count"] for f in again["files"]] == [0, 1]
    assert again["vector_count"] == 1
    assert VoiceEmbedding.objects.filter(artist=artist.party).count() == 2
    assert artist.client.get(url(artist)).json()["recording_count"] == 2


def test_a_bad_file_fails_the_whole_upload_naming_each_reason_and_nothing_is_kept() -> None:
    artist = caller(PartyKind.ARTIST)
    body = hand_in(
        artist, artist, sample("slt_ref1"), b"this is not audio at all " * 40, silent_wav()
    ).json()
    assert tasks.enrol_voice.apply(args=[body["id"]]).get() == "failed"
    failed = artist.client.get(body["url"]).json()
    assert failed["status"] == "failed"
    assert failed["error"] == "bad_files"
    expected = "2 of the 3 recordings cannot be used: 2 (unsupported), 3 (no_speech)"
    assert expected in failed["detail"]
    good, text, silent = failed["files"]
    assert "error" not in good
    assert good["speech_seconds"] > 0
    assert good["vector_count"] == 0  # it was embedded, but nothing of the upload is stored
    assert text["error"] == "unsupported"
    assert text["detail"]
    assert silent["error"] == "no_speech"
    assert "silent" in silent["detail"]
    assert failed["vector_count"] == 0
    assert not VoiceEmbedding.objects.exists()
    assert not VoiceUpload.objects.exists()
    assert entries("voice_reference") == []
    listed = artist.client.get(url(artist)).json()
    assert (listed["recording_count"], listed["vector_count"]) == (0, 0)


def test_one_reason_for_every_bad_file_is_the_uploads_reason() -> None:
    artist = caller(PartyKind.ARTIST)
    body = hand_in(artist, artist, silent_wav(2.0), silent_wav(4.0)).json()
    assert tasks.enrol_voice.apply(args=[body["id"]]).get() == "failed"
    failed = artist.client.get(body["url"]).json()
    assert (failed["status"], failed["error"]) == ("failed", "no_speech")
    assert [f["error"] for f in failed["files"]] == ["no_speech", "no_speech"]


def test_a_recording_longer_than_the_limit_fails_as_too_long() -> None:
    artist = caller(PartyKind.ARTIST)
    body = hand_in(artist, artist, sample("slt_ref1")).json()  # 4.9 s
    with mock.patch.object(voices, "MAX_SECONDS", 3.0):
        assert tasks.enrol_voice.apply(args=[body["id"]]).get() == "failed"
    failed = artist.client.get(body["url"]).json()
    assert (failed["status"], failed["error"]) == ("failed", "too_long")
    assert failed["files"][0]["detail"] == "The audio is longer than the limit of 3 s."


def test_a_job_that_cannot_run_fails_the_enrolment_and_keeps_nothing() -> None:
    artist = caller(PartyKind.ARTIST)
    body = hand_in(artist, artist, sample("slt_ref1")).json()
    with (
        mock.patch.object(voices, "embed_recording", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        tasks.enrol_voice.apply(args=[body["id"]]).get()
    failed = artist.client.get(body["url"]).json()
    assert (failed["status"], failed["error"]) == ("failed", "internal")
    assert failed["detail"] == "The job could not run: RuntimeError."
    assert not VoiceUpload.objects.exists()
    assert not VoiceEmbedding.objects.exists()
    assert entries("voice_reference") == []


def test_only_the_artist_hands_in_its_voice(world) -> None:  # type: ignore[no-untyped-def]
    artist = world["artist"]
    data = sample("slt_ref1")
    outsiders = {
        "the artist's label": world["label"],
        "a licensee": world["licensee"],
        "another artist": caller(PartyKind.ARTIST),
        "a publisher": caller(PartyKind.PUBLISHER),
        "an auditor": caller(PartyKind.AUDITOR),
        "a viewer of the artist": caller(PartyKind.ARTIST, role=Role.VIEWER),
    }
    for who, outsider in outsiders.items():
        target = artist if who != "a viewer of the artist" else outsider
        response = hand_in(outsider, target, data)
        assert response.status_code == 403, who
        assert response.json()["code"] == "permission_denied", who
    assert not VoiceEnrolment.objects.exists()
    assert not Outbox.objects.filter(task="governance.enrol_voice").exists()


def test_only_the_artist_and_auditors_read_what_is_registered(world) -> None:  # type: ignore[no-untyped-def]
    artist = world["artist"]
    mine = enrol(artist, "slt_ref1")
    for who in ("label", "licensee"):
        assert world[who].client.get(url(artist)).status_code == 404, who
        assert world[who].client.get(mine["url"]).status_code == 404, who
    other = caller(PartyKind.ARTIST)
    assert other.client.get(url(artist)).status_code == 404
    assert other.client.get(mine["url"]).status_code == 404
    auditor = caller(PartyKind.AUDITOR)
    assert auditor.client.get(url(artist)).json()["recording_count"] == 1
    assert auditor.client.get(mine["url"]).status_code == 200
    # A viewer of the artist reads, but does not hand in.
    viewer = MembershipFactory(party=artist.party, role=Role.VIEWER)
    client = APIClient()
    client.force_authenticate(viewer.user)
    assert client.get(url(artist)).json()["recording_count"] == 1
    with mock.patch.object(outbox, "broker_send"):
        refused = client.post(url(artist), {"file": [recording(sample("slt_ref2"))]})
    assert refused.status_code == 403


def test_a_party_that_is_no_artist_or_a_missing_enrolment_is_a_404(world) -> None:  # type: ignore[no-untyped-def]
    label = world["label"]
    assert hand_in(label, label, sample("slt_ref1")).status_code == 404
    assert label.client.get(url(label)).status_code == 404
    missing = "00000000-0000-4000-8000-000000000000"
    artist = world["artist"]
    assert artist.client.get(f"{url(artist)}{missing}/").status_code == 404
    assert artist.client.get(f"/api/v1/parties/{missing}/likeness/voice/").status_code == 404


def test_missing_empty_or_unknown_fields_are_400s_naming_them(world) -> None:  # type: ignore[no-untyped-def]
    artist = world["artist"]
    missing = artist.client.post(url(artist), {"note": "x"})
    assert missing.status_code == 400
    assert set(missing.json()["fields"]) == {"file", "note"}
    empty = artist.client.post(url(artist), {"file": [recording(b"")]})
    assert empty.status_code == 400
    assert empty.json()["fields"] == {"file.0": ["The submitted file is empty."]}
    assert artist.client.post(url(artist), {"file": "x"}, format="json").status_code == 415
    assert not VoiceEnrolment.objects.exists()


def test_an_upload_past_the_limit_is_a_413_naming_file_and_nothing_is_stored(world) -> None:  # type: ignore[no-untyped-def]
    artist = world["artist"]
    with mock.patch.object(voices, "max_bytes", return_value=30_000):
        response = hand_in(artist, artist, sample("slt_ref1"), sample("slt_ref2"))
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["fields"] == {"file": ["larger than 30,000 bytes"]}
    assert not VoiceEnrolment.objects.exists()


def test_voice_matches_finds_the_artist_whose_voice_it_is() -> None:
    slt, rms = caller(PartyKind.ARTIST), caller(PartyKind.ARTIST)
    enrol(slt, "slt_ref1", "slt_ref2")
    enrol(rms, "rms_ref1")

    def query(name: str) -> np.ndarray[Any, Any]:
        return voices.embed_recording(sample(name)).vectors

    [match] = voices.voice_matches(query("slt_query"))
    assert match.artist == str(slt.party.pk)
    assert match.threshold == voice.THRESHOLD <= match.score
    assert (match.model, match.model_version, match.window) == (voice.MODEL, voice.VERSION, 0)
    assert match.sha256 in {hashlib.sha256(sample(n)).hexdigest() for n in ("slt_ref1", "slt_ref2")}
    # The score is the exact best cosine (every reference vector is in the top k here).
    refs = np.concatenate([query("slt_ref1"), query("slt_ref2")])
    assert match.score == pytest.approx(voice.score(query("slt_query"), refs)[0], abs=1e-5)

    [other] = voices.voice_matches(query("rms_query"))
    assert other.artist == str(rms.party.pk)
    # A voice nobody registered matches nobody; nor does an empty query.
    assert voices.voice_matches(query("awb_query")) == []
    assert voices.voice_matches(np.zeros((0, voice.DIMENSION), dtype=np.float32)) == []


def test_a_query_of_several_windows_says_which_one_matched() -> None:
    slt = caller(PartyKind.ARTIST)
    enrol(slt, "slt_ref1")
    stranger = voices.embed_recording(sample("awb_query")).vectors
    own = voices.embed_recording(sample("slt_query")).vectors
    [match] = voices.voice_matches(np.concatenate([stranger, own]))
    assert (match.artist, match.window) == (str(slt.party.pk), 1)


def test_voice_matches_refuses_vectors_of_another_shape() -> None:
    with pytest.raises(ValueError, match="rows of 256"):
        voices.voice_matches(np.zeros((1, 128), dtype=np.float32))


def test_vectors_of_another_model_version_are_not_matched() -> None:
    slt = caller(PartyKind.ARTIST)
    enrol(slt, "slt_ref1")
    VoiceEmbedding.objects.update(model_version="0.0.0/0")
    assert voices.voice_matches(voices.embed_recording(sample("slt_query")).vectors) == []
    assert slt.client.get(url(slt)).json()["recording_count"] == 0


def test_each_query_window_is_an_hnsw_index_scan() -> None:
    from django.db import connection

    sql = voices.nearest_sql(2)
    literal = "[" + ",".join(["0.1"] * voice.DIMENSION) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: show that the index can serve
        cursor.execute(f"EXPLAIN {sql}", [literal, voice.VERSION, literal, 5] * 2)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert plan.count("voice_embedding_hnsw") == 2, plan
