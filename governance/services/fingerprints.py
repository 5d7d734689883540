"""Audio in a request item, matched against the registered works' fingerprints (the
``fingerprint`` space, :mod:`governance.content.fingerprint`; docs/matching.md).

An item carries audio in one of two forms::

    {"audio_base64": "<base64 of the file: WAV, FLAC, MP3, AAC/M4A, OGG>"}
    {"fingerprint": {"model_version": "2", "data": "<base64 of Fingerprint.to_bytes()>",
                     "sha256": "<hex SHA-256 of the audio file>",
                     "composition": {"model": "chroma-2dftm", "model_version": "2",
                                     "segments": [[...], ...]},
                     "voice": {"model": "resemblyzer-ge2e", "model_version": "0.1.4/1",
                               "windows": [{"start": 0.3, "end": 4.1, "vector": [...]}]}}}

The first is fingerprinted when it arrives; the second comes from a licensee's client that
fingerprints locally, so the audio never leaves it. The client also computes the audio's voice
windows with the function the service runs on uploaded audio
(``governance.content.voice.windows``) and sends them as the fingerprint's optional ``voice``,
whose model version is checked as the fingerprint's is (:func:`voice_content`), and, for audio
of at least 30 s, its composition space's query segments with the function the service runs
(``governance.content.queries.composition_segments``), sent as the fingerprint's optional
``composition`` and checked likewise (:func:`composition_content`). A clip too short for a
fingerprint (sent as a fingerprint of no hashes, with its length) may still carry a voice, as
uploaded audio does. Either way the audio itself is never stored: the item keeps
its SHA-256 (``RequestItem.content_sha256``, ledgered with the decision) and the fingerprint,
as one entry of ``RequestItem.vectors``::

    {"space": "fingerprint", "model": "consentry-landmark", "model_version": "2",
     "seconds": 30.0, "data": "<base64 of Fingerprint.to_bytes()>",
     "composition": {"model": "chroma-2dftm", "model_version": "2", "segments": [[...], ...]},
     "voice": {"model": "resemblyzer-ge2e", "model_version": "0.1.4/1", "windows": [...]}}

``composition`` (audio of at least 30 s, sent as audio or as a client's fingerprint with its
``composition``) holds the audio's query vectors in the ``composition`` space, one per 30-s
segment, matched by ``governance.services.compositions`` besides the fingerprint.

Malformed input (not base64, over the size limit, another model version) is a 400 naming the
field; audio that cannot be fingerprinted (empty, corrupt, unsupported, too short) is stored as
``{"space": "fingerprint", "model": ..., "model_version": ..., "error": "<reason>", "detail":
"<sentence>"}`` and decided as an ``error`` item with the code ``content.<reason>``.

Matching (:func:`fingerprint_matches`): one SQL round trip reads the packed postings of the
query's hashes (``governance.services.fingerprint_store``), leaving out those with more
postings than the stop list's cap (:func:`hash_cap`: the common hashes, which cost the most and
tell recordings apart the least); numpy counts the votes per (content, offset, block) and keeps
those near an offset that enough blocks could agree on; ``score_votes`` keeps the offsets that
most blocks agree on; a content passes at a coverage of at least ``threshold(seconds)`` blocks;
each passing content names its work (the best content per work), best first. A deleted
content's postings match nothing. The match's score is the share of the query's blocks that
agree (0..1, like every space's similarity), its threshold the share
the calibrated coverage threshold needs; the trace keeps the counts and the aligned offsets
besides.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.db import connection

from governance import evaluation
from governance.content import audio, fingerprint, presence, queries, voice
from governance.exceptions import InvalidInput
from governance.services import compositions, fingerprint_store

SPACE: Final = fingerprint.SPACE
AUDIO_MAX_BYTES: int = audio.MAX_BYTES
"""The largest audio file an item may carry (its base64 is a third longer)."""
FINGERPRINT_MAX_BYTES: Final = 16 * 1024 * 1024
"""The largest fingerprint an item may carry: far above what ``audio.MAX_SECONDS`` gives."""
TOP_K: Final = 10
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ContentSpec:
    """An item's audio, as kept: its SHA-256 and its fingerprint (``data``), or why the audio
    could not be fingerprinted (``error``: a ``ContentError.reason``, ``detail`` its sentence)."""

    sha256: str
    model_version: str
    seconds: float = 0.0
    data: bytes = b""
    error: str = ""
    detail: str = ""
    composition: tuple[tuple[float, ...], ...] = ()
    """The audio's query vectors in the ``composition`` space, one per 30-s segment
    (``governance.content.queries.composition_segments``, matched by
    ``governance.services.compositions``): none for audio shorter than 30 s, or for a client's
    fingerprint sent without its ``composition``."""
    composition_version: str = ""
    voice: tuple[tuple[tuple[float, ...], tuple[float, float]], ...] = ()
    """The audio's voice vectors (``governance.content.voice``), one per window of speech, each
    with where that speech lies in the audio: none without speech, or for a client's
    fingerprint sent without its ``voice``."""
    voice_version: str = ""

    def stored(self) -> dict[str, Any]:
        """The entry of ``RequestItem.vectors`` that holds it (the module docstring)."""
        entry: dict[str, Any] = {
            "space": SPACE, "model": fingerprint.MODEL, "model_version": self.model_version,
        }  # fmt: skip
        if self.voice:
            entry["voice"] = {
                "model": voice.MODEL,
                "model_version": self.voice_version,
                "windows": [{"start": a, "end": b, "vector": list(v)} for v, (a, b) in self.voice],
            }
        if self.error:
            return entry | {"error": self.error, "detail": self.detail}
        entry |= {"seconds": self.seconds, "data": base64.b64encode(self.data).decode()}
        if self.composition:
            entry["composition"] = {
                "model": compositions.model_version()[0],
                "model_version": self.composition_version,
                "segments": [list(s) for s in self.composition],
            }
        return entry

    @classmethod
    def from_stored(cls, entry: Mapping[str, Any], *, sha256: str) -> ContentSpec | None:
        """The content an item's ``vectors`` entry holds; None for an entry of vectors."""
        if entry.get("space") != SPACE or "vector" in entry:
            return None
        voiced = entry.get("voice") or {}
        windows = tuple(
            (tuple(float(x) for x in w["vector"]), (float(w["start"]), float(w["end"])))
            for w in voiced.get("windows", ())
        )
        voice_version = str(voiced.get("model_version", ""))
        if entry.get("error"):
            return cls(sha256, str(entry["model_version"]), error=str(entry["error"]),
                       detail=str(entry.get("detail") or ""),
                       voice=windows, voice_version=voice_version)  # fmt: skip
        data = base64.b64decode(str(entry["data"]))
        held = entry.get("composition") or {}
        segments = tuple(tuple(float(x) for x in s) for s in held.get("segments", ()))
        version = str(held.get("model_version", ""))
        return cls(sha256, str(entry["model_version"]), float(entry["seconds"]), data,
                   composition=segments, composition_version=version,
                   voice=windows, voice_version=voice_version)  # fmt: skip


def content_described(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a decision's ledger entry says of an item's audio besides its SHA-256 (the space,
    the model and version that fingerprinted it, its length), from the item's stored entry;
    None for an entry of vectors."""
    if entry.get("space") != SPACE or "vector" in entry:
        return None
    described = {k: entry.get(k) for k in ("space", "model", "model_version")}
    if "seconds" in entry:
        described["seconds"] = round(float(entry["seconds"]), 3)
    return described


def _base64(raw: Any, *, name: str, limit: int) -> bytes:
    if not isinstance(raw, str):
        raise InvalidInput.field(name, "a base64 string")
    if len(raw) > 4 * math.ceil(limit / 3):  # refused before decoding
        raise InvalidInput.field(name, f"larger than {limit:,} bytes")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput.field(name, f"not base64 ({exc})") from None
    if len(data) > limit:
        raise InvalidInput.field(name, f"larger than {limit:,} bytes")
    return data


def audio_content(raw: Any, *, name: str) -> ContentSpec:
    """An ``audio_base64`` item's audio, fingerprinted (or why it could not be)."""
    return audio_file_content(_base64(raw, name=name, limit=AUDIO_MAX_BYTES), name=name)


def audio_file_content(data: bytes, *, name: str) -> ContentSpec:
    """An audio file's content, fingerprinted (or why it could not be): a multipart ``file``,
    or a decoded ``audio_base64``. Over :data:`AUDIO_MAX_BYTES`, a 400 naming ``name``."""
    if len(data) > AUDIO_MAX_BYTES:
        raise InvalidInput.field(name, f"larger than {AUDIO_MAX_BYTES:,} bytes")
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        decoded = audio.decode(data, max_bytes=AUDIO_MAX_BYTES)
    except audio.ContentError as exc:
        return ContentSpec(sha256, fingerprint.VERSION, error=exc.reason, detail=exc.detail)
    voiced = voice.windows(decoded.samples, decoded.rate)
    try:
        fp = fingerprint.extract(decoded)
    except audio.ContentError as exc:
        # Too short for a recording may still be enough for a voice: kept with the error.
        return ContentSpec(sha256, fingerprint.VERSION, error=exc.reason, detail=exc.detail,
                           voice=voiced, voice_version=voice.VERSION if voiced else "")  # fmt: skip
    segments = queries.composition_segments(decoded.samples, decoded.rate)
    version = compositions.model_version()[1] if segments else ""
    return ContentSpec(sha256, fingerprint.VERSION, fp.seconds, fp.to_bytes(),
                       composition=segments, composition_version=version,
                       voice=voiced, voice_version=voice.VERSION if voiced else "")  # fmt: skip


def fingerprint_content(raw: Any, *, name: str) -> ContentSpec:
    """A ``fingerprint`` item's fingerprint, validated (a 400 naming the field)."""
    raw = _served_model(
        raw, name=name, expected="an object with model_version, data and sha256",
        fields=("data", "sha256", "voice", "composition"),
        model=fingerprint.MODEL, version=fingerprint.VERSION, compute="fingerprint",
    )  # fmt: skip
    sha256 = raw.get("sha256")
    if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256.lower()):
        raise InvalidInput.field(f"{name}.sha256", "the audio's SHA-256: 64 hexadecimal digits")
    data = _base64(raw.get("data"), name=f"{name}.data", limit=FINGERPRINT_MAX_BYTES)
    try:
        fp = fingerprint.Fingerprint.from_bytes(data)
    except ValueError as exc:
        raise InvalidInput.field(f"{name}.data", f"not a fingerprint: {exc}") from None
    if problem := _out_of_range(fp):
        raise InvalidInput.field(f"{name}.data", f"not a fingerprint: {problem}")
    voiced = voice_content(raw.get("voice"), name=f"{name}.voice", seconds=fp.seconds)
    version = voice.VERSION if voiced else ""
    if fp.seconds < fingerprint.MIN_SECONDS:  # as the audio would have been refused
        # (no audio this short has composition segments: refused as for any length)
        composition_content(raw.get("composition"), name=f"{name}.composition", seconds=fp.seconds)
        detail = (
            f"The audio lasts {fp.seconds:.1f} s; a fingerprint needs at least "
            f"{fingerprint.MIN_SECONDS:g} s."
        )
        return ContentSpec(sha256.lower(), fingerprint.VERSION, error="too_short", detail=detail,
                           voice=voiced, voice_version=version)  # fmt: skip
    segments = composition_content(
        raw.get("composition"), name=f"{name}.composition", seconds=fp.seconds
    )
    return ContentSpec(sha256.lower(), fingerprint.VERSION, fp.seconds, fp.to_bytes(),
                       composition=segments,
                       composition_version=compositions.model_version()[1] if segments else "",
                       voice=voiced, voice_version=version)  # fmt: skip


MAX_VOICE_WINDOWS: Final = math.ceil(audio.MAX_SECONDS / (voice.WINDOW_SECONDS / 1.5))
"""The most voice windows a client's item may carry: more than the longest audio's speech
gives (windows are at least two thirds of ``voice.WINDOW_SECONDS``, shorter speech is one)."""
_UNIT: Final = 1e-3
"""How far from 1 a client's voice vector's or composition segment's length may be (rounded to
``voice.DIGITS``, ``queries.DIGITS``)."""


def voice_content(raw: Any, *, name: str, seconds: float) -> voice.Windows:
    """A client's voice windows (``{"model", "model_version", "windows": [{"start", "end",
    "vector"}]}``, the form ``ContentSpec.stored`` keeps), validated as the model version served
    could have computed them from ``seconds`` of audio (a 400 naming the field); none if
    absent: a client that sent no voice brings none into the decision."""
    if raw is None:
        return ()
    raw = _served_model(
        raw, name=name, expected="an object with model, model_version and windows",
        fields=("windows",), model=voice.MODEL, version=voice.VERSION, compute="embed voices",
    )  # fmt: skip
    windows = raw.get("windows")
    if not isinstance(windows, list) or len(windows) > MAX_VOICE_WINDOWS:
        raise InvalidInput.field(f"{name}.windows", f"a list of at most {MAX_VOICE_WINDOWS}")
    out = []
    for n, window in enumerate(windows):
        where = f"{name}.windows.{n}"
        if not isinstance(window, Mapping) or set(map(str, window)) != {"start", "end", "vector"}:
            raise InvalidInput.field(where, "an object with start, end and vector")
        start, end, vector = window["start"], window["end"], window["vector"]
        if not all(_number(x) for x in (start, end)) or not 0 <= start < end <= seconds + 0.01:
            raise InvalidInput.field(where, f"0 <= start < end <= the audio's {seconds:g} s")
        unit = _unit_vector(vector, where=f"{where}.vector", dimension=voice.DIMENSION)
        out.append((unit, (float(start), float(end))))
    return tuple(out)


def max_composition_segments(seconds: float) -> int:
    """The most composition segments ``seconds`` of audio gives (``composition_segments``:
    one every ``HOP_SECONDS`` that fits, and one ending with the audio, its length read to
    the next second); none under ``MIN_SECONDS``."""
    from governance.content import composition

    if seconds < composition.MIN_SECONDS:
        return 0
    fitting = (math.ceil(seconds) - composition.SEGMENT_SECONDS) // composition.HOP_SECONDS
    return int(fitting) + 2


def composition_content(raw: Any, *, name: str, seconds: float) -> queries.Segments:
    """A client's composition segments (``{"model", "model_version", "segments"}``, the form
    ``ContentSpec.stored`` keeps), validated as the model version served could have computed
    them from ``seconds`` of audio (a 400 naming the field): the served model and version,
    at least one and at most :func:`max_composition_segments` segments, each a unit vector of
    ``DIMENSION`` finite numbers. None if absent: a client that sent none brings no
    composition into the decision, and the item is matched by its fingerprint alone."""
    from governance.content import composition

    if raw is None:
        return ()
    model, served = compositions.model_version()
    raw = _served_model(
        raw, name=name, expected="an object with model, model_version and segments",
        fields=("segments",), model=model, version=served, compute="compute composition segments",
    )  # fmt: skip
    most = max_composition_segments(seconds)
    segments = raw.get("segments")
    if not isinstance(segments, list) or not 0 < len(segments) <= most:
        raise InvalidInput.field(
            f"{name}.segments",
            f"a list of 1 to {most} segments for {seconds:g} s of audio"
            if most
            else f"none: {seconds:g} s of audio is under the {composition.MIN_SECONDS} s the "
            "composition space needs",
        )
    return tuple(
        _unit_vector(segment, where=f"{name}.segments.{n}", dimension=composition.DIMENSION)
        for n, segment in enumerate(segments)
    )


def _served_model(
    raw: Any, *, name: str, expected: str, fields: tuple[str, ...], model: str, version: str,
    compute: str,
) -> Mapping[str, Any]:  # fmt: skip
    """``raw``, a client's vectors of one space (an object with ``model``, ``model_version``
    and ``fields``), if they were computed by the model version served (a 400 naming the
    field otherwise: not an object, ``expected``; an unknown member; another model or
    version, saying which to ``compute`` with)."""
    if not isinstance(raw, Mapping):
        raise InvalidInput.field(name, expected)
    unknown = sorted(set(map(str, raw)) - {"model", "model_version", *fields})
    if unknown:
        raise InvalidInput.unknown_fields([f"{name}.{key}" for key in unknown])
    if raw.get("model", model) != model:
        raise InvalidInput.field(f"{name}.model", f"the model is {model}")
    if raw.get("model_version") != version:
        raise InvalidInput.field(
            f"{name}.model_version",
            f"{raw.get('model_version')!r} is not served; {compute} with model version "
            f"{version!r} of {model}",
        )
    return raw


def _unit_vector(value: Any, *, where: str, dimension: int) -> tuple[float, ...]:
    """A client's vector as the model gives one: ``dimension`` finite numbers of length 1
    (within :data:`_UNIT`); a 400 naming ``where`` otherwise."""
    if not isinstance(value, list) or len(value) != dimension or not all(map(_number, value)):
        raise InvalidInput.field(where, f"{dimension} finite numbers")
    if abs(math.sqrt(math.fsum(float(x) ** 2 for x in value)) - 1) > _UNIT:
        raise InvalidInput.field(where, "a unit vector, as the model gives")
    return tuple(float(x) for x in value)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _out_of_range(fp: fingerprint.Fingerprint) -> str:
    """What makes a client's fingerprint one the service could not have computed (a length
    that is not finite or past the audio limit, a hash past ``HASH_BITS``, a frame far past
    the longest audio), which the vote query would otherwise fail on; "" if nothing."""
    if not (math.isfinite(fp.seconds) and 0 < fp.seconds <= audio.MAX_SECONDS):
        return f"a length of {fp.seconds} s (at most {audio.MAX_SECONDS:g} s)"
    if len(fp.hashes) != len(fp.times):
        return "as many hashes as times are needed"
    if len(fp.hashes) and not (
        int(fp.hashes.min()) >= 0 and int(fp.hashes.max()) < 2**fingerprint.HASH_BITS
    ):
        return f"hashes are below 2**{fingerprint.HASH_BITS}"
    # (bounded by the longest audio, twice over: far from a PostgreSQL integer's limit)
    frames = 2 * audio.MAX_SECONDS / fingerprint.FRAME_SECONDS
    if len(fp.times) and not (int(fp.times.min()) >= 0 and int(fp.times.max()) <= frames):
        return "a frame index outside the longest audio"
    return ""


def fingerprint_model_version() -> str:
    """The model version items are fingerprinted with, and works' contents matched in."""
    return fingerprint.VERSION


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def fingerprint_votes(fp: fingerprint.Fingerprint) -> list[tuple[str, int, int, int]]:
    """Every vote of ``fp`` against the stored postings (no stop list): ``(content id, offset,
    block, hits)``, the rows ``MemoryIndex.votes`` gives (the reference the tests compare
    with; ``fingerprint_store.every_vote``)."""
    return fingerprint_store.every_vote(fp)


def hash_cap() -> int:
    """The stop list's cap for the stored postings (``fingerprint.hash_cap``), from the
    segments' count of them (exact; a deleted content's counted until compacted)."""
    return fingerprint.hash_cap(fingerprint_store.stored_postings())


def fingerprint_near_votes(
    fp: fingerprint.Fingerprint, *, needed: int, cap: int | None = None
) -> list[tuple[str, int, int, int]]:
    """The votes of ``fp`` that can be part of a candidate reaching coverage ``needed``, of its
    hashes with at most ``cap`` postings (:func:`hash_cap` when None): what matching reads
    (``fingerprint_store.near_votes``: ``score_votes`` finds the same passing candidates in
    them as in every vote of the same hashes)."""
    cap = hash_cap() if cap is None else cap
    return fingerprint_store.near_votes(fp, needed=needed, cap=cap)


def _works_of(contents: list[str]) -> dict[str, str]:
    """The works of ``contents`` fingerprinted with the model version served (a content of
    another version, waiting to be fingerprinted again, matches nothing)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id::text, work_id::text FROM governance_workcontent"
            " WHERE id = ANY(%s::uuid[]) AND model_version = %s",
            [contents, fingerprint.VERSION],
        )
        return dict(cursor.fetchall())


def fingerprint_matches(content: ContentSpec) -> list[tuple[str, evaluation.Match]]:
    """The works ``content`` matches, best first, each with its best content's match: by
    coverage (``fingerprint.threshold``), or, where no content reaches it and the query carries
    its map, by the presence of the best candidates' peaks (``fingerprint.decide``)."""
    fp = fingerprint.Fingerprint.from_bytes(content.data)
    votes = fingerprint_store.Votes(fp, cap=hash_cap())

    def best(needed: int) -> list[tuple[str, int, int, int]]:
        return votes.best(references=fingerprint.CANDIDATE_REFERENCES,
                          floor=fingerprint.CANDIDATE_COVERAGE, below=needed)  # fmt: skip

    decision = fingerprint.decide(
        fp, votes.near, best, fingerprint_store.peaks_of_contents, limit=TOP_K
    )
    if decision.by_coverage:
        return _coverage_matches(content, fp, decision)
    return _presence_matches(content, fp, decision)


def _coverage_matches(
    content: ContentSpec, fp: fingerprint.Fingerprint, decision: fingerprint.Decision
) -> list[tuple[str, evaluation.Match]]:
    passing, needed = decision.by_coverage, decision.needed
    works = _works_of([c.key for c in passing])
    block_seconds = fingerprint.FRAMES_PER_BLOCK * fingerprint.FRAME_SECONDS
    spanned = max(1, math.ceil(fp.seconds / block_seconds - 1e-9))
    out: dict[str, evaluation.Match] = {}
    for c in passing:  # best first: a work keeps its best content's match
        work = works.get(c.key)
        if work is None or work in out:
            continue
        # The query's blocks: those its length spans (never fewer than agree, so that the
        # score stays in 0..1 and passes exactly when the coverage reaches the threshold).
        blocks = max(spanned, int(c.score))
        detail = (
            ("model", fingerprint.MODEL),
            ("model_version", content.model_version),
            ("coverage", int(c.score)),
            ("query_blocks", blocks),
            ("min_coverage", int(needed)),
            ("block_seconds", round(block_seconds, 6)),
            ("hits", int(c.hits)),
            ("offset_seconds", round(float(c.offset_seconds), 3)),
            ("query_start_seconds", round(float(c.query_start_seconds), 3)),
            ("query_end_seconds", round(float(c.query_end_seconds), 3)),
        )
        score = round(c.score / blocks, 6)
        out[work] = evaluation.Match(SPACE, score, round(needed / blocks, 6), detail)
    return list(out.items())


def _presence_matches(
    content: ContentSpec, fp: fingerprint.Fingerprint, decision: fingerprint.Decision
) -> list[tuple[str, evaluation.Match]]:
    """Matches by presence: the score is the present peaks' weight (each its rank, 0-1) as a
    share of the recording's peaks in the query's span, the threshold the share that makes z
    reach ``presence.Z_THRESHOLD`` (so that the score passes exactly when z does)."""
    verified = decision.by_presence
    if not verified:
        return []
    works = _works_of([v.key for v in verified])
    out: dict[str, evaluation.Match] = {}
    for v in verified:  # best first
        work = works.get(v.key)
        if work is None or work in out:
            continue
        pr = v.presence
        needed_share = min(1.0, pr.needed / pr.peaks)
        detail = (
            ("model", fingerprint.MODEL),
            ("model_version", content.model_version),
            ("method", "presence"),
            ("peaks", int(pr.peaks)),
            ("present", int(pr.present)),
            ("expected", round(float(pr.expected), 3)),
            ("weight", round(float(pr.weight), 3)),
            ("expected_weight", round(float(pr.expected_weight), 3)),
            ("min_weight", round(pr.needed, 3)),
            ("z", round(float(pr.z), 3)),
            ("min_z", presence.Z_THRESHOLD),
            ("offset_seconds", round(pr.offset * fingerprint.FRAME_SECONDS, 3)),
            ("query_seconds", round(float(fp.seconds), 3)),
        )
        out[work] = evaluation.Match(
            SPACE, round(pr.weight / pr.peaks, 6), round(needed_share, 6), detail
        )
    return list(out.items())
