"""Audio items recognised by voice: an artist's enrolled voice (``POST .../likeness/voice/``) in
a licensee's audio brings the artist's likeness into the decision, decided by the artist's
likeness rules, explained with the window of the audio that matched, and replayed the same.
The recordings are real speech (flite voices built from recordings of real people,
tests/voice_samples)."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pytest
import soundfile
from django.core.management import call_command
from django.utils import timezone

from governance.content import voice
from governance.models import Decision
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
