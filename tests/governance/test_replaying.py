"""The pure replay core (``governance.replaying``): its state indexed by work and by rule owner
gives each decision exactly the shares, parties and rules a scan of everything would, and it
imports no Django (``python -m ledger.verify --replay`` runs it with no database)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from governance.replaying import Replay, ReplayState
from ledger import canonical

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


def decision(outcome: str, cited: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "decision": f"d-{outcome}", "licensee": "lic", "use": "train", "territories": ["FR"],
        "commercial": True, "at": "2026-03-01T12:00:00.000Z", "period": None, "outcome": outcome,
        "works": [{"work": "rec", "matches": [], "identified_by": None}], "matrix_version": 1,
        "rule_versions": [{"rule": r, "version": v} for r, v in cited],
    }  # fmt: skip


def replayed(*entries: tuple[str, dict[str, Any]]) -> list[str]:
    """The differences replaying ``entries`` (in order) finds, described."""
    replay = Replay()
    for index, (kind, payload) in enumerate(entries):
        replay.feed(index, canonical.Entry(1, kind, AT, payload))
    return [d.describe() for d in replay.differences]


AT = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
OPT_IN_LABEL = {"id": "label", "name": "Label", "kind": "label", "default_posture": "opt_in"}
SETUP: list[tuple[str, dict[str, Any]]] = [
    ("consent_matrix", {"version": 1, "matrix": {"train": ["master"]}}),
    ("party", OPT_IN_LABEL),
    ("party", {"id": "other", "name": "Other", "kind": "label", "default_posture": "opt_out"}),
    ("work", {"id": "rec", "title": "Rec", "credits": []}),
    ("rights_share", share("s1", "rec", "label", "master")),
]


def test_what_replay_remembers_is_forgotten_when_the_state_changes_between_two_questions() -> None:
    # The same question twice: between them a change of the rules, a party's posture or the
    # shares changes the answer (and the versions it cites), and replay must see it.
    changes: list[tuple[list[tuple[str, dict[str, Any]]], str, list[tuple[str, int]]]] = [
        ([("consent_rule", rule("r1", "label"))], "allow", [("r1", 1)]),
        ([("party", {**OPT_IN_LABEL, "default_posture": "opt_out"})], "allow", []),
        ([("rights_share", share("s1", "rec", "other", "master"))], "allow", []),
        ([("rights_share_removed", {"id": "s1"})], "deny", []),
    ]
    before = ("decision", decision("deny", []))
    for change, outcome, cited in changes:
        after = ("decision", decision(outcome, cited))
        assert replayed(*SETUP, before, *change, after) == []
        # the answer the state before the change gave is a difference after it
        stale = ("decision", decision("deny", []))
        assert len(replayed(*SETUP, before, *change, stale)) == (outcome != "deny")
    # a rule's new version, then its withdrawal: the cited versions follow
    versions = [
        ("consent_rule", rule("r1", "label")),
        ("decision", decision("allow", [("r1", 1)])),
        ("consent_rule", {**rule("r1", "label"), "version": 2}),
        ("decision", decision("allow", [("r1", 2)])),
        ("consent_rule_withdrawn", {"rule": "r1"}),
        ("decision", decision("deny", [])),
    ]
    assert replayed(*SETUP, *versions) == []
    stale_versions = [*versions[:3], ("decision", decision("allow", [("r1", 1)]))]
    (difference,) = replayed(*SETUP, *stale_versions)
    assert "cites rule versions r1 v1; at its position in the log r1 v2 apply" in difference
