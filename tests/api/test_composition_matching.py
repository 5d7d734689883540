"""The ``composition`` space wired into the service (issue 15): migration 0010 made the space
and its index; the content job stores a recording's composition vectors (none for audio under
30 s, which the content says); a licensee's cover of the registered tune, two semitones up and
8 % faster, is matched through them and decided by the work's consent, explained in English
and French, ledgered and replayed as recorded; an unrelated tune matches nothing."""

from __future__ import annotations

from typing import Any
from unittest import mock

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone

from governance import tasks
from governance.content import audio, composition, queries
from governance.models import Decision, EmbeddingSpace, RequestItem, WorkContent, WorkEmbedding
from governance.replay import replay
from governance.services import compositions, outbox
from ledger import canonical
from ledger import services as ledger_services
from ledger.models import Entry
from tests.audio import tones
from tests.audio_support import b64, check, melody, wav
from tests.content.test_composition import RATE, piece
from tests.world import rule

pytestmark = pytest.mark.django_db


def hand_in(world: dict[str, Any], data: bytes) -> WorkContent:
    """``data`` handed in as the world's recording's audio, and its job run."""
    with mock.patch.object(outbox, "broker_send"):
        response = world["label"].client.post(
            f"/api/v1/works/{world['work']['id']}/content/",
            {"file": SimpleUploadedFile("a.wav", data, content_type="audio/wav")},
        )
    assert response.status_code == 202, response.json()
    content_id = response.json()["id"]
    assert tasks.fingerprint_content.apply(args=[content_id]).get() == "completed"
    return WorkContent.objects.get(pk=content_id)


def ledgered(kind: str) -> list[dict[str, Any]]:
    ledger_services.integrate_all(now=timezone.now())
    entries = [
        canonical.decode_entry(bytes(d)) for d in Entry.objects.values_list("data", flat=True)
    ]
    return [e.payload for e in entries if e.kind == kind]


def test_the_space_exists_with_the_modules_model_and_its_hnsw_index() -> None:
    space = EmbeddingSpace.objects.get(name="composition")
    assert (space.model, space.model_version, space.dimension, space.threshold) == (
        composition.MODEL, composition.VERSION, composition.DIMENSION, composition.THRESHOLD
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            [f"governance_embedding_space_{space.pk}_hnsw"],
        )
        (definition,) = cursor.fetchone()
    assert "hnsw" in definition
    assert f"vector({composition.DIMENSION})" in definition


def test_the_job_stores_composition_vectors_for_30_s_or_more_and_none_below(
    world: dict[str, Any],
) -> None:
    # given 40 s of a tune and 10 s of tones, handed in for the same recording
    long_audio, short_audio = wav(piece(7, seconds=40.0), rate=RATE), tones(10, seed=5)
    long, short = hand_in(world, long_audio), hand_in(world, short_audio)
    # then the long one's vectors are embed_reference's, as the work's rows of the space
    expected = composition.embed_reference(audio.decode(long_audio).samples, audio.SAMPLE_RATE)
    stored = WorkEmbedding.objects.filter(space__name="composition", work_id=world["work"]["id"])
    assert stored.count() == len(expected) > 0
    vectors = np.array([list(v) for v in stored.order_by("id").values_list("embedding", flat=True)])
    assert np.allclose(vectors, expected, atol=1e-6)
    assert long.detail == ""
    # and the short one has none, which its record says; it is completed all the same
    assert short.status == "completed"
    assert short.detail.startswith("No composition vectors: the audio lasts 10.0 s")
    # the ledger says, per space, the model, version and vector count
    by_sha = {p["sha256"]: p for p in ledgered("work_content")}
    spaces = by_sha[long.sha256]["spaces"]
    assert spaces == [
        {"space": "fingerprint", "model": long.model, "model_version": long.model_version,
         "vector_count": long.vector_count},
        {"space": "composition", "model": composition.MODEL,
         "model_version": composition.VERSION, "vector_count": len(expected)},
    ]  # fmt: skip
    assert [s["space"] for s in by_sha[short.sha256]["spaces"]] == ["fingerprint"]
    assert by_sha[long.sha256]["vector_count"] == long.vector_count  # the fields of before


def test_a_cover_matches_the_composition_and_is_decided_by_the_works_consent(
    world: dict[str, Any],
) -> None:
    # given the tune registered as the world's recording, whose holders allow analysing only
    hand_in(world, wav(piece(7, seconds=60.0), rate=RATE))
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["analyze"], effect="allow")
    # when a licensee checks a cover: two semitones up, 8 % faster, 45 s
    cover = wav(piece(7, transpose=2, tempo=1.08, seconds=45.0), rate=RATE)
    body = check(world["licensee"], {"audio_base64": b64(cover)}).json()
    # then it is the work, found by its composition alone, and its holders' consent decides
    assert (body["outcome"], body["works"]) == ("allow", [world["work"]["id"]]), body
    matches = body["trace"]["works"][0]["matches"]
    (match,) = [m for m in matches if m["space"] == "composition"]
    # (the fingerprint may find a few chance seconds of a tune this repetitive: a work
    # matched in both spaces keeps both matches; the composition's is there either way)
    assert {m["space"] for m in matches} <= {"composition", "fingerprint"}
    assert (match["model"], match["model_version"]) == (composition.MODEL, composition.VERSION)
    assert match["threshold"] == composition.THRESHOLD <= match["score"] <= 1
    assert match["segments"] == 3
    assert match["top_k"] == compositions.TOP_K
    assert match["segments_found"] == 3
    trained = check(world["licensee"], {"audio_base64": b64(cover)}, use="train").json()
    assert (trained["outcome"], trained["works"]) == ("deny", [world["work"]["id"]])
    # the item kept the segments' vectors (to decide later), never the audio
    item = RequestItem.objects.order_by("id").first()
    assert item is not None
    assert len(item.vectors[0]["composition"]["segments"]) == 3
    # explained in words
    url = f"/api/v1/decisions/{body['id']}/explanation/"
    (en,) = [
        s
        for s in world["licensee"].client.get(url).json()["works"][0]["sentences"]
        if "composition" in s
    ]
    (fr,) = [
        s
        for s in world["licensee"].client.get(url, {"lang": "fr"}).json()["works"][0]["sentences"]
        if "composition" in s
    ]
    assert en.startswith(
        f"Your audio is a version of the composition of “{world['work']['title']}” "
        f"(composition, chroma-2dftm version {composition.VERSION}: similarity 0."
    )
    assert fr.startswith("Votre audio est une version de la composition de «\u00a0")
    # and replayed from the ledger as recorded
    (ledgered_decision, _) = ledgered("decision")
    assert ledgered_decision["works"][0]["matches"] == matches
    assert replay() == (2, [])


def test_an_unrelated_tune_is_no_match(world: dict[str, Any]) -> None:
    # (another of this generator's tunes would do for the composition, not for the
    # fingerprint: its sine chords at 100 bpm repeat bars of the registered one note for note)
    hand_in(world, wav(piece(7, seconds=60.0), rate=RATE))
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    body = check(world["licensee"], {"audio_base64": b64(wav(melody(3, 35.0)))}).json()
    assert (body["outcome"], body["works"]) == ("no_match", []), body
    item = RequestItem.objects.get()
    assert len(item.vectors[0]["composition"]["segments"]) == 2  # it was searched


def test_the_sql_score_is_the_modules_when_every_vector_is_in_the_top_k(
    world: dict[str, Any],
) -> None:
    hand_in(world, wav(piece(7, seconds=60.0), rate=RATE))
    reference = composition.embed_reference(
        audio.decode(wav(piece(7, seconds=60.0), rate=RATE)).samples, audio.SAMPLE_RATE
    )
    for query in (piece(7, transpose=-2, tempo=0.92, seconds=40.0), piece(9, seconds=40.0)):
        samples = audio.decode(wav(query, rate=RATE)).samples
        segments = queries.composition_segments(samples, audio.SAMPLE_RATE)
        space = compositions.space()
        assert space is not None
        rows = compositions.nearest(space, segments, k=len(reference))
        ((work, (score, found)),) = compositions.combine(rows, len(segments)).items()
        assert work == world["work"]["id"]
        assert found == len(segments)
        exact = composition.score(np.array(segments, dtype=np.float32), reference)
        assert score == pytest.approx(exact, abs=1e-4)


def test_each_segments_search_can_use_the_spaces_hnsw_index(world: dict[str, Any]) -> None:
    # (with a handful of rows the planner rightly prefers a scan and a sort: forbid those to
    # see that the index is a plan it has; a LATERAL join over the segments has none)
    hand_in(world, wav(piece(7, seconds=60.0), rate=RATE))
    space = compositions.space()
    assert space is not None
    segments = ((1.0,) + (0.0,) * (composition.DIMENSION - 1),) * 3
    params = [p for s in segments for p in (compositions._literal(s),) * 2 + (5,)]
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN (COSTS OFF) " + compositions.nearest_sql(space, 3), params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert plan.count(f"Index Scan using governance_embedding_space_{space.pk}_hnsw") == 3, plan


def test_a_requests_cover_is_matched_by_the_worker_from_the_segments_the_item_kept(
    world: dict[str, Any],
) -> None:
    hand_in(world, wav(piece(7, seconds=60.0), rate=RATE))
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["analyze"], effect="allow")
    cover = wav(piece(7, transpose=-2, tempo=0.92, seconds=35.0), rate=RATE)
    with mock.patch.object(outbox, "broker_send"):
        response = world["licensee"].client.post(
            "/api/v1/use-requests/",
            {"use": "analyze", "items": [{"audio_base64": b64(cover)}]},
            format="json",
        )
    assert response.status_code == 202, response.json()
    tasks.decide_request.apply(args=[response.json()["id"]]).get()
    decision = Decision.objects.get(request_id=response.json()["id"])
    assert (decision.outcome, [str(w) for w in decision.works]) == ("allow", [world["work"]["id"]])
    spaces = [m["space"] for m in decision.trace["works"][0]["matches"]]
    assert "composition" in spaces
