"""``python -m ledger.verify --replay`` over HTTP reproduces a dispute's steps as
``manage.py replay_decisions`` does from the database (issue 19, section 1): a dispute upheld,
appealed and released replays with no difference, with its statements and reasons opened from
an auditor's openings; a step the rules do not give is reported by both alike."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from governance import ledgering
from tests.api.test_disputes import decided, dispute, operator
from tests.factories import Caller
from tests.governance.test_verify_replay import (  # noqa: F401 - fixtures
    Served,
    auditor,
    replay_decisions,
    served,
    signed,
    verify_replay,
)

pytestmark = pytest.mark.django_db


def appealed_and_released(world: dict[str, Any]) -> dict[str, Any]:
    d = dispute(world, decided(world, deniers=("artist",))).json()
    url = f"/api/v1/disputes/{d['id']}"
    assert (
        world["artist"]
        .client.post(f"{url}/uphold/", {"reason": "No."}, format="json")
        .json()["status"]
        == "upheld"
    )
    assert (
        world["licensee"]
        .client.post(f"{url}/appeal/", {"statement": "See the licence."}, format="json")
        .json()["status"]
        == "appealed"
    )
    ruled = operator().client.post(
        f"{url}/rule/", {"ruling": "release", "reason": "Valid licence."}, format="json"
    )
    assert ruled.json()["status"] == "released", ruled.json()
    return dict(d)


def test_a_released_appeal_replays_offline_as_from_the_database(
    world: dict[str, Any],
    served: Served,  # noqa: F811
    auditor: Caller,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    appealed_and_released(world)
    vkey = signed()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)
    status, lines, err = verify_replay(capsys, served, vkey)
    assert (status, lines) == (0, ["1 decisions replayed, 0 differ"]), err
    assert replay_decisions() == (0, lines)


def test_a_forged_step_is_reported_offline_as_from_the_database(
    world: dict[str, Any],
    served: Served,  # noqa: F811
    auditor: Caller,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    d = appealed_and_released(world)
    # a second appeal, appended behind the service's back
    forged = {
        "dispute": d["id"], "decision": d["decision"], "request": d["request"],
        "licensee": d["licensee"], "holders": d["holders"], "statement": "Again.",
        "upheld_at": None,
    }  # fmt: skip
    ledgering.append("appeal_opened", forged, now=timezone.now())
    vkey = signed()
    monkeypatch.setenv("LEDGER_VERIFY_TOKEN", auditor.secret)
    status, lines, _ = verify_replay(capsys, served, vkey)
    assert status == 1
    assert len(lines) == 2
    assert "(appeal_opened) of decision" in lines[0]
    assert "appealed a second time" in lines[0]
    assert lines[1] == "1 decisions replayed, 1 differ"
    assert replay_decisions() == (1, lines)
