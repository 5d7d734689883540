"""Audio for the matching tests, synthesised (``tests.content.synth``: seeded chords, melodies
and drums, with harmonics) and encoded as WAV with the standard library; and a work's audio
registered the way the content job stores it: a completed ``WorkContent`` row and its postings
(hash, frame) per fingerprint hash.

The content row goes in by raw SQL, its postings as a segment of the packed store
(``governance.services.fingerprint_store``), which matching reads.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import uuid
import wave
from typing import Any

import numpy as np
from django.db import connection
from django.utils import timezone

from governance.content import fingerprint
from governance.services import fingerprint_store
from tests.content import synth

RATE = synth.RATE
"""Synthesised at twice the fingerprint's rate: decoding resamples, as for any real file."""


def melody(seed: int, seconds: float) -> np.ndarray:
    """A seeded track: chords, a melody and drum-like bursts on a random scale and tempo
    (``tests.content.synth.music``, the fingerprint's own test music)."""
    return synth.music(seed, seconds)


@functools.cache
def song() -> np.ndarray:
    """A minute of the recording registered as the world's "Northern Lights"."""
    return melody(1, 60.0)


@functools.cache
def other() -> np.ndarray:
    """A minute of the recording registered as "Southern Skies"."""
    return melody(2, 60.0)


@functools.cache
def never_registered() -> np.ndarray:
    """Half a minute of music registered nowhere."""
    return melody(3, 30.0)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def check(who: Any, item: dict[str, Any], use: str = "analyze") -> Any:
    """``POST /api/v1/checks/`` of one item, as ``who``."""
    return who.client.post("/api/v1/checks/", {"use": use, "item": item}, format="json")


def with_noise(signal: np.ndarray, *, snr_db: float, seed: int = 99) -> np.ndarray:
    """``signal`` under white noise at ``snr_db`` dB signal-to-noise ratio."""
    return synth.add_white_noise(signal, snr_db, seed)


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
            " spaces, created_at, completed_at) VALUES (%s, %s, 'audio', %s, %s, %s, 'pcm_s16le',"
            " 'completed', '', '', %s, %s, %s, %s, %s::jsonb, %s, %s)",
            [
                content_id, str(work_id), hashlib.sha256(data).hexdigest(), len(data),
                fp.seconds, str(party_id), fingerprint.MODEL, fingerprint.VERSION,
                len(fp.hashes), json.dumps([{"space": "fingerprint", "model": fingerprint.MODEL,
                "model_version": fingerprint.VERSION, "vector_count": len(fp.hashes)}]),
                now, now,
            ],
        )  # fmt: skip
    fingerprint_store.segment_write([(uuid.UUID(content_id), fp.hashes, fp.times)])
    return content_id
