"""Issue 15's "done when", on real recorded music: a label hands in the reference audio of real
tracks (Debian's ``wesnoth-1.16-music``, orchestral OGG Vorbis, GPL) through the content API; a
licensee checks an MP3 re-encode of one, an 8-s crop of another under noise, a transposed
re-recording of a third and the prompt "une chanson dans le style de <artist>"; each is matched
to its work or artist and decided by that work's (or artist's) consent, with the scores in the
explanation; a track registered nowhere is ``no_match``; and the licensee's client manifest of
the same files is decided as the uploaded audio is.

The package is installed by ``make test`` (``TEST_PACKAGES``); without it these tests fail
naming it, they never skip.
"""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import Any
from unittest import mock

import av
import librosa
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from consentry.client import cli
from governance import tasks
from governance.content import audio, composition, fingerprint
from governance.models import Decision, PartyKind
from governance.services import outbox
from tests.audio_support import b64, check, wav
from tests.content import synth
from tests.factories import caller
from tests.world import rule

pytestmark = pytest.mark.django_db

MUSIC = Path("/usr/share/games/wesnoth/1.16/data/core/music")
RATE = audio.SAMPLE_RATE
# Three registered tracks, each with its own holders' consent, and one registered nowhere.
REGISTERED = {
    "northerners": ("GBWES1600001", "allow"),
    "the_deep_path": ("GBWES1600002", "deny"),
    "wanderer": ("GBWES1600003", "allow"),
}
UNREGISTERED = "knolls"


def track_path(name: str) -> Path:
    path = MUSIC / f"{name}.ogg"
    if not path.is_file():
        raise AssertionError(
            f"{path} is missing: install Debian's wesnoth-1.16-music (make test does, as root)"
        )
    return path


@functools.cache
def track(name: str) -> np.ndarray:
    """The track decoded to mono float at the service's rate, as the service decodes it."""
    return audio.decode(track_path(name).read_bytes()).samples


def excerpt(x: np.ndarray, start: float, seconds: float) -> np.ndarray:
    return x[int(start * RATE) : int((start + seconds) * RATE)]


def mp3(x: np.ndarray) -> bytes:
    """``x`` (at the service's rate) encoded as a 128 kbit/s MP3, through ``synth.encode``."""
    upsampled = librosa.resample(x, orig_sr=RATE, target_sr=synth.RATE)
    return synth.encode(upsampled, "mp3")


def wav_at_rate(x: np.ndarray) -> bytes:
    return wav(x, rate=RATE)


@pytest.fixture
def label_catalog() -> dict[str, Any]:
    """A label with three real recordings, their audio handed in and fingerprinted by the job,
    an artist credited on all three, their holders' rules, and a licensee."""
    label = caller(PartyKind.LABEL, name="Wesnoth Records")
    artist = caller(PartyKind.ARTIST, name="Ada Vale")
    licensee = caller(PartyKind.LICENSEE, name="Sonora AI Labs")
    works: dict[str, dict[str, Any]] = {}
    for name, (isrc, _) in REGISTERED.items():
        work = label.client.post(
            "/api/v1/works/",
            {
                "kind": "recording",
                "title": name.replace("_", " ").title(),
                "isrc": isrc,
                "display_artist": "Ada Vale",
                "credits": [
                    {"name": "Ada Vale", "role": "main_artist", "party": str(artist.party.pk)}
                ],
            },
            format="json",
        ).json()
        for right, holder in (("master", label), ("performer", artist)):
            share = {"work": work["id"], "holder": str(holder.party.pk), "right": right}
            share["share"] = "100"
            response = label.client.post("/api/v1/shares/", share, format="json")
            assert response.status_code == 201, response.json()
        with mock.patch.object(outbox, "broker_send"):
            response = label.client.post(
                f"/api/v1/works/{work['id']}/content/",
                {"file": SimpleUploadedFile(f"{name}.ogg", track_path(name).read_bytes())},
            )
        assert response.status_code == 202, response.json()
        assert tasks.fingerprint_content.apply(args=[response.json()["id"]]).get() == "completed"
        listed = label.client.get(f"/api/v1/works/{work['id']}/content/").json()
        spaces = {s["space"] for c in listed["results"] for s in c["spaces"]}
        assert {"fingerprint", "composition"} <= spaces, listed
        works[name] = work
    # Each work's own consent: the label allows analysing two of them and refuses the third;
    # the artist allows analysing their recordings and refuses imitations of their style.
    for name, (_, effect) in REGISTERED.items():
        rule(label, scope="works", scope_works=[works[name]["id"]], uses=["analyze"], effect=effect)
    rule(artist, scope="all_works", uses=["analyze"], effect="allow")
    rule(artist, scope="likeness", uses=["style"], effect="deny", note="Not my style.")
    return {"label": label, "artist": artist, "licensee": licensee, "works": works}


def decided(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.json()
    return dict(response.json())


def sentences(who: Any, decision_id: str, lang: str = "en") -> list[str]:
    url = f"/api/v1/decisions/{decision_id}/explanation/"
    response = who.client.get(url, {"lang": lang})
    assert response.status_code == 200, response.json()
    return [s for w in response.json()["works"] for s in w["sentences"]]


def matched(body: dict[str, Any], space: str) -> dict[str, Any]:
    (work,) = body["trace"]["works"]
    (match,) = [m for m in work["matches"] if m["space"] == space]
    assert match["score"] >= match["threshold"], match
    return dict(match)


def test_real_tracks_are_recognised_and_decided_by_each_works_consent(
    label_catalog: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    licensee, works = label_catalog["licensee"], label_catalog["works"]
    sent: dict[str, tuple[bytes, dict[str, Any]]] = {}  # each audio checked, and its answer

    # an MP3 re-encode of 30 s of "Northerners", 60 s in: its work, by its fingerprint; allowed
    reencoded = mp3(excerpt(track("northerners"), 60, 30))
    body = decided(check(licensee, {"audio_base64": b64(reencoded)}))
    sent["a.mp3"] = (reencoded, body)
    assert (body["outcome"], body["works"]) == ("allow", [works["northerners"]["id"]]), body
    match = matched(body, "fingerprint")
    assert (match["model"], match["model_version"]) == (fingerprint.MODEL, fingerprint.VERSION)
    assert abs(match["offset_seconds"] - 60.0) < 0.2, match
    (said,) = [s for s in sentences(licensee, body["id"]) if "fingerprint" in s]
    assert f"{match['coverage']} of " in said, (said, match)
    assert "seconds agree" in said, said
    assert "it is the recording from 1:00" in said, said

    # an 8-s crop of "The Deep Path", 20 s in, under white noise at 10 dB SNR: its work, whose
    # label refuses analysing it
    crop = wav_at_rate(synth.add_white_noise(excerpt(track("the_deep_path"), 20, 8), 10, 7))
    body = decided(check(licensee, {"audio_base64": b64(crop)}))
    sent["b.wav"] = (crop, body)
    assert (body["outcome"], body["works"]) == ("deny", [works["the_deep_path"]["id"]]), body
    assert body["code"] == "consent.denied_by_rule"
    assert abs(matched(body, "fingerprint")["offset_seconds"] - 20.0) < 0.2

    # a re-recording of "Wanderer" two semitones up (60 s of it): its composition; allowed
    transposed = mp3(
        librosa.effects.pitch_shift(excerpt(track("wanderer"), 30, 60), sr=RATE, n_steps=2)
    )
    body = decided(check(licensee, {"audio_base64": b64(transposed)}))
    sent["c.mp3"] = (transposed, body)
    assert (body["outcome"], body["works"]) == ("allow", [works["wanderer"]["id"]]), body
    match = matched(body, "composition")
    assert (match["model"], match["model_version"]) == (composition.MODEL, composition.VERSION)
    (said,) = [s for s in sentences(licensee, body["id"]) if "composition" in s]
    assert said.startswith("Your audio is a version of the composition of “Wanderer”"), said

    # the prompt naming the artist in French: the artist, by name, refused by her likeness rule
    prompt = "une chanson dans le style de Ada Vale"
    body = decided(check(licensee, {"text": prompt}, use="style"))
    assert (body["outcome"], body["code"]) == ("deny", "consent.denied_by_rule"), body
    (artist,) = body["trace"]["artists"]
    assert artist["artist"] == str(label_catalog["artist"].party.pk)
    assert artist["matches"][0]["score"] >= artist["matches"][0]["threshold"]

    # a real track registered nowhere: no match, in either space
    unregistered = mp3(excerpt(track(UNREGISTERED), 40, 30))
    body = decided(check(licensee, {"audio_base64": b64(unregistered)}))
    sent["d.mp3"] = (unregistered, body)
    assert (body["outcome"], body["works"]) == ("no_match", []), body

    # the same four files fingerprinted by the licensee's client, the audio staying with it:
    # its manifest of vectors is decided as the uploaded audio was, line by line
    folder = tmp_path / "audio"
    folder.mkdir()
    for name, (data, _) in sent.items():
        (folder / name).write_bytes(data)
    manifest = tmp_path / "manifest.jsonl"
    assert cli.main(["fingerprint", str(folder), "-o", str(manifest), "--workers", "1"]) == 0
    capsys.readouterr()
    with mock.patch.object(outbox, "broker_send"):
        response = licensee.client.post(
            "/api/v1/use-requests/",
            {"use": "analyze", "manifest": SimpleUploadedFile("m.jsonl", manifest.read_bytes())},
        )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    decisions = Decision.objects.filter(request_id=response.json()["id"]).order_by("item__position")
    assert [(d.outcome, [str(w) for w in d.works]) for d in decisions] == [
        (answer["outcome"], answer["works"]) for _, answer in sent.values()
    ]


def test_the_tracks_are_decoded_from_the_package_as_real_music() -> None:
    # (the scenario above is only as good as its material: real, minutes-long recordings)
    for name in (*REGISTERED, UNREGISTERED):
        container = av.open(io.BytesIO(track_path(name).read_bytes()))
        assert container.streams.audio[0].codec_context.name == "vorbis"
        assert track(name).size / RATE > 150
