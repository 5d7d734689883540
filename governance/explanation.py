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
    "no_match": "Consentry has no registered work matching this item; this is not a licence.",
    "error": "Your item could not be decided: {reason}.",
    "error.item.unresolved": "Your item could not be decided: {reason}.",
    "error.item.failed": "Your item could not be decided: {reason}.",
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
    "no_match": f"Consentry n’a aucune œuvre enregistrée qui corresponde à cet élément{_NB}; "
    "ceci n’est pas une licence.",
    "error": "Votre élément n’a pas pu être décidé.",
    "error.item.unresolved": f"Votre élément n’a pas pu être décidé{_NB}: il ne désigne aucune "
    "œuvre enregistrée.",
    "error.item.failed": f"Votre élément n’a pas pu être décidé{_NB}: le traitement a échoué, "
    "et l’opérateur en a le détail.",
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


def _name(h: Mapping[str, Any], names: Mapping[str, str]) -> str:
    party = str(h.get("party", ""))
    return str(h.get("name") or names.get(party) or party)


def _holder(
    p: _Phrases, right: str, h: Mapping[str, Any], names: Mapping[str, str], settled: bool = False
) -> str:
    """The sentence of one holder's answer; ``settled``: a review it has since answered."""
    name = _name(h, names)
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
    if code == "consent.review" and settled:
        code = "consent.reviewed"
    needs_rule = code in (
        "consent.allowed", "consent.conditional", "consent.denied_by_rule", "consent.reviewed"
    )  # fmt: skip
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


def _answers(settlement: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """A settlement's review answers (``governance.services.reviews.settlement_json``) by party."""
    if not settlement:
        return {}
    return {str(r["party"]): r for r in settlement.get("reviews", []) if r.get("status")}


def _settled_outcome(work: Mapping[str, Any], answers: Mapping[str, Mapping[str, Any]]) -> str:
    """A work that waited for review, once its reviewers answered: any deny denies."""
    reviewers = [
        str(h.get("party"))
        for entry in work.get("rights", [])
        for h in entry.get("holders", [])
        if h.get("answer") == "review"
    ]
    if not reviewers or any(r not in answers for r in reviewers):
        return str(work["outcome"])
    if any(answers[r]["status"] == "denied" for r in reviewers):
        return "deny"
    obligations = work.get("obligations") or {}
    return (
        "conditional" if any(v not in ("", False, None) for v in obligations.values()) else "allow"
    )


def _settled_sentence(p: _Phrases, answer: Mapping[str, Any], name: str) -> str:
    key = "settled.denied" if answer["status"] == "denied" else "settled.approved"
    return p(key, who=name, reason=p.quote(str(answer.get("reason") or "")))


def _unmatched(p: _Phrases, trace: Mapping[str, Any]) -> str:
    outcome = str(trace.get("outcome") or "no_match")
    if outcome == "no_match":
        return p("no_match")
    key = f"error.{trace.get('code')}"
    # A French reader gets the code's French sentence: the stored reason is English.
    return p(key if key in p.words else "error", reason=trace.get("reason"))


def explain(
    trace: Mapping[str, Any],
    *,
    language: str = "en",
    party_names: Mapping[str, str] = _NO_NAMES,
    settlement: Mapping[str, Any] | None = None,
    notes: Mapping[tuple[str, int], str] = MappingProxyType({}),
) -> list[dict[str, Any]]:
    """Word an item's ``trace`` (or one work's) as sentences per work, in ``language``.

    Parties are named as the trace names them, else by ``party_names``, else by their id.
    ``settlement`` (a settled review, as ``governance.services.reviews.settlement_json``
    renders it) says who answered the review and why, and the works that waited take the
    settled outcome. ``notes`` are the deciding rule versions' notes for licensees, by
    ``(rule id, version)``: the caller passes only those its reader may see.
    Raises :class:`ValueError` for a language other than :data:`SUPPORTED_LANGUAGES`.
    """
    p = _Phrases(language)
    works = trace.get("works", [trace])
    if not works:
        outcome = str(trace.get("outcome") or "no_match")
        return [
            {"work": None, "title": None, "outcome": outcome, "sentences": [_unmatched(p, trace)]}
        ]
    answers = _answers(settlement)
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
                party = str(holder.get("party"))
                settled = holder.get("answer") == "review" and party in answers
                sentences.append(where + _holder(p, entry["right"], holder, party_names, settled))
                if settled:
                    name = _name(holder, party_names)
                    sentences.append(_settled_sentence(p, answers[party], name))
                rule = holder.get("rule")
                note = notes.get((str(rule["id"]), int(rule["version"]))) if rule else None
                if note:
                    name = _name(holder, party_names)
                    sentences.append(p("note", name=name, note=p.quote(note)))
        if work.get("code") == "consent.period_not_covered" and work.get("uncovered"):
            spans = p.join([_span(p, u) for u in work["uncovered"]])
            sentences.append(p("consent.period_not_covered", parts=spans))
        outcome = _settled_outcome(work, answers) if answers else str(work["outcome"])
        if conclusion := _conclusion(p, outcome, work.get("obligations", {})):
            sentences.append(conclusion)
        title = work.get("title")
        explained.append(
            {"work": work["work"], "title": title, "outcome": outcome, "sentences": sentences}
        )
    return explained


def summary(
    trace: Mapping[str, Any],
    *,
    language: str = "en",
    party_names: Mapping[str, str] = _NO_NAMES,
    settlement: Mapping[str, Any] | None = None,
) -> str:
    """One sentence that says why the item was answered as it was, in ``language``: who
    settled a review and why; else the deciding holder's answer for a deny or a review; else
    who allowed it (saying so when a holder's default, not a rule, did); else why nothing
    applied (``no_match`` is not a licence)."""
    p = _Phrases(language)
    works = list(trace.get("works", [trace]))
    if not works:
        return _unmatched(p, trace)
    answers = _answers(settlement)
    if settlement and answers:
        deciding = [a for a in answers.values() if a["status"] == "denied"][:1]
        if str(settlement.get("outcome")) != "deny":
            deciding = [a for a in answers.values() if a["status"] == "approved"]
        names = dict(party_names) | {str(a["party"]): str(a.get("name") or "") for a in deciding}
        return " ".join(
            _settled_sentence(p, a, names.get(str(a["party"])) or str(a["party"])) for a in deciding
        )
    outcome = str(trace.get("outcome") or works[0].get("outcome"))
    if outcome in ("deny", "review"):
        return _deciding_sentence(p, works, outcome, party_names)
    if str(trace.get("code")) == "consent.no_rights_required" or not any(
        w.get("rights") for w in works
    ):
        return _needs(p, str(trace.get("use") or ""), [], trace.get("matrix_version"))
    holders = [h for w in works for entry in w.get("rights", []) for h in entry.get("holders", [])]
    by_default = sorted(
        {_name(h, party_names) for h in holders if h.get("code") == "consent.opt_out_default"}
    )
    if by_default and all(h.get("code") == "consent.opt_out_default" for h in holders):
        key = "summary.default_one" if len(by_default) == 1 else "summary.default_many"
        return p(key, names=p.join(by_default))
    if by_default:
        return p("summary.some_default", names=p.join(by_default))
    return p("summary.conditional" if outcome == "conditional" else "summary.allowed")


def _deciding_sentence(
    p: _Phrases, works: Sequence[Mapping[str, Any]], outcome: str, names: Mapping[str, str]
) -> str:
    """The answer that decided a deny or a review: the first deciding work's deciding
    territory, the first right (matrix order) and holder (id order) that answered so."""
    work = next((w for w in works if w.get("outcome") == outcome), works[0])
    territory = work.get("territory")
    sentence = p(outcome)
    for entry in work.get("rights", []):
        here = territory is None or territory in entry.get("territories", [territory])
        if not here or entry.get("answer") != outcome:
            continue
        holders = [h for h in entry.get("holders", []) if h.get("answer") == outcome]
        if holders:
            sentence = _holder(p, entry["right"], holders[0], names)
        else:
            text = p("rights.unknown", right=p.right_of(entry["right"]))
            sentence = text[:1].upper() + text[1:]
        break
    if len(works) > 1:
        title = p.quote(str(work.get("title") or work.get("work")))
        return p("summary.titled", title=title, sentence=sentence)
    return sentence
