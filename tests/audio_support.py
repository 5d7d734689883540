"""Audio for the matching tests, synthesised (seeded melodies over chords, with harmonics) and
encoded as WAV with the standard library; and a work's audio registered the way the content job
stores it: a completed ``WorkContent`` row and its postings (hash, frame) per fingerprint hash.

The tables belong to the ``WorkContent`` and ``FingerprintPosting`` models (their migration is
fpstore's, issue 15): rows go in by raw SQL, as matching reads them.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import wave
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from governance.content import fingerprint

RATE = 22_050
"""Synthesised at twice the fingerprint's rate: decoding resamples, as for any real file."""


def melody(seed: int, seconds: float, *, rate: int = RATE) -> np.ndarray:
    """A seeded tune: a note every 0.25-0.5 s over a chord that changes every 2 s, each tone
    with four harmonics and a decaying envelope (float32 in [-1, 1])."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n, dtype=np.float64)
    t = 0.0
    while t < seconds:
        length = float(rng.choice([0.25, 0.375, 0.5]))
        start, stop = int(t * rate), min(n, int((t + length) * rate))
        pitch = 220.0 * 2 ** (int(rng.integers(0, 24)) / 12)
        x = np.arange(stop - start) / rate
        envelope = np.exp(-3.0 * x)
        for h in range(1, 5):
            out[start:stop] += 0.25 / h * np.sin(2 * np.pi * pitch * h * x) * envelope
        t += length
    for c in range(int(np.ceil(seconds / 2))):
        start, stop = int(c * 2 * rate), min(n, int((c + 1) * 2 * rate))
        x = np.arange(stop - start) / rate
        root = 110.0 * 2 ** (int(rng.integers(0, 12)) / 12)
        for ratio in (1.0, 1.26, 1.5):
            out[start:stop] += 0.12 * np.sin(2 * np.pi * root * ratio * x)
    return (0.9 * out / max(1e-9, float(np.abs(out).max()))).astype(np.float32)


def with_noise(signal: np.ndarray, *, snr_db: float, seed: int = 99) -> np.ndarray:
    """``signal`` under white noise at ``snr_db`` dB signal-to-noise ratio."""
    rng = np.random.default_rng(seed)
    power = float(np.mean(signal.astype(np.float64) ** 2))
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(signal))
    mixed = signal + noise
    return (mixed / max(1.0, float(np.abs(mixed).max()))).astype(np.float32)


def excerpt(signal: np.ndarray, *, start: float, seconds: float, rate: int = RATE) -> np.ndarray:
    return signal[int(start * rate) : int((start + seconds) * rate)]


def wav(signal: np.ndarray, *, rate: int = RATE) -> bytes:
    """16-bit mono PCM WAV."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(signal, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def register(*, work_id: Any, party_id: Any, data: bytes) -> str:
    """Register ``data`` as ``work_id``'s audio, completed, with its postings; its id."""
    fp = fingerprint.fingerprint(data)
    content_id = str(uuid.uuid4())
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO governance_workcontent (id, work_id, kind, sha256, size, seconds, codec,"
            " status, error, detail, submitted_by_id, model, model_version, vector_count,"
            " created_at, completed_at) VALUES (%s, %s, 'audio', %s, %s, %s, 'pcm_s16le',"
            " 'completed', '', '', %s, %s, %s, %s, %s, %s)",
            [
                content_id, str(work_id), hashlib.sha256(data).hexdigest(), len(data),
                fp.seconds, str(party_id), fingerprint.MODEL, fingerprint.VERSION,
                len(fp.hashes), now, now,
            ],
        )  # fmt: skip
        cursor.execute(
            "INSERT INTO governance_fingerprintposting (content_id, hash, t)"
            " SELECT %s, h, t FROM unnest(%s::int[], %s::int[]) AS p(h, t)",
            [content_id, fp.hashes.tolist(), fp.times.tolist()],
        )
    return content_id


def content_tables_create() -> None:
    """TEMPORARY, until fpstore's migration ``0009_work_content`` is merged: the two tables
    matching reads, created (as the superuser, in the test's transaction, so rolled back
    with it) when the migration has not made them."""
    from config import embedded
    from tests.dbroles import as_superuser

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('governance_fingerprintposting') IS NOT NULL")
        if cursor.fetchone()[0]:
            return
    with as_superuser(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE governance_workcontent (id uuid PRIMARY KEY, work_id uuid NOT NULL"
            " REFERENCES governance_work (id), kind varchar(16), sha256 char(64), size bigint,"
            " seconds double precision, codec varchar(32), status varchar(16), error varchar(32),"
            " detail text, submitted_by_id uuid, model varchar(100), model_version varchar(32),"
            " vector_count integer, created_at timestamptz, completed_at timestamptz);"
            " CREATE TABLE governance_fingerprintposting (id bigserial PRIMARY KEY, content_id"
            " uuid NOT NULL REFERENCES governance_workcontent (id) ON DELETE CASCADE,"
            " hash integer NOT NULL, t integer NOT NULL);"
            " CREATE INDEX ON governance_fingerprintposting (hash) INCLUDE (content_id, t);"
            f' GRANT SELECT, INSERT ON governance_workcontent TO "{embedded.APP_ROLE}";'
            f' GRANT SELECT, INSERT ON governance_fingerprintposting TO "{embedded.APP_ROLE}";'
            " GRANT USAGE ON SEQUENCE governance_fingerprintposting_id_seq TO"
            f' "{embedded.APP_ROLE}"'
        )
