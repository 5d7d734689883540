"""A licensee's client brings the ``composition`` space in as uploaded audio does (issue 15):
its manifest line carries the audio's query segments, computed by the very function the
service runs on uploaded audio (``governance.content.queries.composition_segments``), so a
transposed re-recording of a registered work checked through the client's manifest is decided
as the same audio uploaded: the same outcome, code, works and composition match. A client's
segments are validated as its voice is: another model or model version, vectors of the wrong
size or not unit length, more segments than its audio's length gives, is a 400 naming the
field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from consentry.client import cli
from governance import tasks
from governance.content import audio, composition, queries
from governance.models import Decision, RequestItem
from governance.services import outbox
from ledger import services as ledger_services
from tests.api.test_composition_matching import hand_in
from tests.audio_support import b64, check, melody, wav
from tests.content.test_composition import RATE, piece
from tests.world import rule

pytestmark = pytest.mark.django_db


def _matches(trace: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The works and each one's composition match, as a decision's trace holds them."""
    return [
        (w["work"], [m for m in w["matches"] if m["space"] == "composition"])
        for w in trace.get("works", [])
    ]


def test_a_transposed_re_recording_through_the_clients_manifest_is_decided_as_uploaded(
    world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the tune registered as the world's recording, its holders allowing analysis
    hand_in(world, wav(piece(7, seconds=60.0), rate=RATE))
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["analyze"], effect="allow")
    # and a licensee's folder: the tune re-recorded two semitones up and two down (4 % slower),
    # and another tune under the composition space's 30 s
    folder = tmp_path / "audio"
    folder.mkdir()
    files = {
        "up.wav": wav(piece(7, transpose=2, seconds=45.0), rate=RATE),
        "down.wav": wav(piece(7, transpose=-2, tempo=0.96, seconds=40.0), rate=RATE),
        "short.wav": wav(melody(3, 20.0)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = tmp_path / "manifest.jsonl"
    # when the client writes the manifest, and each file is also uploaded as audio
    assert cli.main(["fingerprint", str(folder), "-o", str(manifest), "--workers", "1"]) == 0
    capsys.readouterr()
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    ordered = [files[name] for name in sorted(files)]  # down, short, up: the client's order
    by_audio = [check(world["licensee"], {"audio_base64": b64(data)}).json() for data in ordered]
    by_line = [check(world["licensee"], line).json() for line in lines]
    upload = SimpleUploadedFile("manifest.jsonl", manifest.read_bytes())
    with mock.patch.object(outbox, "broker_send"):
        response = world["licensee"].client.post(
            "/api/v1/use-requests/", {"use": "analyze", "manifest": upload}
        )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    by_manifest = list(
        Decision.objects.filter(request_id=response.json()["id"]).order_by("item__position")
    )

    # then the covers are the work, found by its composition, however they were sent
    assert [(b["outcome"], b["works"]) for b in by_audio] == [
        ("allow", [world["work"]["id"]]), ("no_match", []), ("allow", [world["work"]["id"]]),
    ], by_audio  # fmt: skip
    for uploaded, line, decision in zip(by_audio, by_line, by_manifest, strict=True):
        assert "id" in line, line
        assert (line["outcome"], line["code"], line["works"]) == (
            uploaded["outcome"], uploaded["code"], uploaded["works"],
        )  # fmt: skip
        assert (decision.outcome, decision.code, [str(w) for w in decision.works]) == (
            uploaded["outcome"], uploaded["code"], uploaded["works"],
        )  # fmt: skip
        assert _matches(line["trace"]) == _matches(uploaded["trace"])
        assert _matches(decision.trace) == _matches(uploaded["trace"])
    assert all(_matches(by_audio[n]["trace"])[0][1] for n in (0, 2))
    # and the segments the client sent are those the service computed from the audio
    for line, data in zip(lines, ordered, strict=True):
        decoded = audio.decode(data)
        segments = queries.composition_segments(decoded.samples, decoded.rate)
        sent = line["fingerprint"].get("composition")
        if not segments:  # the clip under 30 s
            assert sent is None
            continue
        assert sent == {
            "model": composition.MODEL,
            "model_version": composition.VERSION,
            "segments": [list(s) for s in segments],
        }
    items = RequestItem.objects.filter(request_id=response.json()["id"]).order_by("position")
    assert [i.vectors[0].get("composition") for i in items] == [
        line["fingerprint"].get("composition") for line in lines
    ]
    # and the manifest's decisions replay from the ledger as the audio's do
    ledger_services.integrate_all(now=timezone.now())
    call_command("replay_decisions", "--workers", "1")
    assert "9 decisions replayed, 0 differ" in capsys.readouterr().out


def test_no_composition_leaves_the_segments_out(tmp_path: Path) -> None:
    folder, manifest = tmp_path / "audio", tmp_path / "manifest.jsonl"
    folder.mkdir()
    (folder / "up.wav").write_bytes(wav(piece(7, transpose=2, seconds=35.0), rate=RATE))
    argv = ["fingerprint", str(folder), "-o", str(manifest), "--workers", "1", "--quiet"]
    assert cli.main([*argv, "--no-voice"]) == 0
    assert "composition" in json.loads(manifest.read_text())["fingerprint"]
    assert cli.main([*argv, "--no-voice", "--no-composition"]) == 0
    assert "composition" not in json.loads(manifest.read_text())["fingerprint"]


def test_a_clients_composition_not_the_services_is_refused_naming_the_field(
    world: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "up.wav"
    path.write_bytes(wav(piece(7, transpose=2, seconds=35.0), rate=RATE))
    result = cli.fingerprint_file(str(path), voiced=False)
    assert result.line is not None, result.error
    sent = json.loads(result.line)["fingerprint"]
    held = sent["composition"]
    assert len(held["segments"]) == 2
    one = [1.0] + [0.0] * (composition.DIMENSION - 1)
    name = "item.fingerprint.composition"
    bad = [
        ({"model_version": "1"}, f"{name}.model_version"),
        ({"model_version": None}, f"{name}.model_version"),
        ({"model": "chroma-crp"}, f"{name}.model"),
        ({"segments": [[1.0] * composition.DIMENSION]}, f"{name}.segments.0"),
        ({"segments": [one[:-1]]}, f"{name}.segments.0"),
        ({"segments": [["0.1", *one[1:]]]}, f"{name}.segments.0"),
        ({"segments": [one] * 50}, f"{name}.segments"),
        ({"segments": []}, f"{name}.segments"),
        ({"segments": "[[1.0]]"}, f"{name}.segments"),
    ]
    for change, field in bad:
        item = {"fingerprint": sent | {"composition": held | change}}
        response = check(world["licensee"], item)
        assert response.status_code == 400, (change, response.json())
        assert field in json.dumps(response.json()), (field, response.json())
    unknown = check(world["licensee"], {"fingerprint": sent | {"composition": held | {"x": 1}}})
    assert unknown.status_code == 400
    assert f"{name}.x" in json.dumps(unknown.json())
    # and the segments it computed are accepted as they are
    assert check(world["licensee"], {"fingerprint": sent}).status_code == 200
