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

Format 3 (a query's fingerprint with its map, :mod:`governance.content.presence`) goes on::

    map_frames  u32        the query's spectrogram frames
    map_count   u32        m
    ranks       m x u8     each maximum's rank in its frame, 0-254 (``presence.ranks``)
    map         (the rest) m gaps between the maxima's cells, frame * 255 + bin - 1, as
                           LEB128 varints (``presence.pack_map``), frame < map_frames

A reference is stored as its pairs alone. Older clients' formats are still read: format 2
(the map without its ranks: every present peak weighs 1) and format 1 (no map: such a query
is matched by coverage alone). Either form is canonical: one fingerprint has one packed form,
so its SHA-256 names it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np

from governance.content import landmarks, peaks, presence
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
_FORMAT_MAP: Final = 2
_FORMAT_RANKS: Final = 3
_HEADER: Final = struct.Struct("<4sBBBBdI")
_MAP_HEADER: Final = struct.Struct("<II")


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """Landmark hashes (int32, < 2**HASH_BITS) and their anchor frames (int32), sorted by
    (frame, hash), of ``seconds`` of audio; a query's also its map (``maxima``: bins and
    frames, sorted by (frame, bin), of its ``map_frames`` spectrogram frames; ``ranks``, each
    maximum's rank in its frame, or None in an older client's map)."""

    hashes: np.ndarray
    times: np.ndarray
    seconds: float
    maxima: tuple[np.ndarray, np.ndarray] | None = None
    map_frames: int = 0
    ranks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.hashes)

    def query_map(self) -> presence.QueryMap | None:
        """The map presence verification reads, or None (a fingerprint without one)."""
        if self.maxima is None:
            return None
        return presence.QueryMap(*self.maxima, self.map_frames, self.ranks)

    def to_bytes(self) -> bytes:
        """The packed form shown in the module docstring."""
        if self.maxima is None:
            fmt = _FORMAT
        else:
            fmt = _FORMAT_MAP if self.ranks is None else _FORMAT_RANKS
        header = _HEADER.pack(
            _MAGIC, fmt, int(VERSION), HASH_BITS, 0, float(self.seconds), len(self.hashes)
        )
        packed = (
            header
            + np.asarray(self.hashes, dtype="<u4").tobytes()
            + np.asarray(self.times, dtype="<u4").tobytes()
        )
        if self.maxima is None:
            return packed
        bins, frames = self.maxima
        ranks = b"" if self.ranks is None else np.asarray(self.ranks, np.uint8).tobytes()
        return (
            packed
            + _MAP_HEADER.pack(int(self.map_frames), len(bins))
            + ranks
            + presence.pack_map(bins, frames)
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
        if fmt not in (_FORMAT, _FORMAT_MAP, _FORMAT_RANKS) or zero != 0:
            raise ValueError(
                f"packed fingerprint format {fmt} is not {_FORMAT}, {_FORMAT_MAP} or "
                f"{_FORMAT_RANKS}"
            )
        if str(version) != VERSION or bits != HASH_BITS:
            raise ValueError(
                f"fingerprint version {version} ({bits}-bit hashes) is not this model's "
                f"version {VERSION} ({HASH_BITS}-bit hashes)"
            )
        if not math.isfinite(seconds) or not 0 <= seconds < (1 << 31) * FRAME_SECONDS:
            raise ValueError("the duration is not a number of seconds in range")
        pairs_end = _HEADER.size + 8 * count
        if fmt == _FORMAT and len(data) != pairs_end:
            raise ValueError(f"{count} pairs need {pairs_end} bytes")
        if fmt != _FORMAT and len(data) < pairs_end + _MAP_HEADER.size:
            raise ValueError(f"{count} pairs and a map need at least {pairs_end + 8} bytes")
        body = np.frombuffer(data, dtype="<u4", count=2 * count, offset=_HEADER.size)
        body = body.reshape(2, count)
        hashes, times = body[0].astype(np.int64), body[1].astype(np.int64)
        if count and int(hashes.max()) >= 1 << HASH_BITS:
            raise ValueError(f"a hash has more than {HASH_BITS} bits")
        if count and int(times.max()) > seconds / FRAME_SECONDS:
            raise ValueError("a frame lies after the end of the audio")
        order = (times << HASH_BITS) | hashes
        if count > 1 and not bool(np.all(np.diff(order) > 0)):
            raise ValueError("the pairs are not strictly increasing by (frame, hash)")
        maxima, map_frames, ranks = None, 0, None
        if fmt != _FORMAT:
            map_frames, n = _MAP_HEADER.unpack_from(data, pairs_end)
            if map_frames > seconds / FRAME_SECONDS + 1:
                raise ValueError("the map has more frames than the audio")
            at = pairs_end + _MAP_HEADER.size
            if fmt == _FORMAT_RANKS:
                if len(data) < at + n:
                    raise ValueError(f"a map of {n} maxima needs {n} bytes of ranks")
                ranks = np.frombuffer(data, np.uint8, count=n, offset=at).copy()
                if n and int(ranks.max()) >= presence.BINS:
                    raise ValueError(f"a rank of the map is above {presence.BINS - 1}")
                at += n
            maxima = presence.unpack_map(data[at:], n, map_frames)
        return cls(
            hashes=hashes.astype(np.int32),
            times=times.astype(np.int32),
            seconds=seconds,
            maxima=maxima,
            map_frames=int(map_frames),
            ranks=ranks,
        )


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


def extract(audio: Audio, *, query: bool = True) -> Fingerprint:
    """The fingerprint of decoded audio; ``ContentError`` if too short or without sound. A
    query's has its map (``maxima``); a reference's (``query=False``) only its pairs."""
    if audio.seconds < MIN_SECONDS:
        raise ContentError(
            "too_short",
            f"The audio lasts {audio.seconds:.1f} s; a fingerprint needs at least "
            f"{MIN_SECONDS:g} s.",
        )
    spec = landmarks.spectrogram(audio.samples)
    hashes, times = landmarks.pairs(*landmarks.peaks(spec))
    if len(hashes) == 0:
        raise ContentError("empty", "The audio is silent or has no distinct sound to fingerprint.")
    if not query:
        return Fingerprint(hashes=hashes, times=times, seconds=audio.seconds)
    bins, frames = presence.maxima(spec)
    return Fingerprint(
        hashes=hashes,
        times=times,
        seconds=audio.seconds,
        maxima=(bins, frames),
        map_frames=spec.shape[1],
        ranks=presence.ranks(spec, bins, frames),
    )


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
    number of votes, about as the square root of the length. Through this code (``make bench
    BENCH=content``: its sweep and never-registered queries, three draws, the references
    handed in as the package's OGGs and as 192-kbit/s MP3s) the best wrong reference reached 6
    at 8 s and 9 at 30 s (two never-registered 30-s queries against MP3 references). The
    threshold is one block above both: ceil(4 + sqrt(seconds)), which gives 7 at 8 s, 8 at
    15 s, 10 at 30 s and 14 at 90 s.
    """
    if not math.isfinite(query_seconds) or query_seconds < 0:
        raise ValueError("the query's length is a non-negative number of seconds")
    return math.ceil(4.0 + math.sqrt(query_seconds))


@dataclass(frozen=True, eq=False)
class _Centres:
    """Votes grouped by (reference, centre c), the offsets c - 1 .. c + 1 merged: coverage
    (distinct blocks), hits, hits at c exactly, first and last block."""

    names: list[str]
    key: np.ndarray
    centre: np.ndarray
    coverage: np.ndarray
    hits: np.ndarray
    exact: np.ndarray
    first: np.ndarray
    last: np.ndarray


def _centres(rows: list[tuple[str, int, int, int]]) -> _Centres:
    names = sorted({row[0] for row in rows})
    ids = {name: i for i, name in enumerate(names)}
    k = np.array([ids[row[0]] for row in rows], dtype=np.int64)
    o, b, h = (np.array([row[i] for row in rows], dtype=np.int64) for i in (1, 2, 3))
    return _grouped(names, k, o, b, h)


def _grouped(
    names: list[str], k: np.ndarray, o: np.ndarray, b: np.ndarray, h: np.ndarray
) -> _Centres:
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
    return _Centres(
        names=names,
        key=kk[starts],
        centre=cc[starts],
        coverage=np.add.reduceat(new_block.astype(np.int64), starts),
        hits=np.add.reduceat(hh, starts),
        exact=np.add.reduceat(exact, starts),
        first=bb[starts],
        last=bb[ends],
    )


def score_votes(votes: Iterable[tuple[str, int, int, int]], *, limit: int = 10) -> list[Candidate]:
    """Rank references by coverage from ``(key, offset, block, hits)`` rows, best first.

    For each reference and each offset c, the rows at offsets c - 1, c and c + 1 are merged:
    the score is the number of distinct blocks among them, hits their sum. A reference is
    ranked by its best c (ties: more hits, more hits at c exactly, the smaller offset).
    """
    rows = list(votes)
    if not rows or limit <= 0:
        return []
    g = _centres(rows)
    # Best centre of each reference: sort by key, then the ranking, and take the first.
    rank = np.lexsort((g.centre, -g.exact, -g.hits, -g.coverage, g.key))
    best = rank[np.append(True, g.key[rank][1:] != g.key[rank][:-1])]
    best = best[np.lexsort((g.key[best], -g.hits[best], -g.coverage[best]))][:limit]
    block_seconds = FRAMES_PER_BLOCK * FRAME_SECONDS
    return [
        Candidate(
            key=g.names[int(g.key[i])],
            score=int(g.coverage[i]),
            hits=int(g.hits[i]),
            offset_seconds=round(float(g.centre[i]) * FRAME_SECONDS, 3),
            query_start_seconds=round(float(g.first[i]) * block_seconds, 3),
            query_end_seconds=round(float(g.last[i] + 1) * block_seconds, 3),
        )
        for i in best
    ]


CANDIDATE_REFERENCES: Final = 20
"""Presence verifies the references of the best coverage, this many, each at every offset
(``presence.QueryMap.scan``): the threshold :data:`presence.Z_THRESHOLD` is calibrated for
that many scanned."""
CANDIDATE_OFFSETS: Final = 20
"""A candidate's best offsets by coverage (a centre within 2 frames of a better one left
out), as :func:`candidate_offsets` lists them ..."""
CANDIDATE_COVERAGE: Final = 2
"""... of at least this coverage: what the store's near votes keep (``postings.near_mask``),
so that a large catalogue's chance votes are not all read."""


def best_keys(
    keys: np.ndarray, offsets: np.ndarray, blocks: np.ndarray, hits: np.ndarray, *, references: int
) -> tuple[np.ndarray, int]:
    """From vote rows as arrays (``postings.votes``; integer keys): the keys whose best
    (coverage, hits) reach the ``references``-th best key's (ties kept, so that a ranking
    that breaks them otherwise still finds its best ``references`` among them), and that
    key's coverage (0 when fewer keys voted)."""
    if not len(keys):
        return np.zeros(0, np.int64), 0
    g = _grouped([], keys, offsets, blocks, hits)
    order = np.lexsort((-g.hits, -g.coverage, g.key))
    heads = order[np.append(True, g.key[order][1:] != g.key[order][:-1])]
    key, cov, hit = g.key[heads], g.coverage[heads], g.hits[heads]
    if len(key) < references:
        return key, 0
    rank = np.lexsort((-hit, -cov))
    cut = rank[references - 1]
    keep = (cov > cov[cut]) | ((cov == cov[cut]) & (hit >= hit[cut]))
    return key[keep], int(cov[cut])


def _ranked(
    rows: list[tuple[str, int, int, int]], coverage: int
) -> tuple[_Centres, np.ndarray, np.ndarray, np.ndarray]:
    """The centres of at least ``coverage``, grouped by reference (each group's best first:
    coverage, then hits, then the smaller centre): the centres, their keys, and the groups'
    first indexes ranked as :func:`score_votes` ranks references."""
    g = _centres(rows)
    keep = g.coverage >= coverage
    key, centre, cov, hits = g.key[keep], g.centre[keep], g.coverage[keep], g.hits[keep]
    order = np.lexsort((centre, -hits, -cov, key))
    key, centre, cov, hits = key[order], centre[order], cov[order], hits[order]
    heads = np.flatnonzero(np.append(True, key[1:] != key[:-1]))
    return g, key, centre, heads[np.lexsort((key[heads], -hits[heads], -cov[heads]))]


def candidate_references(
    votes: Iterable[tuple[str, int, int, int]],
    *,
    references: int = CANDIDATE_REFERENCES,
    coverage: int = CANDIDATE_COVERAGE,
) -> list[str]:
    """The references presence scans: the ``references`` best by coverage (ranked as
    :func:`score_votes` ranks them), of at least ``coverage``."""
    rows = list(votes)
    if not rows or references <= 0:
        return []
    g, key, _, ranked = _ranked(rows, coverage)
    return [g.names[int(key[head])] for head in ranked[:references]]


def candidate_offsets(
    votes: Iterable[tuple[str, int, int, int]],
    *,
    references: int = CANDIDATE_REFERENCES,
    offsets: int = CANDIDATE_OFFSETS,
    coverage: int = CANDIDATE_COVERAGE,
) -> list[tuple[str, list[int]]]:
    """:func:`candidate_references`, each with its best ``offsets`` centres (in frames; by
    coverage, then hits), none within 2 frames of a better one, all of at least ``coverage``."""
    rows = list(votes)
    if not rows or references <= 0:
        return []
    g, key, centre, ranked = _ranked(rows, coverage)
    out: list[tuple[str, list[int]]] = []
    for head in ranked[:references]:
        stop = head + int(np.searchsorted(key[head:], key[head], "right"))
        kept: list[int] = []
        for c in centre[head:stop].tolist():
            if all(abs(c - x) > 2 for x in kept):
                kept.append(int(c))
                if len(kept) == offsets:
                    break
        out.append((g.names[int(key[head])], kept))
    return out


@dataclass(frozen=True)
class Verified:
    """A candidate reference's best presence (:mod:`governance.content.presence`)."""

    key: str
    presence: presence.Presence


def verify(
    query: Fingerprint,
    candidates: list[str],
    peaks_of: Callable[[list[str]], Mapping[str, tuple[np.ndarray, np.ndarray]]],
) -> list[Verified]:
    """Each candidate reference's best presence at any offset (``presence.QueryMap.scan``),
    best first (by z; ties in the candidates' order); none for a query without a map.
    ``peaks_of`` gives the references' peaks (a reference without any is left out)."""
    qmap = query.query_map()
    if qmap is None or not candidates:
        return []
    peaks = peaks_of(list(candidates))
    out = []
    for key in candidates:
        if key not in peaks or not len(peaks[key][1]):
            continue
        # Only where the query lies inside the reference (up to its last peak): a window
        # that overhangs it holds fewer of its peaks, and a z from a few peaks is noisier.
        last = int(peaks[key][1][-1]) + 1 - qmap.n_frames
        best = qmap.scan(*peaks[key], last)
        if best is not None:
            out.append(Verified(key, best))
    out.sort(key=lambda v: -v.presence.z)
    return out


@dataclass(frozen=True)
class Decision:
    """What a query matches: the references by coverage (best first, up to the limit asked),
    those reaching ``needed`` (:func:`threshold`) matched; where none does, the candidates'
    presence (best first), those reaching ``presence.Z_THRESHOLD`` matched."""

    needed: int
    candidates: list[Candidate]
    verified: list[Verified]

    @property
    def by_coverage(self) -> list[Candidate]:
        return [c for c in self.candidates if c.score >= self.needed]

    @property
    def by_presence(self) -> list[Verified]:
        if self.by_coverage:
            return []
        return [v for v in self.verified if v.presence.z >= presence.Z_THRESHOLD]

    @property
    def best(self) -> str | None:
        """The best reference, matched or not: by coverage if one passes, else by presence,
        else by coverage."""
        if self.by_coverage:
            return self.by_coverage[0].key
        if self.verified:
            return self.verified[0].key
        return self.candidates[0].key if self.candidates else None


Rows = list[tuple[str, int, int, int]]


def decide(
    query: Fingerprint,
    votes: Callable[[int], Rows],
    best: Callable[[int], Rows],
    peaks_of: Callable[[list[str]], Mapping[str, tuple[np.ndarray, np.ndarray]]],
    *,
    limit: int = 10,
) -> Decision:
    """Match ``query``: by coverage (``votes(needed)``: rows holding every candidate that can
    reach ``needed`` blocks, as the store's near votes do), and where nothing passes and the
    query has a map, by the presence of the best candidates' peaks (``best(needed)``: rows
    holding the :data:`CANDIDATE_REFERENCES` references of the best coverage with all their
    candidates of at least :data:`CANDIDATE_COVERAGE`, as the store's ``Votes.best`` does),
    each scanned at every offset (:func:`verify`)."""
    needed = threshold(query.seconds)
    candidates = score_votes(votes(needed), limit=limit)
    if any(c.score >= needed for c in candidates) or query.maxima is None:
        return Decision(needed, candidates, [])
    return Decision(needed, candidates, verify(query, candidate_references(best(needed)), peaks_of))


class MemoryIndex:
    """References' postings in sorted numpy arrays: the votes the SQL store computes."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._known: set[str] = set()
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._peaks: dict[str, tuple[np.ndarray, np.ndarray]] = {}

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

    def peaks_of(self, keys: Iterable[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The peaks of the references ``keys`` (``peaks.from_pairs``; unknown keys left out)."""
        out = {}
        for key in keys:
            if key not in self._known:
                continue
            if key not in self._peaks:
                hashes, times = self._parts[self._keys.index(key)]
                self._peaks[key] = peaks.from_pairs(hashes, times)
            out[key] = self._peaks[key]
        return out

    def decide(self, query: Fingerprint, *, cap: int | None = None) -> Decision:
        """:func:`decide` against this index's votes (every vote of the query's hashes with at
        most ``cap`` postings)."""
        rows = self.votes(query, cap=cap)
        return decide(query, lambda needed: rows, lambda needed: rows, self.peaks_of)

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
