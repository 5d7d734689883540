"""Insights for rights holders: what was asked of their works and likeness, by whom, how it was
decided, week by week, and how closely submitted content came to their works (DESIGN.md: the
transparency artists were promised). Reads only decisions that consulted the caller's party."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Value
from django.db.models.functions import Coalesce, NullIf, TruncWeek

from governance.access import Actor
from governance.models import Credit, Decision, RightsShare, Work


def insights_for(*, actor: Actor, since: dt.datetime | None = None) -> dict[str, Any]:
    party = actor.party
    decisions = Decision.objects.filter(holders__contains=[party.pk])
    if since is not None:
        decisions = decisions.filter(created_at__gte=since)
    outcome = Coalesce(NullIf("settled_outcome", Value("")), "outcome")
    by_use = decisions.values("request__use").annotate(n=Count("id")).order_by("-n")
    by_licensee = (
        decisions.values("request__licensee_id", "request__licensee__name")
        .annotate(
            n=Count("id"), allowed=Count("id", filter=Q(outcome__in=["allow", "conditional"]))
        )
        .order_by("-n")[:50]
    )
    by_outcome = decisions.annotate(final=outcome).values("final").annotate(n=Count("id"))
    by_week = (
        decisions.annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    mine = set(RightsShare.objects.filter(holder=party).values_list("work_id", flat=True))
    mine |= set(Credit.objects.filter(party=party).values_list("work_id", flat=True))
    ids = [d.hex for d in decisions.values_list("pk", flat=True)[:100_000]]
    top_works: list[dict[str, Any]] = []
    if ids and mine:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT w, count(*) FROM governance_decision, unnest(works) AS w"
                " WHERE id = ANY(%s::uuid[]) AND w = ANY(%s::uuid[])"
                " GROUP BY w ORDER BY count(*) DESC, w LIMIT 10",
                [ids, [str(m) for m in mine]],
            )
            rows = cursor.fetchall()
        titles = dict(Work.objects.filter(pk__in=[w for w, _ in rows]).values_list("pk", "title"))
        top_works = [{"work": str(w), "title": titles.get(w, ""), "requests": n} for w, n in rows]
    closest: list[dict[str, Any]] = []
    likeness: list[dict[str, Any]] = []  # an artist named (or heard) in submitted content
    mine_str = {str(m) for m in mine}
    me = str(party.pk)
    for d in decisions.select_related("request__licensee").order_by("-created_at")[:2000]:
        for a in d.trace.get("artists", []):
            if a.get("artist") == me:
                likeness.extend(
                    {
                        "space": m["space"], "score": m["score"], "threshold": m["threshold"],
                        "label": m.get("label"), "decision": str(d.pk),
                        "licensee": d.request.licensee.name, "use": d.request.use,
                        "outcome": d.final_outcome,
                    }
                    for m in a.get("matches", [])
                )  # fmt: skip
        for w in d.trace.get("works", []):
            if w.get("work") in mine_str:
                for m in w.get("matches", []):
                    closest.append(
                        {
                            "work": w["work"],
                            "title": w.get("title", ""),
                            "space": m["space"],
                            "score": m["score"],
                            "threshold": m["threshold"],
                            "decision": str(d.pk),
                            "licensee": d.request.licensee.name,
                            "use": d.request.use,
                            "outcome": d.final_outcome,
                        }
                    )
    closest.sort(key=lambda c: (-c["score"], c["decision"]))
    likeness.sort(key=lambda c: (-c["score"], c["decision"]))
    return {
        "party": str(party.pk),
        "decisions": decisions.count(),
        "by_use": {r["request__use"]: r["n"] for r in by_use},
        "by_outcome": {r["final"]: r["n"] for r in by_outcome},
        "by_licensee": [
            {
                "licensee": str(r["request__licensee_id"]),
                "name": r["request__licensee__name"],
                "requests": r["n"],
                "allowed": r["allowed"],
            }
            for r in by_licensee
        ],
        "by_week": [{"week": r["week"].date().isoformat(), "requests": r["n"]} for r in by_week],
        "top_works": top_works,
        "closest_matches": closest[:20],
        "likeness_matches": likeness[:20],
    }
