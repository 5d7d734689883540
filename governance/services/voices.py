"""An artist's voice (likeness) in the ``voice`` space (:mod:`governance.content.voice`;
docs/matching.md, "The voice space"): the artist's own reference recordings, kept only as their
SHA-256 and their voice vectors, and the artists a query's voice matches.

1. ``voice_submit`` (the API): the artist itself (a writer of its own party; nobody else, not
   its label) hands in one or more recordings. An identical upload of the artist (the same
   recordings, by SHA-256, in the same order, for the same model version) completed or still
   waiting is answered as it is, with no new job (two identical uploads at once wait on one
   lock: the second finds the first); otherwise the enrolment, each file's bytes (a
   ``VoiceUpload`` row) and the job (through the outbox) are stored in one transaction.
2. ``voice_run`` (the task ``governance.enrol_voice``): decodes every file at 16 kHz and embeds
   it outside any transaction. If any file is bad (``ContentError``: undecodable, no speech,
   too little of it), the enrolment fails naming each bad file's reason, its bytes are deleted
   and nothing of any file is stored. Otherwise, in ONE transaction: every file's vectors as
   ``VoiceEmbedding`` rows (a file already registered for the artist with this model version
   adds none), the enrolment ``completed``, the bytes deleted, and a ``voice_reference`` ledger
   entry (each recording's SHA-256 and vector count, the model and version: never the audio,
   nor the vectors). Safe to run twice.
3. ``voice_matches``: for a query's voice vectors, the artists whose reference vectors one of
   its windows reaches the threshold with, best first; one SQL round trip of HNSW searches.

The voice module loads torch and Resemblyzer (about a second): it is imported inside the
functions that embed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from django.db import connection, transaction

from governance import ledgering
from governance.access import Actor
from governance.exceptions import InvalidInput, PermissionDenied
from governance.models import (
    ContentStatus,
    Party,
    PartyKind,
    VoiceEmbedding,
    VoiceEnrolment,
    VoiceUpload,
)
from governance.models.voice import VOICE_DIMENSION
from governance.services.content import content_too_large
from governance.services.outbox import job_enqueue

RUN_TASK: Final = "governance.enrol_voice"
ENTRY: Final = "voice_reference"
SPACE: Final = "voice"
MAX_FILES: Final = 10
"""Recordings in one upload."""
MAX_SECONDS: Final = 600.0
"""The longest recording, decoded: ten minutes of references are plenty, and embedding one
costs about 9 CPU s (66 times real time on one core: docs/matching.md), so an upload is at
most about a minute and a half of a worker's CPU."""
TOP_K: Final = 20
"""Nearest reference vectors per query window: an artist has a few per recording, so 20
leaves room for several artists per window."""
EF_SEARCH: Final = 100


def max_bytes() -> int:
    """The most bytes one upload (all its files together) may have: the decoder's limit."""
    from governance.content import audio

    return audio.MAX_BYTES


def model_version() -> tuple[str, str]:
    """The model and version references are embedded and queries matched with."""
    from governance.content import voice

    return voice.MODEL, voice.VERSION


def voice_submit_check(*, actor: Actor, artist: Party) -> None:
    """Refuse, before the body is read, an upload the actor may not make: only the artist
    itself hands in its voice (a member with the editor role or more): not its label, not a
    licensee, not another artist, not an auditor (403)."""
    actor.require_writer(action="Handing in an artist's voice")
    if actor.party.pk != artist.pk or artist.kind != PartyKind.ARTIST:
        raise PermissionDenied("Only the artist hands in recordings of its own voice.")


def _lock_identical(*, artist_id: Any, digests: Sequence[str]) -> None:
    """Until the transaction ends: two identical uploads of one artist are handed in one after
    the other, and the second finds the first."""
    key = hashlib.sha256(" ".join(digests).encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"voice-upload:{artist_id}:{key}"])  # fmt: skip


def _identical(
    *, artist: Party, digests: Sequence[str], model_version: str
) -> VoiceEnrolment | None:
    """The artist's newest upload of the same recordings in the same order, completed or still
    waiting."""
    live = [ContentStatus.COMPLETED, ContentStatus.RECEIVED, ContentStatus.PROCESSING]
    uploads = VoiceEnrolment.objects.filter(
        artist=artist, model_version=model_version, status__in=live
    ).order_by("-created_at", "-id")
    for enrolment in uploads:
        if [f["sha256"] for f in enrolment.files] == list(digests):
            return enrolment
    return None


@transaction.atomic
def voice_submit(
    *, actor: Actor, artist: Party, files: Sequence[bytes], now: dt.datetime
) -> tuple[VoiceEnrolment, bool]:
    """Hand in ``files`` (one or more recordings) as the artist's voice references: the
    enrolment, waiting for its job, and whether it is new (False: an identical upload
    completed or waiting, answered as it is, with no new job)."""
    from governance.content import voice

    voice_submit_check(actor=actor, artist=artist)
    if not files:
        raise InvalidInput.field("file", "at least one recording")
    if len(files) > MAX_FILES:
        raise InvalidInput.field("file", f"at most {MAX_FILES} recordings in one upload")
    limit = max_bytes()
    if sum(len(f) for f in files) > limit:
        raise content_too_large(field="file", limit=limit)
    for n, data in enumerate(files):
        if not data:
            raise InvalidInput.field("file", f"recording {n + 1} is empty (0 bytes)")
    digests = [hashlib.sha256(f).hexdigest() for f in files]
    _lock_identical(artist_id=artist.pk, digests=digests)
    existing = _identical(artist=artist, digests=digests, model_version=voice.VERSION)
    if existing is not None:
        return existing, False
    enrolment = VoiceEnrolment.objects.create(
        artist=artist, model=voice.MODEL, model_version=voice.VERSION, created_at=now,
        files=[{"sha256": h, "size": len(f)} for h, f in zip(digests, files, strict=True)],
    )  # fmt: skip
    VoiceUpload.objects.bulk_create(
        [VoiceUpload(enrolment=enrolment, position=n, data=f) for n, f in enumerate(files)]
    )
    job_enqueue(task=RUN_TASK, args=[str(enrolment.pk)], now=now)
    return enrolment, True


@dataclass(frozen=True)
class Embedded:
    """One recording's voice vectors and where each window's speech lies in it."""

    vectors: np.ndarray[Any, Any]
    windows: tuple[tuple[float, float], ...]
    seconds: float
    speech_seconds: float


def embed_recording(data: bytes) -> Embedded:
    """Decode ``data`` at 16 kHz and embed its voice; raises ``ContentError`` on bad content."""
    from governance.content import audio, voice

    decoded = audio.decode(data, rate=voice.SAMPLE_RATE, max_seconds=MAX_SECONDS)
    embedding = voice.embed(decoded.samples, decoded.rate)
    return Embedded(embedding.vectors, embedding.windows, embedding.seconds,
                    embedding.speech_seconds)  # fmt: skip


def voice_run(*, enrolment_id: str | uuid.UUID, now: dt.datetime) -> VoiceEnrolment:
    """Run an enrolment's job (module docstring, step 2) as of ``now`` (its start: it ends, and
    is ledgered, at ``now`` plus the time it took); safe to run twice."""
    from governance.content import audio

    started = time.monotonic()
    with transaction.atomic():
        enrolment = VoiceEnrolment.objects.select_for_update().get(pk=enrolment_id)
        if enrolment.status in (ContentStatus.COMPLETED, ContentStatus.FAILED):
            return enrolment
        uploads = list(VoiceUpload.objects.filter(enrolment=enrolment).order_by("position"))
        if len(uploads) != len(enrolment.files):  # cannot happen: bytes go with a final status
            return _fail(enrolment, reason="missing", detail="The upload's bytes are gone.",
                         files=enrolment.files, now=now)  # fmt: skip
        enrolment.status = ContentStatus.PROCESSING
        enrolment.save(update_fields=["status"])
        datas = [bytes(u.data) for u in uploads]
    files: list[dict[str, Any]] = []
    embedded: list[Embedded] = []
    bad: list[tuple[int, str]] = []
    for n, (entry, data) in enumerate(zip(enrolment.files, datas, strict=True)):
        try:
            result = embed_recording(data)
        except audio.ContentError as exc:
            files.append(entry | {"error": exc.reason, "detail": exc.detail})
            bad.append((n, exc.reason))
            continue
        embedded.append(result)
        files.append(entry | {"seconds": result.seconds, "speech_seconds": result.speech_seconds,
                              "vector_count": len(result.vectors)})  # fmt: skip
    now += dt.timedelta(seconds=time.monotonic() - started)
    with transaction.atomic():
        enrolment = VoiceEnrolment.objects.select_for_update().get(pk=enrolment_id)
        if enrolment.status in (ContentStatus.COMPLETED, ContentStatus.FAILED):
            return enrolment
        if bad:
            reasons = {reason for _, reason in bad}
            which = ", ".join(f"{n + 1} ({reason})" for n, reason in bad)
            detail = (
                f"{len(bad)} of the {len(files)} recordings cannot be used: {which}. "
                "Nothing of this upload was kept; see each file's detail."
            )
            reason = reasons.pop() if len(reasons) == 1 else "bad_files"
            kept = [f if "error" in f else f | {"vector_count": 0} for f in files]  # none stored
            return _fail(enrolment, reason=reason, detail=detail, files=kept, now=now)
        return _complete(enrolment, files, embedded, now=now)


def voice_fail(
    *, enrolment_id: str | uuid.UUID, reason: str, detail: str, now: dt.datetime
) -> None:
    """Fail an enrolment whose job could not run (retries exhausted, an unexpected error)."""
    with transaction.atomic():
        enrolment = VoiceEnrolment.objects.select_for_update().filter(pk=enrolment_id).first()
        if enrolment is not None and enrolment.status not in (
            ContentStatus.COMPLETED,
            ContentStatus.FAILED,
        ):
            _fail(enrolment, reason=reason, detail=detail, files=enrolment.files, now=now)


def _fail(
    enrolment: VoiceEnrolment,
    *,
    reason: str,
    detail: str,
    files: list[dict[str, Any]],
    now: dt.datetime,
) -> VoiceEnrolment:
    enrolment.status, enrolment.error, enrolment.detail = (
        ContentStatus.FAILED,
        reason,
        detail[:2000],
    )
    enrolment.files, enrolment.completed_at = files, now
    enrolment.save(update_fields=["status", "error", "detail", "files", "completed_at"])
    VoiceUpload.objects.filter(enrolment=enrolment).delete()
    return enrolment


def _lock_artist(artist_id: Any) -> None:
    """Until the transaction ends: two enrolments of one artist complete one after the other,
    so the second sees the first's recordings."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"voice:{artist_id}"])  # fmt: skip


def _literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


def _complete(
    enrolment: VoiceEnrolment,
    files: list[dict[str, Any]],
    embedded: list[Embedded],
    *,
    now: dt.datetime,
) -> VoiceEnrolment:
    """In the caller's transaction: vectors, status, bytes deleted, ledger entry."""
    _lock_artist(enrolment.artist_id)
    known = set(
        VoiceEmbedding.objects.filter(
            artist_id=enrolment.artist_id, model_version=enrolment.model_version
        ).values_list("sha256", flat=True)
    )
    rows = []
    for entry, result in zip(files, embedded, strict=True):
        if entry["sha256"] in known:  # the same recording again: it adds nothing
            entry["vector_count"], entry["duplicate"] = 0, True
            continue
        known.add(entry["sha256"])
        rows += [
            VoiceEmbedding(
                artist_id=enrolment.artist_id,
                enrolment=enrolment,
                sha256=entry["sha256"],
                window=w,
                start=start,
                end=end,
                model_version=enrolment.model_version,
                embedding=[float(x) for x in vector],
            )
            for w, (vector, (start, end)) in enumerate(
                zip(result.vectors, result.windows, strict=True)
            )
        ]
    VoiceEmbedding.objects.bulk_create(rows)
    enrolment.status, enrolment.completed_at = ContentStatus.COMPLETED, now
    enrolment.files, enrolment.vector_count = files, len(rows)
    enrolment.save(update_fields=["status", "completed_at", "files", "vector_count"])
    VoiceUpload.objects.filter(enrolment=enrolment).delete()
    ledgering.append(ENTRY, ledgering.voice_reference_payload(enrolment, space=SPACE), now=now)
    return enrolment


@dataclass(frozen=True)
class Registered:
    """What an artist has registered in the voice space, for the model version served now."""

    model: str
    model_version: str
    vector_count: int
    recordings: tuple[tuple[str, int], ...]
    """(SHA-256, vector count) per recording, in the order they were registered."""


def voice_registered(artist: Party) -> Registered:
    """The artist's registered recordings and vectors for the model version served now."""
    model, version = model_version()
    counts: dict[str, int] = {}
    rows = VoiceEmbedding.objects.filter(artist=artist, model_version=version).order_by("id")
    for sha256 in rows.values_list("sha256", flat=True):
        counts[sha256] = counts.get(sha256, 0) + 1
    return Registered(model, version, sum(counts.values()), tuple(counts.items()))


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoiceMatch:
    """An artist whose voice a query matched: its best window's best cosine with one of the
    artist's reference vectors, at or above the threshold."""

    artist: str
    """The artist party's id."""
    score: float
    threshold: float
    model: str
    model_version: str
    window: int
    """Which query window (row of the query vectors, from 0) scored best."""
    sha256: str
    """The artist's reference recording whose vector it matched."""


def nearest_sql(windows: int) -> str:
    """One statement for ``windows`` query vectors: a UNION ALL of one HNSW top-k search each.
    (A LATERAL join over the unnested vectors could not use the index: PostgreSQL orders an
    index scan by a constant or a parameter, never by another relation's column.)"""
    d = VOICE_DIMENSION
    one = (
        "(SELECT {n}, artist_id::text, sha256, 1 - (embedding <=> %s::vector({d}))"
        " FROM governance_voiceembedding WHERE model_version = %s"
        " ORDER BY embedding <=> %s::vector({d}) LIMIT %s)"
    )
    return " UNION ALL ".join(one.format(n=n, d=int(d)) for n in range(windows))


def nearest(
    vectors: np.ndarray[Any, Any], *, version: str, k: int = TOP_K
) -> list[tuple[int, str, str, float]]:
    """Each query window's ``k`` nearest reference vectors of ``version`` by HNSW, in one round
    trip: (window from 0, artist id, recording SHA-256, cosine similarity)."""
    if not len(vectors):
        return []
    params: list[Any] = []
    for row in vectors:
        literal = _literal(row)
        params += [literal, version, literal, k]
    with transaction.atomic(), connection.cursor() as cursor:  # SET LOCAL needs one
        cursor.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, int(k))}")
        # Rows of another model version are skipped after the graph finds them; the scan goes
        # on until k rows pass (pgvector 0.8's iterative scan), so the top k always fill.
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(nearest_sql(len(vectors)), params)
        return [(int(n), str(a), str(h), float(s)) for n, a, h, s in cursor.fetchall()]


def voice_matches(vectors: np.ndarray[Any, Any] | Sequence[Sequence[float]]) -> list[VoiceMatch]:
    """The artists whose voice the query's voice vectors (``voice.embed``'s rows, computed with
    the model version served now) match, best first: per artist, the best cosine of any query
    window with any of its reference vectors, kept at or above ``voice.THRESHOLD``."""
    from governance.content import voice

    query = np.asarray(vectors, dtype=np.float32)
    if query.ndim != 2 or query.shape[1] != voice.DIMENSION:
        raise ValueError(f"voice vectors are rows of {voice.DIMENSION}, not shape {query.shape}")
    if not len(query):
        return []
    best: dict[str, tuple[float, int, str]] = {}
    for window, artist, sha256, score in nearest(query, version=voice.VERSION):
        if artist not in best or score > best[artist][0]:
            best[artist] = (score, window, sha256)
    threshold = float(voice.THRESHOLD)
    ranked = sorted(best.items(), key=lambda x: (-x[1][0], x[0]))
    return [
        VoiceMatch(
            artist=artist,
            score=round(score, 6),
            threshold=threshold,
            model=voice.MODEL,
            model_version=voice.VERSION,
            window=window,
            sha256=sha256,
        )
        for artist, (score, window, sha256) in ranked
        if score >= threshold
    ]
