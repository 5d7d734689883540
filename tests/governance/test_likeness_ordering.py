"""An artist's aliases edited, and its likeness rule revised, while checks name the artist in
prompts, on real threads, connections and commits (as tests/governance/test_ordering.py does for
works): every prompt naming the artist by the name it always has is matched to it, whatever the
edits in flight; a prompt naming it by an alias is matched, or not, as the alias stood; no
decision denies (every version of the rule allows); and replaying the log, each decision
against the state at its position, finds no difference."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction
from django.utils import timezone

from governance.models import ConsentRule, Decision, PartyKind
from governance.services import checks, consent, request_specs, shares
from tests.committed import on_own_connection, while_editing
from tests.factories import Caller, caller
from tests.governance.test_ordering import actor, sequenced_and_replayed
from tests.governance.test_verify_replay import (  # noqa: F401 - served: the fixture
    Served,
    served,
    signed,
    verify_replay,
)

pytestmark = pytest.mark.django_db

EDITS = 30
CHECK_THREADS = 3
NAME = "Marisol Quintero"
ALIAS = "La Quintera"
ALLOW = {"scope": "likeness", "uses": ["style"], "effect": "allow"}
CONDITIONAL = {**ALLOW, "effect": "conditional", "obligations": {"attribution": NAME}}
PROMPTS = (f"in the style of {NAME}", f"une chanson dans le style de {ALIAS}")


def an_artist_and_a_licensee() -> tuple[Caller, Caller, ConsentRule]:
    artist, licensee = caller(PartyKind.ARTIST, name=NAME), caller(PartyKind.LICENSEE)
    response = artist.client.post("/api/v1/consent/rules/", ALLOW, format="json")
    assert response.status_code == 201, response.json()
    shares.likeness_update(actor=actor(artist), aliases=[ALIAS], now=timezone.now())
    return artist, licensee, ConsentRule.objects.get(owner=artist.party)


@pytest.mark.usefixtures("committed")
def test_alias_edits_and_rule_revisions_racing_checks_that_name_the_artist_replay_the_same(
    served: Served,  # noqa: F811 - the fixture
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    artist, licensee, rule = on_own_connection(an_artist_and_a_licensee)
    spec = request_specs.request_spec({"use": "style"})

    def edit() -> None:
        for n in range(EDITS):
            if n % 2 == 0:  # the alias goes and comes back, with another beside it at times
                aliases = [] if n % 4 == 0 else [ALIAS, f"Mari Q {n}"]
                shares.likeness_update(actor=actor(artist), aliases=aliases, now=timezone.now())
            else:
                data = CONDITIONAL if n % 4 == 1 else ALLOW
                consent.rule_revise(actor=actor(artist), rule=rule, data=data, now=timezone.now())
            time.sleep(0.1)  # spread the changes over the decisions (a check takes ~0.1 s)

    def check(editing: threading.Event) -> None:
        n = 0
        while editing.is_set():
            item = request_specs.item_spec({"text": PROMPTS[n % 2]}, name="item", spaces={})
            checks.check_decide(actor=actor(licensee), spec=spec, item=item, now=timezone.now())
            n += 1

    assert while_editing(edit, [check] * CHECK_THREADS, timeout=300) == []

    decisions = list(Decision.objects.filter(request__licensee=licensee.party))
    assert len(decisions) >= 2 * CHECK_THREADS
    spans = [(d.item.vectors[0].get("best") or {}).get("span") for d in decisions]
    by_name = [d for d, span in zip(decisions, spans, strict=True) if span == NAME]
    unmatched = [d.trace for d in by_name if d.outcome not in ("allow", "conditional")]
    assert unmatched == []
    denied = [d.reason for d in decisions if d.outcome not in ("allow", "conditional", "no_match")]
    assert denied == []
    mine = {str(d.pk) for d in decisions}
    _, differences = on_own_connection(sequenced_and_replayed)
    differ = [x.describe() for x in differences if x.decision in mine]
    assert differ == [], f"{len(differ)} of {len(mine)} decisions differ, e.g. {differ[:3]}"
    # and the offline verifier, from the log over HTTP (sequenced in a savepoint rolled back
    # afterwards, whose locks go with it), replays them the same
    auditor = on_own_connection(lambda: caller(PartyKind.AUDITOR))  # (its entry committed)
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)
    with transaction.atomic():
        status, lines, err = verify_replay(capsys, served, signed())
        transaction.set_rollback(True)
    assert (status, lines) == (0, [f"{len(decisions)} decisions replayed, 0 differ"]), err
