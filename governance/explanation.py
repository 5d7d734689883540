"""Plain-language rendering of a decision trace (:mod:`governance.evaluation`), for people.

Pure: no Django. The trace is the explanation; this module only words it, in English or
French, one entry per work::

    [{"work": "<id>", "title": "Northern Lights", "outcome": "conditional", "sentences": [
        "“Northern Lights” matched your item in the voice space with similarity 0.93 "
        "(threshold 0.85).",
        "Training needs the consent of the holders of the master, publishing and performer "
        "rights.",
        "Northwind Records (master, 100%) allowed it under rule 3f2c1a9b… version 2.",
        "You may proceed if you: credit “Ada Vale”; label outputs as AI-generated."]}]

A holder's share is said only where the trace holds it: a licensee's trace does not
(:mod:`governance.disclosure`), and then the holder is named with its right alone.

An item that matched nothing gives one entry with ``work`` and ``title`` null. Sentences say
in which territories an answer holds only when the answers differ between territories, and
for which part of the period asked about only when the answers differ between its parts (a
part nothing covers is named: ``consent.period_not_covered``). French follows French
typography: « guillemets », a no-break space before ``:``, ``;`` and ``%``, decimal commas.
"""

# French is written with the typographic apostrophe (U+2019), which RUF001 takes for a typo.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final

from governance.evaluation import ELSEWHERE

SUPPORTED_LANGUAGES: Final = ("en", "fr")

_NB: Final = "\u00a0"  # no-break space
_NO_NAMES: Final[Mapping[str, str]] = MappingProxyType({})

_EN: Final[Mapping[str, str]] = {
    "quote": "“{}”", "percent": "{}%", "and": "and", "decimal": ".",
    "match": "{title} matched your item in the {space} space with similarity {score} "
    "(threshold {threshold}).",
    "near": "{title} resembled your item in the {space} space with similarity {score}, below "
    "the threshold {threshold}.",
    "named": "{title} was named by its {scheme} {value}.",
    "named_also": "It was also named by its {scheme} {value}.",
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
    "review": "The answer waits for a rights holder's review.",
    "no_match": "Nothing registered matched your item, so no rights holder's consent applies "
    "to it.",
    "error": "Your item could not be decided: {reason}.",
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
    "named_also": "Votre élément désigne aussi cette œuvre par son {scheme} {value}.",
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
    "review": "La réponse attend l’examen d’un titulaire de droits.",
    "no_match": f"Aucune œuvre enregistrée ne correspond à votre élément{_NB}: aucun "
    "consentement de titulaire de droits ne s’y applique.",
    "error": f"Votre élément n’a pas pu être décidé{_NB}: {{reason}}.",
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


class _Phrases:
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


def _where(p: _Phrases, territories: Sequence[str], evaluated: Sequence[str]) -> str:
    """Where an answer holds, when it does not hold everywhere that was evaluated."""
    if set(territories) >= set(evaluated):
        return ""
    if ELSEWHERE in territories:
        others = [t for t in evaluated if t not in territories and t != ELSEWHERE]
        return p("outside_one" if len(others) == 1 else "outside_many", codes=p.join(others))
    named = list(territories)
    return p("in_one" if len(named) == 1 else "in_many", codes=p.join(named))


def _moment(p: _Phrases, value: str) -> str:
    """A trace's time (RFC 3339, UTC) as people read it: the day alone at midnight."""
    day, _, time = value.partition("T")
    time = time.rstrip("Z").split(".")[0]
    if time in ("", "00:00:00"):
        return day
    return p("period.time", day=day, time=time.removesuffix(":00"))


def _span(p: _Phrases, period: Mapping[str, Any]) -> str:
    """``from <start> to <end>`` (or ``from <start> on``) in ``p``'s language."""
    start = _moment(p, str(period["start"]))
    if period.get("end") is None:
        return p("period.open", start=start)
    return p("period.span", start=start, end=_moment(p, str(period["end"])))


def _when(p: _Phrases, entry: Mapping[str, Any], work: Mapping[str, Any]) -> str:
    """When a right's answer holds, when it does not hold for the whole period asked about."""
    parts = work.get("periods") or []
    period = entry.get("period")
    if not period or not parts:
        return ""
    if (period["start"], period["end"]) == (parts[0]["start"], parts[-1]["end"]):
        return ""
    return f"{_span(p, period)}, "


def _identification(p: _Phrases, work: Mapping[str, Any]) -> list[str]:
    title = p.quote(str(work.get("title") or work.get("work")))
    sentences = []
    for m in work.get("matches", []):
        score, threshold = p.number(m["score"]), p.number(m["threshold"])
        key = "match" if m["score"] >= m["threshold"] else "near"
        sentences.append(p(key, title=title, space=m["space"], score=score, threshold=threshold))
    if work.get("identified_by"):
        scheme, value = p.identifier(str(work["identified_by"]))
        key = "named_also" if sentences else "named"
        sentences.append(p(key, title=title, scheme=scheme, value=value))
    return sentences


def _needs(p: _Phrases, use: str, rights: Sequence[str], version: object) -> str:
    if not rights:
        return p("needs_none", use=p.use(use), version=version)
    if len(rights) == 1:
        return p("needs_one", use=p.use(use), right=p.right_of(rights[0]))
    return p("needs_many", use=p.use(use), rights=p.join([p.right(r) for r in rights]))


def _holder(p: _Phrases, right: str, h: Mapping[str, Any], names: Mapping[str, str]) -> str:
    party = str(h.get("party", ""))
    name = h.get("name") or names.get(party) or party
    if h.get("share") is not None:
        detail = f"{p.right(right)}, {p.percent(str(h['share']))}"
    elif h.get("credited") or "share" in h:
        detail = p("credited", right=p.right(right))
    else:  # the reader may not see the share (governance.disclosure)
        detail = p.right(right)
    rule = h.get("rule")
    values: dict[str, object] = {
        "who": f"{name} ({detail})",
        "poss": p("poss_artist" if h.get("kind") == "artist" else "poss_other"),
        "answer": h.get("answer"),
        "rule": "" if not rule else p("rule", id=_short(str(rule["id"])), version=rule["version"]),
    }
    similarity = h.get("similarity")
    if similarity:
        values |= {
            "limit": p.number(similarity["max_similarity"]),
            "score": p.number(similarity["score"]),
            "space": similarity["space"],
        }
    code = str(h.get("code"))
    needs_rule = code in ("consent.allowed", "consent.conditional", "consent.denied_by_rule")
    if (
        code not in p.words
        or (needs_rule and not rule)
        or (code.endswith("exceeded") and not similarity)
    ):
        code = "holder"
    return p(code, **values)


def _short(rule_id: str) -> str:
    """A UUID's first eight digits, as people quote commit hashes; the trace has it whole."""
    return rule_id if len(rule_id) <= 12 else f"{rule_id[:8]}…"


def _conclusion(p: _Phrases, outcome: str, obligations: Mapping[str, Any]) -> str:
    if outcome != "conditional":
        return p(outcome) if outcome in ("allow", "deny", "review") else ""
    items = []
    if attribution := str(obligations.get("attribution") or "").splitlines():
        items.append(p("credit", texts=p.join([p.quote(t) for t in attribution])))
    if obligations.get("ai_disclosure"):
        items.append(p("disclose"))
    if obligations.get("max_similarity") is not None:
        items.append(p("similarity", limit=p.number(obligations["max_similarity"])))
    if refs := str(obligations.get("compensation_ref") or "").splitlines():
        items.append(p("compensation", refs=p.join(refs)))
    return p("conditional", items=p("separator").join(items))


def explain(
    trace: Mapping[str, Any], *, language: str = "en", party_names: Mapping[str, str] = _NO_NAMES
) -> list[dict[str, Any]]:
    """Word an item's ``trace`` (or one work's) as sentences per work, in ``language``.

    Parties are named as the trace names them, else by ``party_names``, else by their id.
    Raises :class:`ValueError` for a language other than :data:`SUPPORTED_LANGUAGES`.
    """
    p = _Phrases(language)
    works = trace.get("works", [trace])
    if not works:
        outcome = str(trace.get("outcome") or "no_match")
        sentence = (
            p("no_match") if outcome == "no_match" else p("error", reason=trace.get("reason"))
        )
        return [{"work": None, "title": None, "outcome": outcome, "sentences": [sentence]}]
    explained = []
    for work in works:
        sentences = _identification(p, work)
        if trace.get("use"):
            version = trace.get("matrix_version")
            sentences.append(_needs(p, str(trace["use"]), work.get("required_rights", []), version))
        evaluated = work.get("territories", [])
        for entry in work.get("rights", []):
            where = _where(p, entry.get("territories", []), evaluated)
            if when := _when(p, entry, work):  # a period's part: "In FR, from ... to ..., "
                where = where + when if where else when[:1].upper() + when[1:]
            if not entry.get("holders"):
                sentence = where + p("rights.unknown", right=p.right_of(entry["right"]))
                sentences.append(sentence[:1].upper() + sentence[1:])
            for holder in entry.get("holders", []):
                sentences.append(where + _holder(p, entry["right"], holder, party_names))
        if work.get("code") == "consent.period_not_covered" and work.get("uncovered"):
            spans = p.join([_span(p, u) for u in work["uncovered"]])
            sentences.append(p("consent.period_not_covered", parts=spans))
        if conclusion := _conclusion(p, work["outcome"], work.get("obligations", {})):
            sentences.append(conclusion)
        title = work.get("title")
        explained.append(
            {
                "work": work["work"],
                "title": title,
                "outcome": work["outcome"],
                "sentences": sentences,
            }
        )
    return explained
