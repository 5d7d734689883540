"""Audio items recognised by voice: an artist's enrolled voice (``POST .../likeness/voice/``) in
a licensee's audio brings the artist's likeness into the decision, decided by the artist's
likeness rules, explained with the window of the audio that matched, and replayed the same.
The recordings are real speech (flite voices built from recordings of real people,
tests/voice_samples)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import soundfile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from consentry.client import cli
from governance import tasks
from governance.content import audio, voice
from governance.models import Decision, RequestItem
from governance.services import outbox
from ledger import services as ledger_services
from tests.api.test_voice import enrol
from tests.voice_samples import sample
from tests.world import rule

pytestmark = pytest.mark.django_db


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check(who: Any, use: str, data: bytes) -> dict[str, Any]:
    response = who.client.post(
        "/api/v1/checks/", {"use": use, "item": {"audio_base64": b64(data)}}, format="json"
    )
    assert response.status_code == 200, response.json()
    return dict(response.json())


def instrumental(seconds: float = 12.0) -> bytes:
    """Chords of sine tones: music with no voice in it."""
    rate = 16_000
    t = np.arange(int(seconds * rate)) / rate
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 4
    buffer = io.BytesIO()
    soundfile.write(buffer, chord.astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


def twice(data: bytes) -> bytes:
    """A clip said twice over, as a WAV: 8 to 10 s, long enough for a recording's fingerprint."""
    decoded = audio.decode(data, rate=16_000)
    buffer = io.BytesIO()
    soundfile.write(buffer, np.concatenate([decoded.samples] * 2), 16_000, format="WAV")
    return buffer.getvalue()


def test_an_artists_voice_in_the_audio_is_decided_by_the_artists_likeness_rule(
    world: dict[str, Any],
) -> None:
    artist = world["artist"]
    enrol(artist, "slt_ref1", "slt_ref2")
    rule(artist, scope="likeness", uses=["voice"], effect="deny")
    body = check(world["licensee"], "voice", sample("slt_query"))
    assert (body["outcome"], body["code"]) == ("deny", "consent.denied_by_rule")
    (matched,) = body["trace"]["artists"]
    assert matched["artist"] == str(artist.party.pk)
    (match,) = matched["matches"]
    assert match["space"] == "voice"
    assert (match["model"], match["model_version"]) == (voice.MODEL, voice.VERSION)
    assert match["score"] >= match["threshold"] == voice.THRESHOLD
    assert 0 <= match["query_start_seconds"] < match["query_end_seconds"] <= 4.5
    explanation = (
        world["licensee"].client.get(f"/api/v1/decisions/{body['id']}/explanation/?lang=fr").json()
    )
    sentences = " ".join(s for part in explanation["works"] for s in part["sentences"])
    assert "Votre audio fait entendre la voix de Ada Vale (voix, resemblyzer-ge2e" in sentences


def test_another_voice_or_an_instrumental_matches_no_artist(world: dict[str, Any]) -> None:
    enrol(world["artist"], "slt_ref1", "slt_ref2")
    body = check(world["licensee"], "voice", instrumental())
    assert body["outcome"] == "no_match", body
    assert "artists" not in body["trace"]
    # 5.2 s of another voice: too short for a recording's fingerprint, and nobody's voice.
    body = check(world["licensee"], "voice", sample("rms_query"))
    assert (body["outcome"], body["code"]) == ("error", "content.too_short"), body
    assert "artists" not in body["trace"]


def test_voice_decisions_replay_the_same(world: dict[str, Any], capsys: Any) -> None:
    artist = world["artist"]
    enrol(artist, "slt_ref1", "slt_ref2")
    rule(artist, scope="likeness", uses=["style"], effect="allow")
    assert check(world["licensee"], "style", sample("slt_query"))["outcome"] == "allow"
    assert check(world["licensee"], "voice", sample("slt_query"))["outcome"] == "deny"
    assert Decision.objects.count() == 2
    ledger_services.integrate_all(now=timezone.now())
    call_command("replay_decisions", "--workers", "1")
    assert "2 decisions replayed, 0 differ" in capsys.readouterr().out


def test_the_licensees_client_manifest_brings_the_voice_in_as_the_audio_does(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given an enrolled voice, a rule on it, and a folder of clips the licensee keeps: the
    # artist's voice (too short for a recording's fingerprint, enough for a voice) and others'
    artist, licensee = world["artist"], world["licensee"]
    enrol(artist, "slt_ref1", "slt_ref2")
    rule(artist, scope="likeness", uses=["voice"], effect="deny")
    folder = tmp_path / "clips"
    folder.mkdir()
    names = ("awb_query", "rms_query", "slt_query")
    clips = {f"{name}.ogg": sample(name) for name in names}
    clips["slt_twice.wav"] = twice(sample("slt_query"))  # long enough for a fingerprint too
    for name, data in clips.items():
        (folder / name).write_bytes(data)
    manifest = tmp_path / "manifest.jsonl"
    # when the client computes the manifest, and each clip is also uploaded as audio
    assert cli.main(["fingerprint", str(folder), "-o", str(manifest), "--workers", "1"]) == 0
    capsys.readouterr()
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == len(clips)
    by_audio = [check(licensee, "voice", data) for data in clips.values()]
    by_line = [
        licensee.client.post("/api/v1/checks/", {"use": "voice", "item": line}, format="json")
        for line in lines
    ]
    upload = SimpleUploadedFile("manifest.jsonl", manifest.read_bytes())
    with mock.patch.object(outbox, "broker_send"):
        response = licensee.client.post(
            "/api/v1/use-requests/", {"use": "voice", "manifest": upload}
        )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    by_manifest = Decision.objects.filter(request_id=response.json()["id"]).order_by(
        "item__position"
    )

    # then each is decided the same: outcome, code, the artists matched, how closely and where
    for uploaded, line, decision in zip(by_audio, by_line, by_manifest, strict=True):
        assert line.status_code == 200, line.json()
        line_body = line.json()
        assert (uploaded["outcome"], uploaded["code"]) == (line_body["outcome"], line_body["code"])
        assert (uploaded["outcome"], uploaded["code"]) == (decision.outcome, decision.code)
        assert uploaded["trace"].get("artists") == line_body["trace"].get("artists")
        stored = Decision.objects.get(pk=uploaded["id"]).trace.get("artists")
        assert stored == Decision.objects.get(pk=line_body["id"]).trace.get("artists")
        assert stored == decision.trace.get("artists")
    assert [(a["outcome"], a["code"]) for a in by_audio] == [
        ("error", "content.too_short"),
        ("error", "content.too_short"),
        ("deny", "consent.denied_by_rule"),
        ("deny", "consent.denied_by_rule"),
    ]
    for body in by_audio[2:]:
        assert [a["artist"] for a in body["trace"]["artists"]] == [str(artist.party.pk)]
    shas = [i.content_sha256 for i in RequestItem.objects.filter(request_id=response.json()["id"])
            .order_by("position")]  # fmt: skip
    assert shas == [hashlib.sha256(data).hexdigest() for data in clips.values()]
    # and the manifest's decisions replay from the ledger as the audio's do
    ledger_services.integrate_all(now=timezone.now())
    call_command("replay_decisions", "--workers", "1")
    assert "6 decisions replayed, 0 differ" in capsys.readouterr().out  # (not the 6 errors)


def test_a_clients_voice_of_another_model_version_or_not_the_models_is_refused(
    world: dict[str, Any],
) -> None:
    data = twice(sample("slt_query"))
    line = json.loads(fingerprint_file_line(data))
    sent = line["fingerprint"]
    assert sent["voice"]["model_version"] == voice.VERSION
    bad = [
        ({"model_version": "0.1.4/0"}, "item.fingerprint.voice.model_version"),
        ({"model": "ecapa"}, "item.fingerprint.voice.model"),
        ({"windows": [{"start": 0, "end": 1, "vector": [1.0] * voice.DIMENSION}]},
         "item.fingerprint.voice.windows.0.vector"),
        ({"windows": [{"start": 0, "end": 99, "vector": [1.0] + [0.0] * 255}]},
         "item.fingerprint.voice.windows.0"),
        ({"windows": [{"start": 0, "end": 1, "vector": [1.0]}]},
         "item.fingerprint.voice.windows.0.vector"),
    ]  # fmt: skip
    for change, field in bad:
        item = {"fingerprint": sent | {"voice": sent["voice"] | change}}
        response = world["licensee"].client.post(
            "/api/v1/checks/", {"use": "voice", "item": item}, format="json"
        )
        assert response.status_code == 400, (change, response.json())
        assert field in json.dumps(response.json()), (field, response.json())


def fingerprint_file_line(data: bytes) -> str:
    """The client's manifest line for ``data``."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.wav"
        path.write_bytes(data)
        result = cli.fingerprint_file(str(path))
    assert result.line is not None, result.error
    return result.line
