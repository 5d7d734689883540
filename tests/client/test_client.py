"""The licensee's client (``python -m consentry.client fingerprint``): its manifest carries the
same fingerprints the service computes from the audio, bad files are named and left out, a
resumed run adds only what is missing, and the client installed alone (``client/``) runs
without Django or anything of the service but ``governance.content``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from consentry.client import cli
from consentry.client.cli import main
from governance.content import audio, composition, fingerprint, queries, voice
from tests.content import synth
from tests.voice_samples import sample

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def songs() -> dict[str, bytes]:
    return {
        "a.wav": synth.encode(synth.music(1, 12.0), "wav"),
        "nested/b.mp3": synth.encode(synth.music(2, 12.0), "mp3"),
    }


def _folder(tmp_path: Path, songs: dict[str, bytes]) -> Path:
    folder = tmp_path / "audio"
    for name, data in songs.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "broken.ogg").write_bytes(b"OggS" + b"\x00" * 200)
    (folder / "notes.txt").write_text("not audio: ignored by its suffix")
    return folder


def _lines(path: Path) -> list[dict[str, dict[str, str]]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_manifest_holds_the_services_fingerprints_and_names_bad_files(
    tmp_path: Path, songs: dict[str, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, out = _folder(tmp_path, songs), tmp_path / "manifest.jsonl"
    assert main(["fingerprint", str(folder), "-o", str(out), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'broken.ogg'}: " in err
    assert "notes.txt" not in err
    lines = _lines(out)
    index = [row.split("\t") for row in Path(f"{out}.index.tsv").read_text().splitlines()]
    assert [path for _, _, path in index] == [str(folder / "a.wav"), str(folder / "nested/b.mp3")]
    for (number, digest, path), line, name in zip(index, lines, sorted(songs), strict=True):
        item = line["fingerprint"]
        assert set(line) == {"fingerprint"}
        assert number == str(lines.index(line) + 1)
        assert item["sha256"] == digest == hashlib.sha256(songs[name]).hexdigest()
        assert item["model_version"] == fingerprint.VERSION
        sent = fingerprint.Fingerprint.from_bytes(base64.b64decode(item["data"]))
        direct = fingerprint.fingerprint(songs[name])
        assert sent.hashes.tolist() == direct.hashes.tolist()
        assert sent.times.tolist() == direct.times.tolist()
        assert path.endswith(name)


def test_resume_adds_only_the_missing_files(tmp_path: Path, songs: dict[str, bytes]) -> None:
    folder, out = _folder(tmp_path, songs), tmp_path / "manifest.jsonl"
    (folder / "broken.ogg").unlink()
    later = folder / "nested/b.mp3"
    kept = later.read_bytes()
    later.unlink()
    assert main(["fingerprint", str(folder), "-o", str(out), "--quiet", "--workers", "1"]) == 0
    first = out.read_text()
    later.write_bytes(kept)
    assert main(["fingerprint", str(folder), "-o", str(out), "--resume", "--workers", "2"]) == 0
    assert out.read_text().startswith(first)
    assert len(_lines(out)) == 2
    assert Path(f"{out}.index.tsv").read_text().splitlines()[1].startswith("2\t")


def test_a_folder_that_is_not_one_is_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fingerprint", str(tmp_path / "nowhere"), "-o", str(tmp_path / "m")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_the_client_installs_and_runs_alone(tmp_path: Path, songs: dict[str, bytes]) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(ROOT / "client")],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    shipped = sorted(str(p.relative_to(target)) for p in target.rglob("*.py"))
    assert "governance/content/fingerprint.py" in shipped
    assert not [p for p in shipped if p.startswith("governance/") and "/content/" not in p
                and p != "governance/__init__.py"]  # fmt: skip
    folder, out = _folder(tmp_path, songs), tmp_path / "manifest.jsonl"
    (folder / "speech.ogg").write_bytes(sample("slt_query"))  # a voice, too short to fingerprint
    cover = synth.encode(synth.music(3, 35.0), "wav")  # long enough for composition segments
    (folder / "tune.wav").write_bytes(cover)
    # Only the installed files and the audio and model packages: Django, DRF and Celery cannot
    # be imported.
    run = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "[sys.modules.__setitem__(m, None) for m in ('django', 'rest_framework', 'celery')];"
        "import governance.content, consentry.client.cli as c;"
        "assert governance.content.__file__.startswith(sys.argv[1]), governance.content.__file__;"
        "sys.exit(c.main(['fingerprint', sys.argv[2], '-o', sys.argv[3], '--workers', '1']))"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", run, str(target), str(folder), str(out)],
        capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # broken.ogg
    lines = _lines(out)
    assert len(lines) == 4
    assert "broken.ogg" in done.stderr
    # (the speech's voice computed alone; webrtcvad also hears "speech" in the synthetic music)
    assert lines[2]["fingerprint"]["voice"]["windows"], lines[2]
    # the tune's composition segments, computed alone, are the service's function's
    decoded = audio.decode(cover)
    segments = queries.composition_segments(decoded.samples, decoded.rate)
    assert segments
    assert lines[3]["fingerprint"]["composition"] == {
        "model": composition.MODEL,
        "model_version": composition.VERSION,
        "segments": [list(s) for s in segments],
    }
    assert [("composition" in line["fingerprint"]) for line in lines[:3]] == [False] * 3


def test_the_manifest_carries_the_voice_the_service_computes_unless_told_not_to(
    tmp_path: Path,
) -> None:
    folder, out = tmp_path / "clips", tmp_path / "manifest.jsonl"
    folder.mkdir()
    (folder / "slt.ogg").write_bytes(sample("slt_query"))  # 4.4 s: too short for a fingerprint
    assert main(["fingerprint", str(folder), "-o", str(out), "--workers", "2", "--quiet"]) == 0
    (line,) = _lines(out)
    sent = line["fingerprint"]
    decoded = audio.decode(sample("slt_query"))
    windows = voice.windows(decoded.samples, decoded.rate)
    assert windows
    assert sent["voice"] == {
        "model": voice.MODEL,
        "model_version": voice.VERSION,
        "windows": [{"start": a, "end": b, "vector": list(v)} for v, (a, b) in windows],
    }
    fp = fingerprint.Fingerprint.from_bytes(base64.b64decode(sent["data"]))
    assert (len(fp), fp.seconds) == (0, decoded.seconds)
    # without the voice, a clip too short for a fingerprint has nothing to send
    assert main(["fingerprint", str(folder), "-o", str(out), "--no-voice", "--quiet"]) == 1
    assert _lines(out) == []


def test_without_the_voice_packages_the_client_says_which_and_how_to_do_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock.patch.object(cli, "missing_voice_packages", return_value=["torch", "resemblyzer"]):
        assert main(["fingerprint", str(tmp_path), "-o", str(tmp_path / "m")]) == 2
        err = capsys.readouterr().err
        assert "torch, resemblyzer" in err
        assert "client[voice]" in err
        assert "--no-voice" in err
        assert main(["fingerprint", str(tmp_path), "-o", str(tmp_path / "m"), "--no-voice"]) == 0
    assert cli.missing_voice_packages() == []  # here, the service's environment has them all


def test_without_the_composition_packages_the_client_says_which_and_how_to_do_without(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with mock.patch.object(cli, "missing_composition_packages", return_value=["librosa"]):
        argv = ["fingerprint", str(tmp_path), "-o", str(tmp_path / "m"), "--no-voice"]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "need librosa" in err
        assert "client[composition]" in err
        assert "--no-composition" in err
        assert main([*argv, "--no-composition"]) == 0
    assert cli.missing_composition_packages() == []  # the service's environment has librosa


def test_a_missing_composition_package_is_named(tmp_path: Path) -> None:
    # (librosa made unimportable: what the composition module imports is named, whichever
    # version of it the client ships)
    run = (
        "import sys; sys.modules['librosa'] = None;"
        "import consentry.client.cli as c; print(c.missing_composition_packages())"
    )
    done = subprocess.run(
        [sys.executable, "-c", run], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert done.stdout.strip() == "['librosa']", done.stdout
