"""The ``text`` space (governance.content.text): which artist a prompt names, which work
translated lyrics come from; calibration, accuracy and speed. No database.

Data (benchmarks/data): ``text_artists.tsv``, real artists with real aliases, some marked as
never registered; ``text_lyrics.txt``, public-domain songs and translations. The registered
artists' names and aliases, and the registered lyrics' stanzas, are embedded into in-memory
indexes searched exactly, 10 rows per query vector (what the store's HNSW returns).

Prompts are generated with a seeded RNG from templates in EN/FR/ES/DE (a few IT/PT), one
artist each, by category: the name in each language; an alias (Latin script, other script);
the name misspelt (a letter dropped, two swapped, one doubled, accents removed, lowercased);
negatives: generic music prompts naming nobody, and prompts naming an artist never
registered. Lyrics queries are each translation whole and stanza by stanza; their negatives
are songs never registered (and their translations) and prose.

Prompts are split at random into two halves: the threshold and margin are chosen on the
calibration half (the highest recall with no false match on its negatives, then the largest
margin of safety) and every figure is reported on the other half, at the module's constants.

Printed per category: n, top-1 (the right artist ranked first, whatever the threshold), recall
and precision at the module's THRESHOLD and MARGIN, false matches on negatives, ROC AUC
(positives against the negatives, by the best artist's score); speed: prompts per CPU second
(this process, one engine thread) through NameIndex.match, spans cut and embedded afresh, and
stanzas per CPU second through LyricsIndex.match.

Environment: BENCH_TEXT_PER_CATEGORY (prompts per positive category, default 120),
BENCH_TEXT_SPEED (prompts timed, default 100), BENCH_TEXT_SEED (default 15).
"""

from __future__ import annotations

import os
import random
import time
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from governance.content import text

DATA = Path(__file__).parent / "data"
PER_CATEGORY = int(os.environ.get("BENCH_TEXT_PER_CATEGORY", "120"))
SPEED_PROMPTS = int(os.environ.get("BENCH_TEXT_SPEED", "100"))
SEED = int(os.environ.get("BENCH_TEXT_SEED", "15"))

TEMPLATES = {
    "en": [
        "in the style of {x}",
        "a song that sounds like {x}",
        "{x}-inspired beat",
        "make me a track like {x}",
        "a slow ballad in the vein of {x}, with strings",
        "sing it the way {x} would",
        "{x} type beat, dark and moody",
        "something similar to {x} for a road trip",
    ],
    "fr": [
        "une chanson dans le style de {x}",
        "un morceau à la manière de {x}",
        "fais-moi un titre qui sonne comme {x}",
        "une ballade façon {x} avec du piano",
        "une instru inspirée de {x}",
        "chante comme {x}",
    ],
    "es": [
        "una canción al estilo de {x}",
        "un tema que suene como {x}",
        "hazme una canción como las de {x}",
        "un ritmo inspirado en {x} para bailar",
        "canta como {x}",
    ],
    "de": [
        "ein Lied im Stil von {x}",
        "ein Song, der wie {x} klingt",
        "mach mir einen Track wie {x}",
        "ein Beat, inspiriert von {x}",
        "sing wie {x} auf einer Hochzeit",
    ],
    "it": ["una canzone nello stile di {x}", "un brano che suona come {x}"],
    "pt": ["uma música no estilo de {x}", "uma faixa que soa como {x}"],
}
ALL_TEMPLATES = [t for ts in TEMPLATES.values() for t in ts]

GENERIC = [
    "a lofi beat for studying",
    "an upbeat summer pop song with ukulele",
    "epic orchestral trailer music with choir",
    "80s synthwave with a driving bassline",
    "a lullaby for my daughter",
    "heavy metal riff in drop D, fast double kick",
    "chill jazz for a rainy evening in a café",
    "a sad piano ballad about leaving home",
    "acoustic folk song with harmonica",
    "dark techno at 130 bpm for a warehouse party",
    "a happy birthday song for a five year old",
    "reggae groove with a walking bass",
    "a cinematic ambient drone, slowly evolving",
    "country song about a pickup truck and a dog",
    "a bossa nova for a wedding dinner",
    "trap beat with heavy 808s and hi-hats",
    "gospel choir singing about hope",
    "a string quartet in a minor key",
    "write me lyrics about the ocean at night",
    "a funky disco track with brass",
    "une chanson triste au piano",
    "musique d'ascenseur un peu jazzy",
    "un morceau de rap sur la banlieue",
    "une berceuse douce pour enfants",
    "de la musique électronique pour courir",
    "une valse musette avec accordéon",
    "un générique de dessin animé joyeux",
    "une chanson d'amour pour la Saint-Valentin",
    "musique de film romantique avec violons",
    "un slow des années quatre-vingt",
    "una cumbia alegre para bailar",
    "una balada romántica con guitarra española",
    "música relajante para meditar",
    "un reguetón para la fiesta de esta noche",
    "una canción de cuna para dormir al bebé",
    "flamenco con palmas y cajón",
    "música épica para un videojuego",
    "una ranchera sobre un amor perdido",
    "un bolero lento para una cena",
    "salsa con trompetas y piano",
    "ein ruhiges Klavierstück für den Abend",
    "ein fröhliches Kinderlied über Tiere",
    "harter Techno für den Club",
    "ein Schlager für das Oktoberfest",
    "Blasmusik mit Tuba und Trompete",
    "ein trauriges Lied über den Herbst",
    "Filmmusik für eine Verfolgungsjagd",
    "ein Weihnachtslied mit Glocken",
    "entspannte Musik zum Einschlafen",
    "ein Rocksong mit verzerrter Gitarre",
    "una canzone d'amore napoletana",
    "uma música calma de violão",
    "make it sound more professional",
    "add drums and a bass line",
    "slower, with more reverb on the vocals",
    "a hip hop instrumental about the city at night",
    "an anthem for a football stadium",
    "meditation music with singing bowls",
    "a sea shanty sung by sailors",
    "a national anthem style march",
]

WEIGHTS = (0.0, 0.25, 0.5, 0.75)
MISSPELLINGS = ("drop", "swap", "double", "accents", "lowercase")


@dataclass(frozen=True)
class Artist:
    key: int
    name: str
    aliases: tuple[str, ...]
    registered: bool


@dataclass(frozen=True)
class Prompt:
    category: str
    text: str
    artist: int | None  # None: names no registered artist


def load_artists() -> list[Artist]:
    artists: list[Artist] = []
    for line in (DATA / "text_artists.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        registered = not line.startswith("-")
        fields = line.lstrip("-").split("\t")
        aliases = tuple(a for a in fields[1].split("|") if a) if len(fields) > 1 else ()
        artists.append(Artist(len(artists), fields[0], aliases, registered))
    return artists


def load_lyrics() -> list[tuple[str, str, str, str]]:
    """(work, language, role, text) sections of text_lyrics.txt."""
    sections: list[tuple[str, str, str, str]] = []
    head: list[str] | None = None
    body: list[str] = []
    lines = (DATA / "text_lyrics.txt").read_text(encoding="utf-8").splitlines()
    for line in [*lines, "@@ end"]:
        if line.startswith("@@"):
            if head is not None:
                sections.append((head[0], head[1], head[2], "\n".join(body).strip()))
            head, body = line[2:].split(), []
        elif head is not None:
            body.append(line)
    return [s for s in sections if s[0] != "end"]


def strip_accents(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")


def misspell(name: str, kind: str, rng: random.Random) -> str | None:
    """One seeded edit of ``name``; None when the edit does not apply (or changes nothing)."""
    if kind == "lowercase":
        out = name.lower()
    elif kind == "accents":
        out = strip_accents(name)
    else:
        # Edit a letter inside a word of at least 4 letters, never its first.
        spots = [
            i
            for i in range(1, len(name) - 1)
            if name[i].isalpha() and name[i - 1].isalpha() and name[i + 1].isalpha()
        ]
        if not spots:
            return None
        i = rng.choice(spots)
        if kind == "drop":
            out = name[:i] + name[i + 1 :]
        elif kind == "swap":
            out = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        else:
            out = name[: i + 1] + name[i:]
    return None if out == name else out


def is_latin(s: str) -> bool:
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in s)


def build_prompts(artists: list[Artist], rng: random.Random) -> list[Prompt]:
    registered = [a for a in artists if a.registered]
    prompts: list[Prompt] = []

    def sample(pool: list[Artist]) -> list[Artist]:
        return rng.sample(pool, min(PER_CATEGORY, len(pool)))

    for lang in ("en", "fr", "es", "de"):
        for a in sample(registered):
            tmpl = rng.choice(TEMPLATES[lang])
            prompts.append(Prompt(f"name, {lang}", tmpl.format(x=a.name), a.key))
    latin = [(a, x) for a in registered for x in a.aliases if is_latin(x)]
    other = [(a, x) for a in registered for x in a.aliases if not is_latin(x)]
    for label, pool in (("alias, Latin script", latin), ("alias, other script", other)):
        for a, alias in rng.sample(pool, min(PER_CATEGORY, len(pool))):
            tmpl = rng.choice(ALL_TEMPLATES)
            prompts.append(Prompt(label, tmpl.format(x=alias), a.key))
    for kind in MISSPELLINGS:
        made = 0
        for a in rng.sample(registered, len(registered)):
            wrong = misspell(a.name, kind, rng)
            if wrong is None:
                continue
            tmpl = rng.choice(ALL_TEMPLATES)
            prompts.append(Prompt(f"misspelt, {kind}", tmpl.format(x=wrong), a.key))
            made += 1
            if made == PER_CATEGORY:
                break
    for g in GENERIC:
        prompts.append(Prompt("negative, generic", g, None))
    for a in artists:
        if not a.registered:
            for tmpl in rng.sample(ALL_TEMPLATES, 2):
                prompts.append(Prompt("negative, unregistered artist", tmpl.format(x=a.name), None))
    return prompts


def roc_auc(pos: list[float], neg: list[float]) -> float:
    if not pos or not neg:
        return float("nan")
    p = np.asarray(pos)[:, None]
    n = np.asarray(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


@dataclass(frozen=True)
class Outcome:
    category: str
    truth: int | str | None
    top: object
    score: float
    second: float


def decide(o: Outcome, threshold: float, margin: float) -> bool:
    return o.score >= threshold and o.score - o.second >= margin


def report(
    title: str, outcomes: list[Outcome], threshold: float, margin: float
) -> dict[str, float]:
    negatives = [o for o in outcomes if o.truth is None]
    neg_scores = [o.score for o in negatives]
    by: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by[o.category].append(o)
    print(f"{title} (threshold {threshold:.3f}, margin {margin:.3f})")
    print(f"  {'category':34} {'n':>4} {'top-1':>6} {'recall':>6} {'prec.':>6} {'AUC':>6}")
    totals: dict[str, float] = {}
    for category, rows in by.items():
        if rows[0].truth is None:
            false = sum(decide(o, threshold, margin) for o in rows)
            worst = max(o.score for o in rows)
            print(
                f"  {category:34} {len(rows):4d} false matches {false} (highest score {worst:.3f})"
            )
            totals["false"] = totals.get("false", 0) + false
            continue
        top1 = sum(o.top == o.truth for o in rows) / len(rows)
        passed = [o for o in rows if decide(o, threshold, margin)]
        right = sum(o.top == o.truth for o in passed)
        recall = right / len(rows)
        precision = right / len(passed) if passed else float("nan")
        auc = roc_auc([o.score for o in rows], neg_scores)
        print(
            f"  {category:34} {len(rows):4d} {top1:6.3f} {recall:6.3f} {precision:6.3f} {auc:6.3f}"
        )
    pos = [o for o in outcomes if o.truth is not None]
    passed = [o for o in pos if decide(o, threshold, margin)]
    wrong_pos = sum(o.top != o.truth for o in passed)
    totals["top1"] = sum(o.top == o.truth for o in pos) / len(pos)
    totals["recall"] = (len(passed) - wrong_pos) / len(pos)
    flagged = len(passed) + int(totals.get("false", 0))
    totals["precision"] = (len(passed) - wrong_pos) / flagged if flagged else float("nan")
    totals["auc"] = roc_auc([o.score for o in pos], neg_scores)
    print(
        f"  {'all positives':34} {len(pos):4d} {totals['top1']:6.3f} {totals['recall']:6.3f} "
        f"{totals['precision']:6.3f} {totals['auc']:6.3f}   (precision counts false matches "
        f"on negatives; {wrong_pos} positives passed with the wrong key)"
    )
    return totals


def calibrate(outcomes: list[Outcome]) -> tuple[float, float]:
    """The (threshold, margin) with the highest recall and no false match (neither a negative
    nor a positive passing with the wrong key); ties go to the largest threshold + margin."""
    best: tuple[float, float, float] = (-1.0, 1.0, 0.0)
    for threshold in np.arange(0.80, 1.0001, 0.005):
        for margin in np.arange(0.0, 0.0801, 0.005):
            t, m = float(threshold), float(margin)
            passed = [o for o in outcomes if decide(o, t, m)]
            if any(o.top != o.truth for o in passed):
                continue
            recall = len(passed)
            if (recall, t + m) > (best[0], best[1] + best[2]):
                best = (recall, t, m)
    return best[1], best[2]


def name_hits(
    prompts: list[Prompt], index: text.NameIndex
) -> tuple[list[tuple[list[str], list[text.Hit]]], dict[str, np.ndarray]]:
    """Every prompt's spans and their hits, and the spans' vectors: spans are embedded once
    across prompts here (speed is timed apart)."""
    spans = {p.text: text.prompt_spans(p.text) for p in prompts}
    unique = sorted({s for ss in spans.values() for s in ss})
    vectors = dict(zip(unique, text.embed_queries(unique), strict=True))
    hits = [
        (spans[p.text], index.hits(np.stack([vectors[s] for s in spans[p.text]]), 10))
        for p in prompts
    ]
    return hits, vectors


def rehit(
    hits: list[tuple[list[str], list[text.Hit]]],
    vectors: dict[str, np.ndarray],
    index: text.NameIndex,
) -> list[tuple[list[str], list[text.Hit]]]:
    """The same spans (their vectors) searched in another index."""
    return [(spans, index.hits(np.stack([vectors[s] for s in spans]), 10)) for spans, _ in hits]


def summary(label: str, rows: list[Outcome]) -> None:
    """top-1 and ROC AUC of positives against negatives, whatever the threshold."""
    pos = [o for o in rows if o.truth is not None]
    neg = [o.score for o in rows if o.truth is None]
    top1 = sum(o.top == o.truth for o in pos) / len(pos)
    auc = roc_auc([o.score for o in pos], neg)
    print(f"  {label:46} top-1 {top1:.3f}  AUC {auc:.3f}  highest negative {max(neg):.3f}")


def name_outcomes(
    prompts: list[Prompt], hits: list[tuple[list[str], list[text.Hit]]], weight: float
) -> list[Outcome]:
    out = []
    for p, (spans, found) in zip(prompts, hits, strict=True):
        match = text.best_artist(found, spans, weight=weight)
        assert match is not None
        out.append(Outcome(p.category, p.artist, match.key, match.score, match.second))
    return out


def lyrics_outcomes(
    sections: list[tuple[str, str, str, str]], queries: bool = True
) -> list[Outcome]:
    """Each translation (and each never-registered text) whole and stanza by stanza, matched
    against the registered lyrics, embedded with the query prefix (the module) or as
    passages."""
    embed = text.embed_stanzas if queries else text.embed_passages
    index = text.LyricsIndex()
    for work, _lang, role, body in sections:
        if role == "ref":
            index.add(work, body, embed(text.stanzas(body)))
    out = []
    for work, _lang, role, body in sections:
        if role == "ref":
            continue
        truth = work if role == "query" else None
        kind = "translated lyrics" if truth else "negative, unregistered lyrics"
        parts = text.stanzas(body)
        forms = [("whole", parts)] + ([("stanza", [p]) for p in parts] if len(parts) > 1 else [])
        for form, chunk in forms:
            match = text.best_work(index.hits(embed(chunk), 10), len(chunk), threshold=2.0)
            assert match is not None
            category = f"{kind}, {form}" if truth else kind
            out.append(Outcome(category, truth, match.key, match.score, match.second))
    return out


def main() -> None:
    load = os.getloadavg()
    print(
        f"text space: model {text.MODEL} version {text.VERSION}, dimension {text.DIMENSION}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    text.model()
    rng = random.Random(SEED)
    artists = load_artists()
    registered = [a for a in artists if a.registered]
    index = text.NameIndex()
    t0 = time.process_time()
    names_count = 0
    for a in registered:
        names = [a.name, *a.aliases]
        index.add(a.key, names)
        names_count += len(names)
    t_names = time.process_time() - t0
    print(
        f"registered {len(registered)} artists ({names_count} names and aliases, embedded in "
        f"{t_names:.1f} CPU s), {len(artists) - len(registered)} never registered"
    )

    prompts = build_prompts(artists, rng)
    hits, vectors = name_hits(prompts, index)
    order = list(range(len(prompts)))
    rng.shuffle(order)
    half = set(order[: len(order) // 2])
    for weight in WEIGHTS:
        everything = name_outcomes(prompts, hits, weight)
        calib = [o for i, o in enumerate(everything) if i in half]
        t, m = calibrate(calib)
        passed = sum(decide(o, t, m) for o in calib if o.truth is not None)
        positives = sum(o.truth is not None for o in calib)
        top1 = sum(o.top == o.truth for o in calib if o.truth is not None) / positives
        print(
            f"calibration half ({len(calib)} prompts), lexical weight {weight:.2f}: top-1 "
            f"{top1:.3f}; no false match from threshold {t:.3f}, margin {m:.3f}: recall "
            f"{passed / positives:.3f}"
        )
    outcomes = name_outcomes(prompts, hits, text.LEXICAL_WEIGHT)
    test = [o for i, o in enumerate(outcomes) if i not in half]
    passages = text.NameIndex()
    for a in registered:
        names = [a.name, *a.aliases]
        passages.add(a.key, names, text.embed_passages(names))
    as_passages = rehit(hits, vectors, passages)
    variants = (("names as queries (the module)", hits), ("names as passages", as_passages))
    for label, found in variants:
        for weight in (0.0, text.LEXICAL_WEIGHT):
            summary(f"{label}, lexical weight {weight:.2f}", name_outcomes(prompts, found, weight))
    report("artist prompts, test half", test, text.THRESHOLD, text.MARGIN)
    report("artist prompts, all", outcomes, text.THRESHOLD, text.MARGIN)

    timed = rng.sample([p.text for p in prompts], min(SPEED_PROMPTS, len(prompts)))
    spans = sum(len(text.prompt_spans(p)) for p in timed)
    t0 = time.process_time()
    for p in timed:
        index.match(p)
    cpu = time.process_time() - t0
    print(
        f"speed: {len(timed)} prompts ({spans / len(timed):.1f} spans each) in {cpu:.2f} CPU s: "
        f"{len(timed) / cpu:.1f} prompts per CPU second, {cpu / spans * 1000:.1f} ms per span"
    )

    sections = load_lyrics()
    refs = [s for s in sections if s[2] == "ref"]
    print(
        f"lyrics: {len(refs)} registered works, "
        f"{sum(len(text.stanzas(s[3])) for s in refs)} stanzas; "
        f"{sum(s[2] == 'query' for s in sections)} translations, "
        f"{sum(s[2] == 'unregistered' for s in sections)} texts never registered"
    )
    louts = lyrics_outcomes(sections)
    summary("stanzas as queries (the module)", louts)
    summary("stanzas as passages", lyrics_outcomes(sections, queries=False))
    lt, lm = calibrate(louts)
    print(f"lyrics, no false match from threshold {lt:.3f}, margin {lm:.3f} (all queries)")
    report("lyrics", louts, text.LYRICS_THRESHOLD, text.LYRICS_MARGIN)
    queries = [s[3] for s in sections if s[2] != "ref"]
    count = sum(len(text.stanzas(q)) for q in queries)
    works = text.LyricsIndex()
    for work, _lang, _role, body in refs:
        works.add(work, body)
    t0 = time.process_time()
    for q in queries:
        works.match(q)
    cpu = time.process_time() - t0
    print(
        f"speed: {len(queries)} lyrics ({count} stanzas) matched in {cpu:.2f} CPU s: "
        f"{count / cpu:.1f} stanzas per CPU second"
    )
