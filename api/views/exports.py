"""Consent exported in public vocabularies (docs/vocabulary.md): an ODRL 2.2 JSON-LD policy, the
CAWG training-and-mining assertion, or C2PA 1.x's ``c2pa.training-mining`` for older readers.

A party's export is its own rules (the party itself, or an auditor); a work's export is the
rules of the parties that hold its rights and of its credited artists (for those who registered
or hold a share of it, and auditors). A holder or the registrant sees its own rules in full and
only the outcome of the others' (``governance.disclosure``); an auditor sees them all.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import actor_of
from api.views.consent import AT, at_param
from governance import disclosure, selectors, vocabulary
from governance.exceptions import InvalidInput, NotFound
from governance.models import ConsentRuleVersion, Party

FORMATS = ("odrl", "cawg", "c2pa")
FORMAT = OpenApiParameter("vocabulary", str, enum=FORMATS, description="Default: odrl.")


def _format(request: Request) -> str:
    # Not "format": DRF reads that one to choose a renderer.
    fmt = request.query_params.get("vocabulary", "odrl")
    if fmt not in FORMATS:
        raise InvalidInput(f"vocabulary: {fmt!r} is not one of {', '.join(FORMATS)}.",
                           fields={"vocabulary": [f"must be one of {list(FORMATS)}"]})  # fmt: skip
    return fmt


def _render(
    fmt: str, *, uid: str, assigner: Party, versions: list[ConsentRuleVersion], target: str | None,
    request: Request, holders: list[Party] | None = None,
    hidden: frozenset[str] = frozenset(),
) -> dict[str, Any]:  # fmt: skip
    """The export; the rules of the parties in ``hidden`` appear only as their outcome
    (``governance.disclosure``): in ODRL as ``cs:otherHolders``, each with the outcome of its
    training-and-mining answer; in CAWG/C2PA combined into the answer without their conditions."""
    at = at_param(request) or timezone.now()
    rules = [selectors.rule_content(v, owner_id=v.rule.owner_id) for v in versions]
    shown = [r for r in rules if r.owner_id not in hidden]
    named = {r.owner_id for r in rules} | {str(assigner.pk)} | set(hidden)
    named |= {p for r in shown for p in r.licensees}
    parties = {str(p.pk): p for p in Party.objects.filter(pk__in=named)}
    names = {pk: p.name for pk, p in parties.items()}
    make = vocabulary.cawg_training_mining if fmt != "c2pa" else vocabulary.c2pa_training_mining

    def answer(party: Party) -> dict[str, Any]:
        own = [r for r in rules if r.owner_id == str(party.pk)]
        assertion = make(rules=own, at=at, default_posture=party.default_posture,
                         party_names=names)  # fmt: skip
        return disclosure.outcome_only(assertion) if str(party.pk) in hidden else assertion

    if fmt == "odrl":
        body = vocabulary.odrl_policy(
            uid=uid, assigner=str(assigner.pk), rules=shown, target=target, at=at,
            party_names=names,
        )  # fmt: skip
        if hidden:
            body["cs:otherHolders"] = [
                {"@type": "Party", "uid": f"urn:uuid:{pk}", "vcard:fn": names.get(pk, ""),
                 "cs:outcome": answer(parties[pk])}
                for pk in sorted(hidden) if pk in parties
            ]  # fmt: skip
        return body
    if holders is None:
        return make(rules=rules, at=at, default_posture=assigner.default_posture,
                    party_names=names)  # fmt: skip
    # A work's holders each answer with their own rules and posture; the strictest wins.
    return vocabulary.combine_training_mining([answer(h) for h in holders])


class PartyConsentExportView(APIView):
    @extend_schema(tags=["consent"], operation_id="party_consent_export",
                   parameters=[FORMAT, AT], responses=OpenApiTypes.OBJECT)  # fmt: skip
    def get(self, request: Request, party_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        party = selectors.party_get(actor=actor, party_id=party_id)
        at = at_param(request) or timezone.now()
        versions = list(selectors.rule_versions_of_party(party=party, at=at).select_related("rule"))
        body = _render(_format(request), uid=f"urn:consentry:party:{party.pk}:consent",
                       assigner=party, versions=versions, target=None, request=request)  # fmt: skip
        return Response(body)


class WorkConsentExportView(APIView):
    @extend_schema(tags=["consent"], operation_id="work_consent_export",
                   parameters=[FORMAT, AT], responses=OpenApiTypes.OBJECT)  # fmt: skip
    def get(self, request: Request, work_id: uuid.UUID) -> Response:
        actor = actor_of(request)
        work = selectors.work_get(actor=actor, work_id=work_id)
        if (
            not actor.is_auditor
            and not selectors.share_list(actor=actor).filter(work=work).exists()
            and work.registrant_id != actor.party.pk
        ):
            raise NotFound("No work consent you may see.")
        at = at_param(request) or timezone.now()
        versions = selectors.work_rule_versions(work=work, at=at)
        target = f"urn:isrc:{work.isrc}" if work.isrc else (
            f"urn:iswc:{work.iswc}" if work.iswc else f"urn:consentry:work:{work.pk}")  # fmt: skip
        # CAWG/C2PA summarise the rights holders' answers (each with its own posture); an
        # artist's likeness rules appear in the ODRL policy (see docs/vocabulary.md).
        holders = list(Party.objects.filter(
            pk__in=work.shares.values_list("holder_id", flat=True)).order_by("pk"))  # fmt: skip
        # A holder sees its own rules; of the other holders' (and credited artists'), only
        # the outcome. An auditor sees them all.
        viewer = actor.viewer
        owners = {str(h.pk) for h in holders} | {str(v.rule.owner_id) for v in versions}
        hidden = frozenset(
            () if viewer.sees_everything() else (o for o in owners if not viewer.owns(o))
        )
        body = _render(_format(request), uid=f"urn:consentry:work:{work.pk}:consent",
                       assigner=work.registrant, versions=versions, target=target,
                       request=request, holders=holders, hidden=hidden)  # fmt: skip
        return Response(body)
