"""The ``fingerprint`` space: recognising a registered recording in audio, by spectral landmarks.

A fingerprint is the set of (hash, frame) pairs of :mod:`governance.content.landmarks`: about
290 a second of audio, each a :data:`HASH_BITS`-bit hash of two spectral peaks and the frame
(:data:`FRAME_SECONDS`) of the first. A query is matched by looking its hashes up among the
references' (the postings), and voting for (reference, offset = t_ref - t_query). The score of
a reference is its **coverage**: how many distinct blocks of :data:`FRAMES_PER_BLOCK` frames
(about 1 s) of the query vote for one offset, the offsets either side (+/-1 frame) merged in.
Chance coincidences between unrelated pieces cluster within a second or so; a real match is
spread over the whole query. A match passes when its score reaches :func:`threshold` of the
query's length.

The votes are rows ``(key, offset, block, hits)``: for each reference ``key``, each offset
and each query block, how many hashes agree. PostgreSQL computes them with a join and a GROUP
BY; :class:`MemoryIndex` computes the same rows with numpy; :func:`score_votes` turns either
into ranked :class:`Candidate` s.

Packed form of a fingerprint (:meth:`Fingerprint.to_bytes`), little-endian::

    magic    4 bytes   b"CSFP"
    format   u8        1
    version  u8        VERSION (the hashes' meaning and the decoding behind them; 2)
    bits     u8        HASH_BITS (22)
    zero     u8        0
    seconds  f64       duration of the audio
    count    u32       n
    hashes   n x u32   each < 2**HASH_BITS
    frames   n x u32   anchor frames, (frame, hash) strictly increasing

It is canonical: one fingerprint has one packed form, so its SHA-256 names it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np

from governance.content import landmarks
from governance.content.audio import (
    CPU_SECONDS,
    MAX_BYTES,
    MAX_SECONDS,
    Audio,
    ContentError,
    decode,
)

SPACE: Final = "fingerprint"
MODEL: Final = "consentry-landmark"
# 2 since decoding resamples with libsoxr and averages the channels (audio.py): the same file
# gives nearly the same pairs as under version 1 (FFmpeg's resampler), not the same ones.
VERSION: Final = "2"
HASH_BITS: Final = landmarks.HASH_BITS
FRAME_SECONDS: Final = landmarks.FRAME_SECONDS
FRAMES_PER_BLOCK: Final = landmarks.FRAMES_PER_BLOCK
# Below 6 s even a perfect copy covers fewer blocks than threshold() asks of it.
MIN_SECONDS: Final = 6.0
# The stop list (hash_cap): a query leaves out its hashes with more postings than
# CAP_RATIO times the mean postings of a hash (over all 2**HASH_BITS), and never fewer than
# CAP_MIN.
CAP_RATIO: Final = 8
CAP_MIN: Final = 100

_MAGIC: Final = b"CSFP"
_FORMAT: Final = 1
_HEADER: Final = struct.Struct("<4sBBBBdI")


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """Landmark hashes (int32, < 2**HASH_BITS) and their anchor frames (int32), sorted by
    (frame, hash), of ``seconds`` of audio."""

    hashes: np.ndarray
    times: np.ndarray
    seconds: float

    def __len__(self) -> int:
        return len(self.hashes)

    def to_bytes(self) -> bytes:
        """The packed form shown in the module docstring."""
        header = _HEADER.pack(
            _MAGIC, _FORMAT, int(VERSION), HASH_BITS, 0, float(self.seconds), len(self.hashes)
        )
        return (
            header
            + np.asarray(self.hashes, dtype="<u4").tobytes()
            + np.asarray(self.times, dtype="<u4").tobytes()
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Fingerprint:
        """Read a packed fingerprint; ``ValueError`` saying what is wrong with bad input."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError("a packed fingerprint is bytes")
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise ValueError(f"a packed fingerprint has at least {_HEADER.size} bytes")
        magic, fmt, version, bits, zero, seconds, count = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a packed fingerprint (bad magic)")
        if fmt != _FORMAT or zero != 0:
            raise ValueError(f"packed fingerprint format {fmt} is not {_FORMAT}")
        if str(version) != VERSION or bits != HASH_BITS:
            raise ValueError(
                f"fingerprint version {version} ({bits}-bit hashes) is not this model's "
                f"version {VERSION} ({HASH_BITS}-bit hashes)"
            )
        if not math.isfinite(seconds) or not 0 <= seconds < (1 << 31) * FRAME_SECONDS:
            raise ValueError("the duration is not a number of seconds in range")
        if len(data) != _HEADER.size + 8 * count:
            raise ValueError(f"{count} pairs need {_HEADER.size + 8 * count} bytes")
        body = np.frombuffer(data, dtype="<u4", offset=_HEADER.size).reshape(2, count)
        hashes, times = body[0].astype(np.int64), body[1].astype(np.int64)
        if count and int(hashes.max()) >= 1 << HASH_BITS:
            raise ValueError(f"a hash has more than {HASH_BITS} bits")
        if count and int(times.max()) > seconds / FRAME_SECONDS:
            raise ValueError("a frame lies after the end of the audio")
        order = (times << HASH_BITS) | hashes
        if count > 1 and not bool(np.all(np.diff(order) > 0)):
            raise ValueError("the pairs are not strictly increasing by (frame, hash)")
        return cls(hashes=hashes.astype(np.int32), times=times.astype(np.int32), seconds=seconds)


@dataclass(frozen=True)
class Candidate:
    """A reference's best agreement with a query.

    ``score`` is the coverage (distinct query blocks agreeing on one offset, +/-1 frame);
    ``hits`` the hashes agreeing there; ``offset_seconds`` where in the reference the query
    starts; the query's agreeing blocks span ``query_start_seconds`` to ``query_end_seconds``.
    """

    key: str
    score: int
    hits: int
    offset_seconds: float
    query_start_seconds: float
    query_end_seconds: float


def extract(audio: Audio) -> Fingerprint:
    """The fingerprint of decoded audio; ``ContentError`` if too short or without sound."""
    if audio.seconds < MIN_SECONDS:
        raise ContentError(
            "too_short",
            f"The audio lasts {audio.seconds:.1f} s; a fingerprint needs at least "
            f"{MIN_SECONDS:g} s.",
        )
    hashes, times = landmarks.landmarks(audio.samples)
    if len(hashes) == 0:
        raise ContentError("empty", "The audio is silent or has no distinct sound to fingerprint.")
    return Fingerprint(hashes=hashes, times=times, seconds=audio.seconds)


def fingerprint(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_seconds: float = MAX_SECONDS,
    cpu_seconds: float = CPU_SECONDS,
) -> Fingerprint:
    """Decode an audio file and fingerprint it; ``ContentError`` on bad content."""
    audio = decode(data, max_bytes=max_bytes, max_seconds=max_seconds, cpu_seconds=cpu_seconds)
    return extract(audio)


def hash_cap(postings: int, *, floor: int = CAP_MIN) -> int:
    """The most postings a hash may have and still be looked up, in an index of ``postings``.

    The landmark hashes are skewed (most pairs are close in time and frequency): in real music
    the most common 5 % of the hashes hold three quarters of the postings, and a query's hashes
    are drawn from the common ones, so they set what a lookup reads. A hash with more than
    :data:`CAP_RATIO` times the mean postings of a hash is left out of the query (a stop word,
    as in audfprint): it costs the most and, held by many recordings, tells them apart the least.
    The cap is relative, so a catalogue of music hashing alike leaves out the same hashes at
    any size; ``floor`` (:data:`CAP_MIN`) keeps a small catalogue from leaving out any.
    """
    if postings < 0 or floor < 0:
        raise ValueError("the postings and the floor are non-negative")
    return max(floor, math.ceil(CAP_RATIO * postings / (1 << HASH_BITS)))


def threshold(query_seconds: float) -> int:
    """The coverage a match of a query of ``query_seconds`` must reach.

    The study's impostor sweep (1,345 windows of never-registered music and speech against 20
    references, docs/studies/fingerprint/) found the best wrong reference reaching coverage 5
    for 8-s queries, 7 for 30-s ones and 10 for 90-s ones: chance agreement grows with the
    number of votes, about as the square root of the length. The same sweep through this code
    (``make bench BENCH=content``, 1,344 windows) reached 5 at 8 s and 8 at 30 s (three
    windows); with version 2's decoding, 6 at 8 s and 8 at 30 s. The threshold is a block and
    a half above the study's line 2.9 + 0.75 * sqrt(s):
    ceil(4.5 + 0.75 * sqrt(seconds)), which gives 7 at 8 s, 8 at 15 s, 9 at 30 s and 12 at 90 s.
    """
    if not math.isfinite(query_seconds) or query_seconds < 0:
        raise ValueError("the query's length is a non-negative number of seconds")
    return math.ceil(4.5 + 0.75 * math.sqrt(query_seconds))


def score_votes(votes: Iterable[tuple[str, int, int, int]], *, limit: int = 10) -> list[Candidate]:
    """Rank references by coverage from ``(key, offset, block, hits)`` rows, best first.

    For each reference and each offset c, the rows at offsets c - 1, c and c + 1 are merged:
    the score is the number of distinct blocks among them, hits their sum. A reference is
    ranked by its best c (ties: more hits, more hits at c exactly, the smaller offset).
    """
    rows = list(votes)
    if not rows or limit <= 0:
        return []
    names = sorted({row[0] for row in rows})
    ids = {name: i for i, name in enumerate(names)}
    k = np.array([ids[row[0]] for row in rows], dtype=np.int64)
    o, b, h = (np.array([row[i] for row in rows], dtype=np.int64) for i in (1, 2, 3))
    # Each row votes for the centres offset - 1, offset and offset + 1.
    kk, bb, hh = np.tile(k, 3), np.tile(b, 3), np.tile(h, 3)
    cc = np.concatenate((o + 1, o, o - 1))
    exact = np.concatenate((np.zeros_like(h), h, np.zeros_like(h)))
    order = np.lexsort((bb, cc, kk))
    kk, cc, bb, hh, exact = kk[order], cc[order], bb[order], hh[order], exact[order]
    first = np.ones(len(kk), dtype=bool)
    first[1:] = (kk[1:] != kk[:-1]) | (cc[1:] != cc[:-1])
    new_block = first.copy()
    new_block[1:] |= bb[1:] != bb[:-1]
    starts = np.nonzero(first)[0]
    ends = np.append(starts[1:], len(kk)) - 1
    g_key, g_centre = kk[starts], cc[starts]
    g_cov = np.add.reduceat(new_block.astype(np.int64), starts)
    g_hits = np.add.reduceat(hh, starts)
    g_exact = np.add.reduceat(exact, starts)
    g_first, g_last = bb[starts], bb[ends]
    # Best centre of each reference: sort by key, then the ranking, and take the first.
    rank = np.lexsort((g_centre, -g_exact, -g_hits, -g_cov, g_key))
    best = rank[np.append(True, g_key[rank][1:] != g_key[rank][:-1])]
    best = best[np.lexsort((g_key[best], -g_hits[best], -g_cov[best]))][:limit]
    block_seconds = FRAMES_PER_BLOCK * FRAME_SECONDS
    return [
        Candidate(
            key=names[int(g_key[i])],
            score=int(g_cov[i]),
            hits=int(g_hits[i]),
            offset_seconds=round(float(g_centre[i]) * FRAME_SECONDS, 3),
            query_start_seconds=round(float(g_first[i]) * block_seconds, 3),
            query_end_seconds=round(float(g_last[i] + 1) * block_seconds, 3),
        )
        for i in best
    ]


class MemoryIndex:
    """References' postings in sorted numpy arrays: the votes the SQL store computes."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._known: set[str] = set()
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        """The number of postings."""
        return sum(len(h) for h, _ in self._parts)

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def add(self, key: str, fp: Fingerprint) -> None:
        """Register ``fp`` under ``key`` (a key is added once)."""
        if key in self._known:
            raise ValueError(f"{key!r} is already in the index")
        self._known.add(key)
        self._keys.append(key)
        self._parts.append((np.asarray(fp.hashes, np.int64), np.asarray(fp.times, np.int64)))
        self._index = None

    def _built(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._index is None:
            hashes = np.concatenate([h for h, _ in self._parts] or [np.zeros(0, np.int64)])
            times = np.concatenate([t for _, t in self._parts] or [np.zeros(0, np.int64)])
            owners = np.repeat(np.arange(len(self._parts)), [len(h) for h, _ in self._parts])
            order = np.argsort(hashes, kind="stable")
            self._index = (hashes[order], times[order], owners[order].astype(np.int64))
        return self._index

    def postings(self, query: Fingerprint, *, cap: int | None = None) -> int:
        """How many postings the query's hashes read (the join's size), those of hashes with
        more than ``cap`` postings left out."""
        hashes, _, _ = self._built()
        q = np.asarray(query.hashes, np.int64)
        count = np.searchsorted(hashes, q, "right") - np.searchsorted(hashes, q, "left")
        return int(count[count <= cap].sum() if cap is not None else count.sum())

    def votes(
        self, query: Fingerprint, *, cap: int | None = None
    ) -> list[tuple[str, int, int, int]]:
        """Rows ``(key, offset, block, hits)``, as the SQL's join and GROUP BY return them; with
        ``cap``, the query's hashes with more than ``cap`` postings left out (:func:`hash_cap`)."""
        hashes, times, owners = self._built()
        q_hash = np.asarray(query.hashes, np.int64)
        q_time = np.asarray(query.times, np.int64)
        lo = np.searchsorted(hashes, q_hash, "left")
        count = np.searchsorted(hashes, q_hash, "right") - lo
        if cap is not None:
            count[count > cap] = 0
        total = int(count.sum())
        if total == 0:
            return []
        which = np.repeat(np.arange(len(q_hash)), count)
        pos = lo[which] + np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        owner = owners[pos]
        offset = times[pos] - q_time[which]
        block = q_time[which] // FRAMES_PER_BLOCK
        order = np.lexsort((block, offset, owner))
        owner, offset, block = owner[order], offset[order], block[order]
        first = np.ones(total, dtype=bool)
        first[1:] = (owner[1:] != owner[:-1]) | (offset[1:] != offset[:-1])
        first[1:] |= block[1:] != block[:-1]
        starts = np.nonzero(first)[0]
        hits = np.diff(np.append(starts, total))
        return [
            (self._keys[int(owner[s])], int(offset[s]), int(block[s]), int(n))
            for s, n in zip(starts, hits, strict=True)
        ]
