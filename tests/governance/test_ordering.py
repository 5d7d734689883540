"""One order for changes of state and decisions, the ledger's (issue 13, item 6): rule edits
racing checks and a manifest, on real threads, connections and commits. Every version of the
rule allows (alternately without and with an obligation), so no decision may deny; each
decision cites a version in force at the decision's time (what ``?at=`` history shows); and
replaying the log, each decision against the state at its position, finds no difference."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from governance.access import Actor
from governance.models import (
    ConsentRule,
    ConsentRuleVersion,
    Decision,
    PartyKind,
    RightsShare,
    UseRequest,
)
from governance.replay import Difference, replay
from governance.services import checks, consent, deciding, request_specs, shares
from governance.services import requests as rq
from ledger import services as ledger_services
from tests.committed import on_own_connection, while_editing
from tests.factories import Caller, caller
from tests.world import ISRC

pytestmark = pytest.mark.django_db

EDITS = 40
CHECK_THREADS = 4
MANIFEST_ITEMS = 1000
MANIFESTS = 3
ALLOW = {"scope": "all_works", "uses": ["analyze"], "effect": "allow"}
CONDITIONAL = {**ALLOW, "effect": "conditional", "obligations": {"attribution": "Ada Vale"}}


def a_registered_recording() -> tuple[Caller, Caller]:
    """A label's recording with every share, a rule allowing its analysis, and a licensee."""
    label, licensee = caller(PartyKind.LABEL), caller(PartyKind.LICENSEE)
    song = {"kind": "recording", "title": "Northern Lights", "isrc": ISRC}
    work = label.client.post("/api/v1/works/", song, format="json").json()
    for right in ("master", "publishing", "performer"):
        share = {"work": work["id"], "holder": str(label.party.pk), "right": right, "share": "100"}
        assert label.client.post("/api/v1/shares/", share, format="json").status_code == 201
    assert label.client.post("/api/v1/consent/rules/", ALLOW, format="json").status_code == 201
    return label, licensee


def actor(who: Caller) -> Actor:
    return Actor(user=who.token.user, party=who.party, role="admin")


def race(change: Callable[[int], object], licensee: Caller) -> list[BaseException]:
    """40 changes (``change(n)``), 4 threads of checks and a thread deciding manifests, all at
    once; every thread's exception."""
    spec = request_specs.request_spec({"use": "analyze"})
    item = request_specs.ItemSpec(reference=f"isrc:{ISRC}")

    def edit() -> None:
        for n in range(EDITS):
            change(n)
            time.sleep(0.02)  # spread the changes over the decisions

    def check(editing: threading.Event) -> None:
        while editing.is_set():
            checks.check_decide(actor=actor(licensee), spec=spec, item=item, now=timezone.now())

    def manifest(editing: threading.Event) -> None:
        for _ in range(MANIFESTS):
            if not editing.is_set():
                break
            request, _ = rq.request_submit(
                actor=actor(licensee), spec=spec, items=[item] * MANIFEST_ITEMS,
                idempotency_key=None, now=timezone.now(), dispatch=False,
            )  # fmt: skip
            deciding.decide_chunk(
                request_id=str(request.pk), start=0, end=MANIFEST_ITEMS, now=timezone.now()
            )

    return while_editing(edit, [manifest, *[check] * CHECK_THREADS], timeout=120)


def sequenced_and_replayed() -> tuple[int, list[Difference]]:
    """Sequence what is pending and replay the log, in a transaction rolled back afterwards (the
    ledger's tables keep what commits, and other tests count the decisions they replay)."""
    with transaction.atomic():
        ledger_services.integrate_all(now=timezone.now())
        replayed = replay(workers=1)
        # (the same with a second process decoding and opening the entries)
        assert replay(workers=2) == replayed
        transaction.set_rollback(True)
    return replayed


def cited_versions(decision: Decision) -> set[int]:
    return {
        h["rule"]["version"]
        for w in decision.trace["works"]
        for r in w["rights"]
        for h in r["holders"]
        if h.get("rule")
    }


def test_rule_edits_racing_checks_and_a_manifest_replay_without_a_difference(
    committed: None,
) -> None:
    label, licensee = on_own_connection(a_registered_recording)
    rule = on_own_connection(lambda: ConsentRule.objects.get(owner=label.party))

    def edit(n: int) -> None:
        data = CONDITIONAL if n % 2 == 0 else ALLOW
        consent.rule_revise(actor=actor(label), rule=rule, data=data, now=timezone.now())

    assert race(edit, licensee) == []
    decisions = list(Decision.objects.filter(request__licensee=licensee.party))
    checked = UseRequest.objects.filter(licensee=licensee.party, kind="check").count()
    assert checked > 0
    assert len(decisions) > checked  # and at least one manifest
    versions = {
        v.version: (v.effective_from, v.effective_until)
        for v in ConsentRuleVersion.objects.filter(rule__owner=label.party)
    }
    assert len(versions) == EDITS + 1

    # Every version allowed: no decision saw the rule vanish.
    denied = [d for d in decisions if d.outcome not in ("allow", "conditional")]
    # Each decision cites one version of the rule, in force at the decision's time (what the
    # ``?at=`` history shows then).
    outside = []
    for d in decisions:
        cited = cited_versions(d)
        in_force = [
            v for v in cited
            if versions[v][0] <= d.created_at
            and (versions[v][1] is None or d.created_at < versions[v][1])
        ]  # fmt: skip
        if len(cited) != 1 or not in_force:
            outside.append((str(d.pk), sorted(cited), d.created_at))
    # Replayed against the state at its position in the log, each decision is what it was.
    mine = {str(d.pk) for d in decisions}
    _, differences = on_own_connection(sequenced_and_replayed)
    differ = [x.describe() for x in differences if x.decision in mine]

    n = len(decisions)
    assert (denied, outside, differ) == ([], [], []), (
        f"of {n} decisions, {len(denied)} denied (e.g. {[d.reason for d in denied[:1]]}),"
        f" {len(outside)} cite no version in force at their time (e.g. {outside[:1]}),"
        f" {len(differ)} replay differently (e.g. {differ[:1]})"
    )


def test_posture_changes_racing_checks_and_a_manifest_replay_without_a_difference(
    committed: None,
) -> None:
    """A party's default posture changes the same way: a co-owner of the master right with no
    rule, whose posture goes from opt-out (allowed) to opt-in (denied) and back."""
    label, licensee = on_own_connection(a_registered_recording)

    def co_owner() -> Caller:
        owner = caller(PartyKind.LABEL)
        master = RightsShare.objects.get(holder=label.party, right="master")
        shares.share_transfer(
            actor=actor(label), share=master, holder_id=str(owner.party.pk),
            percent=Decimal(50), now=timezone.now(),
        )  # fmt: skip
        return owner

    owner = on_own_connection(co_owner)

    def toggle(n: int) -> None:
        posture = "opt_out" if n % 2 == 0 else "opt_in"
        consent.party_posture_set(actor=actor(owner), posture=posture, now=timezone.now())

    assert race(toggle, licensee) == []
    decisions = list(Decision.objects.filter(request__licensee=licensee.party))
    assert len(decisions) > MANIFEST_ITEMS
    mine = {str(d.pk) for d in decisions}
    _, differences = on_own_connection(sequenced_and_replayed)
    differ = [x.describe() for x in differences if x.decision in mine]
    assert differ == [], f"{len(differ)} of {len(mine)} decisions differ, e.g. {differ[:3]}"
