"""The pure replay core (``governance.replaying``): its state indexed by work and by rule owner
gives each decision exactly the shares, parties and rules a scan of everything would, and it
imports no Django (``python -m ledger.verify --replay`` runs it with no database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from governance.replaying import ReplayState

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-01-01"


def share(share_id: str, work: str, holder: str, right: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": share_id, "work": work, "holder": holder, "right": right, "share": "50",
        "territory_mode": "worldwide", "territories": [], "valid_from": None,
        "valid_until": None, **extra,
    }  # fmt: skip


def rule(rule_id: str, owner: str) -> dict[str, Any]:
    return {
        "rule": rule_id, "version": 1, "owner": owner, "scope": "all_works", "uses": ["train"],
        "effect": "allow", "scope_works": [], "scope_artist": None, "licensee_mode": "any",
        "licensees": [], "territory_mode": "worldwide", "territories": [], "window_start": None,
        "window_end": None, "commercial": "both",
    }  # fmt: skip


def holders_of(state: ReplayState, work: str) -> list[tuple[str, str, str | None]]:
    facts = state.work_facts({"work": work})
    return [(s.holder_id, s.right, s.composition) for s in facts.shares]


def test_a_recording_takes_its_own_shares_and_its_compositions_publishing_in_ledger_order() -> None:
    state = ReplayState()
    state.apply("work", {"id": "song", "title": "Song"})
    state.apply("work", {"id": "rec", "title": "Rec", "composition": "song"})
    state.apply("rights_share", share("s1", "song", "pub", "publishing"))
    state.apply("rights_share", share("s2", "rec", "label", "master"))
    state.apply("rights_share", share("s3", "song", "writer", "lyrics_only_here"))
    state.apply("rights_share", share("s4", "other", "someone", "master"))
    state.apply("rights_share", share("s5", "song", "pub2", "publishing"))

    assert holders_of(state, "rec") == [
        ("pub", "publishing", "song"),
        ("label", "master", None),
        ("pub2", "publishing", "song"),
    ]
    assert [h for h, _, _ in holders_of(state, "song")] == ["pub", "writer", "pub2"]


def test_a_new_version_of_a_share_keeps_its_place_and_may_move_to_another_work() -> None:
    state = ReplayState()
    for share_id in ("a", "b", "c"):
        state.apply("rights_share", share(share_id, "w1", f"h{share_id}", "master"))
    state.apply("rights_share", share("a", "w1", "ha2", "master"))
    assert [h for h, _, _ in holders_of(state, "w1")] == ["ha2", "hb", "hc"]

    state.apply("rights_share", share("b", "w2", "hb", "master"))
    assert [h for h, _, _ in holders_of(state, "w1")] == ["ha2", "hc"]
    assert [h for h, _, _ in holders_of(state, "w2")] == ["hb"]

    state.apply("rights_share_removed", {"id": "c"})
    state.apply("rights_share", share("c", "w1", "hc2", "master"))  # back, now last
    state.apply("rights_share", share("d", "w1", "hd", "master"))
    assert [h for h, _, _ in holders_of(state, "w1")] == ["ha2", "hc2", "hd"]


def test_a_decision_reads_the_parties_and_rules_of_its_works_holders_and_artists_only() -> None:
    state = ReplayState()
    for party in ("label", "artist", "stranger"):
        state.apply("party", {"id": party, "name": party, "kind": "label"})
    state.apply("work", {"id": "rec", "title": "Rec", "credits": [
        {"party": "artist", "role": "main_artist"}, {"party": "stranger", "role": "producer"},
    ]})  # fmt: skip
    state.apply("rights_share", share("s1", "rec", "label", "master"))
    state.apply("consent_rule", rule("r1", "label"))
    state.apply("consent_rule", rule("r2", "stranger"))
    state.apply("consent_rule", rule("r3", "artist"))
    state.apply("consent_rule", {**rule("r3", "stranger"), "version": 2})  # changes owner
    state.apply("consent_rule", rule("r4", "artist"))
    state.apply("consent_rule_withdrawn", {"rule": "r4"})

    works = [state.work_facts({"work": "rec"})]
    facts = state.facts_for(works, matrix_version=1, matrix={"train": ("master",)})

    assert set(facts.holders) == {"label", "artist"}
    assert sorted(r.rule_id for r in facts.rules) == ["r1"]
    assert state.rules_by_owner["stranger"].keys() == {"r2", "r3"}


def test_the_replay_core_and_the_verifiers_replay_import_no_django() -> None:
    probe = (
        "import sys, governance.replaying, governance.replaying.offline, ledger.verify.cli; "
        "print(sorted(m for m in sys.modules "
        "if m.partition('.')[0] in ('django', 'rest_framework', 'celery')))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "[]"
