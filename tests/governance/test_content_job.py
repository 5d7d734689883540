"""The content job (``governance.fingerprint_content``): its postings are exactly the
fingerprint's (the binary COPY round-trips), a transient database error is retried and,
retries exhausted, fails the content, and any other error fails it too (never left
``processing``); the bytes go whatever the outcome."""

from __future__ import annotations

import uuid
from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from governance import tasks
from governance.content import audio, fingerprint, peaks
from governance.models import ContentUpload, FingerprintSource, WorkContent
from governance.services import content as content_services
from governance.services import fingerprint_store, outbox
from tests.audio import tones

pytestmark = pytest.mark.django_db


def handed_in(world: dict[str, Any], data: bytes) -> str:
    with mock.patch.object(outbox, "broker_send"):
        response = world["label"].client.post(
            f"/api/v1/works/{world['work']['id']}/content/",
            {"file": SimpleUploadedFile("a.wav", data, content_type="audio/wav")},
        )
    assert response.status_code == 202, response.json()
    return str(response.json()["id"])


def test_the_postings_are_the_fingerprints_hashes_and_times(world) -> None:  # type: ignore[no-untyped-def]
    data = tones(12, seed=21)
    content_id = handed_in(world, data)
    assert tasks.fingerprint_content.apply(args=[content_id]).get() == "completed"
    expected = content_services.extract(data)
    stored = np.stack(fingerprint_store.postings_of(content_id), 1)
    wanted = np.stack([expected.hashes.astype(np.int64), expected.times.astype(np.int64)], 1)
    assert len(wanted) > 100
    assert sorted(map(tuple, stored.tolist())) == sorted(map(tuple, wanted.tolist()))


def test_postings_outside_the_hash_bits_the_layout_or_the_peaks_frames_are_refused(world) -> None:  # type: ignore[no-untyped-def]
    content_id = uuid.UUID(handed_in(world, tones(10, seed=22)))
    top = 2**fingerprint.HASH_BITS - 1
    # (the largest landmark hash: anchor bin 255, df 0, dt 255; its target's frame the last a
    # packed peak holds)
    last, frame = (255 << 14) | (32 << 8) | 255, peaks.MAX_FRAME - 255
    with pytest.raises(ValueError, match="hash is outside"):
        content_services.postings_store(content_id, np.array([top + 1]), np.array([0]))
    with pytest.raises(ValueError, match="frame is outside"):
        content_services.postings_store(content_id, np.array([1]), np.array([-1]))
    with pytest.raises(ValueError, match="frame is outside"):
        content_services.postings_store(content_id, np.array([1]), np.array([2**31]))
    with pytest.raises(ValueError, match="2 hashes but 1 frames"):
        content_services.postings_store(content_id, np.array([1, 2]), np.array([3]))
    with pytest.raises(ValueError, match="target bin is outside"):
        content_services.postings_store(content_id, np.array([top]), np.array([0]))
    with pytest.raises(ValueError, match="frame is outside"):
        content_services.postings_store(content_id, np.array([last]), np.array([frame + 1]))
    # (nothing was written by the refused ones)
    assert fingerprint_store.stored_postings() == 0
    assert not FingerprintSource.objects.exists()
    assert content_services.postings_store(content_id, np.array([last]), np.array([frame])) == 1
    hashes, times = fingerprint_store.postings_of(content_id)
    assert (hashes.tolist(), times.tolist()) == ([last], [frame])


def test_a_database_that_stays_down_fails_the_content_once_retries_are_exhausted(world) -> None:  # type: ignore[no-untyped-def]
    content_id = handed_in(world, tones(10, seed=23))
    down = mock.patch.object(content_services, "content_run", side_effect=OperationalError("gone"))
    with down as run:
        result = tasks.fingerprint_content.apply(args=[content_id])
    assert result.failed()
    assert run.call_count == tasks.fingerprint_content.max_retries + 1
    content = WorkContent.objects.get(pk=content_id)
    assert (content.status, content.error) == ("failed", "unavailable")
    assert not ContentUpload.objects.exists()


def test_an_unexpected_error_fails_the_content_instead_of_leaving_it_processing(world) -> None:  # type: ignore[no-untyped-def]
    content_id = handed_in(world, tones(10, seed=24))
    with mock.patch.object(content_services, "extract", side_effect=RuntimeError("bug")):
        result = tasks.fingerprint_content.apply(args=[content_id])
    assert result.failed()
    content = WorkContent.objects.get(pk=content_id)
    assert (content.status, content.error) == ("failed", "internal")
    assert "RuntimeError" in content.detail
    assert not ContentUpload.objects.exists()
    assert fingerprint_store.stored_postings() == 0


def test_the_stored_postings_give_the_votes_of_the_memory_index(world) -> None:  # type: ignore[no-untyped-def]
    """The votes of the fingerprint space over the packed store (one round trip for the rows
    of the query's hashes) are exactly ``MemoryIndex.votes`` over the same fingerprints, and
    rank the track the query was cut from first."""
    tracks = {seed: tones(20, seed=seed) for seed in (41, 42)}
    index = fingerprint.MemoryIndex()
    for seed, data in tracks.items():
        content_id = handed_in(world, data)
        assert tasks.fingerprint_content.apply(args=[content_id]).get() == "completed"
        index.add(content_id, fingerprint.fingerprint(data))
        if seed == 41:
            wanted = content_id
    # A 10-second crop of the first track, from its 5th second.
    samples = audio.decode(tracks[41]).samples
    rate = audio.SAMPLE_RATE
    query = fingerprint.extract(audio.Audio.from_samples(samples[5 * rate : 15 * rate]))
    stored = sorted(fingerprint_store.every_vote(query))
    assert stored == sorted(index.votes(query))
    best = fingerprint.score_votes(stored)[0]
    assert best.key == wanted
    assert best.score >= fingerprint.threshold(10.0)


def test_a_job_that_fills_a_tier_of_segments_sends_the_compaction_which_merges_them(world) -> None:  # type: ignore[no-untyped-def]
    from governance.models import FingerprintSegment, Outbox

    ids = [handed_in(world, tones(10, seed=60 + n)) for n in range(3)]
    with mock.patch.object(fingerprint_store, "FANOUT", 3):
        for n, content_id in enumerate(ids):
            with mock.patch.object(outbox, "broker_send"):
                assert tasks.fingerprint_content.apply(args=[content_id]).get() == "completed"
            compactions = Outbox.objects.filter(task="governance.compact_fingerprints")
            # the third content's segment fills tier 0: the compaction is sent once it commits
            assert compactions.count() == (1 if n == 2 else 0)
        assert FingerprintSegment.objects.count() == 3
        assert tasks.compact_fingerprints.apply().get() == 1
    assert FingerprintSegment.objects.count() == 1
    for content_id in ids:
        assert len(fingerprint_store.postings_of(content_id)[0]) > 100
