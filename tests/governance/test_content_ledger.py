"""The ``work_content`` entry: a work's fingerprinted content in the log (its SHA-256, space,
model and version, vector count: never content) is taken by the replay, which replays the
decisions around it with no difference, in one process and in two."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from governance import tasks
from governance.replay import replay
from governance.services import outbox
from ledger import canonical
from ledger import services as ledger_services
from ledger.models import Entry
from tests.audio import tones
from tests.world import ISRC, rule

pytestmark = pytest.mark.django_db


def check(world: dict[str, Any]) -> str:
    response = world["licensee"].client.post(
        "/api/v1/checks/", {"use": "analyze", "item": {"isrc": ISRC}}, format="json"
    )
    return str(response.json()["outcome"])


def test_a_log_holding_work_content_entries_replays_with_no_difference(world) -> None:  # type: ignore[no-untyped-def]
    rule(world["label"], scope="all_works", uses=["analyze"], effect="allow")
    rule(world["artist"], scope="all_works", uses=["analyze"], effect="allow")
    before = check(world)
    data = tones(10, seed=11)
    with mock.patch.object(outbox, "broker_send"):
        content = (
            world["label"]
            .client.post(
                f"/api/v1/works/{world['work']['id']}/content/",
                {"file": SimpleUploadedFile("a.wav", data, content_type="audio/wav")},
            )
            .json()
        )
    assert tasks.fingerprint_content.apply(args=[content["id"]]).get() == "completed"
    after = check(world)
    ledger_services.integrate_all(now=timezone.now())

    kinds = [
        canonical.decode_entry(bytes(d)).kind
        for d in Entry.objects.order_by("index").values_list("data", flat=True)
    ]
    assert kinds.count("work_content") == 1
    assert kinds.index("work_content") < len(kinds) - 1  # a decision follows it
    payload = next(
        canonical.decode_entry(bytes(d)).payload
        for d in Entry.objects.values_list("data", flat=True)
        if canonical.decode_entry(bytes(d)).kind == "work_content"
    )
    assert payload["sha256"] == content["sha256"]
    assert (before, after) == ("allow", "allow")
    assert replay(workers=1) == (2, [])
    assert replay(workers=2) == (2, [])
