"""Consent exported into public vocabularies: an ODRL 2.2 policy, and the CAWG
``cawg.training-mining`` assertion (with C2PA 1.x's older ``c2pa.training-mining`` form), plus
the use mapping to RSL 1.0, W3C TDMRep and IETF AIPREF. ``docs/vocabulary.md`` gives the
sources, the reasons for each mapping and what every export loses.

Pure: no Django. Functions take rule versions (:class:`~governance.terms.RuleContent`) and the
moment ``at`` to read them at; a version counts only if ``window_start <= at < window_end``.

ODRL (abridged; one rule per use, since an ODRL rule has exactly one action)::

    {"@context": ["http://www.w3.org/ns/odrl.jsonld", {"cs": "https://consentry.dev/odrl/terms#"}],
     "@type": "Set", "uid": "...", "profile": "https://consentry.dev/odrl/profile",
     "conflict": "prohibit", "assigner": {"@type": "Party", "uid": "urn:uuid:..."},
     "permission": [{"target": "...",
         "action": [{"rdf:value": {"@id": "odrl:reproduce"}, "refinement": [{
             "leftOperand": "purpose", "operator": "eq",
             "rightOperand": {"@id": "https://consentry.dev/odrl/use#train"}}]}],
         "constraint": [{"leftOperand": "recipient", "operator": "isAnyOf", "rightOperand": [...]}],
         "duty": [{"action": "attribute", "cs:attributionText": "..."}]}],
     "prohibition": [...]}

CAWG training-and-mining (the C2PA 1.x form has ``c2pa.`` keys)::

    {"entries": {"cawg.ai_generative_training": {"use": "constrained", "constraint_info": "..."},
                 "cawg.ai_inference": {"use": "notAllowed"}, ...}}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from governance.terms import EFFECTS, POSTURES, USES, RuleContent

ODRL_CONTEXT: Final = "http://www.w3.org/ns/odrl.jsonld"
PROFILE: Final = "https://consentry.dev/odrl/profile"
TERMS_NS: Final = "https://consentry.dev/odrl/terms#"
USE_NS: Final = "https://consentry.dev/odrl/use#"
PURPOSE_NS: Final = "https://consentry.dev/odrl/purpose#"
CAWG_LABEL: Final = "cawg.training-mining"
C2PA_LABEL: Final = "c2pa.training-mining"
CATEGORIES: Final = ("ai_generative_training", "ai_inference", "ai_training", "data_mining")
"""The four pre-defined training-and-mining entries, without their ``cawg.``/``c2pa.`` prefix."""

ALLOWED: Final = "allowed"
CONSTRAINED: Final = "constrained"
NOT_ALLOWED: Final = "notAllowed"

_CONTEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "cs": TERMS_NS,
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "vcard": "http://www.w3.org/2006/vcard/ns#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
    }
)
_NO_NAMES: Final[Mapping[str, str]] = MappingProxyType({})
_LIST_AT_MOST: Final = 3  # names or codes spelled out in a constraint_info sentence


@dataclass(frozen=True, slots=True)
class UseMapping:
    """One Consentry use in the public vocabularies.

    ``training_mining`` lists the training-and-mining categories the use *is*: refusing it
    refuses the category. ``narrows`` lists categories the use only narrows: refusing it leaves
    the category ``constrained`` ("training allowed, but no voice cloning"). An empty tuple
    means the vocabulary has no term for the use.
    """

    use: str
    label: str
    """How a ``constraint_info`` sentence names the use."""
    odrl_action: str
    """An ODRL 2.2 common-vocabulary action, refined by :attr:`odrl_purpose`."""
    training_mining: tuple[str, ...] = ()
    narrows: tuple[str, ...] = ()
    rsl: tuple[str, ...] = ()
    tdmrep: tuple[str, ...] = ()
    aipref: tuple[str, ...] = ()

    @property
    def odrl_purpose(self) -> str:
        return USE_NS + self.use

    @property
    def cawg(self) -> tuple[str, ...]:
        return tuple(f"cawg.{c}" for c in self.training_mining)

    @property
    def c2pa(self) -> tuple[str, ...]:
        return tuple(f"c2pa.{c}" for c in self.training_mining)


_GENERATIVE: Final = ("ai_generative_training", "ai_inference")

USE_MAPPING: Final[Mapping[str, UseMapping]] = MappingProxyType({
    m.use: m
    for m in (
        UseMapping("train", "training", "reproduce",
                   training_mining=("ai_generative_training", "ai_training"),
                   rsl=("ai-train",), tdmrep=("tdm:mine",), aipref=("train-ai",)),
        UseMapping("reference", "reference use", "use", training_mining=("ai_inference",),
                   rsl=("ai-input", "ai-index"), aipref=("ai-use",)),
        UseMapping("output", "resembling outputs", "distribute", narrows=_GENERATIVE),
        UseMapping("voice", "voice cloning", "derive", narrows=_GENERATIVE),
        UseMapping("style", "style imitation", "derive", narrows=_GENERATIVE),
        UseMapping("lyrics", "lyrics use", "use", narrows=(*_GENERATIVE, "ai_training"),
                   rsl=("ai-train", "ai-input"), tdmrep=("tdm:mine",),
                   aipref=("train-ai", "ai-use")),
        UseMapping("stems", "stem separation", "derive", narrows=("ai_inference",),
                   rsl=("ai-input",)),
        UseMapping("analyze", "analysis", "use", training_mining=("data_mining",),
                   rsl=("ai-index",), tdmrep=("tdm:mine",)),
    )
})  # fmt: skip
"""Each Consentry use (``terms.USES``, same order) and its counterparts; docs/vocabulary.md
says why."""


def rules_in_force(rules: Iterable[RuleContent], *, at: dt.datetime) -> list[RuleContent]:
    """The versions whose window holds ``at`` (end exclusive), ordered by rule id and version.

    Raises ``ValueError`` for a naive ``at`` or a rule using words outside ``terms``.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    kept = []
    for rule in rules:
        if rule.effect not in EFFECTS or not rule.uses <= set(USES):
            raise ValueError(f"rule {rule.rule_id} v{rule.version}: unknown effect or use")
        if (rule.window_start is None or rule.window_start <= at) and (
            rule.window_end is None or at < rule.window_end
        ):
            kept.append(rule)
    return sorted(kept, key=lambda r: (r.rule_id, r.version))


# ---- ODRL 2.2 ------------------------------------------------------------------------------


def odrl_policy(
    *,
    uid: str,
    assigner: str,
    rules: Sequence[RuleContent],
    target: str | None,
    at: dt.datetime,
    party_names: Mapping[str, str] = _NO_NAMES,
) -> dict[str, Any]:
    """An ODRL 2.2 ``Set`` policy (JSON-LD) of ``assigner``'s rules in force at ``at``.

    ``target`` is the IRI of the one asset the rules are about (a work's export; the caller
    picks the rules that cover it); ``None`` exports a party's rules, each targeting the
    collection its scope names. Deny rules become prohibitions, the rest permissions; a
    ``review`` rule is a permission with an ``obtainConsent`` duty. ``conflict: prohibit`` is
    ODRL's name for deny-overrides.
    """
    permission: list[dict[str, Any]] = []
    prohibition: list[dict[str, Any]] = []
    for rule in rules_in_force(rules, at=at):
        for use in (u for u in USES if u in rule.uses):
            body = _odrl_rule(rule, use, target, party_names)
            (prohibition if rule.effect == "deny" else permission).append(body)
    return {
        "@context": [ODRL_CONTEXT, dict(_CONTEXT)],
        "@type": "Set",
        "uid": uid,
        "profile": PROFILE,
        "conflict": "prohibit",
        "assigner": _party(assigner, party_names),
        "cs:inForceAt": _datetime(at),
        "permission": permission,
        "prohibition": prohibition,
    }


def _odrl_rule(
    rule: RuleContent, use: str, target: str | None, names: Mapping[str, str]
) -> dict[str, Any]:
    mapping = USE_MAPPING[use]
    refinement = _constraint("purpose", "eq", _id(mapping.odrl_purpose))
    body: dict[str, Any] = {
        "target": target if target is not None else _scope_target(rule),
        "action": [{"rdf:value": _id(f"odrl:{mapping.odrl_action}"), "refinement": [refinement]}],
    }
    if constraints := _constraints(rule, names):
        body["constraint"] = constraints
    if rule.effect != "deny" and (duties := _duties(rule)):
        body["duty"] = duties
    body["cs:rule"] = rule.rule_id
    body["cs:ruleVersion"] = rule.version
    return body


def _scope_target(rule: RuleContent) -> dict[str, Any]:
    """The assets a party-wide rule covers, described with profile terms."""
    node: dict[str, Any] = {
        "@type": "Asset" if rule.scope == "likeness" else "AssetCollection",
        "cs:scope": rule.scope,
        "cs:owner": _id(_iri(rule.owner_id)),
    }
    if rule.scope == "works":
        node["cs:work"] = [_id(w) for w in sorted(_iri(w) for w in rule.scope_works)]
    if rule.scope == "artist_works" and rule.scope_artist_id is not None:
        node["cs:artist"] = _id(_iri(rule.scope_artist_id))
    return node


def _constraints(rule: RuleContent, names: Mapping[str, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if rule.licensee_mode == "listed" or (rule.licensee_mode == "except" and rule.licensees):
        operator = "isAnyOf" if rule.licensee_mode == "listed" else "isNoneOf"
        parties = [_party(p, names) for p in sorted(rule.licensees, key=_iri)]
        out.append(_constraint("recipient", operator, parties))
    if rule.territory_mode == "include" or (rule.territory_mode == "exclude" and rule.territories):
        operator = "isAnyOf" if rule.territory_mode == "include" else "isNoneOf"
        out.append(_constraint("spatial", operator, sorted(rule.territories)))
    if rule.window_start is not None:
        out.append(_constraint("dateTime", "gteq", _datetime(rule.window_start)))
    if rule.window_end is not None:
        out.append(_constraint("dateTime", "lt", _datetime(rule.window_end)))
    if rule.commercial != "both":
        purpose = "commercial" if rule.commercial == "commercial" else "non-commercial"
        out.append(_constraint("purpose", "isA", _id(PURPOSE_NS + purpose)))
    if rule.effect != "deny" and rule.obligations.max_similarity is not None:
        out.append(_constraint("cs:outputSimilarity", "lteq", rule.obligations.max_similarity))
    return out


def _duties(rule: RuleContent) -> list[dict[str, Any]]:
    duties: list[dict[str, Any]] = []
    if rule.effect == "review":
        duties.append({"action": "obtainConsent"})
    obligations = rule.obligations
    if obligations.attribution:
        duties.append({"action": "attribute", "cs:attributionText": obligations.attribution})
    if obligations.compensation_ref:
        duties.append({"action": "compensate", "cs:compensationRef": obligations.compensation_ref})
    if obligations.ai_disclosure:
        duties.append({"action": "cs:discloseAI"})
    return duties


def _constraint(left: str, operator: str, right: object) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


def _party(party_id: str, names: Mapping[str, str]) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": "Party", "uid": _iri(party_id)}
    if party_id in names:
        node["vcard:fn"] = names[party_id]
    return node


def _iri(value: str) -> str:
    """Party and work ids are UUIDs; anything with a scheme is taken as an IRI already."""
    return value if ":" in value else f"urn:uuid:{value}"


def _id(iri: str) -> dict[str, str]:
    return {"@id": iri}


def _datetime(moment: dt.datetime) -> dict[str, str]:
    text = moment.astimezone(dt.UTC).isoformat() if moment.tzinfo else moment.isoformat()
    return {"@value": text.replace("+00:00", "Z"), "@type": "xsd:dateTime"}


# ---- CAWG / C2PA training-and-mining -------------------------------------------------------


def cawg_training_mining(
    *,
    rules: Sequence[RuleContent],
    at: dt.datetime,
    default_posture: str,
    party_names: Mapping[str, str] = _NO_NAMES,
) -> dict[str, Any]:
    """The ``cawg.training-mining`` assertion's data for rules in force at ``at``.

    Each entry is ``allowed`` when every use mapped to it is allowed to anyone, anywhere, with
    no condition; ``notAllowed`` when a use the entry consists of is refused to everyone (deny
    overrides), or nobody consented under ``opt_in``; ``constrained`` otherwise, with one
    sentence of conditions in ``constraint_info``. ``rules`` are those covering the asset.
    """
    return {"entries": _entries("cawg", rules, at, default_posture, party_names)}


def c2pa_training_mining(
    *,
    rules: Sequence[RuleContent],
    at: dt.datetime,
    default_posture: str,
    party_names: Mapping[str, str] = _NO_NAMES,
) -> dict[str, Any]:
    """The same answer in C2PA 1.x's ``c2pa.training-mining`` form, for readers that predate
    CAWG (C2PA 2.0 dropped the assertion, and CAWG's replaced it)."""
    return {"entries": _entries("c2pa", rules, at, default_posture, party_names)}


@dataclass(frozen=True, slots=True)
class _Answer:
    state: str
    clauses: tuple[str, ...] = ()


def _entries(
    prefix: str,
    rules: Sequence[RuleContent],
    at: dt.datetime,
    posture: str,
    names: Mapping[str, str],
) -> dict[str, dict[str, str]]:
    if posture not in POSTURES:
        raise ValueError(f"default_posture must be one of {POSTURES}, not {posture!r}")
    current = rules_in_force(rules, at=at)
    answers = {use: _use_answer(use, current, posture, names) for use in USES}
    entries: dict[str, dict[str, str]] = {}
    for category in CATEGORIES:
        core = [u for u in USES if category in USE_MAPPING[u].training_mining]
        narrowing = [u for u in USES if category in USE_MAPPING[u].narrows]
        if any(answers[u].state == NOT_ALLOWED for u in core):
            entries[f"{prefix}.{category}"] = {"use": NOT_ALLOWED}
        elif all(answers[u].state == ALLOWED for u in core + narrowing):
            entries[f"{prefix}.{category}"] = {"use": ALLOWED}
        else:
            clauses: list[str] = []
            for use in core + narrowing:
                answer = answers[use]
                if answer.state == NOT_ALLOWED:
                    clauses.append(f"no {USE_MAPPING[use].label}")
                clauses.extend(answer.clauses)
            info = _sentence(clauses)
            entries[f"{prefix}.{category}"] = {"use": CONSTRAINED, "constraint_info": info}
    return entries


def _use_answer(
    use: str, rules: Sequence[RuleContent], posture: str, names: Mapping[str, str]
) -> _Answer:
    """How far ``use`` is open to every licensee, by the evaluator's deny-overrides order."""
    label = USE_MAPPING[use].label
    matching = [r for r in rules if use in r.uses]
    denies = [r for r in matching if r.effect == "deny"]
    grants = [r for r in matching if r.effect != "deny"]
    if any(_everyone(r) for r in denies):
        return _Answer(NOT_ALLOWED)
    refusals = tuple(" ".join(["no", label, *_scope_words(r, names, grant=False)]) for r in denies)
    if not grants:
        if posture == "opt_in":
            return _Answer(NOT_ALLOWED)
        return _Answer(CONSTRAINED, refusals) if refusals else _Answer(ALLOWED)
    plain = all(r.effect != "review" and r.obligations.is_empty() for r in grants)
    open_to_all = posture == "opt_out" or any(_everyone(r) and r.window_end is None for r in grants)
    if plain and open_to_all and not denies:
        return _Answer(ALLOWED)
    granted = tuple(c for r in grants if (c := _grant_clause(label, r, names)) != label)
    return _Answer(CONSTRAINED, granted + refusals)


def _everyone(rule: RuleContent) -> bool:
    """Whether the rule speaks for every licensee, territory and purpose."""
    return (
        (rule.licensee_mode == "any" or (rule.licensee_mode == "except" and not rule.licensees))
        and (
            rule.territory_mode == "worldwide"
            or (rule.territory_mode == "exclude" and not rule.territories)
        )
        and rule.commercial == "both"
    )


def _grant_clause(label: str, rule: RuleContent, names: Mapping[str, str]) -> str:
    words = [label, *(["on request"] if rule.effect == "review" else [])]
    words += _scope_words(rule, names, grant=True)
    obligations = rule.obligations
    needs = [
        *(["attribution"] if obligations.attribution else []),
        *(
            [f"compensation ({obligations.compensation_ref})"]
            if obligations.compensation_ref
            else []
        ),
        *(["AI-disclosure labels"] if obligations.ai_disclosure else []),
    ]
    if obligations.max_similarity is not None:
        needs.append(f"outputs at most {obligations.max_similarity:g} similar")
    if needs:
        words.append("with " + " and ".join(needs))
    return " ".join(words)


def _scope_words(rule: RuleContent, names: Mapping[str, str], *, grant: bool) -> list[str]:
    only = "only " if grant else ""
    words: list[str] = []
    if rule.licensee_mode == "listed":
        words.append(f"{only}for {_listing(names.get(p, p) for p in rule.licensees)}")
    elif rule.licensee_mode == "except" and rule.licensees:
        words.append(f"except for {_listing(names.get(p, p) for p in rule.licensees)}")
    if rule.territory_mode == "include":
        words.append(f"{only}in {_listing(rule.territories)}")
    elif rule.territory_mode == "exclude" and rule.territories:
        words.append(f"outside {_listing(rule.territories)}")
    if rule.commercial != "both":
        words.append(f"for {rule.commercial.replace('_', '-')} use{' only' if grant else ''}")
    if rule.window_end is not None:
        words.append(f"until {rule.window_end.date().isoformat()}")
    return words


def _listing(items: Iterable[str]) -> str:
    ordered = sorted(items)
    if len(ordered) > _LIST_AT_MOST:
        return f"{', '.join(ordered[:_LIST_AT_MOST])} and {len(ordered) - _LIST_AT_MOST} more"
    return ", ".join(ordered) if ordered else "nobody"


def _sentence(clauses: Iterable[str]) -> str:
    unique = list(dict.fromkeys(clauses))
    if not unique:
        return "Conditions apply; ask the rights holder."
    text = "; ".join(unique)
    return text[0].upper() + text[1:] + "."


def combine_training_mining(assertions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One training-and-mining assertion for an asset with several rights holders, from each
    holder's own (computed with its rules and posture): per entry the strictest answer wins,
    ``notAllowed`` over ``constrained`` over ``allowed``, and the conditions are joined."""
    order = {ALLOWED: 0, CONSTRAINED: 1, NOT_ALLOWED: 2}
    combined: dict[str, dict[str, Any]] = {}
    for assertion in assertions:
        for key, entry in sorted(assertion["entries"].items()):
            have = combined.get(key)
            if have is None or order[entry["use"]] > order[have["use"]]:
                combined[key] = dict(entry)
            elif entry["use"] == have["use"] == CONSTRAINED:
                infos = [have.get("constraint_info", ""), entry.get("constraint_info", "")]
                combined[key]["constraint_info"] = " ".join(i for i in infos if i)
    return {"entries": combined}
