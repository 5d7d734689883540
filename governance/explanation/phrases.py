"""The words of an explanation in each language (:data:`SUPPORTED_LANGUAGES`): the English and
French catalogues of sentence templates, keyed by decision code or phrase, and :class:`Phrases`,
which fills them and writes numbers, shares, lists, quotations, rights, uses and identifiers
as the language does.

French follows French typography: « guillemets », a no-break space before ``:``, ``;`` and
``%``, decimal commas. A language is a catalogue here; :mod:`governance.explanation.sentences`
chooses which template says what.
"""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Final

SUPPORTED_LANGUAGES: Final = ("en", "fr")

_NB: Final = "\u00a0"  # no-break space

_EN: Final[Mapping[str, str]] = {
    "quote": "“{}”", "percent": "{}%", "and": "and", "decimal": ".",
    "match": "{title} matched your item in the {space} space with similarity {score} "
    "(threshold {threshold}).",
    "near": "{title} resembled your item in the {space} space with similarity {score}, below "
    "the threshold {threshold}.",
    "named": "{title} was named by its {scheme} {value}.",
    "fingerprint": "Your audio matches {title} (fingerprint, {model} version {version}: {agree} "
    "of {total} seconds agree, threshold {needed}); from {start} to {end} of your audio, it is "
    "the recording from {ref}.",
    "composition": "Your audio is a version of the composition of {title} (composition, {model} "
    "version {version}: similarity {score}, threshold {threshold}).",
    "named_also": "It was also named by its {scheme} {value}.",
    "artist_named": "Your prompt names {name}: its words {span} match the name {label} (text, "
    "{model} version {version}) with a score of {score} (threshold {threshold}).",
    "voice_match": "Your audio sounds like the voice of {name} (voice, {model} version "
    "{version}): similarity {score}, threshold {threshold}, from {start} to {end} of your audio.",
    "needs_artist": "{use}: your item names an artist or sounds like one, which needs the "
    "consent of the holder of the likeness right, the artist alone.",
    "needs_one": "{use} needs the consent of the holder of the {right} right.",
    "needs_many": "{use} needs the consent of the holders of the {rights} rights.",
    "needs_none": "{use} needs nobody's consent under consent matrix version {version}.",
    "consent.allowed": "{who} allowed it under {rule}.",
    "consent.conditional": "{who} allowed it with conditions under {rule}.",
    "consent.denied_by_rule": "{who} refused it under {rule}.",
    "consent.review": "{who} reviews such requests in person under {rule}, so the answer waits "
    "for {poss} decision.",
    "consent.similarity_exceeded": "{who} allows it only below similarity {limit} under {rule}, "
    "but your item reached {score} in the {space} space, so the answer is no.",
    "consent.opt_in_default": "{who} has not consented, and {poss} default is opt-in, so the "
    "answer is no.",
    "consent.opt_out_default": "{who} has not reserved this use, and {poss} default is opt-out, "
    "so the answer is yes.",
    "holder": "{who} answered {answer}.",
    "rights.unknown": "nobody is registered as holding the {right} right, so the answer is no.",
    "rule": "rule {id} version {version}",
    "credited": "{right}, credited artist",
    "poss_artist": "their", "poss_other": "its",
    "in_one": "In {codes}, ", "in_many": "In {codes}, ",
    "outside_one": "Outside {codes}, ", "outside_many": "Outside {codes}, ",
    "allow": "You may proceed.",
    "conditional": "You may proceed if you: {items}.",
    "deny": "You may not proceed with this work.",
    "deny.artist": "You may not proceed with this artist's likeness.",
    "review": "The answer waits for a rights holder's review.",
    "no_match": "Consentry has no registered work matching this item; this is not a licence.",
    "no_match.prompt": "Your prompt names no registered artist (text, {model} version "
    "{version}: {parts} spans searched, threshold {threshold}{nearest}); this is not a licence.",
    "no_match.lyrics": "Your lyrics are no registered work's (text, {model} version {version}: "
    "{parts} stanzas searched, threshold {threshold}{nearest}); this is not a licence.",
    "nearest": "; the closest, {label}, scored {score}",
    "lyrics_match": "Your lyrics are those of {title} (text, {model} version {version}: "
    "similarity {score}, threshold {threshold}).",
    "error": "Your item could not be decided: {reason}.",
    "error.item.unresolved": "Your item could not be decided: {reason}.",
    "error.item.failed": "Your item could not be decided: {reason}.",
    "error.content.empty": "Your audio could not be decided: it is empty ({reason}).",
    "error.content.corrupt": "Your audio could not be decided: it is corrupt ({reason}).",
    "error.content.unsupported": "Your audio could not be decided: its format is not one "
    "Consentry reads ({reason}).",
    "error.content.too_short": "Your audio could not be decided: it is too short to "
    "fingerprint ({reason}).",
    "error.content.too_long": "Your audio could not be decided: it is too long ({reason}).",
    "error.content.too_large": "Your audio could not be decided: the file is too large "
    "({reason}).",
    "error.content.timeout": "Your audio could not be decided: decoding it took too long "
    "({reason}).",
    "consent.reviewed": "{who} reviews such requests in person under {rule}.",
    "settled.denied": "{who} denied it on review: {reason}.",
    "settled.approved": "{who} approved it on review: {reason}.",
    "note": "Note for licensees from {name}: {note}",
    "summary.allowed": "Every rights holder allowed it.",
    "summary.conditional": "Every rights holder allowed it, with conditions.",
    "summary.default_one": "No rights holder set a rule; {names}'s default posture decided it "
    "(opt-out: allowed unless they refuse).",
    "summary.default_many": "No rights holder set a rule; the default postures of {names} "
    "decided it (opt-out: allowed unless they refuse).",
    "summary.some_default": "Every rights holder allowed it, {names} by default (opt-out).",
    "summary.titled": "{title}: {sentence}",
    "credit": "credit {texts}", "disclose": "label outputs as AI-generated",
    "similarity": "keep outputs below similarity {limit} to this work",
    "compensation": "see compensation terms {refs}", "separator": "; ",
    "internal": "internal id",
    "use.train": "Training", "use.reference": "Using it as a reference at inference time",
    "use.output": "Releasing an output that resembles it",
    "use.voice": "Synthesizing or cloning the artist's voice",
    "use.style": "Imitating the artist's style", "use.lyrics": "Using its lyrics",
    "use.stems": "Separating or remixing its stems", "use.analyze": "Analysing it",
    "use.other": "The use {}",
    "period.span": "from {start} to {end}", "period.open": "from {start} on",
    "period.time": "{day} {time} UTC",
    "consent.period_not_covered": "Nothing on record covers the part of the period you asked "
    "about {parts}, so the answer is no.",
}  # fmt: skip

_FR: Final[Mapping[str, str]] = {
    "quote": f"«{_NB}{{}}{_NB}»", "percent": f"{{}}{_NB}%", "and": "et", "decimal": ",",
    "match": "{title} correspond à votre élément dans l’espace {space} avec une similarité de "
    "{score} (seuil {threshold}).",
    "near": "{title} ressemble à votre élément dans l’espace {space} avec une similarité de "
    "{score}, sous le seuil de {threshold}.",
    "named": "Votre élément désigne {title} par son {scheme} {value}.",
    "fingerprint": "Votre audio correspond à {title} (empreinte, {model} version {version}"
    f"{_NB}: {{agree}} secondes sur {{total}} concordent, seuil {{needed}}){_NB}; de {{start}} "
    "à {end} de votre audio, c’est l’enregistrement à partir de {ref}.",
    "composition": "Votre audio est une version de la composition de {title} (composition, "
    f"{{model}} version {{version}}{_NB}: similarité {{score}}, seuil {{threshold}}).",
    "named_also": "Votre élément désigne aussi cette œuvre par son {scheme} {value}.",
    "artist_named": f"Votre prompt nomme {{name}}{_NB}: ses mots {{span}} correspondent au nom "
    f"{{label}} (texte, {{model}} version {{version}}) avec un score de {{score}} (seuil "
    "{threshold}).",
    "voice_match": "Votre audio fait entendre la voix de {name} (voix, {model} version "
    f"{{version}}{_NB}: similarité {{score}}, seuil {{threshold}}, de {{start}} à {{end}} de "
    "votre audio).",
    "needs_artist": f"{{use}}{_NB}: votre élément nomme un artiste ou fait entendre sa voix, ce "
    "qui requiert le consentement du titulaire du droit à l’image et à la voix, l’artiste seul.",
    "needs_one": "{use} requiert le consentement du titulaire {right}.",
    "needs_many": f"{{use}} requiert le consentement des titulaires de ces droits{_NB}: "
    "{rights}.",
    "needs_none": "{use} ne requiert le consentement de personne selon la matrice de "
    "consentement version {version}.",
    "consent.allowed": "{who} l’a autorisé selon la {rule}.",
    "consent.conditional": "{who} l’a autorisé sous conditions selon la {rule}.",
    "consent.denied_by_rule": "{who} l’a refusé selon la {rule}.",
    "consent.review": f"{{who}} examine ces demandes en personne selon la {{rule}}{_NB}: la "
    "réponse attend sa décision.",
    "consent.similarity_exceeded": "{who} ne l’autorise que sous une similarité de {limit} "
    f"selon la {{rule}}, mais votre élément atteint {{score}} dans l’espace {{space}}{_NB}: la "
    "réponse est non.",
    "consent.opt_in_default": "{who} n’a pas donné son consentement et sa position par défaut "
    f"est l’opt-in{_NB}: la réponse est non.",
    "consent.opt_out_default": "{who} n’a pas réservé cet usage et sa position par défaut est "
    f"l’opt-out{_NB}: la réponse est oui.",
    "holder": "{who} a répondu {answer}.",
    "rights.unknown": f"personne n’est enregistré comme titulaire {{right}}{_NB}: la réponse "
    "est non.",
    "rule": "règle {id} version {version}",
    "credited": "{right}, artiste au générique",
    "poss_artist": "sa", "poss_other": "sa",
    "in_one": "Dans le territoire {codes}, ", "in_many": "Dans les territoires {codes}, ",
    "outside_one": "Hors du territoire {codes}, ", "outside_many": "Hors des territoires {codes}, ",
    "allow": "Vous pouvez continuer.",
    "conditional": f"Vous pouvez continuer si vous{_NB}: {{items}}.",
    "deny": "Vous ne pouvez pas continuer avec cette œuvre.",
    "deny.artist": "Vous ne pouvez pas continuer avec l’image et la voix de cet artiste.",
    "review": "La réponse attend l’examen d’un titulaire de droits.",
    "no_match": f"Consentry n’a aucune œuvre enregistrée qui corresponde à cet élément{_NB}; "
    "ceci n’est pas une licence.",
    "no_match.prompt": f"Votre prompt ne nomme aucun artiste enregistré (texte, {{model}} "
    f"version {{version}}{_NB}: {{parts}} segments cherchés, seuil {{threshold}}{{nearest}})"
    f"{_NB}; ce n’est pas une licence.",
    "no_match.lyrics": f"Vos paroles ne sont celles d’aucune œuvre enregistrée (texte, "
    f"{{model}} version {{version}}{_NB}: {{parts}} strophes cherchées, seuil {{threshold}}"
    f"{{nearest}}){_NB}; ce n’est pas une licence.",
    "nearest": f"{_NB}; le plus proche, {{label}}, a obtenu {{score}}",
    "lyrics_match": f"Vos paroles sont celles de {{title}} (texte, {{model}} version "
    f"{{version}}{_NB}: similarité {{score}}, seuil {{threshold}}).",
    "error": "Votre élément n’a pas pu être décidé.",
    "error.item.unresolved": f"Votre élément n’a pas pu être décidé{_NB}: il ne désigne aucune "
    "œuvre enregistrée.",
    "error.item.failed": f"Votre élément n’a pas pu être décidé{_NB}: le traitement a échoué, "
    "et l’opérateur en a le détail.",
    "error.content.empty": f"Votre audio n’a pas pu être décidé{_NB}: il est vide.",
    "error.content.corrupt": f"Votre audio n’a pas pu être décidé{_NB}: il est corrompu.",
    "error.content.unsupported": f"Votre audio n’a pas pu être décidé{_NB}: Consentry ne lit "
    "pas ce format.",
    "error.content.too_short": f"Votre audio n’a pas pu être décidé{_NB}: il est trop court "
    "pour en calculer l’empreinte.",
    "error.content.too_long": f"Votre audio n’a pas pu être décidé{_NB}: il est trop long.",
    "error.content.too_large": f"Votre audio n’a pas pu être décidé{_NB}: le fichier est trop "
    "volumineux.",
    "error.content.timeout": f"Votre audio n’a pas pu être décidé{_NB}: son décodage a pris "
    "trop de temps.",
    "consent.reviewed": "{who} examine ces demandes en personne selon la {rule}.",
    "settled.denied": f"{{who}} l’a refusé après examen{_NB}: {{reason}}.",
    "settled.approved": f"{{who}} l’a autorisé après examen{_NB}: {{reason}}.",
    "note": f"Note de {{name}} aux licenciés{_NB}: {{note}}",
    "summary.allowed": "Chaque titulaire de droits l’a autorisé.",
    "summary.conditional": "Chaque titulaire de droits l’a autorisé, sous conditions.",
    "summary.default_one": f"Aucun titulaire de droits n’a fixé de règle{_NB}; la position par "
    f"défaut de {{names}} en a décidé (opt-out{_NB}: autorisé sauf refus).",
    "summary.default_many": f"Aucun titulaire de droits n’a fixé de règle{_NB}; les positions "
    f"par défaut de {{names}} en ont décidé (opt-out{_NB}: autorisé sauf refus).",
    "summary.some_default": "Chaque titulaire de droits l’a autorisé, {names} par défaut "
    "(opt-out).",
    "summary.titled": f"{{title}}{_NB}: {{sentence}}",
    "credit": "créditez {texts}", "disclose": "signalez les résultats comme générés par IA",
    "similarity": "restez sous une similarité de {limit} avec cette œuvre",
    "compensation": "consultez les conditions de rémunération {refs}", "separator": f"{_NB}; ",
    "internal": "identifiant interne",
    "use.train": "L’entraînement", "use.reference": "L’usage comme référence à l’inférence",
    "use.output": "La diffusion d’un résultat qui lui ressemble",
    "use.voice": "La synthèse ou le clonage de la voix de l’artiste",
    "use.style": "L’imitation du style de l’artiste", "use.lyrics": "L’usage de ses paroles",
    "use.stems": "La séparation ou le remix de ses pistes", "use.analyze": "Son analyse",
    "use.other": f"L’usage «{_NB}{{}}{_NB}»",
    "period.span": "du {start} au {end}", "period.open": "à partir du {start}",
    "period.time": "{day} à {time} UTC",
    "consent.period_not_covered": "Aucun consentement ni titulaire enregistré ne couvre la "
    f"partie de la période demandée {{parts}}{_NB}: la réponse est non.",
}  # fmt: skip
_FR_RIGHTS: Final[Mapping[str, str]] = {
    "master": "master", "publishing": "édition", "performer": "interprète",
    "likeness": "image et voix",
}  # fmt: skip
_FR_RIGHT_OF: Final[Mapping[str, str]] = {
    "master": "du droit master", "publishing": "du droit d’édition",
    "performer": "du droit d’artiste-interprète", "likeness": "du droit à l’image et à la voix",
}  # fmt: skip
_SCHEMES: Final[Mapping[str, str]] = {"isrc": "ISRC", "iswc": "ISWC", "upc": "UPC", "ean": "EAN"}


class Phrases:
    """The words of one language, and how it writes numbers, lists and quotations."""

    def __init__(self, language: str) -> None:
        if language not in SUPPORTED_LANGUAGES:
            supported = ", ".join(SUPPORTED_LANGUAGES)
            raise ValueError(f"unsupported language {language!r}; supported: {supported}")
        self.fr = language == "fr"
        self.words = _FR if self.fr else _EN

    def __call__(self, key: str, **values: object) -> str:
        return self.words[key].format(**values)

    def quote(self, text: str) -> str:
        return self.words["quote"].format(text)

    def number(self, value: float | str) -> str:
        x = float(value)
        text = f"{x:.2f}" if round(x, 2) == x else f"{x:.3f}".rstrip("0")
        return text.replace(".", self.words["decimal"])

    def clock(self, seconds: float) -> str:
        """A time in a recording, as players show it: ``1:02`` (minutes and seconds)."""
        whole = max(0, int(seconds))
        return f"{whole // 60}:{whole % 60:02d}"

    def percent(self, share: str) -> str:
        text = format(Decimal(share).normalize(), "f").replace(".", self.words["decimal"])
        return self.words["percent"].format(text)

    def join(self, items: Sequence[str]) -> str:
        if len(items) <= 1:
            return "".join(items)
        return f"{', '.join(items[:-1])} {self.words['and']} {items[-1]}"

    def right(self, right: str) -> str:
        return _FR_RIGHTS.get(right, right) if self.fr else right

    def right_of(self, right: str) -> str:
        return _FR_RIGHT_OF.get(right, f"du droit {right}") if self.fr else right

    def use(self, use: str) -> str:
        key = f"use.{use}"
        return self(key) if key in self.words else self.words["use.other"].format(use)

    def identifier(self, identified_by: str) -> tuple[str, str]:
        scheme, _, value = identified_by.partition(":")
        if not value:
            return self("internal"), scheme
        return _SCHEMES.get(scheme.lower(), self("internal")), value
