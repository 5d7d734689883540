"""Consent exported as the CAWG ``cawg.training-mining`` assertion, in C2PA 1.x's older
``c2pa.training-mining`` form too, and one assertion combined from several rights holders'::

    {"entries": {"cawg.ai_generative_training": {"use": "constrained", "constraint_info": "..."},
                 "cawg.ai_inference": {"use": "notAllowed"}, ...}}

An entry (one of :data:`~governance.vocabulary.mapping.CATEGORIES`) answers for the uses
:data:`~governance.vocabulary.mapping.USE_MAPPING` maps to it, and ``constraint_info`` says its
conditions in one English sentence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from governance.terms import AI_CONDITIONS, POSTURES, USES, RuleContent
from governance.vocabulary.mapping import CATEGORIES, USE_MAPPING, rules_in_force

CAWG_LABEL: Final = "cawg.training-mining"
C2PA_LABEL: Final = "c2pa.training-mining"

ALLOWED: Final = "allowed"
CONSTRAINED: Final = "constrained"
NOT_ALLOWED: Final = "notAllowed"

_NO_NAMES: Final[Mapping[str, str]] = MappingProxyType({})
_LIST_AT_MOST: Final = 3  # names or codes spelled out in a constraint_info sentence


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
        and not rule.ai_declarations  # (it speaks for some works only)
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
    if rule.ai_declarations:
        kinds = " or ".join(_AI_WORDS[d] for d in AI_CONDITIONS if d in rule.ai_declarations)
        words.append(f"{only}for works {kinds}")
    return words


_AI_WORDS: Final = {
    "generated": "declared AI-generated",
    "assisted": "declared AI-assisted",
    "none": "declared made without AI",
    "undeclared": "without an AI declaration",
}


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
