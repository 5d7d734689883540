"""Audio matched against the registered works' fingerprints (issue 15): an excerpt, under
noise or re-encoded, names its recording and is decided by its consent, explained in words,
ledgered with the audio's SHA-256 (never the audio) and replayed from the ledger alone, by
``replay_decisions`` and by the offline verifier; the client's fingerprints are decided as the
audio is; the vote query reads what ``MemoryIndex`` computes."""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from consentry.client import cli
from governance import tasks
from governance.content import fingerprint, presence
from governance.models import Decision, PartyKind, RequestItem, WorkContent
from governance.replay import replay
from governance.services import fingerprint_store, fingerprints, outbox
from ledger import services as ledger_services
from ledger.models import PendingEntry
from tests.audio_support import (
    b64,
    check,
    excerpt,
    never_registered,
    other,
    song,
    wav,
    with_noise,
)
from tests.content import synth
from tests.factories import caller
from tests.governance.test_verify_replay import Served, replay_decisions, signed, verify_replay
from tests.world import rule

pytestmark = pytest.mark.django_db


def test_an_8_second_excerpt_under_noise_matches_its_recording_and_is_decided_by_its_consent(
    catalog: dict[str, Any],
) -> None:
    # given an 8-s excerpt of the registered song, 20 s in, under white noise at 10 dB SNR
    audio = wav(with_noise(excerpt(song(), start=20.0, seconds=8.0), snr_db=10))
    # when the licensee checks it
    response = check(catalog["licensee"], {"audio_base64": b64(audio)})
    # then it matches that recording alone, and its holders' consent decides
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "allow", body
    assert [str(w) for w in body["works"]] == [catalog["work"]["id"]]
    (work,) = body["trace"]["works"]
    (match,) = work["matches"]
    assert match["space"] == "fingerprint"
    assert (match["model"], match["model_version"]) == (fingerprint.MODEL, fingerprint.VERSION)
    assert match["score"] >= match["threshold"]
    assert match["coverage"] >= match["min_coverage"] == fingerprint.threshold(8.0)
    assert abs(match["offset_seconds"] - 20.0) < 0.2  # where in the recording the audio starts
    assert 0 <= match["query_start_seconds"] < match["query_end_seconds"] <= 8.5
    # what the ledger holds: the audio's SHA-256 and the model that fingerprinted it
    entry = PendingEntry.objects.get(kind="decision")
    payload = json.loads(bytes(entry.data))["payload"]
    assert payload["content_sha256"] == hashlib.sha256(audio).hexdigest()
    assert payload["content"] == {
        "space": "fingerprint", "model": fingerprint.MODEL,
        "model_version": fingerprint.VERSION, "seconds": pytest.approx(8.0, abs=0.05),
    }  # fmt: skip
    assert payload["works"][0]["matches"] == [match]
    # and nowhere the audio: the item keeps its fingerprint, not the file
    (item,) = RequestItem.objects.all()
    assert item.content_sha256 == hashlib.sha256(audio).hexdigest()
    assert b64(audio)[100:200] not in json.dumps(item.vectors) + bytes(entry.data).decode()


@pytest.mark.parametrize("kind", ["mp3", "opus", "flac"])
def test_a_re_encoded_excerpt_matches_as_well(catalog: dict[str, Any], kind: str) -> None:
    audio = synth.encode(excerpt(other(), start=33.0, seconds=8.0), kind)
    body = check(catalog["licensee"], {"audio_base64": b64(audio)}).json()
    assert body["works"] == [catalog["other"]["id"]], body
    assert abs(body["trace"]["works"][0]["matches"][0]["offset_seconds"] - 33.0) < 0.2


def test_the_explanation_says_what_matched_and_how_closely_in_english_and_french(
    catalog: dict[str, Any],
) -> None:
    audio = wav(excerpt(song(), start=30.0, seconds=10.0))
    decision = check(catalog["licensee"], {"audio_base64": b64(audio)}).json()
    url = f"/api/v1/decisions/{decision['id']}/explanation/"
    en = catalog["licensee"].client.get(url).json()["works"][0]["sentences"][0]
    fr = catalog["licensee"].client.get(url, {"lang": "fr"}).json()["works"][0]["sentences"][0]
    assert en.startswith("Your audio matches “Northern Lights” (fingerprint, consentry-landmark")
    assert "seconds agree, threshold" in en
    assert "the recording from 0:3" in en
    assert fr.startswith("Votre audio correspond à «\u00a0Northern Lights\u00a0»")
    assert "secondes sur" in fr


def _under(signal: Any, background: Any) -> Any:
    """``signal`` 10 dB under ``background`` (a -10 dB mix, as the benchmark makes them)."""
    background = background[: len(signal)]
    quiet = signal * (synth.rms(background) / synth.rms(signal)) * 10 ** (-10 / 20)
    mixed = quiet + background
    return mixed / abs(mixed).max() * 0.9


def test_where_coverage_cannot_pass_the_recordings_peaks_match_by_presence(
    catalog: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given coverage made unreachable (so that presence alone decides) and 14 s of the song,
    # 20 s in, 10 dB under music never registered
    monkeypatch.setattr(fingerprint, "threshold", lambda seconds: 10_000)
    background = synth.music(4242, 15.0)
    audio = wav(_under(excerpt(song(), start=20.0, seconds=14.0), background))
    # when the licensee checks it
    body = check(catalog["licensee"], {"audio_base64": b64(audio)}).json()
    # then the recording's peaks are present far above chance, and its consent decides
    assert body["outcome"] == "allow", body
    assert [str(w) for w in body["works"]] == [catalog["work"]["id"]]
    (match,) = body["trace"]["works"][0]["matches"]
    assert (match["space"], match["method"]) == ("fingerprint", "presence")
    assert match["z"] >= match["min_z"] == presence.Z_THRESHOLD
    assert match["score"] == pytest.approx(match["weight"] / match["peaks"], abs=1e-6)
    assert match["score"] >= match["threshold"]
    assert match["threshold"] == pytest.approx(match["min_weight"] / match["peaks"], abs=1e-6)
    assert match["weight"] >= match["min_weight"] > match["expected_weight"]
    assert match["present"] > match["expected"]
    assert match["present"] >= match["weight"]
    assert abs(match["offset_seconds"] - 20.0) < 0.2
    url = f"/api/v1/decisions/{body['id']}/explanation/"
    en = catalog["licensee"].client.get(url).json()["works"][0]["sentences"][0]
    fr = catalog["licensee"].client.get(url, {"lang": "fr"}).json()["works"][0]["sentences"][0]
    assert "by the presence of the recording's peaks" in en
    assert f"{match['present']} of its {match['peaks']} peaks" in en
    assert "the recording from 0:20" in en
    assert "par la présence des pics" in fr
    # and the same mix of music registered nowhere matches nothing
    unknown = wav(_under(never_registered()[: 14 * 22_050], background))
    response = check(catalog["licensee"], {"audio_base64": b64(unknown)})
    assert response.json()["outcome"] == "no_match", response.json()


def test_audio_registered_nowhere_is_no_match(catalog: dict[str, Any]) -> None:
    response = check(catalog["licensee"], {"audio_base64": b64(wav(never_registered()))})
    assert response.status_code == 200, response.json()
    assert (response.json()["outcome"], response.json()["code"]) == ("no_match", "match.none")
    assert response.json()["works"] == []


def test_a_fingerprint_from_the_client_is_decided_as_its_audio_is(catalog: dict[str, Any]) -> None:
    audio = wav(with_noise(excerpt(song(), start=40.0, seconds=15.0), snr_db=5))
    by_audio = check(catalog["licensee"], {"audio_base64": b64(audio)}).json()
    fp = fingerprint.fingerprint(audio)
    sent = {
        "model_version": fingerprint.VERSION,
        "data": b64(fp.to_bytes()),
        "sha256": hashlib.sha256(audio).hexdigest(),
    }
    by_fingerprint = check(catalog["licensee"], {"fingerprint": sent}).json()
    assert by_audio["outcome"] == by_fingerprint["outcome"] == "allow"
    assert by_audio["works"] == by_fingerprint["works"] == [catalog["work"]["id"]]
    assert by_audio["trace"]["works"] == by_fingerprint["trace"]["works"]
    shas = RequestItem.objects.values_list("content_sha256", flat=True)
    assert set(shas) == {hashlib.sha256(audio).hexdigest()}


def test_a_manifest_of_client_fingerprints_is_decided_line_by_line(
    catalog: dict[str, Any],
) -> None:
    lines = []
    for signal in (excerpt(song(), start=10.0, seconds=10.0), never_registered()):
        audio = wav(signal)
        fp = fingerprint.fingerprint(audio)
        lines.append(json.dumps({"fingerprint": {
            "model_version": fingerprint.VERSION, "data": b64(fp.to_bytes()),
            "sha256": hashlib.sha256(audio).hexdigest(),
        }}))  # fmt: skip
    manifest = SimpleUploadedFile("items.jsonl", "\n".join(lines).encode())
    response = catalog["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": manifest}
    )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    decisions = Decision.objects.filter(request_id=response.json()["id"]).order_by("item__position")
    assert [d.outcome for d in decisions] == ["allow", "no_match"]


def test_the_licensees_client_manifest_is_decided_as_the_audio_would_be(
    catalog: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a folder the licensee fingerprints with the client, the audio staying with it
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / "a.wav").write_bytes(wav(with_noise(excerpt(song(), start=50, seconds=8), snr_db=5)))
    (folder / "b.wav").write_bytes(wav(never_registered()))
    manifest = tmp_path / "manifest.jsonl"
    assert cli.main(["fingerprint", str(folder), "-o", str(manifest), "--workers", "1"]) == 0
    capsys.readouterr()
    # when the manifest is sent
    upload = SimpleUploadedFile("manifest.jsonl", manifest.read_bytes())
    response = catalog["licensee"].client.post(
        "/api/v1/use-requests/", {"use": "analyze", "manifest": upload}
    )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    # then each file's line is decided, the registered excerpt by its recording's consent
    decisions = Decision.objects.filter(request_id=response.json()["id"]).order_by("item__position")
    assert [(d.outcome, [str(w) for w in d.works]) for d in decisions] == [
        ("allow", [catalog["work"]["id"]]),
        ("no_match", []),
    ]
    shas = [i.content_sha256 for i in RequestItem.objects.order_by("position")]
    files = [(folder / name).read_bytes() for name in ("a.wav", "b.wav")]
    assert shas == [hashlib.sha256(data).hexdigest() for data in files]


def test_the_sql_votes_are_the_reference_indexs(catalog: dict[str, Any]) -> None:
    # given the two registered recordings in a MemoryIndex too, keyed by their content ids

    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text, work_id::text FROM governance_workcontent")
        contents = dict(cursor.fetchall())
    index = fingerprint.MemoryIndex()
    for content_id, work_id in contents.items():
        signal = song() if work_id == catalog["work"]["id"] else other()
        index.add(content_id, fingerprint.fingerprint(wav(signal)))
    # when a noisy excerpt is matched both ways, then the votes are the same rows
    query = fingerprint.fingerprint(wav(with_noise(excerpt(song(), start=3, seconds=9), snr_db=5)))
    assert sorted(fingerprints.fingerprint_votes(query)) == sorted(index.votes(query))
    assert fingerprints.fingerprint_votes(query)  # (not two empty lists)
    # and the votes matching reads (those near an offset that could pass) find the same
    # passing candidates as every vote does, for registered and unregistered audio alike
    found = 0
    for signal in (
        excerpt(song(), start=3, seconds=9),
        with_noise(excerpt(other(), start=40, seconds=20), snr_db=5),
        never_registered(),
        excerpt(never_registered(), start=5, seconds=8),
    ):
        fp = fingerprint.fingerprint(wav(signal))
        needed = fingerprint.threshold(fp.seconds)
        near = fingerprints.fingerprint_near_votes(fp, needed=needed)
        passing = [c for c in fingerprint.score_votes(near) if c.score >= needed]
        every = [c for c in fingerprint.score_votes(index.votes(fp)) if c.score >= needed]
        assert passing == every
        assert len(near) < len(index.votes(fp))
        found += len(passing)
    assert found == 2


def test_the_common_hashes_are_left_out_of_the_query(catalog: dict[str, Any]) -> None:
    # given the other recording's postings held by five more contents too (six copies of each
    # of its hashes), and a stop list that leaves out hashes with more than three postings
    from governance.services.content import postings_store

    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text, work_id::text FROM governance_workcontent")
        contents = dict(cursor.fetchall())
    index = fingerprint.MemoryIndex()
    for content_id, work_id in contents.items():
        signal = song() if work_id == catalog["work"]["id"] else other()
        index.add(content_id, fingerprint.fingerprint(wav(signal)))
    copied = fingerprint.fingerprint(wav(other()))
    [other_id] = [c for c, w in contents.items() if w != catalog["work"]["id"]]
    for n in range(5):
        copy_id = uuid.UUID(int=n + 1)
        twin = WorkContent.objects.get(pk=other_id)
        twin.pk, twin.sha256 = copy_id, hashlib.sha256(b"%d" % n).hexdigest()
        twin.save(force_insert=True)
        postings_store(copy_id, copied.hashes, copied.times)
        index.add(str(copy_id), copied)
    cap = 3
    # when an excerpt of each recording is matched
    for signal, passes in ((excerpt(song(), start=3, seconds=9), True),
                           (excerpt(other(), start=10, seconds=9), False)):  # fmt: skip
        fp = fingerprint.fingerprint(wav(signal))
        needed = fingerprint.threshold(fp.seconds)
        with mock.patch.object(fingerprints, "hash_cap", return_value=cap):
            near = fingerprints.fingerprint_near_votes(fp, needed=needed)
            matched = fingerprints.fingerprint_matches(fingerprints.audio_file_content(
                wav(signal), name="audio"))  # fmt: skip
        # then the votes are those of the hashes with at most three postings, as in memory
        capped = [c for c in fingerprint.score_votes(index.votes(fp, cap=cap)) if c.score >= needed]
        assert [c for c in fingerprint.score_votes(near) if c.score >= needed] == capped
        assert index.postings(fp, cap=cap) < index.postings(fp)
        # the song's hashes are rare and it is still found; the other recording's are all
        # common (six copies), so none is read: neither it nor its five copies match
        assert bool(matched) is passes
        assert bool(capped) is passes
        every = [c for c in fingerprint.score_votes(index.votes(fp)) if c.score >= needed]
        assert len(every) == (1 if passes else 6)


def test_the_stop_lists_cap_follows_the_stored_postings(catalog: dict[str, Any]) -> None:
    # given the postings of the two registered recordings
    stored = fingerprint_store.stored_postings()
    assert stored == sum(len(fingerprint.fingerprint(wav(s))) for s in (song(), other()))
    # then the cap is the floor for so few, and CAP_RATIO times a hash's mean for many
    assert fingerprints.hash_cap() == fingerprint.hash_cap(stored) == fingerprint.CAP_MIN
    assert fingerprint.hash_cap(2**fingerprint.HASH_BITS * 100) == 100 * fingerprint.CAP_RATIO
    assert fingerprint.hash_cap(0, floor=0) == 0


def test_audio_matched_decisions_replay_with_no_difference(catalog: dict[str, Any]) -> None:
    licensee = catalog["licensee"]
    for item in (
        {"audio_base64": b64(wav(excerpt(song(), start=12.0, seconds=8.0)))},
        {"audio_base64": b64(wav(never_registered()))},
        {"audio_base64": b64(b"")},
    ):
        assert check(licensee, item).status_code == 200
    response = licensee.client.post(
        "/api/v1/use-requests/",
        {
            "use": "train",
            "items": [{"audio_base64": b64(wav(excerpt(other(), start=1.0, seconds=9.0)))}],
        },
        format="json",
    )
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    ledger_services.integrate_all(now=timezone.now())
    outcomes = sorted(Decision.objects.values_list("outcome", flat=True))
    assert outcomes == ["allow", "deny", "error", "no_match"]
    assert replay() == (3, [])  # (the error is not replayed: nothing was decided)


@pytest.fixture
def http(db: None) -> Iterator[Served]:
    """The service on a loopback port, for the offline verifier."""
    server = Served()
    try:
        yield server
    finally:
        server.close()


def test_the_offline_verifier_replays_audio_matched_decisions_as_replay_decisions_does(
    catalog: dict[str, Any],
    http: Served,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for signal in (
        excerpt(song(), start=44.0, seconds=8.0),
        excerpt(other(), start=2.0, seconds=20),
    ):
        assert check(catalog["licensee"], {"audio_base64": b64(wav(signal))}).json()["works"]
    vkey = signed()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", caller(PartyKind.AUDITOR).secret)

    status, lines, err = verify_replay(capsys, http, vkey)

    assert (status, lines) == (0, ["2 decisions replayed, 0 differ"]), err
    assert replay_decisions() == (0, lines)


def test_audio_handed_in_through_the_content_api_is_matched_by_a_licensees_check(
    world: dict[str, Any],
) -> None:
    # given a label that hands in its recording's audio, which the content job fingerprints
    label, work = world["label"], world["work"]
    recording = synth.encode(song(), "mp3")
    with mock.patch.object(outbox, "broker_send"):
        response = label.client.post(
            f"/api/v1/works/{work['id']}/content/",
            {"file": SimpleUploadedFile("track.mp3", recording)},
        )
    assert response.status_code == 202, response.json()
    assert tasks.fingerprint_content.apply(args=[response.json()["id"]]).get() == "completed"
    rule(label, scope="all_works", uses=["analyze"], effect="deny")
    # when a licensee checks 10 s of it, re-encoded, under noise
    query = synth.encode(with_noise(excerpt(song(), start=31.0, seconds=10.0), snr_db=5), "opus")
    body = check(world["licensee"], {"audio_base64": b64(query)}).json()
    # then the recording is found where the excerpt lies, and the label's refusal decides
    assert (body["outcome"], body["works"]) == ("deny", [work["id"]]), body
    assert abs(body["trace"]["works"][0]["matches"][0]["offset_seconds"] - 31.0) < 0.2
    # and the log (the work's content entry, then the decision) replays with no difference
    ledger_services.integrate_all(now=timezone.now())
    assert replay() == (1, [])
