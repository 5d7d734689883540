"""Consent exported as an ODRL 2.2 policy (JSON-LD): a ``Set`` of one rule per use, since an
ODRL rule has exactly one action, in Consentry's profile (:data:`PROFILE`). Abridged::

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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final

from governance.terms import USES, RuleContent
from governance.vocabulary.mapping import USE_MAPPING, rules_in_force

ODRL_CONTEXT: Final = "http://www.w3.org/ns/odrl.jsonld"
PROFILE: Final = "https://consentry.dev/odrl/profile"
TERMS_NS: Final = "https://consentry.dev/odrl/terms#"
PURPOSE_NS: Final = "https://consentry.dev/odrl/purpose#"

_CONTEXT: Final[Mapping[str, str]] = MappingProxyType(
    {
        "cs": TERMS_NS,
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "vcard": "http://www.w3.org/2006/vcard/ns#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
    }
)
_NO_NAMES: Final[Mapping[str, str]] = MappingProxyType({})


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
    if rule.ai_declarations:  # only the works whose label declared them so
        out.append(_constraint("cs:aiDeclaration", "isAnyOf", sorted(rule.ai_declarations)))
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
