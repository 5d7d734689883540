"""Reads of the governance domain, filtered to what the acting party may see."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection
from django.db.models import F, Model, Prefetch, Q, QuerySet

from governance.access import Actor
from governance.exceptions import NotFound
from governance.models import (
    ApiToken,
    ConsentMatrixVersion,
    ConsentRule,
    ConsentRuleVersion,
    Decision,
    Dispute,
    ImportJob,
    Likeness,
    Membership,
    Party,
    PartyClaim,
    PartyKind,
    Release,
    ReleaseTrack,
    RequestEvent,
    Review,
    RightsClaim,
    RightsShare,
    UseRequest,
    VoiceEnrolment,
    Work,
    WorkContent,
)
from governance.terms import Obligations, RuleContent

_M = TypeVar("_M", bound=Model)


def _one(queryset: QuerySet[_M], pk: object, message: str) -> _M:
    """The object with primary key ``pk`` among those the actor may see, or ``NotFound``: a
    malformed id, a missing object and a forbidden one all answer the same."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValueError, ValidationError):
        raise NotFound(message) from None


def party_list(*, actor: Actor) -> QuerySet[Party]:
    """Parties the actor may see: its own, or every party for an auditor."""
    if actor.is_auditor:
        return Party.objects.all()
    return Party.objects.filter(pk=actor.party.pk)


def party_get(*, actor: Actor, party_id: uuid.UUID | str) -> Party:
    try:
        return party_list(actor=actor).get(pk=party_id)
    except (Party.DoesNotExist, ValueError):
        raise NotFound("No party with that id.") from None


def api_token_list(*, actor: Actor) -> QuerySet[ApiToken]:
    """The acting party's tokens; only its admins may list them."""
    return ApiToken.objects.filter(party=actor.party).select_related("user").order_by("-created")


def api_token_get(*, actor: Actor, prefix: str) -> ApiToken:
    try:
        return api_token_list(actor=actor).get(prefix=prefix)
    except ApiToken.DoesNotExist:
        raise NotFound("No API token with that id.") from None


def memberships_of(*, user_id: int) -> QuerySet[Membership]:
    return Membership.objects.filter(user_id=user_id).select_related("party")


# --------------------------------------------------------------------------------------------
# Catalog: work metadata is public to every party; shares to those involved and auditors.
# --------------------------------------------------------------------------------------------


def work_list(*, actor: Actor) -> QuerySet[Work]:
    """Every work's public metadata: any party reads the catalog."""
    return Work.objects.select_related("registrant").prefetch_related("credits")


def work_get(*, actor: Actor, work_id: uuid.UUID | str) -> Work:
    return _one(work_list(actor=actor), work_id, "No work with that id.")


def content_list(*, actor: Actor, work: Work) -> QuerySet[WorkContent]:
    """A work's contents (never their bytes), for those who registered it or hold a share of
    it, and auditors; ``NotFound`` for anyone else (as the work's consent export)."""
    if not (
        actor.is_auditor
        or work.registrant_id == actor.party.pk
        or work.shares.filter(holder=actor.party).exists()
    ):
        raise NotFound("No work content you may see.")
    return WorkContent.objects.filter(work=work).order_by("-created_at", "id")


def content_get(*, actor: Actor, work: Work, content_id: uuid.UUID | str) -> WorkContent:
    return _one(content_list(actor=actor, work=work), content_id, "No content with that id.")


def release_list(*, actor: Actor) -> QuerySet[Release]:
    return Release.objects.select_related("registrant").prefetch_related("releasetrack_set")


def release_get(*, actor: Actor, release_id: uuid.UUID | str) -> Release:
    return _one(release_list(actor=actor), release_id, "No release with that id.")


def share_list(*, actor: Actor) -> QuerySet[RightsShare]:
    """Shares the actor may see: an auditor all; a rights holder the shares of the works it
    registered or holds a share of; a licensee none (it reads catalog metadata only)."""
    shares = RightsShare.objects.select_related("holder", "work")
    if actor.is_auditor:
        return shares
    if actor.party.kind == PartyKind.LICENSEE:
        return shares.none()
    involved = RightsShare.objects.filter(holder=actor.party).values("work_id")
    return shares.filter(
        Q(work__registrant=actor.party) | Q(holder=actor.party) | Q(work_id__in=involved)
    )


def share_get(*, actor: Actor, share_id: uuid.UUID | str) -> RightsShare:
    return _one(share_list(actor=actor), share_id, "No rights share with that id.")


def claim_list(*, actor: Actor) -> QuerySet[RightsClaim]:
    """Claims the actor may see: an auditor all; a party those it filed and those on the works
    it registered; a licensee none."""
    claims = RightsClaim.objects.select_related("work", "claimant")
    if actor.is_auditor:
        return claims
    if actor.party.kind == PartyKind.LICENSEE:
        return claims.none()
    return claims.filter(Q(claimant=actor.party) | Q(work__registrant=actor.party))


def claim_get(*, actor: Actor, claim_id: uuid.UUID | str) -> RightsClaim:
    return _one(claim_list(actor=actor), claim_id, "No rights claim with that id.")


def party_claim_list(*, actor: Actor) -> QuerySet[PartyClaim]:
    """Party claims the actor may see: an auditor all; a party those it filed and those on the
    parties its feeds named; a licensee none."""
    claims = PartyClaim.objects.select_related("party", "claimant")
    if actor.is_auditor:
        return claims
    if actor.party.kind == PartyKind.LICENSEE:
        return claims.none()
    return claims.filter(Q(claimant=actor.party) | Q(party__named_by=actor.party))


def party_claim_get(*, actor: Actor, claim_id: uuid.UUID | str) -> PartyClaim:
    return _one(party_claim_list(actor=actor), claim_id, "No party claim with that id.")


def unclaimed_party_get(*, party_id: uuid.UUID | str) -> Party:
    """An unclaimed party by id (their existence is no secret: shares name their holders), for
    a claim; NotFound for any other party."""
    try:
        return Party.objects.get(
            pk=uuid.UUID(str(party_id)), named_by__isnull=False, claimed_by__isnull=True
        )
    except (Party.DoesNotExist, ValueError, ValidationError):
        raise NotFound("No unclaimed party with that id.") from None


def likeness_get(*, actor: Actor, artist_id: uuid.UUID | str) -> Likeness:
    """An artist's likeness: its existence is public catalog data (aliases included)."""
    try:
        return Likeness.objects.select_related("artist").get(artist_id=uuid.UUID(str(artist_id)))
    except (Likeness.DoesNotExist, ValueError, ValidationError):
        raise NotFound("No likeness for that party.") from None


def voice_artist(*, actor: Actor, artist_id: uuid.UUID | str) -> Party:
    """The artist whose voice references the actor may read: its own party if it is an
    artist's, any artist for an auditor; ``NotFound`` otherwise (a label, a licensee, another
    artist: whether an artist registered its voice is the artist's business)."""
    try:
        artist = Party.objects.get(pk=uuid.UUID(str(artist_id)), kind=PartyKind.ARTIST)
    except (Party.DoesNotExist, ValueError, ValidationError):
        raise NotFound("No artist's voice you may see.") from None
    if not (actor.is_auditor or actor.party.pk == artist.pk):
        raise NotFound("No artist's voice you may see.")
    return artist


def voice_enrolment_list(*, actor: Actor, artist: Party) -> QuerySet[VoiceEnrolment]:
    """An artist's voice enrolments (never their audio), for the artist and auditors."""
    artist = voice_artist(actor=actor, artist_id=artist.pk)
    return VoiceEnrolment.objects.filter(artist=artist).order_by("-created_at", "id")


def voice_enrolment_get(
    *, actor: Actor, artist: Party, enrolment_id: uuid.UUID | str
) -> VoiceEnrolment:
    return _one(
        voice_enrolment_list(actor=actor, artist=artist), enrolment_id, "No enrolment with that id."
    )


# --------------------------------------------------------------------------------------------
# Consent: a party's rules are its own; auditors read all.
# --------------------------------------------------------------------------------------------


def rule_list(*, actor: Actor) -> QuerySet[ConsentRule]:
    rules = ConsentRule.objects.select_related("owner")
    if actor.is_auditor:
        return rules
    return rules.filter(owner=actor.party)


def rule_get(*, actor: Actor, rule_id: uuid.UUID | str) -> ConsentRule:
    return _one(rule_list(actor=actor), rule_id, "No consent rule with that id.")


def rule_versions_in_force(
    *, actor: Actor, at: dt.datetime | None = None
) -> QuerySet[ConsentRuleVersion]:
    """The version of each visible rule in force at ``at`` (now if ``None``): recorded by
    then, and not yet replaced or withdrawn."""
    versions = ConsentRuleVersion.objects.filter(rule__in=rule_list(actor=actor))
    if at is None:
        return versions.filter(effective_until__isnull=True)
    return versions.filter(effective_from__lte=at).filter(
        Q(effective_until__isnull=True) | Q(effective_until__gt=at)
    )


def rule_versions_history(*, actor: Actor, limit: int = 200) -> QuerySet[ConsentRuleVersion]:
    """The versions of the actor's own rules, newest first, with their authors: the history
    a party reviews (what changed, who changed it, when)."""
    return (
        ConsentRuleVersion.objects.filter(rule__owner=actor.party)
        .select_related("author", "rule")
        .order_by("-effective_from", "-version")[:limit]
    )


def decisions_about(*, actor: Actor) -> QuerySet[Decision]:
    """The decisions that consulted the actor's party as a holder (its works' rights or an
    artist's likeness), newest first: "who asked" (the same set as the insights count)."""
    return (
        Decision.objects.filter(holders__contains=[actor.party.pk])
        .select_related("request__licensee", "item")
        .order_by("-created_at")
    )


def rule_versions_of_party(*, party: Party, at: dt.datetime) -> QuerySet[ConsentRuleVersion]:
    """A party's rule versions in force at ``at``, for exports and evaluation (no actor:
    callers have checked access to the party)."""
    return ConsentRuleVersion.objects.filter(rule__owner=party, effective_from__lte=at).filter(
        Q(effective_until__isnull=True) | Q(effective_until__gt=at)
    )


def matrix_at(*, at: dt.datetime | None = None) -> ConsentMatrixVersion:
    versions = ConsentMatrixVersion.objects.order_by("-version")
    if at is not None:
        versions = versions.filter(effective_from__lte=at)
    matrix = versions.first()
    if matrix is None:
        raise NotFound("No consent matrix was in force then.")
    return matrix


def import_list(*, actor: Actor) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.defer("data")
    return jobs if actor.is_auditor else jobs.filter(party=actor.party)


def import_get(*, actor: Actor, job_id: uuid.UUID | str) -> ImportJob:
    return _one(import_list(actor=actor), job_id, "No import with that id.")


def rule_content(version: ConsentRuleVersion, *, owner_id: object) -> RuleContent:
    """A stored rule version as the pure modules read it."""
    o = version.obligations or {}
    return RuleContent(
        rule_id=str(version.rule_id), version=version.version, owner_id=str(owner_id),
        scope=version.scope, uses=frozenset(version.uses), effect=version.effect,
        scope_works=frozenset(str(w) for w in version.scope_works),
        scope_artist_id=None if version.scope_artist_id is None else str(version.scope_artist_id),
        licensee_mode=version.licensee_mode,
        licensees=frozenset(str(p) for p in version.licensees),
        territory_mode=version.territory_mode, territories=frozenset(version.territories),
        window_start=version.window_start, window_end=version.window_end,
        commercial=version.commercial,
        obligations=Obligations(
            attribution=o.get("attribution", ""), compensation_ref=o.get("compensation_ref", ""),
            ai_disclosure=bool(o.get("ai_disclosure", False)),
            max_similarity=o.get("max_similarity"),
        ),
        note=version.note, ai_declarations=frozenset(version.ai_declarations),
    )  # fmt: skip


def work_rule_versions(*, work: Work, at: dt.datetime) -> list[ConsentRuleVersion]:
    """Rule versions in force at ``at`` that speak for ``work``: its holders' rules whose scope
    covers it, and the likeness rules of the artists credited on it."""
    holders = set(RightsShare.objects.filter(work=work).values_list("holder_id", flat=True))
    artists = set(
        work.credits.filter(party__isnull=False, role__in=["main_artist", "featured"])
        .values_list("party_id", flat=True)
    )  # fmt: skip
    versions = (
        ConsentRuleVersion.objects.filter(rule__owner__in=holders | artists)
        .filter(effective_from__lte=at)
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=at))
        .select_related("rule")
    )
    out = []
    for v in versions:
        owner = v.rule.owner_id
        covers = (
            (v.scope == "all_works" and owner in holders)
            or (v.scope == "works" and work.pk in v.scope_works and owner in holders)
            or (v.scope == "artist_works" and owner in holders and v.scope_artist_id in artists)
            or (v.scope == "likeness" and owner in artists)
        )
        if covers:
            out.append(v)
    return out


# --------------------------------------------------------------------------------------------
# Requests and decisions: a licensee its own; rights holders the decisions that asked them;
# auditors everything.
# --------------------------------------------------------------------------------------------


def use_request_list(*, actor: Actor) -> QuerySet[UseRequest]:
    requests = UseRequest.objects.all()
    return requests if actor.is_auditor else requests.filter(licensee=actor.party)


def use_request_get(*, actor: Actor, request_id: uuid.UUID | str) -> UseRequest:
    return _one(use_request_list(actor=actor), request_id, "No use request with that id.")


def use_request_decisions(use_request: UseRequest) -> QuerySet[Decision]:
    """The decisions of ``use_request`` in item order, with what rendering them reads (the
    item, and the reviews of a settled one)."""
    return (
        Decision.objects.filter(request=use_request)
        .select_related("item")
        .prefetch_related(Prefetch("reviews", queryset=Review.objects.select_related("party")))
        .annotate(position=F("item__position"))
        .order_by("position")
    )


def use_request_item_rows(use_request: UseRequest) -> QuerySet[Decision]:
    """:func:`use_request_decisions` for the rows the status page and the results render
    (``governance.services.results.item_row``), without the columns they do not read: each
    decision's trace (its largest column) and each item's vectors. A status read of a large
    request renders a page of 1,000 of them."""
    return use_request_decisions(use_request).defer("trace", "item__vectors")


def use_request_withdrawals(use_request: UseRequest) -> list[dict[str, Any]]:
    """The ``consent.withdrawn`` events of ``use_request``, oldest first, as delivered."""
    events = RequestEvent.objects.filter(request=use_request, kind="consent.withdrawn")
    return [dict(e.body) for e in events.order_by("created_at", "id")]


def decision_list(*, actor: Actor) -> QuerySet[Decision]:
    decisions = Decision.objects.select_related("item", "request")
    if actor.is_auditor:
        return decisions
    return decisions.filter(
        Q(request__licensee=actor.party) | Q(holders__contains=[actor.party.pk])
    )


def decision_get(*, actor: Actor, decision_id: uuid.UUID | str) -> Decision:
    return _one(decision_list(actor=actor), decision_id, "No decision with that id.")


def decision_rule_notes(*, actor: Actor, decision: Decision) -> dict[tuple[str, int], str]:
    """The notes for licensees of the rule versions that decided ``decision`` (each holder's
    deciding ``rule`` in its trace), by ``(rule id, version)``, as far as ``actor`` may read
    them: a rule's note is its owner's message to the licensees it concerns, so the decision's
    licensee (for whom the rule matched) reads them, an auditor too, and a rule's owner its
    own; any other holder of the work reads none of another's."""
    pairs = {
        (str(h["rule"]["id"]), int(h["rule"]["version"]))
        for w in (*decision.trace.get("works", []), *decision.trace.get("artists", []))
        for r in w.get("rights", [])
        for h in r.get("holders", [])
        if h.get("rule")
    }
    if not pairs:
        return {}
    is_licensee = decision.request.licensee_id == actor.party.pk
    wanted = Q()
    for rule_id, version in pairs:
        wanted |= Q(rule_id=rule_id, version=version)
    versions = ConsentRuleVersion.objects.filter(wanted).exclude(note="")
    if not (is_licensee or actor.is_auditor):
        versions = versions.filter(rule__owner=actor.party)
    return {(str(v.rule_id), v.version): v.note for v in versions}


def review_list(*, actor: Actor) -> QuerySet[Review]:
    """Reviews waiting for (or decided by) the actor's party."""
    return Review.objects.filter(party=actor.party).select_related("decision", "decision__request")


def review_get(*, actor: Actor, review_id: uuid.UUID | str) -> Review:
    return _one(review_list(actor=actor), review_id, "No review with that id.")


def dispute_list(*, actor: Actor) -> QuerySet[Dispute]:
    """Disputes the actor is party to: as the disputing licensee, or as one of the holders
    whose answer decided the disputed outcome (every dispute for an auditor)."""
    disputes = Dispute.objects.select_related("decision", "decision__request").prefetch_related(
        "answers"
    )
    if actor.is_auditor:
        return disputes
    return disputes.filter(Q(licensee=actor.party) | Q(holders__contains=[actor.party.pk]))


def dispute_get(*, actor: Actor, dispute_id: uuid.UUID | str) -> Dispute:
    return _one(dispute_list(actor=actor), dispute_id, "No dispute with that id.")


def works_by_reference(references: Iterable[str]) -> dict[str, list[str]]:
    """Work ids for item references (``isrc:...``, ``iswc:...``, ``upc:...`` — every track of
    the release, in order — or ``work_id:...``), one query per scheme; unknown ones are absent.
    Catalog metadata is public, so no actor is needed."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for reference in references:
        key, value = reference.split(":", 1)
        wanted[key].add(value)
    found: dict[str, list[str]] = defaultdict(list)
    for key, values in wanted.items():
        pairs: list[tuple[Any, Any]]
        if key == "upc":
            tracks = ReleaseTrack.objects.filter(release__upc__in=values).order_by("position")
            pairs = list(tracks.values_list("release__upc", "work_id"))
        elif key == "work_id":
            ids = [v for v in values if _is_uuid(v)]
            works = Work.objects.filter(pk__in=ids).order_by()
            pairs = [(str(w), w) for w in works.values_list("pk", flat=True)]
        elif key in ("isrc", "iswc"):
            # Every synchronous check by ISRC asks this: one statement written once, not a
            # queryset built each time (the ORM cost more than the query).
            with connection.cursor() as cursor:
                cursor.execute(_works_by_code_sql(key), [sorted(values)])
                pairs = cursor.fetchall()
        else:
            raise ValueError(f"unknown reference scheme {key!r}")
        for value, work_id in pairs:
            found[f"{key}:{value}"].append(str(work_id))
    return dict(found)


@functools.cache
def _works_by_code_sql(column: str) -> str:
    code = next(f.column for f in Work._meta.concrete_fields if f.name == column)
    table, pk = Work._meta.db_table, Work._meta.pk.column
    return (
        f"SELECT {code}, {pk} FROM {table}"  # noqa: S608 - names from the model
        f" WHERE {code} = ANY(%s)"
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
